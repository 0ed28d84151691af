use std::time::Duration;

use lb_core::{Algorithm, BalanceConfig, ServerConfig};
use tokio::io::AsyncWriteExt;

use super::*;
use crate::mem::{MemNetwork, MemStream};
use crate::proxy_protocol::{read_header, SslClient};

/// Proxies one connection carrying `ssl` through a backend that sends PROXY v2 with
/// `opts`; the header the server reads.
async fn header_sent(ssl: Option<Ssl>, opts: Option<SslOptions>) -> ProxyHeader {
    let net = MemNetwork::new();
    let listener = net.bind("srv").unwrap();
    let backend = Backend::new(
        "be",
        BalanceConfig::new(Algorithm::RoundRobin),
        [ServerConfig::new("s1", "mem@srv".parse().unwrap())],
    )
    .unwrap();
    let cfg = TcpProxyConfig {
        send_proxy: SendProxy::V2(Box::default()),
        send_proxy_ssl: opts,
        ..TcpProxyConfig::default()
    };
    let proxy = TcpProxy::new(backend, net.connector(), cfg);
    let (mut client, ours) = MemStream::pair(4096);
    let conn = Connection {
        io: Stream::from(ours),
        prefix: Bytes::new(),
        client: Some("203.0.113.7:4242".parse().unwrap()),
        local: Some("198.51.100.1:443".parse().unwrap()),
        sni: None,
        ssl: ssl.map(Box::new),
    };
    let task = tokio::spawn(async move { proxy.proxy(conn).await });
    let (mut server, _) = listener.accept().await.unwrap();
    let (header, _) = read_header(&mut server, Duration::from_secs(5))
        .await
        .unwrap();
    client.shutdown().await.unwrap();
    drop(server);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    header
}

#[tokio::test]
async fn send_proxy_v2_ssl_tlv_from_the_connection() {
    let facts = Ssl {
        client: SslClient::SSL | SslClient::CERT_CONN | SslClient::CERT_SESS,
        version: Some("TLSv1.2".into()),
        cn: Some("alice".into()),
        cipher: Some("ECDHE-RSA-AES128-GCM-SHA256".into()),
        ..Ssl::default()
    };

    let cn = SslOptions {
        cn: true,
        ..SslOptions::default()
    };
    let sent = header_sent(Some(facts.clone()), Some(cn)).await;
    let ssl = sent.tlvs.ssl.expect("SSL TLV");
    assert_eq!(ssl.client, facts.client);
    assert_eq!(ssl.verify, 0);
    assert_eq!(ssl.version.as_deref(), Some("TLSv1.2"));
    assert_eq!(ssl.cn.as_deref(), Some("alice"));
    assert_eq!(ssl.cipher, None);

    // send-proxy-v2-ssl without -cn: no CN.
    let sent = header_sent(Some(facts), Some(SslOptions::default())).await;
    assert_eq!(sent.tlvs.ssl.expect("SSL TLV").cn, None);

    // A clear connection: the TLV is there, empty (as HAProxy sends it).
    let sent = header_sent(None, Some(cn)).await;
    assert_eq!(sent.tlvs.ssl, Some(Ssl::default()));

    // Plain send-proxy-v2: no SSL TLV at all.
    let sent = header_sent(None, None).await;
    assert_eq!(sent.tlvs.ssl, None);
}

//! Acceptor options, timeouts, failures and the middleware.

use std::sync::Arc;
use std::time::Duration;

use lb_tcp::mem::MemStream;
use lb_tcp::net::{Peer, Stream};
use lb_tls::rustls::ClientConfig;
use lb_tls::tokio_rustls::server::TlsStream;
use lb_tls::{CertStore, TlsAccept, TlsAcceptor, TlsError, TlsInfo, TlsVersion};
use tokio::io::AsyncWriteExt;
use tower::{Service, ServiceExt};

use crate::support::*;

fn store(ca: &Ca) -> Arc<CertStore> {
    let store = Arc::new(CertStore::new());
    store
        .add("rsa", ca.server(&["www.test"], &RSA).cert())
        .unwrap();
    store
}

#[tokio::test]
async fn alpn_versions_and_ciphers() {
    let ca = Ca::new("CA");
    let acceptor = TlsAcceptor::builder(store(&ca))
        .alpn("h2,http/1.1")
        .unwrap()
        .max_version(TlsVersion::Tls12)
        .ciphers("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
        .build()
        .unwrap();
    let config = Arc::new(client_config(&ca, None, &["http/1.1", "h2"]));
    let pair = connect_ok(&acceptor, config, Some("www.test")).await;
    let info = TlsInfo::of(&pair.1);
    assert_eq!(info.alpn(), Some(&b"h2"[..]), "server preference");
    assert_eq!(info.version(), "TLSv1.2");
    assert_eq!(info.cipher(), "ECDHE-RSA-AES256-GCM-SHA384");
    assert!(info.ssl_fc());
    assert!(info.group().is_some());
    let tlvs = info.to_proxy_tlvs(false);
    assert_eq!(tlvs.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(tlvs.authority.as_deref(), Some("www.test"));
    assert_eq!(
        tlvs.ssl.unwrap().cipher.as_deref(),
        Some("ECDHE-RSA-AES256-GCM-SHA384")
    );

    // A client that only speaks http/1.1 gets it.
    let config = Arc::new(client_config(&ca, None, &["http/1.1"]));
    let pair = connect_ok(&acceptor, config, Some("www.test")).await;
    assert_eq!(TlsInfo::of(&pair.1).alpn(), Some(&b"http/1.1"[..]));

    // TLS 1.3 only, with one suite.
    let acceptor = TlsAcceptor::builder(store(&ca))
        .min_version(TlsVersion::Tls13)
        .ciphersuites("TLS_CHACHA20_POLY1305_SHA256")
        .build()
        .unwrap();
    let pair = connect_ok(
        &acceptor,
        Arc::new(client_config(&ca, None, &[])),
        Some("www.test"),
    )
    .await;
    let info = TlsInfo::of(&pair.1);
    assert_eq!(
        (info.version(), info.cipher()),
        ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")
    );

    // A TLS 1.2-only client is refused, with the reason.
    let tls12 = ClientConfig::builder_with_protocol_versions(&[&lb_tls::rustls::version::TLS12])
        .with_root_certificates(ca.roots())
        .with_no_client_auth();
    let (c, s) = handshake(&acceptor, tls12, Some("www.test")).await;
    assert!(c.is_err());
    let err = s.unwrap_err();
    assert!(err.to_string().contains("peer is incompatible"), "{err}");
}

#[tokio::test]
async fn no_common_alpn_fails() {
    let ca = Ca::new("CA");
    let acceptor = TlsAcceptor::builder(store(&ca))
        .alpn("h2")
        .unwrap()
        .build()
        .unwrap();
    let (c, s) = handshake(
        &acceptor,
        client_config(&ca, None, &["http/1.1"]),
        Some("www.test"),
    )
    .await;
    assert!(c.is_err());
    let err = s.unwrap_err();
    assert_eq!(
        err.to_string(),
        "TLS handshake failed: peer doesn't support any known protocol"
    );
}

#[tokio::test(start_paused = true)]
async fn handshake_timeout() {
    let ca = Ca::new("CA");
    let acceptor = TlsAcceptor::builder(store(&ca))
        .handshake_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let (_client, server) = MemStream::pair(1024);
    let err = acceptor.accept(Stream::from(server)).await.unwrap_err();
    assert!(matches!(err, TlsError::HandshakeTimeout(d) if d == Duration::from_secs(3)));
    assert!(err.is_handshake());
    assert_eq!(err.to_string(), "TLS handshake timed out after 3s");
}

#[tokio::test]
async fn not_tls_and_early_close() {
    let ca = Ca::new("CA");
    let acceptor = TlsAcceptor::builder(store(&ca)).build().unwrap();
    let (mut client, server) = MemStream::pair(1024);
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let err = acceptor.accept(Stream::from(server)).await.unwrap_err();
    assert!(matches!(err, TlsError::Handshake(_)), "{err:?}");
    assert!(err.tls_error().is_some());

    let (client, server) = MemStream::pair(1024);
    drop(client);
    let err = acceptor.accept(Stream::from(server)).await.unwrap_err();
    assert!(matches!(err, TlsError::Io(_)), "{err:?}");
}

#[tokio::test]
async fn middleware_hands_tls_streams_to_the_handler() {
    let ca = Ca::new("CA");
    let acceptor = TlsAcceptor::builder(store(&ca))
        .alpn("h2")
        .unwrap()
        .build()
        .unwrap();
    let handler = tower::service_fn(|(tls, peer): (TlsStream<Stream>, Peer)| async move {
        Ok::<_, std::io::Error>((TlsInfo::of(&tls).alpn().map(<[u8]>::to_vec), peer))
    });
    let mut svc = TlsAccept::layer(acceptor).layer(handler);
    let (c, s) = MemStream::pair(64 * 1024);
    let peer = Peer::new("mem@client".parse().unwrap(), "mem@lb".parse().unwrap());
    let connector =
        lb_tls::tokio_rustls::TlsConnector::from(Arc::new(client_config(&ca, None, &["h2"])));
    let name = lb_tls::rustls::pki_types::ServerName::try_from("www.test").unwrap();
    let served = svc
        .ready()
        .await
        .unwrap()
        .call((Stream::from(s), peer.clone()));
    let (client, served) = tokio::join!(connector.connect(name, c), served);
    client.unwrap();
    let (alpn, got_peer) = served.unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(got_peer, peer);

    // A failed handshake is the service's error.
    let (mut c, s) = MemStream::pair(1024);
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let err = svc
        .ready()
        .await
        .unwrap()
        .call((Stream::from(s), peer))
        .await
        .unwrap_err();
    assert!(
        err.downcast_ref::<TlsError>()
            .is_some_and(TlsError::is_handshake),
        "{err}"
    );
}

use tower::Layer;

/// Collects log output.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide log capture. A global subscriber (not a scoped one) so that callsite
/// interest, cached process-wide, cannot be decided by another test thread running
/// without a subscriber at the same moment.
fn captured() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("only this test sets one");
        captured
    })
}

#[tokio::test(flavor = "current_thread")]
async fn failed_handshake_log_line() {
    let captured = captured();

    let ca = Ca::new("CA");
    let acceptor = TlsAcceptor::builder(store(&ca))
        .alpn("h2")
        .unwrap()
        .build()
        .unwrap();
    let span = tracing::info_span!("conn", peer = "192.0.2.7:51000");
    let (c, s) = tracing::Instrument::instrument(
        handshake(
            &acceptor,
            client_config(&ca, None, &["http/1.1"]),
            Some("www.test"),
        ),
        span,
    )
    .await;
    assert!(c.is_err() && s.is_err());
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(log.contains("INFO conn{peer=\"192.0.2.7:51000\"}: lb_tls::handshake: TLS handshake failed sni=\"www.test\" error=TLS handshake failed: peer doesn't support any known protocol"), "{log}");
}

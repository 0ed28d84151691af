//! TLS facts in rules and headers (`ssl_fc*`, `ssl_c_*`), end to end: configurations run
//! by `lb::runtime::Runtime` with `bind ... ssl`, clients with and without certificates,
//! origins that echo what they receive.

#[path = "../support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use lb::config::Config;
use lb::runtime::Runtime;
use lb::tls::{Cert, TlsConnect, TlsTarget};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use support::{body_string, get, trace_init};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// A test CA.
struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(cn: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, cn);
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    /// A server certificate for `names`: PEM chain + key.
    fn server(&self, names: &[&str]) -> String {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.0).unwrap();
        format!("{}{}", cert.pem(), key.serialize_pem())
    }

    /// A client certificate `/CN=<cn>/O=Example`.
    fn client(&self, cn: &str) -> Cert {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.0).unwrap();
        Cert::from_pem_parts(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap()
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lb-tls-facts-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn parse(text: &str) -> Config {
    Config::parse_str("test.cfg", text, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

async fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP/1.1 origin that answers every request with its name and the request head.
async fn echo(name: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let body = format!("origin: {name}\n{head}");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (addr, task)
}

/// One HTTPS request on a new connection: status and body.
async fn fetch(
    ca: &Ca,
    port: u16,
    sni: &str,
    cert: Option<Cert>,
    path: &str,
) -> Result<(u16, String), String> {
    let mut b = TlsConnect::builder().ca_certs(vec![ca.0.der().clone()]);
    if let Some(c) = cert {
        b = b.client_cert(c);
    }
    let connect = b
        .build(lb::tcp::connect::TcpConnect::new())
        .map_err(|e| e.to_string())?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let tls = tokio::time::timeout(
        Duration::from_secs(5),
        connect.oneshot(TlsTarget::new(lb::core::Address::Inet(addr), sni)),
    )
    .await
    .map_err(|_| "handshake timeout".to_string())?
    .map_err(|e| e.to_string())?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = get(path);
    req.headers_mut().insert("host", sni.parse().unwrap());
    // A client trying to forge the header the rules set.
    req.headers_mut()
        .insert("x-ssl-client-dn", "/CN=forged".parse().unwrap());
    let resp = tokio::time::timeout(Duration::from_secs(5), send.send_request(req))
        .await
        .map_err(|_| "response timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    Ok((status, body_string(resp).await))
}

/// The value of header `name` in an echoed request head.
fn header<'a>(body: &'a str, name: &str) -> Vec<&'a str> {
    body.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

struct Setup {
    ca: Ca,
    clients: Ca,
    /// Port of `web` (headers, SNI routing).
    web: u16,
    /// Port of `secure` (deny without a client certificate).
    secure: u16,
    rt: Runtime,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn setup(tag: &str) -> Setup {
    trace_init();
    let ca = Ca::new("Server CA");
    let clients = Ca::new("Client CA");
    let dir = temp_dir(tag);
    std::fs::write(dir.join("site.pem"), ca.server(&["www.test", "x.api.test"])).unwrap();
    std::fs::write(dir.join("clients.pem"), clients.0.pem()).unwrap();
    std::fs::write(
        dir.join("403.http"),
        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 16\r\n\r\nno certificate\r\n",
    )
    .unwrap();
    let (app, t1) = echo("app").await;
    let (api, t2) = echo("api").await;
    let (web, secure) = (free_port().await, free_port().await);
    let d = dir.display();
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n\
         \x20   bind 127.0.0.1:{web} ssl crt {d}/site.pem verify optional ca-file {d}/clients.pem\n\
         \x20   http-request set-header X-SSL-Client-DN %[ssl_c_s_dn]\n\
         \x20   http-request set-header X-SSL %[ssl_fc]\n\
         \x20   http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}\n\
         \x20   http-request set-header X-SSL-Facts \"%[ssl_fc_protocol] sni=%[ssl_fc_sni] verify=%[ssl_c_verify] used=%[ssl_c_used] cn=%[ssl_c_s_dn(CN)]\"\n\
         \x20   http-request set-header X-SSL-Issuer %[ssl_c_i_dn]\n\
         \x20   http-request add-header X-SSL-Sha1 %[ssl_c_sha1,hex] if {{ ssl_c_used }}\n\
         \x20   http-request set-header X-SSL-Cipher %[ssl_fc_cipher]\n\
         \x20   use_backend api if {{ ssl_fc_sni -m end .api.test }}\n\
         \x20   default_backend app\n\
         frontend secure\n\
         \x20   bind 127.0.0.1:{secure} ssl crt {d}/site.pem verify optional ca-file {d}/clients.pem\n\
         \x20   errorfile 403 {d}/403.http\n\
         \x20   http-request deny if !{{ ssl_c_used }}\n\
         \x20   http-request deny deny_status 429 unless {{ ssl_c_verify 0 }} {{ ssl_c_s_dn(CN) alice bob }}\n\
         \x20   default_backend app\n\
         backend app\n\
         \x20   http-request set-header X-Backend app\n\
         \x20   http-request del-header X-SSL-Cipher\n\
         \x20   server s1 {app}\n\
         backend api\n\
         \x20   http-request deny deny_status 404 if {{ path /hidden }}\n\
         \x20   server s1 {api}\n"
    );
    let rt = Runtime::start(parse(&text), None).await.unwrap();
    Setup {
        ca,
        clients,
        web,
        secure,
        rt,
        tasks: vec![t1, t2],
    }
}

impl Setup {
    async fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
        self.rt.stop(Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn client_certificate_facts_reach_the_origin_in_headers() {
    let s = setup("headers").await;
    let alice = s.clients.client("alice");
    let (status, body) = fetch(&s.ca, s.web, "www.test", Some(alice), "/")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("origin: app\n"), "{body}");
    // set-header replaced what the client sent.
    assert_eq!(header(&body, "x-ssl-client-dn"), ["/CN=alice/O=Example"]);
    assert_eq!(header(&body, "x-ssl"), ["1"]);
    assert_eq!(header(&body, "x-forwarded-proto"), ["https"]);
    assert_eq!(
        header(&body, "x-ssl-facts"),
        ["TLSv1.3 sni=www.test verify=0 used=1 cn=alice"]
    );
    assert_eq!(header(&body, "x-ssl-issuer"), ["/CN=Client CA"]);
    let sha1 = header(&body, "x-ssl-sha1");
    assert_eq!(sha1.len(), 1);
    assert_eq!(sha1[0].len(), 40, "{body}");
    // Backend rules run after the frontend's.
    assert_eq!(header(&body, "x-backend"), ["app"]);
    assert!(header(&body, "x-ssl-cipher").is_empty(), "{body}");

    // Without a client certificate: empty DN, used=0, no fingerprint.
    let (status, body) = fetch(&s.ca, s.web, "www.test", None, "/").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&body, "x-ssl-client-dn"), [""]);
    assert_eq!(
        header(&body, "x-ssl-facts"),
        ["TLSv1.3 sni=www.test verify=0 used=0 cn="]
    );
    assert!(header(&body, "x-ssl-sha1").is_empty(), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn verify_optional_deny_without_a_certificate() {
    let s = setup("deny").await;
    let (status, body) = fetch(&s.ca, s.secure, "www.test", None, "/").await.unwrap();
    assert_eq!(status, 403);
    // The frontend's errorfile answers the deny.
    assert_eq!(body, "no certificate\r\n");

    let (status, body) = fetch(
        &s.ca,
        s.secure,
        "www.test",
        Some(s.clients.client("alice")),
        "/",
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&body, "x-backend"), ["app"]);

    // A valid certificate with another name: the second deny, with its status.
    let (status, _) = fetch(
        &s.ca,
        s.secure,
        "www.test",
        Some(s.clients.client("mallory")),
        "/",
    )
    .await
    .unwrap();
    assert_eq!(status, 429);

    // A certificate from another CA fails the handshake (verify optional still verifies).
    let other = Ca::new("Other CA").client("alice");
    assert!(fetch(&s.ca, s.secure, "www.test", Some(other), "/")
        .await
        .is_err());
    s.stop().await;
}

#[tokio::test]
async fn use_backend_on_the_sni() {
    let s = setup("sni").await;
    let (status, body) = fetch(&s.ca, s.web, "x.api.test", None, "/").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("origin: api\n"), "{body}");
    assert_eq!(
        header(&body, "x-ssl-facts"),
        ["TLSv1.3 sni=x.api.test verify=0 used=0 cn="]
    );
    // The api backend's rules, not app's.
    assert!(header(&body, "x-backend").is_empty());
    let (status, _) = fetch(&s.ca, s.web, "x.api.test", None, "/hidden")
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (_, body) = fetch(&s.ca, s.web, "www.test", None, "/hidden")
        .await
        .unwrap();
    assert!(body.starts_with("origin: app\n"), "{body}");
    s.stop().await;
}

/// A TCP origin expecting a PROXY header: sends what it parsed to the test, then echoes.
async fn proxy_echo() -> (
    SocketAddr,
    tokio::sync::mpsc::Receiver<lb::tcp::proxy_protocol::ProxyHeader>,
    tokio::task::JoinHandle<()>,
) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                // lb-tcp's own parser reads the header.
                let Ok((header, leftover)) =
                    lb::tcp::proxy_protocol::read_header(&mut s, Duration::from_secs(5)).await
                else {
                    return;
                };
                let _ = tx.send(header).await;
                let _ = s.write_all(&leftover).await;
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    (addr, rx, task)
}

/// Sends `ping` over TLS to `port` with `sni` and reads the echo.
async fn ping(ca: &Ca, port: u16, sni: &str, cert: Option<Cert>) -> Result<Vec<u8>, String> {
    let mut b = TlsConnect::builder().ca_certs(vec![ca.0.der().clone()]);
    if let Some(c) = cert {
        b = b.client_cert(c);
    }
    let connect = b
        .build(lb::tcp::connect::TcpConnect::new())
        .map_err(|e| e.to_string())?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut tls = connect
            .oneshot(TlsTarget::new(lb::core::Address::Inet(addr), sni))
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(buf.to_vec())
    })
    .await
    .map_err(|_| "timeout".to_string())?
}

/// The next PROXY header an origin saw.
async fn recv(
    rx: &mut tokio::sync::mpsc::Receiver<lb::tcp::proxy_protocol::ProxyHeader>,
) -> lb::tcp::proxy_protocol::ProxyHeader {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .ok()
        .flatten()
        .expect("a PROXY header")
}

#[tokio::test]
async fn tcp_frontend_with_ssl_sends_proxy_v2_ssl_tlvs() {
    use lb::tcp::proxy_protocol::SslClient;
    trace_init();
    let ca = Ca::new("Server CA");
    let clients = Ca::new("Client CA");
    let dir = temp_dir("pp2");
    std::fs::write(
        dir.join("site.pem"),
        ca.server(&["www.test", "cn.test", "reject.test"]),
    )
    .unwrap();
    std::fs::write(dir.join("clients.pem"), clients.0.pem()).unwrap();
    let (plain, mut plain_rx, t1) = proxy_echo().await;
    let (with_cn, mut cn_rx, t2) = proxy_echo().await;
    let port = free_port().await;
    let d = dir.display();
    let text = format!(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend tls_in\n\
         \x20   bind 127.0.0.1:{port} ssl crt {d}/site.pem verify optional ca-file {d}/clients.pem\n\
         \x20   tcp-request content reject if {{ ssl_fc_sni reject.test }}\n\
         \x20   use_backend pp_cn if {{ ssl_fc_sni cn.test }} {{ ssl_c_used }}\n\
         \x20   default_backend pp\n\
         backend pp\n\
         \x20   server s1 {plain} send-proxy-v2-ssl\n\
         backend pp_cn\n\
         \x20   server s1 {with_cn} send-proxy-v2-ssl-cn\n"
    );
    let rt = Runtime::start(parse(&text), None).await.unwrap();

    // A client certificate, routed on the SNI to the -cn server.
    let echoed = ping(&ca, port, "cn.test", Some(clients.client("alice")))
        .await
        .unwrap();
    assert_eq!(echoed, b"ping");
    let header = recv(&mut cn_rx).await;
    let client = header.source().expect("client address");
    assert_eq!(client.ip(), std::net::Ipv4Addr::LOCALHOST);
    assert_eq!(header.destination().map(|a| a.port()), Some(port));
    let ssl = header.tlvs.ssl.clone().expect("SSL TLV");
    assert!(ssl
        .client
        .contains(SslClient::SSL | SslClient::CERT_CONN | SslClient::CERT_SESS));
    assert_eq!(ssl.verify, 0);
    assert!(ssl.client_cert_verified());
    assert_eq!(ssl.version.as_deref(), Some("TLSv1.3"));
    assert_eq!(ssl.cn.as_deref(), Some("alice"));
    assert_eq!(ssl.cipher, None);
    assert_eq!(header.tlvs.authority.as_deref(), Some("cn.test"));

    // Without a certificate: the plain send-proxy-v2-ssl server, no CN, no cert bits.
    assert_eq!(ping(&ca, port, "cn.test", None).await.unwrap(), b"ping");
    let header = recv(&mut plain_rx).await;
    let ssl = header.tlvs.ssl.expect("SSL TLV");
    assert_eq!(ssl.client, SslClient::SSL);
    assert_eq!(ssl.version.as_deref(), Some("TLSv1.3"));
    assert_eq!(ssl.cn, None);
    assert!(!ssl.client_cert_verified());

    // send-proxy-v2-ssl (no -cn) with a certificate: bits but no CN.
    assert_eq!(
        ping(&ca, port, "www.test", Some(clients.client("bob")))
            .await
            .unwrap(),
        b"ping"
    );
    let ssl = recv(&mut plain_rx).await.tlvs.ssl.expect("SSL TLV");
    assert!(ssl.client.contains(SslClient::CERT_CONN));
    assert_eq!(ssl.cn, None);

    // tcp-request content on the SNI: the connection is closed, nothing reaches a server.
    assert!(ping(&ca, port, "reject.test", None).await.is_err());
    assert!(plain_rx.try_recv().is_err() && cn_rx.try_recv().is_err());

    t1.abort();
    t2.abort();
    rt.stop(Duration::from_secs(1)).await;
}

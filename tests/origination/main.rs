//! TLS towards servers (`server ... ssl ...`), the certificate commands of the runtime
//! API (`set|commit|abort|show ssl cert`) and `crt-list` per-line options, end to end
//! through configurations run by `lb::runtime::Runtime` over loopback TLS origins.

#[path = "../support/mod.rs"]
mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lb::config::{Config, StatsLevel};
use lb::runtime::{Cli, Runtime};
use lb::tls::{Cert, CertStore, TlsAcceptor, TlsConnect, TlsInfo, TlsTarget, Verify};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use support::{body_string, get};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------
// Certificates and files

/// A test CA.
struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(cn: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    /// A leaf for `names`, as PEM chain + key.
    fn leaf(&self, names: &[&str]) -> String {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.0)
            .unwrap();
        format!("{}{}", cert.pem(), key.serialize_pem())
    }

    fn pem(&self) -> String {
        self.0.pem()
    }
}

/// A fresh directory for the files of one test.
fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "lb-origination-{}-{name}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

fn leaf_der(pem: &str) -> Vec<u8> {
    Cert::from_pem(pem.as_bytes()).unwrap().chain()[0].to_vec()
}

// ---------------------------------------------------------------------------------------
// Origins

/// A TLS origin: what it saw of the connections made to it.
struct TlsOrigin {
    addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    resumed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn acceptor(leaf_pem: &str, alpn: Option<&str>, client_ca: Option<&Ca>) -> Arc<TlsAcceptor> {
    let store = CertStore::new();
    store
        .add("origin", Cert::from_pem(leaf_pem.as_bytes()).unwrap())
        .unwrap();
    store.set_default("origin").unwrap();
    let mut b = TlsAcceptor::builder(Arc::new(store));
    if let Some(alpn) = alpn {
        b = b.alpn(alpn).unwrap();
    }
    if let Some(ca) = client_ca {
        b = b
            .verify(Verify::Required)
            .client_cas(vec![ca.0.der().clone()]);
    }
    Arc::new(b.build().unwrap())
}

/// An HTTPS origin (HTTP/1.1 and HTTP/2) answering `hello from <name>` with the HTTP
/// version it saw in `x-seen-version`.
async fn https_origin(name: &'static str, leaf_pem: &str, alpn: Option<&str>) -> TlsOrigin {
    https_origin_with(name, leaf_pem, alpn, None).await
}

/// [`https_origin`], requiring a client certificate from `client_ca` if given.
async fn https_origin_with(
    name: &'static str,
    leaf_pem: &str,
    alpn: Option<&str>,
    client_ca: Option<&Ca>,
) -> TlsOrigin {
    tls_origin(leaf_pem, alpn, client_ca, move |tls| async move {
        let svc = hyper::service::service_fn(move |req: Request<Incoming>| async move {
            let mut r = Response::new(Full::new(Bytes::from(format!("hello from {name}"))));
            let version = format!("{:?}", req.version());
            r.headers_mut()
                .insert("x-seen-version", version.parse().unwrap());
            r.headers_mut().insert("x-origin", name.parse().unwrap());
            Ok::<_, Infallible>(r)
        });
        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(tls), svc)
            .await;
    })
    .await
}

/// A TLS echo origin.
async fn echo_origin(leaf_pem: &str) -> TlsOrigin {
    tls_origin(leaf_pem, None, None, |tls| async move {
        let (mut r, mut w) = tokio::io::split(tls);
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = w.shutdown().await;
    })
    .await
}

async fn tls_origin<F, Fut>(
    leaf_pem: &str,
    alpn: Option<&str>,
    client_ca: Option<&Ca>,
    serve: F,
) -> TlsOrigin
where
    F: Fn(lb::tls::tokio_rustls::server::TlsStream<lb::tcp::net::Stream>) -> Fut
        + Clone
        + Send
        + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let acceptor = acceptor(leaf_pem, alpn, client_ca);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let resumed = Arc::new(AtomicUsize::new(0));
    let (h, r) = (handshakes.clone(), resumed.clone());
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let (acceptor, h, r, serve) = (acceptor.clone(), h.clone(), r.clone(), serve.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(lb::tcp::net::Stream::from(s)).await else {
                    return;
                };
                h.fetch_add(1, Ordering::SeqCst);
                if TlsInfo::of(&tls).resumed() {
                    r.fetch_add(1, Ordering::SeqCst);
                }
                serve(tls).await;
            });
        }
    });
    TlsOrigin {
        addr,
        handshakes,
        resumed,
        task,
    }
}

// ---------------------------------------------------------------------------------------
// Runtime and clients

async fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn parse(dir: &Path, text: &str) -> Config {
    let file = write(dir, "lb.cfg", text);
    Config::load(&[file]).unwrap_or_else(|e| panic!("{e}"))
}

/// An HTTP frontend on `port` to backend `app` made of `backend` (its lines).
fn http_cfg(port: u16, backend: &str) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    \
         timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:{port}\n    default_backend app\n\
         backend app\n{backend}"
    )
}

/// GET / through the proxy: status, body and the version the origin saw.
async fn get_through(port: u16) -> (u16, String, String) {
    let io = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = get("/");
    req.headers_mut().insert("host", "test".parse().unwrap());
    let resp = tokio::time::timeout(Duration::from_secs(10), send.send_request(req))
        .await
        .expect("an answer in time")
        .unwrap();
    let status = resp.status().as_u16();
    let version = resp
        .headers()
        .get("x-seen-version")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, body_string(resp).await, version)
}

/// Collects log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The process-wide log capture (a global subscriber, so that callsite interest cannot
/// be decided by a test thread running without one).
fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("only this binary sets one");
        captured
    })
}

/// The leaf certificate (DER) a TLS frontend at `addr` presents for `sni`, and the ALPN
/// protocol agreed when offering `alpn`.
async fn presented(addr: SocketAddr, sni: &str, alpn: &str) -> (Vec<u8>, Option<Vec<u8>>) {
    let connect = TlsConnect::builder()
        .verify(Verify::None)
        .alpn(alpn)
        .unwrap()
        .build(lb::tcp::connect::TcpConnect::new())
        .unwrap();
    let tls = connect
        .oneshot(TlsTarget::new(lb::core::Address::Inet(addr), sni))
        .await
        .unwrap();
    let conn = &tls.get_ref().1;
    let leaf = conn.peer_certificates().unwrap()[0].to_vec();
    (leaf, conn.alpn_protocol().map(<[u8]>::to_vec))
}

// ---------------------------------------------------------------------------------------
// A. Origination

#[tokio::test]
async fn verify_required_with_the_servers_ca_answers_200_and_resumes_sessions() {
    captured();
    let ca = Ca::new("Origin CA");
    let origin = https_origin("tls", &ca.leaf(&["origin.test"]), None).await;
    let dir = temp_dir("verify");
    write(&dir, "ca.pem", &ca.pem());
    let port = free_port().await;
    let backend = format!(
        "    http-reuse never\n    server s1 {} ssl verify required ca-file ca.pem sni str(origin.test)\n",
        origin.addr
    );
    let rt = Runtime::start(parse(&dir, &http_cfg(port, &backend)), None)
        .await
        .unwrap();
    for _ in 0..3 {
        let (status, body, _) = get_through(port).await;
        assert_eq!((status, body.as_str()), (200, "hello from tls"));
    }
    // One connection per request (`http-reuse never`): the connector of the server is
    // kept, so the later handshakes resume the first session.
    assert_eq!(origin.handshakes.load(Ordering::SeqCst), 3);
    assert!(
        origin.resumed.load(Ordering::SeqCst) >= 1,
        "sessions towards the server are resumed"
    );
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn no_ssl_reuse_turns_resumption_off() {
    captured();
    let ca = Ca::new("Origin CA");
    let origin = https_origin("tls", &ca.leaf(&["origin.test"]), None).await;
    let dir = temp_dir("noreuse");
    write(&dir, "ca.pem", &ca.pem());
    let port = free_port().await;
    let backend = format!(
        "    http-reuse never\n    server s1 {} ssl ca-file ca.pem sni str(origin.test) no-ssl-reuse\n",
        origin.addr
    );
    let rt = Runtime::start(parse(&dir, &http_cfg(port, &backend)), None)
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(get_through(port).await.0, 200);
    }
    assert_eq!(origin.handshakes.load(Ordering::SeqCst), 3);
    assert_eq!(origin.resumed.load(Ordering::SeqCst), 0);
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_failed_server_handshake_gives_503_and_one_warn_line_per_failure() {
    let log = captured();
    let ca = Ca::new("Origin CA");
    let other_ca = Ca::new("Another CA");
    let origin = https_origin("tls", &ca.leaf(&["origin.test"]), None).await;
    let dir = temp_dir("wrongca");
    write(&dir, "ca.pem", &ca.pem());
    write(&dir, "other-ca.pem", &other_ca.pem());
    let (port, named) = (free_port().await, free_port().await);
    // Wrong CA on one backend, a name mismatch on the other; no retries, so each request
    // makes exactly one attempt.
    let text = format!(
        "{}    retries 0\n    server wrongca {addr} ssl verify required ca-file other-ca.pem sni str(origin.test)\n\
         backend named\n    retries 0\n    server badname {addr} ssl ca-file ca.pem sni str(origin.test) verifyhost www.elsewhere.test\n\
         frontend web2\n    bind 127.0.0.1:{named}\n    default_backend named\n",
        http_cfg(port, ""),
        addr = origin.addr,
    );
    let rt = Runtime::start(parse(&dir, &text), None).await.unwrap();
    let (status, _, _) = get_through(port).await;
    assert_eq!(status, 503);
    let (status, _, _) = get_through(named).await;
    assert_eq!(status, 503);
    let text = log.text();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("app/wrongca")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains(" WARN ")
            && lines[0].contains(
                "TLS handshake with server app/wrongca failed: invalid peer certificate: UnknownIssuer"
            ),
        "{text}"
    );
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("named/badname"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("TLS handshake with server named/badname failed: invalid peer certificate: certificate not valid for name"),
        "{text}"
    );
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn verify_none_accepts_any_certificate() {
    captured();
    let unknown = Ca::new("Nobody knows me");
    let origin = https_origin("tls", &unknown.leaf(&["origin.test"]), None).await;
    let dir = temp_dir("verifynone");
    let port = free_port().await;
    let backend = format!("    server s1 {} ssl verify none\n", origin.addr);
    let rt = Runtime::start(parse(&dir, &http_cfg(port, &backend)), None)
        .await
        .unwrap();
    let (status, body, version) = get_through(port).await;
    assert_eq!((status, body.as_str()), (200, "hello from tls"));
    assert_eq!(version, "HTTP/1.1");
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn ssl_server_verify_none_in_global_is_the_default_verify() {
    captured();
    let unknown = Ca::new("Nobody knows me");
    let origin = https_origin("tls", &unknown.leaf(&["origin.test"]), None).await;
    let dir = temp_dir("globalverify");
    let port = free_port().await;
    let text = format!(
        "global\n    ssl-server-verify none\n{}",
        http_cfg(port, &format!("    server s1 {} ssl\n", origin.addr))
    );
    let rt = Runtime::start(parse(&dir, &text), None).await.unwrap();
    assert_eq!(get_through(port).await.0, 200);
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn alpn_h2_talks_http2_to_the_server() {
    captured();
    let ca = Ca::new("Origin CA");
    let origin = https_origin("h2", &ca.leaf(&["origin.test"]), Some("h2,http/1.1")).await;
    let dir = temp_dir("alpn");
    write(&dir, "ca.pem", &ca.pem());
    let port = free_port().await;
    let backend = format!(
        "    server s1 {} ssl ca-file ca.pem sni str(origin.test) alpn h2\n",
        origin.addr
    );
    let rt = Runtime::start(parse(&dir, &http_cfg(port, &backend)), None)
        .await
        .unwrap();
    for _ in 0..2 {
        let (status, body, version) = get_through(port).await;
        assert_eq!((status, body.as_str()), (200, "hello from h2"));
        assert_eq!(version, "HTTP/2.0", "the origin saw HTTP/2");
    }
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_tcp_backend_with_ssl_forwards_through_tls() {
    captured();
    let ca = Ca::new("Origin CA");
    let origin = echo_origin(&ca.leaf(&["origin.test"])).await;
    let dir = temp_dir("tcp");
    let bad = free_port().await;
    write(&dir, "ca.pem", &ca.pem());
    write(&dir, "other-ca.pem", &Ca::new("Other").pem());
    let port = free_port().await;
    let text = format!(
        "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend echo\n    bind 127.0.0.1:{port}\n    default_backend echo_be\n\
         backend echo_be\n    server s1 {addr} ssl ca-file ca.pem sni str(origin.test)\n\
         frontend bad\n    bind 127.0.0.1:{bad}\n    default_backend bad_be\n\
         backend bad_be\n    retries 0\n    server s1 {addr} ssl ca-file other-ca.pem sni str(origin.test)\n",
        addr = origin.addr,
    );
    let rt = Runtime::start(parse(&dir, &text), None).await.unwrap();
    let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = c.split();
    let send = async {
        w.write_all(&payload).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut back = Vec::new();
    let recv = r.read_to_end(&mut back);
    let ((), n) = tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(send, recv) })
        .await
        .expect("the echo ends");
    n.unwrap();
    assert_eq!(
        back, payload,
        "bytes go through the TLS server connection intact"
    );
    assert_eq!(origin.handshakes.load(Ordering::SeqCst), 1);
    // A server that fails verification: the client connection is closed.
    let mut c = TcpStream::connect(("127.0.0.1", bad)).await.unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut buf))
        .await
        .expect("closed in time");
    assert!(n.map_or(true, |n| n == 0), "closed without data");
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_bad_ca_file_is_a_start_error_naming_the_server_line() {
    captured();
    let dir = temp_dir("badca");
    write(&dir, "empty.pem", "");
    let port = free_port().await;
    let backend = "    server s1 127.0.0.1:1 ssl ca-file empty.pem\n";
    let err = Runtime::start(parse(&dir, &http_cfg(port, backend)), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("lb.cfg:10: ssl:"), "{err}");
    assert!(err.contains("no certificate found"), "{err}");
}

// ---------------------------------------------------------------------------------------
// B. Runtime API

#[tokio::test]
async fn set_commit_and_abort_ssl_cert_from_the_runtime_api() {
    captured();
    let ca = Ca::new("Site CA");
    let (first, second, third) = (
        ca.leaf(&["site.test"]),
        ca.leaf(&["site.test"]),
        ca.leaf(&["site.test"]),
    );
    let origin = support::origin("plain").await;
    let dir = temp_dir("cli");
    write(&dir, "site.pem", &first);
    let (port, port2) = (free_port().await, free_port().await);
    // Two binds use the file: both get the update.
    let text = format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:{port} ssl crt site.pem\n    bind 127.0.0.1:{port2} ssl crt site.pem\n    default_backend app\n\
         backend app\n    server s1 {}\n",
        origin.addr
    );
    let rt = Runtime::start(parse(&dir, &text), None).await.unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let cli = Cli::new(&rt);
    let id = dir.join("site.pem").display().to_string();

    // Held across the update: established connections keep their certificate.
    let connect = TlsConnect::builder()
        .verify(Verify::None)
        .build(lb::tcp::connect::TcpConnect::new())
        .unwrap();
    let held = connect
        .oneshot(TlsTarget::new(lb::core::Address::Inet(addr), "site.test"))
        .await
        .unwrap();

    assert_eq!(
        presented(addr, "site.test", "http/1.1").await.0,
        leaf_der(&first)
    );
    let show = cli.execute("show ssl cert", StatsLevel::Admin);
    assert_eq!(show, format!("# transaction\n# filename\n{id}\n\n"));
    assert_eq!(
        cli.execute(
            &format!("set ssl cert site.pem <<\n{second}"),
            StatsLevel::Operator
        ),
        "Permission denied\n\n"
    );

    // Staged, not yet used.
    let answer = cli.execute(
        &format!("set ssl cert site.pem <<\n{second}"),
        StatsLevel::Admin,
    );
    assert_eq!(
        answer,
        format!("Transaction created for certificate {id}!\n\n")
    );
    assert_eq!(
        cli.execute("show ssl cert", StatsLevel::Admin),
        format!("# transaction\n*{id}\n# filename\n{id}\n\n")
    );
    assert_eq!(
        presented(addr, "site.test", "http/1.1").await.0,
        leaf_der(&first)
    );
    // Committed: new handshakes see it.
    assert_eq!(
        cli.execute(&format!("commit ssl cert {id}"), StatsLevel::Admin),
        format!("Committing {id}\nSuccess!\n\n")
    );
    assert_eq!(
        presented(addr, "site.test", "http/1.1").await.0,
        leaf_der(&second)
    );
    let addr2: SocketAddr = ([127, 0, 0, 1], port2).into();
    assert_eq!(
        presented(addr2, "site.test", "http/1.1").await.0,
        leaf_der(&second)
    );
    assert_eq!(
        held.get_ref().1.peer_certificates().unwrap()[0].to_vec(),
        leaf_der(&first)
    );

    // Through a socket session: `<<`, the PEM lines, an empty line; then abort.
    let (client, server) = tokio::io::duplex(64 * 1024);
    let serving = tokio::spawn({
        let cli = cli.clone();
        async move { cli.serve(server, StatsLevel::Admin).await }
    });
    let (mut cr, mut cw) = tokio::io::split(client);
    cw.write_all(format!("set ssl cert site.pem <<\n{third}\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    cr.read_to_string(&mut out).await.unwrap();
    serving.await.unwrap().unwrap();
    assert_eq!(
        out,
        format!("Transaction created for certificate {id}!\n\n")
    );
    assert_eq!(
        cli.execute("abort ssl cert site.pem", StatsLevel::Admin),
        format!("Transaction aborted for certificate '{id}'!\n\n")
    );
    assert_eq!(
        cli.execute("commit ssl cert site.pem", StatsLevel::Admin),
        "No ongoing transaction!\n\n"
    );
    assert_eq!(
        presented(addr, "site.test", "http/1.1").await.0,
        leaf_der(&second)
    );

    // Errors.
    assert_eq!(
        cli.execute("set ssl cert nope.pem <<\nx", StatsLevel::Admin),
        "Can't replace a certificate which is not referenced by the configuration!\n\n"
    );
    assert!(cli
        .execute("set ssl cert site.pem <<\nnot a pem", StatsLevel::Admin)
        .starts_with(&format!("Can't update {id}: ")));
    assert!(cli
        .execute("set ssl cert site.pem", StatsLevel::Admin)
        .starts_with("'set ssl cert' expects a filename and a certificate as a payload"));
    let details = cli.execute("show ssl cert site.pem", StatsLevel::Admin);
    assert!(
        details.starts_with(&format!("Filename: {id}\nStatus: Used\n"))
            && details.contains("Subject Alternative Name: DNS:site.test\n"),
        "{details}"
    );
    drop(held);
    rt.stop(Duration::from_secs(1)).await;
}

// ---------------------------------------------------------------------------------------
// C. crt-list per-line options

#[tokio::test]
async fn crt_list_line_alpn_is_applied_and_bad_options_fail_the_start() {
    captured();
    let ca = Ca::new("Site CA");
    let origin = support::origin("plain").await;
    let dir = temp_dir("crtlist");
    write(&dir, "h2.pem", &ca.leaf(&["h2.test"]));
    write(&dir, "h1.pem", &ca.leaf(&["h1.test"]));
    write(&dir, "list.txt", "h1.pem\nh2.pem [alpn h2,http/1.1]\n");
    let port = free_port().await;
    let text = format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:{port} ssl crt-list list.txt alpn http/1.1\n    default_backend app\n\
         backend app\n    server s1 {}\n",
        origin.addr
    );
    let rt = Runtime::start(parse(&dir, &text), None).await.unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let (_, alpn) = presented(addr, "h2.test", "h2,http/1.1").await;
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]), "the line's alpn");
    let (_, alpn) = presented(addr, "h1.test", "h2,http/1.1").await;
    assert_eq!(
        alpn.as_deref(),
        Some(&b"http/1.1"[..]),
        "the bind line's alpn"
    );
    rt.stop(Duration::from_secs(1)).await;

    // An option lb cannot honour: the start fails, naming the bind and the crt-list line.
    write(&dir, "list.txt", "h1.pem\nh2.pem [ocsp-update on]\n");
    let err = Runtime::start(parse(&dir, &text), None)
        .await
        .unwrap_err()
        .to_string();
    let list = dir.join("list.txt").display().to_string();
    assert!(
        err.contains(&format!(
            "lb.cfg:7: ssl: {list}:2: ssl option 'ocsp-update' is not supported in a crt-list line"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn checks_of_ssl_servers_verify_their_certificate() {
    captured();
    let ca = Ca::new("Origin CA");
    let leaf = ca.leaf(&["origin.test"]);
    let origin = https_origin("tls", &leaf, None).await;
    let other = https_origin("other", &leaf, None).await;
    let dir = temp_dir("checks");
    write(&dir, "ca.pem", &ca.pem());
    write(&dir, "other-ca.pem", &Ca::new("Other").pem());
    let port = free_port().await;
    let backend = format!(
        "    server good {addr} ssl ca-file ca.pem sni str(origin.test) check inter 100ms rise 1 fall 1\n\
         \x20   server bad {other} ssl ca-file other-ca.pem sni str(origin.test) check inter 100ms rise 1 fall 1\n",
        addr = origin.addr,
        other = other.addr,
    );
    let rt = Runtime::start(parse(&dir, &http_cfg(port, &backend)), None)
        .await
        .unwrap();
    let be = rt.backend("app").unwrap().clone();
    assert!(
        support::eventually(|| !be.server("bad").unwrap().op_state().is_up()).await,
        "a server whose certificate does not verify fails its checks"
    );
    assert!(
        support::eventually(|| origin.handshakes.load(Ordering::SeqCst) >= 2).await,
        "checks shake hands with the server"
    );
    assert!(be.server("good").unwrap().op_state().is_up());
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn alpn_offering_h2_among_others_stays_on_http1() {
    captured();
    let ca = Ca::new("Origin CA");
    // The origin prefers h2 when offered.
    let origin = https_origin("tls", &ca.leaf(&["origin.test"]), Some("h2,http/1.1")).await;
    let dir = temp_dir("alpnmix");
    write(&dir, "ca.pem", &ca.pem());
    let port = free_port().await;
    let backend = format!(
        "    server s1 {} ssl ca-file ca.pem sni str(origin.test) alpn h2,http/1.1\n",
        origin.addr
    );
    let rt = Runtime::start(parse(&dir, &http_cfg(port, &backend)), None)
        .await
        .unwrap();
    let (status, _, version) = get_through(port).await;
    assert_eq!((status, version.as_str()), (200, "HTTP/1.1"));
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn crt_presents_a_client_certificate_to_the_server() {
    captured();
    let ca = Ca::new("Origin CA");
    let client_ca = Ca::new("Client CA");
    let origin =
        https_origin_with("mtls", &ca.leaf(&["origin.test"]), None, Some(&client_ca)).await;
    let dir = temp_dir("crt");
    write(&dir, "ca.pem", &ca.pem());
    write(&dir, "client.pem", &client_ca.leaf(&["lb.client"]));
    let (port, anonymous) = (free_port().await, free_port().await);
    let text = format!(
        "{}    server s1 {addr} ssl ca-file ca.pem sni str(origin.test) crt client.pem\n\
         backend anonymous\n    retries 0\n    server s1 {addr} ssl ca-file ca.pem sni str(origin.test)\n\
         frontend anonymous\n    bind 127.0.0.1:{anonymous}\n    default_backend anonymous\n",
        http_cfg(port, ""),
        addr = origin.addr,
    );
    let rt = Runtime::start(parse(&dir, &text), None).await.unwrap();
    let (status, body, _) = get_through(port).await;
    assert_eq!((status, body.as_str()), (200, "hello from mtls"));
    // In TLS 1.3 the server refuses a missing client certificate after the client's side
    // of the handshake is done: the request fails on the connection (502), not at connect.
    assert_eq!(get_through(anonymous).await.0, 502, "no client certificate");
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn access_logs_show_the_tls_version_and_cipher() {
    let log = captured();
    let ca = Ca::new("Site CA");
    let origin = support::origin("plain").await;
    let dir = temp_dir("tlslog");
    write(&dir, "site.pem", &ca.leaf(&["site.test"]));
    let port = free_port().await;
    let text = format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:{port} ssl crt site.pem\n    log 127.0.0.1:9 local0\n\
         \x20   log-format \"tlslog-{port} %ft %sslv %sslc %ST\"\n    default_backend app\n\
         backend app\n    server s1 {}\n",
        origin.addr
    );
    let rt = Runtime::start(parse(&dir, &text), None).await.unwrap();
    let connect = TlsConnect::builder()
        .verify(Verify::None)
        .build(lb::tcp::connect::TcpConnect::new())
        .unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut tls = connect
        .oneshot(TlsTarget::new(lb::core::Address::Inet(addr), "site.test"))
        .await
        .unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"));
    let marker = format!("tlslog-{port} web~ TLSv1.3 TLS_AES_");
    assert!(
        support::eventually(|| log.text().contains(&marker)).await,
        "{}",
        log.text()
    );
    rt.stop(Duration::from_secs(1)).await;
}

/// An HTTPS origin that speaks HTTP/2 only when ALPN chose it (as nginx does), HTTP/1.1
/// otherwise.
async fn alpn_strict_origin(leaf_pem: &str) -> TlsOrigin {
    tls_origin(leaf_pem, Some("h2,http/1.1"), None, |tls| async move {
        let h2 = TlsInfo::of(&tls).alpn() == Some(&b"h2"[..]);
        let svc = hyper::service::service_fn(|_req: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        });
        if h2 {
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        } else {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        }
    })
    .await
}

#[tokio::test]
async fn h2_checks_over_tls_offer_alpn_h2() {
    captured();
    let ca = Ca::new("Origin CA");
    let leaf = ca.leaf(&["origin.test"]);
    let (inherit, explicit) = (
        alpn_strict_origin(&leaf).await,
        alpn_strict_origin(&leaf).await,
    );
    let dir = temp_dir("h2check");
    write(&dir, "ca.pem", &ca.pem());
    let port = free_port().await;
    let backend = format!(
        "    option httpchk GET /\n\
         \x20   server inherit {} ssl ca-file ca.pem sni str(origin.test) check check-proto h2 inter 100ms rise 1 fall 1\n\
         \x20   server explicit {} check check-ssl check-proto h2 port {} inter 100ms rise 1 fall 1\n",
        inherit.addr,
        explicit.addr,
        explicit.addr.port(),
    );
    let rt = Runtime::start(parse(&dir, &http_cfg(port, &backend)), None)
        .await
        .unwrap();
    let be = rt.backend("app").unwrap().clone();
    // Both servers answer their HTTP/2 checks (over HTTP/1 they would fail and go down).
    assert!(
        support::eventually(|| {
            inherit.handshakes.load(Ordering::SeqCst) >= 3
                && explicit.handshakes.load(Ordering::SeqCst) >= 3
        })
        .await
    );
    assert!(be.server("inherit").unwrap().op_state().is_up());
    assert!(be.server("explicit").unwrap().op_state().is_up());
    rt.stop(Duration::from_secs(1)).await;
}

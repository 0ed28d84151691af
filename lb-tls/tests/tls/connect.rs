//! Origination: TlsConnect towards servers on the in-memory network.

use std::sync::Arc;

use lb_core::Address;
use lb_tcp::mem::{MemListener, MemNetwork};
use lb_tls::rustls::HandshakeKind;
use lb_tls::{CertStore, TlsAcceptor, TlsConnect, TlsError, TlsInfo, TlsTarget, Verify};
use tower::ServiceExt;

use crate::support::*;

/// A TLS server on `net` at `mem@name` that accepts `n` connections and reports their
/// facts (or handshake errors).
fn serve(
    listener: MemListener,
    acceptor: TlsAcceptor,
    n: usize,
) -> tokio::task::JoinHandle<Vec<Result<TlsInfo, TlsError>>> {
    tokio::spawn(async move {
        let mut out = Vec::new();
        for _ in 0..n {
            let (stream, _) = listener.accept().await.unwrap();
            let r = acceptor.accept(stream).await;
            out.push(r.map(|mut tls| {
                let info = TlsInfo::of(&tls);
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    // Echo until the client goes away (this flushes session tickets).
                    let _ = tls.write_all(b"hi").await;
                    let mut buf = [0; 16];
                    while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
                });
                info
            }));
        }
        out
    })
}

struct Server {
    net: MemNetwork,
    ca: Ca,
    addr: Address,
}

fn server(
    names: &[&str],
    configure: impl FnOnce(lb_tls::TlsAcceptorBuilder) -> lb_tls::TlsAcceptorBuilder,
    n: usize,
) -> (
    Server,
    tokio::task::JoinHandle<Vec<Result<TlsInfo, TlsError>>>,
) {
    let ca = Ca::new("Origin CA");
    let store = Arc::new(CertStore::new());
    store
        .add("origin", ca.server(names, &ECDSA).cert())
        .unwrap();
    let acceptor = configure(TlsAcceptor::builder(store)).build().unwrap();
    let net = MemNetwork::new();
    let listener = net.bind("origin").unwrap();
    let task = serve(listener, acceptor, n);
    let addr: Address = "mem@origin".parse().unwrap();
    (Server { net, ca, addr }, task)
}

async fn read_hi(tls: &mut lb_tls::tokio_rustls::client::TlsStream<lb_tcp::net::Stream>) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0; 2];
    tls.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hi");
}

#[tokio::test]
async fn verified_with_sni_alpn_and_resumption() {
    let (srv, task) = server(&["api.internal"], |b| b.alpn("h2,http/1.1").unwrap(), 3);
    let connect = TlsConnect::builder()
        .ca_certs(vec![srv.ca.der()])
        .sni("api.internal")
        .alpn("h2")
        .unwrap()
        .build(srv.net.connector())
        .unwrap();
    let mut first = connect.clone().oneshot(srv.addr.clone()).await.unwrap();
    assert_eq!(first.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(
        first.get_ref().1.handshake_kind(),
        Some(HandshakeKind::Full)
    );
    read_hi(&mut first).await;
    drop(first);
    let mut second = connect.clone().oneshot(srv.addr.clone()).await.unwrap();
    assert_eq!(
        second.get_ref().1.handshake_kind(),
        Some(HandshakeKind::Resumed),
        "client session cache"
    );
    read_hi(&mut second).await;
    // The other ALPN.
    let h1 = TlsConnect::builder()
        .ca_certs(vec![srv.ca.der()])
        .sni("api.internal")
        .alpn("http/1.1")
        .unwrap()
        .build(srv.net.connector())
        .unwrap();
    let third = h1.oneshot(srv.addr.clone()).await.unwrap();
    assert_eq!(third.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let infos = task.await.unwrap();
    let infos: Vec<TlsInfo> = infos.into_iter().map(Result::unwrap).collect();
    assert_eq!(infos[0].alpn(), Some(&b"h2"[..]));
    assert_eq!(infos[0].sni(), Some("api.internal"));
    assert!(infos[1].resumed());
    assert_eq!(infos[2].alpn(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn verification_failures_are_clear() {
    let (srv, task) = server(&["api.internal"], |b| b, 3);
    // Wrong CA.
    let other = Ca::new("Other CA");
    let connect = TlsConnect::builder()
        .ca_certs(vec![other.der()])
        .sni("api.internal")
        .build(srv.net.connector())
        .unwrap();
    let err = connect.oneshot(srv.addr.clone()).await.unwrap_err();
    assert!(matches!(err, TlsError::Handshake(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "TLS handshake failed: invalid peer certificate: UnknownIssuer"
    );
    // Right CA, wrong name.
    let connect = TlsConnect::builder()
        .ca_certs(vec![srv.ca.der()])
        .sni("www.elsewhere")
        .build(srv.net.connector())
        .unwrap();
    let err = connect.oneshot(srv.addr.clone()).await.unwrap_err();
    assert!(
        err.to_string().contains("certificate not valid for name"),
        "{err}"
    );
    // No CA at all: the default is verify required.
    let connect = TlsConnect::builder()
        .sni("api.internal")
        .build(srv.net.connector())
        .unwrap();
    assert!(connect.oneshot(srv.addr.clone()).await.is_err());
    // The server saw failed handshakes.
    for r in task.await.unwrap() {
        assert!(r.unwrap_err().is_handshake());
    }
}

#[tokio::test]
async fn verifyhost_per_connection_sni_and_verify_none() {
    let (srv, task) = server(&["api.internal"], |b| b, 4);
    // SNI per connection, verified against verifyhost.
    let connect = TlsConnect::builder()
        .ca_certs(vec![srv.ca.der()])
        .verifyhost("api.internal")
        .build(srv.net.connector())
        .unwrap();
    // Keep the clients open until the server is done with them.
    let mut open = Vec::new();
    open.push(
        connect
            .clone()
            .oneshot(TlsTarget::new(srv.addr.clone(), "alias.example"))
            .await
            .unwrap(),
    );
    // No SNI and verifyhost: the name is checked against verifyhost.
    open.push(connect.oneshot(srv.addr.clone()).await.unwrap());
    // No SNI, no verifyhost: chain only.
    let chain_only = TlsConnect::builder()
        .ca_certs(vec![srv.ca.der()])
        .build(srv.net.connector())
        .unwrap();
    open.push(chain_only.oneshot(srv.addr.clone()).await.unwrap());
    // verify none: anything goes.
    let insecure = TlsConnect::builder()
        .verify(Verify::None)
        .sni("whatever.example")
        .build(srv.net.connector())
        .unwrap();
    open.push(insecure.oneshot(srv.addr.clone()).await.unwrap());
    let infos = task.await.unwrap();
    let snis: Vec<Option<String>> = infos
        .into_iter()
        .map(|i| i.unwrap().sni().map(str::to_owned))
        .collect();
    assert_eq!(
        snis,
        [
            Some("alias.example".into()),
            None,
            None,
            Some("whatever.example".into())
        ]
    );
}

#[tokio::test]
async fn client_certificate_towards_server() {
    let client_ca = Ca::new("Client CA");
    let client_ca_der = client_ca.der();
    let (srv, task) = server(
        &["api.internal"],
        move |b| b.verify(Verify::Required).client_cas(vec![client_ca_der]),
        2,
    );
    let leaf = client_ca.client("lb", false);
    let with_cert = TlsConnect::builder()
        .ca_certs(vec![srv.ca.der()])
        .sni("api.internal")
        .client_cert(leaf.cert())
        .build(srv.net.connector())
        .unwrap();
    let mut tls = with_cert.oneshot(srv.addr.clone()).await.unwrap();
    read_hi(&mut tls).await;
    let without = TlsConnect::builder()
        .ca_certs(vec![srv.ca.der()])
        .sni("api.internal")
        .build(srv.net.connector())
        .unwrap();
    // TLS 1.3: the client learns of the rejection on its first read.
    if let Ok(mut tls) = without.oneshot(srv.addr.clone()).await {
        use tokio::io::AsyncReadExt;
        let mut buf = [0; 2];
        assert!(tls.read_exact(&mut buf).await.is_err());
    }
    let infos = task.await.unwrap();
    let first = infos[0].as_ref().unwrap();
    assert_eq!(first.client_cert().unwrap().common_name(), Some("lb"));
    assert!(infos[1].is_err());
}

#[tokio::test]
async fn connect_errors() {
    let net = MemNetwork::new();
    let connect = TlsConnect::builder()
        .verify(Verify::None)
        .build(net.connector())
        .unwrap();
    let err = connect
        .clone()
        .oneshot("mem@nobody".parse::<Address>().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, TlsError::Io(_)), "{err:?}");
    let err = connect
        .oneshot(TlsTarget::new("mem@nobody".parse().unwrap(), "bad name!"))
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("sni: \"bad name!\""), "{err}");
    assert!(TlsConnect::builder().verifyhost("").build(()).is_err());
}

//! `crt-list` per-line SSL options (`[alpn h2 ssl-min-ver TLSv1.3 verify required ca-file
//! ca.pem]`): applied to handshakes whose SNI selects the line, refused at load when
//! lb cannot honour them.

use std::sync::Arc;

use lb_tls::rustls::ClientConfig;
use lb_tls::{CertStore, TlsAcceptor, TlsError};

use crate::support::*;

struct Setup {
    ca: Ca,
    client_ca: Ca,
}

/// Three certificates and a client CA in a directory, and a crt-list with `lines`.
fn setup(lines: &str) -> (Setup, Arc<CertStore>) {
    let ca = Ca::new("Server CA");
    let client_ca = Ca::new("Client CA");
    let dir = temp_dir("crtlist");
    for (file, name) in [
        ("a.pem", "a.test"),
        ("b.pem", "b.test"),
        ("c.pem", "c.test"),
    ] {
        std::fs::write(dir.join(file), ca.server(&[name], &ECDSA).pem()).unwrap();
    }
    std::fs::write(dir.join("client-ca.pem"), client_ca.pem()).unwrap();
    std::fs::write(dir.join("list.txt"), lines).unwrap();
    let store = Arc::new(CertStore::new());
    store
        .load_crt_list(dir.join("list.txt"), Some(&dir))
        .unwrap();
    (Setup { ca, client_ca }, store)
}

/// A TLS 1.2-only client trusting `ca` and presenting `client`.
fn tls12_client(ca: &Ca, client: &Leaf) -> ClientConfig {
    use lb_tls::rustls::pki_types::pem::PemObject;
    use lb_tls::rustls::pki_types::PrivateKeyDer;
    let key = PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).unwrap();
    ClientConfig::builder_with_protocol_versions(&[&lb_tls::rustls::version::TLS12])
        .with_root_certificates(ca.roots())
        .with_client_auth_cert(vec![client.der.clone()], key)
        .unwrap()
}

#[tokio::test]
async fn per_line_alpn_versions_and_client_verification_apply_by_sni() {
    let (s, store) = setup(
        "a.pem [alpn h2]\n\
         b.pem [ssl-min-ver TLSv1.3 verify required ca-file client-ca.pem]\n\
         c.pem\n",
    );
    // The bind line: http/1.1 only, TLS 1.2 and 1.3, no client certificate.
    let acceptor = TlsAcceptor::builder(store)
        .alpn("http/1.1")
        .unwrap()
        .build()
        .unwrap();
    let offer = ["h2", "http/1.1"];

    // a.test: its line offers h2.
    let (c, srv) = handshake(
        &acceptor,
        client_config(&s.ca, None, &offer),
        Some("a.test"),
    )
    .await;
    let (c, _srv) = (c.unwrap(), srv.unwrap());
    assert_eq!(c.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // c.test: the bind line's ALPN.
    let (c, _) = handshake(
        &acceptor,
        client_config(&s.ca, None, &offer),
        Some("c.test"),
    )
    .await;
    assert_eq!(
        c.unwrap().get_ref().1.alpn_protocol(),
        Some(&b"http/1.1"[..])
    );

    // b.test: a client certificate is required...
    let (_, srv) = handshake(&acceptor, client_config(&s.ca, None, &[]), Some("b.test")).await;
    assert!(
        matches!(srv, Err(TlsError::Handshake(_))),
        "no client certificate: refused"
    );
    let client = s.client_ca.client("alice", false);
    let (c, srv) = handshake(
        &acceptor,
        client_config(&s.ca, Some(&client), &[]),
        Some("b.test"),
    )
    .await;
    assert!(
        c.is_ok() && srv.is_ok(),
        "a client certificate from the line's CA"
    );
    // ...and TLS 1.3.
    let (_, srv) = handshake(&acceptor, tls12_client(&s.ca, &client), Some("b.test")).await;
    assert!(srv.is_err(), "TLS 1.2 refused on b.test's line");
    let (c, srv) = handshake(&acceptor, tls12_client(&s.ca, &client), Some("c.test")).await;
    assert!(c.is_ok() && srv.is_ok(), "TLS 1.2 is fine elsewhere");
}

#[tokio::test]
async fn options_lb_cannot_honour_are_load_errors_naming_the_line() {
    let ca = Ca::new("Server CA");
    let dir = temp_dir("crtlist-errors");
    std::fs::write(dir.join("a.pem"), ca.server(&["a.test"], &ECDSA).pem()).unwrap();
    let list = dir.join("list.txt");
    let origin = list.display().to_string();
    let load = |text: &str| {
        std::fs::write(&list, text).unwrap();
        CertStore::new()
            .load_crt_list(&list, Some(&dir))
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        load("a.pem\na.pem [ocsp-update on] x.test\n").unwrap_err(),
        format!(
            "{origin}:2: ssl option 'ocsp-update' is not supported in a crt-list line \
             (supported: alpn, no-alpn, ssl-min-ver, ssl-max-ver, ciphers, ciphersuites, \
             verify, ca-file, crl-file)"
        )
    );
    assert!(load("a.pem [ca-file missing.pem]\n")
        .unwrap_err()
        .starts_with(&format!("{origin}:1: ")));

    // Options that parse but cannot be combined with the bind line's: at build.
    std::fs::write(&list, "a.pem\na.pem [verify required] x.test\n").unwrap();
    let store = Arc::new(CertStore::new());
    store.load_crt_list(&list, Some(&dir)).unwrap();
    let err = TlsAcceptor::builder(store).build().unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{origin}:2: verify: verify required needs a ca-file")
    );
}

//! Certificate selection during real handshakes.

use std::sync::Arc;

use lb_tls::rustls::SignatureScheme;
use lb_tls::{CertStore, TlsAcceptor, TlsError};

use crate::support::*;

#[tokio::test]
async fn sni_selects_among_many_names_wildcards_and_default() {
    let ca = Ca::new("SNI CA");
    let store = Arc::new(CertStore::new());
    let default = ca.server(&["default.test"], &ECDSA);
    store.add("default", default.cert()).unwrap();
    let mut exact = Vec::new();
    for i in 0..40 {
        let name = format!("host{i}.example.com");
        let leaf = ca.server(&[&name], &ECDSA);
        store.add(name.clone(), leaf.cert()).unwrap();
        exact.push((name, leaf));
    }
    let wild = ca.server(&["*.example.com"], &ECDSA);
    store.add("wild", wild.cert()).unwrap();
    let deep = ca.server(&["*.deep.example.com"], &ECDSA);
    store.add("deep", deep.cert()).unwrap();
    let acceptor = TlsAcceptor::builder(Arc::clone(&store)).build().unwrap();
    let config = Arc::new(client_config(&ca, None, &[]));

    for (name, leaf) in exact.iter().step_by(7) {
        let pair = connect_ok(&acceptor, Arc::clone(&config), Some(name)).await;
        assert_eq!(served_leaf(&pair), leaf.der, "{name}");
        assert_eq!(lb_tls::TlsInfo::of(&pair.1).sni(), Some(name.as_str()));
    }
    let cases = [
        (Some("other.example.com"), &wild),
        (Some("x.deep.example.com"), &deep),
        (Some("a.b.deep.example.com"), &default),
        (Some("example.com"), &default),
        (Some("unknown.test"), &default),
        (None, &default),
    ];
    for (sni, want) in cases {
        // Mismatched names fail the client's verification: look at what was served.
        let verifier = Recording::new(vec![SignatureScheme::ECDSA_NISTP256_SHA256]);
        let (c, s) = handshake(&acceptor, recording_config(verifier), sni).await;
        let pair = (c.unwrap(), s.unwrap());
        assert_eq!(served_leaf(&pair), want.der, "{sni:?}");
    }
}

#[tokio::test]
async fn unknown_name_without_default_fails_clearly() {
    let ca = Ca::new("CA");
    // Only an empty store has no default certificate.
    let store = Arc::new(CertStore::new());
    let acceptor = TlsAcceptor::builder(store).build().unwrap();
    let (c, s) = handshake(&acceptor, client_config(&ca, None, &[]), Some("b.test")).await;
    assert!(c.is_err());
    let err = s.unwrap_err();
    assert!(matches!(err, TlsError::Handshake(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("no server certificate chain resolved"),
        "{err}"
    );
}

#[tokio::test]
async fn rsa_or_ecdsa_by_client_signature_schemes() {
    let ca = Ca::new("CA");
    let store = Arc::new(CertStore::new());
    let rsa = ca.server(&["dual.test"], &RSA);
    let ecdsa = ca.server(&["dual.test"], &ECDSA);
    store.add("dual.rsa", rsa.cert()).unwrap();
    store.add("dual.ecdsa", ecdsa.cert()).unwrap();
    let acceptor = TlsAcceptor::builder(store).build().unwrap();

    let rsa_only = Recording::new(vec![
        SignatureScheme::RSA_PSS_SHA256,
        SignatureScheme::RSA_PKCS1_SHA256,
    ]);
    let (c, s) = handshake(&acceptor, recording_config(rsa_only), Some("dual.test")).await;
    assert_eq!(served_leaf(&(c.unwrap(), s.unwrap())), rsa.der);

    let both = Recording::new(vec![
        SignatureScheme::RSA_PSS_SHA256,
        SignatureScheme::ECDSA_NISTP256_SHA256,
    ]);
    let (c, s) = handshake(&acceptor, recording_config(both), Some("dual.test")).await;
    assert_eq!(
        served_leaf(&(c.unwrap(), s.unwrap())),
        ecdsa.der,
        "ECDSA preferred"
    );
}

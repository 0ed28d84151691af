//! Hot certificate updates: new handshakes see them, established connections keep going.

use std::sync::Arc;

use lb_tls::{CertStore, TlsAcceptor};

use crate::support::*;

#[tokio::test]
async fn replace_is_seen_by_new_handshakes_only() {
    let ca = Ca::new("CA");
    let store = Arc::new(CertStore::new());
    let old = ca.server(&["www.test"], &ECDSA);
    store.add("www.pem", old.cert()).unwrap();
    let acceptor = TlsAcceptor::builder(Arc::clone(&store)).build().unwrap();
    // No resumption: a resumed session keeps the certificate of its first handshake.
    let mut config = client_config(&ca, None, &[]);
    config.resumption = lb_tls::rustls::client::Resumption::disabled();
    let config = Arc::new(config);

    let mut established = connect_ok(&acceptor, Arc::clone(&config), Some("www.test")).await;
    assert_eq!(served_leaf(&established), old.der);

    let new = ca.server(&["www.test"], &ECDSA);
    store.replace("www.pem", new.cert()).unwrap();
    let mut fresh = connect_ok(&acceptor, Arc::clone(&config), Some("www.test")).await;
    assert_eq!(served_leaf(&fresh), new.der);
    exchange(&mut established, b"still here").await;
    exchange(&mut fresh, b"new one").await;

    // The set/commit transaction: staged is invisible until committed.
    let newer = ca.server(&["www.test"], &ECDSA);
    store.stage("www.pem", newer.cert()).unwrap();
    let pair = connect_ok(&acceptor, Arc::clone(&config), Some("www.test")).await;
    assert_eq!(served_leaf(&pair), new.der);
    store.commit("www.pem").unwrap();
    let pair = connect_ok(&acceptor, Arc::clone(&config), Some("www.test")).await;
    assert_eq!(served_leaf(&pair), newer.der);

    // Removal: existing connections survive, new ones get the default (here: none left
    // but another certificate added meanwhile).
    let other = ca.server(&["other.test"], &ECDSA);
    store.add("other.pem", other.cert()).unwrap();
    store.remove("www.pem").unwrap();
    exchange(&mut established, b"after removal").await;
    let verifier = Recording::new(vec![lb_tls::rustls::SignatureScheme::ECDSA_NISTP256_SHA256]);
    let (c, s) = handshake(&acceptor, recording_config(verifier), Some("www.test")).await;
    assert_eq!(served_leaf(&(c.unwrap(), s.unwrap())), other.der);
}

//! Session tickets with key rotation, the session cache, OCSP stapling.

use std::sync::Arc;

use lb_tls::rustls::{HandshakeKind, SignatureScheme};
use lb_tls::{CertStore, TicketKeys, TlsAcceptor, TlsInfo, TlsVersion};

use crate::support::*;

fn kind(pair: &Pair) -> HandshakeKind {
    pair.0.get_ref().1.handshake_kind().unwrap()
}

fn b64(raw: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in raw.chunks(3) {
        let mut b = [0u8; 3];
        b[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, b[0], b[1], b[2]]);
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn ticket_from_previous_key_resumes_after_rotation() {
    let ca = Ca::new("CA");
    let store = Arc::new(CertStore::new());
    store
        .add("www", ca.server(&["www.test"], &ECDSA).cert())
        .unwrap();
    // tls-ticket-keys file: k1 (current), k2 (next).
    let dir = temp_dir("tickets");
    let file = dir.join("keys");
    std::fs::write(&file, format!("{}\n{}\n", b64(&[1; 80]), b64(&[2; 80]))).unwrap();
    let keys = Arc::new(TicketKeys::load(&file).unwrap());
    let acceptor = TlsAcceptor::builder(store)
        .tickets(Arc::clone(&keys))
        .session_cache(0)
        .build()
        .unwrap();

    // Client A gets tickets under k1; client B too, for the last check.
    let a = Arc::new(client_config(&ca, None, &[]));
    let b = Arc::new(client_config(&ca, None, &[]));
    for config in [&a, &b] {
        let mut pair = connect_ok(&acceptor, Arc::clone(config), Some("www.test")).await;
        assert_eq!(kind(&pair), HandshakeKind::Full);
        exchange(&mut pair, b"take tickets").await;
    }

    // Rotate through the API: k2 encrypts, k1 still decrypts.
    keys.rotate(&[3; 80]).unwrap();
    let mut pair = connect_ok(&acceptor, Arc::clone(&a), Some("www.test")).await;
    assert_eq!(
        kind(&pair),
        HandshakeKind::Resumed,
        "ticket under the previous key"
    );
    assert!(TlsInfo::of(&pair.1).resumed());
    exchange(&mut pair, b"resumed").await;

    // Two more rotations (file reload, then API): k1 is gone, B's ticket is refused and B
    // falls back to a full handshake.
    std::fs::write(
        &file,
        format!("{}\n{}\n{}\n", b64(&[2; 80]), b64(&[3; 80]), b64(&[4; 48])),
    )
    .unwrap();
    keys.reload(&file).unwrap();
    assert_eq!(keys.len(), 3);
    let pair = connect_ok(&acceptor, Arc::clone(&b), Some("www.test")).await;
    assert_eq!(kind(&pair), HandshakeKind::Full);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn tls12_session_cache_resumes() {
    let ca = Ca::new("CA");
    let store = Arc::new(CertStore::new());
    store
        .add("www", ca.server(&["www.test"], &ECDSA).cert())
        .unwrap();
    let acceptor = TlsAcceptor::builder(store)
        .max_version(TlsVersion::Tls12)
        .no_tls_tickets()
        .session_cache(100)
        .build()
        .unwrap();
    let config = Arc::new(client_config(&ca, None, &[]));
    let mut pair = connect_ok(&acceptor, Arc::clone(&config), Some("www.test")).await;
    assert_eq!(kind(&pair), HandshakeKind::Full);
    assert_eq!(TlsInfo::of(&pair.1).version(), "TLSv1.2");
    exchange(&mut pair, b"x").await;
    let pair = connect_ok(&acceptor, Arc::clone(&config), Some("www.test")).await;
    assert_eq!(
        kind(&pair),
        HandshakeKind::Resumed,
        "session id from the cache"
    );

    // Without a cache or tickets there is nothing to resume.
    let store = Arc::new(CertStore::new());
    store
        .add("www", ca.server(&["www.test"], &ECDSA).cert())
        .unwrap();
    let acceptor = TlsAcceptor::builder(store)
        .max_version(TlsVersion::Tls12)
        .no_tls_tickets()
        .session_cache(0)
        .build()
        .unwrap();
    let config = Arc::new(client_config(&ca, None, &[]));
    let mut pair = connect_ok(&acceptor, Arc::clone(&config), Some("www.test")).await;
    exchange(&mut pair, b"x").await;
    let pair = connect_ok(&acceptor, Arc::clone(&config), Some("www.test")).await;
    assert_eq!(kind(&pair), HandshakeKind::Full);
}

#[tokio::test]
async fn ocsp_is_stapled_and_refreshed() {
    let ca = Ca::new("CA");
    let dir = temp_dir("ocsp");
    let leaf = ca.server(&["www.test"], &ECDSA);
    let pem = dir.join("www.pem");
    std::fs::write(&pem, leaf.pem()).unwrap();
    std::fs::write(dir.join("www.pem.ocsp"), b"first response").unwrap();
    let store = Arc::new(CertStore::new());
    store.load_crt(&pem).unwrap();
    let acceptor = TlsAcceptor::builder(Arc::clone(&store)).build().unwrap();
    let stapled = || async {
        let verifier = Recording::new(vec![SignatureScheme::ECDSA_NISTP256_SHA256]);
        let (c, s) = handshake(
            &acceptor,
            recording_config(Arc::clone(&verifier)),
            Some("www.test"),
        )
        .await;
        c.unwrap();
        s.unwrap();
        let seen = verifier.seen.lock().unwrap().ocsp.clone();
        seen
    };
    assert_eq!(stapled().await, b"first response");
    std::fs::write(dir.join("www.pem.ocsp"), b"second response").unwrap();
    store.reload_ocsp(&pem.display().to_string()).unwrap();
    assert_eq!(stapled().await, b"second response");
    store.set_ocsp(&pem.display().to_string(), None).unwrap();
    assert_eq!(stapled().await, b"");
    std::fs::remove_dir_all(dir).unwrap();
}

//! Client certificates: verify none/optional/required, expired and wrong-CA certificates,
//! CRLs, and the `ssl_c_*` facts.

use std::sync::Arc;

use lb_tcp::proxy_protocol::SslClient;
use lb_tls::{CertStore, TlsAcceptor, TlsError, TlsInfo, Verify};

use crate::support::*;

struct Setup {
    ca: Ca,
    client_ca: Ca,
    store: Arc<CertStore>,
}

fn setup() -> Setup {
    let ca = Ca::new("Server CA");
    let client_ca = Ca::new("Client CA");
    let store = Arc::new(CertStore::new());
    store
        .add("www", ca.server(&["www.test"], &ECDSA).cert())
        .unwrap();
    Setup {
        ca,
        client_ca,
        store,
    }
}

fn acceptor(s: &Setup, verify: Verify) -> TlsAcceptor {
    TlsAcceptor::builder(Arc::clone(&s.store))
        .verify(verify)
        .client_cas(vec![s.client_ca.der()])
        .build()
        .unwrap()
}

/// Handshake with an optional client certificate; the server's result.
async fn with_cert(
    s: &Setup,
    acceptor: &TlsAcceptor,
    cert: Option<&Leaf>,
) -> Result<TlsInfo, TlsError> {
    let (c, srv) = handshake(acceptor, client_config(&s.ca, cert, &[]), Some("www.test")).await;
    match srv {
        Ok(stream) => {
            let mut pair = (c.expect("client ok when server ok"), stream);
            exchange(&mut pair, b"ping").await;
            Ok(TlsInfo::of(&pair.1))
        }
        Err(e) => Err(e),
    }
}

#[tokio::test]
async fn required() {
    let s = setup();
    let acc = acceptor(&s, Verify::Required);
    let good = s.client_ca.client("alice", false);
    let info = with_cert(&s, &acc, Some(&good)).await.unwrap();
    assert!(info.client_cert_used());
    assert_eq!(info.verify_result(), 0);
    let cert = info.client_cert().unwrap();
    // In certificate order (rcgen writes the CN first).
    assert_eq!(cert.subject_dn(), "/CN=alice/C=FR/O=Clients/OU=QA");
    assert_eq!(cert.subject_dn_rfc2253(), "OU=QA,O=Clients,C=FR,CN=alice");
    assert_eq!(cert.issuer_dn(), "/CN=Client CA/C=FR/O=Test CA Org");
    assert_eq!(cert.common_name(), Some("alice"));
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &good.der);
    assert_eq!(cert.sha1(), sha1.as_ref());
    assert_eq!(cert.sha1_hex().len(), 40);
    assert!(cert
        .sha1_hex()
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));

    let ssl = info.to_proxy_ssl(true);
    assert!(ssl
        .client
        .contains(SslClient::SSL | SslClient::CERT_CONN | SslClient::CERT_SESS));
    assert!(ssl.client_cert_verified());
    assert_eq!(ssl.cn.as_deref(), Some("alice"));
    assert_eq!(ssl.client_cert.as_deref(), Some(good.der.as_ref()));
    assert_eq!(ssl.version.as_deref(), Some("TLSv1.3"));

    let err = with_cert(&s, &acc, None).await.unwrap_err();
    assert!(
        err.to_string().contains("peer sent no certificates"),
        "{err}"
    );

    let expired = s.client_ca.client("old", true);
    let err = with_cert(&s, &acc, Some(&expired)).await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");

    let stranger = s.ca.client("mallory", false);
    let err = with_cert(&s, &acc, Some(&stranger)).await.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn optional() {
    let s = setup();
    let acc = acceptor(&s, Verify::Optional);
    let info = with_cert(&s, &acc, None).await.unwrap();
    assert!(!info.client_cert_used(), "no certificate is fine");
    assert_eq!(info.to_proxy_ssl(false).client, SslClient::SSL);
    let good = s.client_ca.client("bob", false);
    let info = with_cert(&s, &acc, Some(&good)).await.unwrap();
    assert!(info.client_cert_used());
    assert_eq!(info.client_cert().unwrap().common_name(), Some("bob"));
    // A presented certificate must still be valid.
    let expired = s.client_ca.client("old", true);
    assert!(with_cert(&s, &acc, Some(&expired)).await.is_err());
    let stranger = s.ca.client("mallory", false);
    assert!(with_cert(&s, &acc, Some(&stranger)).await.is_err());
}

#[tokio::test]
async fn none() {
    let s = setup();
    let acc = acceptor(&s, Verify::None);
    // No certificate is asked for, so none is sent even by a client that has one.
    let stranger = s.ca.client("mallory", true);
    let info = with_cert(&s, &acc, Some(&stranger)).await.unwrap();
    assert!(!info.client_cert_used());
    assert!(with_cert(&s, &acc, None).await.is_ok());
}

#[tokio::test]
async fn crl_revokes() {
    let s = setup();
    let revoked = s.client_ca.client("revoked", false);
    let good = s.client_ca.client("good", false);
    let dir = temp_dir("crl");
    let crl = dir.join("crl.pem");
    std::fs::write(&crl, s.client_ca.crl_pem(&[revoked.serial])).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, s.client_ca.pem()).unwrap();
    let acc = TlsAcceptor::builder(Arc::clone(&s.store))
        .verify(Verify::Required)
        .ca_file(&ca_file)
        .unwrap()
        .crl_file(&crl)
        .unwrap()
        .build()
        .unwrap();
    assert!(with_cert(&s, &acc, Some(&good)).await.is_ok());
    let err = with_cert(&s, &acc, Some(&revoked)).await.unwrap_err();
    assert!(err.to_string().contains("Revoked"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn verify_needs_a_ca() {
    let store = Arc::new(CertStore::new());
    let err = TlsAcceptor::builder(store)
        .verify(Verify::Required)
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "verify: verify required needs a ca-file");
    assert!("sometimes".parse::<Verify>().is_err());
}

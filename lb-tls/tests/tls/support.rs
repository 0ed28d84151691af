//! Test certificates (rcgen), client configurations and handshakes over in-memory streams.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lb_tcp::mem::MemStream;
use lb_tcp::net::Stream;
use lb_tls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use lb_tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use lb_tls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use lb_tls::tokio_rustls::{client, server, TlsConnector};
use lb_tls::{Cert, TlsAcceptor, TlsError};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};

pub(crate) use rcgen::{PKCS_ECDSA_P256_SHA256 as ECDSA, PKCS_RSA_SHA256 as RSA};

static SERIAL: AtomicU64 = AtomicU64::new(1000);

/// A test CA.
pub(crate) struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate with its key, as PEM.
pub(crate) struct Leaf {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) der: CertificateDer<'static>,
    pub(crate) serial: u64,
}

impl Leaf {
    pub(crate) fn cert(&self) -> Cert {
        Cert::from_pem_parts(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).unwrap()
    }

    pub(crate) fn pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }
}

impl Ca {
    pub(crate) fn new(cn: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CountryName, "FR");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Test CA Org");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    pub(crate) fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    pub(crate) fn pem(&self) -> String {
        self.issuer.pem()
    }

    pub(crate) fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.der()).unwrap();
        roots
    }

    fn sign(&self, mut params: CertificateParams, alg: &'static rcgen::SignatureAlgorithm) -> Leaf {
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate_for(alg).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            serial,
        }
    }

    /// A server certificate for `names`.
    pub(crate) fn server(&self, names: &[&str], alg: &'static rcgen::SignatureAlgorithm) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params, alg)
    }

    /// A client certificate; `expired` puts its validity in the past.
    pub(crate) fn client(&self, cn: &str, expired: bool) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CountryName, "FR");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Clients");
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, "QA");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        self.sign(params, &ECDSA)
    }

    /// A CRL revoking `serials`, PEM.
    pub(crate) fn crl_pem(&self, serials: &[u64]) -> String {
        let params = rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(1),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|&s| rcgen::RevokedCertParams {
                    serial_number: SerialNumber::from(s),
                    revocation_time: rcgen::date_time_ymd(2024, 1, 1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer).unwrap().pem().unwrap()
    }
}

/// A client configuration trusting `ca`, with optional client certificate and ALPN.
pub(crate) fn client_config(ca: &Ca, client_cert: Option<&Leaf>, alpn: &[&str]) -> ClientConfig {
    let builder = ClientConfig::builder().with_root_certificates(ca.roots());
    let mut config = match client_cert {
        Some(leaf) => {
            let chain = vec![leaf.der.clone()];
            let key = PrivateKeyDer::try_from(pem_key_der(&leaf.key_pem)).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config
}

fn pem_key_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .secret_der()
        .to_vec()
}

/// What the client saw of the server.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) ocsp: Vec<u8>,
}

/// A verifier that accepts anything, offers only `schemes`, and records the OCSP response.
#[derive(Debug)]
pub(crate) struct Recording {
    pub(crate) schemes: Vec<SignatureScheme>,
    pub(crate) seen: Mutex<Seen>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl Recording {
    pub(crate) fn new(schemes: Vec<SignatureScheme>) -> Arc<Self> {
        Arc::new(Self {
            schemes,
            seen: Mutex::default(),
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        })
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        ocsp: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.seen.lock().unwrap().ocsp = ocsp.to_vec();
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// A client configuration with the [`Recording`] verifier.
pub(crate) fn recording_config(verifier: Arc<Recording>) -> ClientConfig {
    ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// Both ends of a handshake.
pub(crate) type Pair = (client::TlsStream<MemStream>, server::TlsStream<Stream>);

/// Runs a handshake between a rustls client with `config` (SNI `sni`, or none) and
/// `acceptor`, over an in-memory pipe. Both results are returned.
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    config: ClientConfig,
    sni: Option<&str>,
) -> (
    std::io::Result<client::TlsStream<MemStream>>,
    Result<server::TlsStream<Stream>, TlsError>,
) {
    handshake_arc(acceptor, Arc::new(config), sni).await
}

/// As [`handshake`], with a shared client configuration (for resumption).
pub(crate) async fn handshake_arc(
    acceptor: &TlsAcceptor,
    config: Arc<ClientConfig>,
    sni: Option<&str>,
) -> (
    std::io::Result<client::TlsStream<MemStream>>,
    Result<server::TlsStream<Stream>, TlsError>,
) {
    let (c, s) = MemStream::pair(64 * 1024);
    let name = match sni {
        Some(n) => ServerName::try_from(n.to_owned()).unwrap(),
        None => ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
    };
    let connector = TlsConnector::from(config);
    let client = async {
        let r = connector.connect(name, c).await;
        if r.is_err() {
            // Let the server see the alert.
            tokio::task::yield_now().await;
        }
        r
    };
    tokio::join!(client, acceptor.accept(Stream::from(s)))
}

/// Runs a handshake that must succeed.
pub(crate) async fn connect_ok(
    acceptor: &TlsAcceptor,
    config: Arc<ClientConfig>,
    sni: Option<&str>,
) -> Pair {
    let (c, s) = handshake_arc(acceptor, config, sni).await;
    (c.expect("client handshake"), s.expect("server handshake"))
}

/// Sends `msg` from the server and reads it on the client (which also processes the
/// session tickets that follow the handshake), then `msg` back.
pub(crate) async fn exchange(pair: &mut Pair, msg: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (c, s) = pair;
    s.write_all(msg).await.unwrap();
    s.flush().await.unwrap();
    let mut buf = vec![0; msg.len()];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(buf, msg);
    c.write_all(msg).await.unwrap();
    c.flush().await.unwrap();
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(buf, msg);
}

/// The leaf certificate the client received.
pub(crate) fn served_leaf(pair: &Pair) -> CertificateDer<'static> {
    pair.0.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// A fresh directory under the system temp dir.
pub(crate) fn temp_dir(tag: &str) -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "lb-tls-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

//! [`Cert`]: a validated certificate chain with its private key, and loading from PEM.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, SignatureAlgorithm};

use crate::error::TlsError;
use crate::x509::CertInfo;

/// A certificate chain and its private key, validated: the chain parses, the key loads and
/// matches the leaf certificate. Cheap to clone.
///
/// The names it serves (when no SNI filter says otherwise) are the leaf's subjectAltName DNS
/// entries, or its subject CN when it has no SAN DNS entry, lowercased.
///
/// # Examples
/// ```
/// use lb_tls::Cert;
///
/// let key = rcgen::KeyPair::generate()?;
/// let leaf = rcgen::CertificateParams::new(vec!["www.example.com".into()])?.self_signed(&key)?;
/// let pem = format!("{}{}", leaf.pem(), key.serialize_pem());
/// let cert = Cert::from_pem(pem.as_bytes())?;
/// assert_eq!(cert.names(), ["www.example.com"]);
///
/// // A key that belongs to another certificate is refused.
/// let other = rcgen::KeyPair::generate()?;
/// let err = Cert::from_pem_parts(leaf.pem().as_bytes(), other.serialize_pem().as_bytes());
/// assert!(err.unwrap_err().to_string().contains("does not match"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Cert {
    key: Arc<CertifiedKey>,
    names: Arc<[String]>,
    subject: Arc<str>,
    not_after: Arc<str>,
    algorithm: SignatureAlgorithm,
    origin: Arc<str>,
    path: Option<Arc<Path>>,
}

impl fmt::Debug for Cert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cert")
            .field("origin", &self.origin)
            .field("subject", &self.subject)
            .field("names", &self.names)
            .field("algorithm", &self.algorithm)
            .field("chain_len", &self.key.cert.len())
            .field("not_after", &self.not_after)
            .field("ocsp", &self.key.ocsp.as_ref().map(Vec::len))
            .finish()
    }
}

impl Cert {
    /// A certificate from DER: the chain (leaf first) and the private key.
    ///
    /// # Errors
    /// [`TlsError::NoCertificate`] for an empty chain, [`TlsError::BadCertificate`] when a
    /// certificate does not parse, [`TlsError::BadKey`] for an unusable key,
    /// [`TlsError::KeyMismatch`] when the key is not the leaf's.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        Self::build(chain, key, "<memory>", None)
    }

    /// A certificate from one PEM document holding the chain (leaf first) and the private
    /// key, in any order: the content of an HAProxy `crt` file.
    ///
    /// # Errors
    /// As [`Cert::from_der`], plus [`TlsError::Pem`] for malformed PEM and
    /// [`TlsError::NoPrivateKey`] when the PEM holds no key.
    pub fn from_pem(pem: &[u8]) -> Result<Self, TlsError> {
        Self::from_pem_parts(pem, pem)
    }

    /// A certificate from a PEM chain and a PEM private key held apart.
    ///
    /// # Errors
    /// As [`Cert::from_pem`].
    pub fn from_pem_parts(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let origin = "<memory>";
        let chain = parse_chain(chain_pem, origin)?;
        let key = parse_key(key_pem, origin)?.ok_or_else(|| TlsError::NoPrivateKey {
            origin: origin.into(),
        })?;
        Self::build(chain, key, origin, None)
    }

    /// Loads an HAProxy `crt` file: a PEM with the chain and, usually, the key. When the
    /// PEM has no key, the key is read from `<file>.key`, or from the file name with its
    /// extension replaced by `.key` (`site.pem` -> `site.key`). An OCSP response (DER) in
    /// `<file>.ocsp` (or `site.ocsp`) is stapled.
    ///
    /// This reads files: call it from a blocking context (configuration load, reload,
    /// `spawn_blocking`).
    ///
    /// # Errors
    /// [`TlsError::Read`] when a file cannot be read, and the errors of
    /// [`Cert::from_pem`], naming the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let pem = read(path)?;
        let chain = parse_chain(&pem, &origin)?;
        let key = match parse_key(&pem, &origin)? {
            Some(key) => key,
            None => {
                let key_path = beside(path, "key")
                    .into_iter()
                    .find(|p| p.is_file())
                    .ok_or_else(|| TlsError::NoPrivateKey {
                        origin: origin.clone(),
                    })?;
                let key_origin = key_path.display().to_string();
                parse_key(&read(&key_path)?, &key_origin)?
                    .ok_or(TlsError::NoPrivateKey { origin: key_origin })?
            }
        };
        let mut cert = Self::build(chain, key, &origin, Some(path))?;
        if let Some(ocsp_path) = beside(path, "ocsp").into_iter().find(|p| p.is_file()) {
            cert = cert.with_ocsp(Some(read(&ocsp_path)?));
        }
        Ok(cert)
    }

    fn build(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        origin: &str,
        path: Option<&Path>,
    ) -> Result<Self, TlsError> {
        let Some(leaf) = chain.first() else {
            return Err(TlsError::NoCertificate {
                origin: origin.into(),
            });
        };
        let info = CertInfo::parse(leaf).map_err(|reason| TlsError::BadCertificate {
            origin: origin.into(),
            index: 0,
            reason,
        })?;
        for (index, der) in chain.iter().enumerate().skip(1) {
            CertInfo::parse(der).map_err(|reason| TlsError::BadCertificate {
                origin: origin.into(),
                index,
                reason,
            })?;
        }
        let signing_key = provider()
            .key_provider
            .load_private_key(key)
            .map_err(|source| TlsError::BadKey {
                origin: origin.into(),
                source,
            })?;
        let algorithm = signing_key.algorithm();
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
                return Err(TlsError::KeyMismatch {
                    origin: origin.into(),
                })
            }
            Err(source) => {
                return Err(TlsError::BadKey {
                    origin: origin.into(),
                    source,
                })
            }
        }
        let mut names: Vec<String> = if info.dns_names.is_empty() {
            info.subject
                .common_name()
                .map(|cn| vec![cn.to_ascii_lowercase()])
                .unwrap_or_default()
        } else {
            info.dns_names
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect()
        };
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        Ok(Self {
            key: Arc::new(certified),
            names: names.into(),
            subject: info.subject.oneline().into(),
            not_after: info.not_after.into(),
            algorithm,
            origin: origin.into(),
            path: path.map(Into::into),
        })
    }

    /// This certificate with `ocsp` (a DER OCSP response) stapled, or with none.
    #[must_use]
    pub fn with_ocsp(self, ocsp: Option<Vec<u8>>) -> Self {
        let mut key = CertifiedKey::clone(&self.key);
        key.ocsp = ocsp;
        Self {
            key: Arc::new(key),
            ..self
        }
    }

    /// The DNS names from the leaf certificate (SAN, else CN), lowercased; wildcards as
    /// written (`*.example.com`).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The leaf's subject, in OpenSSL's one-line form (`/CN=www.example.com`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The leaf's validity end, as written in the certificate (`YYMMDDHHMMSSZ`).
    pub fn not_after(&self) -> &str {
        &self.not_after
    }

    /// The key's algorithm (RSA, ECDSA, Ed25519).
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The stapled OCSP response, if any.
    pub fn ocsp(&self) -> Option<&[u8]> {
        self.key.ocsp.as_deref()
    }

    /// Where it was loaded from: the file path, or `<memory>`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The file it was loaded from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.key.cert
    }

    /// What rustls serves.
    pub fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.key
    }
}

/// The crypto provider of this crate (aws-lc-rs).
pub(crate) fn provider() -> &'static Arc<CryptoProvider> {
    static PROVIDER: std::sync::OnceLock<Arc<CryptoProvider>> = std::sync::OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// Reads a whole file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The candidate paths of an extra file beside `path`: `path.ext`, then `path` with its
/// extension replaced by `ext` (HAProxy `ssl-load-extra-del-ext`).
fn beside(path: &Path, ext: &str) -> Vec<PathBuf> {
    let mut appended = path.as_os_str().to_owned();
    appended.push(".");
    appended.push(ext);
    let mut out = vec![PathBuf::from(appended)];
    if path.extension().is_some() {
        out.push(path.with_extension(ext));
    }
    out
}

/// Describes a PEM error.
fn pem_error(origin: &str, e: pem::Error) -> TlsError {
    TlsError::Pem {
        origin: origin.into(),
        reason: e.to_string(),
    }
}

/// Every certificate in a PEM document, in order.
pub(crate) fn parse_chain(
    pem: &[u8],
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(origin, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            origin: origin.into(),
        });
    }
    Ok(chain)
}

/// The first private key (PKCS#8, PKCS#1 RSA or SEC1 EC) in a PEM document, if any.
fn parse_key(pem: &[u8], origin: &str) -> Result<Option<PrivateKeyDer<'static>>, TlsError> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(key) => Ok(Some(key)),
        Err(pem::Error::NoItemsFound) => Ok(None),
        Err(e) => Err(pem_error(origin, e)),
    }
}

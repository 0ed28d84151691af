//! Client certificate authentication (`bind ... ca-file ... verify ... crl-file ...`) and
//! the CA/CRL loading that server verification shares.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use crate::cert_store::{parse_chain, provider, read};
use crate::error::TlsError;

/// HAProxy's `verify` setting.
///
/// # Examples
/// ```
/// use lb_tls::Verify;
/// assert_eq!("optional".parse::<Verify>()?, Verify::Optional);
/// assert_eq!(Verify::default(), Verify::None);
/// # Ok::<(), lb_tls::TlsError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Verify {
    /// No certificate is asked for (server side), or the server's is not checked (client
    /// side; insecure, see [`TlsConnectBuilder::verify`](crate::TlsConnectBuilder::verify)).
    #[default]
    None,
    /// A certificate is asked for; without one the handshake still succeeds, with one it
    /// must verify. [`TlsInfo::client_cert_used`](crate::TlsInfo::client_cert_used) says
    /// which happened.
    Optional,
    /// A valid certificate is required.
    Required,
}

impl Verify {
    /// HAProxy's word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }
}

impl fmt::Display for Verify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verify {
    type Err = TlsError;

    fn from_str(s: &str) -> Result<Self, TlsError> {
        match s {
            "none" => Ok(Self::None),
            "optional" => Ok(Self::Optional),
            "required" => Ok(Self::Required),
            _ => Err(TlsError::Config {
                option: "verify",
                reason: format!("{s:?}: expected none, optional or required"),
            }),
        }
    }
}

/// Client certificate settings of a TLS listener.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientAuth {
    pub(crate) verify: Verify,
    pub(crate) cas: Vec<CertificateDer<'static>>,
    pub(crate) crls: Vec<CertificateRevocationListDer<'static>>,
}

impl ClientAuth {
    /// The rustls verifier.
    pub(crate) fn verifier(&self) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
        if self.verify == Verify::None {
            return Ok(WebPkiClientVerifier::no_client_auth());
        }
        if self.cas.is_empty() {
            return Err(TlsError::Config {
                option: "verify",
                reason: format!("verify {} needs a ca-file", self.verify),
            });
        }
        let roots = roots(&self.cas, "ca-file")?;
        let mut builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider()))
                .with_crls(self.crls.iter().cloned());
        if self.verify == Verify::Optional {
            builder = builder.allow_unauthenticated();
        }
        builder.build().map_err(|e| TlsError::Config {
            option: "ca-file",
            reason: e.to_string(),
        })
    }
}

/// A root store from CA certificates.
pub(crate) fn roots(
    cas: &[CertificateDer<'static>],
    option: &'static str,
) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for (i, ca) in cas.iter().enumerate() {
        roots.add(ca.clone()).map_err(|e| TlsError::Config {
            option,
            reason: format!("CA certificate #{i}: {e}"),
        })?;
    }
    Ok(roots)
}

/// Reads a `ca-file`: one or more PEM certificates.
///
/// # Errors
/// [`TlsError::Read`], [`TlsError::Pem`], [`TlsError::NoCertificate`].
pub fn load_ca_file(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let path = path.as_ref();
    parse_chain(&read(path)?, &path.display().to_string())
}

/// Reads a `crl-file`: PEM (one or more `X509 CRL` sections) or a single DER CRL.
///
/// # Errors
/// [`TlsError::Read`], [`TlsError::BadCrl`].
pub fn load_crl_file(
    path: impl AsRef<Path>,
) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let path = path.as_ref();
    let raw = read(path)?;
    let bad = |reason: String| TlsError::BadCrl {
        origin: path.display().to_string(),
        reason,
    };
    let crls = CertificateRevocationListDer::pem_slice_iter(&raw)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if !crls.is_empty() {
        return Ok(crls);
    }
    if raw.first() == Some(&0x30) {
        return Ok(vec![CertificateRevocationListDer::from(raw)]);
    }
    Err(bad(
        "no CRL found (expected PEM 'X509 CRL' sections or DER)".into(),
    ))
}

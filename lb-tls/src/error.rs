//! The crate's error type, [`TlsError`].

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong in this crate: loading certificates and keys, building
/// configurations, updating the certificate store, and handshakes.
///
/// Loading errors name their origin (a file path, or the id given to an in-memory
/// certificate) so a configuration error points at the file to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("{path}: {source}", path = path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A PEM document is malformed (unterminated section, bad base64, ...).
    #[error("{origin}: bad PEM: {reason}")]
    Pem {
        /// Where the PEM came from.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No certificate was found where one was expected.
    #[error("{origin}: no certificate found")]
    NoCertificate {
        /// Where the certificate was looked for.
        origin: String,
    },
    /// No private key was found, neither in the PEM nor in a `.key` file beside it.
    #[error("{origin}: no private key found (in the PEM or a .key file beside it)")]
    NoPrivateKey {
        /// Where the key was looked for.
        origin: String,
    },
    /// The private key cannot be used (unsupported algorithm or malformed).
    #[error("{origin}: unusable private key: {source}")]
    BadKey {
        /// Where the key came from.
        origin: String,
        /// The reason given by rustls.
        #[source]
        source: rustls::Error,
    },
    /// The private key does not belong to the certificate.
    #[error("{origin}: the private key does not match the certificate")]
    KeyMismatch {
        /// Where the certificate and key came from.
        origin: String,
    },
    /// A certificate of the chain does not parse.
    #[error("{origin}: bad certificate #{index} in the chain: {reason}")]
    BadCertificate {
        /// Where the chain came from.
        origin: String,
        /// Position in the chain (0 is the leaf).
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A CRL could not be used.
    #[error("{origin}: bad CRL: {reason}")]
    BadCrl {
        /// Where the CRL came from.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `crt-list` line is malformed.
    #[error("{origin}:{line}: {reason}")]
    CrtList {
        /// The crt-list file.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// A TLS ticket key is malformed.
    #[error("{origin}:{line}: bad TLS ticket key: {reason}")]
    TicketKey {
        /// The key file, or `api` for a key given to [`TicketKeys::rotate`](crate::TicketKeys::rotate).
        origin: String,
        /// 1-based line number (1 for a key given through the API).
        line: usize,
        /// What is wrong with the key.
        reason: &'static str,
    },
    /// No certificate with this id is in the store.
    #[error("no certificate {id:?} in the store")]
    UnknownCert {
        /// The id.
        id: String,
    },
    /// A certificate with this id is already in the store.
    #[error("certificate {id:?} is already in the store")]
    DuplicateCert {
        /// The id.
        id: String,
    },
    /// A staged update (`set ssl cert`) is pending for another certificate: commit or abort
    /// it first.
    #[error("a transaction is already in progress for {pending:?}")]
    TransactionInProgress {
        /// The certificate with a staged update.
        pending: String,
    },
    /// `commit`/`abort` with no staged update for this certificate.
    #[error("no transaction in progress for {id:?}")]
    NoTransaction {
        /// The id given.
        id: String,
    },
    /// A configuration option has a bad value.
    #[error("{option}: {reason}")]
    Config {
        /// The HAProxy keyword (`ssl-min-ver`, `ciphers`, `alpn`, ...).
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[source] rustls::Error),
    /// The handshake did not finish in time.
    #[error("TLS handshake timed out after {0:?}")]
    HandshakeTimeout(Duration),
    /// The handshake failed: the reason comes from rustls (a bad certificate, no common
    /// cipher suite, an alert from the peer, ...).
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] rustls::Error),
    /// The transport failed during the handshake (connection reset, closed early, ...).
    #[error("TLS handshake failed: {0}")]
    Io(#[source] io::Error),
}

impl TlsError {
    /// Whether this is a handshake failure (timeout, TLS error or transport error), as
    /// opposed to a configuration or loading error.
    pub fn is_handshake(&self) -> bool {
        matches!(
            self,
            Self::HandshakeTimeout(_) | Self::Handshake(_) | Self::Io(_)
        )
    }

    /// The rustls error behind a failed handshake, if that is what this is.
    pub fn tls_error(&self) -> Option<&rustls::Error> {
        match self {
            Self::Handshake(e) | Self::Rustls(e) | Self::BadKey { source: e, .. } => Some(e),
            _ => None,
        }
    }

    /// Classifies an I/O error from tokio-rustls: a TLS failure carries a
    /// [`rustls::Error`] inside the `io::Error`.
    pub(crate) fn from_handshake_io(e: io::Error) -> Self {
        if !e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
            return Self::Io(e);
        }
        let kind = e.kind();
        match e
            .into_inner()
            .map(|inner| inner.downcast::<rustls::Error>())
        {
            Some(Ok(tls)) => Self::Handshake(*tls),
            Some(Err(other)) => Self::Io(io::Error::new(kind, other)),
            None => Self::Io(kind.into()),
        }
    }
}

impl From<TlsError> for io::Error {
    fn from(e: TlsError) -> Self {
        let kind = match &e {
            TlsError::HandshakeTimeout(_) => io::ErrorKind::TimedOut,
            TlsError::Io(inner) => inner.kind(),
            TlsError::Read { source, .. } => source.kind(),
            TlsError::UnknownCert { .. } => io::ErrorKind::NotFound,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

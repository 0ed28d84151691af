//! Errors of lb-core: one enum for the control API and small leaf errors for the tower
//! services, which travel as [`BoxError`](crate::BoxError) and are downcast at the edge.

use std::fmt;
use std::sync::Arc;

/// Errors of the control API (building backends, runtime changes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An address could not be parsed.
    #[error("invalid address '{0}': expected ip:port, [ipv6]:port, unix@/path or mem@name")]
    InvalidAddress(String),
    /// A weight above 256.
    #[error("invalid weight {0}: must be between 0 and 256")]
    InvalidWeight(u32),
    /// No server of that name in the backend.
    #[error("backend '{backend}' has no server '{server}'")]
    UnknownServer {
        /// The backend.
        backend: Arc<str>,
        /// The server name looked up.
        server: String,
    },
    /// Two servers with one name.
    #[error("backend '{backend}' already has a server named '{server}'")]
    DuplicateServer {
        /// The backend.
        backend: Arc<str>,
        /// The duplicated name.
        server: String,
    },
    /// Two servers with one id.
    #[error("backend '{backend}' already has a server with id {id}")]
    DuplicateId {
        /// The backend.
        backend: Arc<str>,
        /// The duplicated id.
        id: u32,
    },
    /// Static algorithms accept only 0% or 100% of the initial weight at runtime.
    #[error("backend '{backend}' uses a static algorithm ({algorithm}): weight of '{server}' can only be set to 0 or its initial weight {initial}")]
    StaticWeight {
        /// The backend.
        backend: Arc<str>,
        /// The server.
        server: String,
        /// The algorithm's name.
        algorithm: &'static str,
        /// The server's initial weight.
        initial: u32,
    },
    /// Removal needs the server in maintenance with nothing in flight.
    #[error("server '{backend}/{server}' cannot be removed: {reason}")]
    NotRemovable {
        /// The backend.
        backend: Arc<str>,
        /// The server.
        server: String,
        /// Why not.
        reason: &'static str,
    },
    /// Invalid configuration of an algorithm.
    #[error("invalid balancing configuration: {0}")]
    InvalidConfig(String),
}

/// No server can take the request: all are down, in maintenance, draining or weight 0
/// (HTTP maps it to 503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoServerAvailable {
    backend: Arc<str>,
}

impl NoServerAvailable {
    pub(crate) fn new(backend: Arc<str>) -> Self {
        NoServerAvailable { backend }
    }

    /// The backend that had no usable server.
    pub fn backend(&self) -> &str {
        &self.backend
    }
}

impl fmt::Display for NoServerAvailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no server available in backend '{}'", self.backend)
    }
}

impl std::error::Error for NoServerAvailable {}

/// Every server is at maxconn and the backend queue is full (HTTP: 503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFull {
    backend: Arc<str>,
    limit: usize,
}

impl QueueFull {
    pub(crate) fn new(backend: Arc<str>, limit: usize) -> Self {
        QueueFull { backend, limit }
    }

    /// The backend whose queue was full.
    pub fn backend(&self) -> &str {
        &self.backend
    }
}

impl fmt::Display for QueueFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "queue of backend '{}' is full ({} waiting)",
            self.backend, self.limit
        )
    }
}

impl std::error::Error for QueueFull {}

/// A request waited in the queue longer than `timeout queue` (HTTP: 503, log "sQ").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTimeout {
    backend: Arc<str>,
}

impl QueueTimeout {
    pub(crate) fn new(backend: Arc<str>) -> Self {
        QueueTimeout { backend }
    }

    /// The backend whose queue timed out.
    pub fn backend(&self) -> &str {
        &self.backend
    }
}

impl fmt::Display for QueueTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "queue timeout in backend '{}'", self.backend)
    }
}

impl std::error::Error for QueueTimeout {}

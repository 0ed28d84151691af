//! Errors of lb-health: configuration problems found before any check runs.

use std::sync::Arc;

/// A check configuration that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A keyword this build does not implement (TLS checks, log-format strings).
    #[error("'{keyword}' is not supported: {why}")]
    Unsupported {
        /// The keyword, as in HAProxy's configuration.
        keyword: &'static str,
        /// Why, and what to use instead.
        why: &'static str,
    },
    /// A value out of range or malformed.
    #[error("invalid value '{value}' for '{keyword}': {why}")]
    InvalidValue {
        /// The keyword.
        keyword: &'static str,
        /// The value given.
        value: String,
        /// What is expected.
        why: &'static str,
    },
    /// A regular expression (`rstatus`, `rstring`) that does not compile.
    #[error("invalid regex '{pattern}' for '{keyword}': {error}")]
    InvalidRegex {
        /// The keyword.
        keyword: &'static str,
        /// The pattern as written.
        pattern: String,
        /// The regex engine's reason, on one line.
        error: String,
    },
    /// A keyword needs an argument that is missing.
    #[error("'{keyword}' expects {expected}")]
    MissingArgument {
        /// The keyword.
        keyword: &'static str,
        /// What it expects.
        expected: &'static str,
    },
    /// A word that is not a keyword of this directive.
    #[error("unknown keyword '{word}' in '{directive}'")]
    UnknownKeyword {
        /// The directive (`http-check expect`, `tcp-check`, ...).
        directive: &'static str,
        /// The word.
        word: String,
    },
    /// The server is not in the backend.
    #[error("backend '{backend}' has no server '{server}'")]
    UnknownServer {
        /// The backend.
        backend: Arc<str>,
        /// The server.
        server: String,
    },
    /// Checks for this server already run in this handle.
    #[error("server '{backend}/{server}' is already checked")]
    AlreadyChecked {
        /// The backend.
        backend: Arc<str>,
        /// The server.
        server: String,
    },
    /// A server cannot track itself.
    #[error("server '{backend}/{server}' cannot track itself")]
    TrackSelf {
        /// The backend.
        backend: Arc<str>,
        /// The server.
        server: String,
    },
    /// Checks spawn tasks: they must start inside a tokio runtime.
    #[error("health checks must be started from within a tokio runtime")]
    NoRuntime,
}

//! Errors of bind specifications ([`BindSpecError`]) and of binding ([`BindError`]).

use std::io;

use lb_core::Address;

/// A bind specification that does not parse; the message names the token and what was
/// expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindSpecError {
    /// Nothing to bind.
    #[error(
        "empty bind specification: expected an address such as `127.0.0.1:8080`, `[::1]:80`, \
         `:8000-8010`, `unix@/path` or `mem@name`"
    )]
    Empty,
    /// An address that is not understood.
    #[error("invalid bind address `{addr}`: {reason}")]
    InvalidAddress {
        /// The address token.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A port that is not a number in 0..=65535.
    #[error("invalid port `{port}` in `{addr}`: expected 0-65535 or a range such as 8000-8010")]
    InvalidPort {
        /// The address token.
        addr: String,
        /// The port text.
        port: String,
    },
    /// A port range that is empty or reversed, or includes port 0.
    #[error("invalid port range `{range}` in `{addr}`: {reason}")]
    InvalidPortRange {
        /// The address token.
        addr: String,
        /// The range text.
        range: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An option keyword that is not known.
    #[error(
        "unknown bind option `{0}` (known: backlog, reuseport, nodelay, keepalive, \
         keepalive-idle, keepalive-intvl, keepalive-cnt, transparent, freebind, v6only, v4v6, \
         mode, uid, gid, namespace; `no-` negates a flag)"
    )]
    UnknownOption(String),
    /// An option that needs a value came last.
    #[error("bind option `{option}` needs a value")]
    MissingValue {
        /// The option.
        option: &'static str,
    },
    /// An option value that does not parse.
    #[error("invalid value `{value}` for bind option `{option}`: expected {expected}")]
    InvalidValue {
        /// The option.
        option: &'static str,
        /// The value text.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// A failure to bind one address of a [`BindSpec`](super::BindSpec).
///
/// Converts into an `io::Error` of the same kind.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind {addr}: {source}")]
pub struct BindError {
    addr: Address,
    #[source]
    source: io::Error,
}

impl BindError {
    pub(crate) fn new(addr: Address, source: io::Error) -> Self {
        Self { addr, source }
    }

    /// The address that could not be bound.
    pub fn addr(&self) -> &Address {
        &self.addr
    }

    /// The kind of the underlying I/O error (`AddrInUse`, `PermissionDenied`, ...).
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    /// The underlying I/O error.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }
}

impl From<BindError> for io::Error {
    fn from(e: BindError) -> Self {
        io::Error::new(e.kind(), e)
    }
}

//! Server events: every state, weight or membership change, with its reason.

use std::fmt;
use std::sync::Arc;

use crate::server::{AdminState, OpState, Weight};

/// What changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The server joined the backend.
    Added,
    /// The server left the backend.
    Removed,
    /// Administrative state changed.
    Admin {
        /// Before.
        from: AdminState,
        /// After.
        to: AdminState,
    },
    /// Operational state changed.
    Op {
        /// Before.
        from: OpState,
        /// After.
        to: OpState,
    },
    /// Weight changed.
    Weight {
        /// Before.
        from: Weight,
        /// After.
        to: Weight,
    },
    /// maxconn changed.
    MaxConn {
        /// Before.
        from: u32,
        /// After.
        to: u32,
    },
    /// Address changed.
    Address {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
}

/// One change of one server, broadcast to subscribers and logged through tracing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEvent {
    /// The backend.
    pub backend: Arc<str>,
    /// The server.
    pub server: Arc<str>,
    /// What changed.
    pub kind: EventKind,
    /// Why, in words (for example "Layer4 connection problem" or "set by runtime API").
    pub reason: Arc<str>,
}

impl fmt::Display for ServerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Server {}/{} ", self.backend, self.server)?;
        match &self.kind {
            EventKind::Added => write!(f, "added")?,
            EventKind::Removed => write!(f, "removed")?,
            EventKind::Admin { from, to } => write!(f, "admin state {from} -> {to}")?,
            EventKind::Op { from, to } => write!(f, "is {to} (was {from})")?,
            EventKind::Weight { from, to } => write!(f, "weight {} -> {}", from.get(), to.get())?,
            EventKind::MaxConn { from, to } => write!(f, "maxconn {from} -> {to}")?,
            EventKind::Address { from, to } => write!(f, "address {from} -> {to}")?,
        }
        if !self.reason.is_empty() {
            write!(f, ", reason: {}", self.reason)?;
        }
        Ok(())
    }
}

//! The inspection error.

/// Why [`inspect`](super::inspect) failed.
///
/// Inspection itself never fails on what the client sends: unrecognized bytes are
/// [`Protocol::Unknown`](super::Protocol::Unknown). Only reading can fail.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Reading the client's bytes failed.
    #[error("failed to read the client's first bytes")]
    Io(#[from] std::io::Error),
}

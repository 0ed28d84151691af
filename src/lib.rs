//! lb (being written).
pub use lb_core as core;

//! The HTTP reverse-proxy engine of lb: HTTP/1.x and HTTP/2 on both sides, on hyper.
//!
//! This crate is HAProxy's "mode http" as tower services: the frontend connection
//! (h1/h2 auto-detection, limits, timeouts), per-server connection pools, proxy semantics
//! (hop-by-hop headers, forwarding headers), retries, and the access log. It is filled in by
//! the lb-http issue; until then it exports nothing, so that no code can come to depend on a
//! placeholder.

pub mod body;
pub mod client;
pub mod errors;
pub mod headers;
pub mod log;
pub mod proxy;
pub mod serve;
pub mod server;
pub mod stats;

pub use serve::serve;

//! The I/O-free heart of lb: servers, backends (server farms), every HAProxy balancing
//! algorithm, the backend queue, and the tower service that routes requests to servers.
//!
//! Nothing here opens a socket, reads a file or spawns a task: it is pure logic plus tokio's
//! sync and time primitives, so everything is testable in microseconds. Protocol crates
//! (lb-tcp, lb-http) fill a [`RequestKey`] from each connection or request and call
//! [`Backend::admit`] or the [`Balance`] service.
//!
//! # Example
//! ```
//! use lb_core::{Algorithm, Backend, BalanceConfig, RequestKey, ServerConfig, Weight};
//! use tokio::time::Instant;
//!
//! let backend = Backend::new(
//!     "api",
//!     BalanceConfig::new(Algorithm::RoundRobin),
//!     [
//!         ServerConfig::new("big", "10.0.0.1:80".parse()?).weight(2),
//!         ServerConfig::new("small", "10.0.0.2:80".parse()?),
//!     ],
//! )?;
//! let now = Instant::now();
//! let picks: Vec<_> = (0..3)
//!     .map(|_| backend.pick(&RequestKey::new(), now).unwrap().name().to_owned())
//!     .collect();
//! assert_eq!(picks, ["big", "small", "big"]);
//!
//! // Runtime changes take effect at once, for every later pick.
//! backend.set_weight("small", Weight::new(0)?, "operator")?;
//! assert_eq!(backend.pick(&RequestKey::new(), now).unwrap().name(), "big");
//! # Ok::<(), lb_core::Error>(())
//! ```
//!
//! # Organization
//! - [`server`]: [`Server`], [`Address`], [`Weight`], [`AdminState`], [`OpState`].
//! - [`backend`]: [`Backend`], [`Snapshot`], [`InFlight`], events, the queue.
//! - [`select`]: [`Algorithm`], [`BalanceConfig`], [`RequestKey`], hashing.
//! - [`balance`]: the [`Balance`] service and [`BalanceLayer`].
#![doc(test(attr(deny(warnings))))]

pub mod backend;
pub mod balance;
pub mod codec;
pub mod error;
pub mod matcher;
pub mod retry;
pub mod select;
pub mod server;

pub use backend::{Admit, Backend, BackendStats, EventKind, InFlight, ServerEvent, Snapshot};
pub use balance::{Balance, BalanceLayer, ExtractKey, NewEndpoint, NoKey};
pub use error::{Error, NoServerAvailable, QueueFull, QueueTimeout};
pub use retry::{retry_delay, Redispatch};
pub use select::hash::{HashFunction, HashMethod, HashType, UriOptions};
pub use select::{Algorithm, BalanceConfig, HeaderSource, RequestKey, Unavailable};
pub use server::{
    Address, AdminState, OpState, Server, ServerConfig, ServerId, ServerStats, Weight,
};

/// A boxed error, as tower middleware returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

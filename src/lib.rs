//! # lb: HAProxy's feature set as composable tower services
//!
//! `lb` is an embeddable load balancer. Its crates are re-exported here, one feature each:
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`core`] | `lb-core` | servers, backends, every balancing algorithm, queue, the `Balance` service (no I/O) |
//! | `tcp` | `lb-tcp` | listeners, connectors, in-memory network, PROXY protocol, content inspection, TCP proxy |
//! | `tls` | `lb-tls` | TLS termination and origination (rustls) |
//! | `health` | `lb-health` | active and passive health checks |
//! | `http` | `lb-http` | the HTTP/1 and HTTP/2 reverse-proxy engine (hyper) |
//!
//! # Example: balance requests over in-process endpoints
//! ```
//! use std::sync::Arc;
//! use lb::core::{Algorithm, Backend, Balance, BalanceConfig, NoKey, Server, ServerConfig};
//! use tower::{service_fn, Service, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lb::core::BoxError> {
//! let backend = Backend::new(
//!     "app",
//!     BalanceConfig::new(Algorithm::LeastConn),
//!     ["a", "b", "c"].map(|n| ServerConfig::new(n, format!("mem@{n}").parse().unwrap())),
//! )?;
//! let mut lb = Balance::new(
//!     backend.clone(),
//!     |server: &Arc<Server>| {
//!         let name = server.name().to_owned();
//!         service_fn(move |req: u32| {
//!             let name = name.clone();
//!             async move { Ok::<_, std::convert::Infallible>(format!("{name} served {req}")) }
//!         })
//!     },
//!     NoKey,
//! );
//! let reply = lb.ready().await?.call(7).await?;
//! assert!(reply.ends_with("served 7"));
//! assert_eq!(backend.stats().inflight(), 0);
//! # Ok(())
//! # }
//! ```
#![doc(test(attr(deny(warnings))))]

/// The README's embedding example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod config;

#[cfg(all(feature = "tcp", feature = "http", feature = "health", feature = "tls"))]
pub mod runtime;

pub use lb_core as core;

#[cfg(feature = "tcp")]
pub use lb_tcp as tcp;

#[cfg(feature = "tls")]
pub use lb_tls as tls;

#[cfg(feature = "health")]
pub use lb_health as health;

#[cfg(feature = "http")]
pub use lb_http as http;

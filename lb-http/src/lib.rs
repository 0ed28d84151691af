//! The HTTP reverse-proxy engine of lb: HAProxy's "mode http" as tower services.
//!
//! - [`server`]: the frontend connection: HTTP/1.0, HTTP/1.1 (keep-alive, pipelining) and
//!   HTTP/2 (h2c, or ALPN over TLS) auto-detected on one listener, with HAProxy's
//!   timeouts (`http-request` -> 408, `http-keep-alive`, `client`) and limits.
//! - [`proxy`]: [`proxy::HttpProxy`], the per-request service of one backend: target and
//!   Host translation between versions, hop-by-hop and forwarding headers, balancing with
//!   maxconn and queues, retries and redispatch (`retry-on`), request body limits, tunnels
//!   for WebSocket and CONNECT, and a generated response for every failure.
//! - [`client`]: per-server connection pools with `http-reuse` modes. HTTP/1.1 to servers
//!   goes through a hand-written client (the request future and then the response body own
//!   the connection: no task or channel per connection); HTTP/2 through hyper.
//! - [`body`]: [`body::ProxyBody`], the one streaming body type, with a completion hook
//!   that releases the server slot and writes the access log.
//! - [`headers`], [`errors`], [`log`] (HAProxy's httplog and log-format), [`stats`]
//!   (counters, the stats page, CSV and Prometheus).
//!
//! # Example
//!
//! An HTTP load balancer over two servers, on port 8080:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use lb_core::{Algorithm, Backend, BalanceConfig, ServerConfig};
//! use lb_http::client::{PoolConfig, Pools};
//! use lb_http::proxy::{HttpProxy, ProxyConfig};
//! use lb_http::server::FrontendConfig;
//! use lb_tcp::connect::TcpConnect;
//! use lb_tcp::listen::{Acceptor, BindSpec, Shutdown};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let backend = Backend::new(
//!     "app",
//!     BalanceConfig::new(Algorithm::RoundRobin),
//!     [
//!         ServerConfig::new("s1", "127.0.0.1:9001".parse()?),
//!         ServerConfig::new("s2", "127.0.0.1:9002".parse()?),
//!     ],
//! )?;
//! let pools = Arc::new(Pools::new(TcpConnect::new(), PoolConfig::default()));
//! let proxy = HttpProxy::new(backend, pools, ProxyConfig::default());
//! let acceptor = Acceptor::new("web", BindSpec::parse("127.0.0.1:8080")?.bind()?);
//! let shutdown = Shutdown::new();
//! lb_http::serve(acceptor, FrontendConfig::new("web"), proxy, shutdown.signal()).await;
//! # Ok(())
//! # }
//! ```

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

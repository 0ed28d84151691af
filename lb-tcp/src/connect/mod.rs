//! Connectors: the [`Connect`] seam (a tower `Service<Address>` returning a [`Stream`]), the
//! real [`TcpConnect`] (TCP over IPv4/IPv6, Unix sockets) and the [`ConnectTimeout`]
//! middleware. The in-memory network's connector is [`MemConnect`](crate::mem::MemConnect).
//!
//! Addresses arrive resolved ([`lb_core::Address`]): nothing here does DNS or blocks.
//!
//! # Examples
//! ```
//! use std::time::Duration;
//! use lb_tcp::connect::{Connect, ConnectTimeout, TcpConnect};
//!
//! fn assert_connect<C: Connect>(_: &C) {}
//! let tcp = TcpConnect::new().nodelay(true).connect_timeout(Duration::from_secs(5));
//! assert_connect(&tcp);
//! assert_connect(&ConnectTimeout::new(tcp, Duration::from_secs(1)));
//! ```
//!
//! # Organization
//! - [`Connect`]: the trait alias every connector satisfies.
//! - [`TcpConnect`]: sockets, with `nodelay`, keepalive, source binding (HAProxy `source`,
//!   transparent with `IP_TRANSPARENT`), connect timeout.
//! - [`timeout`]: [`ConnectTimeout`] and its layer, for any connector.

mod tcp;
pub mod timeout;

use std::future::Future;
use std::io;
use std::pin::Pin;

use lb_core::Address;
use tower::Service;

pub use self::tcp::TcpConnect;
pub use self::timeout::{ConnectTimedOut, ConnectTimeout, ConnectTimeoutLayer};
use crate::net::Stream;

/// A connector: a cloneable tower service from an [`Address`] to a connected [`Stream`].
///
/// Implemented for every service of that shape, so tests swap [`TcpConnect`] for
/// [`MemConnect`](crate::mem::MemConnect) or a `tower::service_fn`.
pub trait Connect:
    Service<Address, Response = Stream, Error = io::Error> + Clone + Send + 'static
{
}

impl<T> Connect for T where
    T: Service<Address, Response = Stream, Error = io::Error> + Clone + Send + 'static
{
}

/// The boxed future of the connectors in this crate (connects are a cold path).
pub type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send + 'static>>;

//! Listeners and the accept loop: what a frontend binds ([`BindSpec`]), the [`Listener`]s it
//! gets (TCP over IPv4/IPv6, Unix sockets, the in-memory network), and the [`Acceptor`] that
//! serves them with maxconn limits and graceful [`Shutdown`].
//!
//! # Examples
//! ```
//! use lb_tcp::listen::{Acceptor, BindSpec, Shutdown};
//! use lb_tcp::mem::MemNetwork;
//!
//! # tokio_test::block_on(async {
//! let net = MemNetwork::new();
//! let spec = BindSpec::parse("mem@www,127.0.0.1:0 backlog 128")?;
//! let listeners = spec.bind_in(&net)?;
//! assert_eq!(listeners.len(), 2);
//! assert_eq!(listeners[0].local_addr().to_string(), "mem@www");
//! let acceptor = Acceptor::new("www", listeners).maxconn(1000);
//! assert_eq!(acceptor.conn_limit().map(|l| l.max()), Some(1000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Organization
//! - [`BindSpec`], [`BindAddr`], [`PortRange`], [`BindOptions`]: HAProxy `bind` lines.
//! - [`Listener`]: [`TcpListener`], [`UnixListener`], or a
//!   [`mem::MemListener`](crate::mem::MemListener).
//! - [`Acceptor`]: the accept loop; [`ConnLimit`]: maxconn; [`Shutdown`],
//!   [`ShutdownSignal`], [`ServeReport`]: graceful shutdown.

mod accept;
mod error;
mod limit;
mod shutdown;
mod spec;
mod tcp;
#[cfg(unix)]
mod unix;

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use lb_core::Address;

pub use self::accept::{Acceptor, MAX_BACKOFF, MIN_BACKOFF};
pub use self::error::{BindError, BindSpecError};
pub use self::limit::{ConnLimit, ConnPermit};
pub use self::shutdown::{ServeReport, Shutdown, ShutdownSignal};
pub use self::spec::{BindAddr, BindOptions, BindSpec, PortRange, DEFAULT_BACKLOG};
pub use self::tcp::TcpListener;
#[cfg(unix)]
pub use self::unix::UnixListener;
#[cfg(feature = "mem")]
use crate::mem::MemListener;
use crate::net::{Peer, Stream};

/// A bound listener of any kind.
#[derive(Debug)]
#[non_exhaustive]
pub enum Listener {
    /// TCP over IPv4 or IPv6.
    Tcp(TcpListener),
    /// A Unix stream socket.
    #[cfg(unix)]
    Unix(UnixListener),
    /// The in-memory network.
    #[cfg(feature = "mem")]
    Mem(MemListener),
}

impl Listener {
    /// Polls for the next connection.
    ///
    /// # Errors
    /// What the listener's `accept` returns.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Stream, Peer)>> {
        match self {
            Listener::Tcp(l) => l.poll_accept(cx),
            #[cfg(unix)]
            Listener::Unix(l) => l.poll_accept(cx),
            #[cfg(feature = "mem")]
            Listener::Mem(l) => l.poll_accept(cx),
        }
    }

    /// Waits for the next connection.
    ///
    /// # Errors
    /// What the listener's `accept` returns: per-connection errors, or resource exhaustion
    /// (`EMFILE`) after which the caller should back off ([`Acceptor`] does).
    ///
    /// # Cancel safety
    /// Cancel safe: no connection is lost if the future is dropped.
    pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The bound address (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> Address {
        match self {
            Listener::Tcp(l) => Address::Inet(l.local_addr()),
            #[cfg(unix)]
            Listener::Unix(l) => Address::Unix(l.path().to_owned()),
            #[cfg(feature = "mem")]
            Listener::Mem(l) => l.local_addr().clone(),
        }
    }
}

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Self {
        Listener::Tcp(l)
    }
}

#[cfg(unix)]
impl From<UnixListener> for Listener {
    fn from(l: UnixListener) -> Self {
        Listener::Unix(l)
    }
}

#[cfg(feature = "mem")]
impl From<MemListener> for Listener {
    fn from(l: MemListener) -> Self {
        Listener::Mem(l)
    }
}

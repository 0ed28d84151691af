//! The in-memory network: named listeners, connectors and duplex streams, with injectable
//! faults (refuse, black-hole, delay, stall, reset after N bytes).
//!
//! It stands in for the real network in tests and in embedding programs: a [`MemListener`]
//! is a [`Listener`](crate::listen::Listener) like any other, and [`MemConnect`] is a
//! [`Connect`](crate::connect::Connect) service, so a whole proxy runs without sockets, under
//! tokio's paused clock. Addresses are [`lb_core::Address`] values: usually `mem@name`, but a
//! `10.0.0.1:80` address can be bound too, so an unchanged configuration runs in memory.
//!
//! # Examples
//! ```
//! use lb_tcp::mem::{Faults, MemNetwork};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio_test::block_on(async {
//! let net = MemNetwork::new();
//! let listener = net.bind("origin")?;
//! let mut client = net.connect("origin").await?;
//! let (mut server, peer) = listener.accept().await?;
//! assert_eq!(peer.local().to_string(), "mem@origin");
//!
//! client.write_all(b"hi").await?;
//! let mut buf = [0; 2];
//! server.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"hi");
//!
//! net.set_faults("origin", Faults::new().refuse());
//! let err = net.connect("origin").await.unwrap_err();
//! assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Organization
//! - [`MemNetwork`]: the registry of bound addresses and faults (`Clone`, shared).
//! - [`MemListener`], [`MemStream`]: listener and connection ends.
//! - [`MemConnect`]: the connector service.
//! - [`Faults`], [`Direction`]: fault injection.

mod fault;
mod listener;
mod stream;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use lb_core::Address;
use tokio::sync::mpsc;
use tower::Service;

pub use self::fault::{Direction, Faults};
pub use self::listener::MemListener;
pub use self::stream::MemStream;
use crate::connect::ConnectFuture;
use crate::net::Stream;

/// Default per-direction buffer of an in-memory connection, in bytes.
pub const DEFAULT_BUFFER_SIZE: usize = 64 * 1024;

/// Default accept queue length of a [`MemListener`] (connects wait when it is full).
pub const DEFAULT_BACKLOG: usize = 1024;

/// Turns names and addresses into [`Address`] keys of the in-memory network.
///
/// A string is a `mem@` name (`"origin"` is `mem@origin`); an [`Address`] or [`SocketAddr`]
/// is used as is.
pub trait IntoAddress {
    /// The address.
    fn into_address(self) -> Address;
}

impl IntoAddress for Address {
    fn into_address(self) -> Address {
        self
    }
}

impl IntoAddress for &Address {
    fn into_address(self) -> Address {
        self.clone()
    }
}

impl IntoAddress for SocketAddr {
    fn into_address(self) -> Address {
        Address::Inet(self)
    }
}

impl IntoAddress for &str {
    fn into_address(self) -> Address {
        Address::Mem(self.into())
    }
}

impl IntoAddress for String {
    fn into_address(self) -> Address {
        Address::Mem(self.into())
    }
}

impl IntoAddress for Arc<str> {
    fn into_address(self) -> Address {
        Address::Mem(self)
    }
}

/// An in-memory network: a registry of listening addresses and their faults.
///
/// Cheap to clone; clones share the same network.
#[derive(Clone, Default)]
pub struct MemNetwork {
    inner: Arc<Inner>,
}

struct Inner {
    buffer_size: usize,
    next_id: AtomicU64,
    state: Mutex<State>,
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            buffer_size: DEFAULT_BUFFER_SIZE,
            next_id: AtomicU64::new(1),
            state: Mutex::default(),
        }
    }
}

#[derive(Default)]
struct State {
    listeners: HashMap<Address, Bound>,
    faults: HashMap<Address, Faults>,
}

struct Bound {
    id: u64,
    queue: mpsc::Sender<MemStream>,
}

impl fmt::Debug for MemNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        let mut bound: Vec<String> = state.listeners.keys().map(ToString::to_string).collect();
        bound.sort_unstable();
        f.debug_struct("MemNetwork")
            .field("buffer_size", &self.inner.buffer_size)
            .field("bound", &bound)
            .field("faults", &state.faults.len())
            .finish()
    }
}

impl MemNetwork {
    /// An empty network whose connections buffer [`DEFAULT_BUFFER_SIZE`] bytes each way.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty network whose connections buffer `bytes` bytes each way (at least 1). A
    /// writer waits when the buffer is full, as with a full socket buffer.
    pub fn with_buffer_size(bytes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                buffer_size: bytes.max(1),
                ..Inner::default()
            }),
        }
    }

    /// The per-direction buffer size of new connections.
    pub fn buffer_size(&self) -> usize {
        self.inner.buffer_size
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Listens on `addr` with a [`DEFAULT_BACKLOG`] accept queue.
    ///
    /// # Errors
    /// `AddrInUse` when a live listener holds `addr`.
    pub fn bind(&self, addr: impl IntoAddress) -> io::Result<MemListener> {
        self.bind_with_backlog(addr, DEFAULT_BACKLOG)
    }

    /// Listens on `addr`; at most `backlog` (at least 1) connections wait to be accepted,
    /// and further connects wait for room.
    ///
    /// # Errors
    /// `AddrInUse` when a live listener holds `addr`.
    pub fn bind_with_backlog(
        &self,
        addr: impl IntoAddress,
        backlog: usize,
    ) -> io::Result<MemListener> {
        let addr = addr.into_address();
        let (tx, rx) = mpsc::channel(backlog.clamp(1, 1 << 20));
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = self.state();
            if state.listeners.contains_key(&addr) {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{addr} is already bound on the in-memory network"),
                ));
            }
            state
                .listeners
                .insert(addr.clone(), Bound { id, queue: tx });
        }
        tracing::debug!(%addr, "mem listener bound");
        Ok(MemListener::new(self.clone(), addr, id, rx))
    }

    /// Removes `addr` if listener `id` still holds it.
    fn unbind(&self, addr: &Address, id: u64) {
        let mut state = self.state();
        if state.listeners.get(addr).is_some_and(|b| b.id == id) {
            state.listeners.remove(addr);
            tracing::debug!(%addr, "mem listener unbound");
        }
    }

    /// Whether a listener is bound to `addr`.
    pub fn is_bound(&self, addr: impl IntoAddress) -> bool {
        self.state().listeners.contains_key(&addr.into_address())
    }

    /// Sets the faults for connections to `addr` (bound or not), replacing earlier ones.
    pub fn set_faults(&self, addr: impl IntoAddress, faults: Faults) {
        self.state().faults.insert(addr.into_address(), faults);
    }

    /// Removes the faults for `addr`.
    pub fn clear_faults(&self, addr: impl IntoAddress) {
        self.state().faults.remove(&addr.into_address());
    }

    /// The faults for `addr` (none by default).
    pub fn faults(&self, addr: impl IntoAddress) -> Faults {
        self.state()
            .faults
            .get(&addr.into_address())
            .cloned()
            .unwrap_or_default()
    }

    /// A connector for this network; its clients appear as `mem@client-<n>`.
    pub fn connector(&self) -> MemConnect {
        MemConnect {
            net: self.clone(),
            source: None,
        }
    }

    /// Connects to `addr`, from `mem@client-<n>`.
    ///
    /// # Errors
    /// `ConnectionRefused` when nothing listens on `addr`, the listener closes while the
    /// connect waits for room in its queue, or a [`Faults::refuse`] fault is set.
    ///
    /// # Cancel safety
    /// Cancel safe: a dropped connect leaves nothing behind.
    pub async fn connect(&self, addr: impl IntoAddress) -> io::Result<MemStream> {
        self.connect_from(addr.into_address(), None).await
    }

    async fn connect_from(&self, addr: Address, source: Option<Address>) -> io::Result<MemStream> {
        let faults = self.faults(&addr);
        if faults.blackhole {
            tracing::trace!(%addr, "mem connect black-holed");
            std::future::pending::<()>().await;
        }
        if let Some(d) = faults.connect_delay {
            tokio::time::sleep(d).await;
        }
        if faults.refuse {
            return Err(refused(&addr, "refused by an injected fault"));
        }
        let queue = match self.state().listeners.get(&addr) {
            Some(bound) => bound.queue.clone(),
            None => return Err(refused(&addr, "nothing is listening there")),
        };
        let client = source.unwrap_or_else(|| {
            let n = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            Address::Mem(format!("client-{n}").into())
        });
        let (mut client_end, server_end) = MemStream::pair_between(
            client,
            addr.clone(),
            self.inner.buffer_size,
            faults.reset_after,
        );
        if faults.stall {
            tracing::trace!(%addr, "mem connection stalled");
            client_end.park(server_end);
            return Ok(client_end);
        }
        queue
            .send(server_end)
            .await
            .map_err(|_| refused(&addr, "the listener closed"))?;
        Ok(client_end)
    }
}

fn refused(addr: &Address, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionRefused,
        format!("connection to {addr} refused: {why}"),
    )
}

/// The in-memory network's connector: a [`Connect`](crate::connect::Connect) service.
///
/// # Errors
/// As [`MemNetwork::connect`].
#[derive(Clone, Debug)]
pub struct MemConnect {
    net: MemNetwork,
    source: Option<Address>,
}

impl MemConnect {
    /// Connections from this connector claim `source` as their address: set an IP address
    /// (`"192.0.2.7:40000".parse::<SocketAddr>()`) to exercise source hashing or ACLs.
    pub fn source(mut self, source: impl IntoAddress) -> Self {
        self.source = Some(source.into_address());
        self
    }

    /// The network this connector reaches.
    pub fn network(&self) -> &MemNetwork {
        &self.net
    }
}

impl Service<Address> for MemConnect {
    type Response = Stream;
    type Error = io::Error;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, addr: Address) -> Self::Future {
        let net = self.net.clone();
        let source = self.source.clone();
        Box::pin(async move { net.connect_from(addr, source).await.map(Stream::Mem) })
    }
}

#[cfg(test)]
mod tests;

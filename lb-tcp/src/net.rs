//! Shared stream types: [`Stream`] (TCP, Unix or in-memory), [`Peer`] (who connected, to
//! which local address) and [`Keepalive`] (TCP keepalive settings for listeners and
//! connectors).
//!
//! [`Stream`] is an enum rather than a boxed trait object so reads and writes dispatch with a
//! `match`, and so code that can splice (Linux `splice(2)` between two TCP sockets) can reach
//! the socket with [`Stream::as_tcp`].

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use lb_core::Address;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

#[cfg(feature = "mem")]
use crate::mem::MemStream;

/// A connected byte stream: what listeners accept and connectors return.
///
/// Reads and writes delegate to the socket (or in-memory pipe) without boxing.
///
/// # Examples
/// ```
/// # #[cfg(feature = "mem")] {
/// use lb_tcp::mem::MemStream;
/// use lb_tcp::net::Stream;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # tokio_test::block_on(async {
/// let (a, b) = MemStream::pair(1024);
/// let (mut a, mut b) = (Stream::from(a), Stream::from(b));
/// a.write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// assert!(a.as_tcp().is_none());
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Stream {
    /// A TCP connection (IPv4 or IPv6).
    Tcp(TcpStream),
    /// A Unix stream socket connection.
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
    /// A connection on the in-memory network.
    #[cfg(feature = "mem")]
    Mem(MemStream),
    /// A stream layered over another one (a TLS session), with the addresses of the
    /// connection underneath.
    Layered(Layered),
}

/// What a [`Layered`] stream wraps: any byte stream.
pub trait LayeredIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> LayeredIo for T {}

/// A byte stream on top of a connection (TLS on TCP, say), carried as a [`Stream`] so that
/// the forwarding and proxy code serve it unchanged. It keeps the underlying connection's
/// addresses for logs and the PROXY protocol.
pub struct Layered {
    io: Box<dyn LayeredIo>,
    peer: Address,
    local: Address,
}

impl Layered {
    /// Wraps `io`, which runs over a connection from `local` to `peer`.
    pub fn new(io: impl LayeredIo, peer: Address, local: Address) -> Self {
        Layered {
            io: Box::new(io),
            peer,
            local,
        }
    }
}

impl fmt::Debug for Layered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layered")
            .field("peer", &self.peer)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl Stream {
    /// The TCP socket, when this is a TCP connection (for `splice`, socket options).
    pub fn as_tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Tcp(s) => Some(s),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The TCP socket, mutably, when this is a TCP connection.
    pub fn as_tcp_mut(&mut self) -> Option<&mut TcpStream> {
        match self {
            Stream::Tcp(s) => Some(s),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The remote end's address.
    ///
    /// An unnamed Unix peer (the usual client) is `Address::Unix("")`.
    ///
    /// # Errors
    /// What `getpeername(2)` returns, e.g. `NotConnected` once the peer is gone.
    pub fn peer_addr(&self) -> io::Result<Address> {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(Address::Inet),
            #[cfg(unix)]
            Stream::Unix(s) => s.peer_addr().map(|a| unix_address(&a)),
            #[cfg(feature = "mem")]
            Stream::Mem(s) => Ok(s.peer_addr().clone()),
            Stream::Layered(s) => Ok(s.peer.clone()),
        }
    }

    /// This end's address (for a transparently accepted TCP connection: the original
    /// destination).
    ///
    /// # Errors
    /// What `getsockname(2)` returns.
    pub fn local_addr(&self) -> io::Result<Address> {
        match self {
            Stream::Tcp(s) => s.local_addr().map(Address::Inet),
            #[cfg(unix)]
            Stream::Unix(s) => s.local_addr().map(|a| unix_address(&a)),
            #[cfg(feature = "mem")]
            Stream::Mem(s) => Ok(s.local_addr().clone()),
            Stream::Layered(s) => Ok(s.local.clone()),
        }
    }

    /// The remote end's IP socket address, when it has one (TCP, or an in-memory client
    /// that claims an IP source).
    pub fn peer_socket_addr(&self) -> Option<SocketAddr> {
        self.peer_addr().ok().and_then(|a| a.as_inet())
    }
}

impl From<TcpStream> for Stream {
    fn from(s: TcpStream) -> Self {
        Stream::Tcp(s)
    }
}

#[cfg(unix)]
impl From<tokio::net::UnixStream> for Stream {
    fn from(s: tokio::net::UnixStream) -> Self {
        Stream::Unix(s)
    }
}

impl From<Layered> for Stream {
    fn from(s: Layered) -> Self {
        Stream::Layered(s)
    }
}

#[cfg(feature = "mem")]
impl From<MemStream> for Stream {
    fn from(s: MemStream) -> Self {
        Stream::Mem(s)
    }
}

/// Forwards one I/O method to the variant's stream.
macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Tcp($s) => $e,
            #[cfg(unix)]
            Stream::Unix($s) => $e,
            #[cfg(feature = "mem")]
            Stream::Mem($s) => $e,
            Stream::Layered(l) => {
                let $s = &mut l.io;
                $e
            }
        }
    };
}

impl AsyncRead for Stream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            #[cfg(unix)]
            Stream::Unix(s) => s.is_write_vectored(),
            #[cfg(feature = "mem")]
            Stream::Mem(s) => s.is_write_vectored(),
            Stream::Layered(s) => s.io.is_write_vectored(),
        }
    }
}

/// The `Address` of a Unix socket end: its path, or an empty path when unnamed.
#[cfg(unix)]
pub(crate) fn unix_address(a: &tokio::net::unix::SocketAddr) -> Address {
    Address::Unix(a.as_pathname().map(Into::into).unwrap_or_default())
}

/// Who is on the other end of an accepted connection, and which local address it reached.
///
/// Displays as the remote address (`192.0.2.7:51000`, `unix@`, `mem@client-3`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    remote: Address,
    local: Address,
}

impl Peer {
    /// A peer at `remote` that connected to `local`.
    pub const fn new(remote: Address, local: Address) -> Self {
        Self { remote, local }
    }

    /// The remote address.
    pub fn addr(&self) -> &Address {
        &self.remote
    }

    /// The local address the connection reached (for a transparent listener, the original
    /// destination).
    pub fn local(&self) -> &Address {
        &self.local
    }

    /// The remote IP socket address, when there is one (what `balance source` hashes).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.remote.as_inet()
    }

    /// The local IP socket address, when there is one.
    pub fn local_socket_addr(&self) -> Option<SocketAddr> {
        self.local.as_inet()
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.remote.fmt(f)
    }
}

/// TCP keepalive probes (`SO_KEEPALIVE` plus the Linux `TCP_KEEP*` tunables): HAProxy's
/// `option clitcpka`/`srvtcpka` with `*-idle`, `*-intvl`, `*-cnt`.
///
/// Unset values keep the system's defaults.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use lb_tcp::net::Keepalive;
/// let ka = Keepalive::new().idle(Duration::from_secs(60)).retries(3);
/// assert_eq!(ka.idle_time(), Some(Duration::from_secs(60)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Keepalive {
    idle: Option<Duration>,
    interval: Option<Duration>,
    retries: Option<u32>,
}

impl Keepalive {
    /// Keepalive on, with the system's timings.
    pub const fn new() -> Self {
        Self {
            idle: None,
            interval: None,
            retries: None,
        }
    }

    /// Idle time before the first probe (`TCP_KEEPIDLE`).
    pub const fn idle(mut self, d: Duration) -> Self {
        self.idle = Some(d);
        self
    }

    /// Time between probes (`TCP_KEEPINTVL`).
    pub const fn interval(mut self, d: Duration) -> Self {
        self.interval = Some(d);
        self
    }

    /// Unanswered probes before the connection is dropped (`TCP_KEEPCNT`).
    pub const fn retries(mut self, n: u32) -> Self {
        self.retries = Some(n);
        self
    }

    /// The configured idle time.
    pub const fn idle_time(&self) -> Option<Duration> {
        self.idle
    }

    /// The configured probe interval.
    pub const fn interval_time(&self) -> Option<Duration> {
        self.interval
    }

    /// The configured probe count.
    pub const fn retry_count(&self) -> Option<u32> {
        self.retries
    }

    /// Turns keepalive on for `socket` with these timings.
    pub(crate) fn apply(&self, socket: socket2::SockRef<'_>) -> io::Result<()> {
        let mut ka = socket2::TcpKeepalive::new();
        if let Some(d) = self.idle {
            ka = ka.with_time(d);
        }
        #[cfg(any(
            target_os = "android",
            target_os = "freebsd",
            target_os = "fuchsia",
            target_os = "linux",
            target_os = "macos",
            target_os = "ios",
            target_os = "netbsd",
            target_os = "windows",
        ))]
        if let Some(d) = self.interval {
            ka = ka.with_interval(d);
        }
        #[cfg(any(
            target_os = "android",
            target_os = "freebsd",
            target_os = "fuchsia",
            target_os = "linux",
            target_os = "macos",
            target_os = "ios",
            target_os = "netbsd",
        ))]
        if let Some(n) = self.retries {
            ka = ka.with_retries(n);
        }
        socket.set_tcp_keepalive(&ka)
    }
}

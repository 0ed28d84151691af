//! [`TcpListener`]: a TCP listener bound with socket options from [`BindOptions`].

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{ready, Context, Poll};

use lb_core::Address;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::TcpStream;

use super::BindOptions;
use crate::net::{Keepalive, Peer, Stream};

/// A TCP listener (IPv4 or IPv6) that applies `TCP_NODELAY` and keepalive to the
/// connections it accepts.
#[derive(Debug)]
pub struct TcpListener {
    inner: tokio::net::TcpListener,
    local: SocketAddr,
    nodelay: bool,
    keepalive: Option<Keepalive>,
}

impl TcpListener {
    /// Binds `addr` with `options` (backlog, `SO_REUSEADDR` on Unix, `SO_REUSEPORT`,
    /// `IPV6_V6ONLY`, `IP_TRANSPARENT`, `IP_FREEBIND`). Must run inside a tokio runtime with
    /// I/O enabled.
    ///
    /// # Errors
    /// Socket errors (`AddrInUse`, `PermissionDenied`...); `Unsupported` for options this
    /// platform lacks or a `namespace`; an error when there is no tokio runtime.
    pub fn bind(addr: SocketAddr, options: &BindOptions) -> io::Result<Self> {
        require_runtime()?;
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        if options.reuseport {
            set_reuseport(&socket)?;
        }
        if let (SocketAddr::V6(_), Some(only)) = (addr, options.v6only) {
            socket.set_only_v6(only)?;
        }
        if options.transparent {
            set_transparent(&socket)?;
        }
        if options.freebind {
            set_freebind(&socket, addr.is_ipv6())?;
        }
        socket.bind(&addr.into())?;
        let backlog = i32::try_from(options.effective_backlog()).unwrap_or(i32::MAX);
        socket.listen(backlog)?;
        let inner = tokio::net::TcpListener::from_std(socket.into())?;
        let local = inner.local_addr()?;
        tracing::debug!(%local, backlog, "tcp listener bound");
        Ok(Self {
            inner,
            local,
            nodelay: options.nodelay,
            keepalive: options.keepalive,
        })
    }

    /// Wraps a bound tokio listener; accepted connections get `nodelay` (on by default in
    /// [`BindOptions`]) and no keepalive.
    ///
    /// # Errors
    /// When the listener's local address cannot be read.
    pub fn from_tokio(inner: tokio::net::TcpListener, nodelay: bool) -> io::Result<Self> {
        let local = inner.local_addr()?;
        Ok(Self {
            inner,
            local,
            nodelay,
            keepalive: None,
        })
    }

    /// The bound address (with the port the system picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The tokio listener.
    pub fn get_ref(&self) -> &tokio::net::TcpListener {
        &self.inner
    }

    /// Polls for the next connection.
    ///
    /// # Errors
    /// What `accept(2)` returns: per-connection errors (`ConnectionAborted`) and resource
    /// exhaustion (`EMFILE`, `ENFILE`, `ENOBUFS`), after which the caller should back off.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Stream, Peer)>> {
        let (stream, remote) = ready!(self.inner.poll_accept(cx))?;
        self.prepare(&stream);
        let local = stream.local_addr().unwrap_or(self.local);
        let peer = Peer::new(Address::Inet(remote), Address::Inet(local));
        Poll::Ready(Ok((Stream::Tcp(stream), peer)))
    }

    /// Waits for the next connection.
    ///
    /// # Errors
    /// As [`poll_accept`](Self::poll_accept).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    fn prepare(&self, stream: &TcpStream) {
        if self.nodelay {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
            }
        }
        if let Some(ka) = &self.keepalive {
            if let Err(e) = ka.apply(SockRef::from(stream)) {
                tracing::debug!(error = %e, "cannot set keepalive on an accepted connection");
            }
        }
    }
}

/// tokio's `from_std` panics outside a runtime: fail instead.
pub(crate) fn require_runtime() -> io::Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|_| io::Error::other("binding a listener needs a running tokio runtime"))
}

#[cfg(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
))]
fn set_reuseport(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
)))]
fn set_reuseport(_: &Socket) -> io::Result<()> {
    Err(unsupported("SO_REUSEPORT"))
}

#[cfg(target_os = "linux")]
fn set_transparent(socket: &Socket) -> io::Result<()> {
    socket.set_ip_transparent(true).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("setting IP_TRANSPARENT (needs CAP_NET_ADMIN): {e}"),
        )
    })
}

#[cfg(not(target_os = "linux"))]
fn set_transparent(_: &Socket) -> io::Result<()> {
    Err(unsupported("IP_TRANSPARENT"))
}

#[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
fn set_freebind(socket: &Socket, v6: bool) -> io::Result<()> {
    if v6 {
        socket.set_freebind_ipv6(true)
    } else {
        socket.set_freebind(true)
    }
}

#[cfg(not(any(target_os = "android", target_os = "fuchsia", target_os = "linux")))]
fn set_freebind(_: &Socket, _: bool) -> io::Result<()> {
    Err(unsupported("IP_FREEBIND"))
}

#[allow(dead_code)]
fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{what} is not available on this platform"),
    )
}

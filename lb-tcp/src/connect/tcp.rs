//! [`TcpConnect`]: connects to TCP (IPv4, IPv6) and Unix socket addresses.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use lb_core::Address;
use tokio::net::{TcpSocket, TcpStream};
use tower::Service;

use super::timeout::timed_out;
use super::ConnectFuture;
use crate::net::{Keepalive, Stream};

/// The socket connector: TCP over IPv4 and IPv6, and Unix stream sockets.
///
/// In-memory (`mem@`) addresses are refused with `Unsupported`: use
/// [`MemConnect`](crate::mem::MemConnect) for those.
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
/// use lb_tcp::connect::TcpConnect;
/// use tower::ServiceExt;
///
/// # async fn f() -> std::io::Result<()> {
/// let connect = TcpConnect::new()
///     .source("192.0.2.10:0".parse().unwrap()) // HAProxy `source 192.0.2.10`
///     .connect_timeout(Duration::from_secs(5));
/// let stream = connect.oneshot("192.0.2.80:80".parse().unwrap()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TcpConnect {
    nodelay: bool,
    keepalive: Option<Keepalive>,
    source: Option<SocketAddr>,
    transparent: bool,
    timeout: Option<Duration>,
}

impl Default for TcpConnect {
    fn default() -> Self {
        Self::new()
    }
}

impl TcpConnect {
    /// A connector with `TCP_NODELAY` on, no keepalive, no source binding, no timeout.
    pub const fn new() -> Self {
        Self {
            nodelay: true,
            keepalive: None,
            source: None,
            transparent: false,
            timeout: None,
        }
    }

    /// Sets `TCP_NODELAY` on TCP connections. Default is `true`.
    pub const fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// Turns TCP keepalive on with these timings (HAProxy `option srvtcpka`). Default is off.
    pub const fn keepalive(mut self, keepalive: Keepalive) -> Self {
        self.keepalive = Some(keepalive);
        self
    }

    /// Binds TCP connections to this local address before connecting (HAProxy `source`);
    /// port 0 picks any port. Its family must match the destination's. Default is none.
    pub const fn source(mut self, addr: SocketAddr) -> Self {
        self.source = Some(addr);
        self
    }

    /// Sets `IP_TRANSPARENT` before binding the [`source`](Self::source) address, so it may
    /// be an address this host does not own (HAProxy `usesrc`, transparent connect). Needs
    /// Linux and `CAP_NET_ADMIN`; elsewhere connects fail with `Unsupported`. Default is off.
    pub const fn transparent(mut self, on: bool) -> Self {
        self.transparent = on;
        self
    }

    /// Fails connects that take longer than `after` with `TimedOut` (HAProxy
    /// `timeout connect`). Default is no timeout (the system's, minutes for TCP).
    pub const fn connect_timeout(mut self, after: Duration) -> Self {
        self.timeout = Some(after);
        self
    }

    /// Connects to `addr`.
    ///
    /// # Errors
    /// The socket errors, with the address in the message and their kind kept
    /// (`ConnectionRefused`, ...); `TimedOut` (wrapping
    /// [`ConnectTimedOut`](super::ConnectTimedOut)) after the connect timeout;
    /// `Unsupported` for `mem@` addresses or transparent binding off Linux; `InvalidInput`
    /// when the source and destination families differ.
    ///
    /// # Cancel safety
    /// Cancel safe: a dropped connect closes its socket.
    pub async fn connect(&self, addr: &Address) -> io::Result<Stream> {
        self.connect_from(addr, self.source).await
    }

    /// Connects to `addr` from `source` instead of the configured source: per connection,
    /// as HAProxy's `usesrc client`/`clientip` (pass the client's address, with
    /// [`transparent`](Self::transparent) on). `None` binds no source.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn connect_from(
        &self,
        addr: &Address,
        source: Option<SocketAddr>,
    ) -> io::Result<Stream> {
        let connect = self.connect_untimed(addr, source);
        match self.timeout {
            None => connect.await,
            Some(after) => match tokio::time::timeout(after, connect).await {
                Ok(r) => r,
                Err(_) => Err(timed_out(addr.clone(), after)),
            },
        }
    }

    async fn connect_untimed(
        &self,
        addr: &Address,
        source: Option<SocketAddr>,
    ) -> io::Result<Stream> {
        let context = |e: io::Error| io::Error::new(e.kind(), format!("connect to {addr}: {e}"));
        match addr {
            Address::Inet(sa) => self
                .connect_inet(*sa, source)
                .await
                .map(Stream::Tcp)
                .map_err(context),
            #[cfg(unix)]
            Address::Unix(path) => tokio::net::UnixStream::connect(path)
                .await
                .map(Stream::Unix)
                .map_err(context),
            other => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("TcpConnect cannot reach {other} (mem@ addresses need MemConnect)"),
            )),
        }
    }

    async fn connect_inet(
        &self,
        addr: SocketAddr,
        source: Option<SocketAddr>,
    ) -> io::Result<TcpStream> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(source) = source {
            if source.is_ipv4() != addr.is_ipv4() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("source address {source} is not in the family of the destination"),
                ));
            }
            if self.transparent {
                set_transparent(&socket)?;
            }
            if source.port() != 0 {
                socket.set_reuseaddr(true)?;
            }
            socket
                .bind(source)
                .map_err(|e| io::Error::new(e.kind(), format!("bind source {source}: {e}")))?;
        }
        if let Some(ka) = &self.keepalive {
            ka.apply(socket2::SockRef::from(&socket))?;
        }
        let stream = socket.connect(addr).await?;
        if self.nodelay {
            stream.set_nodelay(true)?;
        }
        Ok(stream)
    }
}

#[cfg(target_os = "linux")]
fn set_transparent(socket: &TcpSocket) -> io::Result<()> {
    socket2::SockRef::from(socket)
        .set_ip_transparent(true)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("setting IP_TRANSPARENT (needs CAP_NET_ADMIN): {e}"),
            )
        })
}

#[cfg(not(target_os = "linux"))]
fn set_transparent(_: &TcpSocket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "transparent source binding (IP_TRANSPARENT) is only available on Linux",
    ))
}

impl Service<Address> for TcpConnect {
    type Response = Stream;
    type Error = io::Error;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, addr: Address) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.connect(&addr).await })
    }
}

//! The connector of backends: plain TCP, or TLS for servers with `ssl` (HAProxy's
//! `server ... ssl [verify ...] [ca-file ...] [crt ...] [sni str(...)] [verifyhost ...]
//! [alpn ...] [ssl-min-ver ...] [ssl-max-ver ...] [no-ssl-reuse]`).
//!
//! Each TLS server gets one [`TlsConnect`], built at start and kept for the life of the
//! runtime, so its session cache resumes sessions across connections (`no-ssl-reuse`
//! turns the cache off). Connections are routed to it by server address, the only thing
//! the HTTP pools and the TCP proxy give a connector. Addresses not known at start (a
//! `set server ... addr`, an `add server`) use the backend's common TLS settings when all
//! its servers use TLS alike, plain TCP when none does, and are refused otherwise: a
//! server is never silently downgraded to plain TCP.
//!
//! A failed handshake (bad certificate, unknown CA, name mismatch) is a connection error,
//! logged once at warn level by lb-tls as `TLS handshake with server <backend>/<server>
//! failed: <rustls reason>`: the HTTP proxy retries then answers 503, the TCP proxy
//! retries then closes.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use lb_core::Address;
use lb_tcp::connect::TcpConnect;
use lb_tcp::net::{Layered, Stream};
use lb_tls::tokio_rustls::client::TlsStream;
use lb_tls::TlsConnect;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower::{Service, ServiceExt};

use crate::config::{self, ServerVerify};

/// What a connection to an address not known at start gets.
#[derive(Clone)]
enum Fallback {
    /// No server of the backend uses TLS.
    Plain,
    /// Every server of the backend uses TLS with the same settings.
    Tls(TlsConnect<TcpConnect>),
    /// Mixed: refuse rather than guess.
    Refuse,
}

/// Connects to the servers of one backend, with TLS towards those that asked for it.
#[derive(Clone)]
pub(crate) struct ServerConnector {
    plain: TcpConnect,
    tls: Arc<HashMap<Address, TlsConnect<TcpConnect>>>,
    fallback: Fallback,
}

impl ServerConnector {
    /// A connector for a backend whose servers are `servers` (config, resolved address).
    /// With `http1`, `h2` is taken out of the ALPN offered to servers (an HTTP/1.1 backend
    /// must not let a server pick HTTP/2; see [`backend_wants_h2`]).
    ///
    /// # Errors
    /// The server whose TLS settings cannot be loaded (unreadable `ca-file` or `crt`,
    /// bad names), with the reason; or two servers at one address with different TLS
    /// settings.
    pub(crate) fn new<'a>(
        backend: &str,
        servers: impl IntoIterator<Item = (&'a config::Server, Address)>,
        http1: bool,
    ) -> Result<Self, (&'a config::Server, String)> {
        let mut tls = HashMap::new();
        let mut settings: Vec<Option<&config::ServerTls>> = Vec::new();
        let mut first_tls = None;
        let mut at: HashMap<Address, Option<&config::ServerTls>> = HashMap::new();
        for (s, addr) in servers {
            if let Some(prev) = at.insert(addr.clone(), s.tls.as_ref()) {
                if prev != s.tls.as_ref() {
                    return Err((
                        s,
                        format!("another server at {addr} has different ssl settings"),
                    ));
                }
            }
            settings.push(s.tls.as_ref());
            if let Some(t) = &s.tls {
                let name = format!("{backend}/{}", s.name);
                let connect = if http1 && t.alpn.iter().any(|p| p == "h2") {
                    tracing::warn!(
                        "server {name}: 'alpn {}' offers h2 but the backend talks HTTP/1.1 \
                         (HTTP/2 needs 'alpn h2' alone on every server): h2 is not offered",
                        t.alpn.join(",")
                    );
                    let mut t = t.clone();
                    t.alpn.retain(|p| p != "h2");
                    server_tls(&name, &t)
                } else {
                    server_tls(&name, t)
                }
                .map_err(|e| (s, e.to_string()))?;
                first_tls.get_or_insert_with(|| connect.clone());
                tls.insert(addr, connect);
            }
        }
        let fallback = match (settings.first(), first_tls) {
            (_, None) => Fallback::Plain,
            (Some(first), Some(connect)) if settings.iter().all(|t| t == first) => {
                Fallback::Tls(connect)
            }
            _ => Fallback::Refuse,
        };
        Ok(ServerConnector {
            plain: TcpConnect::new(),
            tls: Arc::new(tls),
            fallback,
        })
    }
}

/// The TLS connector of one server, named `backend/server` in its log lines.
pub(crate) fn server_tls(
    name: &str,
    t: &config::ServerTls,
) -> Result<TlsConnect<TcpConnect>, lb_tls::TlsError> {
    let version = |v: config::TlsVersion| match v {
        config::TlsVersion::Tls12 => lb_tls::TlsVersion::Tls12,
        config::TlsVersion::Tls13 => lb_tls::TlsVersion::Tls13,
    };
    let mut b = TlsConnect::builder().name(name).verify(match t.verify {
        ServerVerify::None => lb_tls::Verify::None,
        _ => lb_tls::Verify::Required,
    });
    if let Some(path) = &t.ca_file {
        b = b.ca_file(path)?;
    }
    if let Some(path) = &t.crt {
        b = b.client_cert(lb_tls::Cert::load(path)?);
    }
    if let Some(sni) = &t.sni {
        b = b.sni(sni.as_str());
    }
    if let Some(host) = &t.verifyhost {
        b = b.verifyhost(host.as_str());
    }
    if !t.alpn.is_empty() {
        b = b.alpn(&t.alpn.join(","))?;
    }
    if let Some(v) = t.min_version {
        b = b.min_version(version(v));
    }
    if let Some(v) = t.max_version {
        b = b.max_version(version(v));
    }
    if t.no_ssl_reuse {
        b = b.session_cache(0);
    }
    b.build(TcpConnect::new())
}

/// Whether an HTTP backend talks HTTP/2 to its servers: when every server offers ALPN
/// `h2` alone (`ssl alpn h2`). The pools have one protocol per backend, so any other
/// backend talks HTTP/1.1, and `h2` is taken out of the ALPN its servers are offered
/// (`alpn h2,http/1.1` offers `http/1.1`), with a warning at start.
pub(crate) fn backend_wants_h2(servers: &[config::Server]) -> bool {
    !servers.is_empty()
        && servers
            .iter()
            .all(|s| s.tls.as_ref().is_some_and(|t| t.alpn == ["h2"]))
}

/// A connection to a server.
pub(crate) enum ServerIo {
    /// Plain TCP (or Unix, or in-memory).
    Plain(Stream),
    /// TLS.
    Tls(Box<TlsStream<Stream>>),
}

impl Service<Address> for ServerConnector {
    type Response = ServerIo;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<ServerIo>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, addr: Address) -> Self::Future {
        let tls = match (self.tls.get(&addr), &self.fallback) {
            (Some(tls), _) | (None, Fallback::Tls(tls)) => tls.clone(),
            (None, Fallback::Plain) => {
                let plain = self.plain.clone();
                return Box::pin(async move { plain.oneshot(addr).await.map(ServerIo::Plain) });
            }
            (None, Fallback::Refuse) => {
                return Box::pin(async move {
                    Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        format!(
                            "no ssl settings for {addr}: its backend mixes ssl and plain \
                             servers, and this address was not known at start"
                        ),
                    ))
                })
            }
        };
        Box::pin(async move {
            tls.oneshot(addr)
                .await
                .map(|s| ServerIo::Tls(Box::new(s)))
                .map_err(io::Error::from)
        })
    }
}

/// The connector of TCP backends: their proxy forwards between two [`Stream`]s; a TLS
/// connection travels as a [`Stream::Layered`] with the addresses of the TCP connection
/// underneath.
#[derive(Clone)]
pub(crate) struct StreamConnector(pub(crate) ServerConnector);

impl Service<Address> for StreamConnector {
    type Response = Stream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, addr: Address) -> Self::Future {
        let connecting = self.0.call(addr);
        Box::pin(async move {
            match connecting.await? {
                ServerIo::Plain(s) => Ok(s),
                ServerIo::Tls(tls) => {
                    let tcp = tls.get_ref().0;
                    let (peer, local) = (tcp.peer_addr()?, tcp.local_addr()?);
                    Ok(Stream::Layered(Layered::new(tls, peer, local)))
                }
            }
        })
    }
}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerIo::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ServerIo::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerIo::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ServerIo::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerIo::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ServerIo::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ServerIo::Plain(s) => s.is_write_vectored(),
            ServerIo::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerIo::Plain(s) => Pin::new(s).poll_flush(cx),
            ServerIo::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerIo::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ServerIo::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

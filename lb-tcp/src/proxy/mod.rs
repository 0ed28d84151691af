//! [`TcpProxy`]: HAProxy's `mode tcp` for one backend, as a tower service over connections.
//!
//! Per connection: pick a server with the backend's algorithm (source address, SNI and the
//! first payload bytes are the key material), wait in the backend queue if every server is
//! at maxconn, connect (retrying connection failures and redispatching per
//! [`Redispatch`]), optionally send a PROXY protocol header, replay any bytes already read
//! by inspection, then forward both ways with half-close and HAProxy's timeouts
//! ([`forward`](crate::forward)). The answer is a [`TcpSession`]: the server, timers,
//! bytes and termination state, for the log line and statistics.
//!
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use lb_core::{Algorithm, Backend, BalanceConfig, ServerConfig};
//! use lb_tcp::connect::TcpConnect;
//! use lb_tcp::listen::{Acceptor, BindSpec, Shutdown};
//! use lb_tcp::proxy::{TcpProxy, TcpProxyConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let backend = Backend::new(
//!     "db",
//!     BalanceConfig::new(Algorithm::LeastConn),
//!     [ServerConfig::new("pg1", "10.0.0.1:5432".parse()?),
//!      ServerConfig::new("pg2", "10.0.0.2:5432".parse()?)],
//! )?;
//! let proxy = TcpProxy::new(backend, TcpConnect::new(), TcpProxyConfig::default());
//! let listeners = BindSpec::parse("127.0.0.1:5432")?.bind()?;
//! let shutdown = Shutdown::new();
//! Acceptor::new("pg", listeners).maxconn(1000).serve(proxy.into_handler(), shutdown.signal()).await;
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use lb_core::{
    Address, Backend, BoxError, InFlight, QueueFull, QueueTimeout, Redispatch, RequestKey, Server,
};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use crate::forward::{forward, ForwardConfig, Meter, Outcome};
use crate::net::{Peer, Stream};
use crate::proxy_protocol::{ProxyHeader, Ssl, SslOptions, Tlvs};

/// Which PROXY protocol header to send to servers (`send-proxy`, `send-proxy-v2`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SendProxy {
    /// None.
    #[default]
    Off,
    /// Version 1 (text).
    V1,
    /// Version 2 (binary) with these TLVs (the SNI becomes the authority TLV when set).
    V2(Box<Tlvs>),
}

/// Settings of a TCP backend, with HAProxy's defaults.
#[derive(Clone, Debug)]
pub struct TcpProxyConfig {
    /// Forwarding: buffer size and the client/server/tunnel/fin timeouts.
    pub forward: ForwardConfig,
    /// Connection retries (`retries`, default 3).
    pub retries: u32,
    /// Redispatch policy.
    pub redispatch: Redispatch,
    /// `timeout connect`.
    pub connect_timeout: Option<Duration>,
    /// PROXY protocol towards servers.
    pub send_proxy: SendProxy,
    /// With [`SendProxy::V2`]: the `PP2_TYPE_SSL` TLV, built from each connection's
    /// [`Connection::ssl`] (`send-proxy-v2-ssl`, `send-proxy-v2-ssl-cn`). Default is none.
    pub send_proxy_ssl: Option<SslOptions>,
}

impl Default for TcpProxyConfig {
    fn default() -> Self {
        TcpProxyConfig {
            forward: ForwardConfig::new(),
            retries: 3,
            redispatch: Redispatch::Off,
            connect_timeout: None,
            send_proxy: SendProxy::Off,
            send_proxy_ssl: None,
        }
    }
}

/// One client connection handed to the proxy.
#[derive(Debug)]
pub struct Connection {
    /// The client stream.
    pub io: Stream,
    /// Bytes already read from the client (PROXY header leftovers, inspected payload),
    /// sent to the server first.
    pub prefix: Bytes,
    /// The client address (after PROXY protocol, if any).
    pub client: Option<SocketAddr>,
    /// The address the client connected to.
    pub local: Option<SocketAddr>,
    /// The TLS server name seen by inspection, if any.
    pub sni: Option<String>,
    /// The client's TLS facts when the frontend terminated TLS (for the PROXY v2 SSL TLV).
    pub ssl: Option<Box<Ssl>>,
}

impl Connection {
    /// A connection with nothing read yet.
    pub fn new(io: Stream, peer: &Peer) -> Self {
        Connection {
            io,
            prefix: Bytes::new(),
            client: peer.socket_addr(),
            local: peer.local_socket_addr(),
            sni: None,
            ssl: None,
        }
    }
}

/// What happened to one proxied connection (HAProxy's tcplog fields).
#[derive(Debug)]
pub struct TcpSession {
    /// The backend.
    pub backend: Arc<str>,
    /// The server, if one was reached.
    pub server: Option<Arc<str>>,
    /// The client address.
    pub client: Option<SocketAddr>,
    /// Time in the queue (`Tw`).
    pub queue_time: Option<Duration>,
    /// Time to connect, retries included (`Tc`).
    pub connect_time: Option<Duration>,
    /// Total time (`Tt`).
    pub total_time: Duration,
    /// Bytes from the client.
    pub bytes_in: u64,
    /// Bytes to the client (`%B`).
    pub bytes_out: u64,
    /// Connection retries.
    pub retries: u32,
    /// Whether a retry went to another server.
    pub redispatched: bool,
    /// HAProxy's two-letter termination state (`--`, `SC`, `sQ`, `CD`, `sD`...).
    pub termination: &'static str,
    /// The forwarding outcome, when forwarding started.
    pub outcome: Option<Outcome>,
}

impl TcpSession {
    /// Logs the session on `lb::access` at info level, as frontend `frontend`'s tcplog
    /// line (structured fields).
    pub fn log(&self, frontend: &str) {
        tracing::info!(
            target: "lb::access",
            frontend,
            backend = %self.backend,
            server = self.server.as_deref().unwrap_or("<NOSRV>"),
            client = ?self.client,
            tw = ?self.queue_time,
            tc = ?self.connect_time,
            tt = ?self.total_time,
            bytes_out = self.bytes_out,
            bytes_in = self.bytes_in,
            termination = self.termination,
            retries = self.retries,
            "tcp session"
        );
    }
}

/// The future of [`TcpProxy::into_handler`]'s service.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// Byte counters of a frontend or any other aggregate.
#[derive(Debug, Default)]
pub struct ByteCounters {
    /// From clients.
    pub bytes_in: AtomicU64,
    /// To clients.
    pub bytes_out: AtomicU64,
}

/// Adds forwarded bytes to the server's stats and to frontend counters.
struct Meters<'a> {
    server: &'a Server,
    frontend: &'a ByteCounters,
}

impl Meter for Meters<'_> {
    #[inline]
    fn client_to_server(&self, n: u64) {
        self.server.stats().bytes_in.fetch_add(n, Relaxed);
        self.frontend.bytes_in.fetch_add(n, Relaxed);
    }
    #[inline]
    fn server_to_client(&self, n: u64) {
        self.server.stats().bytes_out.fetch_add(n, Relaxed);
        self.frontend.bytes_out.fetch_add(n, Relaxed);
    }
}

/// The TCP proxy of one backend.
pub struct TcpProxy<C> {
    backend: Backend,
    connect: C,
    cfg: Arc<TcpProxyConfig>,
    counters: Arc<ByteCounters>,
}

impl<C: Clone> Clone for TcpProxy<C> {
    fn clone(&self) -> Self {
        TcpProxy {
            backend: self.backend.clone(),
            connect: self.connect.clone(),
            cfg: self.cfg.clone(),
            counters: self.counters.clone(),
        }
    }
}

impl<C> fmt::Debug for TcpProxy<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpProxy")
            .field("backend", &self.backend.name())
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl<C> TcpProxy<C>
where
    C: Service<Address, Response = Stream, Error = io::Error> + Clone + Send + 'static,
    C::Future: Send,
{
    /// A proxy to `backend`, connecting with `connect`.
    pub fn new(backend: Backend, connect: C, cfg: TcpProxyConfig) -> Self {
        TcpProxy {
            backend,
            connect,
            cfg: Arc::new(cfg),
            counters: Arc::new(ByteCounters::default()),
        }
    }

    /// Counts bytes into `counters` too (a frontend's).
    pub fn with_counters(mut self, counters: Arc<ByteCounters>) -> Self {
        self.counters = counters;
        self
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// A handler for [`Acceptor::serve`](crate::listen::Acceptor::serve): proxies each
    /// accepted connection and logs its session at debug level.
    pub fn into_handler(
        self,
    ) -> impl Service<(Stream, Peer), Response = (), Error = BoxError, Future = HandlerFuture>
           + Clone
           + Send
           + 'static
    where
        C: Sync,
    {
        tower::service_fn(move |(io, peer): (Stream, Peer)| {
            let proxy = self.clone();
            Box::pin(async move {
                let session = proxy.proxy(Connection::new(io, &peer)).await;
                tracing::debug!(target: "lb::access", backend = %session.backend, server = ?session.server, termination = session.termination, bytes_in = session.bytes_in, bytes_out = session.bytes_out, "tcp session");
                Ok::<(), BoxError>(())
            }) as HandlerFuture
        })
    }

    /// Proxies one connection to its end.
    pub async fn proxy(&self, conn: Connection) -> TcpSession {
        let start = Instant::now();
        let cfg = &self.cfg;
        let mut session = TcpSession {
            backend: Arc::from(self.backend.name()),
            server: None,
            client: conn.client,
            queue_time: None,
            connect_time: None,
            total_time: Duration::ZERO,
            bytes_in: 0,
            bytes_out: 0,
            retries: 0,
            redispatched: false,
            termination: "--",
            outcome: None,
        };
        let admit = {
            let mut key = RequestKey::new().payload(&conn.prefix);
            if let Some(c) = conn.client {
                key = key.source(c.ip());
            }
            if let Some(sni) = conn.sni.as_deref() {
                key = key.sni(sni);
            }
            self.backend.admit(&key, start)
        };
        let mut guard = match admit.await {
            Ok(g) => g,
            Err(e) => {
                session.termination = if e.is::<QueueTimeout>() {
                    "sQ"
                } else if e.is::<QueueFull>() {
                    "SQ"
                } else {
                    "SC"
                };
                session.total_time = start.elapsed();
                return session;
            }
        };
        session.queue_time = Some(start.elapsed());
        let connect_start = Instant::now();
        let mut attempt = 0;
        let mut server_io = loop {
            session.server = Some(guard.server().name_arc().clone());
            match self.connect_once(guard.server()).await {
                Ok(io) => break io,
                Err(e) => {
                    let stats = guard.server().stats();
                    stats.connect_errors.fetch_add(1, Relaxed);
                    tracing::debug!(server = guard.server().name(), error = %e, "connect failed");
                    if attempt >= cfg.retries {
                        session.termination = if e.kind() == io::ErrorKind::TimedOut {
                            "sC"
                        } else {
                            "SC"
                        };
                        session.retries = attempt;
                        session.total_time = start.elapsed();
                        return session;
                    }
                    attempt += 1;
                    stats.retries.fetch_add(1, Relaxed);
                    if cfg.redispatch.applies(attempt, cfg.retries) {
                        stats.redispatches.fetch_add(1, Relaxed);
                        session.redispatched = true;
                        let avoid = guard.server().id();
                        drop(guard);
                        let admit = {
                            let mut key = RequestKey::new().avoid(avoid);
                            if let Some(c) = conn.client {
                                key = key.source(c.ip());
                            }
                            self.backend.admit(&key, Instant::now())
                        };
                        guard = match admit.await {
                            Ok(g) => g,
                            Err(_) => {
                                session.termination = "SC";
                                session.retries = attempt;
                                session.total_time = start.elapsed();
                                return session;
                            }
                        };
                    } else {
                        tokio::time::sleep(lb_core::retry_delay(cfg.connect_timeout)).await;
                    }
                }
            }
        };
        session.retries = attempt;
        session.connect_time = Some(connect_start.elapsed());

        let outcome = self.forward_session(conn, &mut server_io, &guard).await;
        if outcome.termination.side() == Some(crate::forward::Side::Server)
            && !outcome.termination.is_normal()
        {
            // eresp: the server failed mid-session.
            guard.server().stats().response_errors.fetch_add(1, Relaxed);
        }
        session.bytes_in = outcome.client_to_server;
        session.bytes_out = outcome.server_to_client;
        session.termination = outcome.haproxy_code();
        session.total_time = start.elapsed();
        session.outcome = Some(outcome);
        drop(guard);
        session
    }

    async fn connect_once(&self, server: &Server) -> io::Result<Stream> {
        let addr = (*server.address()).clone();
        let fut = self.connect.clone().oneshot(addr);
        match self.cfg.connect_timeout {
            Some(t) => tokio::time::timeout(t, fut).await.unwrap_or_else(|_| {
                Err(io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))
            }),
            None => fut.await,
        }
    }

    async fn forward_session(
        &self,
        conn: Connection,
        server_io: &mut Stream,
        guard: &InFlight,
    ) -> Outcome {
        let meters = Meters {
            server: guard.server(),
            frontend: &self.counters,
        };
        let Connection {
            io: mut client_io,
            prefix,
            client,
            local,
            sni,
            ssl,
        } = conn;
        // PROXY header, then the bytes inspection already read, before anything else.
        let mut head = bytes::BytesMut::new();
        if let (Some(src), Some(dst)) = (client, local) {
            let header = match &self.cfg.send_proxy {
                SendProxy::Off => None,
                SendProxy::V1 => Some(ProxyHeader::v1(src, dst)),
                SendProxy::V2(tlvs) => {
                    let mut tlvs = (**tlvs).clone();
                    if tlvs.authority.is_none() {
                        tlvs.authority = sni;
                    }
                    if let Some(opts) = self.cfg.send_proxy_ssl {
                        // HAProxy sends the TLV on clear connections too, empty.
                        tlvs.ssl = Some(ssl.map_or_else(Ssl::default, |s| s.for_server(opts)));
                    }
                    Some(ProxyHeader::v2(src, dst).with_tlvs(tlvs))
                }
            };
            if let Some(h) = header {
                if let Err(e) = h.encode(&mut head) {
                    tracing::warn!(error = %e, "cannot encode the PROXY header");
                }
            }
        }
        if !prefix.is_empty() {
            meters.client_to_server(prefix.len() as u64);
            head.extend_from_slice(&prefix);
        }
        if !head.is_empty() {
            if let Err(e) = server_io.write_all(&head).await {
                let f = forward(&mut client_io, server_io, &self.cfg.forward, ());
                return f.into_outcome(crate::forward::Termination::ServerError(e.kind()));
            }
        }
        forward(&mut client_io, server_io, &self.cfg.forward, meters).await
    }
}

impl<C> Service<Connection> for TcpProxy<C>
where
    C: Service<Address, Response = Stream, Error = io::Error> + Clone + Send + Sync + 'static,
    C::Future: Send,
{
    type Response = TcpSession;
    type Error = std::convert::Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<TcpSession, std::convert::Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, conn: Connection) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.proxy(conn).await) })
    }
}

#[cfg(test)]
mod tests;

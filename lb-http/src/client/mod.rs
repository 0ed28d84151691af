//! Connections to servers: per-server pools of HTTP/1.1 connections and a shared HTTP/2
//! connection, with HAProxy's `http-reuse` modes.
//!
//! HTTP/1.1 goes through a hand-written client (no task or channel per connection: the
//! request future and then the response body own the connection). A connection goes back
//! to the idle pool only after both the request and the response ended cleanly and the
//! server allows keep-alive; one left in an unknown state (body dropped early, error,
//! leftover bytes) is closed. Idle connections are taken newest first, checked without
//! waiting (a connection the server closed is discarded), and dropped after the idle
//! timeout. HTTP/2 (prior knowledge) uses hyper's client, one shared connection per server.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::{Request, Response};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use lb_core::{Address, BoxError, Server};

use crate::body::ProxyBody;

pub(crate) mod h1;

pub use h1::decode::ProtoError;
pub use h1::{BodyError, Failure};
use h1::{BoxIo, H1Conn};

/// HAProxy's `http-reuse` modes: when may a request use an idle server connection that
/// another client connection opened?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReuseMode {
    /// Never share: every client connection gets its own server connections.
    Never,
    /// The first request of a client connection opens a new connection (it may be a
    /// probe); later requests reuse idle ones. HAProxy's default.
    #[default]
    Safe,
    /// As safe, but first requests may reuse connections that were already reused once
    /// (proven to survive keep-alive).
    Aggressive,
    /// Any request reuses any idle connection.
    Always,
}

/// Protocol towards servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServerProto {
    /// HTTP/1.1.
    #[default]
    Http1,
    /// HTTP/2 with prior knowledge (h2c).
    Http2,
}

/// How the pools behave.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Reuse policy.
    pub reuse: ReuseMode,
    /// Idle connections older than this are closed. Default 5 s (`pool-purge-delay`).
    pub idle_timeout: Duration,
    /// Most idle connections kept per server. Default 64.
    pub max_idle: usize,
    /// Most connections open per server (`pool-max-conn`); `None` = unlimited.
    pub max_conns: Option<usize>,
    /// `timeout connect`.
    pub connect_timeout: Option<Duration>,
    /// Protocol towards servers.
    pub proto: ServerProto,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            reuse: ReuseMode::Safe,
            idle_timeout: Duration::from_secs(5),
            max_idle: 64,
            max_conns: None,
            connect_timeout: None,
            proto: ServerProto::Http1,
        }
    }
}

/// Why a request could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Connecting failed (refused, unreachable, timeout): the request was not sent and may
    /// be retried anywhere.
    #[error("connect to {server} failed: {source}")]
    Connect {
        /// The server.
        server: String,
        /// Why.
        source: io::Error,
    },
    /// The HTTP/2 handshake with the server failed.
    #[error("handshake with {server} failed: {source}")]
    Handshake {
        /// The server.
        server: String,
        /// Why.
        source: hyper::Error,
    },
    /// Too many connections to the server (`pool-max-conn`).
    #[error("server {0} is at pool-max-conn")]
    PoolFull(String),
    /// The request failed on the connection before a complete response head arrived.
    /// `request` is given back when its body was never read and the server sent no byte
    /// of a response, so that it may be replayed.
    #[error("request to {server} failed: {source}")]
    Request {
        /// The server.
        server: String,
        /// Why.
        source: BoxError,
        /// The request, when it can be replayed.
        request: Option<Box<Request<ProxyBody>>>,
        /// Whether any byte of the request was written to the connection.
        sent: bool,
        /// Whether the connection came from the idle pool.
        reused: bool,
        /// What went wrong, for `retry-on`.
        failure: Failure,
    },
}

/// Which client connection a request comes from, for the reuse policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReuseHint {
    /// The first request of its client connection.
    pub first: bool,
}

struct Idle {
    conn: H1Conn,
    since: Instant,
}

/// The idle HTTP/1 connections of one server. Response bodies hold it to return their
/// connection after a clean end.
pub(crate) struct IdlePool {
    cfg: Arc<PoolConfig>,
    idle: Mutex<VecDeque<Idle>>,
}

impl IdlePool {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `conn` for later requests (unless the reuse mode is `never`), dropping the
    /// oldest idle one past `max_idle`.
    pub(crate) fn put_back(&self, conn: H1Conn) {
        if self.cfg.reuse == ReuseMode::Never || self.cfg.max_idle == 0 {
            return;
        }
        let since = Instant::now();
        let mut idle = self.lock();
        if idle.len() >= self.cfg.max_idle {
            idle.pop_front();
        }
        idle.push_back(Idle { conn, since });
    }

    /// Takes an idle connection the policy allows, newest first.
    fn take(&self, hint: ReuseHint) -> Option<H1Conn> {
        let allow_any = match self.cfg.reuse {
            ReuseMode::Never => return None,
            ReuseMode::Always => true,
            ReuseMode::Safe | ReuseMode::Aggressive => !hint.first,
        };
        let mut idle = self.lock();
        if idle.is_empty() {
            return None;
        }
        let now = Instant::now();
        // Expired ones are at the front (oldest first).
        while idle
            .front()
            .is_some_and(|i| now.duration_since(i.since) >= self.cfg.idle_timeout)
        {
            idle.pop_front();
        }
        if allow_any {
            return idle.pop_back().map(|i| i.conn);
        }
        if self.cfg.reuse == ReuseMode::Aggressive {
            let pos = idle.iter().rposition(|i| i.conn.proven())?;
            return idle.remove(pos).map(|i| i.conn);
        }
        None
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// The connections of one server.
pub struct ServerPool<C> {
    server: Arc<Server>,
    connect: C,
    cfg: Arc<PoolConfig>,
    idle: Arc<IdlePool>,
    h2: tokio::sync::Mutex<Option<http2::SendRequest<ProxyBody>>>,
    open: Arc<AtomicUsize>,
    counters: std::sync::OnceLock<Option<Arc<crate::stats::ServerHttpCounters>>>,
}

impl<C> fmt::Debug for ServerPool<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerPool")
            .field("server", &self.server.name())
            .field("idle", &self.idle.len())
            .field("open", &self.open.load(Ordering::Relaxed))
            .finish()
    }
}

impl<C> ServerPool<C> {
    /// The server's HTTP statistics, looked up once with `lookup` and kept with the pool
    /// (the request path then pays one atomic load instead of a registry lookup).
    pub fn counters(
        &self,
        lookup: impl FnOnce() -> Option<Arc<crate::stats::ServerHttpCounters>>,
    ) -> Option<&Arc<crate::stats::ServerHttpCounters>> {
        self.counters.get_or_init(lookup).as_ref()
    }

    /// Idle HTTP/1 connections now.
    pub fn idle_count(&self) -> usize {
        self.idle.len()
    }

    /// Open connections now.
    pub fn open_count(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// Counts an open connection; decremented when the connection is dropped.
pub(crate) struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<C, IO> ServerPool<C>
where
    C: Service<Address, Response = IO, Error = io::Error> + Clone + Send + Sync + 'static,
    C::Future: Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// A pool for `server` connecting with `connect`.
    pub fn new(server: Arc<Server>, connect: C, cfg: Arc<PoolConfig>) -> Self {
        ServerPool {
            server,
            connect,
            idle: Arc::new(IdlePool {
                cfg: cfg.clone(),
                idle: Mutex::new(VecDeque::new()),
            }),
            cfg,
            h2: tokio::sync::Mutex::new(None),
            open: Arc::new(AtomicUsize::new(0)),
            counters: std::sync::OnceLock::new(),
        }
    }

    async fn connect_io(&self) -> Result<(IO, OpenGuard), SendError> {
        if let Some(max) = self.cfg.max_conns {
            if self.open.load(Ordering::Relaxed) >= max {
                return Err(SendError::PoolFull(self.server.name().to_owned()));
            }
        }
        let addr = (*self.server.address()).clone();
        let fut = self.connect.clone().oneshot(addr);
        let io = match self.cfg.connect_timeout {
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timeout")),
            },
            None => fut.await,
        }
        .map_err(|source| SendError::Connect {
            server: self.server.name().to_owned(),
            source,
        })?;
        self.open.fetch_add(1, Ordering::Relaxed);
        Ok((io, OpenGuard(self.open.clone())))
    }

    /// A connection for one request: an idle one the reuse policy allows, or a new one.
    ///
    /// # Errors
    /// [`SendError::Connect`], [`SendError::Handshake`] or [`SendError::PoolFull`]: the
    /// request was not sent and may be retried.
    pub async fn checkout(self: &Arc<Self>, hint: ReuseHint) -> Result<Conn<C>, SendError> {
        if self.cfg.proto == ServerProto::Http2 {
            return self.checkout_h2().await;
        }
        while let Some(mut conn) = self.idle.take(hint) {
            // A connection the server closed while idle fails here: skip it.
            if conn.is_usable() {
                return Ok(Conn {
                    pool: self.clone(),
                    kind: ConnKind::H1(conn),
                    reused: true,
                });
            }
        }
        let (io, guard) = self.connect_io().await?;
        Ok(Conn {
            pool: self.clone(),
            kind: ConnKind::H1(H1Conn::new(Box::new(io), guard)),
            reused: false,
        })
    }

    async fn checkout_h2(self: &Arc<Self>) -> Result<Conn<C>, SendError> {
        let mut slot = self.h2.lock().await;
        if let Some(s) = slot.as_ref() {
            if !s.is_closed() && self.cfg.reuse != ReuseMode::Never {
                return Ok(Conn {
                    pool: self.clone(),
                    kind: ConnKind::H2(s.clone()),
                    reused: true,
                });
            }
        }
        let (io, guard) = self.connect_io().await?;
        let (sender, task) = http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(io))
            .await
            .map_err(|source| SendError::Handshake {
                server: self.server.name().to_owned(),
                source,
            })?;
        tokio::spawn(async move {
            let _guard = guard;
            if let Err(e) = task.await {
                tracing::debug!(error = %e, "h2 server connection ended with an error");
            }
        });
        *slot = Some(sender.clone());
        Ok(Conn {
            pool: self.clone(),
            kind: ConnKind::H2(sender),
            reused: false,
        })
    }
}

enum ConnKind {
    H1(H1Conn),
    H2(http2::SendRequest<ProxyBody>),
}

/// A server connection checked out for one request. [`Conn::send`] consumes it: an
/// HTTP/1 connection travels with the response body and returns to the pool after a clean
/// end of the exchange; dropping it closes it.
pub struct Conn<C> {
    pool: Arc<ServerPool<C>>,
    kind: ConnKind,
    reused: bool,
}

impl<C> fmt::Debug for Conn<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.kind {
            ConnKind::H1(_) => "h1",
            ConnKind::H2(_) => "h2",
        };
        f.debug_struct("Conn")
            .field("server", &self.pool.server.name())
            .field("proto", &proto)
            .field("reused", &self.reused)
            .finish()
    }
}

/// How to send a request.
#[derive(Clone, Copy, Debug, Default)]
pub struct SendOptions {
    /// The request asks to switch protocols (Upgrade, CONNECT): on a 101 (or a 2xx to
    /// CONNECT) the connection is handed over in [`Sent::upgrade`].
    pub upgrade: bool,
    /// `timeout server` while the response body streams: inactivity longer than this ends
    /// the body with an error (HTTP/1 servers).
    pub body_timeout: Option<Duration>,
    /// `timeout server` for the response head: past it the request fails with
    /// [`Failure::Timeout`].
    pub head_timeout: Option<Duration>,
}

/// A response, with the connection when the server switched protocols.
#[derive(Debug)]
pub struct Sent {
    /// The response; its body streams from the server.
    pub response: Response<ProxyBody>,
    /// The switched connection, for a tunnel.
    pub upgrade: Option<ServerUpgrade>,
}

/// A server connection after a protocol switch.
pub struct ServerUpgrade(UpgradeKind);

enum UpgradeKind {
    H1(BoxIo),
    Hyper(hyper::upgrade::OnUpgrade),
}

impl fmt::Debug for ServerUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerUpgrade")
    }
}

/// The byte stream of a switched connection.
pub type UpgradedIo = Pin<Box<dyn AsyncReadWrite>>;

/// `AsyncRead + AsyncWrite + Send`, for [`UpgradedIo`].
pub trait AsyncReadWrite: AsyncRead + AsyncWrite + Send {}

impl<T: AsyncRead + AsyncWrite + Send> AsyncReadWrite for T {}

impl ServerUpgrade {
    /// Waits for the switched connection.
    ///
    /// # Errors
    /// When the server connection failed during the switch (HTTP/2).
    pub async fn into_io(self) -> Result<UpgradedIo, BoxError> {
        Ok(match self.0 {
            UpgradeKind::H1(io) => Box::pin(io),
            UpgradeKind::Hyper(on) => Box::pin(TokioIo::new(on.await?)),
        })
    }
}

impl<C> Conn<C> {
    /// Whether the connection came from the idle pool (or is a shared h2 connection).
    pub fn is_reused(&self) -> bool {
        self.reused
    }

    /// Sends the request and waits for the response head.
    ///
    /// # Errors
    /// [`SendError::Request`], with the request given back when it can be replayed.
    pub async fn send(self, req: Request<ProxyBody>, opts: SendOptions) -> Result<Sent, SendError> {
        let server = || self.pool.server.name().to_owned();
        match self.kind {
            ConnKind::H1(conn) => {
                let h1_opts = h1::SendOptions {
                    upgrade: opts.upgrade,
                    read_timeout: opts.body_timeout,
                    head_timeout: opts.head_timeout,
                };
                match conn.send(req, h1_opts, self.pool.idle.clone()).await {
                    Ok(r) => Ok(Sent {
                        response: r.response,
                        upgrade: r.upgrade.map(|io| ServerUpgrade(UpgradeKind::H1(io))),
                    }),
                    Err(e) => Err(SendError::Request {
                        server: server(),
                        source: e.source,
                        request: e.request.map(Box::new),
                        sent: e.sent,
                        reused: self.reused,
                        failure: e.failure,
                    }),
                }
            }
            ConnKind::H2(mut c) => {
                // A closed connection fails in try_send_request, which gives the request
                // back.
                let _ = c.ready().await;
                let sending = c.try_send_request(req);
                let result = match opts.head_timeout {
                    Some(t) => match tokio::time::timeout(t, sending).await {
                        Ok(r) => r,
                        Err(_) => {
                            return Err(SendError::Request {
                                server: server(),
                                source: "server timeout before the response head".into(),
                                request: None,
                                sent: true,
                                reused: self.reused,
                                failure: Failure::Timeout,
                            })
                        }
                    },
                    None => sending.await,
                };
                match result {
                    Ok(mut resp) => {
                        let upgrade = opts.upgrade.then(|| {
                            ServerUpgrade(UpgradeKind::Hyper(hyper::upgrade::on(&mut resp)))
                        });
                        Ok(Sent {
                            response: resp.map(ProxyBody::incoming),
                            upgrade,
                        })
                    }
                    Err(mut e) => {
                        let request = e.take_message().map(Box::new);
                        Err(SendError::Request {
                            server: server(),
                            sent: request.is_none(),
                            request,
                            source: e.into_error().into(),
                            reused: self.reused,
                            failure: Failure::Other,
                        })
                    }
                }
            }
        }
    }
}

type PoolEntry<C> = (Arc<Server>, Arc<ServerPool<C>>);

/// Keeps one [`ServerPool`] per server, created on first use.
pub struct Pools<C> {
    connect: C,
    cfg: Arc<PoolConfig>,
    pools: Mutex<Vec<PoolEntry<C>>>,
}

impl<C> fmt::Debug for Pools<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pools").field("cfg", &self.cfg).finish()
    }
}

impl<C, IO> Pools<C>
where
    C: Service<Address, Response = IO, Error = io::Error> + Clone + Send + Sync + 'static,
    C::Future: Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Pools connecting with `connect`.
    pub fn new(connect: C, cfg: PoolConfig) -> Self {
        Pools {
            connect,
            cfg: Arc::new(cfg),
            pools: Mutex::new(Vec::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.cfg
    }

    /// The pool of `server`.
    pub fn get(&self, server: &Arc<Server>) -> Arc<ServerPool<C>> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, p)) = pools.iter().find(|(s, _)| Arc::ptr_eq(s, server)) {
            return p.clone();
        }
        // Forget pools of servers nobody else holds (removed from their backend).
        pools.retain(|(s, _)| Arc::strong_count(s) > 2);
        let p = Arc::new(ServerPool::new(
            server.clone(),
            self.connect.clone(),
            self.cfg.clone(),
        ));
        pools.push((server.clone(), p.clone()));
        p
    }
}

/// A boxed future, for the few cold paths that need one.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

//! [`HttpProxy`]: the per-request reverse-proxy service of one backend.
//!
//! For each request: normalize the target and Host between HTTP versions, strip hop-by-hop
//! headers, add forwarding headers, take a slot on a server ([`Backend::admit`]: balance,
//! maxconn, queue), send the request on a pooled connection (retrying connection failures,
//! redispatching per `option redispatch`), and stream the response back. Every failure
//! becomes a generated response (503, 502, 504...), never a hung connection. The server
//! slot is released and the connection returned to its pool when the response body ends.

mod retry;
mod upgrade;

pub use retry::{RetryOn, UnknownRetryOn};

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http::{Method, Request, Response, StatusCode, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tower::Service;

use lb_core::{Address, Backend, BoxError, InFlight, QueueFull, QueueTimeout, RequestKey};

use crate::body::{BodyEnd, ProxyBody};
use crate::client::{Failure, Pools, ReuseHint, SendError, SendOptions, Sent, ServerProto};
use crate::errors::ErrorPages;
use crate::headers::{self, ForwardedOptions, Scheme};
use crate::log::{LogRecord, ServerName, TerminationState};
use crate::server::{ConnContext, NewConnService};
use crate::stats::{ProxyCounters, ProxyOptions, ServerHttpCounters, StatsRegistry};

pub use lb_core::Redispatch;

/// What passive health observation hears about one server (HAProxy's `observe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// Connecting to the server failed.
    Layer4Error,
    /// The server answered (or the proxy answered for it: 502 on a broken response, 504 on
    /// a timeout) with this status.
    Status(u16),
}

/// Receives [`Observation`]s: `(server name, what happened)`.
pub type ObserveHook = Arc<dyn Fn(&str, Observation) + Send + Sync>;

/// Per-backend proxy settings, with HAProxy's defaults.
#[derive(Clone)]
pub struct ProxyConfig {
    /// Connection retries (`retries`, default 3).
    pub retries: u32,
    /// Redispatch policy.
    pub redispatch: Redispatch,
    /// Which failures are retried (`retry-on`, default `conn-failure`).
    pub retry_on: RetryOn,
    /// Largest request body accepted; larger ones get 413 (announced lengths before
    /// anything is sent, streamed ones as soon as they pass the limit). `None`: no limit.
    pub max_request_body: Option<u64>,
    /// `timeout server`: the response head must arrive within it, else 504.
    pub timeout_server: Option<Duration>,
    /// `timeout tunnel`: inactivity of upgraded connections (WebSocket, CONNECT).
    pub timeout_tunnel: Option<Duration>,
    /// Forwarding headers (`option forwardfor`, Forwarded, X-Forwarded-Proto/Host, Via).
    pub forwarded: ForwardedOptions,
    /// Generated responses.
    pub errors: ErrorPages,
    /// Log each request on `lb::access` in HAProxy's httplog format.
    pub log: bool,
    /// Passive health observation of the servers' answers.
    pub observe: Option<ObserveHook>,
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("retries", &self.retries)
            .field("redispatch", &self.redispatch)
            .field("retry_on", &self.retry_on)
            .field("max_request_body", &self.max_request_body)
            .field("timeout_server", &self.timeout_server)
            .field("timeout_tunnel", &self.timeout_tunnel)
            .field("forwarded", &self.forwarded)
            .field("errors", &self.errors)
            .field("log", &self.log)
            .field("observe", &self.observe.is_some())
            .finish()
    }
}

fn observe(cfg: &ProxyConfig, server: &str, what: Observation) {
    if let Some(h) = &cfg.observe {
        h(server, what);
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            retries: 3,
            redispatch: Redispatch::Off,
            retry_on: RetryOn::default(),
            max_request_body: None,
            timeout_server: None,
            timeout_tunnel: None,
            forwarded: ForwardedOptions::default(),
            errors: ErrorPages::new(),
            log: false,
            observe: None,
        }
    }
}

/// The reverse proxy of one backend, as a `Service<Request<Incoming>>` that always answers.
pub struct HttpProxy<C> {
    backend: Backend,
    name: Arc<str>,
    conn: Option<ConnContext>,
    stats: Option<Stats>,
    pools: Arc<Pools<C>>,
    cfg: Arc<ProxyConfig>,
}

impl<C> Clone for HttpProxy<C> {
    fn clone(&self) -> Self {
        HttpProxy {
            backend: self.backend.clone(),
            name: self.name.clone(),
            conn: self.conn.clone(),
            stats: self.stats.clone(),
            pools: self.pools.clone(),
            cfg: self.cfg.clone(),
        }
    }
}

impl<C> fmt::Debug for HttpProxy<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProxy")
            .field("backend", &self.backend.name())
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl<C, IO> HttpProxy<C>
where
    C: Service<Address, Response = IO, Error = io::Error> + Clone + Send + Sync + 'static,
    C::Future: Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// A proxy to `backend` through `pools`.
    pub fn new(backend: Backend, pools: Arc<Pools<C>>, cfg: ProxyConfig) -> Self {
        HttpProxy {
            name: Arc::from(backend.name()),
            conn: None,
            stats: None,
            backend,
            pools,
            cfg: Arc::new(cfg),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Counts into `registry`: the backend's row (registered there if it is not yet) and its
    /// servers' HTTP counters.
    pub fn with_stats(mut self, registry: StatsRegistry) -> Self {
        let backend = registry
            .backend_counters(&self.name)
            .unwrap_or_else(|| registry.register_backend(&self.backend, ProxyOptions::http()));
        self.stats = Some(Stats { registry, backend });
        self
    }

    /// This proxy, serving the client connection `ctx` (addresses for logs and
    /// forwarding headers, request count for the reuse policy).
    pub fn for_connection(&self, ctx: &ConnContext) -> Self {
        let mut p = self.clone();
        p.conn = Some(ctx.clone());
        p
    }
}

impl<C, IO> NewConnService for HttpProxy<C>
where
    C: Service<Address, Response = IO, Error = io::Error> + Clone + Send + Sync + 'static,
    C::Future: Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Service = HttpProxy<C>;

    fn new_conn_service(&self, ctx: &ConnContext) -> Self::Service {
        self.for_connection(ctx)
    }
}

/// Where a proxy counts.
#[derive(Clone)]
struct Stats {
    registry: StatsRegistry,
    backend: Arc<ProxyCounters>,
}

/// Counts one response into the backend's and the server's rows.
fn count_response(stats: &Option<Stats>, server: Option<&Arc<ServerHttpCounters>>, status: u16) {
    if let Some(st) = stats {
        st.backend.response(status);
        if let Some(sc) = server {
            sc.response(status);
        }
    }
}

/// What the log line of a request needs, filled along the way.
struct Trace {
    accepted: SystemTime,
    start: Instant,
    client: Option<std::net::SocketAddr>,
    frontend: Arc<str>,
    backend: Arc<str>,
    request_line: String,
    queued_at: Option<Instant>,
    connect_ms: Option<u64>,
    response_ms: Option<u64>,
    server: Option<Arc<str>>,
    retries: u32,
    redispatched: bool,
    /// The frontend's log format, when it has one.
    format: Option<Arc<crate::log::LogFormat>>,
    /// The request's unique ID (`%ID`).
    unique_id: Option<String>,
    /// The client connection's TLS facts (`%ft`, `%sslv`, `%sslc`).
    tls: (bool, Option<&'static str>, Option<&'static str>),
}

/// Counts a retry and picks the server of the next attempt: another one when
/// `option redispatch` applies, else the same one after HAProxy's delay
/// (min(timeout connect, 1 s)). `None`: no server is left.
async fn retry(
    guard: InFlight,
    attempt: u32,
    cfg: &ProxyConfig,
    connect_timeout: Option<Duration>,
    backend: &Backend,
    stats: &Option<Stats>,
    trace: &mut Trace,
) -> Option<InFlight> {
    trace.retries = attempt;
    let srv_stats = guard.server().stats();
    srv_stats.retries.fetch_add(1, Relaxed);
    if let Some(st) = stats {
        st.backend.retry();
    }
    if cfg.redispatch.applies(attempt, cfg.retries) {
        let avoid = guard.server().id();
        srv_stats.redispatches.fetch_add(1, Relaxed);
        if let Some(st) = stats {
            st.backend.redispatch();
        }
        drop(guard);
        trace.redispatched = true;
        backend
            .admit(&RequestKey::new().avoid(avoid), Instant::now())
            .await
            .ok()
    } else {
        tokio::time::sleep(lb_core::retry_delay(connect_timeout)).await;
        Some(guard)
    }
}

/// A request kept whole for layer 7 retries.
struct Replay {
    method: Method,
    uri: http::Uri,
    version: Version,
    headers: http::HeaderMap,
    body: bytes::Bytes,
}

impl Replay {
    /// Reads the body when it fits the replay buffer. Returns the copy (if the request
    /// can be replayed) and the body to send otherwise.
    async fn buffer(
        parts: &http::request::Parts,
        body: ProxyBody,
    ) -> Result<(Option<Replay>, ProxyBody), BoxError> {
        use http_body_util::BodyExt;
        let small = body.is_end_stream()
            || body
                .size_hint()
                .exact()
                .is_some_and(|n| n <= RetryOn::REPLAY_BUFFER);
        if !small {
            return Ok((None, body));
        }
        let data = body.collect().await?.to_bytes();
        let replay = Replay {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            version: parts.version,
            headers: parts.headers.clone(),
            body: data,
        };
        Ok((Some(replay), ProxyBody::empty()))
    }

    fn request(&self) -> Request<ProxyBody> {
        let mut r = Request::new(ProxyBody::full(self.body.clone()));
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.version_mut() = self.version;
        *r.headers_mut() = self.headers.clone();
        r
    }
}

/// Methods whose requests can be replayed without changing the outcome (RFC 9110 §9.2.2).
fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Trace {
    fn record(&self, status: u16, bytes: u64, term: TerminationState) -> Option<LogRecord> {
        let client = self.client?;
        let now = Instant::now();
        let mut r = LogRecord::new(client, self.accepted, self.frontend.clone());
        r.backend = self.backend.clone();
        r.server = match &self.server {
            Some(s) => ServerName::Named(s.clone()),
            None => ServerName::NoServer,
        };
        r.t_request = Some(0);
        r.t_queue = self.queued_at.map(|q| ms(q.duration_since(self.start)));
        r.t_connect = self.connect_ms;
        r.t_response = self.response_ms;
        r.t_active = Some(ms(now.duration_since(self.start)));
        r.status = Some(status);
        r.bytes_out = bytes;
        r.termination = term;
        r.retries = self.retries;
        r.redispatched = self.redispatched;
        r.request_line = Some(self.request_line.clone());
        r.unique_id = self.unique_id.clone();
        (r.frontend_tls, r.ssl_version, r.ssl_cipher) = self.tls;
        Some(r)
    }
}

fn emit(enabled: bool, trace: &Trace, status: u16, bytes: u64, term: TerminationState) {
    if enabled {
        if let Some(r) = trace.record(status, bytes, term) {
            match &trace.format {
                Some(f) => f.emit(&r),
                None => crate::log::emit(&r),
            }
        }
    }
}

impl<C, IO> Service<Request<Incoming>> for HttpProxy<C>
where
    C: Service<Address, Response = IO, Error = io::Error> + Clone + Send + Sync + 'static,
    C::Future: Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        self.serve(req)
    }
}

/// The future of [`HttpProxy::serve`].
pub type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

impl<C, IO> HttpProxy<C>
where
    C: Service<Address, Response = IO, Error = io::Error> + Clone + Send + Sync + 'static,
    C::Future: Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Proxies one request; the same as `Service::call`, through a shared reference (no
    /// clone of the proxy per request).
    pub fn serve(&self, mut req: Request<Incoming>) -> ResponseFuture {
        let start = Instant::now();
        let info = self.conn.as_ref().map(|c| c.info.clone());
        let hint = ReuseHint {
            first: self.conn.as_ref().is_some_and(|c| c.state.requests() == 1),
        };
        let cfg = self.cfg.clone();
        let logging = cfg.log || self.conn.as_ref().is_some_and(|c| c.log.is_some());
        let mut trace = Trace {
            accepted: info.as_ref().map_or_else(SystemTime::now, |i| i.accepted),
            start,
            client: info.as_ref().and_then(|i| i.client),
            frontend: info
                .as_ref()
                .map_or_else(|| Arc::from("-"), |i| i.frontend.clone()),
            backend: self.name.clone(),
            request_line: if logging {
                format!("{} {} {:?}", req.method(), req.uri(), req.version())
            } else {
                String::new()
            },
            queued_at: None,
            connect_ms: None,
            response_ms: None,
            server: None,
            retries: 0,
            redispatched: false,
            format: self.conn.as_ref().and_then(|c| c.log.clone()),
            unique_id: None,
            tls: info.as_ref().map_or((false, None, None), |i| {
                (i.tls, i.ssl_version, i.ssl_cipher)
            }),
        };
        if let Some(uid) = self.conn.as_ref().and_then(|c| c.unique_id.as_ref()) {
            // Rendered from what is known when the request arrives.
            let id = match (trace.client, self.conn.as_ref()) {
                (Some(client), Some(c)) => {
                    let mut r = LogRecord::new(client, trace.accepted, trace.frontend.clone());
                    r.frontend_addr = c.info.local;
                    r.request_counter = u64::from(c.state.requests());
                    let mut out = String::new();
                    uid.format.render(&r, &mut out);
                    out
                }
                _ => String::new(),
            };
            if let Some(h) = &uid.header {
                if let Ok(v) = http::HeaderValue::from_str(&id) {
                    req.headers_mut().insert(h.clone(), v);
                }
            }
            trace.unique_id = Some(id);
        }

        // Upgrades (WebSocket, any 101) and CONNECT keep their hop-by-hop signalling.
        let upgrade = headers::upgrade_request(req.headers());
        let is_connect = req.method() == Method::CONNECT;
        let client_upgrade =
            (upgrade.is_some() || is_connect).then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let from = parts.version;
        let to = match self.pools.config().proto {
            ServerProto::Http1 => Version::HTTP_11,
            ServerProto::Http2 => Version::HTTP_2,
        };
        let tls = info.as_ref().is_some_and(|i| i.tls);
        let scheme = if tls { Scheme::Https } else { Scheme::Http };
        if let Err(e) = headers::normalize_request_target(&mut parts, from, to, scheme) {
            tracing::debug!(error = %e, "invalid request target");
            emit(logging, &trace, 400, 0, TerminationState::proxy_request());
            return Box::pin(async move { Ok(cfg.errors.response(StatusCode::BAD_REQUEST)) });
        }
        if upgrade.is_some() {
            headers::strip_hop_by_hop_keep_upgrade(&mut parts.headers);
        } else {
            headers::strip_hop_by_hop(&mut parts.headers);
        }
        if from == Version::HTTP_2 && to != Version::HTTP_2 {
            // An HTTP/2 client always accepts trailers; tell an HTTP/1.1 server so.
            parts
                .headers
                .insert(http::header::TE, http::HeaderValue::from_static("trailers"));
        }
        if let Some(client) = trace.client {
            let host = parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
                .or_else(|| parts.uri.authority().map(|a| a.to_string()));
            headers::apply_forwarded(
                &mut parts.headers,
                &cfg.forwarded,
                client,
                info.as_ref().and_then(|i| i.local),
                scheme,
                host.as_deref(),
                from,
            );
        }

        if let Some(max) = cfg.max_request_body {
            let announced = body.size_hint().lower();
            if announced > max {
                emit(logging, &trace, 413, 0, TerminationState::proxy_request());
                return Box::pin(
                    async move { Ok(cfg.errors.response(StatusCode::PAYLOAD_TOO_LARGE)) },
                );
            }
        }
        let admit = {
            let path = parts.uri.path_and_query().map(|p| p.as_str());
            let mut key = RequestKey::new().headers(&parts.headers);
            if let Some(p) = path {
                key = key.uri(p);
            }
            if let Some(c) = trace.client {
                key = key.source(c.ip());
            }
            self.backend.admit(&key, start)
        };
        let backend = self.backend.clone();
        let pools = self.pools.clone();
        let stats = self.stats.clone();
        if let Some(st) = &stats {
            st.backend.request_at(start);
        }
        Box::pin(async move {
            let queued = admit.server().is_none();
            let mut guard = match admit.await {
                Ok(g) => g,
                Err(e) => {
                    let term = if e.is::<QueueTimeout>() {
                        TerminationState::queue_timeout()
                    } else if e.is::<QueueFull>() {
                        TerminationState::queue_full()
                    } else {
                        TerminationState::no_server()
                    };
                    if let Some(st) = &stats {
                        st.backend.response(503);
                    }
                    emit(logging, &trace, 503, 0, term);
                    return Ok(cfg.errors.response(StatusCode::SERVICE_UNAVAILABLE));
                }
            };
            if queued {
                trace.queued_at = logging.then(Instant::now);
            } else {
                trace.queued_at = Some(start);
            }
            // Layer 7 retries replay the request from a copy of its head and body; the
            // body is read first (it must fit the replay buffer).
            let mut body = ProxyBody::incoming(body);
            if let Some(max) = cfg
                .max_request_body
                .filter(|_| body.size_hint().exact().is_none())
            {
                body = ProxyBody::boxed(http_body_util::Limited::new(body, max as usize));
            }
            let replay = if cfg.retry_on.layer7()
                && client_upgrade.is_none()
                && is_idempotent(&parts.method)
            {
                match Replay::buffer(&parts, body).await {
                    Ok((replay, rest)) => {
                        body = rest;
                        replay
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "reading the request body failed");
                        if e.downcast_ref::<http_body_util::LengthLimitError>()
                            .is_some()
                        {
                            emit(logging, &trace, 413, 0, TerminationState::proxy_request());
                            return Ok(cfg.errors.response(StatusCode::PAYLOAD_TOO_LARGE));
                        }
                        emit(
                            logging,
                            &trace,
                            400,
                            0,
                            TerminationState::client_abort_request(),
                        );
                        return Ok(cfg.errors.response(StatusCode::BAD_REQUEST));
                    }
                }
            } else {
                None
            };
            let mut request = match &replay {
                Some(r) => r.request(),
                None => Request::from_parts(parts, body),
            };
            let mut attempt = 0u32;
            // Timers only matter for the log line: no clock reads otherwise.
            let connect_start = logging.then(Instant::now);
            let (sent, srv_counters) = loop {
                trace.server = Some(guard.server().name_arc().clone());
                let pool = pools.get(guard.server());
                let srv_counters: Option<Arc<ServerHttpCounters>> = stats.as_ref().and_then(|st| {
                    pool.counters(|| {
                        st.registry
                            .server_counters(&trace.backend, guard.server().name())
                    })
                    .cloned()
                });
                let conn = match pool.checkout(hint).await {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Connection failure: nothing was sent, the request is intact.
                        guard.server().stats().connect_errors.fetch_add(1, Relaxed);
                        observe(&cfg, guard.server().name(), Observation::Layer4Error);
                        if let Some(st) = &stats {
                            st.backend.connect_error();
                        }
                        tracing::debug!(error = %e, "connect failed");
                        if attempt < cfg.retries && cfg.retry_on.conn_failure() {
                            attempt += 1;
                            let next = retry(
                                guard,
                                attempt,
                                &cfg,
                                pools.config().connect_timeout,
                                &backend,
                                &stats,
                                &mut trace,
                            );
                            if let Some(g) = next.await {
                                guard = g;
                                continue;
                            }
                            emit(logging, &trace, 503, 0, TerminationState::no_server());
                            return Ok(cfg.errors.response(StatusCode::SERVICE_UNAVAILABLE));
                        }
                        count_response(&stats, srv_counters.as_ref(), 503);
                        emit(logging, &trace, 503, 0, TerminationState::no_server());
                        return Ok(cfg.errors.response(StatusCode::SERVICE_UNAVAILABLE));
                    }
                };
                trace.connect_ms = connect_start.map(|t| ms(t.elapsed()));
                if let Some(st) = &stats {
                    if conn.is_reused() {
                        st.backend.connection_reused();
                    } else {
                        st.backend.connect_attempt();
                    }
                    if let Some(sc) = &srv_counters {
                        sc.request_at(start);
                    }
                }
                let opts = SendOptions {
                    upgrade: client_upgrade.is_some(),
                    body_timeout: cfg.timeout_server,
                    head_timeout: cfg.timeout_server,
                };
                let result = conn.send(request, opts).await;
                let can_retry = replay.is_some() && attempt < cfg.retries;
                // What failed, when something did: (status, termination, retry it).
                let failed = match result {
                    Ok(sent) => {
                        let status = sent.response.status().as_u16();
                        if !(can_retry && cfg.retry_on.status(status)) {
                            break (sent, srv_counters);
                        }
                        // A status the configuration retries on: try again elsewhere.
                        observe(&cfg, guard.server().name(), Observation::Status(status));
                        drop(sent);
                        tracing::debug!(
                            status,
                            server = guard.server().name(),
                            "retrying on status"
                        );
                        None
                    }
                    Err(SendError::Request {
                        request: Some(r),
                        sent,
                        reused,
                        ..
                    }) if !sent || (reused && is_idempotent(r.method())) => {
                        // Nothing was sent, or a pooled connection was closed under an
                        // idempotent request before any response byte: replay at once.
                        request = *r;
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, server = guard.server().name(), "request failed");
                        let (failure, too_large) = match &e {
                            SendError::Request {
                                failure, source, ..
                            } => (
                                Some(*failure),
                                source
                                    .downcast_ref::<http_body_util::LengthLimitError>()
                                    .is_some(),
                            ),
                            _ => (None, false),
                        };
                        if too_large {
                            emit(logging, &trace, 413, 0, TerminationState::proxy_request());
                            return Ok(cfg.errors.response(StatusCode::PAYLOAD_TOO_LARGE));
                        }
                        let retry_it = failure.is_some_and(|f| cfg.retry_on.failure(f));
                        if failure == Some(Failure::Timeout) {
                            Some((504, TerminationState::server_timeout_headers(), retry_it))
                        } else {
                            Some((502, TerminationState::server_closed_headers(), retry_it))
                        }
                    }
                };
                if let Some((status, term, retry_it)) = failed {
                    guard.server().stats().response_errors.fetch_add(1, Relaxed);
                    if let Some(st) = &stats {
                        st.backend.response_error();
                    }
                    observe(&cfg, guard.server().name(), Observation::Status(status));
                    if !(retry_it && can_retry) {
                        count_response(&stats, srv_counters.as_ref(), status);
                        emit(logging, &trace, status, 0, term);
                        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                        return Ok(cfg.errors.response(code));
                    }
                }
                // A layer 7 retry: the replay buffer rebuilds the request.
                attempt += 1;
                match retry(
                    guard,
                    attempt,
                    &cfg,
                    pools.config().connect_timeout,
                    &backend,
                    &stats,
                    &mut trace,
                )
                .await
                {
                    Some(g) => guard = g,
                    None => {
                        emit(logging, &trace, 503, 0, TerminationState::no_server());
                        return Ok(cfg.errors.response(StatusCode::SERVICE_UNAVAILABLE));
                    }
                }
                request = replay
                    .as_ref()
                    .map(Replay::request)
                    .expect("layer 7 retries only happen with a replay buffer");
            };
            trace.response_ms = connect_start.map(|t| ms(t.elapsed()));
            let Sent {
                response: resp,
                upgrade: server_upgrade,
            } = sent;
            let status = resp.status();
            count_response(&stats, srv_counters.as_ref(), status.as_u16());
            observe(
                &cfg,
                guard.server().name(),
                Observation::Status(status.as_u16()),
            );
            let (mut rparts, rbody) = resp.into_parts();

            let switched =
                status == StatusCode::SWITCHING_PROTOCOLS || (is_connect && status.is_success());
            if let (Some(client_upgrade), Some(server_upgrade), true) =
                (client_upgrade, server_upgrade, switched)
            {
                // The switched connection leaves the pool for good.
                drop(rbody);
                upgrade::spawn_tunnel(client_upgrade, server_upgrade, cfg.timeout_tunnel, guard);
                emit(
                    logging,
                    &trace,
                    status.as_u16(),
                    0,
                    TerminationState::normal(),
                );
                return Ok(Response::from_parts(rparts, ProxyBody::empty()));
            }

            headers::strip_hop_by_hop(&mut rparts.headers);
            let log = logging;
            let body = rbody.on_complete(move |end: BodyEnd| {
                if let Some(st) = &stats {
                    st.backend.add_bytes_out(end.bytes);
                    if !end.eos {
                        st.backend.client_abort();
                    }
                }
                let term = if end.eos {
                    TerminationState::normal()
                } else {
                    TerminationState::client_abort_data()
                };
                emit(log, &trace, status.as_u16(), end.bytes, term);
                drop(guard);
            });
            Ok(Response::from_parts(rparts, body))
        })
    }
}

//! The HTTP frontend: one client connection served by hyper with HTTP/1.0, HTTP/1.1
//! (keep-alive, pipelining) and HTTP/2 (prior-knowledge h2c) auto-detected, HAProxy's
//! timeouts and limits, and a per-request tower service.

mod io;
mod signal;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tower::Service;

pub use io::{ConnState, IoTimeouts, TimedIo};

use crate::body::ProxyBody;
use crate::errors::ErrorPages;

/// Limits and timeouts of an HTTP frontend, with HAProxy's defaults.
#[derive(Clone, Debug)]
pub struct FrontendConfig {
    /// The frontend's name (logs, stats).
    pub name: Arc<str>,
    /// `timeout client`: inactivity while serving a request. Default: none.
    pub timeout_client: Option<Duration>,
    /// `timeout http-request`: the whole request head must arrive within it, else 408.
    /// Default: none (falls back to `timeout client`).
    pub timeout_http_request: Option<Duration>,
    /// `timeout http-keep-alive`: idle wait for the next request. Default: none (falls
    /// back to http-request, then client).
    pub timeout_http_keep_alive: Option<Duration>,
    /// Most header lines per request (`tune.http.maxhdr`, 101 with the request line).
    pub max_headers: usize,
    /// Largest request head in bytes (tune.bufsize - tune.maxrewrite = 15360).
    pub max_head_size: usize,
    /// Accept HTTP/2 (prior knowledge, h2c). Default: true.
    pub http2: bool,
    /// Generated error pages.
    pub errors: ErrorPages,
    /// The frontend's statistics (sessions, requests, responses by class, bytes).
    pub counters: Option<Arc<crate::stats::ProxyCounters>>,
    /// The access-log format of requests on this frontend; `None` logs nothing.
    pub log: Option<Arc<crate::log::LogFormat>>,
    /// `unique-id-format` and `unique-id-header`: a request ID rendered per request, sent
    /// to servers in the header (when named) and logged as `%ID`.
    pub unique_id: Option<UniqueId>,
    /// The 408 page as raw bytes, rendered once.
    page_408: std::sync::OnceLock<Bytes>,
}

impl FrontendConfig {
    /// A frontend named `name` with HAProxy's defaults.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        FrontendConfig {
            name: name.into(),
            timeout_client: None,
            timeout_http_request: None,
            timeout_http_keep_alive: None,
            max_headers: 100,
            max_head_size: 15360,
            http2: true,
            errors: ErrorPages::new(),
            counters: None,
            log: None,
            unique_id: None,
            page_408: std::sync::OnceLock::new(),
        }
    }

    fn io_timeouts(&self) -> IoTimeouts {
        IoTimeouts {
            http_request: self.timeout_http_request,
            keep_alive: self.timeout_http_keep_alive,
            client: self.timeout_client,
        }
    }
}

/// What a request knows about its connection.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// The client address (after PROXY protocol, if any).
    pub client: Option<SocketAddr>,
    /// The local address the client connected to.
    pub local: Option<SocketAddr>,
    /// The frontend's name.
    pub frontend: Arc<str>,
    /// When the connection was accepted.
    pub accepted: SystemTime,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The TLS version (`TLSv1.3`), for `%sslv` in logs.
    pub ssl_version: Option<&'static str>,
    /// The TLS cipher suite, for `%sslc` in logs.
    pub ssl_cipher: Option<&'static str>,
}

/// A client connection's context, handed to the per-connection service factory.
#[derive(Clone, Debug)]
pub struct ConnContext {
    /// Addresses, frontend, TLS.
    pub info: Arc<ConnInfo>,
    /// Request counting and the phase of the connection.
    pub state: Arc<ConnState>,
    /// The frontend's access-log format (`option httplog` or `log-format`), if it logs.
    pub log: Option<Arc<crate::log::LogFormat>>,
    /// The frontend's request ID settings.
    pub unique_id: Option<UniqueId>,
}

/// `unique-id-format` (rendered per request) and `unique-id-header` (where it goes).
#[derive(Clone, Debug)]
pub struct UniqueId {
    /// The format, in HAProxy's log-format language.
    pub format: Arc<crate::log::LogFormat>,
    /// The request header carrying the ID to servers, if any.
    pub header: Option<http::HeaderName>,
}

/// Builds the request service of one client connection.
///
/// Connection facts travel in the service rather than in each request's extensions (an
/// extension map costs several allocations per request). Closures
/// `Fn(&ConnContext) -> S` implement it; [`HttpProxy`](crate::proxy::HttpProxy) does too.
pub trait NewConnService {
    /// The per-connection service.
    type Service;

    /// The service for the connection described by `ctx`.
    fn new_conn_service(&self, ctx: &ConnContext) -> Self::Service;
}

impl<F, S> NewConnService for F
where
    F: Fn(&ConnContext) -> S,
{
    type Service = S;

    fn new_conn_service(&self, ctx: &ConnContext) -> S {
        self(ctx)
    }
}

/// Serves one client connection until it ends or `shutdown` resolves (then gracefully:
/// HTTP/1 closes after the response in flight, HTTP/2 sends GOAWAY).
///
/// `make` builds the connection's service, which is called once per request; it answers
/// every request (errors become responses before they reach hyper).
///
/// # Errors
/// The connection's I/O or protocol error, for logging; the client connection is closed.
pub async fn serve_connection<I, M, S>(
    io: I,
    info: ConnInfo,
    cfg: &FrontendConfig,
    make: &M,
    shutdown: impl Future<Output = ()>,
) -> Result<(), lb_core::BoxError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    M: NewConnService<Service = S> + ?Sized,
    S: Service<Request<Incoming>, Response = Response<ProxyBody>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let state = Arc::new(ConnState::new(cfg.counters.clone()));
    let _session = cfg.counters.as_ref().map(|c| {
        c.connection_accepted();
        c.open_session()
    });
    let page_408 = cfg
        .page_408
        .get_or_init(|| cfg.errors.http1_bytes(StatusCode::REQUEST_TIMEOUT))
        .clone();
    let io = TimedIo::new(io, state.clone(), cfg.io_timeouts(), page_408)
        .with_errors(cfg.errors.clone());
    let ctx = ConnContext {
        info: Arc::new(info),
        state,
        log: cfg.log.clone(),
        unique_id: cfg.unique_id.clone(),
    };
    let svc = PerRequest {
        inner: make.new_conn_service(&ctx),
        state: ctx.state,
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(cfg.max_head_size.max(8192))
        .max_headers(cfg.max_headers)
        .keep_alive(true)
        .half_close(false)
        .writev(true);
    builder
        .http2()
        .max_header_list_size(cfg.max_head_size as u32);
    if !cfg.http2 {
        builder = builder.http1_only();
    }
    // Boxed: the connection future is large, and moving it costs more than one allocation.
    let mut conn = Box::pin(builder.serve_connection_with_upgrades(
        TokioIo::new(io),
        hyper_util::service::TowerToHyperService::new(svc),
    ));
    let mut shutdown = signal::Signalled::new(shutdown);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(r) = conn.as_mut().poll(cx) {
            return std::task::Poll::Ready(r);
        }
        if shutdown.poll_signal(cx).is_ready() {
            conn.as_mut().graceful_shutdown();
            // Drive the graceful close now.
            return conn.as_mut().poll(cx);
        }
        std::task::Poll::Pending
    })
    .await
}

/// Marks request start/end in [`ConnState`].
#[derive(Clone)]
struct PerRequest<S> {
    inner: S,
    state: Arc<ConnState>,
}

impl<S> fmt::Debug for PerRequest<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerRequest")
            .field("state", &self.state)
            .finish()
    }
}

impl<S> Service<Request<Incoming>> for PerRequest<S>
where
    S: Service<Request<Incoming>, Response = Response<ProxyBody>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = futures_util_map::MapResponse<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        self.state.request_started();
        futures_util_map::MapResponse::new(self.inner.call(req), self.state.clone())
    }
}

mod futures_util_map {
    use super::*;
    use pin_project_lite::pin_project;
    use std::pin::Pin;
    use std::task::{ready, Context, Poll};

    pin_project! {
        /// Hooks the end of the response body to the connection state.
        pub(crate) struct MapResponse<F> {
            #[pin]
            inner: F,
            state: Option<Arc<ConnState>>,
        }

        impl<F> PinnedDrop for MapResponse<F> {
            fn drop(this: Pin<&mut Self>) {
                // Dropped before a response: the request is over.
                if let Some(s) = this.project().state.take() {
                    s.request_finished(0);
                }
            }
        }
    }

    impl<F> MapResponse<F> {
        pub(crate) fn new(inner: F, state: Arc<ConnState>) -> Self {
            MapResponse {
                inner,
                state: Some(state),
            }
        }
    }

    impl<F> Future for MapResponse<F>
    where
        F: Future<Output = Result<Response<ProxyBody>, Infallible>>,
    {
        type Output = Result<Response<ProxyBody>, Infallible>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.project();
            let Ok(resp) = ready!(this.inner.poll(cx));
            let state = this.state.take();
            if let Some(s) = &state {
                s.responded(resp.status().as_u16());
            }
            Poll::Ready(Ok(resp.map(|b| match state {
                Some(s) => b.finish_on(s),
                None => b,
            })))
        }
    }
}

//! An HTTP frontend of the running configuration, in HAProxy's order: monitor-uri, the
//! frontend's `http-request` rules (header rewrites, `deny`, `use-service`), the stats
//! page, `use_backend` rules or the default backend, then the chosen backend's
//! `http-request` rules.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::server_io::ServerConnector;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use lb_http::body::ProxyBody;
use lb_http::errors::ErrorPages;
use lb_http::proxy::HttpProxy;
use lb_http::server::{ConnContext, NewConnService};
use lb_http::stats::StatsService;
use lb_tls::TlsInfo;
use tower::Service;

use super::acl::Acls;
use super::rules::{ConnFacts, HttpRules, Verdict};
use crate::config::Condition;

type BoxResponse = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

/// The shared, immutable part of an HTTP frontend.
#[derive(Debug)]
pub(crate) struct HttpRoutes {
    pub(crate) monitor_fail: Option<Condition>,
    pub(crate) all_backends: std::collections::HashMap<Arc<str>, lb_core::Backend>,
    pub(crate) acls: Acls,
    pub(crate) monitor_uri: Option<String>,
    pub(crate) stats: Option<StatsService>,
    /// The frontend's `http-request` rules.
    pub(crate) request_rules: HttpRules,
    pub(crate) rules: Vec<(Option<Condition>, usize)>,
    pub(crate) default_backend: Option<usize>,
    pub(crate) backends: Vec<HttpProxy<ServerConnector>>,
    pub(crate) errors: ErrorPages,
    /// Each backend's `http-request` rules, in the order of `backends`.
    pub(crate) backend_rules: Vec<Arc<HttpRules>>,
}

/// The per-connection request service of an HTTP frontend. One `Arc`: hyper's tower
/// adapter clones the service for every request.
#[derive(Clone, Debug)]
pub(crate) struct HttpFrontend {
    inner: Arc<Conn>,
}

#[derive(Debug)]
struct Conn {
    routes: Arc<HttpRoutes>,
    conn: Option<ConnContext>,
    /// The client's TLS handshake, when this frontend terminated it.
    tls: Option<Arc<TlsInfo>>,
    /// The backends' proxies bound to this connection (built once per connection, not per
    /// request).
    proxies: Vec<HttpProxy<ServerConnector>>,
}

impl HttpFrontend {
    pub(crate) fn new(routes: Arc<HttpRoutes>) -> Self {
        let proxies = routes.backends.clone();
        HttpFrontend {
            inner: Arc::new(Conn {
                routes,
                conn: None,
                tls: None,
                proxies,
            }),
        }
    }

    /// The same frontend for connections whose TLS handshake gave `tls` (what the
    /// `ssl_fc_*` and `ssl_c_*` fetches read).
    pub(crate) fn with_tls(&self, tls: Arc<TlsInfo>) -> Self {
        HttpFrontend {
            inner: Arc::new(Conn {
                routes: self.inner.routes.clone(),
                conn: self.inner.conn.clone(),
                tls: Some(tls),
                proxies: self.inner.proxies.clone(),
            }),
        }
    }
}

impl NewConnService for HttpFrontend {
    type Service = HttpFrontend;

    fn new_conn_service(&self, ctx: &ConnContext) -> HttpFrontend {
        let routes = self.inner.routes.clone();
        let proxies = routes
            .backends
            .iter()
            .map(|p| p.for_connection(ctx))
            .collect();
        HttpFrontend {
            inner: Arc::new(Conn {
                routes,
                conn: Some(ctx.clone()),
                tls: self.inner.tls.clone(),
                proxies,
            }),
        }
    }
}

impl Service<Request<Incoming>> for HttpFrontend {
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = BoxResponse;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> BoxResponse {
        let this = &*self.inner;
        let r = &this.routes;
        let info = this.conn.as_ref().map(|c| c.info.clone());
        let conn = ConnFacts {
            info: info.as_deref(),
            tls: this.tls.as_deref(),
            backends: &r.all_backends,
        };
        let (mut parts, body) = req.into_parts();
        // monitor-uri: intercepted right after parsing, never logged: 200 while the service
        // is fine, 503 while `monitor fail` holds (a backend down, say).
        if r.monitor_uri.as_deref() == Some(parts.uri.path()) {
            let failing = r.monitor_fail.is_some()
                && r.acls.check(r.monitor_fail.as_ref(), &conn.samples(&parts));
            let resp = if failing {
                r.errors.response(StatusCode::SERVICE_UNAVAILABLE)
            } else {
                let mut resp = Response::new(ProxyBody::full(
                    "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n",
                ));
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/html"),
                );
                resp.headers_mut().insert(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("no-cache"),
                );
                resp
            };
            return Box::pin(async move { Ok(resp) });
        }
        if !r.request_rules.is_empty() {
            match r.request_rules.apply(&mut parts, &conn) {
                Verdict::Continue => {}
                Verdict::Respond(resp) => return Box::pin(async move { Ok(*resp) }),
                Verdict::Service(mut svc) => {
                    return Box::pin(svc.call(Request::from_parts(parts, body)))
                }
            }
        }
        let chosen = {
            let samples = conn.samples(&parts);
            if let Some(stats) = &r.stats {
                let target = parts
                    .uri
                    .path_and_query()
                    .map_or(parts.uri.path(), |p| p.as_str());
                if stats.config().matches(target) {
                    let mut svc = stats.clone();
                    return Box::pin(svc.call(Request::from_parts(parts, body)));
                }
            }
            r.rules
                .iter()
                .find(|(c, _)| r.acls.check(c.as_ref(), &samples))
                .map(|(_, i)| *i)
                .or(r.default_backend)
        };
        if let Some(rules) = chosen.and_then(|i| r.backend_rules.get(i)) {
            if !rules.is_empty() {
                match rules.apply(&mut parts, &conn) {
                    Verdict::Continue => {}
                    Verdict::Respond(resp) => return Box::pin(async move { Ok(*resp) }),
                    Verdict::Service(mut svc) => {
                        return Box::pin(svc.call(Request::from_parts(parts, body)))
                    }
                }
            }
        }
        let req = Request::from_parts(parts, body);
        match chosen.and_then(|i| this.proxies.get(i)) {
            Some(proxy) => proxy.serve(req),
            None => {
                // No backend: HAProxy answers 503.
                let resp = r.errors.response(StatusCode::SERVICE_UNAVAILABLE);
                Box::pin(async move { Ok(resp) })
            }
        }
    }
}

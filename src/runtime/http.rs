//! An HTTP frontend of the running configuration: applets (monitor-uri, stats page,
//! Prometheus) first, then `use_backend` rules, then the default backend.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use lb_http::body::ProxyBody;
use lb_http::errors::ErrorPages;
use lb_http::proxy::HttpProxy;
use lb_http::server::{ConnContext, NewConnService};
use lb_http::stats::{PrometheusService, StatsService};
use lb_tcp::connect::TcpConnect;
use tower::Service;

use super::acl::{Acls, HttpSamples};
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
    pub(crate) prometheus: Vec<(Option<Condition>, PrometheusService)>,
    pub(crate) rules: Vec<(Option<Condition>, usize)>,
    pub(crate) default_backend: Option<usize>,
    pub(crate) backends: Vec<HttpProxy<TcpConnect>>,
    pub(crate) errors: ErrorPages,
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
    /// The backends' proxies bound to this connection (built once per connection, not per
    /// request).
    proxies: Vec<HttpProxy<TcpConnect>>,
}

impl HttpFrontend {
    pub(crate) fn new(routes: Arc<HttpRoutes>) -> Self {
        let proxies = routes.backends.clone();
        HttpFrontend {
            inner: Arc::new(Conn {
                routes,
                conn: None,
                proxies,
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
        let (parts, body) = req.into_parts();
        let chosen = {
            let samples = HttpSamples {
                parts: &parts,
                src: info.as_ref().and_then(|i| i.client).map(|a| a.ip()),
                dst_port: info.as_ref().and_then(|i| i.local).map(|a| a.port()),
                tls: info.as_ref().is_some_and(|i| i.tls),
                backends: &r.all_backends,
            };
            if let Some(uri) = &r.monitor_uri {
                // Intercepted right after parsing, never logged: 200 while the service is
                // fine, 503 while `monitor fail` holds (a backend down, say).
                if parts.uri.path() == uri {
                    let failing =
                        r.monitor_fail.is_some() && r.acls.check(r.monitor_fail.as_ref(), &samples);
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
            }
            if let Some((_, prom)) = r
                .prometheus
                .iter()
                .find(|(c, _)| r.acls.check(c.as_ref(), &samples))
            {
                let mut svc = prom.clone();
                let req = Request::from_parts(parts, body);
                return Box::pin(svc.call(req));
            }
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

//! The stats page and the Prometheus endpoint as tower services.
//!
//! [`StatsService`] answers HAProxy's stats URI (`stats uri`, default `/haproxy?stats`):
//! any request whose path and query start with it. `GET` gives the HTML page, or the CSV
//! when the rest of the target holds `;csv` (`/haproxy?stats;csv`, `/stats;csv`,
//! `/stats?stats;csv`); the page also understands `;up` (hide down servers), `;norefresh`
//! and `;st=<code>` (the banner after an admin action). With `stats auth`, requests need
//! HTTP basic credentials (401 with `WWW-Authenticate` otherwise). With `stats admin`, the
//! page's forms `POST` actions that the service applies through a callback (by default the
//! [`StatsRegistry::apply`] of lb-core states and weights) before redirecting (303) back to
//! the page with the outcome. Other targets get a 404.
//!
//! [`PrometheusService`] answers every request with the exposition (promex's `scope=` and
//! `no-maint` query parameters apply).
//!
//! Both services are always ready and never fail (`Error = Infallible`).
//!
//! # Examples
//! ```
//! use http::{header, Request, StatusCode};
//! use lb_http::body::ProxyBody;
//! use lb_http::stats::{ProxyMode, StatsConfig, StatsRegistry, StatsService};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let stats = StatsRegistry::new();
//! stats.register_frontend("www", ProxyMode::Http);
//! let svc = StatsService::new(stats, StatsConfig::new("/stats").auth("admin", "s3cret"));
//!
//! let req = Request::get("/stats;csv").body(ProxyBody::empty()).unwrap();
//! let resp = svc.clone().oneshot(req).await.unwrap();
//! assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
//!
//! let req = Request::get("/stats;csv")
//!     .header(header::AUTHORIZATION, "Basic YWRtaW46czNjcmV0") // admin:s3cret
//!     .body(ProxyBody::empty())
//!     .unwrap();
//! let resp = svc.oneshot(req).await.unwrap();
//! assert_eq!(resp.status(), StatusCode::OK);
//! assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/csv");
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, LOCATION,
    WWW_AUTHENTICATE,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower::Service;

use lb_core::BoxError;

use super::admin::{parse_admin_post, AdminAction, AdminStatus};
use super::registry::StatsRegistry;
use super::{csv, html, prometheus};
use crate::body::ProxyBody;
use crate::errors::ErrorPage;

/// HAProxy's default stats URI.
pub const DEFAULT_URI: &str = "/haproxy?stats";
/// HAProxy's default authentication realm.
pub const DEFAULT_REALM: &str = "HAProxy Statistics";
/// The default limit on an admin form body (HAProxy limits it to one buffer).
pub const DEFAULT_MAX_POST: usize = 16 * 1024;

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HTTP basic authentication with a list of users (`stats auth user:password`, repeated).
///
/// # Examples
/// ```
/// use http::{header, HeaderMap, HeaderValue};
/// use lb_http::stats::BasicAuth;
///
/// let auth = BasicAuth::new("Stats").user("ops", "pw");
/// let mut h = HeaderMap::new();
/// assert!(!auth.check(&h));
/// h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic b3BzOnB3"));
/// assert!(auth.check(&h));
/// ```
#[derive(Clone)]
pub struct BasicAuth {
    realm: String,
    users: Vec<(String, String)>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("BasicAuth")
            .field("realm", &self.realm)
            .field("users", &users)
            .finish()
    }
}

impl BasicAuth {
    /// No user yet, in `realm` (quotes and control characters are dropped from it).
    pub fn new(realm: impl Into<String>) -> Self {
        let realm: String = realm.into();
        BasicAuth {
            realm: realm
                .chars()
                .filter(|&c| c != '"' && c != '\\' && !c.is_control())
                .collect(),
            users: Vec::new(),
        }
    }

    /// Adds a user.
    pub fn user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.push((user.into(), password.into()));
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Whether `headers` carry the credentials of one of the users.
    pub fn check(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, creds)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Some(decoded) = lb_core::codec::base64_decode(creds) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return false;
        };
        let (user, pass) = (&decoded[..colon], &decoded[colon + 1..]);
        self.users.iter().fold(false, |ok, (u, p)| {
            ok | (same(u.as_bytes(), user) & same(p.as_bytes(), pass))
        })
    }

    /// The 401 response asking for credentials.
    pub fn challenge(&self) -> Response<ProxyBody> {
        let mut r = ErrorPage::new(
            StatusCode::UNAUTHORIZED,
            "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n",
        )
        .response();
        let value = HeaderValue::from_str(&format!("Basic realm=\"{}\"", self.realm))
            .unwrap_or_else(|_| HeaderValue::from_static("Basic realm=\"HAProxy Statistics\""));
        r.headers_mut().insert(WWW_AUTHENTICATE, value);
        r
    }
}

/// How the stats page is served (HAProxy's `stats` keywords).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use lb_http::stats::StatsConfig;
///
/// let cfg = StatsConfig::new("/stats")
///     .auth("admin", "secret")
///     .admin(true)
///     .refresh(Duration::from_secs(10));
/// assert!(cfg.matches("/stats;csv"));
/// assert!(!cfg.matches("/other"));
/// ```
#[derive(Clone, Debug)]
pub struct StatsConfig {
    uri: String,
    auth: Option<BasicAuth>,
    admin: bool,
    refresh: Option<Duration>,
    show_legends: bool,
    hide_version: bool,
    prometheus_uri: Option<String>,
    node: Option<String>,
    max_post: usize,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig::new(DEFAULT_URI)
    }
}

impl StatsConfig {
    /// A page at `uri` (`stats uri`); no auth, no admin, no refresh.
    pub fn new(uri: impl Into<String>) -> Self {
        StatsConfig {
            uri: uri.into(),
            auth: None,
            admin: false,
            refresh: None,
            show_legends: false,
            hide_version: false,
            prometheus_uri: None,
            node: None,
            max_post: DEFAULT_MAX_POST,
        }
    }

    /// Adds a user (`stats auth user:password`); the page then requires credentials.
    pub fn auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        let auth = self
            .auth
            .take()
            .unwrap_or_else(|| BasicAuth::new(DEFAULT_REALM));
        self.auth = Some(auth.user(user, password));
        self
    }

    /// Sets the realm (`stats realm`). Default "HAProxy Statistics".
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        let users = self.auth.take().map(|a| a.users).unwrap_or_default();
        self.auth = Some(BasicAuth {
            users,
            ..BasicAuth::new(realm)
        });
        self
    }

    /// Enables the admin forms (`stats admin`). Default off.
    pub fn admin(mut self, on: bool) -> Self {
        self.admin = on;
        self
    }

    /// Reloads the page every `every` (`stats refresh`). Default none.
    pub fn refresh(mut self, every: Duration) -> Self {
        self.refresh = Some(every);
        self
    }

    /// Shows server addresses and algorithms (`stats show-legends`). Default off.
    pub fn show_legends(mut self, on: bool) -> Self {
        self.show_legends = on;
        self
    }

    /// Hides the version (`stats hide-version`). Default off.
    pub fn hide_version(mut self, on: bool) -> Self {
        self.hide_version = on;
        self
    }

    /// Links the page to a Prometheus endpoint.
    pub fn prometheus_uri(mut self, uri: impl Into<String>) -> Self {
        self.prometheus_uri = Some(uri.into());
        self
    }

    /// Shows a node name (`stats show-node`).
    pub fn node(mut self, name: impl Into<String>) -> Self {
        self.node = Some(name.into());
        self
    }

    /// The largest admin form body accepted. Default 16 KiB.
    pub fn max_post(mut self, bytes: usize) -> Self {
        self.max_post = bytes;
        self
    }

    /// The stats URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether a request target (path and query) is for the stats page.
    pub fn matches(&self, target: &str) -> bool {
        target.starts_with(&self.uri)
    }
}

/// The `;` options after the stats URI.
#[derive(Debug, Default)]
struct PageOptions {
    csv: bool,
    norefresh: bool,
    up: bool,
    status: Option<AdminStatus>,
}

impl PageOptions {
    fn parse(rest: &str) -> Self {
        let mut o = PageOptions::default();
        for token in rest.split(';').skip(1) {
            match token {
                "csv" => o.csv = true,
                "norefresh" => o.norefresh = true,
                "up" | "no-maint" => o.up = true,
                t => {
                    if let Some(code) = t.strip_prefix("st=") {
                        o.status = AdminStatus::from_code(code);
                    }
                }
            }
        }
        o
    }
}

type AdminFn = Arc<dyn Fn(AdminAction) -> Result<(), String> + Send + Sync>;

/// The stats page service. See the [module docs](self).
#[derive(Clone)]
pub struct StatsService {
    registry: StatsRegistry,
    cfg: Arc<StatsConfig>,
    on_admin: Option<AdminFn>,
}

impl fmt::Debug for StatsService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatsService")
            .field("cfg", &self.cfg)
            .field(
                "on_admin",
                &self.on_admin.as_ref().map(|_| "Fn(AdminAction)"),
            )
            .finish()
    }
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: String,
    head: bool,
) -> Response<ProxyBody> {
    let len = body.len();
    let mut r = Response::new(if head {
        ProxyBody::empty()
    } else {
        ProxyBody::full(Bytes::from(body))
    });
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    r
}

fn method_not_allowed(allow: &'static str) -> Response<ProxyBody> {
    let mut r = ErrorPage::builtin(StatusCode::METHOD_NOT_ALLOWED).response();
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

impl StatsService {
    /// The page for `registry`, served as `cfg` says.
    pub fn new(registry: StatsRegistry, cfg: StatsConfig) -> Self {
        StatsService {
            registry,
            cfg: Arc::new(cfg),
            on_admin: None,
        }
    }

    /// Applies admin actions through `f` instead of [`StatsRegistry::apply`] (to reach the
    /// health checker, or to log and audit). Only used when the config enables admin.
    pub fn on_admin(
        mut self,
        f: impl Fn(AdminAction) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.on_admin = Some(Arc::new(f));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &StatsConfig {
        &self.cfg
    }

    fn page(&self, opts: &PageOptions, head: bool) -> Response<ProxyBody> {
        let cfg = &self.cfg;
        let mut snap = self.registry.snapshot();
        if !cfg.show_legends {
            snap = snap.without_legends();
        }
        if opts.csv {
            return respond(StatusCode::OK, "text/csv", csv::render(&snap), head);
        }
        if opts.up {
            snap = snap.hide_down_servers();
        }
        let page_opts = html::HtmlOptions {
            uri: cfg.uri.clone(),
            admin: cfg.admin,
            refresh: cfg.refresh.filter(|_| !opts.norefresh),
            prometheus_uri: cfg.prometheus_uri.clone(),
            status: opts.status,
            hide_version: cfg.hide_version,
            node: cfg.node.clone(),
            hiding_down: opts.up,
        };
        respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            html::render(&snap, &page_opts),
            head,
        )
    }

    fn redirect(&self, status: AdminStatus) -> Response<ProxyBody> {
        let location = format!("{};st={}", self.cfg.uri, status.code());
        let mut r = Response::new(ProxyBody::empty());
        *r.status_mut() = StatusCode::SEE_OTHER;
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&location) {
            h.insert(LOCATION, v);
        }
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(CONTENT_LENGTH, HeaderValue::from(0));
        r
    }

    /// Applies a decoded form and says how it went.
    fn apply(&self, body: &[u8]) -> AdminStatus {
        let actions = match parse_admin_post(body) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(target: "lb::stats", error = %e, "invalid stats admin form");
                return AdminStatus::InvalidParams;
            }
        };
        if actions.is_empty() {
            return AdminStatus::NoChange;
        }
        let total = actions.len();
        let mut done = 0;
        for action in actions {
            let shown = action.to_string();
            let result = match &self.on_admin {
                Some(f) => f(action),
                None => self.registry.apply(&action),
            };
            match result {
                Ok(()) => {
                    done += 1;
                    tracing::info!(target: "lb::stats", action = %shown, "stats admin action");
                }
                Err(e) => {
                    tracing::warn!(target: "lb::stats", action = %shown, error = %e, "stats admin action failed");
                }
            }
        }
        match done {
            0 => AdminStatus::InvalidParams,
            d if d == total => AdminStatus::Done,
            _ => AdminStatus::Partial,
        }
    }
}

impl<B> Service<Request<B>> for StatsService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let target = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
        let Some(rest) = target.strip_prefix(self.cfg.uri.as_str()) else {
            return Box::pin(ready(Ok(
                ErrorPage::builtin(StatusCode::NOT_FOUND).response()
            )));
        };
        if let Some(auth) = &self.cfg.auth {
            if !auth.check(req.headers()) {
                return Box::pin(ready(Ok(auth.challenge())));
            }
        }
        let opts = PageOptions::parse(rest);
        let method = req.method().clone();
        if method == Method::GET || method == Method::HEAD {
            return Box::pin(ready(Ok(self.page(&opts, method == Method::HEAD))));
        }
        if method != Method::POST {
            return Box::pin(ready(Ok(method_not_allowed("GET, HEAD, POST"))));
        }
        if !self.cfg.admin {
            return Box::pin(ready(Ok(self.redirect(AdminStatus::Denied))));
        }
        let this = self.clone();
        let limit = self.cfg.max_post;
        Box::pin(async move {
            let status = match Limited::new(req.into_body(), limit).collect().await {
                Ok(body) => this.apply(&body.to_bytes()),
                Err(e) if e.is::<LengthLimitError>() => AdminStatus::TooLarge,
                Err(_) => AdminStatus::InvalidRequest,
            };
            Ok(this.redirect(status))
        })
    }
}

/// The Prometheus endpoint. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct PrometheusService {
    registry: StatsRegistry,
    auth: Option<Arc<BasicAuth>>,
}

impl PrometheusService {
    /// Exports `registry`.
    pub fn new(registry: StatsRegistry) -> Self {
        PrometheusService {
            registry,
            auth: None,
        }
    }

    /// Requires credentials.
    pub fn with_auth(mut self, auth: BasicAuth) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }

    fn answer(&self, method: &Method, query: &str, headers: &HeaderMap) -> Response<ProxyBody> {
        if let Some(auth) = &self.auth {
            if !auth.check(headers) {
                return auth.challenge();
            }
        }
        if method != Method::GET && method != Method::HEAD {
            return method_not_allowed("GET, HEAD");
        }
        let scopes = prometheus::Scopes::from_query(query);
        let text = prometheus::render(&self.registry.snapshot(), &scopes);
        respond(
            StatusCode::OK,
            prometheus::CONTENT_TYPE,
            text,
            method == Method::HEAD,
        )
    }
}

impl<B> Service<Request<B>> for PrometheusService {
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Ready<Result<Response<ProxyBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let query = req.uri().query().unwrap_or("");
        ready(Ok(self.answer(req.method(), query, req.headers())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::admin::{encode_admin_post, AdminCommand};
    use crate::stats::snapshot::ProxyMode;
    use http_body_util::Full;
    use lb_core::{AdminState, Algorithm, Backend, BalanceConfig, ServerConfig};
    use std::sync::Mutex;
    use tower::ServiceExt;

    fn basic(user: &str, pass: &str) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let input = format!("{user}:{pass}");
        let mut out = String::from("Basic ");
        for chunk in input.as_bytes().chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn setup() -> (StatsRegistry, Backend) {
        let reg = StatsRegistry::new();
        reg.register_frontend("www", ProxyMode::Http);
        let be = Backend::new(
            "app",
            BalanceConfig::new(Algorithm::RoundRobin),
            [
                ServerConfig::new("web1", "127.0.0.1:8001".parse().unwrap()),
                ServerConfig::new("web2", "127.0.0.1:8002".parse().unwrap()),
            ],
        )
        .unwrap();
        reg.register_backend(&be, ProxyMode::Http);
        (reg, be)
    }

    async fn body_string(r: Response<ProxyBody>) -> String {
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn get(uri: &str) -> Request<Full<Bytes>> {
        Request::get(uri).body(Full::new(Bytes::new())).unwrap()
    }

    #[test]
    fn basic_credentials_decode() {
        // The decoder itself is tested in lb-core (codec).
        for (u, p) in [("a", "b"), ("user", "p:ss w"), ("é", "ü")] {
            let h = basic(u, p);
            let decoded = lb_core::codec::base64_decode(h.trim_start_matches("Basic ")).unwrap();
            assert_eq!(decoded, format!("{u}:{p}").as_bytes());
        }
    }

    #[tokio::test]
    async fn basic_auth_accepts_and_rejects() {
        let (reg, _) = setup();
        let cfg = StatsConfig::new("/stats")
            .auth("admin", "s3cret")
            .auth("ops", "p:w")
            .realm("My \"Stats\"");
        let svc = StatsService::new(reg, cfg);
        let with = |auth: Option<String>| {
            let mut b = Request::get("/stats");
            if let Some(a) = auth {
                b = b.header(AUTHORIZATION, a);
            }
            b.body(Full::new(Bytes::new())).unwrap()
        };
        let r = svc.clone().oneshot(with(None)).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Basic realm=\"My Stats\"");
        for bad in [
            basic("admin", "wrong"),
            basic("nobody", "s3cret"),
            basic("admin", "s3cret!"),
            "Bearer abc".to_owned(),
            "Basic !!!".to_owned(),
            "Basic YWRtaW4=".to_owned(), // no colon
        ] {
            let r = svc.clone().oneshot(with(Some(bad.clone()))).await.unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad}");
        }
        for good in [basic("admin", "s3cret"), basic("ops", "p:w")] {
            let r = svc.clone().oneshot(with(Some(good))).await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
        let lower = basic("admin", "s3cret").replace("Basic", "basic");
        let r = svc.oneshot(with(Some(lower))).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn html_csv_and_uri_forms() {
        let (reg, _) = setup();
        let svc = StatsService::new(
            reg.clone(),
            StatsConfig::default().refresh(Duration::from_secs(5)),
        );
        let r = svc.clone().oneshot(get("/haproxy?stats")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let page = body_string(r).await;
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        assert!(page.contains("web1"));

        let r = svc
            .clone()
            .oneshot(get("/haproxy?stats;norefresh"))
            .await
            .unwrap();
        assert!(!body_string(r).await.contains("http-equiv"));

        for uri in ["/haproxy?stats;csv", "/haproxy?stats;csv;norefresh"] {
            let r = svc.clone().oneshot(get(uri)).await.unwrap();
            assert_eq!(r.headers()[CONTENT_TYPE], "text/csv");
            let text = body_string(r).await;
            assert!(text.starts_with("# pxname,svname,"));
            assert_eq!(
                text.lines().count(),
                5,
                "header, www, web1, web2, app BACKEND"
            );
            // No legends by default: addresses stay hidden.
            assert!(!text.contains("127.0.0.1"));
        }
        // A page at /stats also takes HAProxy's "?stats;csv" form.
        let svc2 = StatsService::new(reg.clone(), StatsConfig::new("/stats").show_legends(true));
        let r = svc2.clone().oneshot(get("/stats?stats;csv")).await.unwrap();
        let text = body_string(r).await;
        assert!(text.starts_with("# pxname"));
        assert!(text.contains("127.0.0.1:8001"));

        let r = svc2.clone().oneshot(get("/elsewhere")).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        let head = Request::head("/stats")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let r = svc2.clone().oneshot(head).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()[CONTENT_LENGTH] != "0");
        assert!(body_string(r).await.is_empty());

        let del = Request::delete("/stats")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let r = svc2.oneshot(del).await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[ALLOW], "GET, HEAD, POST");
    }

    fn post(uri: &str, body: String) -> Request<Full<Bytes>> {
        Request::post(uri)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    }

    #[tokio::test]
    async fn admin_post_applies_and_redirects() {
        let (reg, be) = setup();
        let svc = StatsService::new(reg.clone(), StatsConfig::new("/stats").admin(true));
        let body = encode_admin_post("app", &AdminCommand::Maint, &["web1", "web2"]);
        let r = svc.clone().oneshot(post("/stats", body)).await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[LOCATION], "/stats;st=DONE");
        assert_eq!(be.server("web1").unwrap().admin_state(), AdminState::Maint);
        assert_eq!(be.server("web2").unwrap().admin_state(), AdminState::Maint);

        let body = encode_admin_post("app", &AdminCommand::Ready, &["web1", "nope"]);
        let r = svc.clone().oneshot(post("/stats", body)).await.unwrap();
        assert_eq!(r.headers()[LOCATION], "/stats;st=PART");
        assert_eq!(be.server("web1").unwrap().admin_state(), AdminState::Ready);

        let r = svc
            .clone()
            .oneshot(post("/stats", "action=ready&b=app".into()))
            .await
            .unwrap();
        assert_eq!(r.headers()[LOCATION], "/stats;st=NONE");
        let r = svc
            .clone()
            .oneshot(post("/stats", "s=web1&b=app&action=boom".into()))
            .await
            .unwrap();
        assert_eq!(r.headers()[LOCATION], "/stats;st=ERRP");
        let r = svc
            .clone()
            .oneshot(post("/stats", "s=".repeat(10_000)))
            .await
            .unwrap();
        assert_eq!(r.headers()[LOCATION], "/stats;st=EXCD");

        // The banner after the redirect.
        let r = svc.clone().oneshot(get("/stats;st=DONE")).await.unwrap();
        assert!(body_string(r)
            .await
            .contains("Action processed successfully."));

        // A callback replaces the registry.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let svc = svc.on_admin(move |a| {
            log.lock().unwrap().push(a);
            Err("refused".into())
        });
        let body = encode_admin_post("app", &AdminCommand::Weight(5), &["web2"]);
        let r = svc.oneshot(post("/stats", body)).await.unwrap();
        assert_eq!(r.headers()[LOCATION], "/stats;st=ERRP");
        assert_eq!(seen.lock().unwrap()[0].command, AdminCommand::Weight(5));
        assert_eq!(be.server("web2").unwrap().weight().get(), 1);
    }

    #[tokio::test]
    async fn admin_post_denied_without_admin() {
        let (reg, be) = setup();
        let svc = StatsService::new(reg, StatsConfig::new("/stats"));
        let body = encode_admin_post("app", &AdminCommand::Maint, &["web1"]);
        let r = svc.oneshot(post("/stats", body)).await.unwrap();
        assert_eq!(r.headers()[LOCATION], "/stats;st=DENY");
        assert_eq!(be.server("web1").unwrap().admin_state(), AdminState::Ready);
    }

    #[tokio::test]
    async fn prometheus_service() {
        let (reg, _) = setup();
        let svc = PrometheusService::new(reg.clone());
        let r = svc.clone().oneshot(get("/metrics")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], prometheus::CONTENT_TYPE);
        let text = body_string(r).await;
        assert!(
            text.contains("haproxy_server_status{proxy=\"app\",server=\"web1\",state=\"UP\"} 1\n")
        );
        let r = svc
            .clone()
            .oneshot(get("/metrics?scope=backend"))
            .await
            .unwrap();
        let text = body_string(r).await;
        assert!(text.contains("haproxy_backend_") && !text.contains("haproxy_server_"));

        let secured = svc.with_auth(BasicAuth::new("m").user("p", "q"));
        let r = secured.clone().oneshot(get("/metrics")).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let req = Request::get("/metrics")
            .header(AUTHORIZATION, basic("p", "q"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(secured.oneshot(req).await.unwrap().status(), StatusCode::OK);
    }
}

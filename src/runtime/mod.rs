//! Running a configuration: the [`Runtime`] assembles lb-core backends, lb-tcp and lb-http
//! frontends, lb-health checkers and the statistics from a [`Config`], serves them, and
//! stops or reloads them.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = lb::config::Config::load(&["haproxy.cfg".into()])?;
//! let runtime = lb::runtime::Runtime::start(config, None).await?;
//! // ... until a signal:
//! runtime.stop(std::time::Duration::from_secs(10)).await;
//! # Ok(()) }
//! ```

mod acl;
mod check_io;
mod cli;
mod http;
mod rules;
mod server_io;
pub mod syslog;
mod tcp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lb_core::{Address, AdminState, BalanceConfig, OpState, ServerConfig};
use lb_health::{AgentCheck, Check, CheckConfig, Checker, HealthHandle};
use lb_http::client::{PoolConfig, Pools};
use lb_http::errors::{ErrorPage, ErrorPages};
use lb_http::headers::ForwardedOptions;
use lb_http::proxy::{HttpProxy, ProxyConfig, RetryOn};
use lb_http::server::{serve_connection, ConnInfo, FrontendConfig};
use lb_http::stats::{HealthInfo, ProxyOptions, StatsConfig, StatsRegistry, StatsService};
use lb_tcp::forward::ForwardConfig;
use lb_tcp::listen::{Acceptor, ConnLimit, ServeReport, Shutdown, ShutdownSignal};
use lb_tcp::net::{Peer, Stream};
use lb_tcp::proxy::{SendProxy, TcpProxy, TcpProxyConfig};

pub use acl::{Acls, Samples};
pub use cli::Cli;

use crate::config::{self, Config, Mode, ServerAddress};

/// Why a configuration could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A listener could not be bound.
    #[error("{file}:{line}: cannot bind '{spec}': {source}")]
    Bind {
        /// Config file.
        file: Arc<str>,
        /// Line of the `bind`.
        line: u32,
        /// The bind spec.
        spec: String,
        /// Why.
        source: std::io::Error,
    },
    /// A server name could not be resolved.
    #[error("{file}:{line}: cannot resolve server '{server}' address '{host}': {reason}")]
    Resolve {
        /// Config file.
        file: Arc<str>,
        /// Line of the server.
        line: u32,
        /// The server.
        server: String,
        /// The host name.
        host: String,
        /// Why.
        reason: String,
    },
    /// The balancing core refused a backend (duplicate ids...).
    #[error("{file}:{line}: backend '{backend}': {source}")]
    Backend {
        /// Config file.
        file: Arc<str>,
        /// Line of the backend.
        line: u32,
        /// The backend.
        backend: String,
        /// Why.
        source: lb_core::Error,
    },
    /// A feature parsed from the file that this runtime cannot run yet.
    #[error("{file}:{line}: {what} is not supported yet")]
    Unsupported {
        /// Config file.
        file: Arc<str>,
        /// Line.
        line: u32,
        /// What.
        what: String,
    },
    /// A TLS certificate or option could not be loaded.
    #[error("{file}:{line}: ssl: {reason}")]
    Tls {
        /// Config file.
        file: Arc<str>,
        /// Line of the `bind`.
        line: u32,
        /// Why.
        reason: String,
    },
    /// A health check could not be set up.
    #[error("backend '{backend}': health check: {reason}")]
    Health {
        /// The backend.
        backend: String,
        /// Why.
        reason: String,
    },
}

/// A running configuration.
pub struct Runtime {
    config: Config,
    registry: StatsRegistry,
    backends: HashMap<Arc<str>, lb_core::Backend>,
    health: Vec<(Arc<str>, Arc<HealthHandle>)>,
    tracks: Vec<lb_health::TrackHandle>,
    shutdown: Shutdown,
    listeners: Vec<LiveListener>,
    started: SystemTime,
    /// The runtime API servers on the `stats socket`s.
    cli: cli::CliServer,
    /// The certificate stores of the `bind ... ssl` lines (`set ssl cert`).
    cert_stores: Vec<Arc<lb_tls::CertStore>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("frontends", &self.config.frontends.len())
            .field("backends", &self.backends.len())
            .field("started", &self.started)
            .finish()
    }
}

fn span_of(s: &config::Span) -> (Arc<str>, u32) {
    (s.file.clone(), s.line)
}

/// The start error of a server line whose TLS settings cannot be loaded.
fn tls_start_error(s: &crate::config::Server, e: &lb_tls::TlsError) -> StartError {
    let (file, line) = span_of(&s.span);
    StartError::Tls {
        file,
        line,
        reason: e.to_string(),
    }
}

async fn resolve(s: &config::Server) -> Result<Address, StartError> {
    match &s.address {
        ServerAddress::Addr(a) => Ok(a.clone()),
        ServerAddress::Host { name, port } => {
            let (file, line) = span_of(&s.span);
            let mut addrs = tokio::net::lookup_host((&**name, *port))
                .await
                .map_err(|e| StartError::Resolve {
                    file: file.clone(),
                    line,
                    server: s.name.to_string(),
                    host: name.to_string(),
                    reason: e.to_string(),
                })?;
            addrs
                .next()
                .map(Address::Inet)
                .ok_or_else(|| StartError::Resolve {
                    file,
                    line,
                    server: s.name.to_string(),
                    host: name.to_string(),
                    reason: "no address".into(),
                })
        }
    }
}

fn error_pages(files: &[config::ErrorFile]) -> ErrorPages {
    files.iter().fold(ErrorPages::new(), |pages, f| {
        pages.with(ErrorPage::raw(f.status, f.response.clone()))
    })
}

fn check_config(
    s: &config::Server,
    be: &config::Backend,
    timeout: Option<Duration>,
) -> Result<Option<CheckConfig>, String> {
    let p = &s.check;
    let agent = if p.agent.enabled {
        let port = p.agent.port.ok_or("agent-check needs agent-port")?;
        let mut a = AgentCheck::new(port).inter(p.agent.inter);
        if let Some(send) = &p.agent.send {
            a = a.send(send.clone().into_bytes());
        }
        Some(a)
    } else {
        None
    };
    if !p.enabled && agent.is_none() {
        return Ok(None);
    }
    let mut cfg = if p.enabled {
        // `option httpchk`, `http-check`, `tcp-check` and the protocol check options.
        let mut check: Check = be.health_check()?;
        if let Some(port) = p.port {
            check = check.port(port);
        }
        if let Some(addr) = p.addr {
            check = check.addr(Address::Inet(SocketAddr::new(addr, p.port.unwrap_or(0))));
        }
        if let Some(t) = timeout {
            check = check.timeout(t);
        }
        if p.proto == config::CheckProto::H2 {
            check = check.proto(lb_health::CheckProto::H2);
            check.validate().map_err(|e| e.to_string())?;
        }
        CheckConfig::new(check)
    } else {
        CheckConfig::agent_only(agent.clone().ok_or("no check")?)
    };
    cfg = cfg.inter(p.inter).rise(p.rise.max(1)).fall(p.fall.max(1));
    if let Some(f) = p.fastinter {
        cfg = cfg.fastinter(f);
    }
    if let Some(d) = p.downinter {
        cfg = cfg.downinter(d);
    }
    if let (true, Some(a)) = (p.enabled, agent) {
        cfg = cfg.agent(a);
    }
    if let Some(o) = p.observe {
        let layer = match o {
            config::Observe::Layer4 => lb_health::ObserveLayer::Layer4,
            config::Observe::Layer7 => lb_health::ObserveLayer::Layer7,
        };
        let mut obs = lb_health::Observe::new(layer);
        obs.error_limit = p.error_limit.max(1);
        obs.on_error = match p.on_error {
            config::OnError::FastInter => lb_health::OnError::Fastinter,
            config::OnError::FailCheck => lb_health::OnError::FailCheck,
            config::OnError::SuddenDeath => lb_health::OnError::SuddenDeath,
            config::OnError::MarkDown => lb_health::OnError::MarkDown,
        };
        cfg = cfg.observe(obs);
    }
    Ok(Some(cfg))
}

/// The connection handler of one listener, swappable at reload.
type Handler = tower::util::BoxCloneSyncService<(Stream, Peer), (), lb_core::BoxError>;

/// A listener waiting to be bound (or taken over from the previous runtime).
struct Pending {
    key: String,
    spec: lb_tcp::listen::BindSpec,
    at: (Arc<str>, u32),
    frontend: Arc<str>,
    maxconn: Option<u32>,
    handler: Handler,
}

/// A running accept loop. Across a reload, a listener with the same frontend and bind
/// line keeps its socket and its loop; only its handler (the configuration new
/// connections get) is swapped.
struct LiveListener {
    key: String,
    slot: Arc<arc_swap::ArcSwap<Handler>>,
    stop: Shutdown,
    task: tokio::task::JoinHandle<ServeReport>,
}

/// Calls whatever handler the slot holds now.
#[derive(Clone)]
struct SwapHandler(Arc<arc_swap::ArcSwap<Handler>>);

impl tower::Service<(Stream, Peer)> for SwapHandler {
    type Response = ();
    type Error = lb_core::BoxError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), lb_core::BoxError>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, conn: (Stream, Peer)) -> Self::Future {
        let handler = Handler::clone(&self.0.load());
        Box::pin(tower::ServiceExt::oneshot(handler, conn))
    }
}

enum BackendProxy {
    Http(HttpProxy<server_io::ServerConnector>),
    Tcp(TcpProxy<server_io::StreamConnector>),
}

impl Runtime {
    /// Builds everything the configuration describes, binds the listeners and starts
    /// serving. With `previous`, server states (admin, operational, weight) are carried
    /// over where backend and server names match (reload).
    ///
    /// # Errors
    /// [`StartError`], with the file and line of the offending item. Nothing keeps
    /// running after an error: listeners bound so far are closed.
    pub async fn start(
        config: Config,
        mut previous: Option<&mut Runtime>,
    ) -> Result<Runtime, StartError> {
        let registry = StatsRegistry::new();
        let mut backends: HashMap<Arc<str>, lb_core::Backend> = HashMap::new();
        let mut proxies: HashMap<Arc<str>, Arc<BackendProxy>> = HashMap::new();
        let mut health = Vec::new();
        let global_limit = config.global.maxconn.map(|n| ConnLimit::new(n as usize));
        // The certificate stores of `bind ... ssl` lines, for the runtime API.
        let mut stores = Vec::new();

        for be in &config.backends {
            let (file, line) = span_of(&be.span);
            let mut servers = Vec::new();
            // Each server with its resolved address, for the connector.
            let mut addresses = Vec::new();
            for s in &be.servers {
                let address = resolve(s).await?;
                addresses.push((s, address.clone()));
                let mut sc = ServerConfig::new(s.name.clone(), address)
                    .weight(s.weight.get())
                    .backup(s.backup)
                    .maxconn(s.maxconn)
                    .maxqueue(s.maxqueue)
                    .slowstart(s.slowstart);
                if let Some(id) = s.id {
                    sc = sc.id(id);
                }
                if s.disabled {
                    sc = sc.admin(AdminState::Maint);
                }
                servers.push(sc);
            }
            let mut balance: BalanceConfig = be.balance.clone();
            if balance.queue_timeout.is_none() {
                if let Some(t) = be.timeouts.queue.or(be.timeouts.connect) {
                    balance = balance.queue_timeout(t);
                }
            }
            let backend =
                lb_core::Backend::new(be.name.clone(), balance, servers).map_err(|e| {
                    StartError::Backend {
                        file: file.clone(),
                        line,
                        backend: be.name.to_string(),
                        source: e,
                    }
                })?;
            // Reload: keep what operators and checks decided about servers we keep.
            if let Some(prev) = previous.as_ref().and_then(|p| p.backends.get(&be.name)) {
                for s in backend.snapshot().servers() {
                    if let Some(old) = prev.server(s.name()) {
                        let _ = backend.set_admin_state(
                            s.name(),
                            old.admin_state(),
                            "kept across reload",
                        );
                        let _ =
                            backend.set_op_state(s.name(), old.op_state(), "kept across reload");
                        // Counters carry over too (the stats page keeps its totals).
                        let (o, n) = (old.stats(), s.stats());
                        for (from, to) in [
                            (&o.total, &n.total),
                            (&o.connect_errors, &n.connect_errors),
                            (&o.response_errors, &n.response_errors),
                            (&o.bytes_in, &n.bytes_in),
                            (&o.bytes_out, &n.bytes_out),
                            (&o.retries, &n.retries),
                            (&o.redispatches, &n.redispatches),
                        ] {
                            to.store(
                                from.load(std::sync::atomic::Ordering::Relaxed),
                                std::sync::atomic::Ordering::Relaxed,
                            );
                        }
                        if old.weight() != old.initial_weight() {
                            let _ =
                                backend.set_weight(s.name(), old.weight(), "kept across reload");
                        }
                    }
                }
            }
            let opts = match be.mode {
                Mode::Http => ProxyOptions::http(),
                Mode::Tcp => ProxyOptions::tcp(),
            };
            registry.register_backend_from(&backend, opts, previous.as_ref().map(|p| &p.registry));

            // Health checks.
            let mut checks = Vec::new();
            // `check-ssl`: checks of these targets go through TLS.
            let mut tls_targets = HashMap::new();
            for s in &be.servers {
                let ssl_hello = matches!(be.check_kind, Some(config::CheckKindConfig::SslHello));
                if s.check.enabled && (s.check.ssl || ssl_hello) {
                    let server_addr = resolve(s).await?;
                    let target = match (s.check.addr, server_addr.as_inet()) {
                        (Some(ip), Some(sa)) => {
                            Address::Inet(SocketAddr::new(ip, s.check.port.unwrap_or(sa.port())))
                        }
                        (None, Some(sa)) => Address::Inet(SocketAddr::new(
                            sa.ip(),
                            s.check.port.unwrap_or(sa.port()),
                        )),
                        _ => server_addr.clone(),
                    };
                    let tls = check_io::CheckConnector::tls(
                        s.check.sni.as_deref(),
                        s.check.proto == crate::config::CheckProto::H2,
                    )
                    .map_err(|e| tls_start_error(s, &e))?;
                    tls_targets.insert(target, tls);
                } else if let (true, Some(t), None, None) =
                    (s.check.enabled, &s.tls, s.check.port, s.check.addr)
                {
                    // `ssl` without a check port/addr override: checks inherit the
                    // server's TLS (verification included), with check-sni and no alpn.
                    let tls = check_io::CheckConnector::server_tls(&be.name, s, t)
                        .map_err(|e| tls_start_error(s, &e))?;
                    tls_targets.insert(resolve(s).await?, tls);
                }
            }
            // `ssl` servers: one TLS connector per server, kept for the runtime's life.
            let h2 = be.mode == Mode::Http && server_io::backend_wants_h2(&be.servers);
            let http1 = be.mode == Mode::Http && !h2;
            let connector = server_io::ServerConnector::new(&be.name, addresses, http1).map_err(
                |(s, reason)| {
                    let (file, line) = span_of(&s.span);
                    StartError::Tls { file, line, reason }
                },
            )?;
            let checker = Checker::new(check_io::CheckConnector::new(tls_targets));
            for s in &be.servers {
                match check_config(s, be, be.timeouts.check) {
                    Ok(Some(c)) => checks.push((s.name.to_string(), c)),
                    Ok(None) => {}
                    Err(reason) => {
                        let (file, line) = span_of(&s.span);
                        return Err(StartError::Unsupported {
                            file,
                            line,
                            what: reason,
                        });
                    }
                }
            }
            let mut observe_hook: Option<lb_http::proxy::ObserveHook> = None;
            if !checks.is_empty() {
                let handle = checker
                    .start(&backend, checks)
                    .map_err(|e| StartError::Health {
                        backend: be.name.to_string(),
                        reason: e.to_string(),
                    })?;
                let handle = Arc::new(handle);
                if be.servers.iter().any(|s| s.check.observe.is_some()) {
                    // Passive observation: errors seen in real traffic feed the checks.
                    let h = handle.clone();
                    observe_hook = Some(Arc::new(move |server: &str, what| {
                        if let Some(o) = h.observer(server) {
                            match what {
                                lb_http::proxy::Observation::Layer4Error => o.report_layer4_error(),
                                lb_http::proxy::Observation::Status(code) => {
                                    o.report_layer7_status(code)
                                }
                            }
                        }
                    }));
                }
                health.push((be.name.clone(), handle));
            }

            let proxy = match be.mode {
                Mode::Http => {
                    let pools = Arc::new(Pools::new(
                        connector,
                        PoolConfig {
                            reuse: be.http_reuse,
                            connect_timeout: be.timeouts.connect,
                            proto: if h2 {
                                lb_http::client::ServerProto::Http2
                            } else {
                                lb_http::client::ServerProto::Http1
                            },
                            ..PoolConfig::default()
                        },
                    ));
                    let mut forwarded = ForwardedOptions::new();
                    if let Some(ff) = &be.forwardfor {
                        forwarded = forwarded.forward_for(ff.clone());
                    }
                    let retry_on = if be.retry_on.is_empty() {
                        RetryOn::default()
                    } else {
                        // Validated by the parser.
                        RetryOn::parse(be.retry_on.iter().map(String::as_str)).unwrap_or_default()
                    };
                    let cfg = ProxyConfig {
                        retries: be.retries,
                        retry_on,
                        max_request_body: None,
                        redispatch: be.redispatch,
                        timeout_server: be.timeouts.server,
                        timeout_tunnel: be.timeouts.tunnel,
                        forwarded,
                        errors: error_pages(&be.errorfiles),
                        // Frontends decide (their `log` lines and format).
                        log: false,
                        observe: observe_hook,
                    };
                    BackendProxy::Http(
                        HttpProxy::new(backend.clone(), pools, cfg).with_stats(registry.clone()),
                    )
                }
                Mode::Tcp => {
                    let send_proxy = match be.servers.iter().find_map(|s| s.send_proxy) {
                        None => SendProxy::Off,
                        Some(lb_tcp::proxy_protocol::Version::V1) => SendProxy::V1,
                        Some(lb_tcp::proxy_protocol::Version::V2) => SendProxy::V2(Box::default()),
                    };
                    let t = &be.timeouts;
                    let cfg = TcpProxyConfig {
                        forward: ForwardConfig::new()
                            .timeout_client(t.client)
                            .timeout_server(t.server)
                            .timeout_tunnel(t.tunnel)
                            .timeout_client_fin(t.client_fin)
                            .timeout_server_fin(t.server_fin),
                        retries: be.retries,
                        redispatch: be.redispatch,
                        connect_timeout: t.connect,
                        send_proxy,
                        // `send-proxy-v2-ssl[-cn]`: the SSL TLV from the frontend's TLS.
                        send_proxy_ssl: be
                            .servers
                            .iter()
                            .find(|s| s.send_proxy.is_some())
                            .and_then(|s| s.send_proxy_ssl),
                    };
                    BackendProxy::Tcp(TcpProxy::new(
                        backend.clone(),
                        server_io::StreamConnector(connector),
                        cfg,
                    ))
                }
            };
            proxies.insert(be.name.clone(), Arc::new(proxy));
            backends.insert(be.name.clone(), backend);
        }

        // `track`: a server follows another server's state.
        let mut tracks = Vec::new();
        for be in &config.backends {
            for s in &be.servers {
                let Some(t) = &s.track else { continue };
                let (Some(follower), Some(leader)) =
                    (backends.get(&be.name), backends.get(&t.backend))
                else {
                    continue;
                };
                let handle =
                    lb_health::track(follower, &s.name, leader, &t.server).map_err(|e| {
                        StartError::Health {
                            backend: be.name.to_string(),
                            reason: format!("track {}/{}: {e}", t.backend, t.server),
                        }
                    })?;
                tracks.push(handle);
            }
        }

        // Health facts on the stats page.
        let views: Vec<(Arc<str>, Arc<HealthHandle>)> =
            health.iter().map(|(n, h)| (n.clone(), h.clone())).collect();
        registry.set_health_view(move |backend: &str, server: &str| {
            let (_, h) = views.iter().find(|(n, _)| &**n == backend)?;
            let st = h.state(server)?;
            Some(HealthInfo {
                state: st.check_state(),
                check_status: st.status().to_string(),
                check_code: st.code(),
                check_duration_ms: Some(st.duration().as_millis() as u64),
                chkfail: st.chkfail(),
                chkdown: st.chkdown(),
                downtime_s: st.downtime(tokio::time::Instant::now()).as_secs(),
            })
        });

        let shutdown = Shutdown::new();
        let mut pending: Vec<Pending> = Vec::new();
        for fe in &config.frontends {
            let opts = match fe.mode {
                Mode::Http => ProxyOptions::http(),
                Mode::Tcp => ProxyOptions::tcp(),
            };
            let opts = match fe.maxconn {
                Some(n) => opts.maxconn(u64::from(n)),
                None => opts,
            };
            let counters = match previous
                .as_ref()
                .and_then(|p| p.registry.frontend_counters(&fe.name))
            {
                Some(kept) => registry.register_frontend_with(&fe.name, opts, kept),
                None => registry.register_frontend(&fe.name, opts),
            };
            let mut listeners = Vec::new();
            for b in &fe.binds {
                let (file, line) = span_of(&b.span);
                let tls = match &b.tls {
                    None => None,
                    Some(t) => Some(tls_acceptor(t, &mut stores).map_err(|e| StartError::Tls {
                        file: file.clone(),
                        line,
                        reason: e.to_string(),
                    })?),
                };
                let mut spec = b.spec.clone();
                let backlog = b
                    .maxconn
                    .or(fe.maxconn)
                    .or(config.global.maxconn)
                    .unwrap_or(1024);
                spec.options_mut().backlog.get_or_insert(backlog);
                // A listener that stays across a reload keeps running (see `LiveListener`);
                // SO_REUSEPORT only matters while a changed one is re-bound.
                spec.options_mut().reuseport = true;
                let key = format!(
                    "{}|{}|{}|{}",
                    fe.name,
                    b.spec,
                    b.accept_proxy,
                    b.tls.is_some()
                );
                listeners.push((key, spec, (file.clone(), line), b.accept_proxy, tls));
            }
            let index: Vec<Arc<str>> = {
                let mut names: Vec<Arc<str>> = Vec::new();
                let mut add = |n: &Arc<str>| {
                    if !names.contains(n) {
                        names.push(n.clone());
                    }
                };
                if let Some(d) = &fe.default_backend {
                    add(&d.name);
                }
                for u in &fe.use_backends {
                    add(&u.backend);
                }
                names
            };
            let pos = |n: &Arc<str>| index.iter().position(|x| x == n);
            let acls = Acls::new(&fe.acls);
            match fe.mode {
                Mode::Http => {
                    let backends_of: Vec<HttpProxy<server_io::ServerConnector>> = index
                        .iter()
                        .filter_map(|n| match proxies.get(n).map(|p| &**p) {
                            Some(BackendProxy::Http(p)) => Some(p.clone()),
                            _ => None,
                        })
                        .collect();
                    // The stats page of the backend this frontend serves by default.
                    let stats = fe
                        .default_backend
                        .as_ref()
                        .and_then(|d| config.backends.iter().find(|b| b.name == d.name))
                        .and_then(|b| b.stats.as_ref())
                        .map(|s| {
                            let mut c = StatsConfig::new(s.uri.clone());
                            for a in &s.auth {
                                c = c.auth(a.user.clone(), a.password.clone());
                            }
                            if let Some(r) = &s.realm {
                                c = c.realm(r.clone());
                            }
                            if let Some(t) = s.refresh {
                                c = c.refresh(t);
                            }
                            c = c.admin(s.admin.is_some());
                            StatsService::new(registry.clone(), c)
                        });
                    // `http-request` rules: the frontend's, then the chosen backend's.
                    let request_rules = rules::HttpRules::new(
                        &fe.http_request,
                        acls.clone(),
                        error_pages(&fe.errorfiles),
                        &registry,
                    );
                    let backend_rules = index
                        .iter()
                        .map(|n| {
                            let be = config.backends.iter().find(|b| b.name == *n);
                            Arc::new(be.map_or_else(rules::HttpRules::default, |be| {
                                rules::HttpRules::new(
                                    &be.http_request,
                                    Acls::new(&be.acls),
                                    error_pages(&be.errorfiles),
                                    &registry,
                                )
                            }))
                        })
                        .collect();
                    let routes = Arc::new(http::HttpRoutes {
                        monitor_fail: fe.monitor_fail.clone(),
                        all_backends: backends.clone(),
                        acls: acls.clone(),
                        monitor_uri: fe.monitor_uri.clone(),
                        stats,
                        request_rules,
                        backend_rules,
                        rules: fe
                            .use_backends
                            .iter()
                            .filter_map(|u| Some((u.cond.clone(), pos(&u.backend)?)))
                            .collect(),
                        default_backend: fe.default_backend.as_ref().and_then(|d| pos(&d.name)),
                        backends: backends_of,
                        errors: error_pages(&fe.errorfiles),
                    });
                    let t = &fe.timeouts;
                    let mut fcfg = FrontendConfig::new(fe.name.clone());
                    fcfg.timeout_client = t.client;
                    fcfg.timeout_http_request = t.http_request;
                    fcfg.timeout_http_keep_alive = t.http_keep_alive;
                    fcfg.errors = error_pages(&fe.errorfiles);
                    fcfg.counters = Some(counters.clone());
                    if let Some(f) = &fe.unique_id_format {
                        fcfg.unique_id = Some(lb_http::server::UniqueId {
                            format: Arc::new(f.clone()),
                            header: fe.unique_id_header.clone(),
                        });
                    }
                    if !fe.logs.is_empty() {
                        fcfg.log = Some(Arc::new(
                            fe.log_format
                                .clone()
                                .unwrap_or_else(lb_http::log::LogFormat::httplog),
                        ));
                    }
                    let fcfg = Arc::new(fcfg);
                    for (key, spec, at, accept_proxy, tls) in listeners {
                        let handler = Handler::new(http_conn_handler(
                            fcfg.clone(),
                            routes.clone(),
                            accept_proxy,
                            tls,
                            shutdown.signal(),
                        ));
                        pending.push(Pending {
                            key,
                            spec,
                            at,
                            frontend: fe.name.clone(),
                            maxconn: fe.maxconn,
                            handler,
                        });
                    }
                }
                Mode::Tcp => {
                    let fe_tcp = tcp::build(fe, &index, &proxies, acls.clone())?;
                    for (key, spec, at, accept_proxy, tls) in listeners {
                        let handler = match tls {
                            // `bind ... ssl`: TLS terminated here, its facts for the rules
                            // and the PROXY v2 SSL TLV.
                            Some(acceptor) => Handler::new(tcp::TlsTcpFrontend::new(
                                fe,
                                &index,
                                &fe_tcp,
                                acls.clone(),
                                acceptor,
                                accept_proxy,
                            )),
                            None => {
                                let mut f = fe_tcp.clone();
                                if accept_proxy {
                                    f = f.accept_proxy(Duration::from_secs(5));
                                }
                                Handler::new(f)
                            }
                        };
                        pending.push(Pending {
                            key,
                            spec,
                            at,
                            frontend: fe.name.clone(),
                            maxconn: fe.maxconn,
                            handler,
                        });
                    }
                }
            }
        }
        // Bind what is new first: an error here leaves the previous runtime untouched.
        let kept: Vec<String> = previous
            .as_ref()
            .map(|p| p.listeners.iter().map(|l| l.key.clone()).collect())
            .unwrap_or_default();
        let mut bound = Vec::new();
        for p in &pending {
            if kept.contains(&p.key) {
                bound.push(None);
                continue;
            }
            let l = p.spec.bind().map_err(|e| StartError::Bind {
                file: p.at.0.clone(),
                line: p.at.1,
                spec: p.spec.to_string(),
                source: e.into(),
            })?;
            bound.push(Some(l));
        }
        // Commit: start the new accept loops, take over the listeners that stay.
        let mut listeners = Vec::new();
        for (p, l) in pending.into_iter().zip(bound) {
            match l {
                Some(l) => {
                    let slot = Arc::new(arc_swap::ArcSwap::from_pointee(p.handler));
                    let stop = Shutdown::new();
                    let mut acceptor = Acceptor::new(p.frontend.to_string(), l);
                    if let Some(n) = p.maxconn {
                        acceptor = acceptor.maxconn(n as usize);
                    }
                    if let Some(g) = &global_limit {
                        acceptor = acceptor.global(g.clone());
                    }
                    let task =
                        tokio::spawn(acceptor.serve(SwapHandler(slot.clone()), stop.signal()));
                    listeners.push(LiveListener {
                        key: p.key,
                        slot,
                        stop,
                        task,
                    });
                }
                None => {
                    let prev = previous
                        .as_mut()
                        .expect("kept keys come from the previous runtime");
                    if let Some(pos) = prev.listeners.iter().position(|l| l.key == p.key) {
                        let live = prev.listeners.swap_remove(pos);
                        // New connections get the new configuration; connections already
                        // running keep theirs until they end.
                        live.slot.store(Arc::new(p.handler));
                        listeners.push(live);
                    }
                }
            }
        }
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        let mut runtime = Runtime {
            config,
            registry,
            backends,
            health,
            tracks,
            shutdown,
            listeners,
            started: SystemTime::now(),
            cli: cli::CliServer::default(),
            cert_stores: stores,
        };
        // The runtime API: bind the `stats socket`s and serve them.
        runtime.cli = cli::CliServer::start(&runtime)?;
        Ok(runtime)
    }

    /// A runtime that serves nothing (a placeholder while another one stops).
    pub fn empty() -> Runtime {
        Runtime {
            config: Config::default(),
            registry: StatsRegistry::new(),
            backends: HashMap::new(),
            health: Vec::new(),
            tracks: Vec::new(),
            shutdown: Shutdown::new(),
            listeners: Vec::new(),
            started: SystemTime::now(),
            cli: cli::CliServer::default(),
            cert_stores: Vec::new(),
        }
    }

    /// The statistics registry (stats page, CSV, Prometheus, runtime API).
    pub fn registry(&self) -> &StatsRegistry {
        &self.registry
    }

    /// A backend by name.
    pub fn backend(&self, name: &str) -> Option<&lb_core::Backend> {
        self.backends.get(name)
    }

    /// The configuration it runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stops accepting, lets live connections finish for up to `grace`, then cuts them.
    pub async fn stop(mut self, grace: Duration) -> ServeReport {
        // The runtime API goes first (it holds handles to backends and checks).
        self.cli.stop();
        // Checks stop when their handles drop (the stats view holds clones until the
        // registry goes).
        self.health.clear();
        self.tracks.clear();
        self.shutdown.trigger(grace);
        let mut total = ServeReport::default();
        for l in self.listeners.drain(..) {
            l.stop.trigger(grace);
            if let Ok(r) = l.task.await {
                total.accepted += r.accepted;
                total.completed += r.completed;
                total.cut += r.cut;
            }
        }
        total
    }
}

/// The TLS acceptor of a `bind ... ssl crt ...` line.
/// Its certificate store is added to `stores` (for the runtime API).
fn tls_acceptor(
    t: &config::BindTls,
    stores: &mut Vec<Arc<lb_tls::CertStore>>,
) -> Result<Arc<lb_tls::TlsAcceptor>, lb_tls::TlsError> {
    let store = lb_tls::CertStore::new();
    for path in &t.certificates {
        store.load_crt(path)?;
    }
    for path in &t.crt_lists {
        store.load_crt_list(path, t.crt_base.as_deref())?;
    }
    let version = |v: config::TlsVersion| match v {
        config::TlsVersion::Tls12 => lb_tls::TlsVersion::Tls12,
        config::TlsVersion::Tls13 => lb_tls::TlsVersion::Tls13,
    };
    let store = Arc::new(store);
    stores.push(Arc::clone(&store));
    let mut b = lb_tls::TlsAcceptor::builder(store);
    if !t.alpn.is_empty() {
        b = b.alpn(&t.alpn.join(","))?;
    }
    if let Some(v) = t.min_version {
        b = b.min_version(version(v));
    }
    if let Some(v) = t.max_version {
        b = b.max_version(version(v));
    }
    if let Some(list) = &t.ciphers {
        b = b.ciphers(list);
    }
    if let Some(list) = &t.ciphersuites {
        b = b.ciphersuites(list);
    }
    b = b.prefer_client_ciphers(t.prefer_client_ciphers);
    b = b.verify(match t.verify {
        config::ClientVerify::Optional => lb_tls::Verify::Optional,
        config::ClientVerify::Required => lb_tls::Verify::Required,
        config::ClientVerify::None => lb_tls::Verify::None,
    });
    if let Some(path) = &t.ca_file {
        b = b.ca_file(path)?;
    }
    if let Some(path) = &t.crl_file {
        b = b.crl_file(path)?;
    }
    if t.no_tls_tickets {
        b = b.no_tls_tickets();
    } else if let Some(path) = &t.tls_ticket_keys {
        b = b.tickets(Arc::new(lb_tls::TicketKeys::load(path)?));
    }
    Ok(Arc::new(b.build()?))
}

/// Serves HTTP on one accepted connection: PROXY header if expected, TLS if configured,
/// then hyper.
fn http_conn_handler(
    cfg: Arc<FrontendConfig>,
    routes: Arc<http::HttpRoutes>,
    accept_proxy: bool,
    tls: Option<Arc<lb_tls::TlsAcceptor>>,
    shutdown: ShutdownSignal,
) -> impl tower::Service<
    (Stream, Peer),
    Response = (),
    Error = lb_core::BoxError,
    Future = lb_http::serve::ConnFuture,
> + Clone
       + Send
       + 'static {
    let make = http::HttpFrontend::new(routes);
    tower::service_fn(move |(mut io, peer): (Stream, Peer)| {
        let cfg = cfg.clone();
        let make = make.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        Box::pin(async move {
            let mut info = ConnInfo {
                client: peer.socket_addr(),
                local: peer.local_socket_addr(),
                frontend: cfg.name.clone(),
                accepted: SystemTime::now(),
                tls: false,
                ssl_version: None,
                ssl_cipher: None,
            };
            let stop = async move {
                shutdown.triggered().await;
            };
            let leftover = if accept_proxy {
                let (header, leftover) =
                    lb_tcp::proxy_protocol::read_header(&mut io, Duration::from_secs(5)).await?;
                if let (Some(s), Some(d)) = (header.source(), header.destination()) {
                    info.client = Some(s);
                    info.local = Some(d);
                }
                leftover
            } else {
                bytes::Bytes::new()
            };
            match tls {
                Some(acceptor) => {
                    let io = lb_tcp::inspect::PrefixedIo::new(leftover, io);
                    let tls_io = acceptor.accept(io).await?;
                    info.tls = true;
                    // The handshake's facts, for `ssl_fc_*`/`ssl_c_*` in rules and headers,
                    // `%sslv`/`%sslc` in logs.
                    let facts = lb_tls::TlsInfo::of(&tls_io);
                    info.ssl_version = Some(facts.version());
                    info.ssl_cipher = Some(facts.cipher());
                    let make = make.with_tls(Arc::new(facts));
                    serve_connection(tls_io, info, &cfg, &make, stop).await?;
                }
                None if !leftover.is_empty() => {
                    let io = lb_tcp::inspect::PrefixedIo::new(leftover, io);
                    serve_connection(io, info, &cfg, &make, stop).await?;
                }
                None => serve_connection(io, info, &cfg, &make, stop).await?,
            }
            Ok::<(), lb_core::BoxError>(())
        }) as lb_http::serve::ConnFuture
    })
}

/// Applies `OpState` names for the runtime API.
pub fn parse_op_state(s: &str) -> Option<OpState> {
    match s {
        "up" => Some(OpState::Up),
        "down" => Some(OpState::Down),
        "stopping" => Some(OpState::Stopping),
        _ => None,
    }
}

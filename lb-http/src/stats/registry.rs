//! [`StatsRegistry`]: the named frontends and backends whose statistics are published.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::time::Instant;

use lb_core::{AdminState, Backend, OpState, Server, Weight};

use super::admin::{AdminAction, AdminCommand};
use super::counters::{
    CountersSnapshot, ProxyCounters, ServerCountersSnapshot, ServerHttpCounters,
};
use super::snapshot::{ProcessInfo, ProxyMode, RowKind, StatRow, StatsSnapshot};

/// Health-check facts about one server, from whatever runs the checks.
///
/// `state` is HAProxy's full state string: "UP", "UP 1/3" (up, failing), "DOWN", "DOWN 1/2"
/// (down, recovering), "NOLB", "NOLB 1/3"... The snapshot shows it as is, except that an
/// administrative MAINT shows "MAINT" and an administrative drain turns "UP..." into
/// "DRAIN...", as HAProxy does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthInfo {
    /// The state string.
    pub state: String,
    /// The last check's status: L4OK, L4TOUT, L4CON, L6OK, L7OK, L7OKC, L7STS, SOCKERR, INI...
    /// (prefixed with "* " while a check runs).
    pub check_status: String,
    /// The last check's layer 5-7 code (an HTTP status), if it had one.
    pub check_code: Option<u16>,
    /// How long the last check took, in milliseconds.
    pub check_duration_ms: Option<u64>,
    /// Failed checks (`chkfail`).
    pub chkfail: u64,
    /// UP to DOWN transitions (`chkdown`).
    pub chkdown: u64,
    /// Seconds spent DOWN (`downtime`).
    pub downtime_s: u64,
}

/// Where the snapshot gets health-check facts; servers it knows nothing about show lb-core's
/// states with HAProxy's "no check" semantics.
///
/// Closures `Fn(&str, &str) -> Option<HealthInfo>` implement it.
pub trait HealthView: Send + Sync {
    /// Facts about `server` of `backend`, or None when it is not checked.
    fn server_health(&self, backend: &str, server: &str) -> Option<HealthInfo>;
}

impl<F> HealthView for F
where
    F: Fn(&str, &str) -> Option<HealthInfo> + Send + Sync,
{
    fn server_health(&self, backend: &str, server: &str) -> Option<HealthInfo> {
        self(backend, server)
    }
}

/// How a proxy is described in the statistics.
///
/// # Examples
/// ```
/// use lb_http::stats::{ProxyMode, ProxyOptions};
/// let opts = ProxyOptions::from(ProxyMode::Http).maxconn(2000).id(10);
/// assert_eq!(opts, ProxyOptions::http().maxconn(2000).id(10));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyOptions {
    mode: ProxyMode,
    maxconn: Option<u64>,
    rate_limit: Option<u64>,
    id: Option<u32>,
}

impl ProxyOptions {
    /// An HTTP proxy.
    pub fn http() -> Self {
        ProxyOptions::from(ProxyMode::Http)
    }

    /// A TCP proxy.
    pub fn tcp() -> Self {
        ProxyOptions::from(ProxyMode::Tcp)
    }

    /// The session limit shown as `slim`: a frontend's maxconn, a backend's fullconn.
    pub fn maxconn(mut self, n: u64) -> Self {
        self.maxconn = Some(n);
        self
    }

    /// The frontend's `rate-limit sessions`, shown as `rate_lim`.
    pub fn rate_limit(mut self, n: u64) -> Self {
        self.rate_limit = Some(n);
        self
    }

    /// The proxy id (`iid`); default: the next free one in registration order. A frontend
    /// and a backend of the same name share one id, like a `listen` section.
    pub fn id(mut self, id: u32) -> Self {
        self.id = Some(id);
        self
    }
}

impl From<ProxyMode> for ProxyOptions {
    fn from(mode: ProxyMode) -> Self {
        ProxyOptions {
            mode,
            ..ProxyOptions::default()
        }
    }
}

type ServerMap = Arc<RwLock<HashMap<Arc<str>, Arc<ServerHttpCounters>>>>;

#[derive(Clone)]
struct FrontendEntry {
    counters: Arc<ProxyCounters>,
    opts: ProxyOptions,
}

#[derive(Clone)]
struct BackendEntry {
    backend: Backend,
    counters: Arc<ProxyCounters>,
    opts: ProxyOptions,
    servers: ServerMap,
}

#[derive(Clone)]
struct ProxyEntry {
    name: Arc<str>,
    iid: u32,
    frontend: Option<FrontendEntry>,
    backend: Option<BackendEntry>,
}

struct Inner {
    started: Instant,
    proxies: RwLock<Vec<ProxyEntry>>,
    health: RwLock<Option<Arc<dyn HealthView>>>,
    next_iid: AtomicU32,
}

/// The frontends and backends whose statistics are published, with their counters.
///
/// Register each proxy once at start-up: the registry returns the [`ProxyCounters`] the
/// engine counts into (keep the `Arc`, the hot path never touches the registry). Backends
/// are registered with their [`lb_core::Backend`] handle, from which sessions, queues,
/// weights and states are read; per-server HTTP counters are kept beside them, keyed by
/// server name ([`server_counters`](Self::server_counters)).
///
/// [`snapshot`](Self::snapshot) reads everything into a [`StatsSnapshot`] (locks are held
/// only to copy the list of handles, never while reading counters). Clones share the same
/// registry.
///
/// # Examples
/// ```
/// use lb_core::{Algorithm, Backend, BalanceConfig, ServerConfig};
/// use lb_http::stats::{ProxyMode, StatsRegistry};
///
/// let be = Backend::new(
///     "app",
///     BalanceConfig::new(Algorithm::RoundRobin),
///     [ServerConfig::new("web1", "127.0.0.1:8001".parse()?)],
/// )?;
/// let stats = StatsRegistry::new();
/// let fe = stats.register_frontend("www", ProxyMode::Http);
/// let be_counters = stats.register_backend(&be, ProxyMode::Http);
/// let web1 = stats.server_counters("app", "web1").expect("registered with its backend");
///
/// fe.request();
/// fe.response(200);
/// be_counters.response(200);
/// web1.request();
/// web1.response(200);
///
/// let snap = stats.snapshot();
/// let names: Vec<_> = snap.rows.iter().map(|r| (r.pxname.as_str(), r.svname.as_str())).collect();
/// assert_eq!(names, [("www", "FRONTEND"), ("app", "web1"), ("app", "BACKEND")]);
/// assert_eq!(snap.row("app", "web1").unwrap().status, "no check");
/// assert_eq!(snap.row("app", "BACKEND").unwrap().status, "UP");
/// # Ok::<(), lb_core::Error>(())
/// ```
#[derive(Clone)]
pub struct StatsRegistry {
    inner: Arc<Inner>,
}

impl fmt::Debug for StatsRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proxies = self.read_proxies();
        let names: Vec<&str> = proxies.iter().map(|p| &*p.name).collect();
        f.debug_struct("StatsRegistry")
            .field("proxies", &names)
            .field("health_view", &self.health_view().is_some())
            .finish()
    }
}

impl Default for StatsRegistry {
    fn default() -> Self {
        StatsRegistry::new()
    }
}

impl StatsRegistry {
    /// An empty registry; its creation time is the process start for `uptime`.
    pub fn new() -> Self {
        StatsRegistry {
            inner: Arc::new(Inner {
                started: Instant::now(),
                proxies: RwLock::new(Vec::new()),
                health: RwLock::new(None),
                next_iid: AtomicU32::new(1),
            }),
        }
    }

    fn read_proxies(&self) -> RwLockReadGuard<'_, Vec<ProxyEntry>> {
        self.inner.proxies.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_proxies(&self) -> RwLockWriteGuard<'_, Vec<ProxyEntry>> {
        self.inner
            .proxies
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn health_view(&self) -> Option<Arc<dyn HealthView>> {
        self.inner
            .health
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets where server health facts come from (the health checker).
    pub fn set_health_view(&self, view: impl HealthView + 'static) {
        *self.inner.health.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(view));
    }

    /// The entry named `name`, created (with an id) if missing.
    fn entry<'a>(
        &self,
        list: &'a mut Vec<ProxyEntry>,
        name: &str,
        id: Option<u32>,
    ) -> &'a mut ProxyEntry {
        let pos = match list.iter().position(|p| &*p.name == name) {
            Some(pos) => pos,
            None => {
                let iid = id.unwrap_or_else(|| {
                    let mut iid = self.inner.next_iid.fetch_add(1, Relaxed);
                    while list.iter().any(|p| p.iid == iid) {
                        iid = self.inner.next_iid.fetch_add(1, Relaxed);
                    }
                    iid
                });
                list.push(ProxyEntry {
                    name: name.into(),
                    iid,
                    frontend: None,
                    backend: None,
                });
                list.len() - 1
            }
        };
        let entry = &mut list[pos];
        if let Some(id) = id {
            entry.iid = id;
        }
        entry
    }

    /// Registers a frontend and returns the counters to count its traffic into. Registering
    /// the same name again replaces the counters (as a reload does).
    pub fn register_frontend(
        &self,
        name: &str,
        opts: impl Into<ProxyOptions>,
    ) -> Arc<ProxyCounters> {
        self.register_frontend_with(name, opts, Arc::new(ProxyCounters::new()))
    }

    /// Registers a frontend with counters that already exist (a reload keeps them).
    pub fn register_frontend_with(
        &self,
        name: &str,
        opts: impl Into<ProxyOptions>,
        counters: Arc<ProxyCounters>,
    ) -> Arc<ProxyCounters> {
        let opts = opts.into();
        let mut list = self.write_proxies();
        let entry = self.entry(&mut list, name, opts.id);
        entry.frontend = Some(FrontendEntry {
            counters: counters.clone(),
            opts,
        });
        counters
    }

    /// Registers a backend (by its lb-core handle) and returns the counters to count its
    /// traffic into; per-server counters are created for its servers. Registering the same
    /// name again replaces everything (as a reload does).
    pub fn register_backend(
        &self,
        backend: &Backend,
        opts: impl Into<ProxyOptions>,
    ) -> Arc<ProxyCounters> {
        self.register_backend_from(backend, opts, None)
    }

    /// Registers a backend, keeping the counters `previous` had for it and for its servers
    /// of the same names (a reload keeps statistics).
    pub fn register_backend_from(
        &self,
        backend: &Backend,
        opts: impl Into<ProxyOptions>,
        previous: Option<&StatsRegistry>,
    ) -> Arc<ProxyCounters> {
        let opts = opts.into();
        let name = backend.name();
        let counters = previous
            .and_then(|p| p.backend_counters(name))
            .unwrap_or_else(|| Arc::new(ProxyCounters::new()));
        let servers: HashMap<Arc<str>, Arc<ServerHttpCounters>> = backend
            .snapshot()
            .servers()
            .iter()
            .map(|s| {
                let kept = previous.and_then(|p| p.server_counters(name, s.name()));
                (
                    s.name_arc().clone(),
                    kept.unwrap_or_else(|| Arc::new(ServerHttpCounters::new())),
                )
            })
            .collect();
        let mut list = self.write_proxies();
        let entry = self.entry(&mut list, backend.name(), opts.id);
        entry.backend = Some(BackendEntry {
            backend: backend.clone(),
            counters: counters.clone(),
            opts,
            servers: Arc::new(RwLock::new(servers)),
        });
        counters
    }

    /// The counters of a registered frontend.
    pub fn frontend_counters(&self, name: &str) -> Option<Arc<ProxyCounters>> {
        let list = self.read_proxies();
        let p = list.iter().find(|p| &*p.name == name)?;
        p.frontend.as_ref().map(|f| f.counters.clone())
    }

    /// The counters of a registered backend.
    pub fn backend_counters(&self, name: &str) -> Option<Arc<ProxyCounters>> {
        let list = self.read_proxies();
        let p = list.iter().find(|p| &*p.name == name)?;
        p.backend.as_ref().map(|b| b.counters.clone())
    }

    /// The lb-core handle of a registered backend.
    pub fn backend(&self, name: &str) -> Option<Backend> {
        let list = self.read_proxies();
        let p = list.iter().find(|p| &*p.name == name)?;
        p.backend.as_ref().map(|b| b.backend.clone())
    }

    /// The HTTP counters of a server, created on first use for servers added at runtime;
    /// None when the backend is not registered or has no such server. Look it up once and
    /// keep the `Arc`.
    pub fn server_counters(&self, backend: &str, server: &str) -> Option<Arc<ServerHttpCounters>> {
        let map = {
            let list = self.read_proxies();
            let p = list.iter().find(|p| &*p.name == backend)?;
            let b = p.backend.as_ref()?;
            if let Some(c) = b
                .servers
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(server)
            {
                return Some(c.clone());
            }
            b.backend.server(server)?;
            b.servers.clone()
        };
        let mut map = map.write().unwrap_or_else(|e| e.into_inner());
        Some(
            map.entry(server.into())
                .or_insert_with(|| Arc::new(ServerHttpCounters::new()))
                .clone(),
        )
    }

    /// Resolves a backend reference from the admin form: a name, or `#<iid>`.
    fn resolve_backend(&self, reference: &str) -> Option<Backend> {
        let list = self.read_proxies();
        let by_id = reference
            .strip_prefix('#')
            .and_then(|id| id.parse::<u32>().ok());
        list.iter()
            .find(|p| match by_id {
                Some(id) => p.iid == id,
                None => &*p.name == reference,
            })
            .and_then(|p| p.backend.as_ref().map(|b| b.backend.clone()))
    }

    /// Applies an admin action that lb-core can carry out: administrative states
    /// (ready/drain/maint), forced health states (up/NOLB/down) and weights. The reason
    /// recorded in lb-core's events is "stats admin".
    ///
    /// # Errors
    /// An unknown backend or server, a weight lb-core refuses, or a command that needs the
    /// health checker or session tracking (enable/disable checks, agent, shutdown).
    pub fn apply(&self, action: &AdminAction) -> Result<(), String> {
        const REASON: &str = "stats admin";
        let be = self
            .resolve_backend(&action.backend)
            .ok_or_else(|| format!("no backend {:?}", action.backend))?;
        let srv = action.server.as_str();
        let done = match action.command {
            AdminCommand::Ready => be.set_admin_state(srv, AdminState::Ready, REASON),
            AdminCommand::Drain => be.set_admin_state(srv, AdminState::Drain, REASON),
            AdminCommand::Maint => be.set_admin_state(srv, AdminState::Maint, REASON),
            AdminCommand::HealthUp => be.set_op_state(srv, OpState::Up, REASON),
            AdminCommand::HealthNolb => be.set_op_state(srv, OpState::Stopping, REASON),
            AdminCommand::HealthDown => be.set_op_state(srv, OpState::Down, REASON),
            AdminCommand::Weight(w) => Weight::new(w).and_then(|w| be.set_weight(srv, w, REASON)),
            other => return Err(format!("{other} is not supported here")),
        };
        done.map_err(|e| e.to_string())
    }

    /// Reads every registered proxy now.
    pub fn snapshot(&self) -> StatsSnapshot {
        self.snapshot_at(Instant::now())
    }

    /// Reads every registered proxy, with rates and ages as of `now`.
    pub fn snapshot_at(&self, now: Instant) -> StatsSnapshot {
        let proxies: Vec<ProxyEntry> = self.read_proxies().clone();
        let health = self.health_view();
        let health = health.as_deref();
        let mut rows = Vec::new();
        let mut info = ProcessInfo {
            name: "lb".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            pid: std::process::id(),
            uptime: now.saturating_duration_since(self.inner.started),
            ..ProcessInfo::default()
        };
        for p in &proxies {
            if let Some(fe) = &p.frontend {
                let row = frontend_row(p, fe, now);
                info.current_conns += row.scur;
                info.total_conns += row.conn_tot.unwrap_or(0);
                info.total_requests += row.req_tot.unwrap_or(0);
                rows.push(row);
            }
            if let Some(be) = &p.backend {
                backend_rows(p, be, health, now, &mut rows);
            }
        }
        StatsSnapshot { info, rows }
    }
}

fn http<T>(mode: ProxyMode, v: T) -> Option<T> {
    (mode == ProxyMode::Http).then_some(v)
}

fn frontend_row(p: &ProxyEntry, fe: &FrontendEntry, now: Instant) -> StatRow {
    let c = fe.counters.read_at(now);
    let mode = fe.opts.mode;
    StatRow {
        kind: RowKind::Frontend,
        pxname: p.name.to_string(),
        svname: "FRONTEND".into(),
        mode,
        scur: c.scur,
        smax: c.smax,
        slim: fe.opts.maxconn,
        stot: c.stot,
        bin: c.bin,
        bout: c.bout,
        dreq: Some(c.dreq),
        dresp: c.dresp,
        ereq: Some(c.ereq),
        status: "OPEN".into(),
        pid: 1,
        iid: p.iid,
        sid: 0,
        rate: c.rate,
        rate_lim: Some(fe.opts.rate_limit.unwrap_or(0)),
        rate_max: c.rate_max,
        hrsp: http(mode, c.hrsp),
        req_rate: Some(c.req_rate),
        req_rate_max: Some(c.req_rate_max),
        req_tot: http(mode, c.req_tot),
        cli_abrt: Some(c.cli_abrt),
        srv_abrt: Some(c.srv_abrt),
        conn_rate: Some(c.conn_rate),
        conn_rate_max: Some(c.conn_rate_max),
        conn_tot: Some(c.conn_tot),
        intercepted: Some(c.intercepted),
        dcon: Some(c.dcon),
        dses: Some(c.dses),
        wrew: c.wrew,
        eint: c.eint,
        ..StatRow::default()
    }
}

/// The weight column: the effective weight with the slow-start ramp, back on the user
/// scale (lb-core's eweight is scaled by 16).
fn effective_weight(s: &Server, now: Instant) -> u64 {
    u64::from(s.eweight(now).div_ceil(16))
}

fn server_status(s: &Server, h: Option<&HealthInfo>) -> String {
    let admin = s.admin_state();
    if admin == AdminState::Maint {
        return "MAINT".into();
    }
    let drain = admin == AdminState::Drain;
    match h {
        Some(h) => match h.state.strip_prefix("UP") {
            Some(rest) if drain => format!("DRAIN{rest}"),
            _ => h.state.clone(),
        },
        None => match s.op_state() {
            OpState::Up | OpState::GoingDown if drain => "DRAIN".into(),
            OpState::Up => "no check".into(),
            OpState::GoingDown => "UP".into(),
            OpState::Stopping => "NOLB".into(),
            OpState::Down | OpState::GoingUp => "DOWN".into(),
        },
    }
}

fn lastsess(age: Option<u64>) -> Option<i64> {
    Some(age.map_or(-1, |a| i64::try_from(a).unwrap_or(i64::MAX)))
}

fn server_row(
    p: &ProxyEntry,
    be: &BackendEntry,
    s: &Server,
    x: &ServerCountersSnapshot,
    h: Option<&HealthInfo>,
    now: Instant,
) -> StatRow {
    let st = s.stats();
    let mode = be.opts.mode;
    let qcur = u64::from(st.queued.load(Relaxed));
    let total = st.total.load(Relaxed);
    StatRow {
        kind: RowKind::Server,
        pxname: p.name.to_string(),
        svname: s.name().to_owned(),
        mode,
        qcur: Some(qcur),
        qmax: Some(x.qmax.max(qcur)),
        scur: u64::from(st.inflight.load(Relaxed)),
        smax: u64::from(st.max_inflight.load(Relaxed)),
        slim: (s.maxconn() > 0).then(|| u64::from(s.maxconn())),
        stot: total,
        bin: st.bytes_in.load(Relaxed),
        bout: st.bytes_out.load(Relaxed),
        dresp: x.dresp,
        econ: Some(st.connect_errors.load(Relaxed)),
        eresp: Some(st.response_errors.load(Relaxed)),
        wretr: Some(st.retries.load(Relaxed)),
        wredis: Some(st.redispatches.load(Relaxed)),
        status: server_status(s, h),
        weight: Some(effective_weight(s, now)),
        act: Some(u64::from(!s.is_backup())),
        bck: Some(u64::from(s.is_backup())),
        chkfail: h.map(|h| h.chkfail),
        chkdown: h.map(|h| h.chkdown),
        lastchg: Some(s.since_last_change(now).as_secs()),
        downtime: h.map(|h| h.downtime_s),
        qlimit: (s.maxqueue() > 0).then(|| u64::from(s.maxqueue())),
        pid: 1,
        iid: p.iid,
        sid: s.id().0,
        throttle: s
            .warmup_ends(now)
            .map(|_| (s.warmup(now) * 100.0).floor() as u64),
        lbtot: Some(total),
        rate: x.rate,
        rate_max: x.rate_max,
        check_status: h.map(|h| h.check_status.clone()),
        check_code: h.and_then(|h| h.check_code),
        check_duration: h.and_then(|h| h.check_duration_ms),
        hrsp: http(mode, x.hrsp),
        req_tot: http(mode, x.req_tot),
        cli_abrt: Some(x.cli_abrt),
        srv_abrt: Some(x.srv_abrt),
        lastsess: lastsess(x.lastsess),
        qtime: Some(x.qtime),
        ctime: Some(x.ctime),
        rtime: Some(x.rtime),
        ttime: Some(x.ttime),
        addr: Some(s.address().to_string()),
        wrew: x.wrew,
        connect: Some(x.connect),
        reuse: Some(x.reuse),
        qtime_max: Some(x.qtime_max),
        ctime_max: Some(x.ctime_max),
        rtime_max: Some(x.rtime_max),
        ttime_max: Some(x.ttime_max),
        eint: x.eint,
        uweight: Some(u64::from(s.weight().get())),
        ..StatRow::default()
    }
}

/// Pushes the server rows then the BACKEND row of a backend.
///
/// The backend's own counters are what the engine counted on the backend; additive
/// counters that the engine may have counted only per server (lb-core's server stats are
/// updated by the proxy itself) show the larger of the backend's count and the servers'
/// sum, so the BACKEND row is never below its servers. Its `lastchg` is the most recent
/// change among its servers, and its `chkdown`/`downtime` stay empty (no backend-level
/// health history is kept).
fn backend_rows(
    p: &ProxyEntry,
    be: &BackendEntry,
    health: Option<&dyn HealthView>,
    now: Instant,
    rows: &mut Vec<StatRow>,
) {
    let snap = be.backend.snapshot();
    let servers_map = be.servers.read().unwrap_or_else(|e| e.into_inner()).clone();
    let empty = ServerCountersSnapshot::default();
    let first = rows.len();
    for s in snap.servers() {
        let x = servers_map
            .get(s.name())
            .map(|c| c.read_at(now))
            .unwrap_or_else(|| empty.clone());
        let h = health.and_then(|h| h.server_health(p.name.as_ref(), s.name()));
        rows.push(server_row(p, be, s, &x, h.as_ref(), now));
    }
    let srv_rows = &rows[first..];
    let sum = |f: fn(&StatRow) -> u64| srv_rows.iter().map(f).sum::<u64>();

    let c: CountersSnapshot = be.counters.read_at(now);
    let mode = be.opts.mode;
    let stats = be.backend.stats();
    let inflight = stats.inflight();
    be.counters.note_sessions(inflight);
    let qcur = be.backend.queued() as u64;
    let total = stats.total.load(Relaxed);

    let mut weight = 0;
    let mut uweight = 0;
    let (mut act, mut bck) = (0, 0);
    for s in snap.servers().iter().filter(|s| s.is_usable()) {
        if s.is_backup() {
            bck += 1;
        } else {
            act += 1;
        }
    }
    for s in snap.balanced().filter(|s| s.is_usable()) {
        weight += effective_weight(s, now);
        uweight += u64::from(s.weight().get());
    }
    let status = if weight > 0 || snap.servers().is_empty() {
        "UP"
    } else {
        "DOWN"
    };
    let hrsp = http(mode, {
        let mut h = c.hrsp;
        for (i, v) in h.iter_mut().enumerate() {
            *v = (*v).max(srv_rows.iter().filter_map(|r| r.hrsp_class(i)).sum());
        }
        h
    });
    let srv_lastsess = srv_rows
        .iter()
        .filter_map(|r| r.lastsess)
        .filter(|&a| a >= 0)
        .min();
    let row = StatRow {
        kind: RowKind::Backend,
        pxname: p.name.to_string(),
        svname: "BACKEND".into(),
        mode,
        qcur: Some(qcur),
        qmax: Some((stats.max_queued.load(Relaxed) as u64).max(qcur)),
        scur: inflight,
        smax: c.smax.max(inflight),
        slim: be.opts.maxconn,
        stot: total,
        bin: c.bin.max(sum(|r| r.bin)),
        bout: c.bout.max(sum(|r| r.bout)),
        dreq: Some(c.dreq),
        dresp: c.dresp.max(sum(|r| r.dresp)),
        econ: Some(c.econ.max(sum(|r| r.econ.unwrap_or(0)))),
        eresp: Some(c.eresp.max(sum(|r| r.eresp.unwrap_or(0)))),
        wretr: Some(c.wretr.max(sum(|r| r.wretr.unwrap_or(0)))),
        wredis: Some(c.wredis.max(sum(|r| r.wredis.unwrap_or(0)))),
        status: status.into(),
        weight: Some(weight),
        act: Some(act),
        bck: Some(bck),
        lastchg: srv_rows.iter().filter_map(|r| r.lastchg).min(),
        pid: 1,
        iid: p.iid,
        sid: 0,
        lbtot: Some(total),
        rate: c.rate,
        rate_max: c.rate_max,
        hrsp,
        req_tot: http(mode, c.req_tot.max(sum(|r| r.req_tot.unwrap_or(0)))),
        cli_abrt: Some(c.cli_abrt.max(sum(|r| r.cli_abrt.unwrap_or(0)))),
        srv_abrt: Some(c.srv_abrt.max(sum(|r| r.srv_abrt.unwrap_or(0)))),
        lastsess: match c.lastsess {
            Some(a) => lastsess(Some(a)),
            None => Some(srv_lastsess.unwrap_or(-1)),
        },
        qtime: Some(c.qtime),
        ctime: Some(c.ctime),
        rtime: Some(c.rtime),
        ttime: Some(c.ttime),
        algo: Some(be.backend.config().algorithm.keyword().into()),
        wrew: c.wrew.max(sum(|r| r.wrew)),
        connect: Some(c.connect.max(sum(|r| r.connect.unwrap_or(0)))),
        reuse: Some(c.reuse.max(sum(|r| r.reuse.unwrap_or(0)))),
        qtime_max: Some(c.qtime_max),
        ctime_max: Some(c.ctime_max),
        rtime_max: Some(c.rtime_max),
        ttime_max: Some(c.ttime_max),
        eint: c.eint.max(sum(|r| r.eint)),
        uweight: Some(uweight),
        ..StatRow::default()
    };
    rows.push(row);
}

#[cfg(test)]
mod tests {
    use super::*;
    use lb_core::{Algorithm, BalanceConfig, ServerConfig};
    use std::sync::atomic::Ordering;

    fn backend() -> Backend {
        Backend::new(
            "app",
            BalanceConfig::new(Algorithm::RoundRobin),
            [
                ServerConfig::new("a", "10.0.0.1:80".parse().unwrap()).weight(3),
                ServerConfig::new("b", "10.0.0.2:80".parse().unwrap()).maxconn(10),
                ServerConfig::new("c", "10.0.0.3:80".parse().unwrap()).backup(true),
            ],
        )
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn rows_in_haproxy_order_with_shared_iid() {
        let reg = StatsRegistry::new();
        reg.register_frontend("other", ProxyMode::Tcp);
        let be = backend();
        reg.register_frontend("app", ProxyOptions::http().maxconn(100));
        reg.register_backend(&be, ProxyMode::Http);
        let snap = reg.snapshot();
        let names: Vec<_> = snap
            .rows
            .iter()
            .map(|r| format!("{}/{}/{}", r.pxname, r.svname, r.iid))
            .collect();
        assert_eq!(
            names,
            [
                "other/FRONTEND/1",
                "app/FRONTEND/2",
                "app/a/2",
                "app/b/2",
                "app/c/2",
                "app/BACKEND/2"
            ]
        );
        let other = snap.row("other", "FRONTEND").unwrap();
        assert_eq!((other.hrsp, other.req_tot), (None, None));
        assert_eq!(snap.row("app", "FRONTEND").unwrap().slim, Some(100));
    }

    #[tokio::test(start_paused = true)]
    async fn backend_aggregates_servers() {
        let reg = StatsRegistry::new();
        let be = backend();
        let counters = reg.register_backend(&be, ProxyMode::Http);
        let a = be.server("a").unwrap();
        a.stats().connect_errors.fetch_add(2, Ordering::Relaxed);
        a.stats().bytes_in.fetch_add(100, Ordering::Relaxed);
        counters.add_bytes_in(40);
        let sa = reg.server_counters("app", "a").unwrap();
        sa.request();
        sa.response(404);
        counters.response(200);
        let _slot = be
            .try_acquire(&lb_core::RequestKey::new(), Instant::now())
            .unwrap();

        let snap = reg.snapshot();
        let b = snap.row("app", "BACKEND").unwrap();
        assert_eq!((b.econ, b.bin), (Some(2), 100));
        assert_eq!(b.hrsp, Some([0, 0, 1, 0, 1, 0]));
        assert_eq!((b.scur, b.smax, b.stot, b.lbtot), (1, 1, 1, Some(1)));
        // Actives a (3) and b (1) are balanced; the backup is usable but not in use.
        assert_eq!(
            (b.weight, b.uweight, b.act, b.bck),
            (Some(4), Some(4), Some(2), Some(1))
        );
        assert_eq!(
            (b.status.as_str(), b.algo.as_deref()),
            ("UP", Some("roundrobin"))
        );
        let sb = snap.row("app", "b").unwrap();
        assert_eq!(
            (sb.slim, sb.sid, sb.act, sb.bck),
            (Some(10), 2, Some(1), Some(0))
        );
        assert_eq!(snap.row("app", "c").unwrap().bck, Some(1));
        assert_eq!(snap.row("app", "a").unwrap().lastsess, Some(0));
        assert_eq!(snap.row("app", "b").unwrap().lastsess, Some(-1));
    }

    #[tokio::test(start_paused = true)]
    async fn server_states_without_and_with_health() {
        let reg = StatsRegistry::new();
        let be = backend();
        reg.register_backend(&be, ProxyMode::Http);
        be.set_admin_state("a", AdminState::Drain, "t").unwrap();
        be.set_op_state("b", OpState::Stopping, "t").unwrap();
        be.set_admin_state("c", AdminState::Maint, "t").unwrap();
        let snap = reg.snapshot();
        let st = |s: &str| snap.row("app", s).unwrap().status.clone();
        assert_eq!(
            (st("a"), st("b"), st("c")),
            ("DRAIN".into(), "NOLB".into(), "MAINT".into())
        );
        be.set_op_state("b", OpState::Down, "t").unwrap();
        assert_eq!(reg.snapshot().row("app", "BACKEND").unwrap().status, "DOWN");

        reg.set_health_view(|_: &str, server: &str| {
            (server != "c").then(|| HealthInfo {
                state: "UP 2/3".into(),
                check_status: "L7OK".into(),
                check_code: Some(200),
                check_duration_ms: Some(3),
                chkfail: 1,
                chkdown: 0,
                downtime_s: 7,
            })
        });
        let snap = reg.snapshot();
        let a = snap.row("app", "a").unwrap();
        assert_eq!(a.status, "DRAIN 2/3");
        assert_eq!(
            (
                a.check_status.as_deref(),
                a.check_code,
                a.check_duration,
                a.downtime
            ),
            (Some("L7OK"), Some(200), Some(3), Some(7))
        );
        assert_eq!(snap.row("app", "b").unwrap().status, "UP 2/3");
        assert_eq!(snap.row("app", "c").unwrap().status, "MAINT");
    }

    #[tokio::test(start_paused = true)]
    async fn apply_admin_actions() {
        let reg = StatsRegistry::new();
        let be = backend();
        reg.register_backend(&be, ProxyMode::Http);
        let act = |backend: &str, server: &str, command| AdminAction {
            backend: backend.into(),
            server: server.into(),
            command,
        };
        reg.apply(&act("app", "a", AdminCommand::Maint)).unwrap();
        assert_eq!(be.server("a").unwrap().admin_state(), AdminState::Maint);
        reg.apply(&act("#1", "a", AdminCommand::Weight(7))).unwrap();
        assert_eq!(be.server("a").unwrap().weight().get(), 7);
        reg.apply(&act("app", "b", AdminCommand::HealthDown))
            .unwrap();
        assert_eq!(be.server("b").unwrap().op_state(), OpState::Down);
        assert!(reg.apply(&act("nope", "a", AdminCommand::Ready)).is_err());
        assert!(reg.apply(&act("app", "zz", AdminCommand::Ready)).is_err());
        assert!(reg
            .apply(&act("app", "a", AdminCommand::Weight(999)))
            .is_err());
        assert!(reg.apply(&act("app", "a", AdminCommand::Shutdown)).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn server_counters_for_servers_added_later() {
        let reg = StatsRegistry::new();
        let be = backend();
        reg.register_backend(&be, ProxyMode::Http);
        assert!(reg.server_counters("app", "d").is_none());
        be.add_server(ServerConfig::new("d", "10.0.0.4:80".parse().unwrap()), "t")
            .unwrap();
        let d = reg.server_counters("app", "d").unwrap();
        assert!(Arc::ptr_eq(&d, &reg.server_counters("app", "d").unwrap()));
        assert!(reg.server_counters("nope", "d").is_none());
        assert_eq!(reg.snapshot().rows.len(), 5);
    }
}

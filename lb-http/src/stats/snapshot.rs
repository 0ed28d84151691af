//! The snapshot model: one [`StatRow`] per frontend, server and backend, as HAProxy's
//! `show stat` lists them.

use std::fmt;
use std::time::Duration;

/// What a row describes (HAProxy's `type` column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RowKind {
    /// A frontend (`svname` FRONTEND, type 0).
    #[default]
    Frontend,
    /// The aggregate row of a backend (`svname` BACKEND, type 1).
    Backend,
    /// A server of a backend (type 2).
    Server,
}

impl RowKind {
    /// HAProxy's numeric type: 0 frontend, 1 backend, 2 server (3 is a listener).
    pub const fn code(self) -> u8 {
        match self {
            RowKind::Frontend => 0,
            RowKind::Backend => 1,
            RowKind::Server => 2,
        }
    }
}

/// A proxy's mode (`mode` column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProxyMode {
    /// `mode http`: HTTP columns (status classes, requests) are filled.
    #[default]
    Http,
    /// `mode tcp`.
    Tcp,
}

impl ProxyMode {
    /// The keyword, as the `mode` column shows it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProxyMode::Http => "http",
            ProxyMode::Tcp => "tcp",
        }
    }
}

impl fmt::Display for ProxyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of statistics: a frontend, a backend or a server.
///
/// Fields are HAProxy's CSV columns by the same names; `None` is an empty cell (a column
/// that does not apply to this kind of row, or a value lb does not track). Times are
/// milliseconds, ages and durations seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatRow {
    /// Frontend, backend or server.
    pub kind: RowKind,
    /// Proxy name.
    pub pxname: String,
    /// FRONTEND, BACKEND or the server name.
    pub svname: String,
    /// The proxy's mode.
    pub mode: ProxyMode,
    /// Requests queued now.
    pub qcur: Option<u64>,
    /// Most requests queued.
    pub qmax: Option<u64>,
    /// Current sessions.
    pub scur: u64,
    /// Most concurrent sessions.
    pub smax: u64,
    /// Session limit (maxconn; fullconn for a backend).
    pub slim: Option<u64>,
    /// Total sessions.
    pub stot: u64,
    /// Request bytes.
    pub bin: u64,
    /// Response bytes.
    pub bout: u64,
    /// Denied requests.
    pub dreq: Option<u64>,
    /// Denied responses.
    pub dresp: u64,
    /// Request errors.
    pub ereq: Option<u64>,
    /// Connection errors.
    pub econ: Option<u64>,
    /// Response errors.
    pub eresp: Option<u64>,
    /// Retries.
    pub wretr: Option<u64>,
    /// Redispatches.
    pub wredis: Option<u64>,
    /// OPEN; UP or DOWN; a server state ("UP", "UP 1/3", "DOWN", "NOLB", "DRAIN", "MAINT",
    /// "no check").
    pub status: String,
    /// Effective weight (sum of the balanced servers' for a backend).
    pub weight: Option<u64>,
    /// Active servers usable (backend), or 1 for an active server.
    pub act: Option<u64>,
    /// Backup servers usable (backend), or 1 for a backup server.
    pub bck: Option<u64>,
    /// Failed checks.
    pub chkfail: Option<u64>,
    /// UP to DOWN transitions.
    pub chkdown: Option<u64>,
    /// Seconds since the last state change.
    pub lastchg: Option<u64>,
    /// Seconds spent DOWN.
    pub downtime: Option<u64>,
    /// Queue limit (server maxqueue).
    pub qlimit: Option<u64>,
    /// Process number (always 1).
    pub pid: u32,
    /// Proxy id.
    pub iid: u32,
    /// Server id (0 for frontends and backends).
    pub sid: u32,
    /// Slow-start throttle, percent, while ramping.
    pub throttle: Option<u64>,
    /// Times a server was selected.
    pub lbtot: Option<u64>,
    /// The server this one tracks, as `backend/server`.
    pub tracked: Option<String>,
    /// Sessions per second.
    pub rate: u64,
    /// Session rate limit (frontends).
    pub rate_lim: Option<u64>,
    /// Highest sessions per second.
    pub rate_max: u64,
    /// Last health check result (L4OK, L7STS...).
    pub check_status: Option<String>,
    /// Last health check layer 5-7 code.
    pub check_code: Option<u16>,
    /// Last health check duration, ms.
    pub check_duration: Option<u64>,
    /// HTTP responses `[other, 1xx, 2xx, 3xx, 4xx, 5xx]` (HTTP proxies).
    pub hrsp: Option<[u64; 6]>,
    /// HTTP requests per second (frontends).
    pub req_rate: Option<u64>,
    /// Highest HTTP requests per second (frontends).
    pub req_rate_max: Option<u64>,
    /// HTTP requests.
    pub req_tot: Option<u64>,
    /// Client aborts.
    pub cli_abrt: Option<u64>,
    /// Server aborts.
    pub srv_abrt: Option<u64>,
    /// Seconds since the last session (-1: never).
    pub lastsess: Option<i64>,
    /// Average queue time, ms.
    pub qtime: Option<u64>,
    /// Average connect time, ms.
    pub ctime: Option<u64>,
    /// Average response time, ms.
    pub rtime: Option<u64>,
    /// Average total time, ms.
    pub ttime: Option<u64>,
    /// Server address (with legends only).
    pub addr: Option<String>,
    /// Balancing algorithm (with legends only).
    pub algo: Option<String>,
    /// Connections per second (frontends).
    pub conn_rate: Option<u64>,
    /// Highest connections per second (frontends).
    pub conn_rate_max: Option<u64>,
    /// Connections accepted (frontends).
    pub conn_tot: Option<u64>,
    /// Intercepted requests (frontends).
    pub intercepted: Option<u64>,
    /// Denied connections (frontends).
    pub dcon: Option<u64>,
    /// Denied sessions (frontends).
    pub dses: Option<u64>,
    /// Failed header rewrites.
    pub wrew: u64,
    /// Connection attempts (backends, servers).
    pub connect: Option<u64>,
    /// Reused connections (backends, servers).
    pub reuse: Option<u64>,
    /// Largest queue time, ms.
    pub qtime_max: Option<u64>,
    /// Largest connect time, ms.
    pub ctime_max: Option<u64>,
    /// Largest response time, ms.
    pub rtime_max: Option<u64>,
    /// Largest total time, ms.
    pub ttime_max: Option<u64>,
    /// Internal errors.
    pub eint: u64,
    /// User weight (sum over the balanced servers for a backend).
    pub uweight: Option<u64>,
}

impl StatRow {
    /// The HTTP responses of one class: 1 to 5 for 1xx to 5xx, 0 for the others.
    pub fn hrsp_class(&self, class: usize) -> Option<u64> {
        self.hrsp.and_then(|h| h.get(class).copied())
    }
}

/// Process-wide information shown above the tables (HAProxy's `show info`, in part).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Product name.
    pub name: String,
    /// Product version.
    pub version: String,
    /// Operating-system process id.
    pub pid: u32,
    /// Time since the registry was created.
    pub uptime: Duration,
    /// Sessions open on all frontends now.
    pub current_conns: u64,
    /// Sessions accepted on all frontends.
    pub total_conns: u64,
    /// HTTP requests received on all frontends.
    pub total_requests: u64,
}

/// Every row, in HAProxy's order: for each proxy its frontend, its servers, its backend.
///
/// # Examples
/// ```
/// use lb_http::stats::{ProxyMode, StatsRegistry};
///
/// let stats = StatsRegistry::new();
/// let fe = stats.register_frontend("www", ProxyMode::Http);
/// fe.session_start();
/// let snap = stats.snapshot();
/// let row = snap.row("www", "FRONTEND").unwrap();
/// assert_eq!((row.scur, row.status.as_str()), (1, "OPEN"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Process information.
    pub info: ProcessInfo,
    /// The rows.
    pub rows: Vec<StatRow>,
}

impl StatsSnapshot {
    /// The row of `pxname`/`svname` (FRONTEND, BACKEND or a server name).
    pub fn row(&self, pxname: &str, svname: &str) -> Option<&StatRow> {
        self.rows
            .iter()
            .find(|r| r.pxname == pxname && r.svname == svname)
    }

    /// Drops the columns HAProxy shows only with `stats show-legends` (addresses,
    /// algorithms).
    pub fn without_legends(mut self) -> Self {
        for r in &mut self.rows {
            r.addr = None;
            r.algo = None;
        }
        self
    }

    /// Drops the server rows that are in maintenance or down and not coming back up (the
    /// stats page's `;up` option); "DOWN 1/2" servers, on their way up, stay.
    pub fn hide_down_servers(mut self) -> Self {
        self.rows.retain(|r| {
            r.kind != RowKind::Server
                || !(r.status.starts_with("MAINT")
                    || r.status == "DOWN"
                    || r.status.starts_with("DOWN ("))
        });
        self
    }
}

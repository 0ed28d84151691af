//! The Prometheus text exposition, with the names of HAProxy's exporter (promex,
//! `addons/promex/service-prometheus.c`).
//!
//! Metrics are `haproxy_process_*`, `haproxy_frontend_*`, `haproxy_backend_*` and
//! `haproxy_server_*`, labelled `proxy="..."` (and `server="..."`), each preceded by its
//! `# HELP` and `# TYPE` lines and listed metric by metric, as promex does. States are
//! one sample per possible state, 1 for the current one
//! (`haproxy_server_status{proxy="app",server="web1",state="UP"} 1`); HTTP responses are one
//! sample per class (`haproxy_frontend_http_responses_total{proxy="www",code="2xx"} 42`);
//! times are seconds. A value a row does not have (a server without maxconn has no
//! `limit_sessions`) is left out rather than printed as `NaN`.
//!
//! # Examples
//! ```
//! use lb_http::stats::{prometheus, ProxyMode, StatsRegistry};
//!
//! let stats = StatsRegistry::new();
//! let fe = stats.register_frontend("www", ProxyMode::Http);
//! fe.session_start();
//! let text = prometheus::render(&stats.snapshot(), &prometheus::Scopes::all());
//! assert!(text.contains("# TYPE haproxy_frontend_current_sessions gauge\n"));
//! assert!(text.contains("haproxy_frontend_current_sessions{proxy=\"www\"} 1\n"));
//! assert!(text.contains("haproxy_frontend_status{proxy=\"www\",state=\"UP\"} 1\n"));
//! ```

use std::fmt::Write as _;

use super::snapshot::{RowKind, StatRow, StatsSnapshot};

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which groups of metrics to export (promex's `scope=` query parameter), and whether to
/// leave out servers in maintenance (`no-maint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scopes {
    /// `haproxy_process_*`.
    pub global: bool,
    /// `haproxy_frontend_*`.
    pub frontend: bool,
    /// `haproxy_backend_*`.
    pub backend: bool,
    /// `haproxy_server_*`.
    pub server: bool,
    /// Leave out servers in maintenance.
    pub no_maint: bool,
}

impl Default for Scopes {
    fn default() -> Self {
        Scopes::all()
    }
}

impl Scopes {
    /// Every scope.
    pub const fn all() -> Self {
        Scopes {
            global: true,
            frontend: true,
            backend: true,
            server: true,
            no_maint: false,
        }
    }

    /// Parses promex's query string: `scope=global|frontend|backend|server|*` (repeatable;
    /// without any, every scope; an empty one selects nothing) and `no-maint`. Unknown
    /// parameters are ignored.
    pub fn from_query(query: &str) -> Self {
        let mut s = Scopes::all();
        let mut any = false;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "scope" => {
                    if !any {
                        any = true;
                        s = Scopes {
                            no_maint: s.no_maint,
                            ..Scopes::none()
                        };
                    }
                    match v {
                        "*" => {
                            s = Scopes {
                                no_maint: s.no_maint,
                                ..Scopes::all()
                            }
                        }
                        "global" => s.global = true,
                        "frontend" => s.frontend = true,
                        "backend" => s.backend = true,
                        "server" => s.server = true,
                        _ => {}
                    }
                }
                "no-maint" => s.no_maint = true,
                _ => {}
            }
        }
        s
    }

    const fn none() -> Self {
        Scopes {
            global: false,
            frontend: false,
            backend: false,
            server: false,
            no_maint: false,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Gauge,
    Counter,
}

impl Type {
    const fn as_str(self) -> &'static str {
        match self {
            Type::Gauge => "gauge",
            Type::Counter => "counter",
        }
    }
}

#[derive(Clone, Copy)]
enum Num {
    U(u64),
    I(i64),
    /// Milliseconds, exported as seconds.
    Ms(u64),
}

/// How a metric gets its samples from a row.
#[derive(Clone, Copy)]
enum Get {
    One(fn(&StatRow) -> Option<Num>),
    /// `state` label per possible state.
    Status,
    /// `code` label per status class.
    Responses,
    /// `state` label per check status.
    CheckStatus,
    /// `state` label per server state, counted over the backend's servers.
    AggServerStatus,
}

const FE: u8 = 1;
const BE: u8 = 2;
const SRV: u8 = 4;

struct Metric {
    name: &'static str,
    ty: Type,
    scopes: u8,
    help: &'static str,
    get: Get,
}

const fn m(
    name: &'static str,
    ty: Type,
    scopes: u8,
    help: &'static str,
    get: fn(&StatRow) -> Option<Num>,
) -> Metric {
    Metric {
        name,
        ty,
        scopes,
        help,
        get: Get::One(get),
    }
}

fn u(v: u64) -> Option<Num> {
    Some(Num::U(v))
}

fn ou(v: Option<u64>) -> Option<Num> {
    v.map(Num::U)
}

fn oms(v: Option<u64>) -> Option<Num> {
    v.map(Num::Ms)
}

use Type::{Counter, Gauge};

/// promex's frontend/backend/server metrics, in its order (the stats field order).
const METRICS: &[Metric] = &[
    m("current_queue", Gauge, BE | SRV, "Number of current queued connections.", |r| ou(r.qcur)),
    m("max_queue", Gauge, BE | SRV, "Highest value of queued connections encountered since process started.", |r| ou(r.qmax)),
    m("current_sessions", Gauge, FE | BE | SRV, "Number of current sessions on the frontend, backend or server.", |r| u(r.scur)),
    m("max_sessions", Gauge, FE | BE | SRV, "Highest value of current sessions encountered since process started.", |r| u(r.smax)),
    m("limit_sessions", Gauge, FE | BE | SRV, "Frontend/listener/server's maxconn, backend's fullconn.", |r| ou(r.slim)),
    m("sessions_total", Counter, FE | BE | SRV, "Total number of sessions since process started.", |r| u(r.stot)),
    m("bytes_in_total", Counter, FE | BE | SRV, "Total number of request bytes since process started.", |r| u(r.bin)),
    m("bytes_out_total", Counter, FE | BE | SRV, "Total number of response bytes since process started.", |r| u(r.bout)),
    m("requests_denied_total", Counter, FE | BE, "Total number of denied requests since process started.", |r| ou(r.dreq)),
    m("responses_denied_total", Counter, FE | BE | SRV, "Total number of denied responses since process started.", |r| u(r.dresp)),
    m("request_errors_total", Counter, FE, "Total number of invalid requests since process started.", |r| ou(r.ereq)),
    m("connection_errors_total", Counter, BE | SRV, "Total number of failed connections to server since the worker process started.", |r| ou(r.econ)),
    m("response_errors_total", Counter, BE | SRV, "Total number of invalid responses since the worker process started.", |r| ou(r.eresp)),
    m("retry_warnings_total", Counter, BE | SRV, "Total number of server connection retries since the worker process started.", |r| ou(r.wretr)),
    m("redispatch_warnings_total", Counter, BE | SRV, "Total number of server redispatches due to connection failures since the worker process started.", |r| ou(r.wredis)),
    Metric { name: "status", ty: Gauge, scopes: FE | BE | SRV, help: "Current status of the service, per state label value.", get: Get::Status },
    m("weight", Gauge, BE | SRV, "Server's effective weight, or sum of active servers' effective weights for a backend.", |r| ou(r.weight)),
    m("active_servers", Gauge, BE, "Total number of active UP servers with a non-zero weight.", |r| ou(r.act)),
    m("backup_servers", Gauge, BE, "Total number of backup UP servers with a non-zero weight.", |r| ou(r.bck)),
    m("check_failures_total", Counter, SRV, "Total number of failed individual health checks per server/backend, since the worker process started.", |r| ou(r.chkfail)),
    m("check_up_down_total", Counter, BE | SRV, "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started.", |r| ou(r.chkdown)),
    m("check_last_change_seconds", Gauge, BE | SRV, "How long ago the last server state changed, in seconds.", |r| ou(r.lastchg)),
    m("downtime_seconds_total", Counter, BE | SRV, "Total time spent in DOWN state, for server or backend.", |r| ou(r.downtime)),
    m("queue_limit", Gauge, SRV, "Limit on the number of connections in queue, for servers only (maxqueue argument).", |r| ou(r.qlimit)),
    m("current_throttle", Gauge, SRV, "Throttling ratio applied to a server's maxconn and weight during the slowstart period (0 to 100%).", |r| ou(r.throttle)),
    m("loadbalanced_total", Counter, BE | SRV, "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness).", |r| ou(r.lbtot)),
    m("limit_session_rate", Gauge, FE, "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting).", |r| ou(r.rate_lim)),
    m("max_session_rate", Gauge, FE | BE | SRV, "Highest value of sessions per second observed since the worker process started.", |r| u(r.rate_max)),
    Metric { name: "check_status", ty: Gauge, scopes: SRV, help: "Status of last health check, per state label value.", get: Get::CheckStatus },
    m("check_code", Gauge, SRV, "layer5-7 code, if available of the last health check.", |r| {
        r.check_status.as_ref().map(|_| Num::U(r.check_code.map_or(0, u64::from)))
    }),
    m("check_duration_seconds", Gauge, SRV, "Total duration of the latest server health check, in seconds.", |r| oms(r.check_duration)),
    Metric { name: "http_responses_total", ty: Counter, scopes: FE | BE | SRV, help: "Total number of HTTP responses returned by this object since the worker process started, per status class.", get: Get::Responses },
    m("http_requests_rate_max", Gauge, FE, "Highest value of http requests observed since the worker process started.", |r| ou(r.req_rate_max)),
    m("http_requests_total", Counter, FE | BE | SRV, "Total number of HTTP requests processed by this object since the worker process started.", |r| ou(r.req_tot)),
    m("client_aborts_total", Counter, BE | SRV, "Total number of requests or connections aborted by the client since the worker process started.", |r| ou(r.cli_abrt)),
    m("server_aborts_total", Counter, BE | SRV, "Total number of requests or connections aborted by the server since the worker process started.", |r| ou(r.srv_abrt)),
    m("last_session_seconds", Gauge, BE | SRV, "How long ago some traffic was seen on this object on this worker process, in seconds.", |r| r.lastsess.map(Num::I)),
    m("queue_time_average_seconds", Gauge, BE | SRV, "Avg. queue time for last 1024 successful connections.", |r| oms(r.qtime)),
    m("connect_time_average_seconds", Gauge, BE | SRV, "Avg. connect time for last 1024 successful connections.", |r| oms(r.ctime)),
    m("response_time_average_seconds", Gauge, BE | SRV, "Avg. response time for last 1024 successful connections.", |r| oms(r.rtime)),
    m("total_time_average_seconds", Gauge, BE | SRV, "Avg. total time for last 1024 successful connections.", |r| oms(r.ttime)),
    m("connections_rate_max", Gauge, FE, "Highest value of connections per second observed since the worker process started.", |r| ou(r.conn_rate_max)),
    m("connections_total", Counter, FE, "Total number of new connections accepted on this frontend since the worker process started.", |r| ou(r.conn_tot)),
    m("intercepted_requests_total", Counter, FE, "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started.", |r| ou(r.intercepted)),
    m("denied_connections_total", Counter, FE, "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started.", |r| ou(r.dcon)),
    m("denied_sessions_total", Counter, FE, "Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started.", |r| ou(r.dses)),
    m("failed_header_rewriting_total", Counter, FE | BE | SRV, "Total number of failed HTTP header rewrites since the worker process started.", |r| u(r.wrew)),
    m("connection_attempts_total", Counter, BE | SRV, "Total number of outgoing connection attempts on this backend/server since the worker process started.", |r| ou(r.connect)),
    m("connection_reuses_total", Counter, BE | SRV, "Total number of reused connection on this backend/server since the worker process started.", |r| ou(r.reuse)),
    m("max_queue_time_seconds", Gauge, BE | SRV, "Maximum observed time spent in the queue", |r| oms(r.qtime_max)),
    m("max_connect_time_seconds", Gauge, BE | SRV, "Maximum observed time spent waiting for a connection to complete", |r| oms(r.ctime_max)),
    m("max_response_time_seconds", Gauge, BE | SRV, "Maximum observed time spent waiting for a server response", |r| oms(r.rtime_max)),
    m("max_total_time_seconds", Gauge, BE | SRV, "Maximum observed total request+response time (request+queue+connect+response+processing)", |r| oms(r.ttime_max)),
    m("internal_errors_total", Counter, FE | BE | SRV, "Total number of internal errors since process started.", |r| u(r.eint)),
    m("uweight", Gauge, BE | SRV, "Server's user weight, or sum of active servers' user weights for a backend.", |r| ou(r.uweight)),
    Metric { name: "agg_server_status", ty: Gauge, scopes: BE, help: "Backend's aggregated gauge of servers' status.", get: Get::AggServerStatus },
];

const FRONT_STATES: [&str; 2] = ["DOWN", "UP"];
const BACK_STATES: [&str; 2] = ["DOWN", "UP"];
const SERVER_STATES: [&str; 5] = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"];
/// The check statuses promex lists (those whose result is at least "failed").
const CHECK_STATES: [&str; 16] = [
    "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP",
    "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK",
];
const CODES: [(usize, &str); 6] = [
    (1, "1xx"),
    (2, "2xx"),
    (3, "3xx"),
    (4, "4xx"),
    (5, "5xx"),
    (0, "other"),
];

/// promex's server state of a row's status string: MAINT, DRAIN, NOLB, UP (also "no check"
/// and "UP 1/3") or DOWN (also "DOWN 1/2").
pub fn server_state(status: &str) -> &'static str {
    if status.starts_with("MAINT") {
        "MAINT"
    } else if status.starts_with("DRAIN") {
        "DRAIN"
    } else if status.starts_with("NOLB") {
        "NOLB"
    } else if status.starts_with("UP") || status == "no check" {
        "UP"
    } else {
        "DOWN"
    }
}

/// Appends a label value, escaped as the exposition format wants (`\\`, `\"`, `\n`).
fn push_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

struct Writer<'a> {
    out: &'a mut String,
    prefix: &'static str,
    /// Whether the current metric's HELP/TYPE lines were written.
    header_done: bool,
}

impl Writer<'_> {
    fn sample(&mut self, metric: &Metric, row: &StatRow, extra: Option<(&str, &str)>, v: Num) {
        if !self.header_done {
            self.header_done = true;
            let _ = writeln!(
                self.out,
                "# HELP {p}{n} {h}\n# TYPE {p}{n} {t}",
                p = self.prefix,
                n = metric.name,
                h = metric.help,
                t = metric.ty.as_str()
            );
        }
        self.out.push_str(self.prefix);
        self.out.push_str(metric.name);
        self.out.push_str("{proxy=\"");
        push_label_value(&row.pxname, self.out);
        self.out.push('"');
        if row.kind == RowKind::Server {
            self.out.push_str(",server=\"");
            push_label_value(&row.svname, self.out);
            self.out.push('"');
        }
        if let Some((k, v)) = extra {
            self.out.push(',');
            self.out.push_str(k);
            self.out.push_str("=\"");
            push_label_value(v, self.out);
            self.out.push('"');
        }
        self.out.push_str("} ");
        let _ = match v {
            Num::U(n) => write!(self.out, "{n}"),
            Num::I(n) => write!(self.out, "{n}"),
            Num::Ms(ms) => write!(self.out, "{}", ms as f64 / 1000.0),
        };
        self.out.push('\n');
    }
}

fn states_of(kind: RowKind) -> &'static [&'static str] {
    match kind {
        RowKind::Frontend => &FRONT_STATES,
        RowKind::Backend => &BACK_STATES,
        RowKind::Server => &SERVER_STATES,
    }
}

fn current_state(row: &StatRow) -> &'static str {
    match row.kind {
        RowKind::Frontend => {
            if row.status == "OPEN" {
                "UP"
            } else {
                "DOWN"
            }
        }
        RowKind::Backend => {
            if row.status.starts_with("UP") {
                "UP"
            } else {
                "DOWN"
            }
        }
        RowKind::Server => server_state(&row.status),
    }
}

fn render_scope(
    snapshot: &StatsSnapshot,
    kind: RowKind,
    scope: u8,
    prefix: &'static str,
    no_maint: bool,
    out: &mut String,
) {
    let rows: Vec<(usize, &StatRow)> = snapshot
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == kind)
        .filter(|(_, r)| !(no_maint && kind == RowKind::Server && r.status.starts_with("MAINT")))
        .collect();
    for metric in METRICS.iter().filter(|m| m.scopes & scope != 0) {
        let mut w = Writer {
            out: &mut *out,
            prefix,
            header_done: false,
        };
        for &(index, row) in &rows {
            match metric.get {
                Get::One(f) => {
                    if let Some(v) = f(row) {
                        w.sample(metric, row, None, v);
                    }
                }
                Get::Status => {
                    let cur = current_state(row);
                    for &s in states_of(kind) {
                        w.sample(metric, row, Some(("state", s)), Num::U(u64::from(s == cur)));
                    }
                }
                Get::Responses => {
                    for (class, code) in CODES {
                        if let Some(v) = row.hrsp_class(class) {
                            w.sample(metric, row, Some(("code", code)), Num::U(v));
                        }
                    }
                }
                Get::CheckStatus => {
                    if let Some(cur) = &row.check_status {
                        let cur = cur.trim_start_matches("* ");
                        for s in CHECK_STATES {
                            w.sample(metric, row, Some(("state", s)), Num::U(u64::from(s == cur)));
                        }
                    }
                }
                Get::AggServerStatus => {
                    // The backend's servers are the server rows just before its row.
                    let servers = snapshot.rows[..index]
                        .iter()
                        .rev()
                        .take_while(|r| r.kind == RowKind::Server && r.pxname == row.pxname);
                    let mut counts = [0u64; SERVER_STATES.len()];
                    let mut any = false;
                    for s in servers {
                        any = true;
                        let st = server_state(&s.status);
                        if let Some(i) = SERVER_STATES.iter().position(|&x| x == st) {
                            counts[i] += 1;
                        }
                    }
                    if any {
                        for (&s, n) in SERVER_STATES.iter().zip(counts) {
                            w.sample(metric, row, Some(("state", s)), Num::U(n));
                        }
                    }
                }
            }
        }
    }
}

fn render_process(snapshot: &StatsSnapshot, out: &mut String) {
    let i = &snapshot.info;
    let mut gauge = |name: &str, ty: Type, help: &str, v: u64| {
        let _ = writeln!(
            out,
            "# HELP haproxy_process_{name} {help}\n# TYPE haproxy_process_{name} {}\nhaproxy_process_{name} {v}",
            ty.as_str()
        );
    };
    gauge(
        "uptime_seconds",
        Gauge,
        "How long ago this worker process was started (seconds).",
        i.uptime.as_secs(),
    );
    gauge(
        "current_connections",
        Gauge,
        "Current number of active sessions on the frontends.",
        i.current_conns,
    );
    gauge(
        "connections_total",
        Counter,
        "Total number of connections accepted on the frontends.",
        i.total_conns,
    );
    gauge(
        "requests_total",
        Counter,
        "Total number of HTTP requests received on the frontends.",
        i.total_requests,
    );
    out.push_str(
        "# HELP haproxy_process_build_info Build info\n# TYPE haproxy_process_build_info gauge\n",
    );
    out.push_str("haproxy_process_build_info{version=\"");
    push_label_value(&format!("{} {}", i.name, i.version), out);
    out.push_str("\"} 1\n");
}

/// The exposition of `snapshot`, limited to `scopes`.
pub fn render(snapshot: &StatsSnapshot, scopes: &Scopes) -> String {
    let mut out = String::with_capacity(4096 + snapshot.rows.len() * 2048);
    if scopes.global {
        render_process(snapshot, &mut out);
    }
    if scopes.frontend {
        render_scope(
            snapshot,
            RowKind::Frontend,
            FE,
            "haproxy_frontend_",
            false,
            &mut out,
        );
    }
    if scopes.backend {
        render_scope(
            snapshot,
            RowKind::Backend,
            BE,
            "haproxy_backend_",
            false,
            &mut out,
        );
    }
    if scopes.server {
        render_scope(
            snapshot,
            RowKind::Server,
            SRV,
            "haproxy_server_",
            scopes.no_maint,
            &mut out,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::snapshot::ProxyMode;
    use std::collections::HashSet;

    fn snapshot() -> StatsSnapshot {
        let fe = StatRow {
            kind: RowKind::Frontend,
            pxname: "www".into(),
            svname: "FRONTEND".into(),
            status: "OPEN".into(),
            scur: 2,
            stot: 10,
            dreq: Some(1),
            ereq: Some(0),
            hrsp: Some([0, 0, 8, 1, 1, 0]),
            req_tot: Some(10),
            req_rate_max: Some(5),
            rate_lim: Some(0),
            conn_tot: Some(4),
            ..StatRow::default()
        };
        let srv = |name: &str, status: &str| StatRow {
            kind: RowKind::Server,
            pxname: "a\"pp".into(),
            svname: name.into(),
            status: status.into(),
            weight: Some(1),
            qcur: Some(0),
            rtime: Some(12),
            hrsp: Some([0, 0, 3, 0, 0, 0]),
            ..StatRow::default()
        };
        let mut s1 = srv("web1", "UP 1/3");
        s1.check_status = Some("L7OK".into());
        s1.check_code = Some(200);
        s1.check_duration = Some(2);
        let be = StatRow {
            kind: RowKind::Backend,
            pxname: "a\"pp".into(),
            svname: "BACKEND".into(),
            status: "UP".into(),
            mode: ProxyMode::Http,
            qcur: Some(0),
            wretr: Some(0),
            weight: Some(2),
            hrsp: Some([0, 0, 6, 0, 0, 0]),
            ..StatRow::default()
        };
        StatsSnapshot {
            rows: vec![fe, s1, srv("web2", "MAINT"), be],
            ..StatsSnapshot::default()
        }
    }

    /// Checks every line: comments are HELP/TYPE, samples are `name{labels} value` with a
    /// valid name, well-formed labels and a number; returns the samples.
    /// A sample: name, labels, value.
    type Sample = (String, Vec<(String, String)>, f64);

    fn parse(text: &str) -> Vec<Sample> {
        let mut samples = Vec::new();
        let mut typed = HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# ") {
                let mut parts = rest.splitn(3, ' ');
                let kw = parts.next().unwrap();
                let name = parts.next().unwrap();
                assert!(kw == "HELP" || kw == "TYPE", "{line}");
                if kw == "TYPE" {
                    let ty = parts.next().unwrap();
                    assert!(ty == "gauge" || ty == "counter", "{line}");
                    assert!(typed.insert(name.to_owned()), "TYPE twice: {line}");
                }
                continue;
            }
            let (head, value) = line.rsplit_once(' ').expect("name and value");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("number: {line}"));
            let (name, labels) = match head.split_once('{') {
                Some((n, l)) => (n, l.strip_suffix('}').expect("closing brace")),
                None => (head, ""),
            };
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            assert!(typed.contains(name), "sample before its TYPE: {line}");
            let mut ls = Vec::new();
            let mut rest = labels;
            while !rest.is_empty() {
                let (k, v) = rest.split_once("=\"").expect("label=\"");
                let mut val = String::new();
                let mut chars = v.char_indices();
                let end = loop {
                    match chars.next().expect("closing quote") {
                        (_, '\\') => val.push(chars.next().expect("escape").1),
                        (i, '"') => break i,
                        (_, c) => val.push(c),
                    }
                };
                ls.push((k.to_owned(), val));
                rest = &v[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
            samples.push((name.to_owned(), ls, value));
        }
        samples
    }

    fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a f64> {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| v)
    }

    #[test]
    fn parses_line_by_line_with_haproxy_names() {
        let text = render(&snapshot(), &Scopes::all());
        let s = parse(&text);
        let names: HashSet<&str> = s.iter().map(|(n, _, _)| n.as_str()).collect();
        for expected in [
            "haproxy_process_uptime_seconds",
            "haproxy_process_build_info",
            "haproxy_frontend_current_sessions",
            "haproxy_frontend_sessions_total",
            "haproxy_frontend_bytes_in_total",
            "haproxy_frontend_bytes_out_total",
            "haproxy_frontend_requests_denied_total",
            "haproxy_frontend_request_errors_total",
            "haproxy_frontend_http_requests_total",
            "haproxy_frontend_http_responses_total",
            "haproxy_frontend_status",
            "haproxy_backend_status",
            "haproxy_backend_current_queue",
            "haproxy_backend_weight",
            "haproxy_backend_retry_warnings_total",
            "haproxy_backend_agg_server_status",
            "haproxy_server_status",
            "haproxy_server_weight",
            "haproxy_server_check_status",
            "haproxy_server_check_code",
            "haproxy_server_check_duration_seconds",
            "haproxy_server_response_time_average_seconds",
            "haproxy_server_http_responses_total",
        ] {
            assert!(names.contains(expected), "{expected} missing");
        }
        let www = [("proxy", "www")];
        assert_eq!(
            find(&s, "haproxy_frontend_current_sessions", &www),
            Some(&2.0)
        );
        assert_eq!(
            find(
                &s,
                "haproxy_frontend_http_responses_total",
                &[("proxy", "www"), ("code", "2xx")]
            ),
            Some(&8.0)
        );
        assert_eq!(
            find(
                &s,
                "haproxy_frontend_status",
                &[("proxy", "www"), ("state", "UP")]
            ),
            Some(&1.0)
        );
        let web1 = |k: &'static str, v: &'static str| [("server", "web1"), (k, v)];
        assert_eq!(
            find(&s, "haproxy_server_status", &web1("state", "UP")),
            Some(&1.0)
        );
        assert_eq!(
            find(&s, "haproxy_server_status", &web1("state", "DOWN")),
            Some(&0.0)
        );
        assert_eq!(
            find(
                &s,
                "haproxy_server_status",
                &[("server", "web2"), ("state", "MAINT")]
            ),
            Some(&1.0)
        );
        assert_eq!(
            find(&s, "haproxy_server_check_status", &web1("state", "L7OK")),
            Some(&1.0)
        );
        assert_eq!(
            find(&s, "haproxy_server_check_status", &web1("state", "L4CON")),
            Some(&0.0)
        );
        assert_eq!(
            find(&s, "haproxy_server_check_code", &[("server", "web1")]),
            Some(&200.0)
        );
        assert_eq!(
            find(
                &s,
                "haproxy_server_check_duration_seconds",
                &[("server", "web1")]
            ),
            Some(&0.002)
        );
        assert_eq!(
            find(
                &s,
                "haproxy_server_response_time_average_seconds",
                &[("server", "web1")]
            ),
            Some(&0.012)
        );
        // No check on web2: no check samples for it.
        assert_eq!(
            find(&s, "haproxy_server_check_code", &[("server", "web2")]),
            None
        );
        // Escaped label value round-trips.
        assert_eq!(
            find(
                &s,
                "haproxy_backend_agg_server_status",
                &[("proxy", "a\"pp"), ("state", "MAINT")]
            ),
            Some(&1.0)
        );
        assert_eq!(
            find(
                &s,
                "haproxy_backend_agg_server_status",
                &[("proxy", "a\"pp"), ("state", "UP")]
            ),
            Some(&1.0)
        );
        // Empty values are left out, not NaN.
        assert!(!text.contains("NaN"));
        assert_eq!(find(&s, "haproxy_server_limit_sessions", &[]), None);
        // One HELP per metric even with several rows.
        assert_eq!(text.matches("# HELP haproxy_server_status ").count(), 1);
    }

    #[test]
    fn scopes_and_no_maint() {
        let only = Scopes::from_query("scope=frontend&scope=backend");
        assert_eq!(
            (only.global, only.frontend, only.backend, only.server),
            (false, true, true, false)
        );
        let text = render(&snapshot(), &only);
        assert!(text.contains("haproxy_frontend_") && text.contains("haproxy_backend_"));
        assert!(!text.contains("haproxy_server_") && !text.contains("haproxy_process_"));
        assert!(render(&snapshot(), &Scopes::from_query("scope=")).is_empty());
        assert_eq!(
            Scopes::from_query("scope=*&no-maint"),
            Scopes {
                no_maint: true,
                ..Scopes::all()
            }
        );
        let text = render(&snapshot(), &Scopes::from_query("no-maint"));
        assert!(text.contains("server=\"web1\"") && !text.contains("server=\"web2\""));
    }

    #[test]
    fn server_states() {
        for (status, state) in [
            ("UP", "UP"),
            ("UP 1/3", "UP"),
            ("no check", "UP"),
            ("DOWN", "DOWN"),
            ("DOWN 1/2", "DOWN"),
            ("NOLB", "NOLB"),
            ("DRAIN 2/3", "DRAIN"),
            ("MAINT", "MAINT"),
            ("MAINT (via x/y)", "MAINT"),
        ] {
            assert_eq!(server_state(status), state, "{status}");
        }
    }
}

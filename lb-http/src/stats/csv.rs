//! HAProxy's CSV statistics (`show stat`, the stats page's `;csv`).
//!
//! The header line is `# ` followed by every column name and a comma; each row is every
//! value followed by a comma, so lines end with a trailing comma exactly as HAProxy prints
//! them. The [`Column`]s are HAProxy's, in HAProxy's order (`ST_I_PX_*` in
//! `include/haproxy/stats-t.h`, names from `stat_cols_px[]`): the 2.6 list with the columns
//! later versions appended at the end (`srid` to `proto`), so tools that index columns by
//! position keep working. Columns lb does not track (compression, cache, agent checks,
//! idle connection pools, per-HTTP-version counts) are left empty.
//!
//! # Examples
//! ```
//! use lb_http::stats::csv::{self, Column};
//!
//! assert_eq!(Column::ALL.len(), 113);
//! assert_eq!(Column::ALL[17].name(), "status");
//! assert_eq!(Column::ALL[99], Column::Uweight);
//! assert!(csv::header().starts_with("# pxname,svname,qcur,"));
//! assert!(csv::header().ends_with(",proto,\n"));
//! ```

use std::fmt::Write as _;

use super::snapshot::{RowKind, StatRow, StatsSnapshot};

macro_rules! columns {
    ($($var:ident => $name:literal: $desc:literal,)*) => {
        /// A CSV column, in HAProxy's order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Column {
            $(
                #[doc = concat!("`", $name, "`: ", $desc)]
                $var,
            )*
        }

        impl Column {
            /// Every column, in order (the index is HAProxy's column number).
            pub const ALL: &'static [Column] = &[$(Column::$var),*];

            /// The column's name in the header.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Column::$var => $name,)*
                }
            }

            /// HAProxy's description of the column.
            pub const fn description(self) -> &'static str {
                match self {
                    $(Column::$var => $desc,)*
                }
            }
        }
    };
}

columns! {
    Pxname => "pxname": "Proxy name.",
    Svname => "svname": "Server name, or FRONTEND/BACKEND.",
    Qcur => "qcur": "Number of current queued connections.",
    Qmax => "qmax": "Highest value of queued connections encountered since process started.",
    Scur => "scur": "Number of current sessions on the frontend, backend or server.",
    Smax => "smax": "Highest value of current sessions encountered since process started.",
    Slim => "slim": "Frontend/listener/server's maxconn, backend's fullconn.",
    Stot => "stot": "Total number of sessions since process started.",
    Bin => "bin": "Total number of request bytes since process started.",
    Bout => "bout": "Total number of response bytes since process started.",
    Dreq => "dreq": "Total number of denied requests since process started.",
    Dresp => "dresp": "Total number of denied responses since process started.",
    Ereq => "ereq": "Total number of invalid requests since process started.",
    Econ => "econ": "Total number of failed connections to server since the worker process started.",
    Eresp => "eresp": "Total number of invalid responses since the worker process started.",
    Wretr => "wretr": "Total number of server connection retries since the worker process started.",
    Wredis => "wredis": "Total number of server redispatches due to connection failures since the worker process started.",
    Status => "status": "Frontend/listen status: OPEN/WAITING/FULL/STOP; backend: UP/DOWN; server: last check status.",
    Weight => "weight": "Server's effective weight, or sum of active servers' effective weights for a backend.",
    Act => "act": "Total number of active UP servers with a non-zero weight.",
    Bck => "bck": "Total number of backup UP servers with a non-zero weight.",
    Chkfail => "chkfail": "Total number of failed individual health checks per server/backend, since the worker process started.",
    Chkdown => "chkdown": "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started.",
    Lastchg => "lastchg": "How long ago the last server state changed, in seconds.",
    Downtime => "downtime": "Total time spent in DOWN state, for server or backend.",
    Qlimit => "qlimit": "Limit on the number of connections in queue, for servers only (maxqueue argument).",
    Pid => "pid": "Relative worker process number (1).",
    Iid => "iid": "Frontend or Backend numeric identifier ('id' setting).",
    Sid => "sid": "Server numeric identifier ('id' setting).",
    Throttle => "throttle": "Throttling ratio applied to a server's maxconn and weight during the slowstart period (0 to 100%).",
    Lbtot => "lbtot": "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness).",
    Tracked => "tracked": "Name of the other server this server tracks for its state.",
    Type => "type": "Type of the object (Listener, Frontend, Backend, Server).",
    Rate => "rate": "Total number of sessions processed by this object over the last second (sessions for listeners/frontends, requests for backends/servers).",
    RateLim => "rate_lim": "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting).",
    RateMax => "rate_max": "Highest value of sessions per second observed since the worker process started.",
    CheckStatus => "check_status": "Status report of the server's latest health check, prefixed with '*' if a check is currently in progress.",
    CheckCode => "check_code": "HTTP/SMTP/LDAP status code reported by the latest server health check.",
    CheckDuration => "check_duration": "Total duration of the latest server health check, in milliseconds.",
    Hrsp1xx => "hrsp_1xx": "Total number of HTTP responses with status 100-199 returned by this object since the worker process started.",
    Hrsp2xx => "hrsp_2xx": "Total number of HTTP responses with status 200-299 returned by this object since the worker process started.",
    Hrsp3xx => "hrsp_3xx": "Total number of HTTP responses with status 300-399 returned by this object since the worker process started.",
    Hrsp4xx => "hrsp_4xx": "Total number of HTTP responses with status 400-499 returned by this object since the worker process started.",
    Hrsp5xx => "hrsp_5xx": "Total number of HTTP responses with status 500-599 returned by this object since the worker process started.",
    HrspOther => "hrsp_other": "Total number of HTTP responses with status <100, >599 returned by this object since the worker process started (error -1 included).",
    Hanafail => "hanafail": "Total number of failed checks caused by an 'on-error' directive after an 'observe' condition matched.",
    ReqRate => "req_rate": "Number of HTTP requests processed over the last second on this object.",
    ReqRateMax => "req_rate_max": "Highest value of http requests observed since the worker process started.",
    ReqTot => "req_tot": "Total number of HTTP requests processed by this object since the worker process started.",
    CliAbrt => "cli_abrt": "Total number of requests or connections aborted by the client since the worker process started.",
    SrvAbrt => "srv_abrt": "Total number of requests or connections aborted by the server since the worker process started.",
    CompIn => "comp_in": "Total number of bytes submitted to the HTTP compressor for this object since the worker process started.",
    CompOut => "comp_out": "Total number of bytes emitted by the HTTP compressor for this object since the worker process started.",
    CompByp => "comp_byp": "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation).",
    CompRsp => "comp_rsp": "Total number of HTTP responses that were compressed for this object since the worker process started.",
    Lastsess => "lastsess": "How long ago some traffic was seen on this object on this worker process, in seconds.",
    LastChk => "last_chk": "Short description of the latest health check report for this server (see also check_desc).",
    LastAgt => "last_agt": "Short description of the latest agent check report for this server (see also agent_desc).",
    Qtime => "qtime": "Time spent in the queue, in milliseconds, averaged over the 1024 last requests (backend/server).",
    Ctime => "ctime": "Time spent waiting for a connection to complete, in milliseconds, averaged over the 1024 last requests (backend/server).",
    Rtime => "rtime": "Time spent waiting for a server response, in milliseconds, averaged over the 1024 last requests (backend/server).",
    Ttime => "ttime": "Total request+response time (request+queue+connect+response+processing), in milliseconds, averaged over the 1024 last requests (backend/server).",
    AgentStatus => "agent_status": "Status report of the server's latest agent check, prefixed with '*' if a check is currently in progress.",
    AgentCode => "agent_code": "Status code reported by the latest server agent check.",
    AgentDuration => "agent_duration": "Total duration of the latest server agent check, in milliseconds.",
    CheckDesc => "check_desc": "Textual description of the latest health check report for this server.",
    AgentDesc => "agent_desc": "Textual description of the latest agent check report for this server.",
    CheckRise => "check_rise": "Number of successful health checks before declaring a server UP (server 'rise' setting).",
    CheckFall => "check_fall": "Number of failed health checks before declaring a server DOWN (server 'fall' setting).",
    CheckHealth => "check_health": "Current server health check level (0..fall-1=DOWN, fall..rise-1=UP).",
    AgentRise => "agent_rise": "Number of successful agent checks before declaring a server UP (server 'rise' setting).",
    AgentFall => "agent_fall": "Number of failed agent checks before declaring a server DOWN (server 'fall' setting).",
    AgentHealth => "agent_health": "Current server agent check level (0..fall-1=DOWN, fall..rise-1=UP).",
    Addr => "addr": "Server's address:port, shown only if show-legends is set, or at levels oper/admin for the CLI.",
    Cookie => "cookie": "Backend's cookie name or Server's cookie value, shown only if show-legends is set, or at levels oper/admin for the CLI.",
    Mode => "mode": "'mode' setting (tcp/http/health/cli/spop).",
    Algo => "algo": "Backend's load balancing algorithm, shown only if show-legends is set, or at levels oper/admin for the CLI.",
    ConnRate => "conn_rate": "Number of new connections accepted over the last second on the frontend for this worker process.",
    ConnRateMax => "conn_rate_max": "Highest value of connections per second observed since the worker process started.",
    ConnTot => "conn_tot": "Total number of new connections accepted on this frontend since the worker process started.",
    Intercepted => "intercepted": "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started.",
    Dcon => "dcon": "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started.",
    Dses => "dses": "Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started.",
    Wrew => "wrew": "Total number of failed HTTP header rewrites since the worker process started.",
    Connect => "connect": "Total number of outgoing connection attempts on this backend/server since the worker process started.",
    Reuse => "reuse": "Total number of reused connection on this backend/server since the worker process started.",
    CacheLookups => "cache_lookups": "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started.",
    CacheHits => "cache_hits": "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started.",
    SrvIcur => "srv_icur": "Current number of idle connections available for reuse on this server.",
    SrvIlim => "src_ilim": "Limit on the number of available idle connections on this server (server 'pool_max_conn' directive).",
    QtimeMax => "qtime_max": "Maximum observed time spent in the queue, in milliseconds (backend/server).",
    CtimeMax => "ctime_max": "Maximum observed time spent waiting for a connection to complete, in milliseconds (backend/server).",
    RtimeMax => "rtime_max": "Maximum observed time spent waiting for a server response, in milliseconds (backend/server).",
    TtimeMax => "ttime_max": "Maximum observed total request+response time (request+queue+connect+response+processing), in milliseconds (backend/server).",
    Eint => "eint": "Total number of internal errors since process started.",
    IdleConnCur => "idle_conn_cur": "Current number of unsafe idle connections.",
    SafeConnCur => "safe_conn_cur": "Current number of safe idle connections.",
    UsedConnCur => "used_conn_cur": "Current number of connections in use.",
    NeedConnEst => "need_conn_est": "Estimated needed number of connections.",
    Uweight => "uweight": "Server's user weight, or sum of active servers' user weights for a backend.",
    AggServerStatus => "agg_server_status": "Backend's aggregated gauge of servers' status.",
    AggServerCheckStatus => "agg_server_check_status": "Deprecated: backend's aggregated gauge of servers' status.",
    AggCheckStatus => "agg_check_status": "Backend's aggregated gauge of servers' state check status.",
    Srid => "srid": "Server id revision, to prevent server id reuse mixups.",
    SessOther => "sess_other": "Total number of sessions other than HTTP since process started.",
    H1sess => "h1sess": "Total number of HTTP/1 sessions since process started.",
    H2sess => "h2sess": "Total number of HTTP/2 sessions since process started.",
    H3sess => "h3sess": "Total number of HTTP/3 sessions since process started.",
    ReqOther => "req_other": "Total number of sessions other than HTTP processed by this object since the worker process started.",
    H1req => "h1req": "Total number of HTTP/1 sessions processed by this object since the worker process started.",
    H2req => "h2req": "Total number of hTTP/2 sessions processed by this object since the worker process started.",
    H3req => "h3req": "Total number of HTTP/3 sessions processed by this object since the worker process started.",
    Proto => "proto": "Protocol.",
}

/// One cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// An empty cell: not applicable, or not tracked.
    Empty,
    /// An unsigned number.
    Uint(u64),
    /// A signed number (`lastsess` is -1 when there was none).
    Int(i64),
    /// Text.
    Str(&'a str),
}

impl Value<'_> {
    fn opt(v: Option<u64>) -> Self {
        v.map_or(Value::Empty, Value::Uint)
    }
}

/// HAProxy's description of a check status code (the `check_desc` column).
pub fn check_description(status: &str) -> Option<&'static str> {
    Some(match status.trim_start_matches("* ") {
        "UNK" => "Unknown",
        "INI" => "Initializing",
        "SOCKERR" => "Socket error",
        "L4OK" => "Layer4 check passed",
        "L4TOUT" => "Layer4 timeout",
        "L4CON" => "Layer4 connection problem",
        "L6OK" => "Layer6 check passed",
        "L6TOUT" => "Layer6 timeout",
        "L6RSP" => "Layer6 invalid response",
        "L7OK" => "Layer7 check passed",
        "L7OKC" => "Layer7 check conditionally passed",
        "L7TOUT" => "Layer7 timeout",
        "L7RSP" => "Layer7 invalid response",
        "L7STS" => "Layer7 wrong status",
        "HANA" => "Health analyze",
        "PROCERR" => "External check error",
        "PROCTOUT" => "External check timeout",
        "PROCOK" => "External check passed",
        _ => return None,
    })
}

/// The value of `col` in `row`.
pub fn value(row: &StatRow, col: Column) -> Value<'_> {
    use Column as C;
    let u = Value::Uint;
    let o = Value::opt;
    let hrsp = |i: usize| o(row.hrsp_class(i));
    let backend_only = |v: u64| {
        if row.kind == RowKind::Backend {
            u(v)
        } else {
            Value::Empty
        }
    };
    match col {
        C::Pxname => Value::Str(&row.pxname),
        C::Svname => Value::Str(&row.svname),
        C::Qcur => o(row.qcur),
        C::Qmax => o(row.qmax),
        C::Scur => u(row.scur),
        C::Smax => u(row.smax),
        C::Slim => o(row.slim),
        C::Stot => u(row.stot),
        C::Bin => u(row.bin),
        C::Bout => u(row.bout),
        C::Dreq => o(row.dreq),
        C::Dresp => u(row.dresp),
        C::Ereq => o(row.ereq),
        C::Econ => o(row.econ),
        C::Eresp => o(row.eresp),
        C::Wretr => o(row.wretr),
        C::Wredis => o(row.wredis),
        C::Status => Value::Str(&row.status),
        C::Weight => o(row.weight),
        C::Act => o(row.act),
        C::Bck => o(row.bck),
        C::Chkfail => o(row.chkfail),
        C::Chkdown => o(row.chkdown),
        C::Lastchg => o(row.lastchg),
        C::Downtime => o(row.downtime),
        C::Qlimit => o(row.qlimit),
        C::Pid => u(u64::from(row.pid)),
        C::Iid => u(u64::from(row.iid)),
        C::Sid => u(u64::from(row.sid)),
        C::Throttle => o(row.throttle),
        C::Lbtot => o(row.lbtot),
        C::Tracked => row.tracked.as_deref().map_or(Value::Empty, Value::Str),
        C::Type => u(u64::from(row.kind.code())),
        C::Rate => u(row.rate),
        C::RateLim => o(row.rate_lim),
        C::RateMax => u(row.rate_max),
        C::CheckStatus => row.check_status.as_deref().map_or(Value::Empty, Value::Str),
        C::CheckCode => o(row.check_code.map(u64::from)),
        C::CheckDuration => o(row.check_duration),
        C::Hrsp1xx => hrsp(1),
        C::Hrsp2xx => hrsp(2),
        C::Hrsp3xx => hrsp(3),
        C::Hrsp4xx => hrsp(4),
        C::Hrsp5xx => hrsp(5),
        C::HrspOther => hrsp(0),
        C::ReqRate => o(row.req_rate),
        C::ReqRateMax => o(row.req_rate_max),
        C::ReqTot => o(row.req_tot),
        C::CliAbrt => o(row.cli_abrt),
        C::SrvAbrt => o(row.srv_abrt),
        C::Lastsess => row.lastsess.map_or(Value::Empty, Value::Int),
        C::Qtime => o(row.qtime),
        C::Ctime => o(row.ctime),
        C::Rtime => o(row.rtime),
        C::Ttime => o(row.ttime),
        C::CheckDesc => row
            .check_status
            .as_deref()
            .and_then(check_description)
            .map_or(Value::Empty, Value::Str),
        C::Addr => row.addr.as_deref().map_or(Value::Empty, Value::Str),
        C::Mode => Value::Str(row.mode.as_str()),
        C::Algo => row.algo.as_deref().map_or(Value::Empty, Value::Str),
        C::ConnRate => o(row.conn_rate),
        C::ConnRateMax => o(row.conn_rate_max),
        C::ConnTot => o(row.conn_tot),
        C::Intercepted => o(row.intercepted),
        C::Dcon => o(row.dcon),
        C::Dses => o(row.dses),
        C::Wrew => u(row.wrew),
        C::Connect => o(row.connect),
        C::Reuse => o(row.reuse),
        C::QtimeMax => o(row.qtime_max),
        C::CtimeMax => o(row.ctime_max),
        C::RtimeMax => o(row.rtime_max),
        C::TtimeMax => o(row.ttime_max),
        C::Eint => u(row.eint),
        C::Uweight => o(row.uweight),
        // HAProxy prints these as a constant 0 on backend rows (the aggregates are only
        // meaningful in the Prometheus exporter).
        C::AggServerStatus | C::AggServerCheckStatus | C::AggCheckStatus => backend_only(0),
        C::Hanafail
        | C::CompIn
        | C::CompOut
        | C::CompByp
        | C::CompRsp
        | C::LastChk
        | C::LastAgt
        | C::AgentStatus
        | C::AgentCode
        | C::AgentDuration
        | C::AgentDesc
        | C::CheckRise
        | C::CheckFall
        | C::CheckHealth
        | C::AgentRise
        | C::AgentFall
        | C::AgentHealth
        | C::Cookie
        | C::CacheLookups
        | C::CacheHits
        | C::SrvIcur
        | C::SrvIlim
        | C::IdleConnCur
        | C::SafeConnCur
        | C::UsedConnCur
        | C::NeedConnEst
        | C::Srid
        | C::SessOther
        | C::H1sess
        | C::H2sess
        | C::H3sess
        | C::ReqOther
        | C::H1req
        | C::H2req
        | C::H3req
        | C::Proto => Value::Empty,
    }
}

/// Appends `s` as one CSV cell: as is, or between double quotes (inner quotes doubled) when
/// it holds a comma, a quote or a line break (HAProxy's `csv_enc`).
fn push_str_cell(s: &str, out: &mut String) {
    if s.contains([',', '"', '\r', '\n']) {
        out.push('"');
        for c in s.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// The header line, `# pxname,svname,...,proto,` and a newline.
pub fn header() -> String {
    let mut out = String::with_capacity(1200);
    out.push_str("# ");
    for c in Column::ALL {
        out.push_str(c.name());
        out.push(',');
    }
    out.push('\n');
    out
}

/// Appends one row's line (with its newline) to `out`.
pub fn render_row(row: &StatRow, out: &mut String) {
    for &c in Column::ALL {
        match value(row, c) {
            Value::Empty => {}
            Value::Uint(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Str(s) => push_str_cell(s, out),
        }
        out.push(',');
    }
    out.push('\n');
}

/// The whole CSV: the header line, then one line per row.
pub fn render(snapshot: &StatsSnapshot) -> String {
    let mut out = header();
    for row in &snapshot.rows {
        render_row(row, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::snapshot::ProxyMode;

    /// HAProxy's column list, as `show stat` prints it (3.x; 2.6 ends at `agg_check_status`
    /// with `srid` appended in 2.8).
    const HAPROXY_HEADER: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,\
dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,\
downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,\
check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,\
hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,\
comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,\
agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,\
agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,\
conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,\
src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,\
used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,\
agg_check_status,srid,sess_other,h1sess,h2sess,h3sess,req_other,h1req,h2req,h3req,\
proto,\n";

    #[test]
    fn header_is_haproxys() {
        assert_eq!(header(), HAPROXY_HEADER);
    }

    #[test]
    fn reference_indexes() {
        // REFERENCE.md section 11's fixed positions.
        let at = |i: usize| Column::ALL[i].name();
        let fixed = [
            (0, "pxname"),
            (17, "status"),
            (32, "type"),
            (36, "check_status"),
            (39, "hrsp_1xx"),
            (44, "hrsp_other"),
            (46, "req_rate"),
            (48, "req_tot"),
            (49, "cli_abrt"),
            (50, "srv_abrt"),
            (58, "qtime"),
            (61, "ttime"),
            (73, "addr"),
            (76, "algo"),
            (84, "connect"),
            (85, "reuse"),
            (86, "cache_lookups"),
            (87, "cache_hits"),
            (94, "eint"),
            (99, "uweight"),
        ];
        for (i, name) in fixed {
            assert_eq!(at(i), name, "column {i}");
        }
    }

    fn cells(line: &str) -> Vec<&str> {
        let line = line
            .strip_suffix(",\n")
            .expect("a trailing comma and newline");
        line.split(',').collect()
    }

    #[test]
    fn server_row_renders_exactly() {
        let row = StatRow {
            kind: RowKind::Server,
            pxname: "app".into(),
            svname: "web1".into(),
            mode: ProxyMode::Http,
            qcur: Some(0),
            qmax: Some(2),
            scur: 3,
            smax: 7,
            slim: Some(100),
            stot: 1234,
            bin: 56789,
            bout: 987654,
            dresp: 0,
            econ: Some(1),
            eresp: Some(2),
            wretr: Some(3),
            wredis: Some(4),
            status: "UP 2/3".into(),
            weight: Some(10),
            act: Some(1),
            bck: Some(0),
            chkfail: Some(5),
            chkdown: Some(1),
            lastchg: Some(3723),
            downtime: Some(12),
            pid: 1,
            iid: 3,
            sid: 1,
            lbtot: Some(1234),
            rate: 4,
            rate_max: 9,
            check_status: Some("L7OK".into()),
            check_code: Some(200),
            check_duration: Some(1),
            hrsp: Some([6, 0, 1200, 20, 10, 4]),
            req_tot: Some(1240),
            cli_abrt: Some(1),
            srv_abrt: Some(0),
            lastsess: Some(0),
            qtime: Some(0),
            ctime: Some(1),
            rtime: Some(12),
            ttime: Some(15),
            addr: Some("10.0.0.1:80".into()),
            wrew: 0,
            connect: Some(50),
            reuse: Some(1184),
            qtime_max: Some(3),
            ctime_max: Some(9),
            rtime_max: Some(800),
            ttime_max: Some(1200),
            eint: 0,
            uweight: Some(10),
            ..StatRow::default()
        };
        let mut line = String::new();
        render_row(&row, &mut line);
        assert_eq!(
            line,
            "app,web1,0,2,3,7,100,1234,56789,987654,,0,,1,2,3,4,UP 2/3,10,1,0,5,1,3723,12,,\
1,3,1,,1234,,2,4,,9,L7OK,200,1,0,1200,20,10,4,6,,,,1240,1,0,,,,,0,,,0,1,12,15,,,,\
Layer7 check passed,,,,,,,,10.0.0.1:80,,http,,,,,,,,0,50,1184,,,,,3,9,800,1200,0,\
,,,,10,,,,,,,,,,,,,,\n"
        );
        let c = cells(&line);
        assert_eq!(c.len(), Column::ALL.len());
        assert_eq!(c[17], "UP 2/3");
        assert_eq!(c[32], "2");
        assert_eq!(c[36], "L7OK");
    }

    #[test]
    fn frontend_and_backend_rows() {
        let fe = StatRow {
            kind: RowKind::Frontend,
            pxname: "www".into(),
            svname: "FRONTEND".into(),
            status: "OPEN".into(),
            scur: 1,
            dreq: Some(0),
            ereq: Some(0),
            hrsp: Some([0; 6]),
            ..StatRow::default()
        };
        let mut line = String::new();
        render_row(&fe, &mut line);
        let c = cells(&line);
        assert_eq!(
            (c[1], c[17], c[32], c[2], c[100]),
            ("FRONTEND", "OPEN", "0", "", "")
        );
        let be = StatRow {
            kind: RowKind::Backend,
            svname: "BACKEND".into(),
            ..StatRow::default()
        };
        line.clear();
        render_row(&be, &mut line);
        let c = cells(&line);
        assert_eq!((c[32], c[100], c[101], c[102]), ("1", "0", "0", "0"));
    }

    #[test]
    fn quotes_only_when_needed() {
        let row = StatRow {
            pxname: "a,b".into(),
            svname: "say \"hi\"".into(),
            status: "OPEN".into(),
            ..StatRow::default()
        };
        let mut line = String::new();
        render_row(&row, &mut line);
        assert!(line.starts_with("\"a,b\",\"say \"\"hi\"\"\",,"), "{line}");
    }
}

//! The data of one access-log line.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use super::termination::TerminationState;

/// Who answered a request: a server, or one of HAProxy's placeholders (`%s`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ServerName {
    /// A server of the backend.
    Named(Arc<str>),
    /// `<NOSRV>`: no server was reached (no server available, request refused early, ...).
    NoServer,
    /// `<STATS>`: the stats page answered.
    Stats,
    /// `<CACHE>`: the cache answered.
    Cache,
}

impl ServerName {
    /// The name as logged.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Named(name) => name,
            Self::NoServer => "<NOSRV>",
            Self::Stats => "<STATS>",
            Self::Cache => "<CACHE>",
        }
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ServerName {
    fn from(name: &str) -> Self {
        Self::Named(name.into())
    }
}

impl From<Arc<str>> for ServerName {
    fn from(name: Arc<str>) -> Self {
        Self::Named(name)
    }
}

/// Everything HAProxy's HTTP and TCP logs show about one request (or TCP session).
///
/// Build it with [`LogRecord::new`] and set the public fields; the struct is
/// `#[non_exhaustive]` so that fields can be added. Timers are in milliseconds, `None` when
/// the event never happened (logged `-1`). The HAProxy log alias of each field is given in
/// its documentation.
///
/// # Examples
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use lb_http::log::{format_httplog, LogRecord, ServerName, TerminationState};
///
/// let mut record = LogRecord::new(
///     "10.0.1.2:33317".parse()?,
///     UNIX_EPOCH + Duration::from_millis(1_233_922_454_655),
///     "http-in",
/// );
/// record.backend = "static".into();
/// record.server = ServerName::from("srv1");
/// (record.t_request, record.t_queue, record.t_connect) = (Some(10), Some(0), Some(30));
/// (record.t_response, record.t_active) = (Some(69), Some(109));
/// record.status = Some(200);
/// record.bytes_out = 2750;
/// (record.actconn, record.feconn, record.beconn, record.srv_conn) = (1, 1, 1, 1);
/// record.request_line = Some("GET /index.html HTTP/1.1".into());
///
/// let mut line = String::new();
/// format_httplog(&record, &mut line);
/// assert_eq!(
///     line,
///     "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 \
///      200 2750 - - ---- 1/1/1/1/0 0/0 \"GET /index.html HTTP/1.1\""
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogRecord {
    /// Client address (`%ci:%cp`), after the PROXY protocol if any.
    pub client: SocketAddr,
    /// Address the connection was accepted on (`%fi:%fp`), if known.
    pub frontend_addr: Option<SocketAddr>,
    /// When the connection was accepted (`%t`, `%T`, `%Ts`, `%ms`). The request date `%tr`
    /// is this plus `t_handshake` and `t_idle`.
    pub accept_date: SystemTime,
    /// Frontend name (`%f`).
    pub frontend: Arc<str>,
    /// Whether the frontend connection is TLS (`%ft` appends `~`).
    pub frontend_tls: bool,
    /// Backend name (`%b`); the frontend's name when no backend was chosen.
    pub backend: Arc<str>,
    /// Server name (`%s`).
    pub server: ServerName,
    /// `%Th`: handshake time (PROXY protocol, TLS), first request of a connection only.
    pub t_handshake: Option<u64>,
    /// `%Ti`: idle time before the first byte of the request.
    pub t_idle: Option<u64>,
    /// `%TR`: time to receive the complete request headers.
    pub t_request: Option<u64>,
    /// `%Tw`: time spent in queues.
    pub t_queue: Option<u64>,
    /// `%Tc`: time to connect to the server, retries included.
    pub t_connect: Option<u64>,
    /// `%Tr`: server response time (until the response headers).
    pub t_response: Option<u64>,
    /// `%Ta`: active time, from the first request byte to the last response byte.
    pub t_active: Option<u64>,
    /// `%Tt`: total session time, from accept to close.
    pub t_total: Option<u64>,
    /// `option logasap`: the line is emitted before the end, so `%Ta`, `%Tt` and `%B` are
    /// prefixed with `+`.
    pub logasap: bool,
    /// `%ST`: the status sent to the client; `None` (`-1`) when there was none.
    pub status: Option<u16>,
    /// `%B`: bytes sent to the client (headers included).
    pub bytes_out: u64,
    /// `%U`: bytes received from the client (headers included).
    pub bytes_in: u64,
    /// `%CC`: captured request cookie (`-` when none).
    pub request_cookie: Option<String>,
    /// `%CS`: captured response cookie (`-` when none).
    pub response_cookie: Option<String>,
    /// `%ts` / `%tsc`: how the session ended.
    pub termination: TerminationState,
    /// `%ac`: connections active on the process.
    pub actconn: u32,
    /// `%fc`: connections on the frontend.
    pub feconn: u32,
    /// `%bc`: connections on the backend.
    pub beconn: u32,
    /// `%sc`: connections on the server.
    pub srv_conn: u32,
    /// `%rc`: connection retries.
    pub retries: u32,
    /// The request was redispatched to another server (`%rc` is prefixed with `+`).
    pub redispatched: bool,
    /// `%sq`: requests queued on the server before this one.
    pub srv_queue: u32,
    /// `%bq`: requests queued on the backend before this one.
    pub backend_queue: u32,
    /// `%hr`: captured request headers. Empty means no capture is configured, and the
    /// `{...}` block is omitted; a configured capture that matched nothing is `""`.
    pub request_captures: Vec<String>,
    /// `%hs`: captured response headers, as `request_captures`.
    pub response_captures: Vec<String>,
    /// `%r`: the request line, `METHOD URI VERSION`; `None` logs `<BADREQ>`.
    pub request_line: Option<String>,
    /// `%ID`: the unique request id, if generated.
    pub unique_id: Option<String>,
    /// `%sslv`: the client connection's TLS version, when it is TLS.
    pub ssl_version: Option<&'static str>,
    /// `%sslc`: the client connection's TLS cipher suite, when it is TLS.
    pub ssl_cipher: Option<&'static str>,
    /// `%rt`: the request (or TCP session) counter.
    pub request_counter: u64,
}

impl LogRecord {
    /// A record for a connection from `client` accepted at `accept_date` on `frontend`:
    /// backend = frontend, server `<NOSRV>`, every timer `None`, every counter 0, normal
    /// termination.
    pub fn new(client: SocketAddr, accept_date: SystemTime, frontend: impl Into<Arc<str>>) -> Self {
        let frontend = frontend.into();
        Self {
            client,
            frontend_addr: None,
            accept_date,
            backend: frontend.clone(),
            frontend,
            frontend_tls: false,
            server: ServerName::NoServer,
            t_handshake: None,
            t_idle: None,
            t_request: None,
            t_queue: None,
            t_connect: None,
            t_response: None,
            t_active: None,
            t_total: None,
            logasap: false,
            status: None,
            bytes_out: 0,
            bytes_in: 0,
            request_cookie: None,
            response_cookie: None,
            termination: TerminationState::normal(),
            actconn: 0,
            feconn: 0,
            beconn: 0,
            srv_conn: 0,
            retries: 0,
            redispatched: false,
            srv_queue: 0,
            backend_queue: 0,
            request_captures: Vec::new(),
            response_captures: Vec::new(),
            request_line: None,
            unique_id: None,
            ssl_version: None,
            ssl_cipher: None,
            request_counter: 0,
        }
    }

    /// `%Tq` = `%Th` + `%Ti` + `%TR`, `None` when `%TR` is.
    pub fn t_request_total(&self) -> Option<u64> {
        self.t_request.map(|tr| {
            tr.saturating_add(self.t_handshake.unwrap_or(0))
                .saturating_add(self.t_idle.unwrap_or(0))
        })
    }

    /// `%Td` = `%Ta` − (`%TR` + `%Tw` + `%Tc` + `%Tr`), `None` when there was no response.
    pub fn t_data(&self) -> Option<u64> {
        let (ta, tr) = (self.t_active?, self.t_response?);
        let before = [self.t_request, self.t_queue, self.t_connect]
            .iter()
            .fold(tr, |sum, t| sum.saturating_add(t.unwrap_or(0)));
        Some(ta.saturating_sub(before))
    }

    /// `%Tu` = `%Tt` − `%Ti`.
    pub fn t_user(&self) -> Option<u64> {
        self.t_total
            .map(|tt| tt.saturating_sub(self.t_idle.unwrap_or(0)))
    }

    /// `%tr`: the accept date plus `%Th` and `%Ti` (the accept date when `%Ti` is unknown).
    pub fn request_date(&self) -> SystemTime {
        match self.t_idle {
            Some(ti) => super::date::add_millis(
                self.accept_date,
                ti.saturating_add(self.t_handshake.unwrap_or(0)),
            ),
            None => self.accept_date,
        }
    }
}

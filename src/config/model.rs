//! The typed configuration: what the parser produces and the assembly of services reads.
//!
//! Defaults sections are already applied: each [`Frontend`] and [`Backend`] holds its
//! effective settings. A `listen` section yields a frontend and a backend of the same name
//! (with [`Frontend::listen`] and [`Backend::listen`] set). Items that can fail at runtime
//! keep their [`Span`] (file and line) so later errors can point at the configuration.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method, StatusCode, Version};
use lb_core::matcher::{IntMatch, IpNet, StrMatch};
use lb_core::{Address, AdminState, BalanceConfig, Redispatch, ServerConfig, Weight};
use lb_http::client::ReuseMode;
use lb_http::headers::ForwardFor;
use lb_http::log::LogFormat;
use lb_tcp::listen::{BindAddr, BindSpec};
use lb_tcp::proxy_protocol::Version as ProxyProtocolVersion;

use super::error::Warning;

/// A place in the configuration: file (as given to the loader) and 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file.
    pub file: Arc<str>,
    /// The line, from 1.
    pub line: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The kinds of sections lb reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// `global`: process-wide settings.
    Global,
    /// `defaults [NAME]`: settings inherited by later proxies.
    Defaults,
    /// `frontend NAME`: listeners and routing.
    Frontend,
    /// `backend NAME`: servers and balancing.
    Backend,
    /// `listen NAME`: a frontend and a backend in one.
    Listen,
}

impl SectionKind {
    /// The section keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            SectionKind::Global => "global",
            SectionKind::Defaults => "defaults",
            SectionKind::Frontend => "frontend",
            SectionKind::Backend => "backend",
            SectionKind::Listen => "listen",
        }
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A whole configuration: every file, defaults applied, references checked.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// The `global` sections, merged.
    pub global: Global,
    /// Frontends and the frontend half of `listen` sections, in file order.
    pub frontends: Vec<Frontend>,
    /// Backends and the backend half of `listen` sections, in file order.
    pub backends: Vec<Backend>,
    /// What HAProxy would warn about at start-up (missing timeouts, options ignored in
    /// `mode tcp`).
    pub warnings: Vec<Warning>,
}

impl Config {
    /// The frontend (or `listen` section) called `name`.
    pub fn frontend(&self, name: &str) -> Option<&Frontend> {
        self.frontends.iter().find(|f| &*f.name == name)
    }

    /// The backend (or `listen` section) called `name`.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| &*b.name == name)
    }
}

/// The `global` section.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Global {
    /// `maxconn`: most concurrent connections for the process. Default is none (HAProxy
    /// computes one from the file-descriptor limit).
    pub maxconn: Option<u32>,
    /// `nbthread`: worker threads. Default is none (one per CPU).
    pub nbthread: Option<u32>,
    /// `hard-stop-after`: on a soft stop, kill what remains after this. Default is never.
    pub hard_stop_after: Option<Duration>,
    /// `log` lines: where proxies with `log global` send their logs.
    pub logs: Vec<LogTarget>,
    /// `stats socket` lines: the runtime API.
    pub stats_sockets: Vec<StatsSocket>,
    /// `ssl-server-verify none|required`: the default `verify` of `server ... ssl` lines.
    /// Default is required.
    pub ssl_server_verify: ServerVerify,
}

/// A `log` line: `log <target> [len <n>] [format <fmt>] <facility> [<max level> [<min
/// level>]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogTarget {
    /// Where the line is.
    pub span: Span,
    /// Where logs go.
    pub destination: LogDestination,
    /// `len`: longest line, truncated beyond. Default is none (HAProxy: 1024).
    pub max_len: Option<u32>,
    /// `format`: the syslog header format. Default is RFC 3164.
    pub format: SyslogFormat,
    /// The syslog facility.
    pub facility: Facility,
    /// Only messages at this level or more severe are sent. Default is all.
    pub max_level: Option<LogLevel>,
    /// Less severe messages are raised to this level. Default is none.
    pub min_level: Option<LogLevel>,
}

/// Where a [`LogTarget`] sends its lines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogDestination {
    /// `stdout`.
    Stdout,
    /// `stderr`.
    Stderr,
    /// A syslog server over UDP (`ip[:port]`, `udp@ip:port`; port 514 by default).
    Udp(SocketAddr),
    /// A Unix datagram socket (`/dev/log`, `unix@/path`).
    Unix(PathBuf),
}

impl fmt::Display for LogDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogDestination::Stdout => f.write_str("stdout"),
            LogDestination::Stderr => f.write_str("stderr"),
            LogDestination::Udp(a) => write!(f, "udp@{a}"),
            LogDestination::Unix(p) => write!(f, "unix@{}", p.display()),
        }
    }
}

/// The header format of log lines (`log ... format <fmt>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SyslogFormat {
    /// `rfc3164` (the default): `<PRI>Mon dd hh:mm:ss host tag[pid]: `.
    #[default]
    Rfc3164,
    /// `rfc5424`: structured syslog.
    Rfc5424,
    /// `short`: `<PRI>` and the message.
    Short,
    /// `raw`: the message alone (for stdout and stderr).
    Raw,
    /// `iso`: an ISO 8601 date and the message.
    Iso,
    /// `priority`: `<PRI>` and the message, for systemd.
    Priority,
    /// `timed`: `<PRI>`, an ISO date and the message.
    Timed,
    /// `local`: `<PRI>`, a local date and the message.
    Local,
}

/// Syslog facilities, with their numeric codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Facility {
    /// `kern` (0).
    Kern = 0,
    /// `user` (1).
    User = 1,
    /// `mail` (2).
    Mail = 2,
    /// `daemon` (3).
    Daemon = 3,
    /// `auth` (4).
    Auth = 4,
    /// `syslog` (5).
    Syslog = 5,
    /// `lpr` (6).
    Lpr = 6,
    /// `news` (7).
    News = 7,
    /// `uucp` (8).
    Uucp = 8,
    /// `cron` (9).
    Cron = 9,
    /// `auth2` (10).
    Auth2 = 10,
    /// `ftp` (11).
    Ftp = 11,
    /// `ntp` (12).
    Ntp = 12,
    /// `audit` (13).
    Audit = 13,
    /// `alert` (14).
    Alert = 14,
    /// `cron2` (15).
    Cron2 = 15,
    /// `local0` (16).
    Local0 = 16,
    /// `local1` (17).
    Local1 = 17,
    /// `local2` (18).
    Local2 = 18,
    /// `local3` (19).
    Local3 = 19,
    /// `local4` (20).
    Local4 = 20,
    /// `local5` (21).
    Local5 = 21,
    /// `local6` (22).
    Local6 = 22,
    /// `local7` (23).
    Local7 = 23,
}

impl Facility {
    /// Every facility, in code order.
    pub const ALL: [Facility; 24] = [
        Facility::Kern,
        Facility::User,
        Facility::Mail,
        Facility::Daemon,
        Facility::Auth,
        Facility::Syslog,
        Facility::Lpr,
        Facility::News,
        Facility::Uucp,
        Facility::Cron,
        Facility::Auth2,
        Facility::Ftp,
        Facility::Ntp,
        Facility::Audit,
        Facility::Alert,
        Facility::Cron2,
        Facility::Local0,
        Facility::Local1,
        Facility::Local2,
        Facility::Local3,
        Facility::Local4,
        Facility::Local5,
        Facility::Local6,
        Facility::Local7,
    ];

    /// The syslog code (0..=23).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The configuration keyword (`local0`, `daemon`...).
    pub const fn keyword(self) -> &'static str {
        match self {
            Facility::Kern => "kern",
            Facility::User => "user",
            Facility::Mail => "mail",
            Facility::Daemon => "daemon",
            Facility::Auth => "auth",
            Facility::Syslog => "syslog",
            Facility::Lpr => "lpr",
            Facility::News => "news",
            Facility::Uucp => "uucp",
            Facility::Cron => "cron",
            Facility::Auth2 => "auth2",
            Facility::Ftp => "ftp",
            Facility::Ntp => "ntp",
            Facility::Audit => "audit",
            Facility::Alert => "alert",
            Facility::Cron2 => "cron2",
            Facility::Local0 => "local0",
            Facility::Local1 => "local1",
            Facility::Local2 => "local2",
            Facility::Local3 => "local3",
            Facility::Local4 => "local4",
            Facility::Local5 => "local5",
            Facility::Local6 => "local6",
            Facility::Local7 => "local7",
        }
    }
}

/// Syslog severities, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogLevel {
    /// `emerg` (0).
    Emerg = 0,
    /// `alert` (1).
    Alert = 1,
    /// `crit` (2).
    Crit = 2,
    /// `err` (3).
    Err = 3,
    /// `warning` (4).
    Warning = 4,
    /// `notice` (5).
    Notice = 5,
    /// `info` (6).
    Info = 6,
    /// `debug` (7).
    Debug = 7,
}

impl LogLevel {
    /// Every level, most severe first.
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Emerg,
        LogLevel::Alert,
        LogLevel::Crit,
        LogLevel::Err,
        LogLevel::Warning,
        LogLevel::Notice,
        LogLevel::Info,
        LogLevel::Debug,
    ];

    /// The configuration keyword (`err`, `info`...).
    pub const fn keyword(self) -> &'static str {
        match self {
            LogLevel::Emerg => "emerg",
            LogLevel::Alert => "alert",
            LogLevel::Crit => "crit",
            LogLevel::Err => "err",
            LogLevel::Warning => "warning",
            LogLevel::Notice => "notice",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// `stats socket <address> [level <level>] [mode <octal>]`: the runtime API socket.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSocket {
    /// Where the line is.
    pub span: Span,
    /// The address (usually a Unix socket path).
    pub address: BindAddr,
    /// What clients may do. Default is [`StatsLevel::Operator`].
    pub level: StatsLevel,
    /// Permissions of a Unix socket file (octal in the configuration). Default is the
    /// umask's.
    pub mode: Option<u32>,
}

/// The access level of a stats socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum StatsLevel {
    /// Read-only, no sensitive data.
    User,
    /// Read-only plus harmless changes (the default).
    #[default]
    Operator,
    /// Everything, including state and weight changes.
    Admin,
}

/// `mode tcp|http`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Layer 4 proxying of byte streams (HAProxy's default).
    #[default]
    Tcp,
    /// HTTP/1 and HTTP/2 proxying.
    Http,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Tcp => "tcp",
            Mode::Http => "http",
        })
    }
}

/// The `timeout` keywords. All default to none (no limit); `timeout X 0` is also none, as
/// in HAProxy. Each side reads the ones it uses: a frontend `client`, `client-fin`,
/// `http-request` and `http-keep-alive`; a backend `server`, `server-fin`, `connect`,
/// `queue`, `tunnel` and `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Timeouts {
    /// `timeout client`: client-side inactivity.
    pub client: Option<Duration>,
    /// `timeout server`: server-side inactivity.
    pub server: Option<Duration>,
    /// `timeout connect`: connecting to a server.
    pub connect: Option<Duration>,
    /// `timeout http-request`: receiving the request headers (then the client timeout).
    pub http_request: Option<Duration>,
    /// `timeout http-keep-alive`: idle between requests (then http-request).
    pub http_keep_alive: Option<Duration>,
    /// `timeout queue`: waiting in a queue (then the connect timeout).
    pub queue: Option<Duration>,
    /// `timeout tunnel`: inactivity of tunnels (WebSocket, CONNECT, TCP).
    pub tunnel: Option<Duration>,
    /// `timeout client-fin`: inactivity once the client half-closed.
    pub client_fin: Option<Duration>,
    /// `timeout server-fin`: inactivity once the server half-closed.
    pub server_fin: Option<Duration>,
    /// `timeout check`: the read part of a health check (then `inter`).
    pub check: Option<Duration>,
}

impl Timeouts {
    /// `timeout queue`, or `timeout connect` when unset (HAProxy's fallback).
    pub fn effective_queue(&self) -> Option<Duration> {
        self.queue.or(self.connect)
    }

    /// `timeout http-request`, or `timeout client` when unset.
    pub fn effective_http_request(&self) -> Option<Duration> {
        self.http_request.or(self.client)
    }

    /// `timeout http-keep-alive`, else `http-request`, else `client`.
    pub fn effective_http_keep_alive(&self) -> Option<Duration> {
        self.http_keep_alive.or(self.effective_http_request())
    }
}

/// A `bind` line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bind {
    /// Where the line is.
    pub span: Span,
    /// Addresses and socket options (`backlog`, `reuseport`, ...), parsed by lb-tcp.
    pub spec: BindSpec,
    /// `name`: the listener's name in logs and stats.
    pub name: Option<String>,
    /// `accept-proxy`: a PROXY protocol header (v1 or v2) starts every connection.
    pub accept_proxy: bool,
    /// `maxconn`: most concurrent connections on this listener. Default is the frontend's.
    pub maxconn: Option<u32>,
    /// `ssl crt <file> [alpn <list>] ...`: TLS termination.
    pub tls: Option<BindTls>,
}

/// TLS settings of a `bind` line (`ssl` and the options that need it). Relative paths
/// are resolved against the directory of the configuration file, as for `errorfile`;
/// none of the files is read by the parser.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BindTls {
    /// `crt`: PEM files (or directories of them) holding a certificate chain and its key.
    pub certificates: Vec<PathBuf>,
    /// `crt-list`: HAProxy certificate lists (one certificate per line, with SNI filters).
    pub crt_lists: Vec<PathBuf>,
    /// The directory relative certificate paths inside a `crt-list` are resolved
    /// against: the configuration file's directory (`None` for a configuration without
    /// a file, where they stay relative to the working directory).
    pub crt_base: Option<PathBuf>,
    /// `alpn`: protocols to offer, in order (`h2`, `http/1.1`). Default is none.
    pub alpn: Vec<String>,
    /// `ssl-min-ver`: the lowest protocol version accepted. Default is TLSv1.2.
    pub min_version: Option<TlsVersion>,
    /// `ssl-max-ver`: the highest protocol version accepted. Default is TLSv1.3.
    pub max_version: Option<TlsVersion>,
    /// `ciphers`: the TLS 1.2 cipher list, OpenSSL syntax, as written. Checked when the
    /// listener starts.
    pub ciphers: Option<String>,
    /// `ciphersuites`: the TLS 1.3 suites, `:`-separated, as written. Checked when the
    /// listener starts.
    pub ciphersuites: Option<String>,
    /// `prefer-client-ciphers`: follow the client's suite order rather than ours.
    pub prefer_client_ciphers: bool,
    /// `verify`: whether a client certificate is asked for. Default is none.
    pub verify: ClientVerify,
    /// `ca-file`: the CAs client certificates must chain to.
    pub ca_file: Option<PathBuf>,
    /// `crl-file`: revoked client certificates.
    pub crl_file: Option<PathBuf>,
    /// `no-tls-tickets`: no stateless session resumption.
    pub no_tls_tickets: bool,
    /// `tls-ticket-keys`: the session ticket keys file. Default is a random key.
    pub tls_ticket_keys: Option<PathBuf>,
}

/// A TLS protocol version of `ssl-min-ver` and `ssl-max-ver`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// `TLSv1.2`.
    Tls12,
    /// `TLSv1.3`.
    Tls13,
}

impl TlsVersion {
    /// HAProxy's name (`TLSv1.2`, `TLSv1.3`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `verify none|optional|required` of a `bind` line: client certificates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientVerify {
    /// No certificate is asked for.
    #[default]
    None,
    /// A certificate is asked for; if one is sent, it must verify.
    Optional,
    /// A valid certificate is required.
    Required,
}

impl ClientVerify {
    /// HAProxy's word.
    pub const fn as_str(self) -> &'static str {
        match self {
            ClientVerify::None => "none",
            ClientVerify::Optional => "optional",
            ClientVerify::Required => "required",
        }
    }
}

impl fmt::Display for ClientVerify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `log` line in a proxy section.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyLog {
    /// `log global`: the global section's log targets.
    Global,
    /// An explicit target.
    Target(LogTarget),
}

/// How HTTP connections are kept: `option http-keep-alive` (the default),
/// `option http-server-close`, `option httpclose`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HttpConnMode {
    /// Keep-alive on both sides.
    #[default]
    KeepAlive,
    /// Close the server side after each response, keep the client side.
    ServerClose,
    /// Close after each response (`Connection: close`).
    Close,
}

/// `option httpchk [<method> <uri> [<version> [<host>]]]` (or `option httpchk <uri>`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpCheck {
    /// Where the line is.
    pub span: Span,
    /// The method. Default is `OPTIONS`.
    pub method: Method,
    /// The request target. Default is `/`.
    pub uri: String,
    /// The version. Default is HTTP/1.0.
    pub version: Version,
    /// The `Host` header to send. Default is none.
    pub host: Option<String>,
}

/// The health-check protocol of a backend: the last of `option httpchk`, `option tcp-check`,
/// `option redis-check`, `option smtpchk`, `option mysql-check`, `option pgsql-check` and
/// `option ldap-check`. Without one, checks only connect.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckKindConfig {
    /// `option httpchk`: the request line is [`Backend::httpchk`], refined by
    /// [`Backend::http_check_send`] and judged by [`Backend::http_check_expect`].
    Http,
    /// `option tcp-check`: the script is [`Backend::tcp_check`].
    TcpCheck,
    /// `option redis-check`: `PING`, expect `+PONG`.
    Redis,
    /// `option smtpchk [HELO|EHLO <domain>]`. Default is `HELO localhost`.
    Smtp {
        /// `EHLO` rather than `HELO`.
        ehlo: bool,
        /// The domain announced.
        domain: String,
    },
    /// `option mysql-check [user <name> [post-41]]`.
    Mysql {
        /// The user to log in as; none checks the greeting only.
        user: Option<String>,
    },
    /// `option pgsql-check user <name>`.
    Pgsql {
        /// The user of the startup message.
        user: String,
    },
    /// `option ldap-check`: an anonymous bind.
    Ldap,
    /// `option ssl-hello-chk`: a TLS handshake with each server (lb completes a real TLS
    /// handshake, as `check-ssl` does, where HAProxy sends a forged SSLv3 hello).
    SslHello,
}

/// `http-check send [meth <m>] [uri <u>] [ver <v>] [hdr <name> <value>]* [body <s>]`:
/// changes to the `option httpchk` request (later lines override earlier ones).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpCheckSend {
    /// Where the line is.
    pub span: Span,
    /// `meth`.
    pub method: Option<Method>,
    /// `uri`.
    pub uri: Option<String>,
    /// `ver`.
    pub version: Option<Version>,
    /// `hdr` pairs, in order.
    pub headers: Vec<(HeaderName, String)>,
    /// `body`.
    pub body: Option<String>,
}

/// `http-check expect [!] status <codes> | rstatus <regex> | string <text> | rstring <regex>`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpCheckExpect {
    /// Where the line is.
    pub span: Span,
    /// `!`: the rule passes when the match fails.
    pub negate: bool,
    /// What is matched.
    pub matcher: HttpCheckMatch,
}

/// What an `http-check expect` rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpCheckMatch {
    /// `status <codes>`: codes and ranges separated by commas, as written (`200,300-310`).
    Status(String),
    /// `string <text>`: the body contains the text.
    String(String),
    /// `rstatus <regex>`: the status code (three digits) matches, as written (checked at
    /// parse time).
    Rstatus(String),
    /// `rstring <regex>`: the body matches, as written (checked at parse time).
    Rstring(String),
}

/// One `tcp-check` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TcpCheckRuleConfig {
    /// `tcp-check connect [port <n>]`.
    Connect {
        /// The port to connect to instead of the check's.
        port: Option<u16>,
    },
    /// `tcp-check send <text>`.
    Send(String),
    /// `tcp-check send-binary <hex>`: the decoded bytes.
    SendBinary(Vec<u8>),
    /// `tcp-check expect [!] string <text> | binary <hex>`.
    Expect {
        /// `!`: the rule passes when the match fails.
        negate: bool,
        /// What the answer must contain (the decoded bytes for `binary`).
        pattern: Vec<u8>,
        /// Whether the pattern was given as `binary <hex>`.
        binary: bool,
    },
    /// `tcp-check expect [!] rstring <regex>`.
    ExpectRegex {
        /// `!`: the rule passes when the match fails.
        negate: bool,
        /// The regex, as written (checked at parse time).
        regex: String,
    },
}

/// `errorfile <code> <file>`: a complete HTTP response sent instead of the built-in page.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorFile {
    /// Where the line is.
    pub span: Span,
    /// The status it replaces.
    pub status: StatusCode,
    /// The file, resolved against the configuration file's directory.
    pub path: PathBuf,
    /// The file's contents: status line, headers, blank line, body.
    pub response: Vec<u8>,
}

impl fmt::Debug for ErrorFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorFile")
            .field("span", &self.span)
            .field("status", &self.status)
            .field("path", &self.path)
            .field("response_len", &self.response.len())
            .finish()
    }
}

/// The statistics page (`stats enable|uri|refresh|auth|admin|realm`). Any `stats` keyword
/// enables it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Where the first `stats` line is.
    pub span: Span,
    /// `stats uri`: the page's path. Default is `/haproxy?stats`.
    pub uri: String,
    /// `stats refresh`: the page reloads itself this often. Default is never.
    pub refresh: Option<Duration>,
    /// `stats realm`: the HTTP authentication realm. Default is none (HAProxy's
    /// "HAProxy Statistics").
    pub realm: Option<String>,
    /// `stats auth`: accepted users; none means no authentication.
    pub auth: Vec<StatsAuth>,
    /// `stats admin if|unless <cond>`: when the page allows changes. Default is never.
    pub admin: Option<Condition>,
}

impl Stats {
    /// HAProxy's default stats URI.
    pub const DEFAULT_URI: &'static str = "/haproxy?stats";
}

/// A `stats auth <user>:<password>` line.
#[derive(Clone, PartialEq, Eq)]
pub struct StatsAuth {
    /// The user name.
    pub user: String,
    /// The password, in clear (redacted in `Debug`).
    pub password: String,
}

impl fmt::Debug for StatsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatsAuth")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A named ACL: every `acl <name> ...` line of a proxy with that name (they are ORed).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Acl {
    /// The name.
    pub name: Arc<str>,
    /// Where the first declaration is (or the first use, for predefined ACLs).
    pub span: Span,
    /// One test per declaration; the ACL matches when any test does.
    pub tests: Vec<AclTest>,
}

/// One ACL test: a sample fetch and how to match it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AclTest {
    /// Where the declaration is.
    pub span: Span,
    /// What to look at.
    pub fetch: Fetch,
    /// How to match it.
    pub matcher: Match,
}

/// The sample fetches lb supports in ACLs and `balance hash`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fetch {
    /// `path`: the request path, without the query string.
    Path,
    /// `url`: the request target as received.
    Url,
    /// `hdr(<name>)` (`req.hdr`): each comma-separated value of a request header.
    Hdr(HeaderName),
    /// `method`: the request method.
    Method,
    /// `src`: the client's IP address.
    Src,
    /// `dst_port`: the port the client connected to.
    DstPort,
    /// `req.ssl_sni` (`req_ssl_sni`): the SNI of a TLS ClientHello seen by TCP inspection.
    ReqSslSni,
    /// `req.ssl_hello_type` (`req_ssl_hello_type`): 1 for a ClientHello, 2 for a
    /// ServerHello, 0 otherwise.
    ReqSslHelloType,
    /// `req.proto_http` (`req_proto_http`): the buffered data starts an HTTP request.
    ReqProtoHttp,
    /// `ssl_fc`: the client connection uses TLS.
    SslFc,
    /// `dst`: the local IP address the client connected to.
    Dst,
    /// `ssl_fc_sni`: the server name the TLS client asked for.
    SslFcSni,
    /// `ssl_fc_alpn`: the negotiated ALPN protocol (`h2`, `http/1.1`).
    SslFcAlpn,
    /// `ssl_fc_protocol`: `TLSv1.2` or `TLSv1.3`.
    SslFcProtocol,
    /// `ssl_fc_cipher`: the cipher suite's OpenSSL name.
    SslFcCipher,
    /// `ssl_c_used`: the client presented a certificate.
    SslCUsed,
    /// `ssl_c_verify`: the client certificate's verification result, 0 when it verified
    /// (an established connection always has 0: a failed verification ends the handshake).
    SslCVerify,
    /// `ssl_c_s_dn`: the client certificate's subject in OpenSSL's one-line form
    /// (`/C=FR/O=Example/CN=alice`); `ssl_c_s_dn(CN)`: its common name only.
    SslCSDn(DnPart),
    /// `ssl_c_i_dn`: the client certificate's issuer in one-line form.
    SslCIDn,
    /// `ssl_c_sha1`: the SHA-1 fingerprint of the client certificate, as uppercase hex
    /// (what HAProxy's binary-to-string cast prints).
    SslCSha1,
    /// `always_true`.
    AlwaysTrue,
    /// `always_false`.
    AlwaysFalse,
    /// `nbsrv(<backend>)`: how many servers of the backend take traffic.
    NbSrv(Arc<str>),
}

/// Which part of a distinguished name `ssl_c_s_dn` gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DnPart {
    /// The whole name, one-line form.
    Full,
    /// `(CN)`: the common name.
    CommonName,
}

/// The type of a sample, which decides the default match method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SampleType {
    /// Text: matched with `-m str` by default.
    String,
    /// An IP address: matched against networks.
    Ip,
    /// An integer: matched with `eq ge gt le lt` and ranges.
    Integer,
    /// A boolean: true matches.
    Boolean,
}

impl Fetch {
    /// The fetch's canonical name (`req.ssl_sni`, `hdr`).
    pub fn keyword(&self) -> &'static str {
        match self {
            Fetch::Path => "path",
            Fetch::Url => "url",
            Fetch::Hdr(_) => "hdr",
            Fetch::Method => "method",
            Fetch::Src => "src",
            Fetch::DstPort => "dst_port",
            Fetch::ReqSslSni => "req.ssl_sni",
            Fetch::ReqSslHelloType => "req.ssl_hello_type",
            Fetch::ReqProtoHttp => "req.proto_http",
            Fetch::SslFc => "ssl_fc",
            Fetch::Dst => "dst",
            Fetch::SslFcSni => "ssl_fc_sni",
            Fetch::SslFcAlpn => "ssl_fc_alpn",
            Fetch::SslFcProtocol => "ssl_fc_protocol",
            Fetch::SslFcCipher => "ssl_fc_cipher",
            Fetch::SslCUsed => "ssl_c_used",
            Fetch::SslCVerify => "ssl_c_verify",
            Fetch::SslCSDn(_) => "ssl_c_s_dn",
            Fetch::SslCIDn => "ssl_c_i_dn",
            Fetch::SslCSha1 => "ssl_c_sha1",
            Fetch::AlwaysTrue => "always_true",
            Fetch::AlwaysFalse => "always_false",
            Fetch::NbSrv(_) => "nbsrv",
        }
    }

    /// The type of the sample.
    pub fn sample_type(&self) -> SampleType {
        match self {
            Fetch::Path
            | Fetch::Url
            | Fetch::Hdr(_)
            | Fetch::Method
            | Fetch::ReqSslSni
            | Fetch::SslFcSni
            | Fetch::SslFcAlpn
            | Fetch::SslFcProtocol
            | Fetch::SslFcCipher
            | Fetch::SslCSDn(_)
            | Fetch::SslCIDn
            | Fetch::SslCSha1 => SampleType::String,
            Fetch::Src | Fetch::Dst => SampleType::Ip,
            Fetch::DstPort | Fetch::ReqSslHelloType | Fetch::NbSrv(_) | Fetch::SslCVerify => {
                SampleType::Integer
            }
            Fetch::ReqProtoHttp
            | Fetch::SslFc
            | Fetch::SslCUsed
            | Fetch::AlwaysTrue
            | Fetch::AlwaysFalse => SampleType::Boolean,
        }
    }

    /// Whether the fetch reads a parsed HTTP request (so needs `mode http`).
    pub fn needs_http(&self) -> bool {
        matches!(
            self,
            Fetch::Path | Fetch::Url | Fetch::Hdr(_) | Fetch::Method
        )
    }
}

impl fmt::Display for Fetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fetch::Hdr(name) => write!(f, "hdr({name})"),
            Fetch::SslCSDn(DnPart::CommonName) => f.write_str("ssl_c_s_dn(CN)"),
            other => f.write_str(other.keyword()),
        }
    }
}

/// How an [`AclTest`] matches its sample against its patterns. A test matches when any
/// pattern does.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Match {
    /// `-m found`: the sample exists.
    Found,
    /// `-m bool`: the sample is true (or a non-zero integer).
    Bool,
    /// String methods (`str beg end sub dir dom len`).
    Str {
        /// The patterns, each with its method.
        patterns: Vec<StrMatch>,
        /// `-i`: compare ASCII case-insensitively.
        ignore_case: bool,
    },
    /// `-m ip`: the address is in one of the networks.
    Ip(Vec<IpNet>),
    /// `-m int`: comparisons and ranges.
    Int(Vec<IntMatch>),
}

/// `if <cond>` or `unless <cond>`: ACL terms, ANDed within a group, groups ORed (`or`,
/// `||`), each term possibly negated (`!`).
///
/// # Examples
/// ```
/// use lb::config::{AclRef, Condition, Term};
/// // if a !b or c
/// let t = |negate, name: &str| Term { negate, acl: AclRef::Named(name.into()) };
/// let cond = Condition::new(false, vec![vec![t(false, "a"), t(true, "b")], vec![t(false, "c")]]);
/// // Which ACLs match: here, those named in `on`.
/// let eval = |on: &[&str]| {
///     cond.eval(|acl| matches!(acl, AclRef::Named(n) if on.contains(&&**n)))
/// };
/// assert!(eval(&["a"]));
/// assert!(!eval(&["a", "b"]));
/// assert!(eval(&["b", "c"]));
/// assert!(!eval(&[]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// `unless`: the rule applies when the condition is false.
    pub unless: bool,
    /// Groups of terms: the condition holds when all terms of any group hold.
    pub any_of: Vec<Vec<Term>>,
}

impl Condition {
    /// A condition from its parts.
    pub fn new(unless: bool, any_of: Vec<Vec<Term>>) -> Self {
        Self { unless, any_of }
    }

    /// Evaluates the condition, `acl` telling whether one ACL matches; `unless` is applied.
    pub fn eval(&self, mut acl: impl FnMut(&AclRef) -> bool) -> bool {
        let holds = self
            .any_of
            .iter()
            .any(|group| group.iter().all(|t| acl(&t.acl) != t.negate));
        holds != self.unless
    }

    /// Every ACL the condition refers to.
    pub fn acls(&self) -> impl Iterator<Item = &AclRef> {
        self.any_of.iter().flatten().map(|t| &t.acl)
    }
}

/// One term of a [`Condition`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// `!`: the term holds when the ACL does not match.
    pub negate: bool,
    /// The ACL.
    pub acl: AclRef,
}

/// The ACL a [`Term`] tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AclRef {
    /// A named ACL: one of the proxy's `acls` (predefined ones such as `HTTP` or `TRUE`
    /// are added there when used).
    Named(Arc<str>),
    /// An anonymous ACL, `{ <fetch> [flags] [patterns] }`.
    Anonymous(Box<Acl>),
}

/// `default_backend <name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendRef {
    /// Where the line is.
    pub span: Span,
    /// The backend (checked to exist).
    pub name: Arc<str>,
}

/// `use_backend <name> [if|unless <cond>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UseBackend {
    /// Where the line is.
    pub span: Span,
    /// The backend (checked to exist).
    pub backend: Arc<str>,
    /// When the rule applies; `None` is always.
    pub cond: Option<Condition>,
}

/// An `http-request` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequestRule {
    /// Where the line is.
    pub span: Span,
    /// What it does.
    pub action: HttpRequestAction,
    /// When it applies; `None` is always.
    pub cond: Option<Condition>,
}

/// The `http-request` actions lb supports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpRequestAction {
    /// `use-service <name>`: answer with a built-in service.
    UseService(Service),
    /// `set-header <name> <fmt>`: replaces every occurrence of the header.
    SetHeader(HeaderName, ValueFormat),
    /// `add-header <name> <fmt>`: appends one more occurrence.
    AddHeader(HeaderName, ValueFormat),
    /// `del-header <name>`: removes every occurrence.
    DelHeader(HeaderName),
    /// `deny [deny_status <code>]`: answers with the error page of that status (403 by
    /// default) and stops.
    Deny(u16),
}

impl HttpRequestAction {
    /// The action's keyword, as written after `http-request`.
    pub fn keyword(&self) -> &'static str {
        match self {
            HttpRequestAction::UseService(_) => "use-service",
            HttpRequestAction::SetHeader(..) => "set-header",
            HttpRequestAction::AddHeader(..) => "add-header",
            HttpRequestAction::DelHeader(_) => "del-header",
            HttpRequestAction::Deny(_) => "deny",
        }
    }
}

/// A log-format string that builds a value (`http-request set-header X-DN %[ssl_c_s_dn]`):
/// the parsed format, and the fetch of each of its `%[...]` samples.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValueFormat {
    /// The format, parsed with [`LogFormat::parse_value`].
    pub format: LogFormat,
    /// The fetch of each sample, in the order of [`LogFormat::samples`].
    pub samples: Vec<Fetch>,
}

/// Built-in services for `http-request use-service`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// `prometheus-exporter`: metrics in Prometheus' text format.
    PrometheusExporter,
}

/// A `tcp-request content` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpContentRule {
    /// Where the line is.
    pub span: Span,
    /// What it does.
    pub action: TcpContentAction,
    /// When it applies; `None` is always.
    pub cond: Option<Condition>,
}

/// The `tcp-request content` actions lb supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TcpContentAction {
    /// `accept`: stop inspecting, let the connection through.
    Accept,
    /// `reject`: close the connection.
    Reject,
}

/// A frontend (or the frontend half of a `listen` section).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Frontend {
    /// The name.
    pub name: Arc<str>,
    /// Where the section header is.
    pub span: Span,
    /// Whether it comes from a `listen` section (its backend has the same name).
    pub listen: bool,
    /// `mode`.
    pub mode: Mode,
    /// `bind` lines (at least one).
    pub binds: Vec<Bind>,
    /// `maxconn`: most concurrent connections. Default is none (the global limit).
    pub maxconn: Option<u32>,
    /// `timeout` settings.
    pub timeouts: Timeouts,
    /// Named ACLs, in declaration order.
    pub acls: Vec<Acl>,
    /// `default_backend`; for a `listen` section without one, its own backend.
    pub default_backend: Option<BackendRef>,
    /// `use_backend` rules, in order (first match wins).
    pub use_backends: Vec<UseBackend>,
    /// `tcp-request inspect-delay`: how long content rules may wait for data.
    pub tcp_inspect_delay: Option<Duration>,
    /// `tcp-request content` rules, in order.
    pub tcp_content: Vec<TcpContentRule>,
    /// `http-request` rules, in order.
    pub http_request: Vec<HttpRequestRule>,
    /// `log` lines; empty means no logging.
    pub logs: Vec<ProxyLog>,
    /// The access log format: `option httplog`, `option tcplog` or `log-format`. Default
    /// is none (HAProxy's minimal connection log).
    pub log_format: Option<LogFormat>,
    /// `option dontlognull`: do not log connections that sent nothing.
    pub dontlognull: bool,
    /// `option forwardfor`.
    pub forwardfor: Option<ForwardFor>,
    /// HTTP connection mode.
    pub http_conn_mode: HttpConnMode,
    /// `unique-id-format`: the request ID format.
    pub unique_id_format: Option<LogFormat>,
    /// `unique-id-header`: the request header that carries the ID to servers.
    pub unique_id_header: Option<HeaderName>,
    /// `errorfile` lines (one per status; the last one wins).
    pub errorfiles: Vec<ErrorFile>,
    /// `monitor-uri`: requests to this URI get a 200 from lb itself.
    pub monitor_uri: Option<String>,
    /// `monitor fail if|unless <cond>`: the monitor URI answers 503 while it holds (for
    /// example `if { nbsrv(app) lt 1 }`, so an upstream balancer can take over).
    pub monitor_fail: Option<Condition>,
}

/// A backend (or the backend half of a `listen` section).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Backend {
    /// The name.
    pub name: Arc<str>,
    /// Where the section header is.
    pub span: Span,
    /// Whether it comes from a `listen` section (its frontend has the same name).
    pub listen: bool,
    /// `mode`.
    pub mode: Mode,
    /// `balance`, `hash-type`, `hash-balance-factor`, `option allbackups`, and the queue
    /// timeout (`timeout queue`, else `timeout connect`). Default algorithm: `random`.
    pub balance: BalanceConfig,
    /// The key of `balance hash <expr>`.
    pub hash_key: Option<Fetch>,
    /// `server` lines, in order.
    pub servers: Vec<Server>,
    /// `retries`. Default is 3.
    pub retries: u32,
    /// `retry-on` keywords (validated); empty means HAProxy's default, `conn-failure`.
    pub retry_on: Vec<String>,
    /// `option redispatch`.
    pub redispatch: Redispatch,
    /// `http-reuse`. Default is safe.
    pub http_reuse: ReuseMode,
    /// `timeout` settings.
    pub timeouts: Timeouts,
    /// Named ACLs, in declaration order.
    pub acls: Vec<Acl>,
    /// `tcp-request inspect-delay`.
    pub tcp_inspect_delay: Option<Duration>,
    /// `tcp-request content` rules (a `listen` section keeps them on its frontend).
    pub tcp_content: Vec<TcpContentRule>,
    /// `http-request` rules (a `listen` section keeps them on its frontend).
    pub http_request: Vec<HttpRequestRule>,
    /// `log` lines.
    pub logs: Vec<ProxyLog>,
    /// `option forwardfor`.
    pub forwardfor: Option<ForwardFor>,
    /// HTTP connection mode.
    pub http_conn_mode: HttpConnMode,
    /// `option httpchk`: health checks send this request.
    pub httpchk: Option<HttpCheck>,
    /// The health-check protocol (`option httpchk`, `option tcp-check`, ...). Default is
    /// none: checks only connect.
    pub check_kind: Option<CheckKindConfig>,
    /// `http-check send` lines, in order.
    pub http_check_send: Vec<HttpCheckSend>,
    /// `http-check expect` rules, in order; all must pass. Without any, 2xx and 3xx pass.
    pub http_check_expect: Vec<HttpCheckExpect>,
    /// `http-check disable-on-404`: a 404 puts a running server in NOLB.
    pub disable_on_404: bool,
    /// `http-check send-state`: checks send an `X-Haproxy-Server-State` header.
    pub send_state: bool,
    /// `tcp-check` rules, in order.
    pub tcp_check: Vec<TcpCheckRuleConfig>,
    /// `errorfile` lines.
    pub errorfiles: Vec<ErrorFile>,
    /// The statistics page.
    pub stats: Option<Stats>,
}

impl Backend {
    /// The server called `name`.
    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| &*s.name == name)
    }

    /// The active check its servers run: the [`check_kind`](Self::check_kind) with its
    /// `http-check` or `tcp-check` rules (a TCP connect check without one).
    ///
    /// # Errors
    /// Settings lb-health cannot run, with the line they come from.
    #[cfg(feature = "health")]
    pub fn health_check(&self) -> Result<lb_health::Check, String> {
        use lb_health::{
            Check, HttpExpect, MysqlCheck, PgsqlCheck, SmtpCheck, TcpCheck, TcpCheckRule, TcpExpect,
        };
        let at = |span: &Span, e: lb_health::ConfigError| format!("{span}: {e}");
        // Lower-case hexadecimal, what lb-health's `*-binary` rules parse.
        let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
        let kind = match (&self.check_kind, &self.httpchk) {
            (Some(CheckKindConfig::Http), _) | (None, Some(_)) => CheckKindConfig::Http,
            (Some(k), _) => k.clone(),
            (None, None) => return Ok(Check::tcp()),
        };
        let check = match kind {
            CheckKindConfig::Http => {
                let mut h = lb_health::HttpCheck::new();
                if let Some(c) = &self.httpchk {
                    h = h
                        .method(c.method.as_str())
                        .uri(c.uri.as_str())
                        .version(format!("{:?}", c.version));
                    if let Some(host) = &c.host {
                        h = h.header("Host", host.as_str());
                    }
                }
                for s in &self.http_check_send {
                    if let Some(m) = &s.method {
                        h = h.method(m.as_str());
                    }
                    if let Some(u) = &s.uri {
                        h = h.uri(u.as_str());
                    }
                    if let Some(v) = s.version {
                        h = h.version(format!("{v:?}"));
                    }
                    for (n, v) in &s.headers {
                        h = h.header(n.as_str(), v.as_str());
                    }
                    if let Some(b) = &s.body {
                        h = h.body(b.clone());
                    }
                }
                for e in &self.http_check_expect {
                    let rule = match &e.matcher {
                        HttpCheckMatch::Status(list) => {
                            HttpExpect::status(list).map_err(|err| at(&e.span, err))?
                        }
                        HttpCheckMatch::String(s) => HttpExpect::string(s.as_str()),
                        HttpCheckMatch::Rstatus(re) => {
                            HttpExpect::rstatus(re).map_err(|err| at(&e.span, err))?
                        }
                        HttpCheckMatch::Rstring(re) => {
                            HttpExpect::rstring(re).map_err(|err| at(&e.span, err))?
                        }
                    };
                    h = h.expect(if e.negate { rule.negate() } else { rule });
                }
                h = h
                    .disable_on_404(self.disable_on_404)
                    .send_state(self.send_state);
                Check::http(h)
            }
            CheckKindConfig::TcpCheck => {
                let mut t = TcpCheck::new();
                for r in &self.tcp_check {
                    t = t.rule(match r {
                        TcpCheckRuleConfig::Connect { port: None } => TcpCheckRule::connect(),
                        TcpCheckRuleConfig::Connect { port: Some(p) } => {
                            TcpCheckRule::connect_port(*p)
                        }
                        TcpCheckRuleConfig::Send(s) => TcpCheckRule::send(s.as_str()),
                        TcpCheckRuleConfig::SendBinary(b) => {
                            TcpCheckRule::send_binary(&hex(b)).map_err(|e| e.to_string())?
                        }
                        TcpCheckRuleConfig::Expect {
                            negate,
                            pattern,
                            binary,
                        } => {
                            let e = if *binary {
                                TcpExpect::binary(&hex(pattern)).map_err(|e| e.to_string())?
                            } else {
                                TcpExpect::string(String::from_utf8_lossy(pattern))
                            };
                            TcpCheckRule::expect(if *negate { e.negate() } else { e })
                        }
                        TcpCheckRuleConfig::ExpectRegex { negate, regex } => {
                            let e = TcpExpect::rstring(regex).map_err(|e| e.to_string())?;
                            TcpCheckRule::expect(if *negate { e.negate() } else { e })
                        }
                    });
                }
                Check::script(t)
            }
            CheckKindConfig::Redis => Check::redis(),
            CheckKindConfig::Smtp { ehlo: true, domain } => Check::smtp(SmtpCheck::ehlo(domain)),
            CheckKindConfig::Smtp { domain, .. } => Check::smtp(SmtpCheck::helo(domain)),
            CheckKindConfig::Mysql { user } => Check::mysql(match user {
                Some(u) => MysqlCheck::new().user(u),
                None => MysqlCheck::new(),
            }),
            CheckKindConfig::Pgsql { user } => Check::pgsql(PgsqlCheck::new(user)),
            CheckKindConfig::Ldap => Check::ldap(),
            // The runtime sends these checks through TLS.
            CheckKindConfig::SslHello => Check::tcp(),
        };
        check.validate().map_err(|e| e.to_string())?;
        Ok(check)
    }
}

/// A `server` line, with `default-server` settings applied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Server {
    /// Where the line is.
    pub span: Span,
    /// The name (unique in its backend).
    pub name: Arc<str>,
    /// Where to connect.
    pub address: ServerAddress,
    /// `weight`, 0..=256. Default is 1.
    pub weight: Weight,
    /// `backup`: used only when no active server is usable.
    pub backup: bool,
    /// `maxconn`: most concurrent requests; 0 (the default) is unlimited.
    pub maxconn: u32,
    /// `maxqueue`: most queued requests; 0 (the default) is unlimited.
    pub maxqueue: u32,
    /// `slowstart`: ramp-up after recovery. Default is none.
    pub slowstart: Duration,
    /// `disabled`: starts in maintenance.
    pub disabled: bool,
    /// `send-proxy` (v1) or `send-proxy-v2`: send a PROXY protocol header.
    pub send_proxy: Option<ProxyProtocolVersion>,
    /// `send-proxy-v2-ssl`, `send-proxy-v2-ssl-cn`, `proxy-v2-options ssl,cert-cn,ssl-cipher`:
    /// the PROXY v2 header carries the `PP2_TYPE_SSL` TLV with these sub-TLVs (only with
    /// `send_proxy` v2).
    pub send_proxy_ssl: Option<lb_tcp::proxy_protocol::SslOptions>,
    /// `source <ip>[:<port>]`: the local address of connections to the server.
    pub source: Option<SocketAddr>,
    /// `id`: the numeric id (stable hashing, `first`). Default is the position.
    pub id: Option<u32>,
    /// Health-check settings.
    pub check: CheckParams,
    /// `track [<backend>/]<server>`: copy another server's state instead of checking.
    pub track: Option<TrackTarget>,
    /// `ssl ...`: TLS towards the server. `None` is plain TCP.
    pub tls: Option<ServerTls>,
}

/// TLS towards a server (`server ... ssl ...`). Relative paths are resolved against the
/// directory of the configuration file; the files are read when the runtime starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerTls {
    /// `verify none|required`, else `ssl-server-verify`, else required. `required` needs a
    /// `ca-file` (a load error otherwise, as in HAProxy).
    pub verify: ServerVerify,
    /// `ca-file`: the CAs the server's certificate must chain to.
    pub ca_file: Option<PathBuf>,
    /// `crt`: the client certificate (chain and key, PEM) presented to the server.
    pub crt: Option<PathBuf>,
    /// `sni str(<name>)`: the server name sent. Default is none: no SNI is sent.
    pub sni: Option<String>,
    /// `verifyhost`: the name the server's certificate must carry. Default is the SNI.
    pub verifyhost: Option<String>,
    /// `alpn`: protocols offered, in order. With `h2` alone (on every server of an HTTP
    /// backend) the backend talks HTTP/2 to its servers.
    pub alpn: Vec<String>,
    /// `ssl-min-ver`. Default is TLSv1.2.
    pub min_version: Option<TlsVersion>,
    /// `ssl-max-ver`. Default is TLSv1.3.
    pub max_version: Option<TlsVersion>,
    /// `no-ssl-reuse`: no TLS session resumption towards the server.
    pub no_ssl_reuse: bool,
    /// Whether `verify` was given (else `ssl-server-verify` decides).
    pub(crate) verify_set: bool,
}

/// `verify` of a `server` line, and `ssl-server-verify`: the server's certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerVerify {
    /// Nothing is checked (insecure: anyone in the path can impersonate the server).
    None,
    /// The chain must lead to a `ca-file` CA, and the name must match.
    #[default]
    Required,
}

impl Server {
    /// The lb-core server description, once the address is resolved (`address` is
    /// [`ServerAddress::Addr`] itself, or a resolution of [`ServerAddress::Host`]).
    pub fn core_config(&self, address: Address) -> ServerConfig {
        let mut cfg = ServerConfig::new(self.name.clone(), address)
            .weight(self.weight.get())
            .backup(self.backup)
            .maxconn(self.maxconn)
            .maxqueue(self.maxqueue)
            .slowstart(self.slowstart);
        if let Some(id) = self.id {
            cfg = cfg.id(id);
        }
        if self.disabled {
            cfg = cfg.admin(AdminState::Maint);
        }
        cfg
    }
}

/// Where a server is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerAddress {
    /// An IP address and port, a Unix socket or an in-memory name.
    Addr(Address),
    /// A host name to resolve, with its port.
    Host {
        /// The host name.
        name: Arc<str>,
        /// The port.
        port: u16,
    },
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerAddress::Addr(a) => a.fmt(f),
            ServerAddress::Host { name, port } => write!(f, "{name}:{port}"),
        }
    }
}

/// A server's health-check settings, as configured (run by lb-health).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckParams {
    /// `check`: run health checks. Without it the server is always considered up.
    pub enabled: bool,
    /// `inter`: interval between checks. Default is 2 s.
    pub inter: Duration,
    /// `fastinter`: interval while the state is changing. Default is `inter`.
    pub fastinter: Option<Duration>,
    /// `downinter`: interval while fully down. Default is `inter`.
    pub downinter: Option<Duration>,
    /// `rise`: consecutive successes to go up. Default is 2.
    pub rise: u32,
    /// `fall`: consecutive failures to go down. Default is 3.
    pub fall: u32,
    /// `port`: check this port instead of the server's.
    pub port: Option<u16>,
    /// `addr`: check this address instead of the server's.
    pub addr: Option<IpAddr>,
    /// `check-ssl`: checks use TLS.
    pub ssl: bool,
    /// `check-sni`: the SNI checks send.
    pub sni: Option<String>,
    /// `check-proto`: the protocol of HTTP checks. Default is HTTP/1.
    pub proto: CheckProto,
    /// Agent check settings.
    pub agent: AgentParams,
    /// `observe layer4|layer7`: passive checks on live traffic.
    pub observe: Option<Observe>,
    /// `error-limit`: consecutive observed errors before `on-error`. Default is 10.
    pub error_limit: u32,
    /// `on-error`: what observed errors do. Default is [`OnError::FailCheck`].
    pub on_error: OnError,
}

impl Default for CheckParams {
    fn default() -> Self {
        Self {
            enabled: false,
            inter: Duration::from_secs(2),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
            port: None,
            addr: None,
            ssl: false,
            sni: None,
            proto: CheckProto::H1,
            agent: AgentParams::default(),
            observe: None,
            error_limit: 10,
            on_error: OnError::FailCheck,
        }
    }
}

/// `check-proto h1|h2`: the protocol HTTP checks speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckProto {
    /// `h1`: HTTP/1 (the default).
    #[default]
    H1,
    /// `h2`: HTTP/2 with prior knowledge (h2c, or h2 inside `check-ssl`).
    H2,
}

/// Agent-check settings (`agent-check`, `agent-port`, `agent-inter`, `agent-send`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentParams {
    /// `agent-check`: poll the agent.
    pub enabled: bool,
    /// `agent-port`: the agent's port (required with `agent-check`).
    pub port: Option<u16>,
    /// `agent-inter`: polling interval. Default is 2 s.
    pub inter: Duration,
    /// `agent-send`: a string sent on connect.
    pub send: Option<String>,
}

impl Default for AgentParams {
    fn default() -> Self {
        Self {
            enabled: false,
            port: None,
            inter: Duration::from_secs(2),
            send: None,
        }
    }
}

/// `observe layer4|layer7`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Observe {
    /// Count failed connections.
    Layer4,
    /// Count invalid responses, timeouts and bad statuses (HTTP only).
    Layer7,
}

/// `on-error`: what a run of observed errors does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OnError {
    /// `fastinter`: only switch to the fast check interval.
    FastInter,
    /// `fail-check` (the default): count as one failed check.
    #[default]
    FailCheck,
    /// `sudden-death`: count as all failed checks but one.
    SuddenDeath,
    /// `mark-down`: mark the server down at once.
    MarkDown,
}

/// `track [<backend>/]<server>`, resolved: the backend is always named.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackTarget {
    /// The tracked server's backend.
    pub backend: Arc<str>,
    /// The tracked server.
    pub server: Arc<str>,
}

impl fmt::Display for TrackTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.backend, self.server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_helpers() {
        let span = Span {
            file: "a.cfg".into(),
            line: 3,
        };
        assert_eq!(span.to_string(), "a.cfg:3");
        assert_eq!(SectionKind::Listen.to_string(), "listen");
        assert_eq!(Mode::Http.to_string(), "http");
        assert_eq!(Facility::Local7.code(), 23);
        assert_eq!(Facility::ALL.len(), 24);
        assert!(Facility::ALL
            .iter()
            .enumerate()
            .all(|(i, f)| usize::from(f.code()) == i));
        assert_eq!(LogLevel::ALL[3].keyword(), "err");
        assert!(LogLevel::Emerg < LogLevel::Debug);
        assert_eq!(
            LogDestination::Udp("10.0.0.1:514".parse().unwrap()).to_string(),
            "udp@10.0.0.1:514"
        );
        assert_eq!(
            LogDestination::Unix("/dev/log".into()).to_string(),
            "unix@/dev/log"
        );
        assert_eq!(LogDestination::Stdout.to_string(), "stdout");
        assert_eq!(LogDestination::Stderr.to_string(), "stderr");
        let t = Timeouts {
            client: Some(Duration::from_secs(1)),
            connect: Some(Duration::from_secs(2)),
            ..Timeouts::default()
        };
        assert_eq!(t.effective_queue(), Some(Duration::from_secs(2)));
        assert_eq!(t.effective_http_keep_alive(), Some(Duration::from_secs(1)));
        assert_eq!(
            Fetch::Hdr(HeaderName::from_static("host")).to_string(),
            "hdr(host)"
        );
        assert_eq!(Fetch::ReqSslSni.to_string(), "req.ssl_sni");
        let auth = StatsAuth {
            user: "admin".into(),
            password: "secret".into(),
        };
        assert!(!format!("{auth:?}").contains("secret"));
        assert_eq!(
            ServerAddress::Host {
                name: "app".into(),
                port: 80
            }
            .to_string(),
            "app:80"
        );
        assert_eq!(
            TrackTarget {
                backend: "b".into(),
                server: "s".into()
            }
            .to_string(),
            "b/s"
        );
    }
}

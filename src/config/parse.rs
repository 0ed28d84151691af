//! Sections and keywords: turns lines of words into the typed model, collecting every
//! error with its file, line and keyword.
//!
//! Parsing is in one pass over the files in order (HAProxy reads multiple files as if they
//! were concatenated, except that each file starts outside any section). A `defaults`
//! section is a [`Draft`] that later proxies clone; a proxy section is a draft too, finished
//! (conditions resolved, checks run, split into a frontend and/or a backend) when the next
//! section starts. References between proxies (`use_backend`, `track`) are checked once
//! every file is read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method, StatusCode, Version};
use lb_core::{Algorithm, BalanceConfig, HashFunction, HashType, Redispatch, UriOptions};
use lb_http::client::ReuseMode;
use lb_http::headers::ForwardFor;
use lb_http::log::LogFormat;
use lb_tcp::listen::{BindAddr, BindSpec, BindSpecError};

use super::acl;
use super::error::{ConfigError, ConfigErrors, ErrorKind, Warning};
use super::lexer::{self, Vars};
use super::model::*;
use super::server::{self, ServerParams};
use super::units;

/// One line being parsed: where, its words, and the keyword errors are reported under
/// (refined by handlers, e.g. `timeout` becomes `timeout client`).
pub(crate) struct Line<'a> {
    pub(crate) span: Span,
    pub(crate) words: &'a [String],
    pub(crate) kw: String,
}

impl<'a> Line<'a> {
    pub(crate) fn arg(&self, i: usize) -> Option<&'a str> {
        self.words.get(i).map(String::as_str)
    }

    /// Word `i`, or a "missing <expected>" error.
    pub(crate) fn req(&self, i: usize, expected: &'static str) -> Result<&'a str, ErrorKind> {
        self.arg(i).ok_or(ErrorKind::MissingArgument { expected })
    }

    /// An error if there are words from `i` on.
    pub(crate) fn end(&self, i: usize) -> Result<(), ErrorKind> {
        match self.arg(i) {
            Some(arg) => Err(ErrorKind::UnexpectedArgument {
                arg: arg.to_owned(),
            }),
            None => Ok(()),
        }
    }
}

/// An unsigned integer in `min..=max`, digits only.
pub(crate) fn uint(what: &'static str, s: &str, min: u64, max: u64) -> Result<u64, ErrorKind> {
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse::<u64>().ok())
        .flatten()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| ErrorKind::InvalidValue {
            what,
            value: s.to_owned(),
            reason: format!("expected an integer from {min} to {max}"),
        })
}

pub(crate) fn u32_in(what: &'static str, s: &str, min: u32, max: u32) -> Result<u32, ErrorKind> {
    // The range fits u32 so the conversion cannot fail.
    uint(what, s, min.into(), max.into()).map(|n| n as u32)
}

pub(crate) fn port(what: &'static str, s: &str) -> Result<u16, ErrorKind> {
    uint(what, s, 1, 65535).map(|n| n as u16)
}

pub(crate) fn time(s: &str) -> Result<Duration, ErrorKind> {
    units::parse_time(s).map_err(ErrorKind::Unit)
}

/// A time that must not be zero (check intervals).
pub(crate) fn positive_time(what: &'static str, s: &str) -> Result<Duration, ErrorKind> {
    let d = time(s)?;
    if d.is_zero() {
        return Err(ErrorKind::InvalidValue {
            what,
            value: s.to_owned(),
            reason: "must be greater than zero".into(),
        });
    }
    Ok(d)
}

pub(crate) fn header_name(s: &str) -> Result<HeaderName, ErrorKind> {
    s.parse::<HeaderName>()
        .map_err(|_| ErrorKind::InvalidValue {
            what: "header name",
            value: s.to_owned(),
            reason: "not a valid HTTP header name".into(),
        })
}

/// Proxy, server and ACL names: letters, digits, `-`, `_`, `.` and `:` (as HAProxy).
pub(crate) fn check_name(what: &'static str, s: &str) -> Result<(), ErrorKind> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(ErrorKind::InvalidValue {
            what,
            value: s.to_owned(),
            reason: "only letters, digits, '-', '_', '.' and ':' are allowed".into(),
        })
    }
}

/// The closest of `candidates` to `word` within two edits, if any.
pub(crate) fn suggest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(ca != *cb);
                cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    if word.chars().count() < 3 {
        return None;
    }
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Where a keyword may appear.
#[derive(Clone, Copy)]
struct Caps(u8);

impl Caps {
    const DEF: u8 = 1;
    const FE: u8 = 2;
    const BE: u8 = 4;
    const ALL: Caps = Caps(Self::DEF | Self::FE | Self::BE);
    const DEF_FE: Caps = Caps(Self::DEF | Self::FE);
    const DEF_BE: Caps = Caps(Self::DEF | Self::BE);
    const FE_ONLY: Caps = Caps(Self::FE);
    const BE_ONLY: Caps = Caps(Self::BE);
    const FE_BE: Caps = Caps(Self::FE | Self::BE);

    fn check(self, section: SectionKind) -> Result<(), ErrorKind> {
        let ok = match section {
            SectionKind::Defaults => self.0 & Self::DEF != 0,
            SectionKind::Frontend => self.0 & Self::FE != 0,
            SectionKind::Backend => self.0 & Self::BE != 0,
            SectionKind::Listen => self.0 & (Self::FE | Self::BE) != 0,
            SectionKind::Global => false,
        };
        if ok {
            return Ok(());
        }
        let note = match self.0 {
            x if x == Self::FE => "use it in a frontend or listen section",
            x if x == Self::BE => "use it in a backend or listen section",
            x if x == Self::DEF | Self::FE => "use it in a defaults, frontend or listen section",
            x if x == Self::DEF | Self::BE => "use it in a defaults, backend or listen section",
            _ => "use it in a frontend, backend or listen section",
        };
        Err(ErrorKind::NotAllowed {
            section,
            note: Some(note),
        })
    }
}

/// The proxy keywords lb supports, for "did you mean" suggestions.
const PROXY_KEYWORDS: &[&str] = &[
    "mode",
    "bind",
    "maxconn",
    "timeout",
    "balance",
    "hash-type",
    "hash-balance-factor",
    "server",
    "default-server",
    "retries",
    "retry-on",
    "option",
    "http-reuse",
    "default_backend",
    "use_backend",
    "acl",
    "log",
    "log-format",
    "unique-id-format",
    "unique-id-header",
    "errorfile",
    "monitor-uri",
    "monitor",
    "stats",
    "http-request",
    "tcp-request",
    "http-check",
    "tcp-check",
];

const GLOBAL_KEYWORDS: &[&str] = &[
    "maxconn",
    "nbthread",
    "hard-stop-after",
    "log",
    "stats",
    "daemon",
    "pidfile",
    "ssl-server-verify",
];

const OPTIONS: &[&str] = &[
    "redispatch",
    "forwardfor",
    "http-server-close",
    "httpclose",
    "http-keep-alive",
    "tcplog",
    "httplog",
    "dontlognull",
    "allbackups",
    "httpchk",
    "tcp-check",
    "redis-check",
    "smtpchk",
    "mysql-check",
    "pgsql-check",
    "ldap-check",
    "ssl-hello-chk",
];

/// HAProxy sections lb does not implement; their bodies are skipped.
const UNSUPPORTED_SECTIONS: &[&str] = &[
    "peers",
    "resolvers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
    "crt-store",
    "traces",
    "log-forward",
    "dynamic-update",
    "acme",
];

/// `errorfile` statuses HAProxy accepts.
const ERRORFILE_STATUSES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
];

/// The access-log style before `mode` is known for sure.
#[derive(Clone, Debug)]
enum LogStyle {
    Http,
    Tcp,
    Custom(LogFormat),
}

/// A proxy or defaults section being read.
#[derive(Clone, Debug)]
pub(crate) struct Draft {
    kind: SectionKind,
    name: Arc<str>,
    span: Span,
    mode: Mode,
    binds: Vec<Bind>,
    /// Whether a `bind` line was seen, even one with an error.
    bind_seen: bool,
    maxconn: Option<u32>,
    timeouts: Timeouts,
    balance: BalanceConfig,
    balance_span: Option<Span>,
    hash_key: Option<Fetch>,
    pub(crate) servers: Vec<Server>,
    pub(crate) default_server: ServerParams,
    retries: u32,
    retry_on: Vec<String>,
    redispatch: Redispatch,
    http_reuse: ReuseMode,
    forwardfor: Option<(ForwardFor, Span)>,
    http_conn_mode: HttpConnMode,
    log_style: Option<(LogStyle, Span)>,
    dontlognull: bool,
    logs: Vec<ProxyLog>,
    unique_id_format: Option<LogFormat>,
    unique_id_header: Option<HeaderName>,
    errorfiles: Vec<ErrorFile>,
    monitor_uri: Option<String>,
    monitor_fail: Option<Condition>,
    monitor_fail_span: Option<Span>,
    stats: Option<Stats>,
    stats_admin_span: Option<Span>,
    httpchk: Option<HttpCheck>,
    check_kind: Option<CheckKindConfig>,
    http_check_send: Vec<HttpCheckSend>,
    http_check_expect: Vec<HttpCheckExpect>,
    disable_on_404: bool,
    send_state: bool,
    tcp_check: Vec<TcpCheckRuleConfig>,
    default_backend: Option<BackendRef>,
    use_backends: Vec<UseBackend>,
    pub(crate) acls: Vec<Acl>,
    http_request: Vec<HttpRequestRule>,
    tcp_inspect_delay: Option<Duration>,
    tcp_content: Vec<TcpContentRule>,
}

impl Draft {
    /// HAProxy's built-in defaults.
    fn builtin(span: Span) -> Self {
        Self {
            kind: SectionKind::Defaults,
            name: "".into(),
            span,
            mode: Mode::Tcp,
            binds: Vec::new(),
            bind_seen: false,
            maxconn: None,
            timeouts: Timeouts::default(),
            balance: BalanceConfig::default(),
            balance_span: None,
            hash_key: None,
            servers: Vec::new(),
            default_server: ServerParams::default(),
            retries: 3,
            retry_on: Vec::new(),
            redispatch: Redispatch::Off,
            http_reuse: ReuseMode::default(),
            forwardfor: None,
            http_conn_mode: HttpConnMode::default(),
            log_style: None,
            dontlognull: false,
            logs: Vec::new(),
            unique_id_format: None,
            unique_id_header: None,
            errorfiles: Vec::new(),
            monitor_uri: None,
            monitor_fail: None,
            monitor_fail_span: None,
            stats: None,
            stats_admin_span: None,
            httpchk: None,
            check_kind: None,
            http_check_send: Vec::new(),
            http_check_expect: Vec::new(),
            disable_on_404: false,
            send_state: false,
            tcp_check: Vec::new(),
            default_backend: None,
            use_backends: Vec::new(),
            acls: Vec::new(),
            http_request: Vec::new(),
            tcp_inspect_delay: None,
            tcp_content: Vec::new(),
        }
    }

    /// A new section inheriting this one's settings.
    fn inherit(&self, kind: SectionKind, name: Arc<str>, span: Span) -> Self {
        Self {
            kind,
            name,
            span,
            ..self.clone()
        }
    }

    pub(crate) fn kind(&self) -> SectionKind {
        self.kind
    }

    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// Every rule condition with its keyword and line.
    pub(crate) fn rule_conditions(&self) -> Vec<(&'static str, Span, Condition)> {
        let mut v = Vec::new();
        for u in &self.use_backends {
            v.extend(u.cond.clone().map(|c| ("use_backend", u.span.clone(), c)));
        }
        for r in &self.http_request {
            let kw = match r.action {
                HttpRequestAction::UseService(_) => "http-request use-service",
                HttpRequestAction::SetHeader(..) => "http-request set-header",
                HttpRequestAction::AddHeader(..) => "http-request add-header",
                HttpRequestAction::DelHeader(_) => "http-request del-header",
                HttpRequestAction::Deny(_) => "http-request deny",
            };
            v.extend(r.cond.clone().map(|c| (kw, r.span.clone(), c)));
        }
        for r in &self.tcp_content {
            v.extend(
                r.cond
                    .clone()
                    .map(|c| ("tcp-request content", r.span.clone(), c)),
            );
        }
        if let (Some(c), Some(span)) = (&self.monitor_fail, &self.monitor_fail_span) {
            v.push(("monitor fail", span.clone(), c.clone()));
        }
        if let (Some(c), Some(span)) = (
            self.stats.as_ref().and_then(|s| s.admin.clone()),
            &self.stats_admin_span,
        ) {
            v.push(("stats admin", span.clone(), c));
        }
        v
    }
}

/// What the parser is in.
enum Section {
    /// Before the first section header of a file.
    None,
    /// After an unknown or unsupported section header, or an error outside any section:
    /// lines are skipped until the next section header.
    Skip,
    Global,
    Defaults(Box<Draft>),
    Proxy(Box<Draft>),
}

/// Errors, warnings and per-file state shared by the handlers.
pub(crate) struct Ctx {
    errors: Vec<ConfigError>,
    warnings: Vec<Warning>,
    /// The directory of the file being read, for `errorfile` paths.
    dir: PathBuf,
}

impl Ctx {
    pub(crate) fn error(&mut self, span: &Span, keyword: Option<&str>, kind: ErrorKind) {
        self.errors.push(ConfigError::new(span, keyword, kind));
    }

    fn warn(&mut self, span: &Span, keyword: Option<&str>, message: String) {
        self.warnings.push(Warning {
            span: span.clone(),
            keyword: keyword.map(str::to_owned),
            message,
        });
    }
}

/// The configuration parser: feed it files in order, then [`finish`](Parser::finish).
pub(crate) struct Parser<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    cx: Ctx,
    global: Global,
    section: Section,
    /// The last defaults section read: proxies without `from` inherit it.
    last_defaults: Draft,
    named_defaults: HashMap<Arc<str>, (Span, Draft)>,
    /// Frontend names (frontends and listens), for duplicates.
    fe_names: HashMap<Arc<str>, (SectionKind, Span)>,
    /// Backend names (backends and listens).
    be_names: HashMap<Arc<str>, (SectionKind, Span)>,
    frontends: Vec<Frontend>,
    backends: Vec<Backend>,
    /// File names in load order, to sort errors.
    files: Vec<Arc<str>>,
}

impl<'e> Parser<'e> {
    pub(crate) fn new(env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        let builtin_span = Span {
            file: "<builtin>".into(),
            line: 0,
        };
        Self {
            env,
            cx: Ctx {
                errors: Vec::new(),
                warnings: Vec::new(),
                dir: PathBuf::new(),
            },
            global: Global::default(),
            section: Section::None,
            last_defaults: Draft::builtin(builtin_span),
            named_defaults: HashMap::new(),
            fe_names: HashMap::new(),
            be_names: HashMap::new(),
            frontends: Vec::new(),
            backends: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Records an error about a whole file (it cannot be read).
    pub(crate) fn file_error(&mut self, e: ConfigError) {
        if !self.files.iter().any(|f| **f == *e.file()) {
            self.files.push(e.file().into());
        }
        self.cx.errors.push(e);
    }

    /// Parses one file's text. `name` is how errors name the file; relative `errorfile`
    /// paths are resolved against its directory.
    pub(crate) fn parse_file(&mut self, name: &str, text: &str) {
        let file: Arc<str> = name.into();
        self.files.push(file.clone());
        self.cx.dir = Path::new(name)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        self.section = Section::None;
        for (i, raw) in text.split('\n').enumerate() {
            let span = Span {
                file: file.clone(),
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            };
            let section_name = match &self.section {
                Section::Global => "global",
                Section::Defaults(_) => "defaults",
                Section::Proxy(d) => d.kind.keyword(),
                Section::None | Section::Skip => "",
            };
            let vars = Vars {
                env: self.env,
                file: name,
                line: span.line,
                section: section_name,
            };
            let words = match lexer::split(raw, &vars) {
                Ok(w) => w,
                // Lines skipped after an error (an unknown section) report nothing more.
                Err(_) if matches!(self.section, Section::Skip) => continue,
                Err(e) => {
                    self.cx.error(&span, None, ErrorKind::Syntax(e));
                    continue;
                }
            };
            if words.is_empty() {
                continue;
            }
            self.line(span, &words);
        }
        self.close_section();
    }

    fn line(&mut self, span: Span, words: &[String]) {
        let kw = words[0].as_str();
        let kind = match kw {
            "global" => Some(SectionKind::Global),
            "defaults" => Some(SectionKind::Defaults),
            "frontend" => Some(SectionKind::Frontend),
            "backend" => Some(SectionKind::Backend),
            "listen" => Some(SectionKind::Listen),
            _ => None,
        };
        if let Some(kind) = kind {
            self.close_section();
            self.open_section(kind, span, words);
            return;
        }
        if UNSUPPORTED_SECTIONS.contains(&kw) {
            self.close_section();
            self.cx
                .error(&span, Some(kw), ErrorKind::UnsupportedSection);
            self.section = Section::Skip;
            return;
        }
        let mut line = Line {
            span,
            words,
            kw: kw.to_owned(),
        };
        let result = match &mut self.section {
            Section::Skip => Ok(()),
            Section::None => {
                let known = PROXY_KEYWORDS.contains(&kw) || GLOBAL_KEYWORDS.contains(&kw);
                let kind = if known {
                    ErrorKind::OutsideSection
                } else {
                    ErrorKind::UnknownSection {
                        name: kw.to_owned(),
                    }
                };
                self.cx.error(&line.span, (known).then_some(kw), kind);
                self.section = Section::Skip;
                Ok(())
            }
            Section::Global => global_keyword(&mut self.global, &mut line),
            Section::Defaults(d) | Section::Proxy(d) => proxy_keyword(&mut self.cx, d, &mut line),
        };
        if let Err(kind) = result {
            self.cx.error(&line.span, Some(&line.kw), kind);
        }
    }

    fn open_section(&mut self, kind: SectionKind, span: Span, words: &[String]) {
        let line = Line {
            span: span.clone(),
            words,
            kw: kind.keyword().to_owned(),
        };
        let result = match kind {
            SectionKind::Global => line.end(1).map(|()| Section::Global),
            SectionKind::Defaults => self.open_defaults(&line),
            _ => self.open_proxy(kind, &line),
        };
        self.section = match result {
            Ok(s) => s,
            Err(e) => {
                self.cx.error(&span, Some(kind.keyword()), e);
                Section::Skip
            }
        };
    }

    /// `from <name>` at word `i`: the named defaults to inherit.
    fn inherited_defaults(
        &mut self,
        line: &Line<'_>,
        i: usize,
    ) -> Result<Option<Draft>, ErrorKind> {
        match line.arg(i) {
            None => Ok(None),
            Some("from") => {
                let name = line
                    .arg(i + 1)
                    .ok_or(ErrorKind::MissingValue { option: "from" })?;
                line.end(i + 2)?;
                match self.named_defaults.get(name) {
                    Some((_, d)) => Ok(Some(d.clone())),
                    None => {
                        let names: Vec<&str> = self.named_defaults.keys().map(|k| &**k).collect();
                        // Keep parsing the section with the usual inheritance.
                        self.cx.error(
                            &line.span,
                            Some(&line.kw),
                            ErrorKind::UnknownReference {
                                what: "defaults section",
                                name: name.to_owned(),
                                suggestion: suggest(name, &names).map(str::to_owned),
                            },
                        );
                        Ok(None)
                    }
                }
            }
            Some(other) => Err(ErrorKind::UnexpectedArgument {
                arg: other.to_owned(),
            }),
        }
    }

    fn open_defaults(&mut self, line: &Line<'_>) -> Result<Section, ErrorKind> {
        let (name, from_at) = match line.arg(1) {
            Some("from") | None => (None, 1),
            Some(n) => (Some(n), 2),
        };
        if let Some(n) = name {
            check_name("defaults name", n)?;
            if let Some((first, _)) = self.named_defaults.get(n) {
                return Err(ErrorKind::Duplicate {
                    what: "defaults section",
                    name: n.to_owned(),
                    first: first.clone(),
                });
            }
        }
        let base = self
            .inherited_defaults(line, from_at)?
            .unwrap_or_else(|| Draft::builtin(line.span.clone()));
        let d = base.inherit(
            SectionKind::Defaults,
            name.unwrap_or_default().into(),
            line.span.clone(),
        );
        Ok(Section::Defaults(Box::new(d)))
    }

    fn open_proxy(&mut self, kind: SectionKind, line: &Line<'_>) -> Result<Section, ErrorKind> {
        let name = line.req(1, "proxy name")?;
        check_name("proxy name", name)?;
        let name: Arc<str> = name.into();
        let (fe, be) = match kind {
            SectionKind::Frontend => (true, false),
            SectionKind::Backend => (false, true),
            _ => (true, true),
        };
        for (on, names) in [(fe, &mut self.fe_names), (be, &mut self.be_names)] {
            if !on {
                continue;
            }
            if let Some((other, first)) = names.get(&name) {
                self.cx.error(
                    &line.span,
                    Some(kind.keyword()),
                    ErrorKind::DuplicateProxy {
                        kind,
                        name: name.to_string(),
                        other: *other,
                        first: first.clone(),
                    },
                );
                break;
            }
        }
        for (on, names) in [(fe, &mut self.fe_names), (be, &mut self.be_names)] {
            if on {
                names
                    .entry(name.clone())
                    .or_insert_with(|| (kind, line.span.clone()));
            }
        }
        // Registered before the rest of the header is checked, so that references to a
        // proxy whose header has an error do not add errors of their own.
        let base = self.inherited_defaults(line, 2)?;
        let base = base.as_ref().unwrap_or(&self.last_defaults);
        let d = base.inherit(kind, name, line.span.clone());
        Ok(Section::Proxy(Box::new(d)))
    }

    fn close_section(&mut self) {
        match std::mem::replace(&mut self.section, Section::None) {
            Section::Defaults(d) => {
                if !d.name.is_empty() && !self.named_defaults.contains_key(&d.name) {
                    self.named_defaults
                        .insert(d.name.clone(), (d.span.clone(), (*d).clone()));
                }
                self.last_defaults = *d;
            }
            Section::Proxy(d) => {
                let (fe, be) = finish_proxy(&mut self.cx, *d);
                self.frontends.extend(fe);
                self.backends.extend(be);
            }
            Section::None | Section::Skip | Section::Global => {}
        }
    }

    /// Checks references between proxies and returns the configuration, or every error.
    pub(crate) fn finish(mut self) -> Result<Config, ConfigErrors> {
        self.close_section();
        check_references(
            &mut self.cx,
            &self.frontends,
            &self.be_names,
            &self.backends,
        );
        check_tracks(&mut self.cx, &self.backends);
        server::check_server_tls(&mut self.cx, &self.global, &mut self.backends);
        if self.cx.errors.is_empty() {
            return Ok(Config {
                global: self.global,
                frontends: self.frontends,
                backends: self.backends,
                warnings: self.cx.warnings,
            });
        }
        let files = &self.files;
        let order = |e: &ConfigError| {
            let file = files
                .iter()
                .position(|f| **f == *e.file())
                .unwrap_or(usize::MAX);
            (file, e.line().unwrap_or(0))
        };
        self.cx.errors.sort_by_key(order);
        Err(ConfigErrors::new(self.cx.errors))
    }
}

// ---------------------------------------------------------------------------------------
// global

fn global_keyword(g: &mut Global, l: &mut Line<'_>) -> Result<(), ErrorKind> {
    match l.words[0].as_str() {
        "maxconn" => {
            g.maxconn = Some(u32_in(
                "maxconn",
                l.req(1, "connection count")?,
                1,
                u32::MAX,
            )?);
            l.end(2)
        }
        "nbthread" => {
            g.nbthread = Some(u32_in("nbthread", l.req(1, "thread count")?, 1, 4096)?);
            l.end(2)
        }
        "hard-stop-after" => {
            g.hard_stop_after = Some(time(l.req(1, "time")?)?);
            l.end(2)
        }
        "log" => {
            if l.arg(1) == Some("global") {
                return Err(ErrorKind::Invalid(
                    "'log global' is for proxy sections; give a target here".into(),
                ));
            }
            g.logs.push(log_target(l)?);
            Ok(())
        }
        "stats" => {
            let sub = l.req(1, "stats keyword ('socket')")?;
            l.kw = format!("stats {sub}");
            if sub != "socket" {
                return Err(ErrorKind::UnsupportedKeyword { suggestion: None });
            }
            g.stats_sockets.push(stats_socket(l)?);
            Ok(())
        }
        "ssl-server-verify" => {
            g.ssl_server_verify = match l.req(1, "none or required")? {
                "none" => ServerVerify::None,
                "required" => ServerVerify::Required,
                other => {
                    return Err(ErrorKind::UnknownValue {
                        what: "ssl-server-verify",
                        value: other.to_owned(),
                        expected: "none or required",
                    })
                }
            };
            l.end(2)
        }
        "daemon" => Err(ErrorKind::NotSupported {
            reason: "lb runs in the foreground (use a service manager to daemonize it)",
        }),
        "pidfile" => Err(ErrorKind::NotSupported {
            reason: "lb writes no pid file (use a service manager to track it)",
        }),
        other => Err(ErrorKind::UnsupportedKeyword {
            suggestion: suggest(other, GLOBAL_KEYWORDS),
        }),
    }
}

/// `ip[:port]` or `[ipv6][:port]` (or a bare IPv6 address).
fn host_port(
    what: &'static str,
    s: &str,
    default_port: u16,
) -> Result<std::net::SocketAddr, ErrorKind> {
    let bad = || ErrorKind::InvalidValue {
        what,
        value: s.to_owned(),
        reason: "expected an IP address with an optional port".into(),
    };
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok((ip, default_port).into());
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        if sa.port() == 0 {
            return Err(bad());
        }
        return Ok(sa);
    }
    if let Some(ip) = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|ip| ip.parse::<std::net::Ipv6Addr>().ok())
    {
        return Ok((ip, default_port).into());
    }
    Err(bad())
}

/// `log <target> [len <n>] [format <fmt>] <facility> [<max> [<min>]]`.
fn log_target(l: &Line<'_>) -> Result<LogTarget, ErrorKind> {
    let target = l.req(
        1,
        "log target (stdout, stderr, an address or a socket path)",
    )?;
    let destination = match target {
        "stdout" => LogDestination::Stdout,
        "stderr" => LogDestination::Stderr,
        t if t.starts_with('/') => LogDestination::Unix(t.into()),
        t => {
            if let Some(path) = t.strip_prefix("unix@") {
                if path.is_empty() {
                    return Err(ErrorKind::MissingArgument {
                        expected: "socket path after 'unix@'",
                    });
                }
                LogDestination::Unix(path.into())
            } else {
                let addr = ["udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"]
                    .iter()
                    .find_map(|p| t.strip_prefix(p))
                    .unwrap_or(t);
                if addr.contains('@') {
                    return Err(ErrorKind::UnsupportedValue {
                        what: format!("log target '{t}'"),
                        note: Some("supported: stdout, stderr, udp@ip:port, unix@/path"),
                    });
                }
                LogDestination::Udp(host_port("log target", addr, 514)?)
            }
        }
    };
    let mut t = LogTarget {
        span: l.span.clone(),
        destination,
        max_len: None,
        format: SyslogFormat::default(),
        facility: Facility::User,
        max_level: None,
        min_level: None,
    };
    let mut i = 2;
    loop {
        match l.arg(i) {
            Some("len") => {
                let v = l
                    .arg(i + 1)
                    .ok_or(ErrorKind::MissingValue { option: "len" })?;
                t.max_len = Some(u32_in("log length", v, 80, 65535)?);
                i += 2;
            }
            Some("format") => {
                let v = l
                    .arg(i + 1)
                    .ok_or(ErrorKind::MissingValue { option: "format" })?;
                t.format = match v {
                    "rfc3164" => SyslogFormat::Rfc3164,
                    "rfc5424" => SyslogFormat::Rfc5424,
                    "short" => SyslogFormat::Short,
                    "raw" => SyslogFormat::Raw,
                    "iso" => SyslogFormat::Iso,
                    "priority" => SyslogFormat::Priority,
                    "timed" => SyslogFormat::Timed,
                    "local" => SyslogFormat::Local,
                    _ => {
                        return Err(ErrorKind::UnknownValue {
                            what: "log format",
                            value: v.to_owned(),
                            expected: "rfc3164, rfc5424, short, raw, iso, priority, timed or local",
                        })
                    }
                };
                i += 2;
            }
            Some(w @ ("sample" | "profile")) => {
                return Err(ErrorKind::UnsupportedValue {
                    what: format!("log option '{w}'"),
                    note: None,
                })
            }
            _ => break,
        }
    }
    let fac = l.req(i, "syslog facility (e.g. local0)")?;
    t.facility = Facility::ALL
        .into_iter()
        .find(|f| f.keyword() == fac)
        .ok_or_else(|| ErrorKind::UnknownValue {
            what: "syslog facility",
            value: fac.to_owned(),
            expected: "kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, auth2, \
                       ftp, ntp, audit, alert, cron2 or local0 to local7",
        })?;
    let level = |s: &str| {
        LogLevel::ALL
            .into_iter()
            .find(|lv| lv.keyword() == s)
            .ok_or_else(|| ErrorKind::UnknownValue {
                what: "log level",
                value: s.to_owned(),
                expected: "emerg, alert, crit, err, warning, notice, info or debug",
            })
    };
    if let Some(max) = l.arg(i + 1) {
        t.max_level = Some(level(max)?);
    }
    if let Some(min) = l.arg(i + 2) {
        t.min_level = Some(level(min)?);
    }
    l.end(i + 3)?;
    Ok(t)
}

/// `stats socket <address> [level <level>] [mode <octal>]`.
fn stats_socket(l: &Line<'_>) -> Result<StatsSocket, ErrorKind> {
    let addr = l.req(2, "socket address (a path or ip:port)")?;
    let spec = BindSpec::parse(addr).map_err(|e| ErrorKind::Invalid(e.to_string()))?;
    let address = match spec.addrs() {
        [BindAddr::Inet { ports, .. }] if ports.len() > 1 => {
            return Err(ErrorKind::InvalidValue {
                what: "stats socket address",
                value: addr.to_owned(),
                reason: "a port range is not allowed here".into(),
            })
        }
        [one] => one.clone(),
        _ => {
            return Err(ErrorKind::InvalidValue {
                what: "stats socket address",
                value: addr.to_owned(),
                reason: "only one address is allowed here".into(),
            })
        }
    };
    let mut s = StatsSocket {
        span: l.span.clone(),
        address,
        level: StatsLevel::default(),
        mode: None,
    };
    let mut i = 3;
    while let Some(opt) = l.arg(i) {
        match opt {
            "level" => {
                let v = l
                    .arg(i + 1)
                    .ok_or(ErrorKind::MissingValue { option: "level" })?;
                s.level = match v {
                    "user" => StatsLevel::User,
                    "operator" => StatsLevel::Operator,
                    "admin" => StatsLevel::Admin,
                    _ => {
                        return Err(ErrorKind::UnknownValue {
                            what: "level",
                            value: v.to_owned(),
                            expected: "user, operator or admin",
                        })
                    }
                };
            }
            "mode" => {
                let v = l
                    .arg(i + 1)
                    .ok_or(ErrorKind::MissingValue { option: "mode" })?;
                let m = u32::from_str_radix(v, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777 && !v.starts_with('+'))
                    .ok_or_else(|| ErrorKind::InvalidValue {
                        what: "mode",
                        value: v.to_owned(),
                        reason: "expected octal permissions such as 600".into(),
                    })?;
                s.mode = Some(m);
            }
            other => {
                return Err(ErrorKind::UnsupportedValue {
                    what: format!("stats socket option '{other}'"),
                    note: Some("supported: level, mode"),
                })
            }
        }
        i += 2;
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------
// proxies

fn proxy_keyword(cx: &mut Ctx, d: &mut Draft, l: &mut Line<'_>) -> Result<(), ErrorKind> {
    let kw = l.words[0].as_str();
    let caps = match kw {
        "mode" | "timeout" | "log" | "errorfile" => Caps::ALL,
        "bind" | "use_backend" => Caps::FE_ONLY,
        "server" => Caps::BE_ONLY,
        "maxconn" | "default_backend" | "log-format" | "unique-id-format" | "unique-id-header"
        | "monitor-uri" | "monitor" => Caps::DEF_FE,
        "balance"
        | "hash-type"
        | "hash-balance-factor"
        | "default-server"
        | "retries"
        | "retry-on"
        | "http-reuse"
        | "stats"
        | "http-check"
        | "tcp-check" => Caps::DEF_BE,
        "acl" | "http-request" => Caps::FE_BE,
        "tcp-request" => Caps::ALL,
        "option" | "no" => Caps::ALL,
        other => {
            return Err(ErrorKind::UnsupportedKeyword {
                suggestion: suggest(other, PROXY_KEYWORDS),
            })
        }
    };
    caps.check(d.kind)?;
    match kw {
        "mode" => {
            d.mode = match l.req(1, "mode (tcp or http)")? {
                "tcp" => Mode::Tcp,
                "http" => Mode::Http,
                other => {
                    return Err(ErrorKind::UnknownValue {
                        what: "mode",
                        value: other.to_owned(),
                        expected: "tcp or http",
                    })
                }
            };
            l.end(2)
        }
        "bind" => {
            d.bind_seen = true;
            let b = bind(&cx.dir, l)?;
            d.binds.push(b);
            Ok(())
        }
        "maxconn" => {
            d.maxconn = Some(u32_in(
                "maxconn",
                l.req(1, "connection count")?,
                0,
                u32::MAX,
            )?);
            l.end(2)
        }
        "timeout" => timeout(cx, d, l),
        "balance" => balance(d, l),
        "hash-type" => hash_type(d, l),
        "hash-balance-factor" => {
            let v = l.req(1, "factor (0 or above 100)")?;
            let f = u32_in("hash-balance-factor", v, 0, 65535)?;
            if (1..=100).contains(&f) {
                return Err(ErrorKind::InvalidValue {
                    what: "hash-balance-factor",
                    value: v.to_owned(),
                    reason: "must be 0 (off) or above 100".into(),
                });
            }
            d.balance.hash_balance_factor = f;
            l.end(2)
        }
        "server" => server::server_line(&cx.dir, d, l),
        "default-server" => server::default_server_line(&cx.dir, d, l),
        "retries" => {
            d.retries = u32_in("retries", l.req(1, "retry count")?, 0, 100)?;
            l.end(2)
        }
        "retry-on" => {
            const KEYWORDS: [&str; 15] = [
                "none",
                "conn-failure",
                "empty-response",
                "junk-response",
                "response-timeout",
                "0rtt-rejected",
                "404",
                "408",
                "425",
                "500",
                "501",
                "502",
                "503",
                "504",
                "all-retryable-errors",
            ];
            l.req(1, "failure keywords")?;
            let mut words = Vec::new();
            let mut i = 1;
            while let Some(w) = l.arg(i) {
                if !KEYWORDS.contains(&w) {
                    return Err(ErrorKind::UnknownValue {
                        what: "retry-on keyword",
                        value: w.to_owned(),
                        expected: "none, conn-failure, empty-response, junk-response, \
                                   response-timeout, 0rtt-rejected, 404, 408, 425, 500, 501, \
                                   502, 503, 504 or all-retryable-errors",
                    });
                }
                words.push(w.to_owned());
                i += 1;
            }
            d.retry_on = words;
            Ok(())
        }
        "option" => option(d, l, false),
        "no" => match l.arg(1) {
            Some("option") => option(d, l, true),
            Some("log") => {
                l.kw = "no log".into();
                l.end(2)?;
                d.logs.clear();
                Ok(())
            }
            Some(other) => {
                l.kw = format!("no {other}");
                Err(ErrorKind::UnsupportedKeyword { suggestion: None })
            }
            None => Err(ErrorKind::MissingArgument {
                expected: "keyword after 'no' (e.g. 'option')",
            }),
        },
        "http-reuse" => {
            d.http_reuse = match l.req(1, "mode (never, safe, aggressive or always)")? {
                "never" => ReuseMode::Never,
                "safe" => ReuseMode::Safe,
                "aggressive" => ReuseMode::Aggressive,
                "always" => ReuseMode::Always,
                other => {
                    return Err(ErrorKind::UnknownValue {
                        what: "http-reuse mode",
                        value: other.to_owned(),
                        expected: "never, safe, aggressive or always",
                    })
                }
            };
            l.end(2)
        }
        "default_backend" => {
            let name = backend_name(l.req(1, "backend name")?)?;
            l.end(2)?;
            d.default_backend = Some(BackendRef {
                span: l.span.clone(),
                name,
            });
            Ok(())
        }
        "use_backend" => {
            let backend = backend_name(l.req(1, "backend name")?)?;
            let cond = rule_condition(l, 2)?;
            d.use_backends.push(UseBackend {
                span: l.span.clone(),
                backend,
                cond,
            });
            Ok(())
        }
        "acl" => acl::acl_line(d, l),
        "log" => {
            match l.arg(1) {
                Some("global") => {
                    l.end(2)?;
                    d.logs.push(ProxyLog::Global);
                }
                _ => d.logs.push(ProxyLog::Target(log_target(l)?)),
            }
            Ok(())
        }
        "log-format" => {
            let f = format_arg(l)?;
            d.log_style = Some((LogStyle::Custom(f), l.span.clone()));
            Ok(())
        }
        "unique-id-format" => {
            d.unique_id_format = Some(format_arg(l)?);
            Ok(())
        }
        "unique-id-header" => {
            d.unique_id_header = Some(header_name(l.req(1, "header name")?)?);
            l.end(2)
        }
        "errorfile" => errorfile(cx, d, l),
        "monitor-uri" => {
            d.monitor_uri = Some(l.req(1, "URI")?.to_owned());
            l.end(2)
        }
        "monitor" => {
            let sub = l.req(1, "'fail'")?;
            l.kw = format!("monitor {sub}");
            if sub != "fail" {
                return Err(ErrorKind::UnsupportedKeyword { suggestion: None });
            }
            match rule_condition(l, 2)? {
                Some(c) => {
                    d.monitor_fail = Some(c);
                    d.monitor_fail_span = Some(l.span.clone());
                    Ok(())
                }
                None => Err(ErrorKind::InvalidValue {
                    what: "monitor fail",
                    value: String::new(),
                    reason: "needs a condition: monitor fail if|unless <cond>".into(),
                }),
            }
        }
        "stats" => stats(d, l),
        "http-request" => http_request(d, l),
        "tcp-request" => tcp_request(d, l),
        "http-check" => http_check(d, l),
        "tcp-check" => tcp_check(d, l),
        _ => Err(ErrorKind::UnsupportedKeyword { suggestion: None }),
    }
}

fn backend_name(s: &str) -> Result<Arc<str>, ErrorKind> {
    if s.contains('%') {
        return Err(ErrorKind::UnsupportedValue {
            what: format!("dynamic backend name '{s}'"),
            note: None,
        });
    }
    check_name("backend name", s)?;
    Ok(s.into())
}

/// An optional `if|unless <cond>` from word `i` on.
pub(crate) fn rule_condition(l: &Line<'_>, i: usize) -> Result<Option<Condition>, ErrorKind> {
    match l.arg(i) {
        None => Ok(None),
        Some("if" | "unless") => acl::condition(&l.span, &l.words[i..]).map(Some),
        Some(other) => Err(ErrorKind::UnexpectedArgument {
            arg: other.to_owned(),
        }),
    }
}

/// The single format-string argument of `log-format` and `unique-id-format`.
fn format_arg(l: &Line<'_>) -> Result<LogFormat, ErrorKind> {
    let s = l.req(1, "format string")?;
    if l.arg(2).is_some() {
        return Err(ErrorKind::Invalid(
            "expects a single argument: quote the format or escape its spaces with '\\ '".into(),
        ));
    }
    LogFormat::parse(s).map_err(ErrorKind::LogFormat)
}

/// Options of `bind` handled here; the others go to lb-tcp's [`BindSpec`]. Relative TLS
/// file paths are resolved against `dir`, the configuration file's directory.
fn bind(dir: &Path, l: &Line<'_>) -> Result<Bind, ErrorKind> {
    let addrs = l.req(1, "address (e.g. ':80' or '127.0.0.1:8080')")?;
    let mut b = Bind {
        span: l.span.clone(),
        spec: BindSpec::new([], Default::default()),
        name: None,
        accept_proxy: false,
        maxconn: None,
        tls: None,
    };
    let mut ssl = false;
    let mut tls = BindTls::default();
    // The first option that needs `ssl`, for the error when it is missing.
    let mut needs_ssl: Option<&'static str> = None;
    let mut socket_words = vec![addrs];
    let mut i = 2;
    while let Some(w) = l.arg(i) {
        let value = |option: &'static str| l.arg(i + 1).ok_or(ErrorKind::MissingValue { option });
        let path = |option: &'static str| value(option).map(|v| dir.join(v));
        let mut tls_option = |option: &'static str| {
            needs_ssl.get_or_insert(option);
        };
        match w {
            "accept-proxy" => b.accept_proxy = true,
            "name" => {
                b.name = Some(value("name")?.to_owned());
                i += 1;
            }
            "maxconn" => {
                b.maxconn = Some(u32_in("maxconn", value("maxconn")?, 0, u32::MAX)?);
                i += 1;
            }
            "ssl" => ssl = true,
            "crt" => {
                tls_option("crt");
                tls.certificates.push(path("crt")?);
                i += 1;
            }
            "crt-list" => {
                tls_option("crt-list");
                tls.crt_lists.push(path("crt-list")?);
                i += 1;
            }
            "alpn" => {
                tls_option("alpn");
                let v = value("alpn")?;
                if v.is_empty() || v.split(',').any(str::is_empty) {
                    return Err(ErrorKind::InvalidValue {
                        what: "alpn",
                        value: v.to_owned(),
                        reason: "expected a comma-separated list such as h2,http/1.1".into(),
                    });
                }
                tls.alpn = v.split(',').map(str::to_owned).collect();
                i += 1;
            }
            "ssl-min-ver" => {
                tls_option("ssl-min-ver");
                tls.min_version = Some(tls_version(value("ssl-min-ver")?)?);
                i += 1;
            }
            "ssl-max-ver" => {
                tls_option("ssl-max-ver");
                tls.max_version = Some(tls_version(value("ssl-max-ver")?)?);
                i += 1;
            }
            "ciphers" => {
                tls_option("ciphers");
                tls.ciphers = Some(cipher_list("ciphers", value("ciphers")?)?);
                i += 1;
            }
            "ciphersuites" => {
                tls_option("ciphersuites");
                tls.ciphersuites = Some(cipher_list("ciphersuites", value("ciphersuites")?)?);
                i += 1;
            }
            "prefer-client-ciphers" => {
                tls_option("prefer-client-ciphers");
                tls.prefer_client_ciphers = true;
            }
            "verify" => {
                tls_option("verify");
                tls.verify = match value("verify")? {
                    "none" => ClientVerify::None,
                    "optional" => ClientVerify::Optional,
                    "required" => ClientVerify::Required,
                    other => {
                        return Err(ErrorKind::UnknownValue {
                            what: "verify",
                            value: other.to_owned(),
                            expected: "none, optional or required",
                        })
                    }
                };
                i += 1;
            }
            "ca-file" => {
                tls_option("ca-file");
                tls.ca_file = Some(path("ca-file")?);
                i += 1;
            }
            "crl-file" => {
                tls_option("crl-file");
                tls.crl_file = Some(path("crl-file")?);
                i += 1;
            }
            "no-tls-tickets" => {
                tls_option("no-tls-tickets");
                tls.no_tls_tickets = true;
            }
            "tls-ticket-keys" => {
                tls_option("tls-ticket-keys");
                tls.tls_ticket_keys = Some(path("tls-ticket-keys")?);
                i += 1;
            }
            // lb-tcp's options that take a value: pass both words through.
            "backlog" | "keepalive-idle" | "keepalive-intvl" | "keepalive-cnt" | "mode" | "uid"
            | "gid" | "namespace" => {
                socket_words.push(w);
                if let Some(v) = l.arg(i + 1) {
                    socket_words.push(v);
                }
                i += 1;
            }
            _ => socket_words.push(w),
        }
        i += 1;
    }
    if let Some(w) = socket_words
        .iter()
        .find(|w| w.is_empty() || w.contains(char::is_whitespace))
    {
        return Err(ErrorKind::InvalidValue {
            what: "bind argument",
            value: (*w).to_owned(),
            reason: "must be a single non-empty word".into(),
        });
    }
    b.spec = BindSpec::parse(&socket_words.join(" ")).map_err(|e| match e {
        BindSpecError::UnknownOption(o) => ErrorKind::UnsupportedValue {
            what: format!("bind option '{o}'"),
            note: Some(
                "supported: accept-proxy, name, maxconn, ssl, crt, crt-list, alpn, \
                 ssl-min-ver, ssl-max-ver, ciphers, ciphersuites, prefer-client-ciphers, \
                 verify, ca-file, crl-file, no-tls-tickets, tls-ticket-keys, backlog, \
                 reuseport, nodelay, keepalive, keepalive-idle, keepalive-intvl, \
                 keepalive-cnt, transparent, freebind, v6only, v4v6, mode, uid, gid, namespace",
            ),
        },
        other => ErrorKind::Invalid(other.to_string()),
    })?;
    if !ssl {
        return match needs_ssl {
            Some(what) => Err(ErrorKind::Requires { what, needs: "ssl" }),
            None => Ok(b),
        };
    }
    if tls.certificates.is_empty() && tls.crt_lists.is_empty() {
        return Err(ErrorKind::Requires {
            what: "ssl",
            needs: "crt",
        });
    }
    if tls.ca_file.is_none() {
        match tls.verify {
            ClientVerify::None => {}
            ClientVerify::Optional => {
                return Err(ErrorKind::Requires {
                    what: "verify optional",
                    needs: "ca-file",
                })
            }
            ClientVerify::Required => {
                return Err(ErrorKind::Requires {
                    what: "verify required",
                    needs: "ca-file",
                })
            }
        }
        if tls.crl_file.is_some() {
            return Err(ErrorKind::Requires {
                what: "crl-file",
                needs: "ca-file",
            });
        }
    }
    if let (Some(min), Some(max)) = (tls.min_version, tls.max_version) {
        if min > max {
            return Err(ErrorKind::Invalid(format!(
                "'ssl-min-ver {min}' is above 'ssl-max-ver {max}'"
            )));
        }
    }
    if tls.no_tls_tickets && tls.tls_ticket_keys.is_some() {
        return Err(ErrorKind::Invalid(
            "'no-tls-tickets' and 'tls-ticket-keys' cannot be used together".into(),
        ));
    }
    if !dir.as_os_str().is_empty() {
        tls.crt_base = Some(dir.to_path_buf());
    }
    b.tls = Some(tls);
    Ok(b)
}

/// The value of `ssl-min-ver` and `ssl-max-ver`.
pub(crate) fn tls_version(v: &str) -> Result<TlsVersion, ErrorKind> {
    match v {
        "TLSv1.2" => Ok(TlsVersion::Tls12),
        "TLSv1.3" => Ok(TlsVersion::Tls13),
        other => Err(ErrorKind::UnknownValue {
            what: "TLS version",
            value: other.to_owned(),
            expected: "TLSv1.2 or TLSv1.3",
        }),
    }
}

/// The value of `ciphers` and `ciphersuites`: a `:`-separated list of names, checked
/// against what rustls implements when the listener starts.
fn cipher_list(what: &'static str, v: &str) -> Result<String, ErrorKind> {
    if v.is_empty() || v.split(':').any(str::is_empty) {
        return Err(ErrorKind::InvalidValue {
            what,
            value: v.to_owned(),
            reason: "expected a ':'-separated list of cipher names".into(),
        });
    }
    Ok(v.to_owned())
}

fn timeout(cx: &mut Ctx, d: &mut Draft, l: &mut Line<'_>) -> Result<(), ErrorKind> {
    let name = l.req(
        1,
        "timeout name (client, server, connect, http-request, http-keep-alive, queue, tunnel, \
         client-fin, server-fin or check)",
    )?;
    let t = &mut d.timeouts;
    let slot = match name {
        "client" => &mut t.client,
        "server" => &mut t.server,
        "connect" => &mut t.connect,
        "http-request" => &mut t.http_request,
        "http-keep-alive" => &mut t.http_keep_alive,
        "queue" => &mut t.queue,
        "tunnel" => &mut t.tunnel,
        "client-fin" => &mut t.client_fin,
        "server-fin" => &mut t.server_fin,
        "check" => &mut t.check,
        "tarpit" | "client-hs" => {
            l.kw = format!("timeout {name}");
            return Err(ErrorKind::UnsupportedKeyword { suggestion: None });
        }
        other => {
            return Err(ErrorKind::UnknownValue {
                what: "timeout",
                value: other.to_owned(),
                expected: "client, server, connect, http-request, http-keep-alive, queue, \
                           tunnel, client-fin, server-fin or check",
            })
        }
    };
    l.kw = format!("timeout {name}");
    let v = time(l.req(2, "time")?)?;
    l.end(3)?;
    let frontend_only = matches!(name, "client" | "client-fin");
    let backend_only = !frontend_only && !matches!(name, "http-request" | "http-keep-alive");
    let unused = match d.kind {
        SectionKind::Frontend if backend_only => Some("backend"),
        SectionKind::Backend if frontend_only => Some("frontend"),
        _ => None,
    };
    if let Some(side) = unused {
        cx.warn(
            &l.span,
            Some(&l.kw),
            format!("ignored: {} '{}' has no {side} side", d.kind, d.name),
        );
    }
    // As in HAProxy, 0 means no timeout.
    *slot = (!v.is_zero()).then_some(v);
    Ok(())
}

const ALGORITHMS: &str = "one of roundrobin, static-rr, leastconn, first, source, \
                          random[(<draws>)], uri, url_param, hdr(<name>), rdp-cookie[(<name>)], \
                          hash <expr>";

/// `name(arg)` → (`name`, `Some(arg)`); `name` → (`name`, `None`).
pub(crate) fn split_call<'s>(
    what: &'static str,
    s: &'s str,
) -> Result<(&'s str, Option<&'s str>), ErrorKind> {
    match s.split_once('(') {
        None => Ok((s, None)),
        Some((name, rest)) => match rest.strip_suffix(')') {
            Some(arg) if !arg.contains(['(', ')']) => Ok((name, Some(arg))),
            _ => Err(ErrorKind::InvalidValue {
                what,
                value: s.to_owned(),
                reason: "expected 'name(argument)'".into(),
            }),
        },
    }
}

fn balance(d: &mut Draft, l: &Line<'_>) -> Result<(), ErrorKind> {
    let word = l.req(1, "algorithm")?;
    let (name, arg) = split_call("algorithm", word)?;
    let takes_arg = matches!(name, "random" | "hdr" | "rdp-cookie");
    if arg.is_some() && !takes_arg {
        return Err(ErrorKind::InvalidValue {
            what: "algorithm",
            value: word.to_owned(),
            reason: format!("'{name}' takes no argument in parentheses"),
        });
    }
    let mut hash_key = None;
    let mut next = 2;
    let algorithm = match name {
        "roundrobin" => Algorithm::RoundRobin,
        "static-rr" => Algorithm::StaticRr,
        "leastconn" => Algorithm::LeastConn,
        "first" => Algorithm::First,
        "source" => Algorithm::Source,
        "random" => Algorithm::Random {
            draws: match arg {
                None => 2,
                Some(n) => u32_in("draws", n, 1, 100)?,
            },
        },
        "uri" => {
            let mut o = UriOptions::default();
            while let Some(w) = l.arg(next) {
                match w {
                    "len" | "depth" => {
                        let option = if w == "len" { "len" } else { "depth" };
                        let v = l.arg(next + 1).ok_or(ErrorKind::MissingValue { option })?;
                        let n = uint(option, v, 1, u32::MAX.into())? as usize;
                        if w == "len" {
                            o.len = Some(n);
                        } else {
                            o.depth = Some(n);
                        }
                        next += 1;
                    }
                    "whole" => o.whole = true,
                    "path-only" => o.path_only = true,
                    _ => break,
                }
                next += 1;
            }
            Algorithm::Uri(o)
        }
        "url_param" => {
            let param = l.req(2, "parameter name")?;
            next = 3;
            let check_post = l.arg(3) == Some("check_post");
            if check_post {
                next = 4;
                // HAProxy's obsolete `check_post <max_wait>`: the number is ignored.
                if l.arg(4)
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                {
                    next = 5;
                }
            }
            Algorithm::UrlParam {
                name: param.into(),
                check_post,
            }
        }
        "hdr" => {
            let h = arg.ok_or_else(|| ErrorKind::InvalidValue {
                what: "algorithm",
                value: word.to_owned(),
                reason: "needs a header name, e.g. hdr(host)".into(),
            })?;
            let name = header_name(h)?;
            let use_domain_only = l.arg(2) == Some("use_domain_only");
            next = if use_domain_only { 3 } else { 2 };
            Algorithm::Hdr {
                name,
                use_domain_only,
            }
        }
        "rdp-cookie" => match arg {
            None | Some("") => Algorithm::rdp_cookie(),
            Some(c) => Algorithm::RdpCookie { name: c.into() },
        },
        "hash" => {
            let expr = l.req(2, "sample expression (e.g. 'path')")?;
            hash_key = Some(acl::hash_fetch(expr)?);
            next = 3;
            Algorithm::Hash
        }
        "log-hash" | "sticky" => {
            return Err(ErrorKind::UnsupportedValue {
                what: format!("algorithm '{name}'"),
                note: Some("it is for log backends"),
            })
        }
        other => {
            return Err(ErrorKind::UnknownValue {
                what: "algorithm",
                value: other.to_owned(),
                expected: ALGORITHMS,
            })
        }
    };
    l.end(next)?;
    d.balance.algorithm = algorithm;
    d.hash_key = hash_key;
    d.balance_span = Some(l.span.clone());
    Ok(())
}

fn hash_type(d: &mut Draft, l: &Line<'_>) -> Result<(), ErrorKind> {
    let method = l.req(1, "hash method (map-based or consistent)")?;
    let mut t = match method {
        "map-based" => HashType::map_based(),
        "consistent" => HashType::consistent(),
        other => {
            return Err(ErrorKind::UnknownValue {
                what: "hash method",
                value: other.to_owned(),
                expected: "map-based or consistent",
            })
        }
    };
    let mut i = 2;
    if let Some(f) = l.arg(2).filter(|f| *f != "avalanche") {
        t.function = match f {
            "sdbm" => HashFunction::Sdbm,
            "djb2" => HashFunction::Djb2,
            "wt6" => HashFunction::Wt6,
            "crc32" => HashFunction::Crc32,
            "none" => HashFunction::None,
            other => {
                return Err(ErrorKind::UnknownValue {
                    what: "hash function",
                    value: other.to_owned(),
                    expected: "sdbm, djb2, wt6, crc32 or none",
                })
            }
        };
        // An explicit function turns the implicit avalanche of `consistent` off.
        t.avalanche = false;
        i = 3;
    }
    if l.arg(i) == Some("avalanche") {
        t.avalanche = true;
        i += 1;
    }
    l.end(i)?;
    d.balance.hash_type = t;
    Ok(())
}

fn option(d: &mut Draft, l: &mut Line<'_>, negate: bool) -> Result<(), ErrorKind> {
    let at = usize::from(negate) + 1;
    let name = l.req(at, "option name")?;
    l.kw = if negate {
        format!("no option {name}")
    } else {
        format!("option {name}")
    };
    let caps = match name {
        "redispatch" | "allbackups" | "httpchk" | "tcp-check" | "redis-check" | "smtpchk"
        | "mysql-check" | "pgsql-check" | "ldap-check" | "ssl-hello-chk" => Caps::DEF_BE,
        "tcplog" | "httplog" | "dontlognull" => Caps::DEF_FE,
        "forwardfor" | "http-server-close" | "httpclose" | "http-keep-alive" => Caps::ALL,
        other => {
            return Err(ErrorKind::UnsupportedKeyword {
                suggestion: suggest(other, OPTIONS),
            })
        }
    };
    caps.check(d.kind)?;
    if negate {
        l.end(at + 1)?;
    }
    let args = at + 1;
    match name {
        "redispatch" => {
            d.redispatch = if negate {
                Redispatch::Off
            } else {
                match l.arg(args) {
                    None => Redispatch::Last,
                    Some(v) => {
                        let n = v.parse::<i32>().map_err(|_| ErrorKind::InvalidValue {
                            what: "redispatch interval",
                            value: v.to_owned(),
                            reason: "expected an integer (0 disables, -1 is the last retry)".into(),
                        })?;
                        l.end(args + 1)?;
                        Redispatch::from_interval(n)
                    }
                }
            };
        }
        "forwardfor" => {
            d.forwardfor = if negate {
                None
            } else {
                Some((forwardfor(l, args)?, l.span.clone()))
            };
        }
        "http-server-close" | "httpclose" | "http-keep-alive" => {
            l.end(args)?;
            let mode = match name {
                "http-server-close" => HttpConnMode::ServerClose,
                "httpclose" => HttpConnMode::Close,
                _ => HttpConnMode::KeepAlive,
            };
            if !negate {
                d.http_conn_mode = mode;
            } else if d.http_conn_mode == mode {
                d.http_conn_mode = HttpConnMode::KeepAlive;
            }
        }
        "tcplog" | "httplog" => {
            if let Some(arg) = l.arg(args) {
                if name == "httplog" && arg == "clf" {
                    return Err(ErrorKind::UnsupportedValue {
                        what: "'option httplog clf'".into(),
                        note: Some("use log-format"),
                    });
                }
                l.end(args)?;
            }
            let http = name == "httplog";
            if !negate {
                let style = if http { LogStyle::Http } else { LogStyle::Tcp };
                d.log_style = Some((style, l.span.clone()));
            } else if matches!(
                (&d.log_style, http),
                (Some((LogStyle::Http, _)), true) | (Some((LogStyle::Tcp, _)), false)
            ) {
                d.log_style = None;
            }
        }
        "dontlognull" => {
            l.end(args)?;
            d.dontlognull = !negate;
        }
        "allbackups" => {
            l.end(args)?;
            d.balance.allbackups = !negate;
        }
        "httpchk" => {
            if negate {
                d.httpchk = None;
                if d.check_kind == Some(CheckKindConfig::Http) {
                    d.check_kind = None;
                }
            } else {
                d.httpchk = Some(httpchk(l, args)?);
                d.check_kind = Some(CheckKindConfig::Http);
            }
        }
        _ => {
            let kind = check_option(l, name, args)?;
            if negate {
                let same = d.check_kind.as_ref().map(std::mem::discriminant)
                    == Some(std::mem::discriminant(&kind));
                if same {
                    d.check_kind = None;
                }
            } else {
                // The last check option wins, as in HAProxy.
                d.httpchk = None;
                d.check_kind = Some(kind);
            }
        }
    }
    Ok(())
}

/// The other check options: `tcp-check`, `redis-check`, `smtpchk`, `mysql-check`,
/// `pgsql-check` and `ldap-check`, with their arguments from word `i` on.
fn check_option(l: &Line<'_>, name: &str, i: usize) -> Result<CheckKindConfig, ErrorKind> {
    let kind = match name {
        "tcp-check" | "redis-check" | "ldap-check" | "ssl-hello-chk" => {
            l.end(i)?;
            match name {
                "tcp-check" => CheckKindConfig::TcpCheck,
                "redis-check" => CheckKindConfig::Redis,
                "ssl-hello-chk" => CheckKindConfig::SslHello,
                _ => CheckKindConfig::Ldap,
            }
        }
        "smtpchk" => match l.arg(i) {
            None => CheckKindConfig::Smtp {
                ehlo: false,
                domain: "localhost".into(),
            },
            Some(verb) => {
                let ehlo = match verb {
                    "EHLO" | "ehlo" => true,
                    "HELO" | "helo" => false,
                    other => {
                        return Err(ErrorKind::UnknownValue {
                            what: "smtpchk verb",
                            value: other.to_owned(),
                            expected: "HELO or EHLO",
                        })
                    }
                };
                let domain = l.req(i + 1, "domain after HELO or EHLO")?;
                l.end(i + 2)?;
                CheckKindConfig::Smtp {
                    ehlo,
                    domain: domain.to_owned(),
                }
            }
        },
        "mysql-check" => match l.arg(i) {
            None => CheckKindConfig::Mysql { user: None },
            Some("user") => {
                let user = l
                    .arg(i + 1)
                    .ok_or(ErrorKind::MissingValue { option: "user" })?;
                match l.arg(i + 2) {
                    None | Some("post-41") => l.end(i + 3)?,
                    Some(v @ ("pre-41" | "post-80")) => {
                        return Err(ErrorKind::UnsupportedValue {
                            what: format!("'{v}'"),
                            note: Some("only the post-41 login is implemented"),
                        })
                    }
                    Some(other) => {
                        return Err(ErrorKind::UnexpectedArgument {
                            arg: other.to_owned(),
                        })
                    }
                }
                CheckKindConfig::Mysql {
                    user: Some(user.to_owned()),
                }
            }
            Some(other) => {
                return Err(ErrorKind::UnexpectedArgument {
                    arg: other.to_owned(),
                })
            }
        },
        "pgsql-check" => match l.arg(i) {
            Some("user") => {
                let user = l
                    .arg(i + 1)
                    .ok_or(ErrorKind::MissingValue { option: "user" })?;
                l.end(i + 2)?;
                CheckKindConfig::Pgsql {
                    user: user.to_owned(),
                }
            }
            None => {
                return Err(ErrorKind::MissingArgument {
                    expected: "'user <name>'",
                })
            }
            Some(other) => {
                return Err(ErrorKind::UnexpectedArgument {
                    arg: other.to_owned(),
                })
            }
        },
        _ => return Err(ErrorKind::UnsupportedKeyword { suggestion: None }),
    };
    Ok(kind)
}

/// `http-check send|expect|disable-on-404|send-state ...`.
fn http_check(d: &mut Draft, l: &mut Line<'_>) -> Result<(), ErrorKind> {
    let action = l.req(
        1,
        "http-check action (send, expect, disable-on-404 or send-state)",
    )?;
    l.kw = format!("http-check {action}");
    match action {
        "send" => {
            let mut s = HttpCheckSend {
                span: l.span.clone(),
                method: None,
                uri: None,
                version: None,
                headers: Vec::new(),
                body: None,
            };
            let mut i = 2;
            while let Some(opt) = l.arg(i) {
                let value =
                    |option: &'static str| l.arg(i + 1).ok_or(ErrorKind::MissingValue { option });
                match opt {
                    "meth" => s.method = Some(check_method(value("meth")?)?),
                    "uri" => s.uri = Some(check_uri(value("uri")?)?),
                    "ver" => s.version = Some(check_version(value("ver")?)?),
                    "hdr" => {
                        let name = header_name(value("hdr")?)?;
                        let v = l
                            .arg(i + 2)
                            .ok_or(ErrorKind::MissingValue { option: "hdr" })?;
                        if v.contains(['\r', '\n']) {
                            return Err(ErrorKind::InvalidValue {
                                what: "header value",
                                value: v.escape_default().to_string(),
                                reason: "cannot hold CR or LF".into(),
                            });
                        }
                        s.headers.push((name, v.to_owned()));
                        i += 1;
                    }
                    "body" => s.body = Some(value("body")?.to_owned()),
                    "uri-lf" | "body-lf" => {
                        return Err(ErrorKind::UnsupportedValue {
                            what: format!("'{opt}'"),
                            note: Some("log-format strings are not available in checks"),
                        })
                    }
                    other => {
                        return Err(ErrorKind::UnknownValue {
                            what: "http-check send option",
                            value: other.to_owned(),
                            expected: "meth, uri, ver, hdr or body",
                        })
                    }
                }
                i += 2;
            }
            d.http_check_send.push(s);
            Ok(())
        }
        "expect" => {
            let (negate, at) = match l.arg(2) {
                Some("!") => (true, 3),
                _ => (false, 2),
            };
            let what = l.req(
                at,
                "match (status <codes>, rstatus <regex>, string <text> or rstring <regex>)",
            )?;
            let matcher = match what {
                "status" => {
                    let list = l
                        .arg(at + 1)
                        .ok_or(ErrorKind::MissingValue { option: "status" })?;
                    status_list(list)?;
                    HttpCheckMatch::Status(list.to_owned())
                }
                "string" => HttpCheckMatch::String(
                    l.arg(at + 1)
                        .ok_or(ErrorKind::MissingValue { option: "string" })?
                        .to_owned(),
                ),
                "rstatus" => HttpCheckMatch::Rstatus(check_regex(
                    l.arg(at + 1)
                        .ok_or(ErrorKind::MissingValue { option: "rstatus" })?,
                )?),
                "rstring" => HttpCheckMatch::Rstring(check_regex(
                    l.arg(at + 1)
                        .ok_or(ErrorKind::MissingValue { option: "rstring" })?,
                )?),
                other => {
                    return Err(ErrorKind::UnknownValue {
                        what: "http-check expect match",
                        value: other.to_owned(),
                        expected: "status, rstatus, string or rstring",
                    })
                }
            };
            l.end(at + 2)?;
            d.http_check_expect.push(HttpCheckExpect {
                span: l.span.clone(),
                negate,
                matcher,
            });
            Ok(())
        }
        "disable-on-404" => {
            l.end(2)?;
            d.disable_on_404 = true;
            Ok(())
        }
        "send-state" => {
            l.end(2)?;
            d.send_state = true;
            Ok(())
        }
        other => {
            l.kw = "http-check".into();
            Err(ErrorKind::UnknownValue {
                what: "http-check action",
                value: other.to_owned(),
                expected: "send, expect, disable-on-404 or send-state",
            })
        }
    }
}

/// The regex of an `rstatus`/`rstring` expect, checked as lb-health compiles it (on bytes,
/// HAProxy's PCRE semantics); returned as written.
fn check_regex(re: &str) -> Result<String, ErrorKind> {
    #[cfg(feature = "health")]
    if let Err(lb_health::ConfigError::InvalidRegex { error, .. }) =
        lb_health::ExpectRegex::new("expect", re)
    {
        return Err(ErrorKind::InvalidValue {
            what: "regex",
            value: re.to_owned(),
            reason: error,
        });
    }
    Ok(re.to_owned())
}

/// `http-check expect status` codes: `200`, `200,201`, `300-310`, up to 999.
fn status_list(list: &str) -> Result<(), ErrorKind> {
    let code = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit());
    let ok = list.split(',').all(|item| {
        let (lo, hi) = item.split_once('-').unwrap_or((item, item));
        code(lo) && code(hi) && lo <= hi
    });
    if ok {
        Ok(())
    } else {
        Err(ErrorKind::InvalidValue {
            what: "status list",
            value: list.to_owned(),
            reason: "expected codes and ranges such as 200,300-310".into(),
        })
    }
}

/// `tcp-check connect|send|send-binary|expect ...`.
fn tcp_check(d: &mut Draft, l: &mut Line<'_>) -> Result<(), ErrorKind> {
    let action = l.req(1, "tcp-check action (connect, send, send-binary or expect)")?;
    l.kw = format!("tcp-check {action}");
    let rule = match action {
        "connect" => {
            let mut port_ = None;
            let mut i = 2;
            while let Some(opt) = l.arg(i) {
                match opt {
                    "port" => {
                        let v = l
                            .arg(i + 1)
                            .ok_or(ErrorKind::MissingValue { option: "port" })?;
                        port_ = Some(port("port", v)?);
                        i += 2;
                    }
                    other => {
                        return Err(ErrorKind::UnknownValue {
                            what: "tcp-check connect option",
                            value: other.to_owned(),
                            expected: "port",
                        })
                    }
                }
            }
            TcpCheckRuleConfig::Connect { port: port_ }
        }
        "send" => {
            let v = l.req(2, "string to send")?;
            l.end(3)?;
            TcpCheckRuleConfig::Send(v.to_owned())
        }
        "send-binary" => {
            let v = l.req(2, "hexadecimal string to send")?;
            l.end(3)?;
            TcpCheckRuleConfig::SendBinary(hex(v)?)
        }
        "expect" => {
            let (negate, at) = match l.arg(2) {
                Some("!") => (true, 3),
                _ => (false, 2),
            };
            let what = l.req(at, "match (string <text>, rstring <regex> or binary <hex>)")?;
            if what == "rstring" {
                let re = l
                    .arg(at + 1)
                    .ok_or(ErrorKind::MissingValue { option: "rstring" })?;
                let regex = check_regex(re)?;
                l.end(at + 2)?;
                d.tcp_check
                    .push(TcpCheckRuleConfig::ExpectRegex { negate, regex });
                return Ok(());
            }
            let (pattern, binary) = match what {
                "string" => (
                    l.arg(at + 1)
                        .ok_or(ErrorKind::MissingValue { option: "string" })?
                        .as_bytes()
                        .to_vec(),
                    false,
                ),
                "binary" => (
                    hex(l
                        .arg(at + 1)
                        .ok_or(ErrorKind::MissingValue { option: "binary" })?)?,
                    true,
                ),
                "rbinary" => {
                    return Err(ErrorKind::UnsupportedValue {
                        what: "'rbinary'".into(),
                        note: Some("use 'binary <hex>' or 'rstring <regex>'"),
                    })
                }
                other => {
                    return Err(ErrorKind::UnknownValue {
                        what: "tcp-check expect match",
                        value: other.to_owned(),
                        expected: "string, rstring or binary",
                    })
                }
            };
            l.end(at + 2)?;
            TcpCheckRuleConfig::Expect {
                negate,
                pattern,
                binary,
            }
        }
        other => {
            l.kw = "tcp-check".into();
            return Err(ErrorKind::UnknownValue {
                what: "tcp-check action",
                value: other.to_owned(),
                expected: "connect, send, send-binary or expect",
            });
        }
    };
    d.tcp_check.push(rule);
    Ok(())
}

/// Decodes an even-length hexadecimal string.
fn hex(s: &str) -> Result<Vec<u8>, ErrorKind> {
    let bad = || ErrorKind::InvalidValue {
        what: "hexadecimal string",
        value: s.to_owned(),
        reason: "expected an even number of hexadecimal digits".into(),
    };
    if s.is_empty() || s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}

/// `option forwardfor [except <net>] [header <name>] [if-none]`.
fn forwardfor(l: &Line<'_>, mut i: usize) -> Result<ForwardFor, ErrorKind> {
    let mut f = ForwardFor::new();
    while let Some(w) = l.arg(i) {
        match w {
            "except" => {
                let v = l
                    .arg(i + 1)
                    .ok_or(ErrorKind::MissingValue { option: "except" })?;
                let net = v.parse().map_err(|e: lb_core::matcher::IpNetError| {
                    ErrorKind::InvalidValue {
                        what: "network",
                        value: v.to_owned(),
                        reason: e.to_string(),
                    }
                })?;
                f = f.except(net);
                i += 2;
            }
            "header" => {
                let v = l
                    .arg(i + 1)
                    .ok_or(ErrorKind::MissingValue { option: "header" })?;
                f = f.header(header_name(v)?);
                i += 2;
            }
            "if-none" => {
                f = f.if_none(true);
                i += 1;
            }
            other => {
                return Err(ErrorKind::UnexpectedArgument {
                    arg: other.to_owned(),
                })
            }
        }
    }
    Ok(f)
}

/// `option httpchk [<uri>]` or `option httpchk <method> <uri> [<version> [<host>]]`.
fn httpchk(l: &Line<'_>, i: usize) -> Result<HttpCheck, ErrorKind> {
    let mut c = HttpCheck {
        span: l.span.clone(),
        method: Method::OPTIONS,
        uri: "/".into(),
        version: Version::HTTP_10,
        host: None,
    };
    let rest = &l.words[i.min(l.words.len())..];
    let (method, uri, version, host) = match rest {
        [] => (None, None, None, None),
        [uri] => (None, Some(uri), None, None),
        [m, uri] => (Some(m), Some(uri), None, None),
        [m, uri, v] => (Some(m), Some(uri), Some(v), None),
        [m, uri, v, h] => (Some(m), Some(uri), Some(v), Some(h)),
        [_, _, _, _, extra, ..] => {
            return Err(ErrorKind::UnexpectedArgument { arg: extra.clone() })
        }
    };
    if let Some(m) = method {
        c.method = check_method(m)?;
    }
    if let Some(u) = uri {
        c.uri = check_uri(u)?;
    }
    if let Some(v) = version {
        c.version = check_version(v)?;
    }
    c.host = host.cloned();
    Ok(c)
}

/// A health-check method: an upper-case HTTP method.
fn check_method(m: &str) -> Result<Method, ErrorKind> {
    Method::from_bytes(m.as_bytes())
        .ok()
        .filter(|_| m.bytes().all(|b| b.is_ascii_uppercase()))
        .ok_or_else(|| ErrorKind::InvalidValue {
            what: "method",
            value: m.to_owned(),
            reason: "expected an upper-case HTTP method such as GET".into(),
        })
}

/// A health-check request target: one non-empty word.
fn check_uri(u: &str) -> Result<String, ErrorKind> {
    if u.is_empty() || u.contains(char::is_whitespace) {
        return Err(ErrorKind::InvalidValue {
            what: "URI",
            value: u.to_owned(),
            reason: "expected a request target such as /health".into(),
        });
    }
    Ok(u.to_owned())
}

/// A health-check HTTP version: HTTP/1.0 or HTTP/1.1.
fn check_version(v: &str) -> Result<Version, ErrorKind> {
    match v {
        "HTTP/1.0" => Ok(Version::HTTP_10),
        "HTTP/1.1" => Ok(Version::HTTP_11),
        _ if v.contains('\r') || v.contains('\n') => Err(ErrorKind::InvalidValue {
            what: "version",
            value: v.escape_default().to_string(),
            reason: "give the Host header as a fourth argument instead of appending it to the \
                     version"
                .into(),
        }),
        _ => Err(ErrorKind::UnknownValue {
            what: "version",
            value: v.to_owned(),
            expected: "HTTP/1.0 or HTTP/1.1",
        }),
    }
}

fn errorfile(cx: &mut Ctx, d: &mut Draft, l: &Line<'_>) -> Result<(), ErrorKind> {
    let code = l.req(1, "status code")?;
    let path = l.req(2, "file name")?;
    l.end(3)?;
    let status = code
        .parse::<u16>()
        .ok()
        .filter(|c| ERRORFILE_STATUSES.contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| ErrorKind::InvalidValue {
            what: "status code",
            value: code.to_owned(),
            reason: "expected one of 200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, \
                     429, 500, 501, 502, 503, 504"
                .into(),
        })?;
    let full = cx.dir.join(path);
    let response = std::fs::read(&full).map_err(|e| ErrorKind::Read {
        path: full.clone(),
        message: e.to_string(),
    })?;
    if !response.starts_with(b"HTTP/") {
        return Err(ErrorKind::InvalidValue {
            what: "error file",
            value: full.display().to_string(),
            reason: "must hold a complete HTTP response, starting with a status line such as \
                     'HTTP/1.1 503 Service Unavailable'"
                .into(),
        });
    }
    d.errorfiles.retain(|e| e.status != status);
    d.errorfiles.push(ErrorFile {
        span: l.span.clone(),
        status,
        path: full,
        response,
    });
    Ok(())
}

fn stats(d: &mut Draft, l: &mut Line<'_>) -> Result<(), ErrorKind> {
    let sub = l.req(
        1,
        "stats keyword (enable, uri, refresh, auth, admin or realm)",
    )?;
    l.kw = format!("stats {sub}");
    fn stats<'d>(d: &'d mut Draft, span: &Span) -> &'d mut Stats {
        d.stats.get_or_insert_with(|| Stats {
            span: span.clone(),
            uri: Stats::DEFAULT_URI.into(),
            refresh: None,
            realm: None,
            auth: Vec::new(),
            admin: None,
        })
    }
    match sub {
        "enable" => {
            l.end(2)?;
            stats(d, &l.span);
        }
        "uri" => {
            let uri = l.req(2, "URI")?;
            l.end(3)?;
            stats(d, &l.span).uri = uri.to_owned();
        }
        "refresh" => {
            let t = positive_time("refresh", l.req(2, "time")?)?;
            l.end(3)?;
            stats(d, &l.span).refresh = Some(t);
        }
        "realm" => {
            let realm = l.req(2, "realm")?;
            l.end(3)?;
            stats(d, &l.span).realm = Some(realm.to_owned());
        }
        "auth" => {
            let v = l.req(2, "user:password")?;
            l.end(3)?;
            let (user, password) = v
                .split_once(':')
                .filter(|(u, _)| !u.is_empty())
                .ok_or_else(|| ErrorKind::InvalidValue {
                    what: "credentials",
                    value: v.split(':').next().unwrap_or_default().to_owned() + ":...",
                    reason: "expected user:password".into(),
                })?;
            stats(d, &l.span).auth.push(StatsAuth {
                user: user.to_owned(),
                password: password.to_owned(),
            });
        }
        "admin" => {
            if d.kind == SectionKind::Defaults {
                return Err(ErrorKind::NotAllowed {
                    section: SectionKind::Defaults,
                    note: Some("it needs the ACLs of a backend or listen section"),
                });
            }
            let cond = match l.arg(2) {
                Some("if" | "unless") => rule_condition(l, 2)?,
                Some(other) => {
                    return Err(ErrorKind::UnexpectedArgument {
                        arg: other.to_owned(),
                    })
                }
                None => None,
            }
            .ok_or(ErrorKind::MissingArgument {
                expected: "condition ('if' or 'unless')",
            })?;
            stats(d, &l.span).admin = Some(cond);
            d.stats_admin_span = Some(l.span.clone());
        }
        "socket" => {
            return Err(ErrorKind::NotAllowed {
                section: d.kind,
                note: Some("use it in the global section"),
            })
        }
        _ => return Err(ErrorKind::UnsupportedKeyword { suggestion: None }),
    }
    Ok(())
}

/// The statuses `http-request deny deny_status` accepts (those with an error page).
const DENY_STATUSES: [u16; 17] = [
    200, 400, 403, 404, 405, 408, 410, 413, 414, 425, 429, 431, 500, 501, 502, 503, 504,
];

fn http_request(d: &mut Draft, l: &mut Line<'_>) -> Result<(), ErrorKind> {
    let action = l.req(1, "action")?;
    l.kw = format!("http-request {action}");
    let (action, next) = match action {
        "use-service" => {
            let service = match l.req(2, "service name")? {
                "prometheus-exporter" => Service::PrometheusExporter,
                other => {
                    return Err(ErrorKind::UnknownValue {
                        what: "service",
                        value: other.to_owned(),
                        expected: "prometheus-exporter",
                    })
                }
            };
            (HttpRequestAction::UseService(service), 3)
        }
        "set-header" | "add-header" => {
            let name = header_name(l.req(2, "header name")?)?;
            let value = match l.arg(3) {
                None | Some("if" | "unless") => {
                    return Err(ErrorKind::MissingArgument {
                        expected: "header value (a log-format string such as %[ssl_c_s_dn])",
                    })
                }
                Some(v) => value_format(v)?,
            };
            let a = if action == "set-header" {
                HttpRequestAction::SetHeader(name, value)
            } else {
                HttpRequestAction::AddHeader(name, value)
            };
            (a, 4)
        }
        "del-header" => {
            let name = header_name(l.req(2, "header name")?)?;
            if l.arg(3) == Some("-m") {
                return Err(ErrorKind::UnsupportedValue {
                    what: "'del-header -m'".into(),
                    note: Some("headers are removed by exact name"),
                });
            }
            (HttpRequestAction::DelHeader(name), 3)
        }
        "deny" => match l.arg(2) {
            Some(kw @ ("deny_status" | "status")) => {
                let v = l.req(3, "status code")?;
                let code = v
                    .parse::<u16>()
                    .ok()
                    .filter(|c| DENY_STATUSES.contains(c))
                    .ok_or_else(|| ErrorKind::InvalidValue {
                        what: if kw == "status" {
                            "status"
                        } else {
                            "deny_status"
                        },
                        value: v.to_owned(),
                        reason: "expected one of 200, 400, 403, 404, 405, 408, 410, 413, 414, \
                                 425, 429, 431, 500, 501, 502, 503, 504"
                            .into(),
                    })?;
                (HttpRequestAction::Deny(code), 4)
            }
            _ => (HttpRequestAction::Deny(403), 2),
        },
        _ => return Err(ErrorKind::UnsupportedKeyword { suggestion: None }),
    };
    let cond = rule_condition(l, next)?;
    d.http_request.push(HttpRequestRule {
        span: l.span.clone(),
        action,
        cond,
    });
    Ok(())
}

/// A value format (`set-header <name> <fmt>`): log-format text with `%[sample]`s, each
/// sample a fetch lb knows.
fn value_format(s: &str) -> Result<ValueFormat, ErrorKind> {
    let format = LogFormat::parse_value(s).map_err(ErrorKind::LogFormat)?;
    let samples = format
        .samples()
        .map(acl::sample_fetch)
        .collect::<Result<_, _>>()?;
    Ok(ValueFormat { format, samples })
}

fn tcp_request(d: &mut Draft, l: &mut Line<'_>) -> Result<(), ErrorKind> {
    let sub = l.req(1, "rule type (inspect-delay or content)")?;
    l.kw = format!("tcp-request {sub}");
    match sub {
        "inspect-delay" => {
            d.tcp_inspect_delay = Some(time(l.req(2, "time")?)?);
            l.end(3)
        }
        "content" => {
            if d.kind == SectionKind::Defaults {
                return Err(ErrorKind::NotAllowed {
                    section: SectionKind::Defaults,
                    note: Some("use it in a frontend, backend or listen section"),
                });
            }
            let action = match l.req(2, "action (accept or reject)")? {
                "accept" => TcpContentAction::Accept,
                "reject" => TcpContentAction::Reject,
                other => {
                    return Err(ErrorKind::UnsupportedValue {
                        what: format!("action '{other}'"),
                        note: Some("supported: accept, reject; route with 'use_backend'"),
                    })
                }
            };
            let cond = rule_condition(l, 3)?;
            d.tcp_content.push(TcpContentRule {
                span: l.span.clone(),
                action,
                cond,
            });
            Ok(())
        }
        _ => Err(ErrorKind::UnsupportedKeyword { suggestion: None }),
    }
}

// ---------------------------------------------------------------------------------------
// finishing

/// Resolves a finished proxy section into a frontend and/or a backend.
fn finish_proxy(cx: &mut Ctx, mut d: Draft) -> (Option<Frontend>, Option<Backend>) {
    acl::resolve(cx, &mut d);
    let is_fe = matches!(d.kind, SectionKind::Frontend | SectionKind::Listen);
    let is_be = matches!(d.kind, SectionKind::Backend | SectionKind::Listen);
    let http = d.mode == Mode::Http;
    let needs_http = |cx: &mut Ctx, d: &Draft, span: &Span, kw: &str, what: String| {
        cx.error(
            span,
            Some(kw),
            ErrorKind::NeedsHttp {
                what,
                section: d.kind,
                name: d.name.to_string(),
            },
        );
    };
    if is_fe && !d.bind_seen {
        cx.error(
            &d.span,
            None,
            ErrorKind::MissingKeyword {
                section: d.kind,
                name: d.name.to_string(),
                keyword: "bind",
            },
        );
    }
    if is_be && !http {
        let algorithm = &d.balance.algorithm;
        let http_algo = matches!(
            algorithm,
            Algorithm::Uri(_) | Algorithm::UrlParam { .. } | Algorithm::Hdr { .. }
        ) || d.hash_key.as_ref().is_some_and(Fetch::needs_http);
        if http_algo {
            let span = d.balance_span.clone().unwrap_or_else(|| d.span.clone());
            let what = match &d.hash_key {
                Some(key) => format!("'balance hash {key}'"),
                None => format!("'balance {}'", algorithm.keyword()),
            };
            needs_http(cx, &d, &span, "balance", what);
        }
        for s in &d.servers {
            if s.check.observe == Some(Observe::Layer7) {
                needs_http(cx, &d, &s.span, "server", "'observe layer7'".into());
            }
        }
    }
    if is_be {
        // `check-proto h2` only fits HTTP checks (as in HAProxy).
        let http_check = matches!(
            (&d.check_kind, &d.httpchk),
            (Some(CheckKindConfig::Http), _) | (None, Some(_))
        );
        for s in &d.servers {
            if s.check.enabled && s.check.proto == CheckProto::H2 && !http_check {
                let needs = ErrorKind::Requires {
                    what: "check-proto h2",
                    needs: "option httpchk",
                };
                cx.error(&s.span, Some("server"), needs);
            }
        }
    }
    if !http {
        for r in &d.http_request {
            let what = format!("'http-request {}'", r.action.keyword());
            needs_http(cx, &d, &r.span, "http-request", what);
        }
    }
    let log_format = match d.log_style.take() {
        None => None,
        Some((LogStyle::Custom(f), _)) => Some(f),
        Some((LogStyle::Tcp, _)) => Some(LogFormat::tcplog()),
        Some((LogStyle::Http, _)) if http => Some(LogFormat::httplog()),
        Some((LogStyle::Http, span)) => {
            if is_fe {
                cx.warn(
                    &span,
                    Some("option httplog"),
                    format!(
                        "{} '{}' is in mode tcp: using 'option tcplog' instead",
                        d.kind, d.name
                    ),
                );
            }
            Some(LogFormat::tcplog())
        }
    };
    let forwardfor = match d.forwardfor.take() {
        Some((_, span)) if !http => {
            cx.warn(
                &span,
                Some("option forwardfor"),
                format!("ignored: {} '{}' is in mode tcp", d.kind, d.name),
            );
            None
        }
        other => other.map(|(f, _)| f),
    };
    let mut missing = Vec::new();
    if is_fe && d.timeouts.client.is_none() {
        missing.push("client");
    }
    if is_be && d.timeouts.connect.is_none() {
        missing.push("connect");
    }
    if is_be && d.timeouts.server.is_none() {
        missing.push("server");
    }
    if !missing.is_empty() {
        cx.warn(
            &d.span,
            None,
            format!(
                "{} '{}' has no 'timeout {}': connections may hang forever",
                d.kind,
                d.name,
                missing.join("', 'timeout ")
            ),
        );
    }
    d.balance.queue_timeout = d.timeouts.effective_queue();
    let default_backend = match (d.kind, d.default_backend.take()) {
        (SectionKind::Listen, None) => Some(BackendRef {
            span: d.span.clone(),
            name: d.name.clone(),
        }),
        (_, other) => other,
    };
    let fe = is_fe.then(|| Frontend {
        name: d.name.clone(),
        span: d.span.clone(),
        listen: d.kind == SectionKind::Listen,
        mode: d.mode,
        binds: std::mem::take(&mut d.binds),
        maxconn: d.maxconn,
        timeouts: d.timeouts,
        acls: d.acls.clone(),
        default_backend,
        use_backends: std::mem::take(&mut d.use_backends),
        tcp_inspect_delay: d.tcp_inspect_delay,
        tcp_content: std::mem::take(&mut d.tcp_content),
        http_request: std::mem::take(&mut d.http_request),
        logs: d.logs.clone(),
        log_format,
        dontlognull: d.dontlognull,
        forwardfor: forwardfor.clone(),
        http_conn_mode: d.http_conn_mode,
        unique_id_format: d.unique_id_format.take(),
        unique_id_header: d.unique_id_header.take(),
        errorfiles: d.errorfiles.clone(),
        monitor_uri: d.monitor_uri.take(),
        monitor_fail: d.monitor_fail.take(),
    });
    let be = is_be.then(|| Backend {
        name: d.name.clone(),
        span: d.span.clone(),
        listen: d.kind == SectionKind::Listen,
        mode: d.mode,
        balance: d.balance,
        hash_key: d.hash_key,
        servers: d.servers,
        retries: d.retries,
        retry_on: d.retry_on,
        redispatch: d.redispatch,
        http_reuse: d.http_reuse,
        timeouts: d.timeouts,
        acls: d.acls,
        tcp_inspect_delay: d.tcp_inspect_delay,
        tcp_content: d.tcp_content,
        http_request: d.http_request,
        logs: d.logs,
        forwardfor,
        http_conn_mode: d.http_conn_mode,
        httpchk: d.httpchk,
        check_kind: d.check_kind,
        http_check_send: d.http_check_send,
        http_check_expect: d.http_check_expect,
        disable_on_404: d.disable_on_404,
        send_state: d.send_state,
        tcp_check: d.tcp_check,
        errorfiles: d.errorfiles,
        stats: d.stats,
    });
    (fe, be)
}

/// `default_backend` and `use_backend` name existing backends of the same mode.
fn check_references(
    cx: &mut Ctx,
    frontends: &[Frontend],
    be_names: &HashMap<Arc<str>, (SectionKind, Span)>,
    backends: &[Backend],
) {
    let names: Vec<&str> = backends.iter().map(|b| &*b.name).collect();
    for fe in frontends {
        let refs = fe
            .default_backend
            .iter()
            .map(|r| ("default_backend", &r.span, &r.name))
            .chain(
                fe.use_backends
                    .iter()
                    .map(|u| ("use_backend", &u.span, &u.backend)),
            );
        for (kw, span, name) in refs {
            let Some(be) = backends.iter().find(|b| b.name == *name) else {
                // A backend with an error in its header is known by name but absent.
                if be_names.contains_key(name) {
                    continue;
                }
                let kind = if frontends.iter().any(|f| f.name == *name) {
                    ErrorKind::NotABackend {
                        name: name.to_string(),
                    }
                } else {
                    ErrorKind::UnknownReference {
                        what: "backend",
                        name: name.to_string(),
                        suggestion: suggest(name, &names).map(str::to_owned),
                    }
                };
                cx.error(span, Some(kw), kind);
                continue;
            };
            if be.mode != fe.mode {
                cx.error(
                    span,
                    Some(kw),
                    ErrorKind::ModeMismatch {
                        frontend: fe.name.to_string(),
                        frontend_mode: fe.mode,
                        backend: be.name.to_string(),
                        backend_mode: be.mode,
                    },
                );
            }
        }
    }
}

/// `track` names an existing server that has checks (or tracks in turn), without loops.
fn check_tracks(cx: &mut Ctx, backends: &[Backend]) {
    let find = |backends: &[Backend], t: &TrackTarget| -> Option<(bool, Option<TrackTarget>)> {
        let be = backends.iter().find(|b| b.name == t.backend)?;
        let s = be.server(&t.server)?;
        Some((s.check.enabled || s.check.agent.enabled, s.track.clone()))
    };
    for be in backends.iter() {
        for s in &be.servers {
            let Some(t) = &s.track else { continue };
            let here = |cx: &mut Ctx, kind| cx.error(&s.span, Some("server"), kind);
            let Some(other) = backends.iter().find(|b| b.name == t.backend) else {
                let names: Vec<&str> = backends.iter().map(|b| &*b.name).collect();
                here(
                    cx,
                    ErrorKind::UnknownReference {
                        what: "backend",
                        name: t.backend.to_string(),
                        suggestion: suggest(&t.backend, &names).map(str::to_owned),
                    },
                );
                continue;
            };
            if other.server(&t.server).is_none() {
                let names: Vec<&str> = other.servers.iter().map(|s| &*s.name).collect();
                here(
                    cx,
                    ErrorKind::UnknownReference {
                        what: "server",
                        name: t.to_string(),
                        suggestion: suggest(&t.server, &names)
                            .map(|n| format!("{}/{n}", t.backend)),
                    },
                );
                continue;
            }
            // Follow the chain to a server that checks; a loop or an unchecked end fails.
            let mut cur = t.clone();
            let mut seen = vec![TrackTarget {
                backend: be.name.clone(),
                server: s.name.clone(),
            }];
            loop {
                if seen.contains(&cur) {
                    here(
                        cx,
                        ErrorKind::Invalid(format!("tracking loop through '{cur}'")),
                    );
                    break;
                }
                match find(backends, &cur) {
                    Some((true, _)) => break,
                    Some((false, Some(next))) => {
                        seen.push(cur);
                        cur = next;
                    }
                    Some((false, None)) => {
                        here(
                            cx,
                            ErrorKind::Invalid(format!(
                                "cannot track '{cur}': it has no 'check' or 'agent-check'"
                            )),
                        );
                        break;
                    }
                    // Reported on that server's own line.
                    None => break,
                }
            }
        }
    }
}

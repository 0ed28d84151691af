//! HTTP checks: `option httpchk`, `http-check send`, `http-check expect`,
//! `http-check disable-on-404`, `http-check send-state`.

use std::ops::RangeInclusive;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use super::io::{strerror, Conn, Verdict};
use super::pattern::ExpectRegex;
use super::status::CheckStatus;
use super::CheckContext;
use crate::error::ConfigError;

/// Most headers parsed in a check response.
const MAX_HEADERS: usize = 64;
/// Interim (1xx) responses skipped before giving up.
const MAX_INTERIM: usize = 4;

/// An HTTP check: the request to send and what to expect back.
///
/// Defaults as HAProxy: `OPTIONS / HTTP/1.0`, no `Host` header (add one with
/// [`header`](Self::header) for HTTP/1.1), `Connection: close` appended unless a
/// `Connection` header is set, `Content-Length` added when there is a body; the check
/// passes on 2xx and 3xx unless [`expect`](Self::expect) rules say otherwise.
///
/// # Examples
/// ```
/// use lb_health::{HttpCheck, HttpExpect};
///
/// let check = HttpCheck::new()
///     .method("GET")
///     .uri("/health")
///     .version("HTTP/1.1")
///     .header("Host", "www.example.com")
///     .expect(HttpExpect::status("200,300-310")?);
/// assert_eq!(
///     check.request(None),
///     b"GET /health HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n"
/// );
/// # Ok::<(), lb_health::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCheck {
    method: String,
    uri: String,
    version: String,
    headers: Vec<(String, String)>,
    body: Bytes,
    expects: Vec<HttpExpect>,
    disable_on_404: bool,
    send_state: bool,
}

impl Default for HttpCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpCheck {
    /// `OPTIONS / HTTP/1.0`, pass on 2xx/3xx.
    pub fn new() -> Self {
        HttpCheck {
            method: "OPTIONS".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
            headers: Vec::new(),
            body: Bytes::new(),
            expects: Vec::new(),
            disable_on_404: false,
            send_state: false,
        }
    }

    /// From the arguments of `option httpchk [<method>] [<uri>] [<version>]`; a version
    /// with embedded `\r\n` lines (the legacy `HTTP/1.1\r\nHost:\ www` trick) adds headers.
    ///
    /// # Errors
    /// More than three arguments, or a malformed embedded header line.
    pub fn from_httpchk(args: &[&str]) -> Result<Self, ConfigError> {
        let mut check = HttpCheck::new();
        match args {
            [] => {}
            [uri] => check.uri = (*uri).to_owned(),
            [method, uri] => {
                check.method = (*method).to_owned();
                check.uri = (*uri).to_owned();
            }
            [method, uri, version] => {
                check.method = (*method).to_owned();
                check.uri = (*uri).to_owned();
                let mut lines = version.split("\r\n");
                check.version = lines.next().unwrap_or("HTTP/1.0").to_owned();
                for line in lines.filter(|l| !l.is_empty()) {
                    let Some((name, value)) = line.split_once(':') else {
                        return Err(ConfigError::InvalidValue {
                            keyword: "option httpchk",
                            value: line.to_owned(),
                            why: "an embedded header line must be 'Name: value'",
                        });
                    };
                    check
                        .headers
                        .push((name.trim().to_owned(), value.trim().to_owned()));
                }
            }
            _ => {
                return Err(ConfigError::InvalidValue {
                    keyword: "option httpchk",
                    value: args.join(" "),
                    why: "expects at most <method> <uri> <version>",
                })
            }
        }
        check.validate()?;
        Ok(check)
    }

    /// Sets the method (`http-check send meth`). Default is `OPTIONS`.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into();
        self
    }

    /// Sets the request target (`http-check send uri`). Default is `/`.
    pub fn uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = uri.into();
        self
    }

    /// Sets the version (`http-check send ver`). Default is `HTTP/1.0`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Adds a header (`http-check send hdr <name> <value>`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body (`http-check send body`); `Content-Length` is added.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds an expect rule; all must pass, in order. Without any, 2xx and 3xx pass.
    pub fn expect(mut self, rule: HttpExpect) -> Self {
        self.expects.push(rule);
        self
    }

    /// `http-check disable-on-404`: a 404 from a running server passes conditionally
    /// (`L7OKC`) and puts it in NOLB (persistent traffic only); it takes precedence over
    /// expect rules. Default is off.
    pub fn disable_on_404(mut self, on: bool) -> Self {
        self.disable_on_404 = on;
        self
    }

    /// `http-check send-state`: adds an `X-Haproxy-Server-State` header describing the
    /// server. Default is off.
    pub fn send_state(mut self, on: bool) -> Self {
        self.send_state = on;
        self
    }

    /// Whether `send-state` is on.
    pub fn sends_state(&self) -> bool {
        self.send_state
    }

    /// Whether `disable-on-404` is on.
    pub fn disables_on_404(&self) -> bool {
        self.disable_on_404
    }

    /// Checks that the request can be written.
    ///
    /// # Errors
    /// Empty or whitespace-containing method, URI or version, or a header with CR/LF.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (keyword, v) in [
            ("http-check send meth", &self.method),
            ("http-check send uri", &self.uri),
            ("http-check send ver", &self.version),
        ] {
            if v.is_empty() || v.contains(|c: char| c.is_ascii_whitespace() || c.is_control()) {
                return Err(ConfigError::InvalidValue {
                    keyword,
                    value: v.clone(),
                    why: "must be one non-empty word",
                });
            }
        }
        for (n, v) in &self.headers {
            if n.is_empty()
                || n.contains(|c: char| c == ':' || c.is_ascii_whitespace() || c.is_control())
                || v.contains(['\r', '\n'])
            {
                return Err(ConfigError::InvalidValue {
                    keyword: "http-check send hdr",
                    value: format!("{n}: {v}"),
                    why: "header names are tokens and values cannot hold CR or LF",
                });
            }
        }
        Ok(())
    }

    /// The request bytes; `state` is the value of the `X-Haproxy-Server-State` header
    /// (used when [`send_state`](Self::send_state) is on).
    pub fn request(&self, state: Option<&str>) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.extend_from_slice(
            format!("{} {} {}\r\n", self.method, self.uri, self.version).as_bytes(),
        );
        let mut has_connection = false;
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case("connection") {
                has_connection = true;
            }
            if n.eq_ignore_ascii_case("content-length") {
                continue; // computed below
            }
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        if let (true, Some(state)) = (self.send_state, state) {
            out.extend_from_slice(format!("X-Haproxy-Server-State: {state}\r\n").as_bytes());
        }
        if !self.body.is_empty() {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        if !has_connection {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Whether expect rules replace the default (2xx and 3xx pass).
    pub(crate) fn has_expects(&self) -> bool {
        !self.expects.is_empty()
    }

    /// Whether an expect rule looks at the body (not read for `HEAD` checks).
    pub(crate) fn needs_body(&self) -> bool {
        !self.method.eq_ignore_ascii_case("HEAD")
            && self
                .expects
                .iter()
                .any(|e| matches!(e.matcher, HttpMatch::String(_) | HttpMatch::Rstring(_)))
    }

    /// The request of an HTTP/2 check (`check-proto h2`): the same method, URI, headers
    /// and body as [`request`](Self::request). A `Host` header becomes `:authority`;
    /// the version and connection-specific headers (`Connection`, ...) have no meaning in
    /// HTTP/2 and are left out, and `Content-Length` is computed.
    ///
    /// # Errors
    /// What cannot be written in HTTP/2 (a method, URI or header `http` refuses).
    pub fn h2_request(
        &self,
        state: Option<&str>,
    ) -> Result<http::Request<http_body_util::Full<Bytes>>, String> {
        let method = http::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| format!("invalid method '{}'", self.method))?;
        let host = self
            .headers
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.as_str());
        // With an authority the URI is absolute (h2 needs `:scheme` with it); without, h2
        // sends `:scheme http` and no `:authority`, as HAProxy without a Host header.
        let uri = match host {
            Some(h) if self.uri.starts_with('/') => format!("http://{h}{}", self.uri),
            _ => self.uri.clone(),
        };
        let uri =
            http::Uri::try_from(uri.as_str()).map_err(|e| format!("invalid URI '{uri}': {e}"))?;
        let mut req = http::Request::builder().method(method).uri(uri);
        const SKIP: [&str; 7] = [
            "host",
            "content-length",
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
        ];
        let state = match (self.send_state, state) {
            (true, Some(s)) => Some(("X-Haproxy-Server-State", s)),
            _ => None,
        };
        let headers = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        for (n, v) in headers.chain(state) {
            if SKIP.iter().any(|s| n.eq_ignore_ascii_case(s)) {
                continue;
            }
            let name = http::HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| format!("invalid header name '{n}'"))?;
            let value = http::HeaderValue::from_str(v)
                .map_err(|_| format!("invalid value for header '{n}'"))?;
            req = req.header(name, value);
        }
        req.body(http_body_util::Full::new(self.body.clone()))
            .map_err(|e| e.to_string())
    }

    /// Judges a response: `code` and its `reason` phrase, and the body read (up to the
    /// check buffer size) when [`needs_body`](Self::needs_body).
    pub(crate) fn judge(
        &self,
        code: u16,
        reason: &str,
        body: &[u8],
        ctx: &CheckContext,
    ) -> Verdict {
        if self.disable_on_404 && code == 404 && ctx.running {
            return Verdict::new(CheckStatus::L7OkC, reason).with_code(code);
        }
        if self.expects.is_empty() {
            let status = if (200..400).contains(&code) {
                CheckStatus::L7Ok
            } else {
                CheckStatus::L7Sts
            };
            return Verdict::new(status, reason).with_code(code);
        }
        for rule in &self.expects {
            let (hit, on_body) = match &rule.matcher {
                HttpMatch::Status(ranges) => (ranges.iter().any(|r| r.contains(&code)), false),
                HttpMatch::Rstatus(re) => (re.is_match(code.to_string().as_bytes()), false),
                HttpMatch::String(s) => (find(body, s.as_bytes()), true),
                HttpMatch::Rstring(re) => (re.is_match(body), true),
            };
            if hit != rule.negate {
                continue;
            }
            // Status rules fail with the server's reason phrase (L7STS), content rules
            // with HAProxy's content message (L7RSP).
            if !on_body {
                return Verdict::new(CheckStatus::L7Sts, reason).with_code(code);
            }
            let info = if rule.negate {
                "HTTP content check matched unwanted content"
            } else {
                "HTTP content check did not match"
            };
            return Verdict::new(CheckStatus::L7Rsp, info).with_code(code);
        }
        Verdict::new(CheckStatus::L7Ok, reason).with_code(code)
    }
}

/// One `http-check expect` rule.
///
/// # Examples
/// ```
/// use lb_health::HttpExpect;
///
/// let e = HttpExpect::parse(&["!", "status", "500-599"])?;
/// assert!(e.is_negated());
/// let e = HttpExpect::parse(&["rstring", r#""status":\s*"up""#])?;
/// assert!(!e.is_negated());
/// assert!(HttpExpect::parse(&["!", "rstatus", "^(5"]).is_err()); // invalid regex
/// # Ok::<(), lb_health::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpExpect {
    negate: bool,
    matcher: HttpMatch,
}

/// What an [`HttpExpect`] looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpMatch {
    /// The status code is in one of the ranges.
    Status(Vec<RangeInclusive<u16>>),
    /// The body (up to 16 KiB) contains the string.
    String(String),
    /// The status code, as three digits, matches the regex (`rstatus`).
    Rstatus(ExpectRegex),
    /// The body (up to 16 KiB) matches the regex (`rstring`).
    Rstring(ExpectRegex),
}

impl HttpExpect {
    /// `expect status <list>`: codes and ranges separated by commas (`200,201,300-310`).
    ///
    /// # Errors
    /// A malformed code or range.
    pub fn status(list: &str) -> Result<Self, ConfigError> {
        let bad = |why| ConfigError::InvalidValue {
            keyword: "http-check expect status",
            value: list.to_owned(),
            why,
        };
        let mut ranges = Vec::new();
        for item in list.split(',').map(str::trim) {
            let (lo, hi) = item.split_once('-').unwrap_or((item, item));
            let lo: u16 = lo
                .trim()
                .parse()
                .map_err(|_| bad("expected codes like 200,300-310"))?;
            let hi: u16 = hi
                .trim()
                .parse()
                .map_err(|_| bad("expected codes like 200,300-310"))?;
            if lo > hi || hi > 999 {
                return Err(bad("a range must go up, within 0..=999"));
            }
            ranges.push(lo..=hi);
        }
        Ok(HttpExpect {
            negate: false,
            matcher: HttpMatch::Status(ranges),
        })
    }

    /// `expect string <s>`: the body contains `s`.
    pub fn string(s: impl Into<String>) -> Self {
        HttpExpect {
            negate: false,
            matcher: HttpMatch::String(s.into()),
        }
    }

    /// `expect rstatus <regex>`: the status code (three digits, such as `503`) matches.
    ///
    /// # Errors
    /// [`ConfigError::InvalidRegex`] when the pattern does not compile.
    pub fn rstatus(pattern: &str) -> Result<Self, ConfigError> {
        Ok(HttpExpect {
            negate: false,
            matcher: HttpMatch::Rstatus(ExpectRegex::new("http-check expect rstatus", pattern)?),
        })
    }

    /// `expect rstring <regex>`: the body (up to 16 KiB, as for `string`) matches.
    ///
    /// # Errors
    /// [`ConfigError::InvalidRegex`] when the pattern does not compile.
    pub fn rstring(pattern: &str) -> Result<Self, ConfigError> {
        Ok(HttpExpect {
            negate: false,
            matcher: HttpMatch::Rstring(ExpectRegex::new("http-check expect rstring", pattern)?),
        })
    }

    /// Inverts the rule (`expect !`).
    pub fn negate(mut self) -> Self {
        self.negate = !self.negate;
        self
    }

    /// Whether the rule is inverted.
    pub fn is_negated(&self) -> bool {
        self.negate
    }

    /// What the rule matches.
    pub fn matcher(&self) -> &HttpMatch {
        &self.matcher
    }

    /// From the words after `http-check expect`: `[!] status <list> | rstatus <regex> |
    /// string <s> | rstring <regex>`.
    ///
    /// # Errors
    /// `hdr`, `fhdr`, `string-lf`, and options (`min-recv`, `ok-status`, ...) are
    /// unsupported; an invalid regex is [`ConfigError::InvalidRegex`]; anything else
    /// malformed is invalid.
    pub fn parse(words: &[&str]) -> Result<Self, ConfigError> {
        let (negate, words) = match words {
            ["!", rest @ ..] => (true, rest),
            _ => (false, words),
        };
        let rule = match words {
            ["status", list] => HttpExpect::status(list)?,
            ["string", s] => HttpExpect::string(*s),
            ["rstatus", re] => HttpExpect::rstatus(re)?,
            ["rstring", re] => HttpExpect::rstring(re)?,
            ["hdr" | "fhdr" | "string-lf" | "custom", ..] => {
                return Err(ConfigError::Unsupported {
                    keyword: "http-check expect hdr/fhdr/string-lf",
                    why: "only 'status', 'rstatus', 'string' and 'rstring' matches are implemented",
                })
            }
            [kw @ ("status" | "string" | "rstatus" | "rstring")] => {
                return Err(ConfigError::MissingArgument {
                    keyword: match *kw {
                        "status" => "http-check expect status",
                        "string" => "http-check expect string",
                        "rstatus" => "http-check expect rstatus",
                        _ => "http-check expect rstring",
                    },
                    expected: "a pattern",
                })
            }
            [] => {
                return Err(ConfigError::MissingArgument {
                    keyword: "http-check expect",
                    expected: "status <list>, rstatus <regex>, string <text> or rstring <regex>",
                })
            }
            [_, _, opt, ..] => {
                return Err(ConfigError::UnknownKeyword {
                    directive: "http-check expect",
                    word: (*opt).to_owned(),
                })
            }
            [word, ..] => {
                return Err(ConfigError::UnknownKeyword {
                    directive: "http-check expect",
                    word: (*word).to_owned(),
                })
            }
        };
        Ok(if negate { rule.negate() } else { rule })
    }
}

/// A parsed response head.
struct Head {
    code: u16,
    reason: String,
    len: usize,
    content_length: Option<usize>,
    chunked: bool,
}

/// Sends the request and judges the response.
pub(crate) async fn run<Io: AsyncRead + AsyncWrite + Unpin>(
    check: &HttpCheck,
    conn: &mut Conn<Io>,
    ctx: &CheckContext,
) -> Verdict {
    let req = check.request(ctx.state_header.as_deref());
    if let Err(e) = conn.send(&req).await {
        return Verdict::new(CheckStatus::L4Con, strerror(&e));
    }
    let head = match read_head(conn).await {
        Ok(h) => h,
        Err(v) => return v,
    };
    let judged_early =
        (check.disable_on_404 && head.code == 404 && ctx.running) || check.expects.is_empty();
    let body = if check.needs_body() && !judged_early {
        match read_body(conn, &head).await {
            Ok(b) => b,
            Err(v) => return v,
        }
    } else {
        Vec::new()
    };
    check.judge(head.code, &head.reason, &body, ctx)
}

async fn read_head<Io: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<Io>,
) -> Result<Head, Verdict> {
    let mut interim = 0;
    loop {
        match parse_head(&conn.buf) {
            Ok(Some(head)) if (100..200).contains(&head.code) && head.code != 101 => {
                // 100 Continue and friends: skip, the final response follows.
                interim += 1;
                if interim > MAX_INTERIM {
                    return Err(Verdict::new(
                        CheckStatus::L7Rsp,
                        "too many interim responses",
                    ));
                }
                let _ = conn.buf.split_to(head.len);
                continue;
            }
            Ok(Some(head)) => return Ok(head),
            Ok(None) => {}
            Err(why) => return Err(Verdict::new(CheckStatus::L7Rsp, why)),
        }
        if conn.done_reading() {
            let info = if conn.buf.is_empty() {
                "Empty response"
            } else if conn.is_full() {
                "HTTP response headers too large"
            } else {
                "Incomplete HTTP response"
            };
            return Err(Verdict::new(CheckStatus::L7Rsp, info));
        }
        if let Err(e) = conn.fill().await {
            return Err(Verdict::new(CheckStatus::L4Con, strerror(&e)));
        }
    }
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    match res.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(len)) => {
            let code = res.code.unwrap_or(0);
            let reason = res.reason.unwrap_or("").to_owned();
            let mut content_length = None;
            let mut chunked = false;
            for h in res.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    content_length = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok());
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = std::str::from_utf8(h.value)
                        .map(|v| v.to_ascii_lowercase().contains("chunked"))
                        .unwrap_or(false);
                }
            }
            Ok(Some(Head {
                code,
                reason,
                len,
                content_length,
                chunked,
            }))
        }
        Err(e) => Err(format!("Invalid HTTP response: {e}")),
    }
}

/// Reads the body (at most what fits the check buffer) and returns it de-chunked.
async fn read_body<Io: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<Io>,
    head: &Head,
) -> Result<Vec<u8>, Verdict> {
    if head.code == 204 || head.code == 304 {
        return Ok(Vec::new());
    }
    loop {
        let raw = &conn.buf[head.len.min(conn.buf.len())..];
        let (body, complete) = if head.chunked {
            dechunk(raw)
        } else if let Some(n) = head.content_length {
            (raw[..raw.len().min(n)].to_vec(), raw.len() >= n)
        } else {
            (raw.to_vec(), false)
        };
        if complete || conn.done_reading() {
            return Ok(body);
        }
        if let Err(e) = conn.fill().await {
            return Err(Verdict::new(CheckStatus::L4Con, strerror(&e)));
        }
    }
}

/// Decodes the complete chunks of a chunked body; returns the data and whether the last
/// chunk was seen.
fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    // Each pass consumes one chunk: bounded by the buffer size.
    loop {
        let Some(eol) = find_pos(raw, b"\r\n") else {
            return (out, false);
        };
        let size_text = std::str::from_utf8(&raw[..eol]).unwrap_or("");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return (out, false);
        };
        raw = &raw[eol + 2..];
        if size == 0 {
            return (out, true);
        }
        if raw.len() < size {
            out.extend_from_slice(raw);
            return (out, false);
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size..];
        if raw.len() < 2 {
            return (out, false);
        }
        raw = &raw[2..];
    }
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> bool {
    find_pos(haystack, needle).is_some()
}

pub(crate) fn find_pos(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `http-check expect` never panics, and what parses is what the typed
        /// constructors build.
        #[test]
        fn expect_parse_is_total(
            neg in any::<bool>(),
            kind in prop::sample::select(vec!["status", "rstatus", "string", "rstring", "hdr", ""]),
            arg in "[ -~]{0,12}",
            extra in prop::option::of("[a-z-]{1,8}"),
        ) {
            let mut words = Vec::new();
            if neg { words.push("!"); }
            if !kind.is_empty() { words.push(kind); }
            words.push(arg.as_str());
            // An extra word after the pattern (never after a bare word: it would be the
            // pattern).
            if let (false, Some(x)) = (kind.is_empty(), &extra) { words.push(x.as_str()); }
            if let Ok(e) = HttpExpect::parse(&words) {
                prop_assert_eq!(e.is_negated(), neg);
                prop_assert!(extra.is_none() || kind.is_empty());
                let built = match kind {
                    "status" => HttpExpect::status(&arg),
                    "rstatus" => HttpExpect::rstatus(&arg),
                    "string" => Ok(HttpExpect::string(arg.as_str())),
                    "rstring" => HttpExpect::rstring(&arg),
                    other => return Err(TestCaseError::fail(format!("parsed '{other}'"))),
                };
                let built = built.map(|b| if neg { b.negate() } else { b });
                prop_assert_eq!(Ok(e), built);
            }
        }

        /// A regex expect judges any code and body without panicking, and `!` inverts
        /// exactly the match.
        #[test]
        fn regex_negation_inverts(
            re in "[a-z0-9^$.*+?|()\\[\\]{}]{0,8}",
            code in 100u16..1000,
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let ctx = CheckContext::default();
            for rule in [HttpExpect::rstatus(&re), HttpExpect::rstring(&re)] {
                let Ok(rule) = rule else { continue };
                let plain = HttpCheck::new().expect(rule.clone()).judge(code, "", &body, &ctx);
                let neg = HttpCheck::new().expect(rule.negate()).judge(code, "", &body, &ctx);
                prop_assert_ne!(plain.status == CheckStatus::L7Ok, neg.status == CheckStatus::L7Ok);
            }
        }
    }

    #[test]
    fn default_request() {
        assert_eq!(
            HttpCheck::new().request(None),
            b"OPTIONS / HTTP/1.0\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn body_state_and_connection() {
        let c = HttpCheck::new()
            .method("POST")
            .uri("/chk")
            .header("Connection", "keep-alive")
            .header("Content-Length", "99")
            .body("hi")
            .send_state(true);
        let req = String::from_utf8(c.request(Some("UP; name=be/s1"))).unwrap();
        assert_eq!(
            req,
            "POST /chk HTTP/1.0\r\nConnection: keep-alive\r\nX-Haproxy-Server-State: UP; name=be/s1\r\nContent-Length: 2\r\n\r\nhi"
        );
    }

    #[test]
    fn httpchk_args() {
        let c = HttpCheck::from_httpchk(&["GET", "/", "HTTP/1.1\r\nHost: www"]).unwrap();
        assert_eq!(
            c.request(None),
            b"GET / HTTP/1.1\r\nHost: www\r\nConnection: close\r\n\r\n"
        );
        let c = HttpCheck::from_httpchk(&["/ping"]).unwrap();
        assert_eq!(c.uri, "/ping");
        assert!(HttpCheck::from_httpchk(&["a", "b", "c", "d"]).is_err());
        assert!(HttpCheck::from_httpchk(&["GET", "/a b", "HTTP/1.1"]).is_err());
    }

    #[test]
    fn expect_parsing() {
        let e = HttpExpect::parse(&["status", "200,300-310"]).unwrap();
        assert_eq!(e.matcher(), &HttpMatch::Status(vec![200..=200, 300..=310]));
        let e = HttpExpect::parse(&["!", "string", "maintenance"]).unwrap();
        assert!(e.is_negated());
        assert!(matches!(
            HttpExpect::parse(&["hdr", "name", "x"]),
            Err(ConfigError::Unsupported { .. })
        ));
        assert!(matches!(
            HttpExpect::parse(&["status"]),
            Err(ConfigError::MissingArgument { .. })
        ));
        assert!(HttpExpect::parse(&["status", "3xx"]).is_err());
        assert!(HttpExpect::parse(&["status", "310-300"]).is_err());
        assert!(HttpExpect::parse(&["bogus", "1"]).is_err());
        assert!(HttpExpect::parse(&["status", "200", "min-recv"]).is_err());
    }

    fn judge(check: &HttpCheck, code: u16, body: &str) -> (CheckStatus, String) {
        let v = check.judge(code, "Reason", body.as_bytes(), &CheckContext::default());
        (v.status, v.info)
    }

    #[test]
    fn regex_expect_parsing() {
        let e = HttpExpect::parse(&["rstatus", "^2[0-9]{2}$"]).unwrap();
        assert!(!e.is_negated());
        assert!(matches!(e.matcher(), HttpMatch::Rstatus(re) if re.as_str() == "^2[0-9]{2}$"));
        assert_eq!(e, HttpExpect::rstatus("^2[0-9]{2}$").unwrap());
        let e = HttpExpect::parse(&["!", "rstatus", "^5"]).unwrap();
        assert!(e.is_negated());
        let e = HttpExpect::parse(&["!", "rstring", "(?i)maint"]).unwrap();
        assert!(e.is_negated());
        assert_eq!(e, HttpExpect::rstring("(?i)maint").unwrap().negate());
        assert_eq!(
            HttpExpect::parse(&["rstring", "a(b"]),
            Err(ConfigError::InvalidRegex {
                keyword: "http-check expect rstring",
                pattern: "a(b".into(),
                error: "unclosed group".into(),
            })
        );
        assert!(matches!(
            HttpExpect::parse(&["!", "rstatus", "[5"]),
            Err(ConfigError::InvalidRegex {
                keyword: "http-check expect rstatus",
                ..
            })
        ));
        assert!(matches!(
            HttpExpect::parse(&["rstatus"]),
            Err(ConfigError::MissingArgument {
                keyword: "http-check expect rstatus",
                ..
            })
        ));
        assert!(HttpExpect::parse(&["rstring", "x", "min-recv"]).is_err());
    }

    #[test]
    fn regex_expect_matching() {
        let rstatus = |re: &str| HttpCheck::new().expect(HttpExpect::rstatus(re).unwrap());
        assert_eq!(judge(&rstatus("^2"), 204, "").0, CheckStatus::L7Ok);
        // The code is matched as three digits: `^50` sees "503".
        assert_eq!(judge(&rstatus("^50[0-4]$"), 503, "").0, CheckStatus::L7Ok);
        assert_eq!(
            judge(&rstatus("^2"), 503, ""),
            (CheckStatus::L7Sts, "Reason".into())
        );
        let not5 = HttpCheck::new().expect(HttpExpect::rstatus("^5").unwrap().negate());
        assert_eq!(judge(&not5, 200, "").0, CheckStatus::L7Ok);
        assert_eq!(judge(&not5, 500, "").0, CheckStatus::L7Sts);

        let rstring = |re: &str| HttpCheck::new().expect(HttpExpect::rstring(re).unwrap());
        let up = r#"\"status\":\s*\"up\""#;
        assert_eq!(
            judge(&rstring(up), 200, r#"{"status":  "up"}"#).0,
            CheckStatus::L7Ok
        );
        assert_eq!(
            judge(&rstring(up), 200, r#"{"status": "down"}"#),
            (
                CheckStatus::L7Rsp,
                "HTTP content check did not match".into()
            )
        );
        let no_maint = HttpCheck::new().expect(HttpExpect::rstring("(?i)maint").unwrap().negate());
        assert_eq!(judge(&no_maint, 200, "all good").0, CheckStatus::L7Ok);
        assert_eq!(
            judge(&no_maint, 200, "MAINTENANCE"),
            (
                CheckStatus::L7Rsp,
                "HTTP content check matched unwanted content".into()
            )
        );
        // Bodies are bytes: a regex matches around invalid UTF-8.
        let c = rstring("ok$");
        let v = c.judge(200, "OK", b"\xff\xfe ok", &CheckContext::default());
        assert_eq!(v.status, CheckStatus::L7Ok);
        // Rules run in order, all must pass.
        let both = rstatus("^2").expect(HttpExpect::rstring("ok").unwrap());
        assert_eq!(judge(&both, 500, "ok").0, CheckStatus::L7Sts);
        assert_eq!(judge(&both, 200, "ko").0, CheckStatus::L7Rsp);
        assert!(both.needs_body());
        assert!(!rstatus("^2").needs_body());
        assert!(!rstring("x").method("HEAD").needs_body());
    }

    #[test]
    fn h2_requests() {
        let c = HttpCheck::new()
            .method("POST")
            .uri("/health?deep=1")
            .version("HTTP/1.1")
            .header("Host", "app.example")
            .header("Connection", "close")
            .header("Content-Length", "99")
            .header("X-Check", "1")
            .body("{}")
            .send_state(true);
        let req = c.h2_request(Some("UP 2/3")).unwrap();
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri(), "http://app.example/health?deep=1");
        let names: Vec<_> = req.headers().keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["x-check", "x-haproxy-server-state"]);
        assert_eq!(req.headers()["x-haproxy-server-state"], "UP 2/3");
        // Without Host, the URI stays relative (no :authority).
        let req = HttpCheck::new().h2_request(None).unwrap();
        assert_eq!(req.method(), http::Method::OPTIONS);
        assert_eq!(req.uri(), "/");
        assert!(HttpCheck::new()
            .header("X", "\u{1}")
            .h2_request(None)
            .is_err());
        assert!(HttpCheck::new()
            .header("Host", "bad host")
            .h2_request(None)
            .is_err());
    }

    #[test]
    fn dechunking() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"),
            (b"abcde".to_vec(), true)
        );
        assert_eq!(dechunk(b"3\r\nabc\r\n5\r\nde"), (b"abcde".to_vec(), false));
        assert_eq!(dechunk(b"zz\r\n"), (Vec::new(), false));
    }

    #[test]
    fn head_parsing() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.code, h.reason.as_str(), h.content_length),
            (200, "OK", Some(5))
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}

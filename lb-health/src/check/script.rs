//! `tcp-check` scripts: connect / send / send-binary / expect rules run in order.

use bytes::Bytes;
use lb_core::Address;
use tokio::time::Instant;

use super::http::find;
use super::io::{open, strerror, Budget, Conn, Verdict};
use super::pattern::ExpectRegex;
use super::status::CheckStatus;
use super::{with_port, write_proxy, Check, CheckConnect, ProxyVersion};
use crate::error::ConfigError;

/// Most rules in one script (a bound on the work of one check).
pub const MAX_RULES: usize = 256;

/// One `tcp-check` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TcpCheckRule {
    /// `tcp-check connect [port N] [addr A] [send-proxy]`: (re)connect, by default to the
    /// check's target.
    Connect {
        /// Port override.
        port: Option<u16>,
        /// Address override.
        addr: Option<Address>,
        /// Send a PROXY header first (`send-proxy`).
        send_proxy: bool,
    },
    /// `tcp-check send <string>` or `send-binary <hex>`: write these bytes (the read
    /// buffer is emptied first).
    Send(Bytes),
    /// `tcp-check expect ...`: wait for the answer to match.
    Expect(TcpExpect),
}

/// What a `tcp-check expect` rule waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpExpect {
    negate: bool,
    pattern: TcpPattern,
    min_recv: Option<usize>,
}

/// The pattern of a [`TcpExpect`].
#[derive(Clone, Debug, PartialEq, Eq)]
enum TcpPattern {
    /// `string <s>` (`binary: false`) or `binary <hex>`: these bytes.
    Bytes { bytes: Bytes, binary: bool },
    /// `rstring <regex>`.
    Regex(ExpectRegex),
}

impl TcpPattern {
    fn is_match(&self, data: &[u8]) -> bool {
        match self {
            TcpPattern::Bytes { bytes, .. } => find(data, bytes),
            TcpPattern::Regex(re) => re.is_match(data),
        }
    }
}

impl TcpExpect {
    fn new(pattern: TcpPattern) -> Self {
        TcpExpect {
            negate: false,
            pattern,
            min_recv: None,
        }
    }

    /// `expect string <s>`: the answer so far contains `s`.
    pub fn string(s: impl Into<String>) -> Self {
        Self::new(TcpPattern::Bytes {
            bytes: Bytes::from(s.into()),
            binary: false,
        })
    }

    /// `expect binary <hex>`: the answer so far contains these bytes.
    ///
    /// # Errors
    /// Malformed hexadecimal.
    pub fn binary(hex: &str) -> Result<Self, ConfigError> {
        Ok(Self::new(TcpPattern::Bytes {
            bytes: Bytes::from(parse_hex("tcp-check expect binary", hex)?),
            binary: true,
        }))
    }

    /// `expect rstring <regex>`: the answer so far matches the regex (on bytes, see
    /// [`ExpectRegex`]).
    ///
    /// # Errors
    /// [`ConfigError::InvalidRegex`] when the pattern does not compile.
    pub fn rstring(pattern: &str) -> Result<Self, ConfigError> {
        Ok(Self::new(TcpPattern::Regex(ExpectRegex::new(
            "tcp-check expect rstring",
            pattern,
        )?)))
    }

    /// Inverts the rule (`expect !`).
    pub fn negate(mut self) -> Self {
        self.negate = !self.negate;
        self
    }

    /// `min-recv <n>`: judge only once `n` bytes arrived (or the stream ended); without it,
    /// a mismatch waits for more data.
    pub fn min_recv(mut self, n: usize) -> Self {
        self.min_recv = Some(n);
        self
    }

    fn describe(&self) -> String {
        let neg = if self.negate { "!" } else { "" };
        match &self.pattern {
            TcpPattern::Bytes { binary: true, .. } => format!("expect {neg}binary"),
            TcpPattern::Bytes { bytes, .. } => {
                format!("expect {neg}string '{}'", String::from_utf8_lossy(bytes))
            }
            TcpPattern::Regex(re) => format!("expect {neg}rstring '{re}'"),
        }
    }

    /// How HAProxy names the pattern in failure reasons: `'text'`, `(binary)` or
    /// `(regex)`.
    fn what(&self) -> String {
        match &self.pattern {
            TcpPattern::Bytes { binary: true, .. } => "(binary)".to_owned(),
            TcpPattern::Bytes { bytes, .. } => format!("'{}'", String::from_utf8_lossy(bytes)),
            TcpPattern::Regex(_) => "(regex)".to_owned(),
        }
    }
}

impl TcpCheckRule {
    /// `tcp-check connect` to the check's target.
    pub fn connect() -> Self {
        TcpCheckRule::Connect {
            port: None,
            addr: None,
            send_proxy: false,
        }
    }

    /// `tcp-check connect port <port>`.
    pub fn connect_port(port: u16) -> Self {
        TcpCheckRule::Connect {
            port: Some(port),
            addr: None,
            send_proxy: false,
        }
    }

    /// `tcp-check send <s>`.
    pub fn send(s: impl Into<String>) -> Self {
        TcpCheckRule::Send(Bytes::from(s.into()))
    }

    /// `tcp-check send-binary <hex>`.
    ///
    /// # Errors
    /// Malformed hexadecimal.
    pub fn send_binary(hex: &str) -> Result<Self, ConfigError> {
        Ok(TcpCheckRule::Send(Bytes::from(parse_hex(
            "tcp-check send-binary",
            hex,
        )?)))
    }

    /// `tcp-check expect ...`.
    pub fn expect(e: TcpExpect) -> Self {
        TcpCheckRule::Expect(e)
    }

    /// From the words after `tcp-check` (`connect port 25 send-proxy`, `send PING\r\n`,
    /// `send-binary 0a0b`, `expect ! string +ERR min-recv 4`, `expect rstring ^\+OK`,
    /// `comment x` is dropped as `None`).
    ///
    /// # Errors
    /// `rbinary` (regexes on hex dumps), `send-lf`/`string-lf`/`binary-lf` (no
    /// log-format), `ssl`/`sni`/`alpn` on connect (TLS comes with lb-tls), an invalid
    /// regex ([`ConfigError::InvalidRegex`]), and malformed rules.
    pub fn parse(words: &[&str]) -> Result<Option<Self>, ConfigError> {
        match words {
            ["comment", ..] => Ok(None),
            ["connect", opts @ ..] => {
                let (mut port, mut addr, mut send_proxy) = (None, None, false);
                let mut it = opts.iter();
                while let Some(w) = it.next() {
                    match *w {
                        "port" => {
                            let v = it.next().ok_or(ConfigError::MissingArgument {
                                keyword: "tcp-check connect port",
                                expected: "a port number",
                            })?;
                            port = Some(v.parse().map_err(|_| ConfigError::InvalidValue {
                                keyword: "tcp-check connect port",
                                value: (*v).to_owned(),
                                why: "expected a port number",
                            })?);
                        }
                        "addr" => {
                            let v = it.next().ok_or(ConfigError::MissingArgument {
                                keyword: "tcp-check connect addr",
                                expected: "an address",
                            })?;
                            addr = Some(v.parse().map_err(|_| ConfigError::InvalidValue {
                                keyword: "tcp-check connect addr",
                                value: (*v).to_owned(),
                                why: "expected ip:port or mem@name",
                            })?);
                        }
                        "send-proxy" => send_proxy = true,
                        "ssl" | "sni" | "alpn" => {
                            return Err(ConfigError::Unsupported {
                                keyword: "tcp-check connect ssl",
                                why: "TLS checks come with lb-tls",
                            })
                        }
                        other => {
                            return Err(ConfigError::UnknownKeyword {
                                directive: "tcp-check connect",
                                word: other.to_owned(),
                            })
                        }
                    }
                }
                Ok(Some(TcpCheckRule::Connect {
                    port,
                    addr,
                    send_proxy,
                }))
            }
            ["send", s] => Ok(Some(TcpCheckRule::send(*s))),
            ["send-binary", hex] => Ok(Some(TcpCheckRule::send_binary(hex)?)),
            ["send-lf" | "send-binary-lf", ..] => Err(ConfigError::Unsupported {
                keyword: "tcp-check send-lf",
                why: "log-format strings are not available in checks",
            }),
            ["expect", rest @ ..] => {
                let (negate, rest) = match rest {
                    ["!", r @ ..] => (true, r),
                    _ => (false, rest),
                };
                let (mut e, opts) =
                    match rest {
                        ["string", s, opts @ ..] => (TcpExpect::string(*s), opts),
                        ["binary", hex, opts @ ..] => (TcpExpect::binary(hex)?, opts),
                        ["rstring", re, opts @ ..] => (TcpExpect::rstring(re)?, opts),
                        ["rbinary", ..] => return Err(ConfigError::Unsupported {
                            keyword: "tcp-check expect rbinary",
                            why: "regexes on hexadecimal dumps are not available; use 'binary' or 'rstring'",
                        }),
                        ["string-lf" | "binary-lf" | "custom", ..] => {
                            return Err(ConfigError::Unsupported {
                                keyword: "tcp-check expect string-lf/binary-lf",
                                why: "log-format strings are not available in checks",
                            })
                        }
                        _ => {
                            return Err(ConfigError::MissingArgument {
                                keyword: "tcp-check expect",
                                expected: "[!] string <text> | rstring <regex> | binary <hex>",
                            })
                        }
                    };
                let mut it = opts.iter();
                while let Some(w) = it.next() {
                    match *w {
                        "min-recv" => {
                            let v = it.next().ok_or(ConfigError::MissingArgument {
                                keyword: "tcp-check expect min-recv",
                                expected: "a byte count",
                            })?;
                            let n: i64 = v.parse().map_err(|_| ConfigError::InvalidValue {
                                keyword: "tcp-check expect min-recv",
                                value: (*v).to_owned(),
                                why: "expected a byte count",
                            })?;
                            e.min_recv = usize::try_from(n).ok();
                        }
                        other => {
                            return Err(ConfigError::UnknownKeyword {
                                directive: "tcp-check expect",
                                word: other.to_owned(),
                            })
                        }
                    }
                }
                Ok(Some(TcpCheckRule::Expect(if negate {
                    e.negate()
                } else {
                    e
                })))
            }
            [] => Err(ConfigError::MissingArgument {
                keyword: "tcp-check",
                expected: "connect, send, send-binary, expect or comment",
            }),
            [word, ..] => Err(ConfigError::UnknownKeyword {
                directive: "tcp-check",
                word: (*word).to_owned(),
            }),
        }
    }

    fn describe(&self) -> String {
        match self {
            TcpCheckRule::Connect { port: Some(p), .. } => format!("connect port {p}"),
            TcpCheckRule::Connect { .. } => "connect".to_owned(),
            TcpCheckRule::Send(_) => "send".to_owned(),
            TcpCheckRule::Expect(e) => e.describe(),
        }
    }
}

/// A `tcp-check` script (HAProxy `option tcp-check` and its rules).
///
/// Without a leading `connect`, the script first connects to the check's target. It
/// passes with `L7OK` ("(tcp-check)") when every rule passed, or `L4OK` when it holds no
/// send or expect.
///
/// # Examples
/// ```
/// use lb_health::{TcpCheck, TcpCheckRule, TcpExpect};
///
/// let script = TcpCheck::new()
///     .rule(TcpCheckRule::send("PING\r\n"))
///     .rule(TcpCheckRule::expect(TcpExpect::string("+PONG")));
/// assert_eq!(script.rules().len(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpCheck {
    rules: Vec<TcpCheckRule>,
}

impl TcpCheck {
    /// An empty script (connect only).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a rule.
    pub fn rule(mut self, rule: TcpCheckRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The rules.
    pub fn rules(&self) -> &[TcpCheckRule] {
        &self.rules
    }

    /// Checks the script can run.
    ///
    /// # Errors
    /// More than [`MAX_RULES`] rules, or a `connect` that is not first while one is.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rules.len() > MAX_RULES {
            return Err(ConfigError::InvalidValue {
                keyword: "tcp-check",
                value: self.rules.len().to_string(),
                why: "too many rules (at most 256)",
            });
        }
        let has_connect = self
            .rules
            .iter()
            .any(|r| matches!(r, TcpCheckRule::Connect { .. }));
        if has_connect && !matches!(self.rules.first(), Some(TcpCheckRule::Connect { .. })) {
            return Err(ConfigError::InvalidValue {
                keyword: "tcp-check connect",
                value: "first rule".to_owned(),
                why: "when a script has connect rules, the first rule must be a connect",
            });
        }
        Ok(())
    }
}

fn parse_hex(keyword: &'static str, hex: &str) -> Result<Vec<u8>, ConfigError> {
    let bad = || ConfigError::InvalidValue {
        keyword,
        value: hex.to_owned(),
        why: "expected an even number of hexadecimal digits",
    };
    if hex.len() & 1 == 1 || hex.is_empty() {
        return Err(bad());
    }
    hex.as_bytes()
        .chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

fn at_step(text: &str, step: usize, rule: &str) -> String {
    if text.is_empty() {
        format!("at step {step} of tcp-check ({rule})")
    } else {
        format!("{text} at step {step} of tcp-check ({rule})")
    }
}

/// Runs a script.
pub(crate) async fn run<C: CheckConnect>(
    script: &TcpCheck,
    check: &Check,
    connect: &C,
    server: &Address,
    budget: &Budget,
) -> Verdict {
    let implicit = !matches!(script.rules.first(), Some(TcpCheckRule::Connect { .. }));
    let implicit_rule = TcpCheckRule::connect();
    let rules = implicit
        .then_some(&implicit_rule)
        .into_iter()
        .chain(script.rules.iter());
    let mut conn: Option<Conn<C::Io>> = None;
    let mut io_deadline: Option<Instant> = None;
    let mut l7 = false;
    for (i, rule) in rules.enumerate() {
        let step = i + 1;
        match rule {
            TcpCheckRule::Connect {
                port,
                addr,
                send_proxy,
            } => {
                if let Some(old) = conn.take() {
                    old.close();
                }
                let base = addr.clone().unwrap_or_else(|| check.target(server));
                let target = match port {
                    Some(p) => with_port(&base, *p),
                    None => base,
                };
                let deadline = io_deadline.unwrap_or_else(|| budget.connect_deadline());
                let io = match open(connect, target, deadline).await {
                    Ok(io) => io,
                    Err(v) => {
                        return Verdict::new(v.status, at_step(&v.info, step, &rule.describe()))
                    }
                };
                let mut c = Conn::new(io);
                let proxy = if *send_proxy {
                    Some(check.send_proxy.unwrap_or(ProxyVersion::V1))
                } else if implicit && i == 0 {
                    check.send_proxy
                } else {
                    None
                };
                let deadline =
                    *io_deadline.get_or_insert_with(|| budget.io_deadline(Instant::now()));
                if let Some(v) = proxy {
                    match tokio::time::timeout_at(deadline, write_proxy(&mut c, v)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            return Verdict::new(
                                CheckStatus::L4Con,
                                at_step(&strerror(&e), step, &rule.describe()),
                            )
                        }
                        Err(_) => {
                            return Verdict::new(
                                CheckStatus::L7Tout,
                                at_step("", step, &rule.describe()),
                            )
                        }
                    }
                }
                conn = Some(c);
            }
            TcpCheckRule::Send(data) => {
                l7 = true;
                let (Some(c), Some(deadline)) = (conn.as_mut(), io_deadline) else {
                    return Verdict::new(
                        CheckStatus::SockErr,
                        at_step("not connected", step, "send"),
                    );
                };
                c.clear();
                match tokio::time::timeout_at(deadline, c.send(data)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        return Verdict::new(
                            CheckStatus::L4Con,
                            at_step(&strerror(&e), step, "send"),
                        )
                    }
                    Err(_) => return Verdict::new(CheckStatus::L7Tout, at_step("", step, "send")),
                }
            }
            TcpCheckRule::Expect(e) => {
                l7 = true;
                let (Some(c), Some(deadline)) = (conn.as_mut(), io_deadline) else {
                    return Verdict::new(
                        CheckStatus::SockErr,
                        at_step("not connected", step, &e.describe()),
                    );
                };
                if let Err(v) = expect(c, e, step, deadline).await {
                    return v;
                }
            }
        }
    }
    if let Some(c) = conn {
        c.close();
    }
    if l7 {
        Verdict::new(CheckStatus::L7Ok, "(tcp-check)")
    } else {
        Verdict::new(CheckStatus::L4Ok, "")
    }
}

/// Waits until `e` can be judged, as HAProxy: with `min-recv`, judge once that many bytes
/// arrived; without, a mismatch waits for more data until the stream ends or the buffer
/// is full.
async fn expect<Io>(
    c: &mut Conn<Io>,
    e: &TcpExpect,
    step: usize,
    deadline: Instant,
) -> Result<(), Verdict>
where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // Each pass reads at least one byte or ends: bounded by the buffer size.
    loop {
        let last_read = c.done_reading();
        if c.buf.is_empty() && last_read {
            return Err(Verdict::new(
                CheckStatus::L7Rsp,
                format!("TCPCHK got an empty response at step {step}"),
            ));
        }
        let enough = match e.min_recv {
            Some(n) => c.buf.len() >= n,
            None => true,
        };
        let matched = e.pattern.is_match(&c.buf);
        let wait = !last_read && (!enough || (!matched && e.min_recv.is_none()));
        if !wait {
            if matched != e.negate {
                return Ok(());
            }
            let what = e.what();
            let info = if e.negate {
                format!("TCPCHK matched unwanted content {what} at step {step}")
            } else {
                format!("TCPCHK did not match content {what} at step {step}")
            };
            return Err(Verdict::new(CheckStatus::L7Rsp, info));
        }
        match tokio::time::timeout_at(deadline, c.fill()).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                return Err(Verdict::new(
                    CheckStatus::L4Con,
                    at_step(&strerror(&err), step, &e.describe()),
                ))
            }
            Err(_) => {
                return Err(Verdict::new(
                    CheckStatus::L7Tout,
                    at_step("", step, &e.describe()),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `tcp-check expect [!] rstring <regex>` never panics, and parses exactly when
        /// the regex compiles, into the typed rule.
        #[test]
        fn rstring_parse_matches_constructor(
            neg in any::<bool>(),
            re in "[ -~]{0,10}",
        ) {
            let mut words = vec!["expect"];
            if neg { words.push("!"); }
            words.extend(["rstring", re.as_str()]);
            let parsed = TcpCheckRule::parse(&words);
            match TcpExpect::rstring(&re) {
                Ok(e) => {
                    let e = if neg { e.negate() } else { e };
                    prop_assert_eq!(parsed, Ok(Some(TcpCheckRule::Expect(e))));
                }
                Err(err) => {
                    let is_regex_error = matches!(err, ConfigError::InvalidRegex { .. });
                    prop_assert!(is_regex_error);
                    prop_assert_eq!(parsed, Err(err));
                }
            }
        }
    }

    #[test]
    fn parse_rules() {
        assert_eq!(
            TcpCheckRule::parse(&["connect", "port", "6379", "send-proxy"]).unwrap(),
            Some(TcpCheckRule::Connect {
                port: Some(6379),
                addr: None,
                send_proxy: true
            })
        );
        assert_eq!(
            TcpCheckRule::parse(&["send-binary", "0A0b"]).unwrap(),
            Some(TcpCheckRule::Send(Bytes::from_static(&[10, 11])))
        );
        assert_eq!(
            TcpCheckRule::parse(&["expect", "!", "string", "ERR", "min-recv", "3"]).unwrap(),
            Some(TcpCheckRule::Expect(
                TcpExpect::string("ERR").negate().min_recv(3)
            ))
        );
        assert_eq!(TcpCheckRule::parse(&["comment", "hi"]).unwrap(), None);
        assert_eq!(
            TcpCheckRule::parse(&["expect", "!", "rstring", "^-ERR", "min-recv", "4"]).unwrap(),
            Some(TcpCheckRule::Expect(
                TcpExpect::rstring("^-ERR").unwrap().negate().min_recv(4)
            ))
        );
        assert!(matches!(
            TcpCheckRule::parse(&["expect", "rstring", "^(+OK"]),
            Err(ConfigError::InvalidRegex {
                keyword: "tcp-check expect rstring",
                ..
            })
        ));
        assert!(matches!(
            TcpCheckRule::parse(&["expect", "rbinary", "^2b"]),
            Err(ConfigError::Unsupported { .. })
        ));
        assert!(TcpCheckRule::parse(&["expect", "rstring"]).is_err());
        assert!(TcpCheckRule::parse(&["send-binary", "abc"]).is_err());
        assert!(TcpCheckRule::parse(&["send-binary", "zz"]).is_err());
        assert!(TcpCheckRule::parse(&["connect", "ssl"]).is_err());
        assert!(TcpCheckRule::parse(&["connect", "port"]).is_err());
        assert!(TcpCheckRule::parse(&["expect", "string", "x", "bogus"]).is_err());
        assert!(TcpCheckRule::parse(&["jump"]).is_err());
    }

    #[test]
    fn validate_connect_first() {
        let bad = TcpCheck::new()
            .rule(TcpCheckRule::send("x"))
            .rule(TcpCheckRule::connect());
        assert!(bad.validate().is_err());
        let ok = TcpCheck::new()
            .rule(TcpCheckRule::connect())
            .rule(TcpCheckRule::send("x"))
            .rule(TcpCheckRule::connect_port(8080));
        assert!(ok.validate().is_ok());
    }
}

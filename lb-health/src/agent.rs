//! Agent checks (`agent-check`): a small agent next to the server says how it feels.
//!
//! The check connects to `agent-port` (on `agent-addr`, else the server's address), sends
//! `agent-send` if set, and reads one line (up to the first CR or LF, at most 1 KiB). The
//! line holds words separated by spaces, tabs or commas, in any order:
//!
//! | word | effect |
//! |---|---|
//! | `NN%`, `weight:NN%` | weight = initial weight × NN / 100, capped at 256 |
//! | `weight:N` | weight = N (0..=256) |
//! | `maxconn:N` | maxconn = N |
//! | `ready`, `drain`, `maint` | administrative state (ready clears drain and maint) |
//! | `down`, `fail`, `stopped` | the server is down whatever its health checks say |
//! | `up` | the agent no longer holds the server down |
//! | `#text` | a description for the rest of the line |
//!
//! Unmentioned settings stay as they are. A failure to reach the agent is not an error:
//! it changes nothing. Static algorithms only accept weights of 0% and 100%: lb-core's
//! error is reported in the agent's check result (`agent warns : ...`).
//!
//! # Examples
//! ```
//! use lb_health::agent::{parse_reply, AgentAdmin, AgentHealth, AgentWeight};
//!
//! let r = parse_reply("75%,maxconn:30,maint,down #disk full");
//! assert_eq!(r.weight, Some(AgentWeight::Percent(75)));
//! assert_eq!(r.maxconn, Some(30));
//! assert_eq!(r.admin, Some(AgentAdmin::Maint));
//! assert_eq!(r.health, Some(AgentHealth::Down));
//! assert_eq!(r.description.as_deref(), Some("disk full"));
//! ```

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use lb_core::{Address, AdminState, Backend, Server, Weight};
use tokio::time::Instant;

use crate::check::io::{open, strerror, Budget, Conn, Verdict};
use crate::check::{with_port, CheckConnect, CheckResult, CheckStatus};
use crate::error::ConfigError;

/// The longest agent line read.
pub const MAX_LINE: usize = 1024;

/// A weight the agent asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgentWeight {
    /// Percent of the initial weight (`NN%`, `weight:NN%`).
    Percent(u32),
    /// An absolute weight (`weight:N`), 0..=256.
    Absolute(u32),
}

impl AgentWeight {
    /// The weight for a server configured with `initial`: relative weights are
    /// `initial × NN / 100` capped at 256.
    pub fn resolve(self, initial: Weight) -> u32 {
        match self {
            AgentWeight::Absolute(w) => w.min(256),
            AgentWeight::Percent(p) => (initial.get() * p.min(25_600) / 100).min(256),
        }
    }
}

/// An administrative state the agent asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgentAdmin {
    /// `ready`: clears drain and maintenance.
    Ready,
    /// `drain`.
    Drain,
    /// `maint`.
    Maint,
}

impl From<AgentAdmin> for AdminState {
    fn from(a: AgentAdmin) -> Self {
        match a {
            AgentAdmin::Ready => AdminState::Ready,
            AgentAdmin::Drain => AdminState::Drain,
            AgentAdmin::Maint => AdminState::Maint,
        }
    }
}

/// A health status the agent reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgentHealth {
    /// `up`.
    Up,
    /// `down`.
    Down,
    /// `fail`.
    Fail,
    /// `stopped`.
    Stopped,
}

impl AgentHealth {
    /// Whether the server is held down.
    pub fn is_down(self) -> bool {
        !matches!(self, AgentHealth::Up)
    }

    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentHealth::Up => "up",
            AgentHealth::Down => "down",
            AgentHealth::Fail => "fail",
            AgentHealth::Stopped => "stopped",
        }
    }
}

impl fmt::Display for AgentHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed agent line. For each setting, the last word wins; `error` keeps the first
/// word that could not be understood.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentReply {
    /// Health status, if one was given.
    pub health: Option<AgentHealth>,
    /// Administrative state, if one was given.
    pub admin: Option<AgentAdmin>,
    /// Weight, if one was given.
    pub weight: Option<AgentWeight>,
    /// maxconn, if one was given.
    pub maxconn: Option<u32>,
    /// The text after `#`, if any.
    pub description: Option<String>,
    /// The first word that was not understood (or a malformed value).
    pub error: Option<String>,
}

impl AgentReply {
    /// Whether the reply says nothing at all.
    pub fn is_empty(&self) -> bool {
        self.health.is_none()
            && self.admin.is_none()
            && self.weight.is_none()
            && self.maxconn.is_none()
    }
}

/// Parses an agent line (only up to the first CR or LF; case-insensitive words).
pub fn parse_reply(line: &str) -> AgentReply {
    let line = line.split(['\r', '\n', '\0']).next().unwrap_or("");
    let mut reply = AgentReply::default();
    let mut rest = line;
    // Each pass consumes at least one character: bounded by the line length.
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        if let Some(desc) = rest.strip_prefix('#') {
            let desc = desc.trim();
            if !desc.is_empty() {
                reply.description = Some(desc.to_owned());
            }
            break;
        }
        let end = rest.find([' ', '\t', ',']).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        parse_word(word, &mut reply);
    }
    reply
}

fn parse_word(word: &str, reply: &mut AgentReply) {
    let lower = word.to_ascii_lowercase();
    let mut bad = |what: String| {
        if reply.error.is_none() {
            reply.error = Some(what);
        }
    };
    match lower.as_str() {
        "up" => reply.health = Some(AgentHealth::Up),
        "down" => reply.health = Some(AgentHealth::Down),
        "fail" => reply.health = Some(AgentHealth::Fail),
        "stopped" => reply.health = Some(AgentHealth::Stopped),
        "ready" => reply.admin = Some(AgentAdmin::Ready),
        "drain" => reply.admin = Some(AgentAdmin::Drain),
        "maint" => reply.admin = Some(AgentAdmin::Maint),
        _ => {
            if let Some(v) = lower.strip_prefix("maxconn:") {
                match v.parse::<u32>() {
                    Ok(n) => reply.maxconn = Some(n),
                    Err(_) => bad(format!("invalid maxconn '{v}'")),
                }
            } else if let Some(v) = lower.strip_prefix("weight:") {
                match parse_weight(v) {
                    Some(w) => reply.weight = Some(w),
                    None => bad(format!("invalid weight '{v}'")),
                }
            } else if lower.starts_with(|c: char| c.is_ascii_digit()) && lower.contains('%') {
                match parse_weight(&lower) {
                    Some(w) => reply.weight = Some(w),
                    None => bad(format!("invalid weight '{lower}'")),
                }
            } else {
                bad(word.to_owned());
            }
        }
    }
}

fn parse_weight(v: &str) -> Option<AgentWeight> {
    if let Some(p) = v.strip_suffix('%') {
        return p
            .parse::<u32>()
            .ok()
            .filter(|_| !p.is_empty())
            .map(AgentWeight::Percent);
    }
    v.parse::<u32>()
        .ok()
        .filter(|w| *w <= 256)
        .map(AgentWeight::Absolute)
}

/// `agent-check` settings of one server.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use lb_health::AgentCheck;
///
/// let agent = AgentCheck::new(9999).send("status\n").inter(Duration::from_secs(5));
/// assert_eq!(agent.get_inter(), Duration::from_secs(5));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentCheck {
    port: u16,
    addr: Option<Address>,
    send: Bytes,
    inter: Duration,
    timeout: Option<Duration>,
}

impl AgentCheck {
    /// An agent on `agent-port` of the server's address.
    pub fn new(port: u16) -> Self {
        AgentCheck {
            port,
            addr: None,
            send: Bytes::new(),
            inter: Duration::from_secs(2),
            timeout: None,
        }
    }

    /// `agent-addr`: the agent's address instead of the server's.
    pub fn addr(mut self, addr: Address) -> Self {
        self.addr = Some(addr);
        self
    }

    /// `agent-send`: sent verbatim once connected. Default is nothing.
    pub fn send(mut self, data: impl Into<Bytes>) -> Self {
        self.send = data.into();
        self
    }

    /// `agent-inter`: time between agent checks. Default is 2 s.
    pub fn inter(mut self, inter: Duration) -> Self {
        self.inter = inter;
        self
    }

    /// `timeout check` for the agent: once connected, the line must come within this.
    /// Default is none: the whole exchange must fit in `agent-inter`.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// The interval.
    pub fn get_inter(&self) -> Duration {
        self.inter
    }

    /// The agent's address for a server at `server`.
    pub fn target(&self, server: &Address) -> Address {
        with_port(self.addr.as_ref().unwrap_or(server), self.port)
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// Port 0 or a zero interval.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.port == 0 {
            return Err(ConfigError::InvalidValue {
                keyword: "agent-port",
                value: "0".into(),
                why: "agent-check needs an agent-port",
            });
        }
        if self.inter.is_zero() {
            return Err(ConfigError::InvalidValue {
                keyword: "agent-inter",
                value: "0".into(),
                why: "must be positive",
            });
        }
        Ok(())
    }

    /// Asks the agent once; `Ok` holds the line it sent (without CR/LF), `Err` a
    /// connection or timeout result, which changes nothing on the server.
    ///
    /// # Errors
    /// The agent could not be reached, or sent nothing in time.
    pub async fn query<C: CheckConnect>(
        &self,
        connect: &C,
        server: &Address,
    ) -> Result<String, CheckResult> {
        let start = Instant::now();
        let budget = Budget::new(start, self.inter, self.timeout, None);
        let fail = |v: Verdict| CheckResult::new(v.status, v.code, v.info, start.elapsed());
        let io = open(connect, self.target(server), budget.connect_deadline())
            .await
            .map_err(fail)?;
        let mut conn = Conn::new(io);
        let deadline = budget.io_deadline(Instant::now());
        let talk = async {
            if !self.send.is_empty() {
                conn.send(&self.send)
                    .await
                    .map_err(|e| Verdict::new(CheckStatus::L4Con, strerror(&e)))?;
            }
            // Each pass reads more or ends; the buffer is bounded.
            loop {
                let text = &conn.buf[..conn.buf.len().min(MAX_LINE)];
                if let Some(end) = text.iter().position(|&b| b == b'\r' || b == b'\n') {
                    return Ok(String::from_utf8_lossy(&text[..end]).into_owned());
                }
                if conn.buf.len() >= MAX_LINE || conn.done_reading() {
                    if conn.buf.is_empty() {
                        return Err(Verdict::new(CheckStatus::L7Rsp, "Empty agent reply"));
                    }
                    return Ok(String::from_utf8_lossy(text).into_owned());
                }
                conn.fill()
                    .await
                    .map_err(|e| Verdict::new(CheckStatus::L4Con, strerror(&e)))?;
            }
        };
        match tokio::time::timeout_at(deadline, talk).await {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(v)) => Err(fail(v)),
            Err(_) => Err(fail(Verdict::new(CheckStatus::L7Tout, ""))),
        }
    }
}

/// Applies the administrative state, weight and maxconn of `reply` to `server`, in that
/// order (as HAProxy), each change broadcast with `reason`. Returns the first warning (a
/// weight or maxconn lb-core refused).
pub(crate) fn apply(
    reply: &AgentReply,
    backend: &Backend,
    server: &Server,
    reason: &str,
) -> Option<String> {
    let name = server.name();
    let mut warning = None;
    if let Some(admin) = reply.admin {
        if let Err(e) = backend.set_admin_state(name, admin.into(), reason) {
            warning.get_or_insert(e.to_string());
        }
    }
    if let Some(w) = reply.weight {
        let w = w.resolve(server.initial_weight());
        let res = Weight::new(w).and_then(|w| backend.set_weight(name, w, reason));
        if let Err(e) = res {
            warning.get_or_insert(e.to_string());
        }
    }
    if let Some(n) = reply.maxconn {
        if let Err(e) = backend.set_maxconn(name, n, reason) {
            warning.get_or_insert(e.to_string());
        }
    }
    warning
}

/// The agent's check result for a reply, with HAProxy's info strings.
pub(crate) fn result(reply: &AgentReply, warning: Option<&str>, duration: Duration) -> CheckResult {
    let desc = reply.description.as_deref().unwrap_or("");
    match reply.health {
        Some(h) => {
            let status = if h.is_down() {
                CheckStatus::L7Sts
            } else {
                CheckStatus::L7Ok
            };
            // Down reports keep their description; for up, errors then warnings.
            let mut msg = desc.to_owned();
            if msg.is_empty() || !h.is_down() {
                if let Some(e) = reply.error.as_deref().or(warning) {
                    msg = e.to_owned();
                }
            }
            let info = if msg.is_empty() {
                format!("via agent : {h}")
            } else {
                format!("via agent : {h} ({msg})")
            };
            CheckResult::new(status, None, info, duration)
        }
        None => {
            let info = if let Some(e) = &reply.error {
                format!("agent reports an error : {e}")
            } else if let Some(w) = warning {
                format!("agent warns : {w}")
            } else {
                String::new()
            };
            CheckResult::new(CheckStatus::L7Ok, None, info, duration)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reference_vector() {
        let r = parse_reply("75%,maxconn:30,maint,down");
        assert_eq!(
            r,
            AgentReply {
                health: Some(AgentHealth::Down),
                admin: Some(AgentAdmin::Maint),
                weight: Some(AgentWeight::Percent(75)),
                maxconn: Some(30),
                description: None,
                error: None,
            }
        );
        assert_eq!(
            AgentWeight::Percent(75).resolve(Weight::new(100).unwrap()),
            75
        );
    }

    #[test]
    fn words_and_separators() {
        let r = parse_reply(" UP\tweight:10 ,ready\r\nignored maint");
        assert_eq!(r.health, Some(AgentHealth::Up));
        assert_eq!(r.weight, Some(AgentWeight::Absolute(10)));
        assert_eq!(r.admin, Some(AgentAdmin::Ready));
        let r = parse_reply("weight:50% drain");
        assert_eq!(r.weight, Some(AgentWeight::Percent(50)));
        assert_eq!(r.admin, Some(AgentAdmin::Drain));
        let r = parse_reply("stopped #  going away ");
        assert_eq!(r.health, Some(AgentHealth::Stopped));
        assert_eq!(r.description.as_deref(), Some("going away"));
        let r = parse_reply("fail #x");
        assert_eq!(r.health, Some(AgentHealth::Fail));
        assert_eq!(r.description.as_deref(), Some("x"));
        // The last word wins.
        assert_eq!(parse_reply("down up").health, Some(AgentHealth::Up));
    }

    #[test]
    fn errors() {
        let r = parse_reply("hello 50% weight:300 maxconn:x");
        assert_eq!(r.error.as_deref(), Some("hello"));
        assert_eq!(r.weight, Some(AgentWeight::Percent(50)));
        assert_eq!(
            parse_reply("weight:300").error.as_deref(),
            Some("invalid weight '300'")
        );
        assert_eq!(
            parse_reply("maxconn:-1").error.as_deref(),
            Some("invalid maxconn '-1'")
        );
        assert!(parse_reply("").is_empty());
        assert!(parse_reply("  ,, \t").is_empty());
    }

    #[test]
    fn weights() {
        let w100 = Weight::new(100).unwrap();
        assert_eq!(AgentWeight::Percent(300).resolve(w100), 256);
        assert_eq!(AgentWeight::Percent(75).resolve(Weight::new(1).unwrap()), 0);
        assert_eq!(AgentWeight::Percent(u32::MAX).resolve(w100), 256);
        assert_eq!(AgentWeight::Absolute(12).resolve(w100), 12);
    }

    #[test]
    fn results() {
        let r = result(&parse_reply("down #disk full"), None, Duration::ZERO);
        assert_eq!(r.status, CheckStatus::L7Sts);
        assert_eq!(
            r.reason,
            "Layer7 wrong status, info: \"via agent : down (disk full)\""
        );
        let r = result(&parse_reply("up"), Some("static"), Duration::ZERO);
        assert_eq!(r.info, "via agent : up (static)");
        let r = result(&parse_reply("50%"), Some("static algo"), Duration::ZERO);
        assert_eq!(r.info, "agent warns : static algo");
        let r = result(&parse_reply("bogus"), None, Duration::ZERO);
        assert_eq!(r.info, "agent reports an error : bogus");
    }

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("up".to_owned()),
            Just("down".to_owned()),
            Just("fail".to_owned()),
            Just("stopped".to_owned()),
            Just("ready".to_owned()),
            Just("drain".to_owned()),
            Just("maint".to_owned()),
            (0u32..500).prop_map(|n| format!("{n}%")),
            (0u32..=256).prop_map(|n| format!("weight:{n}")),
            (0u32..500).prop_map(|n| format!("weight:{n}%")),
            (0u32..100_000).prop_map(|n| format!("maxconn:{n}")),
        ]
    }

    proptest! {
        /// The parser never panics, whatever the bytes.
        #[test]
        fn any_line(line in "\\PC{0,200}") {
            let _ = parse_reply(&line);
        }

        /// Known words in any order and with any separators: the last of each kind wins,
        /// and nothing is reported as an error.
        #[test]
        fn known_words(words in proptest::collection::vec(word(), 0..12),
                       seps in proptest::collection::vec(prop_oneof![Just(" "), Just(","), Just("\t"), Just(" , ")], 12)) {
            let mut line = String::new();
            for (i, w) in words.iter().enumerate() {
                line.push_str(w);
                line.push_str(seps[i]);
            }
            let r = parse_reply(&line);
            prop_assert_eq!(r.error, None);
            let last_health = words.iter().rev().find_map(|w| match w.as_str() {
                "up" => Some(AgentHealth::Up),
                "down" => Some(AgentHealth::Down),
                "fail" => Some(AgentHealth::Fail),
                "stopped" => Some(AgentHealth::Stopped),
                _ => None,
            });
            prop_assert_eq!(r.health, last_health);
            let last_maxconn = words.iter().rev().find_map(|w| w.strip_prefix("maxconn:").and_then(|v| v.parse().ok()));
            prop_assert_eq!(r.maxconn, last_maxconn);
            let has_weight = words.iter().any(|w| w.contains('%') || w.starts_with("weight:"));
            prop_assert_eq!(r.weight.is_some(), has_weight);
        }
    }
}

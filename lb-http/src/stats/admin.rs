//! The stats page's admin actions (`stats admin`): the form a person posts, decoded.
//!
//! The page has one form per backend: a checkbox per server (`s`), a select of actions
//! (`action`), an optional `weight` and the backend (`b`), posted as
//! `application/x-www-form-urlencoded`. [`parse_admin_post`] turns the body into one
//! [`AdminAction`] per checked server, for the embedding program to apply (the
//! [`StatsRegistry`](super::StatsRegistry) can apply the ones lb-core knows).
//!
//! # Examples
//! ```
//! use lb_http::stats::{encode_admin_post, parse_admin_post, AdminCommand};
//!
//! let body = encode_admin_post("app", &AdminCommand::Drain, &["web 1", "web2"]);
//! assert_eq!(body, "s=web+1&s=web2&action=drain&b=app");
//! let actions = parse_admin_post(body.as_bytes())?;
//! assert_eq!(actions.len(), 2);
//! assert_eq!((actions[0].backend.as_str(), actions[0].server.as_str()), ("app", "web 1"));
//! assert_eq!(actions[1].command, AdminCommand::Drain);
//! # Ok::<(), lb_http::stats::AdminParseError>(())
//! ```

use std::fmt;

/// What to do to a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AdminCommand {
    /// Administrative state ready (`set server ... state ready`).
    Ready,
    /// Administrative state drain.
    Drain,
    /// Administrative state maintenance.
    Maint,
    /// Force the health state up (`hrunn`).
    HealthUp,
    /// Force the health state to NOLB (`hnolb`).
    HealthNolb,
    /// Force the health state down (`hdown`).
    HealthDown,
    /// Disable health checks (`dhlth`).
    DisableHealth,
    /// Enable health checks (`ehlth`).
    EnableHealth,
    /// Disable agent checks (`dagent`).
    DisableAgent,
    /// Enable agent checks (`eagent`).
    EnableAgent,
    /// Force the agent state up (`arunn`).
    AgentUp,
    /// Force the agent state down (`adown`).
    AgentDown,
    /// Kill the server's sessions (`shutdown`).
    Shutdown,
    /// Set the weight (lb's addition to HAProxy's form: `action=weight&weight=N`).
    Weight(u32),
}

impl AdminCommand {
    /// The form keyword of the command, as HAProxy's page posts it.
    pub const fn keyword(&self) -> &'static str {
        match self {
            AdminCommand::Ready => "ready",
            AdminCommand::Drain => "drain",
            AdminCommand::Maint => "maint",
            AdminCommand::HealthUp => "hrunn",
            AdminCommand::HealthNolb => "hnolb",
            AdminCommand::HealthDown => "hdown",
            AdminCommand::DisableHealth => "dhlth",
            AdminCommand::EnableHealth => "ehlth",
            AdminCommand::DisableAgent => "dagent",
            AdminCommand::EnableAgent => "eagent",
            AdminCommand::AgentUp => "arunn",
            AdminCommand::AgentDown => "adown",
            AdminCommand::Shutdown => "shutdown",
            AdminCommand::Weight(_) => "weight",
        }
    }

    /// What the page's select shows for the command.
    pub const fn label(&self) -> &'static str {
        match self {
            AdminCommand::Ready => "Set state to READY",
            AdminCommand::Drain => "Set state to DRAIN",
            AdminCommand::Maint => "Set state to MAINT",
            AdminCommand::HealthUp => "Health: force UP",
            AdminCommand::HealthNolb => "Health: force NOLB",
            AdminCommand::HealthDown => "Health: force DOWN",
            AdminCommand::DisableHealth => "Health: disable checks",
            AdminCommand::EnableHealth => "Health: enable checks",
            AdminCommand::DisableAgent => "Agent: disable checks",
            AdminCommand::EnableAgent => "Agent: enable checks",
            AdminCommand::AgentUp => "Agent: force UP",
            AdminCommand::AgentDown => "Agent: force DOWN",
            AdminCommand::Shutdown => "Kill Sessions",
            AdminCommand::Weight(_) => "Set weight to",
        }
    }

    /// Every command the page offers, in the select's order (`Weight(0)` stands for the
    /// weight entry).
    pub const ALL: [AdminCommand; 14] = [
        AdminCommand::Ready,
        AdminCommand::Drain,
        AdminCommand::Maint,
        AdminCommand::Weight(0),
        AdminCommand::HealthUp,
        AdminCommand::HealthNolb,
        AdminCommand::HealthDown,
        AdminCommand::DisableHealth,
        AdminCommand::EnableHealth,
        AdminCommand::DisableAgent,
        AdminCommand::EnableAgent,
        AdminCommand::AgentUp,
        AdminCommand::AgentDown,
        AdminCommand::Shutdown,
    ];

    /// Parses a keyword (HAProxy's, including the legacy `enable`, `disable`, `start` and
    /// `stop`); `weight` takes the form's `weight` field.
    fn from_keyword(k: &str, weight: Option<&str>) -> Result<Self, AdminParseError> {
        Ok(match k {
            "ready" | "enable" => AdminCommand::Ready,
            "drain" => AdminCommand::Drain,
            "maint" | "disable" => AdminCommand::Maint,
            "hrunn" | "start" => AdminCommand::HealthUp,
            "hnolb" => AdminCommand::HealthNolb,
            "hdown" | "stop" => AdminCommand::HealthDown,
            "dhlth" => AdminCommand::DisableHealth,
            "ehlth" => AdminCommand::EnableHealth,
            "dagent" => AdminCommand::DisableAgent,
            "eagent" => AdminCommand::EnableAgent,
            "arunn" => AdminCommand::AgentUp,
            "adown" => AdminCommand::AgentDown,
            "shutdown" => AdminCommand::Shutdown,
            "weight" => {
                let w = weight.unwrap_or("").trim();
                match w.parse::<u32>() {
                    Ok(n) if !w.starts_with('+') => AdminCommand::Weight(n),
                    _ => return Err(AdminParseError::InvalidWeight(w.to_owned())),
                }
            }
            other => return Err(AdminParseError::UnknownAction(other.to_owned())),
        })
    }
}

impl fmt::Display for AdminCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminCommand::Weight(w) => write!(f, "weight {w}"),
            other => f.write_str(other.keyword()),
        }
    }
}

/// The outcome of an admin POST, carried to the page by the redirect (`;st=DONE`...), as
/// HAProxy's page does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AdminStatus {
    /// Every action was applied (`DONE`).
    Done,
    /// Some actions were applied, some failed (`PART`).
    Partial,
    /// No server was selected (`NONE`).
    NoChange,
    /// Admin actions are not allowed here (`DENY`).
    Denied,
    /// The form was invalid, or every action failed (`ERRP`).
    InvalidParams,
    /// The form was too large (`EXCD`).
    TooLarge,
    /// The request could not be read (`IVAL`).
    InvalidRequest,
    /// Anything else (`UNKN`).
    Unknown,
}

impl AdminStatus {
    /// The code in the `;st=` URI option.
    pub const fn code(self) -> &'static str {
        match self {
            AdminStatus::Done => "DONE",
            AdminStatus::Partial => "PART",
            AdminStatus::NoChange => "NONE",
            AdminStatus::Denied => "DENY",
            AdminStatus::InvalidParams => "ERRP",
            AdminStatus::TooLarge => "EXCD",
            AdminStatus::InvalidRequest => "IVAL",
            AdminStatus::Unknown => "UNKN",
        }
    }

    /// Parses a `;st=` code.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            AdminStatus::Done,
            AdminStatus::Partial,
            AdminStatus::NoChange,
            AdminStatus::Denied,
            AdminStatus::InvalidParams,
            AdminStatus::TooLarge,
            AdminStatus::InvalidRequest,
            AdminStatus::Unknown,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// The banner the page shows.
    pub const fn message(self) -> &'static str {
        match self {
            AdminStatus::Done => "Action processed successfully.",
            AdminStatus::Partial => "Action partially processed.",
            AdminStatus::NoChange => "Nothing has changed.",
            AdminStatus::Denied => "Action denied.",
            AdminStatus::InvalidParams => "Action not processed because of invalid parameters.",
            AdminStatus::TooLarge => {
                "Action not processed: the request was too large. Retry with fewer servers at a time."
            }
            AdminStatus::InvalidRequest => {
                "Invalid request (unsupported method or unreadable body)."
            }
            AdminStatus::Unknown => "Unexpected result.",
        }
    }

    /// Whether the banner is a success (green) rather than a failure (red).
    pub const fn is_success(self) -> bool {
        matches!(self, AdminStatus::Done | AdminStatus::NoChange)
    }
}

/// One action on one server, from the admin form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AdminAction {
    /// The backend, as the form named it (`#<iid>` selects by proxy id, as HAProxy's form).
    pub backend: String,
    /// The server.
    pub server: String,
    /// What to do.
    pub command: AdminCommand,
}

impl fmt::Display for AdminAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.command, self.backend, self.server)
    }
}

/// Why an admin form could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminParseError {
    /// A bad `%XX` escape, or text that is not UTF-8 once decoded.
    #[error("invalid form encoding at byte {at}")]
    Encoding {
        /// Offset in the body.
        at: usize,
    },
    /// No `b` field.
    #[error("missing backend (field `b`)")]
    MissingBackend,
    /// No `action` field.
    #[error("missing action")]
    MissingAction,
    /// An action keyword the page does not offer.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    /// `action=weight` without a number in `weight`.
    #[error("invalid weight {0:?}")]
    InvalidWeight(String),
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
fn url_decode(s: &[u8], base: usize) -> Result<String, AdminParseError> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
                match (hex(s.get(i + 1)), hex(s.get(i + 2))) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => return Err(AdminParseError::Encoding { at: base + i }),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|e| AdminParseError::Encoding {
        at: base + e.utf8_error().valid_up_to(),
    })
}

/// Encodes one form component: unreserved bytes as is, space as `+`, the rest as `%XX`.
fn url_encode(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

/// Decodes an admin form body into one action per checked server.
///
/// Fields may come in any order; `s` repeats once per server. No server checked gives an
/// empty list (HAProxy's "nothing has changed").
///
/// # Errors
/// Bad `%` escapes or non-UTF-8 text, a missing backend or action, an unknown action, or a
/// weight action without a valid weight.
pub fn parse_admin_post(body: &[u8]) -> Result<Vec<AdminAction>, AdminParseError> {
    let mut servers = Vec::new();
    let mut backend = None;
    let mut action = None;
    let mut weight = None;
    let mut at = 0;
    for pair in body.split(|&b| b == b'&') {
        let base = at;
        at += pair.len() + 1;
        if pair.is_empty() {
            continue;
        }
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        };
        let key = url_decode(k, base)?;
        let value = url_decode(v, base + k.len() + 1)?;
        match key.as_str() {
            "s" => servers.push(value),
            "b" => backend = Some(value),
            "action" => action = Some(value),
            "weight" => weight = Some(value),
            _ => {}
        }
    }
    let backend = backend
        .filter(|b| !b.is_empty())
        .ok_or(AdminParseError::MissingBackend)?;
    let action = action
        .filter(|a| !a.is_empty())
        .ok_or(AdminParseError::MissingAction)?;
    let command = AdminCommand::from_keyword(&action, weight.as_deref())?;
    Ok(servers
        .into_iter()
        .map(|server| AdminAction {
            backend: backend.clone(),
            server,
            command,
        })
        .collect())
}

/// Encodes the form body that applies `command` to `servers` of `backend` (what the page's
/// form posts); [`parse_admin_post`] reads it back.
pub fn encode_admin_post(backend: &str, command: &AdminCommand, servers: &[&str]) -> String {
    let mut out = String::new();
    for s in servers {
        out.push_str("s=");
        url_encode(s, &mut out);
        out.push('&');
    }
    out.push_str("action=");
    out.push_str(command.keyword());
    if let AdminCommand::Weight(w) = command {
        out.push_str("&weight=");
        out.push_str(&w.to_string());
    }
    out.push_str("&b=");
    url_encode(backend, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_awkward_names() {
        let names = ["a b", "x&y=z", "100%", "plus+sign", "caf\u{e9}", "<script>"];
        for cmd in AdminCommand::ALL
            .iter()
            .copied()
            .chain([AdminCommand::Weight(42)])
        {
            let body = encode_admin_post("be/1 &co", &cmd, &names);
            let got = parse_admin_post(body.as_bytes()).expect("own encoding parses");
            let want: Vec<_> = names
                .iter()
                .map(|n| AdminAction {
                    backend: "be/1 &co".into(),
                    server: (*n).into(),
                    command: cmd,
                })
                .collect();
            assert_eq!(got, want, "{body}");
        }
    }

    #[test]
    fn haproxy_form_and_legacy_keywords() {
        let got = parse_admin_post(b"s=srv1&s=srv2&action=disable&b=%233").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].backend, "#3");
        assert_eq!(got[1].command, AdminCommand::Maint);
        assert_eq!(
            parse_admin_post(b"b=x&action=stop&s=a").unwrap()[0].command,
            AdminCommand::HealthDown
        );
    }

    #[test]
    fn no_server_is_no_action() {
        assert_eq!(parse_admin_post(b"action=ready&b=be").unwrap(), vec![]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_admin_post(b"s=a&action=ready"),
            Err(AdminParseError::MissingBackend)
        );
        assert_eq!(
            parse_admin_post(b"s=a&b=be"),
            Err(AdminParseError::MissingAction)
        );
        assert_eq!(
            parse_admin_post(b"s=a&b=be&action=explode"),
            Err(AdminParseError::UnknownAction("explode".into()))
        );
        assert_eq!(
            parse_admin_post(b"s=a&b=be&action=weight&weight=heavy"),
            Err(AdminParseError::InvalidWeight("heavy".into()))
        );
        assert_eq!(
            parse_admin_post(b"s=a&b=be&action=weight"),
            Err(AdminParseError::InvalidWeight(String::new()))
        );
        assert_eq!(
            parse_admin_post(b"s=a%2&b=be&action=ready"),
            Err(AdminParseError::Encoding { at: 3 })
        );
        assert_eq!(
            parse_admin_post(b"s=%FF&b=be&action=ready"),
            Err(AdminParseError::Encoding { at: 2 })
        );
    }
}

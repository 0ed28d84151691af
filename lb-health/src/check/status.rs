//! [`CheckStatus`] and [`CheckResult`]: what one check found, with HAProxy's codes and
//! reason strings.

use std::fmt;
use std::time::Duration;

/// The status of a check, as HAProxy's `check_status` stats field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[repr(u8)]
pub enum CheckStatus {
    /// `UNK`: unknown (no check ran yet for this kind of result).
    #[default]
    Unknown = 0,
    /// `INI`: initializing, no result yet.
    Init,
    /// `SOCKERR`: the check could not even get a socket.
    SockErr,
    /// `L4OK`: the connection was established.
    L4Ok,
    /// `L4TOUT`: the connection did not complete in time.
    L4Tout,
    /// `L4CON`: the connection failed (refused, reset, unreachable).
    L4Con,
    /// `L6OK`: the TLS handshake passed.
    L6Ok,
    /// `L6TOUT`: the TLS handshake did not complete in time.
    L6Tout,
    /// `L6RSP`: the TLS handshake failed.
    L6Rsp,
    /// `L7TOUT`: the application did not answer in time.
    L7Tout,
    /// `L7RSP`: the application's answer was invalid or did not match.
    L7Rsp,
    /// `L7OK`: the application check passed.
    L7Ok,
    /// `L7OKC`: the check passed conditionally: the server goes NOLB (`disable-on-404`).
    L7OkC,
    /// `L7STS`: the application answered with an error status.
    L7Sts,
    /// `HANA`: passive observation saw too many consecutive errors.
    Hana,
}

impl CheckStatus {
    /// The stats-page code: `L4OK`, `L7STS`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Unknown => "UNK",
            CheckStatus::Init => "INI",
            CheckStatus::SockErr => "SOCKERR",
            CheckStatus::L4Ok => "L4OK",
            CheckStatus::L4Tout => "L4TOUT",
            CheckStatus::L4Con => "L4CON",
            CheckStatus::L6Ok => "L6OK",
            CheckStatus::L6Tout => "L6TOUT",
            CheckStatus::L6Rsp => "L6RSP",
            CheckStatus::L7Tout => "L7TOUT",
            CheckStatus::L7Rsp => "L7RSP",
            CheckStatus::L7Ok => "L7OK",
            CheckStatus::L7OkC => "L7OKC",
            CheckStatus::L7Sts => "L7STS",
            CheckStatus::Hana => "HANA",
        }
    }

    /// HAProxy's description, the start of every reason string.
    pub const fn description(self) -> &'static str {
        match self {
            CheckStatus::Unknown => "Unknown",
            CheckStatus::Init => "Initializing",
            CheckStatus::SockErr => "Socket error",
            CheckStatus::L4Ok => "Layer4 check passed",
            CheckStatus::L4Tout => "Layer4 timeout",
            CheckStatus::L4Con => "Layer4 connection problem",
            CheckStatus::L6Ok => "Layer6 check passed",
            CheckStatus::L6Tout => "Layer6 timeout",
            CheckStatus::L6Rsp => "Layer6 invalid response",
            CheckStatus::L7Tout => "Layer7 timeout",
            CheckStatus::L7Rsp => "Layer7 invalid response",
            CheckStatus::L7Ok => "Layer7 check passed",
            CheckStatus::L7OkC => "Layer7 check conditionally passed",
            CheckStatus::L7Sts => "Layer7 wrong status",
            CheckStatus::Hana => "Health analyze",
        }
    }

    /// Whether the status is a pass (`L4OK`, `L6OK`, `L7OK`, `L7OKC`).
    pub const fn is_pass(self) -> bool {
        matches!(
            self,
            CheckStatus::L4Ok | CheckStatus::L6Ok | CheckStatus::L7Ok | CheckStatus::L7OkC
        )
    }

    /// Whether the status is a verdict on the server (not `UNK`/`INI`).
    pub const fn is_result(self) -> bool {
        !matches!(self, CheckStatus::Unknown | CheckStatus::Init)
    }

    /// Whether reasons of this status show the response code (HAProxy: layer 5-7 data).
    pub const fn shows_code(self) -> bool {
        matches!(
            self,
            CheckStatus::L7Ok | CheckStatus::L7OkC | CheckStatus::L7Sts
        )
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one check: one connection attempt and its conversation.
///
/// `reason` is HAProxy's reason string: the status description, then `code: N` for
/// layer-7 statuses that carry one, then `info: "..."` when there is more to say:
///
/// ```
/// use std::time::Duration;
/// use lb_health::{CheckResult, CheckStatus};
///
/// let r = CheckResult::new(CheckStatus::L7Sts, Some(500), "Internal Server Error", Duration::from_millis(3));
/// assert_eq!(r.reason, "Layer7 wrong status, code: 500, info: \"Internal Server Error\"");
/// assert_eq!(r.describe(), "Layer7 wrong status, code: 500, info: \"Internal Server Error\", check duration: 3ms");
/// let r = CheckResult::new(CheckStatus::L4Ok, None, "", Duration::ZERO);
/// assert_eq!(r.reason, "Layer4 check passed");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// The status.
    pub status: CheckStatus,
    /// The response code (HTTP status, SMTP reply code, MySQL or LDAP error code).
    pub code: Option<u16>,
    /// How long the check took.
    pub duration: Duration,
    /// The extra information alone (the `info` part of `reason`; may be empty).
    pub info: String,
    /// The full reason string.
    pub reason: String,
}

/// Longest `info` kept (HAProxy keeps a short description too).
const MAX_INFO: usize = 256;

impl CheckResult {
    /// A result; `info` is cut at the first CR or LF and to 256 bytes, and control
    /// characters are replaced.
    pub fn new(
        status: CheckStatus,
        code: Option<u16>,
        info: impl AsRef<str>,
        duration: Duration,
    ) -> Self {
        let info = clean_info(info.as_ref());
        let mut reason = status.description().to_owned();
        if let (true, Some(c)) = (status.shows_code(), code) {
            reason.push_str(&format!(", code: {c}"));
        }
        if !info.is_empty() {
            reason.push_str(&format!(", info: \"{info}\""));
        }
        CheckResult {
            status,
            code,
            duration,
            info,
            reason,
        }
    }

    /// The "no result yet" placeholder (`INI`).
    pub fn init() -> Self {
        Self::new(CheckStatus::Init, None, "", Duration::ZERO)
    }

    /// Whether the check passed (`L4OK`, `L6OK`, `L7OK`, `L7OKC`).
    pub fn passed(&self) -> bool {
        self.status.is_pass()
    }

    /// The reason with the duration, as HAProxy logs a state change:
    /// `Layer4 connection problem, info: "Connection refused", check duration: 0ms`.
    pub fn describe(&self) -> String {
        format!(
            "{}, check duration: {}ms",
            self.reason,
            self.duration.as_millis()
        )
    }
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

fn clean_info(s: &str) -> String {
    let line = s.split(['\r', '\n']).next().unwrap_or("");
    let mut out = String::with_capacity(line.len().min(MAX_INFO));
    for c in line.chars() {
        if out.len() + c.len_utf8() > MAX_INFO {
            break;
        }
        out.push(if c.is_control() || c == '"' { '\'' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        let r = CheckResult::new(
            CheckStatus::L4Con,
            None,
            "Connection refused",
            Duration::ZERO,
        );
        assert_eq!(
            r.reason,
            "Layer4 connection problem, info: \"Connection refused\""
        );
        assert_eq!(
            r.describe(),
            "Layer4 connection problem, info: \"Connection refused\", check duration: 0ms"
        );
        let r = CheckResult::new(CheckStatus::L7Ok, Some(200), "OK", Duration::ZERO);
        assert_eq!(r.reason, "Layer7 check passed, code: 200, info: \"OK\"");
        // L7RSP does not show the code.
        let r = CheckResult::new(CheckStatus::L7Rsp, Some(200), "bad", Duration::ZERO);
        assert_eq!(r.reason, "Layer7 invalid response, info: \"bad\"");
        assert_eq!(
            CheckResult::new(CheckStatus::L4Tout, None, "", Duration::ZERO).reason,
            "Layer4 timeout"
        );
    }

    #[test]
    fn info_is_one_clean_line() {
        let r = CheckResult::new(CheckStatus::L7Sts, None, "a\"b\tc\r\nrest", Duration::ZERO);
        assert_eq!(r.info, "a'b'c");
        let long = "x".repeat(1000);
        assert_eq!(
            CheckResult::new(CheckStatus::L7Sts, None, &long, Duration::ZERO)
                .info
                .len(),
            MAX_INFO
        );
    }
}

//! HAProxy's `retry-on`: which failures make the proxy try the request again.

use std::fmt;

use crate::client::Failure;

/// The set of failures that are retried (`retry-on`). The default is `conn-failure` only.
///
/// Anything beyond `conn-failure` is a "layer 7 retry": the request was (at least partly)
/// sent, so it is replayed only when that is safe: an idempotent method, and a body that
/// was kept whole in a replay buffer (at most [`RetryOn::REPLAY_BUFFER`] bytes).
///
/// ```
/// use lb_http::proxy::RetryOn;
///
/// let r = RetryOn::parse(["empty-response", "503"]).unwrap();
/// assert!(r.conn_failure() == false && r.empty_response() && r.status(503));
/// assert!(!r.status(500));
/// let all = RetryOn::parse(["all-retryable-errors"]).unwrap();
/// assert!(all.status(502) && all.response_timeout() && all.conn_failure());
/// assert!(RetryOn::parse(["sometimes"]).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RetryOn {
    bits: u32,
}

const CONN_FAILURE: u32 = 1 << 0;
const EMPTY_RESPONSE: u32 = 1 << 1;
const JUNK_RESPONSE: u32 = 1 << 2;
const RESPONSE_TIMEOUT: u32 = 1 << 3;
/// Status codes HAProxy can retry on, in bit order after the failure classes.
const STATUSES: [u16; 8] = [404, 408, 425, 500, 501, 502, 503, 504];
const STATUS_SHIFT: u32 = 8;

impl Default for RetryOn {
    fn default() -> Self {
        RetryOn { bits: CONN_FAILURE }
    }
}

impl fmt::Debug for RetryOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RetryOn({self})")
    }
}

impl fmt::Display for RetryOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = Vec::new();
        for (bit, name) in [
            (CONN_FAILURE, "conn-failure"),
            (EMPTY_RESPONSE, "empty-response"),
            (JUNK_RESPONSE, "junk-response"),
            (RESPONSE_TIMEOUT, "response-timeout"),
        ] {
            if self.bits & bit != 0 {
                words.push(name.to_owned());
            }
        }
        for s in STATUSES {
            if self.status(s) {
                words.push(s.to_string());
            }
        }
        if words.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&words.join(" "))
        }
    }
}

/// A `retry-on` keyword that is not one of HAProxy's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown retry-on keyword '{0}' (expected none, conn-failure, empty-response, junk-response, response-timeout, 0rtt-rejected, 404, 408, 425, 500, 501, 502, 503, 504 or all-retryable-errors)")]
pub struct UnknownRetryOn(pub String);

impl RetryOn {
    /// Largest request body kept for layer 7 retries (HAProxy keeps what fits in one
    /// buffer, `tune.bufsize`, 16 KiB).
    pub const REPLAY_BUFFER: u64 = 16 * 1024;

    /// Nothing is retried (`retry-on none`).
    pub const fn none() -> Self {
        RetryOn { bits: 0 }
    }

    /// Parses HAProxy's keywords; like HAProxy, the list replaces the default.
    /// `0rtt-rejected` is accepted and has no effect (lb does not send early data).
    ///
    /// # Errors
    /// An unknown keyword.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownRetryOn> {
        let mut bits = 0;
        for w in words {
            bits |= match w {
                "none" => 0,
                "conn-failure" => CONN_FAILURE,
                "empty-response" => EMPTY_RESPONSE,
                "junk-response" => JUNK_RESPONSE,
                "response-timeout" => RESPONSE_TIMEOUT,
                "0rtt-rejected" => 0,
                "all-retryable-errors" => {
                    CONN_FAILURE
                        | EMPTY_RESPONSE
                        | JUNK_RESPONSE
                        | RESPONSE_TIMEOUT
                        | status_bit(500)
                        | status_bit(502)
                        | status_bit(503)
                        | status_bit(504)
                }
                other => match other.parse::<u16>().ok().filter(|s| STATUSES.contains(s)) {
                    Some(s) => status_bit(s),
                    None => return Err(UnknownRetryOn(other.to_owned())),
                },
            };
        }
        Ok(RetryOn { bits })
    }

    /// Connection failures are retried (`conn-failure`).
    pub fn conn_failure(self) -> bool {
        self.bits & CONN_FAILURE != 0
    }

    /// Closed connections with no response are retried (`empty-response`).
    pub fn empty_response(self) -> bool {
        self.bits & EMPTY_RESPONSE != 0
    }

    /// Invalid or incomplete responses are retried (`junk-response`).
    pub fn junk_response(self) -> bool {
        self.bits & JUNK_RESPONSE != 0
    }

    /// `timeout server` before the response head is retried (`response-timeout`).
    pub fn response_timeout(self) -> bool {
        self.bits & RESPONSE_TIMEOUT != 0
    }

    /// Responses with this status are retried.
    pub fn status(self, status: u16) -> bool {
        STATUSES.contains(&status) && self.bits & status_bit(status) != 0
    }

    /// Whether a request failure of this kind is retried.
    pub fn failure(self, f: Failure) -> bool {
        match f {
            Failure::Empty => self.empty_response(),
            Failure::Junk => self.junk_response(),
            Failure::Timeout => self.response_timeout(),
            _ => false,
        }
    }

    /// Whether anything beyond connection failures is retried (requests then need a
    /// replay buffer).
    pub fn layer7(self) -> bool {
        self.bits & !CONN_FAILURE != 0
    }
}

fn status_bit(s: u16) -> u32 {
    let i = STATUSES.iter().position(|&x| x == s).unwrap_or(0) as u32;
    1 << (STATUS_SHIFT + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_conn_failure_only() {
        let r = RetryOn::default();
        assert!(r.conn_failure() && !r.layer7());
        assert_eq!(r.to_string(), "conn-failure");
        assert_eq!(RetryOn::parse(["none"]).unwrap().to_string(), "none");
    }

    #[test]
    fn keywords_round_trip() {
        let r = RetryOn::parse(["conn-failure", "junk-response", "404", "504"]).unwrap();
        assert_eq!(r.to_string(), "conn-failure junk-response 404 504");
        assert!(r.failure(Failure::Junk) && !r.failure(Failure::Empty));
        assert!(!r.failure(Failure::Client));
        assert!(RetryOn::parse(["200"]).is_err());
    }
}

//! Passive observation (`observe layer4|layer7`): errors seen in real traffic feed the
//! health counter.
//!
//! Protocol layers hold an [`Observer`] per server (from
//! [`HealthHandle::observer`](crate::HealthHandle::observer)) and report what they see.
//! After `error-limit` consecutive errors (default 10) the `on-error` action runs:
//!
//! - `fastinter`: only bring the next active check forward to `fastinter`;
//! - `fail-check` (default): count one failed check;
//! - `sudden-death`: leave a fully up server one failure from down, then count one
//!   failed check;
//! - `mark-down`: mark the server down at once.
//!
//! Every action also forces `fastinter`, so active checks confirm or undo it quickly. A
//! passing active check resets the error count, and so does a success.
//!
//! What counts, per mode (HAProxy's table):
//!
//! | report | layer4 | layer7 |
//! |---|---|---|
//! | [`report_layer4_error`](Observer::report_layer4_error) | error | error |
//! | [`report_success`](Observer::report_success) | success | success |
//! | [`report_layer7_status`](Observer::report_layer7_status) | ignored | 100-499, 501, 505 succeed; others are errors |
//! | [`report_layer7_error`](Observer::report_layer7_error) | ignored | error |

use std::fmt;
use std::sync::Arc;

use crate::error::ConfigError;
use crate::state::ServerHealth;

/// Which traffic is observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObserveLayer {
    /// Connection failures.
    Layer4,
    /// Connection failures, invalid responses, timeouts and bad HTTP statuses.
    Layer7,
}

/// What to do once `error-limit` consecutive errors were seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OnError {
    /// Only force `fastinter` for the next check.
    Fastinter,
    /// Count one failed check (the default).
    #[default]
    FailCheck,
    /// One failure from down, then one failed check.
    SuddenDeath,
    /// Down at once.
    MarkDown,
}

impl OnError {
    /// From the `on-error` keyword.
    ///
    /// # Errors
    /// An unknown keyword.
    pub fn parse(word: &str) -> Result<Self, ConfigError> {
        match word {
            "fastinter" => Ok(OnError::Fastinter),
            "fail-check" => Ok(OnError::FailCheck),
            "sudden-death" => Ok(OnError::SuddenDeath),
            "mark-down" => Ok(OnError::MarkDown),
            other => Err(ConfigError::InvalidValue {
                keyword: "on-error",
                value: other.to_owned(),
                why: "expected fastinter, fail-check, sudden-death or mark-down",
            }),
        }
    }
}

/// `observe` settings of a server.
///
/// # Examples
/// ```
/// use lb_health::{Observe, ObserveLayer, OnError};
/// let o = Observe::new(ObserveLayer::Layer7).error_limit(5).on_error(OnError::MarkDown);
/// assert_eq!(o.error_limit, 5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Observe {
    /// Which traffic counts.
    pub layer: ObserveLayer,
    /// Consecutive errors before acting (at least 1). Default is 10.
    pub error_limit: u32,
    /// The action. Default is [`OnError::FailCheck`].
    pub on_error: OnError,
}

impl Observe {
    /// Observation of `layer` with the defaults.
    pub fn new(layer: ObserveLayer) -> Self {
        Observe {
            layer,
            error_limit: 10,
            on_error: OnError::FailCheck,
        }
    }

    /// Sets `error-limit` (0 is taken as 1).
    pub fn error_limit(mut self, n: u32) -> Self {
        self.error_limit = n.max(1);
        self
    }

    /// Sets `on-error`.
    pub fn on_error(mut self, action: OnError) -> Self {
        self.on_error = action;
        self
    }
}

/// A layer-7 failure other than a status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layer7Error {
    /// The response headers could not be parsed.
    InvalidHeaders,
    /// The response was invalid.
    InvalidResponse,
    /// Reading the response failed.
    ReadError,
    /// The response did not come in time.
    ReadTimeout,
    /// The server closed the connection early.
    BrokenPipe,
}

impl Layer7Error {
    fn describe(self) -> &'static str {
        match self {
            Layer7Error::InvalidHeaders => "Invalid http response (headers)",
            Layer7Error::InvalidResponse => "Invalid http response",
            Layer7Error::ReadError => "Read error (http)",
            Layer7Error::ReadTimeout => "Read timeout (http)",
            Layer7Error::BrokenPipe => "Close from server (http)",
        }
    }
}

/// Whether an HTTP status counts as valid for `observe layer7`: 100-499, 501 and 505.
pub fn is_valid_status(code: u16) -> bool {
    (100..500).contains(&code) || code == 501 || code == 505
}

/// Reports traffic outcomes of one server; cheap to clone and to call on every request
/// (a success is one relaxed load).
#[derive(Clone)]
pub struct Observer {
    pub(crate) health: Arc<ServerHealth>,
    pub(crate) observe: Observe,
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer")
            .field("server", &self.health.server().name())
            .field("observe", &self.observe)
            .field("consecutive_errors", &self.consecutive_errors())
            .finish()
    }
}

impl Observer {
    /// A successful exchange (a connection in layer4 mode, a valid response in layer7).
    pub fn report_success(&self) {
        self.health.observe_success();
    }

    /// A failed connection attempt.
    pub fn report_layer4_error(&self) {
        self.health.observe_error("L4 unsuccessful connection");
    }

    /// An HTTP response status (layer7 mode only).
    pub fn report_layer7_status(&self, code: u16) {
        if self.observe.layer != ObserveLayer::Layer7 {
            return;
        }
        if is_valid_status(code) {
            self.health.observe_success();
        } else {
            self.health.observe_error("Wrong http response");
        }
    }

    /// A layer-7 failure (layer7 mode only).
    pub fn report_layer7_error(&self, error: Layer7Error) {
        if self.observe.layer == ObserveLayer::Layer7 {
            self.health.observe_error(error.describe());
        }
    }

    /// Consecutive errors counted now.
    pub fn consecutive_errors(&self) -> u32 {
        self.health.state.consecutive_errors()
    }

    /// The settings.
    pub fn settings(&self) -> &Observe {
        &self.observe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_statuses() {
        for c in [100, 200, 302, 404, 499, 501, 505] {
            assert!(is_valid_status(c), "{c}");
        }
        for c in [0, 99, 500, 502, 503, 504, 506, 600] {
            assert!(!is_valid_status(c), "{c}");
        }
    }

    #[test]
    fn on_error_words() {
        assert_eq!(OnError::parse("mark-down").unwrap(), OnError::MarkDown);
        assert!(OnError::parse("explode").is_err());
        assert_eq!(
            Observe::new(ObserveLayer::Layer4)
                .error_limit(0)
                .error_limit,
            1
        );
    }
}

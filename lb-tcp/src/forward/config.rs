//! [`ForwardConfig`]: buffer size and the data-phase timeouts.

use std::time::Duration;

/// The default buffer size per direction, 16 KiB, HAProxy's `tune.bufsize`.
pub const DEFAULT_BUFFER_SIZE: usize = 16 * 1024;

/// How [`forward`](super::forward) moves bytes: buffer size and inactivity timeouts.
///
/// Every timeout is an `Option<Duration>`, `None` meaning infinite, HAProxy's default for an
/// unset timeout. HAProxy treats `timeout client 0` as "unset": map a zero to `None` when
/// reading a configuration, since `Some(Duration::ZERO)` here expires as soon as the side
/// is idle.
///
/// Which timeout applies to a side (client or server) while the forwarder waits on it:
///
/// 1. `timeout_client_fin` / `timeout_server_fin`, once the proxy has shut down writing to
///    that side (the other side closed first, its FIN was passed on: the connection to
///    this side is half-closed), when set;
/// 2. else `timeout_tunnel`, when set;
/// 3. else `timeout_client` / `timeout_server`.
///
/// A side's timer only runs while the forwarder waits on it: to read from it with room in
/// the buffer, or to write buffered bytes to it. A client blocked because the server does
/// not read is not idle: the server is, as in HAProxy.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use lb_tcp::forward::{ForwardConfig, DEFAULT_BUFFER_SIZE};
///
/// let cfg = ForwardConfig::new()
///     .timeout_client(Duration::from_secs(30))
///     .timeout_server(Duration::from_secs(30))
///     .timeout_tunnel(Duration::from_secs(3600))
///     .timeout_client_fin(Duration::from_secs(5));
/// assert_eq!(cfg.buffer_size, DEFAULT_BUFFER_SIZE);
/// assert_eq!(cfg.timeout_server_fin, None);
/// assert!(cfg.has_timeouts());
/// assert!(!ForwardConfig::new().has_timeouts());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForwardConfig {
    /// Bytes buffered per direction (one buffer client to server, one server to client).
    /// A zero is read as one. Default is [`DEFAULT_BUFFER_SIZE`] (16 KiB).
    pub buffer_size: usize,
    /// HAProxy's `timeout client`: inactivity on the client side. Default is `None`.
    pub timeout_client: Option<Duration>,
    /// HAProxy's `timeout server`: inactivity on the server side. Default is `None`.
    pub timeout_server: Option<Duration>,
    /// HAProxy's `timeout tunnel`: when set, replaces both `timeout_client` and
    /// `timeout_server`. Default is `None`.
    pub timeout_tunnel: Option<Duration>,
    /// HAProxy's `timeout client-fin`: inactivity on the client side once the proxy has
    /// shut down writing to it; overrides the tunnel timeout. Default is `None`.
    pub timeout_client_fin: Option<Duration>,
    /// HAProxy's `timeout server-fin`: inactivity on the server side once the proxy has
    /// shut down writing to it; overrides the tunnel timeout. Default is `None`.
    pub timeout_server_fin: Option<Duration>,
}

impl ForwardConfig {
    /// A configuration with 16 KiB buffers and no timeouts.
    pub const fn new() -> Self {
        Self {
            buffer_size: DEFAULT_BUFFER_SIZE,
            timeout_client: None,
            timeout_server: None,
            timeout_tunnel: None,
            timeout_client_fin: None,
            timeout_server_fin: None,
        }
    }

    /// Sets the buffer size per direction. Default is [`DEFAULT_BUFFER_SIZE`].
    #[must_use]
    pub const fn buffer_size(mut self, bytes: usize) -> Self {
        self.buffer_size = bytes;
        self
    }

    /// Sets `timeout client` (a `Duration`, or `None` for infinite). Default is `None`.
    #[must_use]
    pub fn timeout_client(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout_client = timeout.into();
        self
    }

    /// Sets `timeout server` (a `Duration`, or `None` for infinite). Default is `None`.
    #[must_use]
    pub fn timeout_server(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout_server = timeout.into();
        self
    }

    /// Sets `timeout tunnel` (a `Duration`, or `None` for infinite). Default is `None`.
    #[must_use]
    pub fn timeout_tunnel(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout_tunnel = timeout.into();
        self
    }

    /// Sets `timeout client-fin` (a `Duration`, or `None` for infinite). Default is `None`.
    #[must_use]
    pub fn timeout_client_fin(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout_client_fin = timeout.into();
        self
    }

    /// Sets `timeout server-fin` (a `Duration`, or `None` for infinite). Default is `None`.
    #[must_use]
    pub fn timeout_server_fin(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout_server_fin = timeout.into();
        self
    }

    /// Whether any timeout is set. Without one, the forwarder never reads the clock nor
    /// creates a timer, so it also runs on a runtime without a time driver.
    pub const fn has_timeouts(&self) -> bool {
        self.timeout_client.is_some()
            || self.timeout_server.is_some()
            || self.timeout_tunnel.is_some()
            || self.timeout_client_fin.is_some()
            || self.timeout_server_fin.is_some()
    }
}

impl Default for ForwardConfig {
    fn default() -> Self {
        Self::new()
    }
}

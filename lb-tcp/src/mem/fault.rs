//! Faults to inject per listener address: refuse, black-hole, delay, stall, reset.

use std::time::Duration;

/// Which bytes count towards a [`Faults::reset_after`] budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Bytes the client writes (the request side).
    ClientToServer,
    /// Bytes the server writes (the response side).
    ServerToClient,
    /// Bytes written by either end.
    #[default]
    Both,
}

/// Faults for connections to one in-memory listener address, set with
/// [`MemNetwork::set_faults`](super::MemNetwork::set_faults).
///
/// Faults are read when a connection is made: changing them affects later connections only.
/// They belong to the address, not to a listener, so they survive rebinding.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use lb_tcp::mem::{Direction, Faults};
///
/// let f = Faults::new()
///     .connect_delay(Duration::from_millis(20))
///     .reset_after_in(100, Direction::ServerToClient);
/// assert_eq!(f.get_reset_after(), Some((100, Direction::ServerToClient)));
/// assert!(!Faults::new().is_refusing());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    pub(crate) refuse: bool,
    pub(crate) blackhole: bool,
    pub(crate) stall: bool,
    pub(crate) connect_delay: Option<Duration>,
    pub(crate) reset_after: Option<(u64, Direction)>,
}

impl Faults {
    /// No faults.
    pub const fn new() -> Self {
        Self {
            refuse: false,
            blackhole: false,
            stall: false,
            connect_delay: None,
            reset_after: None,
        }
    }

    /// Connects fail with `ConnectionRefused`, as if nothing listened (a closed port).
    pub const fn refuse(mut self) -> Self {
        self.refuse = true;
        self
    }

    /// Connects never complete, as when SYNs are dropped: use a connect timeout.
    pub const fn blackhole(mut self) -> Self {
        self.blackhole = true;
        self
    }

    /// Connects succeed, but the listener never sees the connection: the client's reads wait
    /// forever and its writes stop once the buffer is full (a hung server whose kernel still
    /// completes handshakes). The connection lives until the client drops it.
    pub const fn stall(mut self) -> Self {
        self.stall = true;
        self
    }

    /// Each connect waits this long first (network latency; obeys paused time).
    pub const fn connect_delay(mut self, d: Duration) -> Self {
        self.connect_delay = Some(d);
        self
    }

    /// The connection resets after `bytes` bytes have been written by either end: both ends
    /// then get `ConnectionReset` (the reader after it has read the bytes already sent).
    pub const fn reset_after(self, bytes: u64) -> Self {
        self.reset_after_in(bytes, Direction::Both)
    }

    /// The connection resets after `bytes` bytes have been written in `direction`.
    pub const fn reset_after_in(mut self, bytes: u64, direction: Direction) -> Self {
        self.reset_after = Some((bytes, direction));
        self
    }

    /// Whether connects are refused.
    pub const fn is_refusing(&self) -> bool {
        self.refuse
    }

    /// Whether connects never complete.
    pub const fn is_blackhole(&self) -> bool {
        self.blackhole
    }

    /// Whether connections are stalled.
    pub const fn is_stalling(&self) -> bool {
        self.stall
    }

    /// The connect delay, if any.
    pub const fn get_connect_delay(&self) -> Option<Duration> {
        self.connect_delay
    }

    /// The reset budget and the direction it counts, if any.
    pub const fn get_reset_after(&self) -> Option<(u64, Direction)> {
        self.reset_after
    }
}

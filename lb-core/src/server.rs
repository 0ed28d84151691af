//! Servers: identity, address, weight, states and live counters.
//!
//! A [`Server`] is shared (`Arc<Server>`) between the backend's snapshots, the balancer and
//! whatever forwards traffic to it. Its configuration that never changes (name, id, backup
//! flag, slowstart) is plain data; everything that changes at runtime (weight, states,
//! maxconn, address, counters) is atomic, so readers never lock.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::Instant;

use crate::error::Error;

/// Where a server listens.
///
/// # Examples
/// ```
/// use lb_core::Address;
/// let a: Address = "127.0.0.1:8080".parse().unwrap();
/// assert_eq!(a.to_string(), "127.0.0.1:8080");
/// let u: Address = "unix@/run/app.sock".parse().unwrap();
/// assert_eq!(u, Address::Unix("/run/app.sock".into()));
/// let m: Address = "mem@origin-1".parse().unwrap();
/// assert_eq!(m, Address::Mem("origin-1".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// An IPv4 or IPv6 socket address.
    Inet(SocketAddr),
    /// A Unix stream socket path (`unix@/path` in configuration, as HAProxy).
    Unix(PathBuf),
    /// A listener name on the in-memory network (`mem@name`), for tests and embedding.
    Mem(Arc<str>),
}

impl Address {
    /// The socket address, when this is an IP address.
    pub fn as_inet(&self) -> Option<SocketAddr> {
        match self {
            Address::Inet(a) => Some(*a),
            _ => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(a) => a.fmt(f),
            Address::Unix(p) => write!(f, "unix@{}", p.display()),
            Address::Mem(n) => write!(f, "mem@{n}"),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address::Inet(a)
    }
}

impl std::str::FromStr for Address {
    type Err = Error;

    /// Parses `ip:port`, `[v6]:port`, `unix@/path` (or a bare absolute path) and `mem@name`.
    fn from_str(s: &str) -> Result<Self, Error> {
        if let Some(path) = s.strip_prefix("unix@") {
            if path.is_empty() {
                return Err(Error::InvalidAddress(s.to_owned()));
            }
            return Ok(Address::Unix(path.into()));
        }
        if s.starts_with('/') {
            return Ok(Address::Unix(s.into()));
        }
        if let Some(name) = s.strip_prefix("mem@") {
            if name.is_empty() {
                return Err(Error::InvalidAddress(s.to_owned()));
            }
            return Ok(Address::Mem(name.into()));
        }
        s.parse::<SocketAddr>()
            .map(Address::Inet)
            .map_err(|_| Error::InvalidAddress(s.to_owned()))
    }
}

/// A server's numeric identifier, unique within its backend (HAProxy's `id`).
///
/// It orders servers for the `first` algorithm and seeds their points on a consistent-hash
/// ring, so it stays stable across restarts when configured explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerId(pub u32);

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A server weight, 0..=256. Zero takes no new load-balanced traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Weight(u16);

impl Weight {
    /// The largest weight HAProxy accepts.
    pub const MAX: Weight = Weight(256);
    /// The default weight.
    pub const DEFAULT: Weight = Weight(1);

    /// A weight, or an error above 256.
    ///
    /// # Errors
    /// [`Error::InvalidWeight`] when `w > 256`.
    pub fn new(w: u32) -> Result<Self, Error> {
        if w > 256 {
            Err(Error::InvalidWeight(w))
        } else {
            Ok(Weight(w as u16))
        }
    }

    /// The weight as an integer.
    pub const fn get(self) -> u32 {
        self.0 as u32
    }
}

impl Default for Weight {
    fn default() -> Self {
        Weight::DEFAULT
    }
}

/// Administrative state, set by an operator (config, runtime API) or an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum AdminState {
    /// Takes traffic normally.
    #[default]
    Ready = 0,
    /// Takes no new load-balanced traffic; persistent traffic still comes.
    Drain = 1,
    /// Takes no traffic at all; health checks stop.
    Maint = 2,
}

impl AdminState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => AdminState::Drain,
            2 => AdminState::Maint,
            _ => AdminState::Ready,
        }
    }
}

impl fmt::Display for AdminState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
        })
    }
}

/// Operational state, driven by health checks (lb-health) or set by hand.
///
/// `GoingDown` is still up (it failed some checks but fewer than `fall`); `GoingUp` is still
/// down (it passed some checks but fewer than `rise`). `Stopping` is HAProxy's NOLB: up, but
/// it takes only persistent traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum OpState {
    /// Running: takes traffic.
    #[default]
    Up = 0,
    /// Up, with failed checks counting towards `fall`.
    GoingDown = 1,
    /// Down: takes no traffic.
    Down = 2,
    /// Down, with passed checks counting towards `rise`.
    GoingUp = 3,
    /// Up but not load balanced (NOLB): persistent traffic only.
    Stopping = 4,
}

impl OpState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => OpState::GoingDown,
            2 => OpState::Down,
            3 => OpState::GoingUp,
            4 => OpState::Stopping,
            _ => OpState::Up,
        }
    }

    /// Whether the server counts as up (takes at least persistent traffic).
    pub const fn is_up(self) -> bool {
        matches!(self, OpState::Up | OpState::GoingDown | OpState::Stopping)
    }
}

impl fmt::Display for OpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpState::Up => "UP",
            OpState::GoingDown => "UP (going down)",
            OpState::Down => "DOWN",
            OpState::GoingUp => "DOWN (going up)",
            OpState::Stopping => "NOLB",
        })
    }
}

/// The static description of a server, as configured.
///
/// # Examples
/// ```
/// use lb_core::ServerConfig;
/// let s = ServerConfig::new("web1", "127.0.0.1:8001".parse().unwrap()).weight(10).maxconn(100);
/// assert_eq!(s.weight.get(), 10);
/// ```
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Unique name within the backend.
    pub name: Arc<str>,
    /// Where to send traffic.
    pub address: Address,
    /// Numeric id; `None` assigns the next free one (HAProxy: position).
    pub id: Option<u32>,
    /// Initial weight.
    pub weight: Weight,
    /// Backup server: used only when no active server is usable.
    pub backup: bool,
    /// Maximum concurrent connections/requests; 0 = unlimited.
    pub maxconn: u32,
    /// Maximum requests queued for this server; 0 = unlimited.
    pub maxqueue: u32,
    /// Slow-start duration after the server comes back up; zero = none.
    pub slowstart: Duration,
    /// Initial administrative state (`disabled` in configuration = maint).
    pub admin: AdminState,
    /// Initial operational state.
    pub op: OpState,
}

impl ServerConfig {
    /// A server with HAProxy's defaults: weight 1, active, unlimited, ready and up.
    pub fn new(name: impl Into<Arc<str>>, address: Address) -> Self {
        ServerConfig {
            name: name.into(),
            address,
            id: None,
            weight: Weight::DEFAULT,
            backup: false,
            maxconn: 0,
            maxqueue: 0,
            slowstart: Duration::ZERO,
            admin: AdminState::Ready,
            op: OpState::Up,
        }
    }

    /// Sets the weight, clamped to 256.
    pub fn weight(mut self, w: u32) -> Self {
        self.weight = Weight(w.min(256) as u16);
        self
    }

    /// Sets the numeric id.
    pub fn id(mut self, id: u32) -> Self {
        self.id = Some(id);
        self
    }

    /// Marks the server as a backup.
    pub fn backup(mut self, backup: bool) -> Self {
        self.backup = backup;
        self
    }

    /// Sets maxconn (0 = unlimited).
    pub fn maxconn(mut self, n: u32) -> Self {
        self.maxconn = n;
        self
    }

    /// Sets maxqueue (0 = unlimited).
    pub fn maxqueue(mut self, n: u32) -> Self {
        self.maxqueue = n;
        self
    }

    /// Sets the slow-start duration.
    pub fn slowstart(mut self, d: Duration) -> Self {
        self.slowstart = d;
        self
    }

    /// Sets the initial administrative state.
    pub fn admin(mut self, s: AdminState) -> Self {
        self.admin = s;
        self
    }

    /// Sets the initial operational state.
    pub fn op(mut self, s: OpState) -> Self {
        self.op = s;
        self
    }
}

/// Live counters of a server, all atomics (relaxed: they are statistics).
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Requests or connections in flight now (HAProxy `scur`).
    pub inflight: AtomicU32,
    /// Highest in-flight seen (`smax`).
    pub max_inflight: AtomicU32,
    /// Total connections or requests served (`stot`/`lbtot`).
    pub total: AtomicU64,
    /// Requests waiting in a queue for this server (`qcur`).
    pub queued: AtomicU32,
    /// Connection errors (`econ`).
    pub connect_errors: AtomicU64,
    /// Response errors (`eresp`).
    pub response_errors: AtomicU64,
    /// Bytes received from clients (`bin`).
    pub bytes_in: AtomicU64,
    /// Bytes sent to clients (`bout`).
    pub bytes_out: AtomicU64,
    /// Retries (`wretr`).
    pub retries: AtomicU64,
    /// Redispatches away from this server (`wredis`).
    pub redispatches: AtomicU64,
}

impl ServerStats {
    /// Current in-flight count.
    pub fn inflight(&self) -> u32 {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Total served.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

/// A server of a backend: configuration plus live state.
///
/// Created by [`Backend`](crate::Backend); shared as `Arc<Server>`.
pub struct Server {
    name: Arc<str>,
    id: ServerId,
    backup: bool,
    slowstart: Duration,
    initial_weight: Weight,
    address: ArcSwap<Address>,
    weight: AtomicU32,
    maxconn: AtomicU32,
    maxqueue: AtomicU32,
    admin: AtomicU8,
    op: AtomicU8,
    /// When the server last became usable, as nanoseconds after `epoch` (for slowstart);
    /// u64::MAX when it never went through a failure (no ramp at start-up).
    up_since: AtomicU64,
    /// Last state change, nanoseconds after `epoch`.
    last_change: AtomicU64,
    epoch: Instant,
    /// Position in the backend's least-connections index, maintained under its lock.
    pub(crate) lc_slot: AtomicU32,
    stats: ServerStats,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("address", &*self.address.load())
            .field("weight", &self.weight())
            .field("backup", &self.backup)
            .field("admin", &self.admin_state())
            .field("op", &self.op_state())
            .field("inflight", &self.stats.inflight())
            .finish()
    }
}

const NEVER: u64 = u64::MAX;

impl Server {
    pub(crate) fn new(cfg: ServerConfig, id: ServerId, epoch: Instant) -> Self {
        Server {
            name: cfg.name,
            id,
            backup: cfg.backup,
            slowstart: cfg.slowstart,
            initial_weight: cfg.weight,
            address: ArcSwap::from_pointee(cfg.address),
            weight: AtomicU32::new(cfg.weight.get()),
            maxconn: AtomicU32::new(cfg.maxconn),
            maxqueue: AtomicU32::new(cfg.maxqueue),
            admin: AtomicU8::new(cfg.admin as u8),
            op: AtomicU8::new(cfg.op as u8),
            up_since: AtomicU64::new(NEVER),
            last_change: AtomicU64::new(0),
            epoch,
            lc_slot: AtomicU32::new(u32::MAX),
            stats: ServerStats::default(),
        }
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's name, shared.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// The server's numeric id.
    pub fn id(&self) -> ServerId {
        self.id
    }

    /// Whether this is a backup server.
    pub fn is_backup(&self) -> bool {
        self.backup
    }

    /// The configured slow-start duration.
    pub fn slowstart(&self) -> Duration {
        self.slowstart
    }

    /// The current address.
    pub fn address(&self) -> Arc<Address> {
        self.address.load_full()
    }

    pub(crate) fn set_address(&self, a: Address) {
        self.address.store(Arc::new(a));
    }

    /// The current (user) weight.
    pub fn weight(&self) -> Weight {
        Weight(self.weight.load(Ordering::Relaxed) as u16)
    }

    /// The weight it was configured with (for relative `set weight N%`).
    pub fn initial_weight(&self) -> Weight {
        self.initial_weight
    }

    pub(crate) fn set_weight(&self, w: Weight) {
        self.weight.store(w.get(), Ordering::Relaxed);
    }

    /// The current maxconn (0 = unlimited).
    pub fn maxconn(&self) -> u32 {
        self.maxconn.load(Ordering::Relaxed)
    }

    pub(crate) fn set_maxconn(&self, n: u32) {
        self.maxconn.store(n, Ordering::Relaxed);
    }

    /// The current maxqueue (0 = unlimited).
    pub fn maxqueue(&self) -> u32 {
        self.maxqueue.load(Ordering::Relaxed)
    }

    /// The administrative state.
    pub fn admin_state(&self) -> AdminState {
        AdminState::from_u8(self.admin.load(Ordering::Acquire))
    }

    /// The operational state.
    pub fn op_state(&self) -> OpState {
        OpState::from_u8(self.op.load(Ordering::Acquire))
    }

    pub(crate) fn set_admin_state(&self, s: AdminState, now: Instant) -> AdminState {
        let was_usable = self.is_usable();
        let old = AdminState::from_u8(self.admin.swap(s as u8, Ordering::AcqRel));
        self.after_change(was_usable, now);
        old
    }

    pub(crate) fn set_op_state(&self, s: OpState, now: Instant) -> OpState {
        let was_usable = self.is_usable();
        let old = OpState::from_u8(self.op.swap(s as u8, Ordering::AcqRel));
        self.after_change(was_usable, now);
        old
    }

    fn after_change(&self, was_usable: bool, now: Instant) {
        let t = self.nanos(now);
        self.last_change.store(t, Ordering::Relaxed);
        let usable = self.is_usable();
        if usable && !was_usable && !self.slowstart.is_zero() {
            self.up_since.store(t, Ordering::Relaxed);
        }
    }

    fn nanos(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// Time since the last state change.
    pub fn since_last_change(&self, now: Instant) -> Duration {
        let t = self.last_change.load(Ordering::Relaxed);
        Duration::from_nanos(self.nanos(now).saturating_sub(t))
    }

    /// Whether the server may receive new load-balanced traffic: up (not NOLB), admin
    /// ready, weight above zero.
    pub fn is_usable(&self) -> bool {
        matches!(self.op_state(), OpState::Up | OpState::GoingDown)
            && self.admin_state() == AdminState::Ready
            && self.weight.load(Ordering::Relaxed) > 0
    }

    /// Whether the server may receive persistent traffic (cookie, stick table): up (NOLB
    /// included) and not in maintenance; drain and weight 0 still accept it.
    pub fn accepts_persistent(&self) -> bool {
        self.op_state().is_up() && self.admin_state() != AdminState::Maint
    }

    /// Whether a new request would stay within maxconn.
    pub fn has_free_slot(&self) -> bool {
        let max = self.maxconn();
        max == 0 || self.stats.inflight() < max
    }

    /// Live counters.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// The slow-start progress in 0.0..=1.0 at `now` (1.0 = no ramp in progress).
    pub fn warmup(&self, now: Instant) -> f64 {
        let since = self.up_since.load(Ordering::Relaxed);
        if since == NEVER || self.slowstart.is_zero() {
            return 1.0;
        }
        let elapsed = self.nanos(now).saturating_sub(since) as f64;
        (elapsed / self.slowstart.as_nanos() as f64).min(1.0)
    }

    /// When the slow-start ramp ends, if one is in progress at `now`.
    pub fn warmup_ends(&self, now: Instant) -> Option<Instant> {
        let since = self.up_since.load(Ordering::Relaxed);
        if since == NEVER || self.slowstart.is_zero() {
            return None;
        }
        let end = self.epoch + Duration::from_nanos(since) + self.slowstart;
        (end > now).then_some(end)
    }

    /// The effective weight for dynamic algorithms, scaled by 16 as HAProxy's
    /// BE_WEIGHT_SCALE, with the slow-start ramp applied: during the ramp it grows linearly
    /// from 1/16 of the weight (at least 1) to the full weight.
    pub fn eweight(&self, now: Instant) -> u32 {
        let full = self.weight().get() * 16;
        let w = self.warmup(now);
        if w >= 1.0 || full == 0 {
            return full;
        }
        let ramp = (full as f64 * w).ceil() as u32;
        ramp.max((full / 16).max(1)).min(full)
    }

    /// The effective maxconn during slow start: grows from 1 to maxconn (0 = unlimited).
    pub fn effective_maxconn(&self, now: Instant) -> u32 {
        let max = self.maxconn();
        if max == 0 {
            return 0;
        }
        let w = self.warmup(now);
        if w >= 1.0 {
            max
        } else {
            ((max as f64 * w) as u32).max(1)
        }
    }

    /// Counts a new in-flight unit; returns false (and counts nothing) when `limit` would be
    /// exceeded (`limit` 0 = unlimited).
    pub(crate) fn try_acquire(&self, limit: u32) -> bool {
        let s = &self.stats;
        let mut cur = s.inflight.load(Ordering::Relaxed);
        loop {
            if limit != 0 && cur >= limit {
                return false;
            }
            match s.inflight.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        s.total.fetch_add(1, Ordering::Relaxed);
        // A read first: the peak rarely moves, and a plain load keeps the line shared.
        if s.max_inflight.load(Ordering::Relaxed) <= cur {
            s.max_inflight.fetch_max(cur + 1, Ordering::Relaxed);
        }
        true
    }

    pub(crate) fn release(&self) {
        self.stats.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

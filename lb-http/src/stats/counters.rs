//! Lock-free traffic counters for frontends, backends and servers.
//!
//! Everything here is a relaxed atomic: counting an event costs one `fetch_add` (plus a load
//! for the rate and peak trackers), never a lock, so the proxy can count on its hot path.
//! Readers (the stats page, the Prometheus exporter) take their values one by one; a row
//! may mix values a few nanoseconds apart, which is what HAProxy does too.
//!
//! - [`ProxyCounters`]: HAProxy's `fe_counters`/`be_counters` (sessions, bytes, denials,
//!   errors, warnings, HTTP status classes, rates, average times).
//! - [`ServerHttpCounters`]: what a server row needs beyond lb-core's
//!   [`ServerStats`](lb_core::ServerStats) (status classes, request rate, aborts, times).
//! - [`RateCounter`]: HAProxy's `freq_ctr`, events per second over the last second.
//! - [`SlidingAverage`]: HAProxy's `swrate`, the average of the last 1024 samples.
//!
//! # Examples
//! ```
//! use std::time::Duration;
//! use lb_http::stats::{ProxyCounters, RequestTimes};
//!
//! let fe = ProxyCounters::new();
//! fe.session_start();
//! fe.request();
//! fe.response(200);
//! fe.add_bytes_in(120);
//! fe.add_bytes_out(4_000);
//! fe.record_times(RequestTimes {
//!     queue: Duration::ZERO,
//!     connect: Duration::from_millis(2),
//!     response: Duration::from_millis(10),
//!     total: Duration::from_millis(15),
//! });
//! fe.session_end();
//!
//! let s = fe.read();
//! assert_eq!((s.scur, s.smax, s.stot, s.req_tot), (0, 1, 1, 1));
//! assert_eq!(s.hrsp, [0, 0, 1, 0, 0, 0]);
//! assert_eq!(s.ttime, 15);
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

const PERIOD_NS: u64 = 1_000_000_000;

/// Events per second over the last second: HAProxy's `freq_ctr`.
///
/// Time is cut into one-second periods. The counter keeps the count of the current period
/// and of the previous one, and reads as
///
/// ```text
/// rate = current + previous * (time left in the current period / 1 s)
/// ```
///
/// so the previous period fades out linearly as the current one fills: a steady 100/s
/// stream reads 100 at any instant, and a counter untouched for two periods reads 0.
/// [`max`](Self::max) is the highest per-period count seen (HAProxy's `sps_max`/`rps_max`,
/// which are fed from the same current-period count).
///
/// Lock-free: each half is one `AtomicU64` packing a period number (high 32 bits) and a
/// count (low 32 bits). Counting in the current period is a load plus one `fetch_add`; the
/// first event of a new period rotates with one compare-and-swap. Time is
/// [`tokio::time::Instant`], so tests can pause and advance the clock.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use lb_http::stats::RateCounter;
/// use tokio::time::Instant;
///
/// let start = Instant::now();
/// let rate = RateCounter::starting_at(start);
/// for _ in 0..10 {
///     rate.incr_at(start);
/// }
/// assert_eq!(rate.read_at(start), 10);
/// // Halfway through the next second, half of the last second still counts.
/// assert_eq!(rate.read_at(start + Duration::from_millis(1500)), 5);
/// assert_eq!(rate.read_at(start + Duration::from_secs(2)), 0);
/// assert_eq!(rate.max(), 10);
/// ```
pub struct RateCounter {
    epoch: Instant,
    /// Period number << 32 | count in that period.
    curr: AtomicU64,
    /// Period number << 32 | count of the period before it (tagged with the period it is the
    /// "previous" of, so a reader never pairs it with the wrong current period).
    prev: AtomicU64,
    max: AtomicU32,
}

impl fmt::Debug for RateCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateCounter")
            .field("rate", &self.read())
            .field("max", &self.max())
            .finish()
    }
}

impl Default for RateCounter {
    fn default() -> Self {
        RateCounter::new()
    }
}

const fn pack(period: u32, count: u32) -> u64 {
    (period as u64) << 32 | count as u64
}

const fn period_of(v: u64) -> u32 {
    (v >> 32) as u32
}

const fn count_of(v: u64) -> u32 {
    v as u32
}

impl RateCounter {
    /// A counter whose periods start now.
    pub fn new() -> Self {
        RateCounter::starting_at(Instant::now())
    }

    /// A counter whose periods start at `epoch`.
    pub fn starting_at(epoch: Instant) -> Self {
        RateCounter {
            epoch,
            curr: AtomicU64::new(0),
            prev: AtomicU64::new(0),
            max: AtomicU32::new(0),
        }
    }

    fn position(&self, now: Instant) -> (u32, u64) {
        let ns = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        ((ns / PERIOD_NS) as u32, ns % PERIOD_NS)
    }

    /// Counts one event now.
    pub fn incr(&self) {
        self.incr_at(Instant::now());
    }

    /// Counts one event at `now`; returns the count of the current period so far.
    pub fn incr_at(&self, now: Instant) -> u32 {
        let (period, _) = self.position(now);
        let mut cur = self.curr.load(Relaxed);
        let count = loop {
            // A stored period ahead of ours means another thread read a later clock: count
            // in its period rather than rewinding.
            let behind = period.wrapping_sub(period_of(cur)) as i32;
            if behind <= 0 {
                break count_of(self.curr.fetch_add(1, Relaxed)).wrapping_add(1);
            }
            let next = pack(period, 1);
            match self.curr.compare_exchange_weak(cur, next, Relaxed, Relaxed) {
                Ok(_) => {
                    let past = if behind == 1 { count_of(cur) } else { 0 };
                    self.prev.store(pack(period, past), Relaxed);
                    break 1;
                }
                Err(actual) => cur = actual,
            }
        };
        // A plain read first: the peak rarely moves.
        if self.max.load(Relaxed) < count {
            self.max.fetch_max(count, Relaxed);
        }
        count
    }

    /// The rate now, in events per second.
    pub fn read(&self) -> u32 {
        self.read_at(Instant::now())
    }

    /// The rate at `now`, in events per second.
    pub fn read_at(&self, now: Instant) -> u32 {
        let (period, into) = self.position(now);
        let cur = self.curr.load(Relaxed);
        let prev = self.prev.load(Relaxed);
        let stored = period_of(cur);
        let behind = period.wrapping_sub(stored) as i32;
        let (current, past) = if behind <= 0 {
            let past = if period_of(prev) == stored {
                count_of(prev)
            } else {
                0
            };
            (count_of(cur), past)
        } else if behind == 1 {
            (0, count_of(cur))
        } else {
            (0, 0)
        };
        let remain = PERIOD_NS - into;
        let faded = (u64::from(past) * remain / PERIOD_NS) as u32;
        current.saturating_add(faded)
    }

    /// The highest count seen in one period.
    pub fn max(&self) -> u32 {
        self.max.load(Relaxed)
    }
}

/// The number of samples [`SlidingAverage`] averages over (HAProxy's `TIME_STATS_SAMPLES`).
pub const TIME_STATS_SAMPLES: u64 = 1024;

/// The average of the last 1024 samples, with their maximum: HAProxy's `swrate`.
///
/// HAProxy keeps a running *sum* `S` rather than the average, and adds a sample `v` as
///
/// ```text
/// S = S - ceil(S / n) + v        (n = 1024 once more than 1024 samples were taken)
/// S = S + v                      (before that: a plain sum)
/// ```
///
/// and reads the average as `ceil(S / w)` where `w` is the number of samples taken while
/// fewer than 1024, then 1024. The first 1024 samples therefore give their exact (rounded
/// up) mean; after that each new sample replaces 1/1024 of the sum, an exponential moving
/// average with a 1024-sample time constant ("the average over the last 1024 requests" in
/// HAProxy's documentation). Values are whole milliseconds, as in the stats.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use lb_http::stats::SlidingAverage;
///
/// let avg = SlidingAverage::new();
/// assert_eq!(avg.average(), 0);
/// avg.add(Duration::from_millis(10));
/// avg.add(Duration::from_millis(20));
/// assert_eq!(avg.average(), 15);
/// assert_eq!(avg.max(), 20);
/// ```
#[derive(Debug, Default)]
pub struct SlidingAverage {
    sum: AtomicU64,
    samples: AtomicU64,
    max: AtomicU64,
}

impl SlidingAverage {
    /// An empty average.
    pub const fn new() -> Self {
        SlidingAverage {
            sum: AtomicU64::new(0),
            samples: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Adds one sample.
    pub fn add(&self, value: Duration) {
        self.add_ms(value.as_millis().min(u128::from(u32::MAX)) as u64);
    }

    /// Adds one sample, in milliseconds.
    pub fn add_ms(&self, v: u64) {
        let n = self.samples.fetch_add(1, Relaxed) + 1;
        let window = if n > TIME_STATS_SAMPLES {
            TIME_STATS_SAMPLES
        } else {
            0
        };
        // Never fails: the closure always returns Some.
        let _ = self.sum.fetch_update(Relaxed, Relaxed, |s| {
            let drop = if window == 0 { 0 } else { s.div_ceil(window) };
            Some(s - drop + v)
        });
        if self.max.load(Relaxed) < v {
            self.max.fetch_max(v, Relaxed);
        }
    }

    /// The average, in milliseconds (0 before the first sample).
    pub fn average(&self) -> u64 {
        let n = self.samples.load(Relaxed);
        let window = if n > 0 && n < TIME_STATS_SAMPLES {
            n
        } else {
            TIME_STATS_SAMPLES
        };
        self.sum.load(Relaxed).div_ceil(window)
    }

    /// The largest sample, in milliseconds.
    pub fn max(&self) -> u64 {
        self.max.load(Relaxed)
    }

    /// How many samples were added.
    pub fn samples(&self) -> u64 {
        self.samples.load(Relaxed)
    }
}

/// The four phase times of a request, for [`ProxyCounters::record_times`].
///
/// Each is the length of its own phase, not a timestamp: `queue` is the time spent waiting
/// for a server slot, `connect` the time to establish the server connection (zero when a
/// pooled one was reused), `response` the time from the request sent to the response
/// headers received, `total` the whole request from accept (or from the end of the previous
/// request on a keep-alive connection) to the last byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestTimes {
    /// Time in the queue (`qtime`).
    pub queue: Duration,
    /// Time to connect (`ctime`).
    pub connect: Duration,
    /// Time to the response headers (`rtime`).
    pub response: Duration,
    /// Total time (`ttime`).
    pub total: Duration,
}

/// Average and maximum times of a proxy or server (`qtime`..`ttime`, `qtime_max`..).
#[derive(Debug, Default)]
pub struct TimeStats {
    /// Queue time.
    pub queue: SlidingAverage,
    /// Connect time.
    pub connect: SlidingAverage,
    /// Response time.
    pub response: SlidingAverage,
    /// Total time.
    pub total: SlidingAverage,
}

impl TimeStats {
    /// Adds one request's times.
    pub fn record(&self, t: RequestTimes) {
        self.queue.add(t.queue);
        self.connect.add(t.connect);
        self.response.add(t.response);
        self.total.add(t.total);
    }
}

/// HTTP responses by status class: index 0 is "other" (below 100 or above 599), 1 to 5 are
/// 1xx to 5xx (HAProxy's `p.http.rsp[]`).
#[derive(Debug, Default)]
pub struct HttpResponses([AtomicU64; 6]);

impl HttpResponses {
    /// The slot of a status code: its class 1..=5, or 0 for anything else.
    pub const fn class_of(status: u16) -> usize {
        match status / 100 {
            c @ 1..=5 => c as usize,
            _ => 0,
        }
    }

    /// Counts one response.
    pub fn record(&self, status: u16) {
        self.0[Self::class_of(status)].fetch_add(1, Relaxed);
    }

    /// The counts, `[other, 1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub fn read(&self) -> [u64; 6] {
        std::array::from_fn(|i| self.0[i].load(Relaxed))
    }
}

/// A clock reading as nanoseconds after an epoch, 0 meaning "never".
#[derive(Debug)]
struct LastSeen {
    epoch: Instant,
    at: AtomicU64,
}

impl LastSeen {
    fn new(epoch: Instant) -> Self {
        LastSeen {
            epoch,
            at: AtomicU64::new(0),
        }
    }

    fn touch(&self, now: Instant) {
        // Stored plus one, so that 0 keeps meaning "never".
        let ns = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        self.at.store(ns.saturating_add(1), Relaxed);
    }

    /// Whole seconds since the last touch, or None if never touched.
    fn age(&self, now: Instant) -> Option<u64> {
        let at = self.at.load(Relaxed);
        if at == 0 {
            return None;
        }
        let ns = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        Some(ns.saturating_sub(at - 1) / PERIOD_NS)
    }
}

/// Counters of a frontend or a backend: HAProxy's `fe_counters`/`be_counters`.
///
/// Share it as `Arc<ProxyCounters>` (the [`StatsRegistry`](super::StatsRegistry) hands one
/// out per registered proxy) and call the event methods from the engine. Each is one relaxed
/// `fetch_add` (sessions and requests also feed a [`RateCounter`]).
///
/// Which events to report, and from where:
///
/// | event | frontend | backend |
/// |-------|----------|---------|
/// | [`connection_accepted`](Self::connection_accepted) | each accepted connection | - |
/// | [`session_start`](Self::session_start) / [`session_end`](Self::session_end) | connection admitted past connection rules | request (or TCP connection) handed to the backend |
/// | [`request`](Self::request) | each HTTP request parsed | each HTTP request forwarded |
/// | [`response`](Self::response) | each response sent | each response received |
/// | bytes, denials, errors, warnings | as they happen | as they happen |
/// | [`record_times`](Self::record_times) | - | each request that got a response from a server |
///
/// For a backend, lb-core already counts sessions (`scur`, `stot`) and the queue; the
/// snapshot takes those from the [`Backend`](lb_core::Backend) and the rest from here.
#[derive(Debug)]
pub struct ProxyCounters {
    scur: AtomicU64,
    smax: AtomicU64,
    stot: AtomicU64,
    conn_tot: AtomicU64,
    bin: AtomicU64,
    bout: AtomicU64,
    dreq: AtomicU64,
    dresp: AtomicU64,
    ereq: AtomicU64,
    econ: AtomicU64,
    eresp: AtomicU64,
    wretr: AtomicU64,
    wredis: AtomicU64,
    dcon: AtomicU64,
    dses: AtomicU64,
    intercepted: AtomicU64,
    wrew: AtomicU64,
    eint: AtomicU64,
    connect: AtomicU64,
    reuse: AtomicU64,
    cli_abrt: AtomicU64,
    srv_abrt: AtomicU64,
    req_tot: AtomicU64,
    hrsp: HttpResponses,
    sess_rate: RateCounter,
    conn_rate: RateCounter,
    req_rate: RateCounter,
    times: TimeStats,
    last_sess: LastSeen,
}

impl Default for ProxyCounters {
    fn default() -> Self {
        ProxyCounters::new()
    }
}

macro_rules! event {
    ($(#[$doc:meta])* $name:ident => $field:ident) => {
        $(#[$doc])*
        #[inline]
        pub fn $name(&self) {
            self.$field.fetch_add(1, Relaxed);
        }
    };
}

impl ProxyCounters {
    /// Zeroed counters whose rate periods start now.
    pub fn new() -> Self {
        ProxyCounters::starting_at(Instant::now())
    }

    /// Zeroed counters whose rate periods start at `epoch`.
    pub fn starting_at(epoch: Instant) -> Self {
        ProxyCounters {
            scur: AtomicU64::new(0),
            smax: AtomicU64::new(0),
            stot: AtomicU64::new(0),
            conn_tot: AtomicU64::new(0),
            bin: AtomicU64::new(0),
            bout: AtomicU64::new(0),
            dreq: AtomicU64::new(0),
            dresp: AtomicU64::new(0),
            ereq: AtomicU64::new(0),
            econ: AtomicU64::new(0),
            eresp: AtomicU64::new(0),
            wretr: AtomicU64::new(0),
            wredis: AtomicU64::new(0),
            dcon: AtomicU64::new(0),
            dses: AtomicU64::new(0),
            intercepted: AtomicU64::new(0),
            wrew: AtomicU64::new(0),
            eint: AtomicU64::new(0),
            connect: AtomicU64::new(0),
            reuse: AtomicU64::new(0),
            cli_abrt: AtomicU64::new(0),
            srv_abrt: AtomicU64::new(0),
            req_tot: AtomicU64::new(0),
            hrsp: HttpResponses::default(),
            sess_rate: RateCounter::starting_at(epoch),
            conn_rate: RateCounter::starting_at(epoch),
            req_rate: RateCounter::starting_at(epoch),
            times: TimeStats::default(),
            last_sess: LastSeen::new(epoch),
        }
    }

    /// A connection was accepted (`conn_tot`, `conn_rate`). Frontends only.
    pub fn connection_accepted(&self) {
        self.conn_tot.fetch_add(1, Relaxed);
        self.conn_rate.incr();
    }

    /// A session started (`scur`, `smax`, `stot`, `rate`, `lastsess`). Pair it with
    /// [`session_end`](Self::session_end), or use [`open_session`](Self::open_session).
    pub fn session_start(&self) {
        self.session_start_at(Instant::now());
    }

    /// [`session_start`](Self::session_start) at a given time.
    pub fn session_start_at(&self, now: Instant) {
        let cur = self.scur.fetch_add(1, Relaxed) + 1;
        self.stot.fetch_add(1, Relaxed);
        if self.smax.load(Relaxed) < cur {
            self.smax.fetch_max(cur, Relaxed);
        }
        self.sess_rate.incr_at(now);
        self.last_sess.touch(now);
    }

    /// A session ended.
    pub fn session_end(&self) {
        // Saturating: an unpaired end must not wrap the gauge around.
        let _ = self
            .scur
            .fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(1)));
    }

    /// Starts a session that ends when the returned guard drops.
    pub fn open_session(self: &Arc<Self>) -> SessionGuard {
        self.session_start();
        SessionGuard {
            counters: self.clone(),
        }
    }

    /// An HTTP request (`req_tot`, `req_rate`).
    pub fn request(&self) {
        self.req_tot.fetch_add(1, Relaxed);
        self.req_rate.incr();
    }

    /// [`request`](Self::request) at a time the caller already read.
    pub fn request_at(&self, now: Instant) {
        self.req_tot.fetch_add(1, Relaxed);
        self.req_rate.incr_at(now);
    }

    /// An HTTP response with this status (`hrsp_1xx`..`hrsp_other`).
    pub fn response(&self, status: u16) {
        self.hrsp.record(status);
    }

    /// Request bytes (`bin`).
    pub fn add_bytes_in(&self, n: u64) {
        self.bin.fetch_add(n, Relaxed);
    }

    /// Response bytes (`bout`).
    pub fn add_bytes_out(&self, n: u64) {
        self.bout.fetch_add(n, Relaxed);
    }

    event!(
        /// A request denied by a rule (`dreq`).
        denied_request => dreq
    );
    event!(
        /// A response denied by a rule (`dresp`).
        denied_response => dresp
    );
    event!(
        /// An invalid or failed client request (`ereq`). Frontends.
        request_error => ereq
    );
    event!(
        /// A failed connection to a server (`econ`). Backends.
        connect_error => econ
    );
    event!(
        /// An invalid or failed server response (`eresp`). Backends.
        response_error => eresp
    );
    event!(
        /// A connection retry (`wretr`). Backends.
        retry => wretr
    );
    event!(
        /// A redispatch to another server (`wredis`). Backends.
        redispatch => wredis
    );
    event!(
        /// A connection refused by a `tcp-request connection` rule (`dcon`). Frontends.
        denied_connection => dcon
    );
    event!(
        /// A session refused by a `tcp-request session` rule (`dses`). Frontends.
        denied_session => dses
    );
    event!(
        /// A request answered by the proxy itself: redirect, stats, monitor (`intercepted`).
        intercepted => intercepted
    );
    event!(
        /// A failed header rewrite (`wrew`).
        failed_rewrite => wrew
    );
    event!(
        /// An internal error (`eint`).
        internal_error => eint
    );
    event!(
        /// A connection attempt to a server (`connect`). Backends.
        connect_attempt => connect
    );
    event!(
        /// A request sent on a reused server connection (`reuse`). Backends.
        connection_reused => reuse
    );
    event!(
        /// A transfer aborted by the client (`cli_abrt`).
        client_abort => cli_abrt
    );
    event!(
        /// A transfer aborted by the server (`srv_abrt`).
        server_abort => srv_abrt
    );

    /// The times of a request that got a response from a server (`qtime`..`ttime`).
    pub fn record_times(&self, t: RequestTimes) {
        self.times.record(t);
    }

    /// Raises the recorded session peak to at least `n` (for sampled peaks).
    pub fn note_sessions(&self, n: u64) {
        if self.smax.load(Relaxed) < n {
            self.smax.fetch_max(n, Relaxed);
        }
    }

    /// Reads every counter now.
    pub fn read(&self) -> CountersSnapshot {
        self.read_at(Instant::now())
    }

    /// Reads every counter, rates and ages as of `now`.
    pub fn read_at(&self, now: Instant) -> CountersSnapshot {
        let l = |a: &AtomicU64| a.load(Relaxed);
        CountersSnapshot {
            scur: l(&self.scur),
            smax: l(&self.smax),
            stot: l(&self.stot),
            conn_tot: l(&self.conn_tot),
            bin: l(&self.bin),
            bout: l(&self.bout),
            dreq: l(&self.dreq),
            dresp: l(&self.dresp),
            ereq: l(&self.ereq),
            econ: l(&self.econ),
            eresp: l(&self.eresp),
            wretr: l(&self.wretr),
            wredis: l(&self.wredis),
            dcon: l(&self.dcon),
            dses: l(&self.dses),
            intercepted: l(&self.intercepted),
            wrew: l(&self.wrew),
            eint: l(&self.eint),
            connect: l(&self.connect),
            reuse: l(&self.reuse),
            cli_abrt: l(&self.cli_abrt),
            srv_abrt: l(&self.srv_abrt),
            req_tot: l(&self.req_tot),
            hrsp: self.hrsp.read(),
            rate: u64::from(self.sess_rate.read_at(now)),
            rate_max: u64::from(self.sess_rate.max()),
            conn_rate: u64::from(self.conn_rate.read_at(now)),
            conn_rate_max: u64::from(self.conn_rate.max()),
            req_rate: u64::from(self.req_rate.read_at(now)),
            req_rate_max: u64::from(self.req_rate.max()),
            qtime: self.times.queue.average(),
            ctime: self.times.connect.average(),
            rtime: self.times.response.average(),
            ttime: self.times.total.average(),
            qtime_max: self.times.queue.max(),
            ctime_max: self.times.connect.max(),
            rtime_max: self.times.response.max(),
            ttime_max: self.times.total.max(),
            lastsess: self.last_sess.age(now),
        }
    }
}

/// Ends a session of a [`ProxyCounters`] when dropped.
#[derive(Debug)]
pub struct SessionGuard {
    counters: Arc<ProxyCounters>,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.counters.session_end();
    }
}

/// The values of a [`ProxyCounters`] at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// Current sessions.
    pub scur: u64,
    /// Most concurrent sessions.
    pub smax: u64,
    /// Total sessions.
    pub stot: u64,
    /// Total connections accepted.
    pub conn_tot: u64,
    /// Request bytes.
    pub bin: u64,
    /// Response bytes.
    pub bout: u64,
    /// Denied requests.
    pub dreq: u64,
    /// Denied responses.
    pub dresp: u64,
    /// Request errors.
    pub ereq: u64,
    /// Connection errors.
    pub econ: u64,
    /// Response errors.
    pub eresp: u64,
    /// Retries.
    pub wretr: u64,
    /// Redispatches.
    pub wredis: u64,
    /// Denied connections.
    pub dcon: u64,
    /// Denied sessions.
    pub dses: u64,
    /// Intercepted requests.
    pub intercepted: u64,
    /// Failed header rewrites.
    pub wrew: u64,
    /// Internal errors.
    pub eint: u64,
    /// Connection attempts.
    pub connect: u64,
    /// Reused connections.
    pub reuse: u64,
    /// Client aborts.
    pub cli_abrt: u64,
    /// Server aborts.
    pub srv_abrt: u64,
    /// HTTP requests.
    pub req_tot: u64,
    /// HTTP responses, `[other, 1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub hrsp: [u64; 6],
    /// Sessions per second.
    pub rate: u64,
    /// Highest sessions per second.
    pub rate_max: u64,
    /// Connections per second.
    pub conn_rate: u64,
    /// Highest connections per second.
    pub conn_rate_max: u64,
    /// HTTP requests per second.
    pub req_rate: u64,
    /// Highest HTTP requests per second.
    pub req_rate_max: u64,
    /// Average queue time, ms.
    pub qtime: u64,
    /// Average connect time, ms.
    pub ctime: u64,
    /// Average response time, ms.
    pub rtime: u64,
    /// Average total time, ms.
    pub ttime: u64,
    /// Largest queue time, ms.
    pub qtime_max: u64,
    /// Largest connect time, ms.
    pub ctime_max: u64,
    /// Largest response time, ms.
    pub rtime_max: u64,
    /// Largest total time, ms.
    pub ttime_max: u64,
    /// Seconds since the last session, None if none yet.
    pub lastsess: Option<u64>,
}

/// Per-server counters that lb-core's [`ServerStats`](lb_core::ServerStats) does not keep:
/// HTTP status classes, requests, aborts, times.
///
/// The [`StatsRegistry`](super::StatsRegistry) keeps one per (backend, server); fetch it
/// once with [`StatsRegistry::server_counters`](super::StatsRegistry::server_counters) and
/// keep the `Arc` beside the server.
#[derive(Debug)]
pub struct ServerHttpCounters {
    req_tot: AtomicU64,
    dresp: AtomicU64,
    cli_abrt: AtomicU64,
    srv_abrt: AtomicU64,
    wrew: AtomicU64,
    eint: AtomicU64,
    connect: AtomicU64,
    reuse: AtomicU64,
    qmax: AtomicU64,
    hrsp: HttpResponses,
    rate: RateCounter,
    times: TimeStats,
    last_sess: LastSeen,
}

impl Default for ServerHttpCounters {
    fn default() -> Self {
        ServerHttpCounters::new()
    }
}

impl ServerHttpCounters {
    /// Zeroed counters whose rate periods start now.
    pub fn new() -> Self {
        ServerHttpCounters::starting_at(Instant::now())
    }

    /// Zeroed counters whose rate periods start at `epoch`.
    pub fn starting_at(epoch: Instant) -> Self {
        ServerHttpCounters {
            req_tot: AtomicU64::new(0),
            dresp: AtomicU64::new(0),
            cli_abrt: AtomicU64::new(0),
            srv_abrt: AtomicU64::new(0),
            wrew: AtomicU64::new(0),
            eint: AtomicU64::new(0),
            connect: AtomicU64::new(0),
            reuse: AtomicU64::new(0),
            qmax: AtomicU64::new(0),
            hrsp: HttpResponses::default(),
            rate: RateCounter::starting_at(epoch),
            times: TimeStats::default(),
            last_sess: LastSeen::new(epoch),
        }
    }

    /// A request (or TCP session) sent to the server (`req_tot`, `rate`, `lastsess`).
    pub fn request(&self) {
        self.request_at(Instant::now());
    }

    /// [`request`](Self::request) at a given time.
    pub fn request_at(&self, now: Instant) {
        self.req_tot.fetch_add(1, Relaxed);
        self.rate.incr_at(now);
        self.last_sess.touch(now);
    }

    /// A response from the server with this status.
    pub fn response(&self, status: u16) {
        self.hrsp.record(status);
    }

    event!(
        /// A response denied by a rule (`dresp`).
        denied_response => dresp
    );
    event!(
        /// A transfer aborted by the client (`cli_abrt`).
        client_abort => cli_abrt
    );
    event!(
        /// A transfer aborted by the server (`srv_abrt`).
        server_abort => srv_abrt
    );
    event!(
        /// A failed header rewrite (`wrew`).
        failed_rewrite => wrew
    );
    event!(
        /// An internal error (`eint`).
        internal_error => eint
    );
    event!(
        /// A connection attempt (`connect`).
        connect_attempt => connect
    );
    event!(
        /// A request sent on a reused connection (`reuse`).
        connection_reused => reuse
    );

    /// Raises the queue peak (`qmax`) to at least `len`.
    pub fn note_queued(&self, len: u64) {
        if self.qmax.load(Relaxed) < len {
            self.qmax.fetch_max(len, Relaxed);
        }
    }

    /// The times of a request served by this server.
    pub fn record_times(&self, t: RequestTimes) {
        self.times.record(t);
    }

    /// Reads every counter, rates and ages as of `now`.
    pub fn read_at(&self, now: Instant) -> ServerCountersSnapshot {
        let l = |a: &AtomicU64| a.load(Relaxed);
        ServerCountersSnapshot {
            req_tot: l(&self.req_tot),
            dresp: l(&self.dresp),
            cli_abrt: l(&self.cli_abrt),
            srv_abrt: l(&self.srv_abrt),
            wrew: l(&self.wrew),
            eint: l(&self.eint),
            connect: l(&self.connect),
            reuse: l(&self.reuse),
            qmax: l(&self.qmax),
            hrsp: self.hrsp.read(),
            rate: u64::from(self.rate.read_at(now)),
            rate_max: u64::from(self.rate.max()),
            qtime: self.times.queue.average(),
            ctime: self.times.connect.average(),
            rtime: self.times.response.average(),
            ttime: self.times.total.average(),
            qtime_max: self.times.queue.max(),
            ctime_max: self.times.connect.max(),
            rtime_max: self.times.response.max(),
            ttime_max: self.times.total.max(),
            lastsess: self.last_sess.age(now),
        }
    }
}

/// The values of a [`ServerHttpCounters`] at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerCountersSnapshot {
    /// Requests sent.
    pub req_tot: u64,
    /// Denied responses.
    pub dresp: u64,
    /// Client aborts.
    pub cli_abrt: u64,
    /// Server aborts.
    pub srv_abrt: u64,
    /// Failed header rewrites.
    pub wrew: u64,
    /// Internal errors.
    pub eint: u64,
    /// Connection attempts.
    pub connect: u64,
    /// Reused connections.
    pub reuse: u64,
    /// Queue peak.
    pub qmax: u64,
    /// HTTP responses, `[other, 1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub hrsp: [u64; 6],
    /// Requests per second.
    pub rate: u64,
    /// Highest requests per second.
    pub rate_max: u64,
    /// Average queue time, ms.
    pub qtime: u64,
    /// Average connect time, ms.
    pub ctime: u64,
    /// Average response time, ms.
    pub rtime: u64,
    /// Average total time, ms.
    pub ttime: u64,
    /// Largest queue time, ms.
    pub qtime_max: u64,
    /// Largest connect time, ms.
    pub ctime_max: u64,
    /// Largest response time, ms.
    pub rtime_max: u64,
    /// Largest total time, ms.
    pub ttime_max: u64,
    /// Seconds since the last request, None if none yet.
    pub lastsess: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_fades_over_the_next_second() {
        let start = Instant::now();
        let r = RateCounter::starting_at(start);
        for _ in 0..100 {
            r.incr();
        }
        assert_eq!(r.read(), 100);
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(r.read(), 100);
        // Into the next period: the previous one weighs what is left of this one.
        tokio::time::advance(Duration::from_millis(251)).await;
        assert_eq!(r.read(), 75);
        for _ in 0..10 {
            r.incr();
        }
        assert_eq!(r.read(), 85);
        tokio::time::advance(Duration::from_millis(750)).await;
        // 2.0 s: the 100 are two periods old, the 10 are the previous period at its start.
        assert_eq!(r.read(), 10);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(r.read(), 0);
        assert_eq!(r.max(), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_skips_idle_periods() {
        let start = Instant::now();
        let r = RateCounter::starting_at(start);
        r.incr();
        r.incr();
        tokio::time::advance(Duration::from_secs(5)).await;
        // The first event after an idle gap must not inherit the stale period.
        r.incr();
        assert_eq!(r.read(), 1);
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(r.read(), 1);
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(
            r.read(),
            1,
            "start of the next period: the whole previous one counts"
        );
    }

    #[test]
    fn rate_tolerates_a_late_clock() {
        let start = Instant::now();
        let r = RateCounter::starting_at(start);
        r.incr_at(start + Duration::from_secs(3));
        // Another thread with an older reading: counted in the newer period, no rewind.
        r.incr_at(start + Duration::from_millis(2500));
        assert_eq!(r.read_at(start + Duration::from_secs(3)), 2);
    }

    #[test]
    fn sliding_average_is_exact_then_slides() {
        let a = SlidingAverage::new();
        for v in 1..=1024 {
            a.add_ms(v);
        }
        // Mean of 1..=1024 is 512.5, rounded up as HAProxy does.
        assert_eq!(a.average(), 513);
        for _ in 0..20_000 {
            a.add_ms(100);
        }
        // Long after a change of regime the average converges on the new value.
        assert!((100..=101).contains(&a.average()), "{}", a.average());
        assert_eq!(a.max(), 1024);
        assert_eq!(a.samples(), 21_024);
    }

    #[test]
    fn status_classes() {
        let h = HttpResponses::default();
        for s in [100, 200, 204, 302, 404, 503, 99, 600, 0] {
            h.record(s);
        }
        assert_eq!(h.read(), [3, 1, 2, 1, 1, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn proxy_counters_sessions_and_rates() {
        let c = Arc::new(ProxyCounters::new());
        let g1 = c.open_session();
        let g2 = c.open_session();
        c.request();
        c.request();
        c.request();
        drop(g1);
        let s = c.read();
        assert_eq!((s.scur, s.smax, s.stot), (1, 2, 2));
        assert_eq!(
            (s.rate, s.rate_max, s.req_rate, s.req_rate_max),
            (2, 2, 3, 3)
        );
        assert_eq!(s.lastsess, Some(0));
        drop(g2);
        c.session_end(); // unpaired: saturates
        assert_eq!(c.read().scur, 0);
        tokio::time::advance(Duration::from_secs(3)).await;
        let s = c.read();
        assert_eq!((s.rate, s.req_rate, s.rate_max), (0, 0, 2));
        assert_eq!(s.lastsess, Some(3));
    }

    #[test]
    fn proxy_counters_events() {
        let c = ProxyCounters::new();
        c.denied_request();
        c.denied_response();
        c.request_error();
        c.connect_error();
        c.connect_error();
        c.response_error();
        c.retry();
        c.redispatch();
        c.client_abort();
        c.server_abort();
        c.connection_accepted();
        c.add_bytes_in(10);
        c.add_bytes_out(20);
        c.response(500);
        let s = c.read();
        assert_eq!(
            (s.dreq, s.dresp, s.ereq, s.econ, s.eresp, s.wretr, s.wredis),
            (1, 1, 1, 2, 1, 1, 1)
        );
        assert_eq!(
            (s.cli_abrt, s.srv_abrt, s.conn_tot, s.conn_rate),
            (1, 1, 1, 1)
        );
        assert_eq!((s.bin, s.bout, s.hrsp[5]), (10, 20, 1));
        assert_eq!(s.lastsess, None);
    }

    #[test]
    fn server_counters() {
        let now = Instant::now();
        let c = ServerHttpCounters::starting_at(now);
        c.request_at(now);
        c.response(301);
        c.note_queued(3);
        c.note_queued(1);
        c.record_times(RequestTimes {
            queue: Duration::from_millis(4),
            connect: Duration::from_millis(1),
            response: Duration::from_millis(9),
            total: Duration::from_millis(20),
        });
        let s = c.read_at(now);
        assert_eq!((s.req_tot, s.hrsp[3], s.qmax, s.rate), (1, 1, 3, 1));
        assert_eq!((s.qtime, s.ctime, s.rtime, s.ttime), (4, 1, 9, 20));
    }
}

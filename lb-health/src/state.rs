//! Per-server health: [`HealthState`], the lock-free read side for the stats page and the
//! runtime API, and the writer that feeds checks, agents and observers into the rise/fall
//! counter and drives the server's state in lb-core.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use lb_core::{AdminState, Backend, OpState, Server};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::agent::{self, AgentReply};
use crate::check::{CheckContext, CheckResult, CheckStatus};
use crate::hysteresis::{Hysteresis, InitState, Outcome};
use crate::passive::{Observe, OnError};

const NOT_DOWN: u64 = u64::MAX;

/// The health of one server as its checks see it, readable without locks.
///
/// Counters are atomics and the last results are swapped atomically, so the stats page
/// and the runtime API read them while checks run. Get one from
/// [`HealthHandle::state`](crate::HealthHandle::state).
pub struct HealthState {
    server: Arc<Server>,
    rise: u32,
    fall: u32,
    has_check: bool,
    has_agent: bool,
    epoch: Instant,
    health: AtomicU32,
    agent_down: AtomicBool,
    nolb: AtomicBool,
    last: ArcSwap<CheckResult>,
    last_agent: ArcSwapOption<CheckResult>,
    checks: AtomicU64,
    chkfail: AtomicU64,
    chkdown: AtomicU64,
    hanafail: AtomicU64,
    consecutive_errors: AtomicU32,
    last_change: AtomicU64,
    down_since: AtomicU64,
    downtime: AtomicU64,
}

impl fmt::Debug for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthState")
            .field("server", &self.server.name())
            .field("state", &self.check_state())
            .field("last", &self.last_check().reason)
            .field("chkfail", &self.chkfail())
            .field("chkdown", &self.chkdown())
            .finish()
    }
}

impl HealthState {
    fn nanos(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// The server.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// The last active check (or passive verdict, `HANA`); `INI` before the first.
    pub fn last_check(&self) -> Arc<CheckResult> {
        self.last.load_full()
    }

    /// The last status (`check_status`).
    pub fn status(&self) -> CheckStatus {
        self.last.load().status
    }

    /// The last response code (`check_code`).
    pub fn code(&self) -> Option<u16> {
        self.last.load().code
    }

    /// The last check's duration (`check_duration`).
    pub fn duration(&self) -> Duration {
        self.last.load().duration
    }

    /// The last agent check, if the server has an agent and it ran.
    pub fn last_agent_check(&self) -> Option<Arc<CheckResult>> {
        self.last_agent.load_full()
    }

    /// The raw health counter (`check_health`), in `0..=rise+fall-1`.
    pub fn health(&self) -> u32 {
        self.health.load(Ordering::Relaxed)
    }

    /// `rise`.
    pub fn rise(&self) -> u32 {
        self.rise
    }

    /// `fall`.
    pub fn fall(&self) -> u32 {
        self.fall
    }

    /// Whether an active check runs for this server.
    pub fn has_check(&self) -> bool {
        self.has_check
    }

    /// Whether an agent check runs for this server.
    pub fn has_agent(&self) -> bool {
        self.has_agent
    }

    /// Whether the agent holds the server down (`down`, `fail`, `stopped`).
    pub fn is_agent_down(&self) -> bool {
        self.agent_down.load(Ordering::Relaxed)
    }

    /// Whether the server is NOLB because of `disable-on-404`.
    pub fn is_nolb(&self) -> bool {
        self.nolb.load(Ordering::Relaxed)
    }

    /// Checks run (active, not agent).
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    /// Failed checks that counted (`chkfail`).
    pub fn chkfail(&self) -> u64 {
        self.chkfail.load(Ordering::Relaxed)
    }

    /// Transitions from up to down (`chkdown`).
    pub fn chkdown(&self) -> u64 {
        self.chkdown.load(Ordering::Relaxed)
    }

    /// Times passive observation acted (`hanafail`).
    pub fn hanafail(&self) -> u64 {
        self.hanafail.load(Ordering::Relaxed)
    }

    /// Consecutive errors seen by the passive observer now.
    pub fn consecutive_errors(&self) -> u32 {
        self.consecutive_errors.load(Ordering::Relaxed)
    }

    /// Time since the last state change these checks caused (`lastchg`).
    pub fn since_last_change(&self, now: Instant) -> Duration {
        let t = self.last_change.load(Ordering::Relaxed);
        Duration::from_nanos(self.nanos(now).saturating_sub(t))
    }

    /// Total time spent down (`downtime`), including the current down period.
    pub fn downtime(&self, now: Instant) -> Duration {
        let mut total = self.downtime.load(Ordering::Relaxed);
        let since = self.down_since.load(Ordering::Relaxed);
        if since != NOT_DOWN {
            total += self.nanos(now).saturating_sub(since);
        }
        Duration::from_nanos(total)
    }

    /// The stats-page status: `UP`, `UP 2/3`, `DOWN`, `DOWN 1/2`, `NOLB`, `NOLB 1/3`,
    /// `DRAIN` (admin drain or weight 0), `DRAIN 1/3`, `MAINT`, `DOWN (agent)`,
    /// `no check`.
    pub fn check_state(&self) -> String {
        let admin = self.server.admin_state();
        if admin == AdminState::Maint {
            return "MAINT".into();
        }
        if self.is_agent_down() && (!self.has_check || self.counter().is_up()) {
            return "DOWN (agent)".into();
        }
        // Weight 0 takes no new load-balanced traffic: HAProxy shows it as DRAIN too.
        let drain = admin == AdminState::Drain || self.server.weight().get() == 0;
        if !self.has_check {
            return if drain {
                "DRAIN".into()
            } else {
                "no check".into()
            };
        }
        let up = if drain {
            "DRAIN"
        } else if self.is_nolb() {
            "NOLB"
        } else {
            "UP"
        };
        self.counter().status_with(up)
    }

    fn counter(&self) -> Hysteresis {
        Hysteresis::from_raw(self.rise, self.fall, self.health())
    }

    /// The value of `X-Haproxy-Server-State` for `http-check send-state`.
    pub fn state_header(&self, backend: &Backend, node: &str, now: Instant) -> String {
        let s = &self.server;
        let state = if self.is_nolb() {
            self.counter().status_with("NOLB")
        } else {
            self.counter().status()
        };
        let addr = s.address();
        let (address, port) = match addr.as_inet() {
            Some(sa) => (sa.ip().to_string(), sa.port().to_string()),
            None => (addr.to_string(), String::new()),
        };
        let snap = backend.snapshot();
        let total: u32 = snap.balanced().map(|s| s.weight().get()).sum();
        let mut out = format!(
            "{state}; address={address}; port={port}; name={}/{}; node={node}; weight={}/{total}; scur={}/{}; qcur={}",
            backend.name(),
            s.name(),
            s.weight().get(),
            s.stats().inflight(),
            backend.stats().inflight(),
            s.stats().queued.load(Ordering::Relaxed),
        );
        let warm = s.warmup(now);
        if warm < 1.0 {
            out.push_str(&format!("; throttle={}%", ((warm * 100.0) as u32).max(1)));
        }
        out
    }
}

/// What the writer guards: the counter and the state last pushed to lb-core.
struct Inner {
    counter: Hysteresis,
    agent_down: bool,
    nolb: bool,
    /// No check result since start or since leaving maintenance: `rise` is still the
    /// start-up value, shown as plain up.
    settling: bool,
    pushed: OpState,
}

/// The writer side of one server's health (shared by its check task, agent task and
/// observers).
pub(crate) struct ServerHealth {
    pub(crate) backend: Backend,
    pub(crate) state: Arc<HealthState>,
    pub(crate) wake: Notify,
    pub(crate) observe: Option<Observe>,
    pub(crate) node: Arc<str>,
    inner: Mutex<Inner>,
}

impl fmt::Debug for ServerHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHealth")
            .field("backend", &self.backend.name())
            .field("state", &self.state)
            .finish()
    }
}

/// How a server's health is set up.
pub(crate) struct Setup {
    pub(crate) rise: u32,
    pub(crate) fall: u32,
    pub(crate) init: InitState,
    pub(crate) has_check: bool,
    pub(crate) has_agent: bool,
    pub(crate) observe: Option<Observe>,
    pub(crate) node: Arc<str>,
}

impl ServerHealth {
    pub(crate) fn new(backend: Backend, server: Arc<Server>, setup: Setup) -> Arc<Self> {
        let counter = Hysteresis::with_init(setup.rise, setup.fall, setup.init);
        let now = Instant::now();
        let uses_counter = setup.has_check;
        let initial = if uses_counter {
            settle(counter.op_state())
        } else {
            server.op_state()
        };
        let state = Arc::new(HealthState {
            server: server.clone(),
            rise: counter.rise(),
            fall: counter.fall(),
            has_check: setup.has_check,
            has_agent: setup.has_agent,
            epoch: now,
            health: AtomicU32::new(counter.health()),
            agent_down: AtomicBool::new(false),
            nolb: AtomicBool::new(false),
            last: ArcSwap::from_pointee(CheckResult::init()),
            last_agent: ArcSwapOption::empty(),
            checks: AtomicU64::new(0),
            chkfail: AtomicU64::new(0),
            chkdown: AtomicU64::new(0),
            hanafail: AtomicU64::new(0),
            consecutive_errors: AtomicU32::new(0),
            last_change: AtomicU64::new(0),
            down_since: AtomicU64::new(if initial.is_up() { NOT_DOWN } else { 0 }),
            downtime: AtomicU64::new(0),
        });
        let sh = Arc::new(ServerHealth {
            backend,
            state,
            wake: Notify::new(),
            observe: setup.observe,
            node: setup.node,
            inner: Mutex::new(Inner {
                counter,
                agent_down: false,
                nolb: false,
                settling: true,
                pushed: server.op_state(),
            }),
        });
        if uses_counter && server.admin_state() != AdminState::Maint {
            let mut inner = sh.lock();
            sh.push(&mut inner, "initial state (init-state)");
        }
        sh
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn server(&self) -> &Arc<Server> {
        &self.state.server
    }

    /// Whether the server left the backend (or was replaced by another of that name).
    pub(crate) fn is_removed(&self) -> bool {
        match self.backend.server(self.server().name()) {
            Some(s) => !Arc::ptr_eq(&s, self.server()),
            None => true,
        }
    }

    /// What a check needs to know before it starts.
    pub(crate) fn context(&self, send_state: bool) -> CheckContext {
        CheckContext {
            running: self.server().op_state().is_up(),
            state_header: send_state.then(|| {
                self.state
                    .state_header(&self.backend, &self.node, Instant::now())
            }),
        }
    }

    /// The next interval: `downinter` when fully down, `fastinter` while transitioning or
    /// before the first result, `inter` when fully up.
    pub(crate) fn interval(
        &self,
        inter: Duration,
        fastinter: Duration,
        downinter: Duration,
    ) -> Duration {
        let inner = self.lock();
        let c = inner.counter;
        if c.health() == 0 {
            downinter
        } else if c.health() < c.max() {
            fastinter
        } else {
            inter
        }
    }

    /// The state the server should have.
    fn effective(&self, inner: &Inner) -> OpState {
        if inner.agent_down {
            return OpState::Down;
        }
        let base = if self.state.has_check {
            let s = inner.counter.op_state();
            if inner.settling {
                settle(s)
            } else {
                s
            }
        } else {
            // Without an active check a server is available unless the agent says no.
            OpState::Up
        };
        if inner.nolb && base.is_up() {
            OpState::Stopping
        } else {
            base
        }
    }

    /// Pushes the effective state to lb-core if it changed, with `reason`.
    fn push(&self, inner: &mut Inner, reason: &str) {
        let target = self.effective(inner);
        self.state
            .health
            .store(inner.counter.health(), Ordering::Relaxed);
        self.state
            .agent_down
            .store(inner.agent_down, Ordering::Relaxed);
        self.state.nolb.store(inner.nolb, Ordering::Relaxed);
        if target == inner.pushed {
            return;
        }
        let from = inner.pushed;
        let server = self.server().name();
        if let Err(e) = self.backend.set_op_state(server, target, reason) {
            tracing::debug!(backend = %self.backend.name(), server, error = %e, "state change not applied");
            return;
        }
        inner.pushed = target;
        let now = self.state.nanos(Instant::now());
        self.state.last_change.store(now, Ordering::Relaxed);
        if from.is_up() && !target.is_up() {
            self.state.chkdown.fetch_add(1, Ordering::Relaxed);
            self.state.down_since.store(now, Ordering::Relaxed);
        } else if !from.is_up() && target.is_up() {
            let since = self.state.down_since.swap(NOT_DOWN, Ordering::Relaxed);
            if since != NOT_DOWN {
                self.state
                    .downtime
                    .fetch_add(now.saturating_sub(since), Ordering::Relaxed);
            }
        }
    }

    /// Feeds one active check result.
    pub(crate) fn record_check(&self, result: CheckResult) {
        let status = result.status;
        if !status.is_result() {
            return;
        }
        let reason = result.describe();
        tracing::debug!(
            backend = %self.backend.name(),
            server = %self.server().name(),
            status = %status,
            "{reason}"
        );
        let mut inner = self.lock();
        self.state.checks.fetch_add(1, Ordering::Relaxed);
        let outcome = if status.is_pass() {
            self.state.consecutive_errors.store(0, Ordering::Relaxed);
            inner.nolb = status == CheckStatus::L7OkC;
            Outcome::Pass
        } else {
            Outcome::Fail
        };
        let t = inner.counter.record(outcome);
        if t.counted_failure {
            self.state.chkfail.fetch_add(1, Ordering::Relaxed);
        }
        inner.settling = false;
        self.state.last.store(Arc::new(result));
        self.push(&mut inner, &reason);
    }

    /// Feeds one agent answer: `Ok(line)` or the result of a failed attempt (which
    /// changes nothing on the server).
    pub(crate) fn record_agent(&self, answer: Result<(String, Duration), CheckResult>) {
        let (line, duration) = match answer {
            Ok(x) => x,
            Err(result) => {
                tracing::debug!(
                    backend = %self.backend.name(),
                    server = %self.server().name(),
                    "agent unreachable: {}",
                    result.describe()
                );
                self.state.last_agent.store(Some(Arc::new(result)));
                return;
            }
        };
        let reply: AgentReply = agent::parse_reply(&line);
        let changes = format!("agent reply \"{}\"", line.trim());
        let warning = agent::apply(&reply, &self.backend, self.server(), &changes);
        let result = agent::result(&reply, warning.as_deref(), duration);
        let reason = result.describe();
        let mut inner = self.lock();
        if let Some(h) = reply.health {
            inner.agent_down = h.is_down();
        }
        self.state.last_agent.store(Some(Arc::new(result)));
        self.push(&mut inner, &reason);
    }

    /// Maintenance ended: start again from `rise`, shown as up, and check at once.
    pub(crate) fn leave_maint(&self) {
        let mut inner = self.lock();
        if self.state.has_check {
            inner.counter.reset(InitState::Up);
            inner.settling = true;
        }
        self.push(&mut inner, "leaving maintenance, checking");
    }

    /// One error seen by the passive observer; acts once `error-limit` is reached.
    pub(crate) fn observe_error(&self, what: &'static str) {
        let Some(obs) = self.observe else {
            return;
        };
        let n = self.state.consecutive_errors.fetch_add(1, Ordering::AcqRel) + 1;
        if n < obs.error_limit {
            return;
        }
        let mut inner = self.lock();
        // Another reporter may have acted while this one waited for the lock.
        let n = self.state.consecutive_errors.swap(0, Ordering::AcqRel);
        if n < obs.error_limit {
            self.state.consecutive_errors.fetch_add(n, Ordering::AcqRel);
            return;
        }
        self.state.hanafail.fetch_add(1, Ordering::Relaxed);
        let info = format!("Detected {n} consecutive errors, last one was: {what}");
        tracing::info!(
            backend = %self.backend.name(),
            server = %self.server().name(),
            action = ?obs.on_error,
            "{info}"
        );
        if obs.on_error != OnError::Fastinter {
            match obs.on_error {
                OnError::SuddenDeath => inner.counter.sudden_death(),
                OnError::MarkDown => inner.counter.mark_down(),
                _ => {}
            }
            let t = inner.counter.record(Outcome::Fail);
            if t.counted_failure {
                self.state.chkfail.fetch_add(1, Ordering::Relaxed);
            }
            inner.settling = false;
            let result = CheckResult::new(CheckStatus::Hana, None, info, Duration::ZERO);
            let reason = result.reason.clone();
            self.state.last.store(Arc::new(result));
            self.push(&mut inner, &reason);
        }
        drop(inner);
        // Every action forces fastinter: the check task reschedules.
        self.wake.notify_one();
    }

    /// A success seen by the passive observer.
    pub(crate) fn observe_success(&self) {
        // A load first: the common case (no errors) keeps the cache line shared.
        if self.state.consecutive_errors.load(Ordering::Relaxed) != 0 {
            self.state.consecutive_errors.store(0, Ordering::Relaxed);
        }
    }
}

/// Before the first result the start-up counter (`rise`) reads as plain up, so servers do
/// not announce "going down" at start.
fn settle(s: OpState) -> OpState {
    if s == OpState::GoingDown {
        OpState::Up
    } else {
        s
    }
}

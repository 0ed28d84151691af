//! Scheduling: when each server is checked, and the handle that runs and stops checks.
//!
//! Each checked server gets one small task for its active check and one for its agent.
//! Tokio's timer is a hierarchical timing wheel, so thousands of sleeping tasks cost
//! O(1) per timer and no CPU while asleep: the CPU spent is proportional to the checks
//! run, never to the number of servers times a polling rate. A task:
//!
//! 1. sleeps until its next check is due, or until passive observation asks for
//!    `fastinter`;
//! 2. skips the check while the server is in maintenance (HAProxy stops checks in MAINT)
//!    and, when maintenance ends, restarts from `rise` and checks at once;
//! 3. runs the check, feeds the rise/fall counter, and pushes any state change to
//!    lb-core with HAProxy's reason string (`Layer4 connection problem, info:
//!    "Connection refused", check duration: 0ms`);
//! 4. picks the next interval: `downinter` while fully down, `fastinter` while
//!    transitioning (and before the first result), `inter` when fully up, with
//!    `spread-checks` jitter.
//!
//! First checks are spread over the first interval (server `i` of `n` starts at
//! `interval × i / n`), so the checks of a large farm never fire together.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lb_core::{AdminState, Backend};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::agent::AgentCheck;
use crate::check::{Check, CheckConnect};
use crate::error::ConfigError;
use crate::hysteresis::{Hysteresis, InitState};
use crate::passive::{Observe, Observer};
use crate::state::{HealthState, ServerHealth, Setup};

/// The check settings of one server: HAProxy's `check`, `inter`, `fastinter`,
/// `downinter`, `rise`, `fall`, `init-state`, `agent-check` and `observe`.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use lb_health::{Check, CheckConfig, HttpCheck};
///
/// let cfg = CheckConfig::new(Check::http(HttpCheck::new().uri("/health")))
///     .inter(Duration::from_secs(5))
///     .fastinter(Duration::from_secs(1))
///     .rise(3)
///     .fall(2);
/// assert_eq!(cfg.get_downinter(), Duration::from_secs(5)); // defaults to inter
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckConfig {
    check: Option<Check>,
    inter: Duration,
    fastinter: Option<Duration>,
    downinter: Option<Duration>,
    rise: u32,
    fall: u32,
    init: InitState,
    agent: Option<AgentCheck>,
    observe: Option<Observe>,
}

impl CheckConfig {
    /// Runs `check` with HAProxy's defaults: inter 2 s, rise 2, fall 3.
    pub fn new(check: Check) -> Self {
        CheckConfig {
            check: Some(check),
            ..Self::agent_free()
        }
    }

    /// A TCP connect check with the defaults.
    pub fn tcp() -> Self {
        Self::new(Check::tcp())
    }

    /// No active check, only an agent.
    pub fn agent_only(agent: AgentCheck) -> Self {
        CheckConfig {
            agent: Some(agent),
            ..Self::agent_free()
        }
    }

    fn agent_free() -> Self {
        CheckConfig {
            check: None,
            inter: Duration::from_secs(2),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
            init: InitState::Up,
            agent: None,
            observe: None,
        }
    }

    /// `inter`. Default is 2 s.
    pub fn inter(mut self, d: Duration) -> Self {
        self.inter = d;
        self
    }

    /// `fastinter`, while transitioning. Default is `inter`.
    pub fn fastinter(mut self, d: Duration) -> Self {
        self.fastinter = Some(d);
        self
    }

    /// `downinter`, while fully down. Default is `inter`.
    pub fn downinter(mut self, d: Duration) -> Self {
        self.downinter = Some(d);
        self
    }

    /// `rise`. Default is 2.
    pub fn rise(mut self, n: u32) -> Self {
        self.rise = n;
        self
    }

    /// `fall`. Default is 3.
    pub fn fall(mut self, n: u32) -> Self {
        self.fall = n;
        self
    }

    /// `init-state`. Default is [`InitState::Up`].
    pub fn init_state(mut self, s: InitState) -> Self {
        self.init = s;
        self
    }

    /// `agent-check`.
    pub fn agent(mut self, agent: AgentCheck) -> Self {
        self.agent = Some(agent);
        self
    }

    /// `observe`.
    pub fn observe(mut self, observe: Observe) -> Self {
        self.observe = Some(observe);
        self
    }

    /// The active check.
    pub fn check(&self) -> Option<&Check> {
        self.check.as_ref()
    }

    /// `inter`.
    pub fn get_inter(&self) -> Duration {
        self.inter
    }

    /// `fastinter` (or `inter`).
    pub fn get_fastinter(&self) -> Duration {
        self.fastinter.unwrap_or(self.inter)
    }

    /// `downinter` (or `inter`).
    pub fn get_downinter(&self) -> Duration {
        self.downinter.unwrap_or(self.inter)
    }

    /// The agent settings.
    pub fn get_agent(&self) -> Option<&AgentCheck> {
        self.agent.as_ref()
    }

    /// The observe settings.
    pub fn get_observe(&self) -> Option<&Observe> {
        self.observe.as_ref()
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// Zero intervals, rise or fall; `observe` without an active check (nothing could
    /// bring the server back); invalid check or agent settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (keyword, d) in [
            ("inter", self.inter),
            ("fastinter", self.get_fastinter()),
            ("downinter", self.get_downinter()),
        ] {
            if d.is_zero() {
                return Err(ConfigError::InvalidValue {
                    keyword,
                    value: "0".into(),
                    why: "must be positive",
                });
            }
        }
        for (keyword, n) in [("rise", self.rise), ("fall", self.fall)] {
            if n == 0 {
                return Err(ConfigError::InvalidValue {
                    keyword,
                    value: "0".into(),
                    why: "must be at least 1",
                });
            }
        }
        if self.observe.is_some() && self.check.is_none() {
            return Err(ConfigError::InvalidValue {
                keyword: "observe",
                value: "without check".into(),
                why: "needs an active check to bring the server back",
            });
        }
        if let Some(c) = &self.check {
            c.validate()?;
        }
        if let Some(a) = &self.agent {
            a.validate()?;
        }
        Ok(())
    }

    /// The interval before the first result.
    fn first_interval(&self) -> Duration {
        let c = Hysteresis::with_init(self.rise, self.fall, self.init);
        interval_for(&c, self)
    }
}

fn interval_for(c: &Hysteresis, cfg: &CheckConfig) -> Duration {
    if c.health() == 0 {
        cfg.get_downinter()
    } else if c.health() < c.max() {
        cfg.get_fastinter()
    } else {
        cfg.inter
    }
}

/// Starts health checks; holds the connector and the global check settings.
///
/// # Examples
/// ```
/// use lb_health::Checker;
/// use lb_tcp::connect::TcpConnect;
///
/// let checker = Checker::new(TcpConnect::new()).node("lb1").spread_checks(5);
/// # let _ = checker;
/// ```
#[derive(Clone)]
pub struct Checker<C> {
    connect: C,
    node: Arc<str>,
    spread: u8,
    seed: u64,
}

impl<C> fmt::Debug for Checker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checker")
            .field("connect", &std::any::type_name::<C>())
            .field("node", &self.node)
            .field("spread", &self.spread)
            .finish()
    }
}

impl<C: CheckConnect> Checker<C> {
    /// Checks connect with `connect`.
    pub fn new(connect: C) -> Self {
        Checker {
            connect,
            node: "lb".into(),
            spread: 0,
            seed: fastrand::u64(..),
        }
    }

    /// The node name sent by `http-check send-state` (HAProxy's global `node`). Default
    /// is `lb`.
    pub fn node(mut self, name: impl Into<Arc<str>>) -> Self {
        self.node = name.into();
        self
    }

    /// `spread-checks`: ± this percent of random jitter on each interval (at most 50).
    /// Default is 0.
    pub fn spread_checks(mut self, percent: u8) -> Self {
        self.spread = percent.min(50);
        self
    }

    /// Seeds the jitter's random generator (for reproducible tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Starts checking `servers` of `backend`; the checks run until the handle is
    /// dropped or [`stopped`](HealthHandle::stop).
    ///
    /// # Errors
    /// An invalid configuration, an unknown or repeated server, or no tokio runtime.
    pub fn start<I, N>(&self, backend: &Backend, servers: I) -> Result<HealthHandle, ConfigError>
    where
        I: IntoIterator<Item = (N, CheckConfig)>,
        N: AsRef<str>,
    {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let mut list = Vec::new();
        for (name, cfg) in servers {
            let name = name.as_ref();
            cfg.validate()?;
            let server = backend
                .server(name)
                .ok_or_else(|| ConfigError::UnknownServer {
                    backend: backend.name().into(),
                    server: name.to_owned(),
                })?;
            if list.iter().any(|(n, _, _): &(Arc<str>, _, _)| &**n == name) {
                return Err(ConfigError::AlreadyChecked {
                    backend: backend.name().into(),
                    server: name.to_owned(),
                });
            }
            list.push((Arc::<str>::from(name), server, cfg));
        }
        let spawner: Arc<dyn Spawn> = Arc::new(Spawner {
            checker: self.clone(),
            rt,
        });
        let handle = HealthHandle {
            backend: backend.clone(),
            entries: Mutex::new(HashMap::new()),
            order: Mutex::new(Vec::new()),
            spawner,
        };
        let n = list.len().max(1) as u32;
        for (i, (name, server, cfg)) in list.into_iter().enumerate() {
            let first = cfg.first_interval() * i as u32 / n;
            handle.insert(name, server, cfg, first, i as u64);
        }
        Ok(handle)
    }
}

/// Spawns the tasks of one server (type-erases the connector for [`HealthHandle`]).
trait Spawn: Send + Sync {
    fn spawn(
        &self,
        health: Arc<ServerHealth>,
        cfg: &CheckConfig,
        first: Duration,
        index: u64,
    ) -> Vec<JoinHandle<()>>;
    fn node(&self) -> Arc<str>;
}

struct Spawner<C> {
    checker: Checker<C>,
    rt: tokio::runtime::Handle,
}

impl<C: CheckConnect> Spawn for Spawner<C> {
    fn spawn(
        &self,
        health: Arc<ServerHealth>,
        cfg: &CheckConfig,
        first: Duration,
        index: u64,
    ) -> Vec<JoinHandle<()>> {
        let span = tracing::info_span!(
            "health",
            backend = %health.backend.name(),
            server = %health.server().name()
        );
        let mut tasks = Vec::with_capacity(2);
        let seed = self.checker.seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        if let Some(check) = cfg.check.clone() {
            let task = CheckTask {
                health: health.clone(),
                cfg: cfg.clone(),
                check,
                connect: self.checker.connect.clone(),
                spread: self.checker.spread,
                rng: fastrand::Rng::with_seed(seed),
            };
            tasks.push(self.rt.spawn(task.run(first).instrument(span.clone())));
        }
        if let Some(agent) = cfg.agent.clone() {
            let task = AgentTask {
                health,
                agent,
                connect: self.checker.connect.clone(),
                spread: self.checker.spread,
                rng: fastrand::Rng::with_seed(seed ^ 0xa5a5),
            };
            tasks.push(self.rt.spawn(task.run(first).instrument(span)));
        }
        tasks
    }

    fn node(&self) -> Arc<str> {
        self.checker.node.clone()
    }
}

/// `interval` ± `spread` percent.
fn jitter(d: Duration, spread: u8, rng: &mut fastrand::Rng) -> Duration {
    if spread == 0 {
        return d;
    }
    let rv = d.as_secs_f64() * f64::from(spread) / 100.0;
    let off = rv - 2.0 * rv * rng.f64();
    Duration::from_secs_f64((d.as_secs_f64() + off).max(0.0))
}

struct CheckTask<C> {
    health: Arc<ServerHealth>,
    cfg: CheckConfig,
    check: Check,
    connect: C,
    spread: u8,
    rng: fastrand::Rng,
}

impl<C: CheckConnect> CheckTask<C> {
    async fn run(mut self, first: Duration) {
        let sh = self.health.clone();
        let mut due = Instant::now() + first;
        let mut in_maint = false;
        loop {
            tokio::select! {
                biased;
                () = tokio::time::sleep_until(due) => {}
                () = sh.wake.notified() => {
                    // Passive observation asks for fastinter.
                    let fast = Instant::now() + self.cfg.get_fastinter();
                    if fast < due {
                        due = fast;
                    }
                    continue;
                }
            }
            if sh.is_removed() {
                tracing::debug!("server removed, checks stop");
                return;
            }
            if sh.server().admin_state() == AdminState::Maint {
                in_maint = true;
                due = Instant::now() + self.cfg.inter;
                continue;
            }
            if in_maint {
                in_maint = false;
                sh.leave_maint();
            }
            let ctx = sh.context(self.check.sends_state());
            let started = Instant::now();
            let address = sh.server().address();
            let result = self
                .check
                .run(&self.connect, &address, self.cfg.inter, &ctx)
                .await;
            sh.record_check(result);
            let interval = sh.interval(
                self.cfg.inter,
                self.cfg.get_fastinter(),
                self.cfg.get_downinter(),
            );
            let interval = jitter(interval, self.spread, &mut self.rng);
            due = (started + interval).max(Instant::now());
        }
    }
}

struct AgentTask<C> {
    health: Arc<ServerHealth>,
    agent: AgentCheck,
    connect: C,
    spread: u8,
    rng: fastrand::Rng,
}

impl<C: CheckConnect> AgentTask<C> {
    async fn run(mut self, first: Duration) {
        let sh = self.health.clone();
        let mut due = Instant::now() + first;
        loop {
            tokio::time::sleep_until(due).await;
            if sh.is_removed() {
                return;
            }
            // The agent keeps running in maintenance: only it can say `ready` again.
            let started = Instant::now();
            let address = sh.server().address();
            let answer = self
                .agent
                .query(&self.connect, &address)
                .await
                .map(|line| (line, started.elapsed()));
            sh.record_agent(answer);
            let interval = jitter(self.agent.get_inter(), self.spread, &mut self.rng);
            due = (started + interval).max(Instant::now());
        }
    }
}

struct Entry {
    health: Arc<ServerHealth>,
    tasks: Vec<JoinHandle<()>>,
}

impl Entry {
    fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The running checks of one backend: per-server [`HealthState`]s and [`Observer`]s,
/// servers added and removed at runtime. Dropping it stops every check.
pub struct HealthHandle {
    backend: Backend,
    entries: Mutex<HashMap<Arc<str>, Entry>>,
    order: Mutex<Vec<Arc<str>>>,
    spawner: Arc<dyn Spawn>,
}

impl fmt::Debug for HealthHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthHandle")
            .field("backend", &self.backend.name())
            .field("servers", &*lock(&self.order))
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HealthHandle {
    fn insert(
        &self,
        name: Arc<str>,
        server: Arc<lb_core::Server>,
        cfg: CheckConfig,
        first: Duration,
        index: u64,
    ) {
        let health = ServerHealth::new(
            self.backend.clone(),
            server,
            Setup {
                rise: cfg.rise,
                fall: cfg.fall,
                init: cfg.init,
                has_check: cfg.check.is_some(),
                has_agent: cfg.agent.is_some(),
                observe: cfg.observe,
                node: self.spawner.node(),
            },
        );
        let tasks = self.spawner.spawn(health.clone(), &cfg, first, index);
        lock(&self.order).push(name.clone());
        lock(&self.entries).insert(name, Entry { health, tasks });
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The health of a checked server.
    pub fn state(&self, server: &str) -> Option<Arc<HealthState>> {
        lock(&self.entries)
            .get(server)
            .map(|e| e.health.state.clone())
    }

    /// The health of every checked server, in the order they were added.
    pub fn states(&self) -> Vec<Arc<HealthState>> {
        let order = lock(&self.order).clone();
        let entries = lock(&self.entries);
        order
            .iter()
            .filter_map(|n| entries.get(n).map(|e| e.health.state.clone()))
            .collect()
    }

    /// The passive observer of a server, when it has `observe` settings.
    pub fn observer(&self, server: &str) -> Option<Observer> {
        let entries = lock(&self.entries);
        let e = entries.get(server)?;
        let observe = e.health.observe?;
        Some(Observer {
            health: e.health.clone(),
            observe,
        })
    }

    /// Starts checking one more server of the backend (a server added at runtime); its
    /// first check runs at once.
    ///
    /// # Errors
    /// Invalid settings, an unknown server, or one already checked here.
    pub fn add(&self, server: &str, cfg: CheckConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        let s = self
            .backend
            .server(server)
            .ok_or_else(|| ConfigError::UnknownServer {
                backend: self.backend.name().into(),
                server: server.to_owned(),
            })?;
        if lock(&self.entries).contains_key(server) {
            return Err(ConfigError::AlreadyChecked {
                backend: self.backend.name().into(),
                server: server.to_owned(),
            });
        }
        let index = lock(&self.order).len() as u64;
        self.insert(server.into(), s, cfg, Duration::ZERO, index);
        Ok(())
    }

    /// Stops checking a server; returns whether it was checked. (Checks also stop by
    /// themselves when the server leaves the backend.)
    pub fn remove(&self, server: &str) -> bool {
        let e = lock(&self.entries).remove(server);
        lock(&self.order).retain(|n| &**n != server);
        match e {
            Some(e) => {
                e.abort();
                true
            }
            None => false,
        }
    }

    /// Stops every check of the backend.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for HealthHandle {
    fn drop(&mut self) {
        for e in lock(&self.entries).values() {
            e.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_validation() {
        let c = CheckConfig::tcp();
        assert_eq!(c.get_inter(), Duration::from_secs(2));
        assert_eq!(c.get_fastinter(), Duration::from_secs(2));
        assert!(c.validate().is_ok());
        assert!(CheckConfig::tcp().rise(0).validate().is_err());
        assert!(CheckConfig::tcp().inter(Duration::ZERO).validate().is_err());
        assert!(CheckConfig::agent_only(AgentCheck::new(1))
            .observe(Observe::new(crate::ObserveLayer::Layer4))
            .validate()
            .is_err());
        assert!(CheckConfig::new(Check::tcp().ssl(true)).validate().is_err());
    }

    #[test]
    fn first_interval_follows_init_state() {
        let s = Duration::from_secs;
        let c = CheckConfig::tcp()
            .inter(s(10))
            .fastinter(s(1))
            .downinter(s(30));
        assert_eq!(c.first_interval(), s(1));
        assert_eq!(
            c.clone().init_state(InitState::FullyUp).first_interval(),
            s(10)
        );
        assert_eq!(c.init_state(InitState::FullyDown).first_interval(), s(30));
    }

    #[test]
    fn jitter_bounds() {
        let mut rng = fastrand::Rng::with_seed(7);
        let d = Duration::from_secs(10);
        assert_eq!(jitter(d, 0, &mut rng), d);
        for _ in 0..1000 {
            let j = jitter(d, 50, &mut rng);
            assert!(j >= Duration::from_secs(5) && j <= Duration::from_secs(15));
        }
    }
}

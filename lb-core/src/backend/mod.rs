//! Backends (server farms): an ordered set of servers plus an algorithm, swapped atomically.
//!
//! [`Backend`] is a cheap handle (an `Arc`) that both reads and changes the farm. Readers
//! take the current [`Snapshot`] without locking; writers (runtime API, health checks,
//! agents) serialize among themselves, build a new snapshot and store it, so a pick always
//! sees a coherent farm. Every change is broadcast as a [`ServerEvent`] and logged through
//! `tracing` (target `lb::events`).

mod events;
mod queue;
mod snapshot;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use tokio::sync::broadcast;
use tokio::time::Instant;

pub use events::{EventKind, ServerEvent};
pub use queue::Admit;
pub use snapshot::Snapshot;

use crate::error::Error;
use crate::select::least_conn::LeastConn;
use crate::select::{Algorithm, BalanceConfig, RequestKey, Unavailable};
use crate::server::{Address, AdminState, OpState, Server, ServerConfig, ServerId, Weight};
use queue::Queue;
use snapshot::Parts;

const EVENT_CAPACITY: usize = 1024;

/// Backend-wide live counters.
#[derive(Debug, Default)]
pub struct BackendStats {
    inflight: Arc<AtomicU64>,
    /// Requests or connections sent to a server (`stot`/`lbtot`).
    pub total: AtomicU64,
    /// Requests that waited in the queue and got a server.
    pub dequeued: AtomicU64,
    /// Requests refused because the queue was full.
    pub queue_full: AtomicU64,
    /// Requests that timed out in the queue.
    pub queue_timeouts: AtomicU64,
    /// Requests refused because no server was usable.
    pub no_server: AtomicU64,
    /// Highest queue length seen (`qmax`).
    pub max_queued: AtomicUsize,
}

impl BackendStats {
    /// Requests or connections in flight on the backend's servers (`scur`).
    pub fn inflight(&self) -> u64 {
        self.inflight.load(Ordering::Relaxed)
    }
}

pub(crate) struct Shared {
    name: Arc<str>,
    config: Arc<BalanceConfig>,
    snapshot: ArcSwap<Snapshot>,
    writer: Mutex<Writer>,
    events: broadcast::Sender<ServerEvent>,
    epoch: Instant,
    rr: Arc<AtomicUsize>,
    lc: Option<Arc<LeastConn>>,
    queue: Queue,
    refreshing: AtomicBool,
    stats: BackendStats,
}

struct Writer {
    servers: Vec<Arc<Server>>,
}

/// A backend: a named server farm with its balancing algorithm.
///
/// Clones share the same farm. See the [module docs](self).
///
/// # Examples
/// ```
/// use lb_core::{Algorithm, Backend, BalanceConfig, OpState, RequestKey, ServerConfig};
/// use tokio::time::Instant;
///
/// let be = Backend::new(
///     "web",
///     BalanceConfig::new(Algorithm::RoundRobin),
///     (1..=3).map(|i| ServerConfig::new(format!("s{i}"), format!("127.0.0.1:800{i}").parse().unwrap())),
/// )?;
/// let now = Instant::now();
/// let names: Vec<_> = (0..3)
///     .map(|_| be.pick(&RequestKey::new(), now).unwrap().name().to_owned())
///     .collect();
/// assert_eq!(names, ["s1", "s2", "s3"]);
///
/// be.set_op_state("s2", OpState::Down, "Layer4 connection problem")?;
/// for _ in 0..10 {
///     assert_ne!(be.pick(&RequestKey::new(), now).unwrap().name(), "s2");
/// }
/// # Ok::<(), lb_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Backend {
    shared: Arc<Shared>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("name", &self.shared.name)
            .field("algorithm", &self.shared.config.algorithm)
            .field("servers", &self.snapshot().servers().len())
            .finish()
    }
}

impl Backend {
    /// Builds a backend from its servers, in declaration order.
    ///
    /// Servers without an id get the next free one, as HAProxy numbers them.
    ///
    /// # Errors
    /// Duplicate names or ids, or an invalid [`BalanceConfig`].
    pub fn new(
        name: impl Into<Arc<str>>,
        config: BalanceConfig,
        servers: impl IntoIterator<Item = ServerConfig>,
    ) -> Result<Backend, Error> {
        config.validate()?;
        let name: Arc<str> = name.into();
        let epoch = Instant::now();
        let mut list: Vec<Arc<Server>> = Vec::new();
        let configs: Vec<ServerConfig> = servers.into_iter().collect();
        // Explicit ids first, so implicit ones skip them.
        let mut taken: Vec<u32> = configs.iter().filter_map(|c| c.id).collect();
        taken.sort_unstable();
        if let Some(w) = taken.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::DuplicateId {
                backend: name,
                id: w[0],
            });
        }
        let mut next = 1u32;
        for cfg in configs {
            if list.iter().any(|s| s.name() == &*cfg.name) {
                return Err(Error::DuplicateServer {
                    backend: name,
                    server: cfg.name.to_string(),
                });
            }
            let id = match cfg.id {
                Some(id) => id,
                None => {
                    while taken.binary_search(&next).is_ok() {
                        next += 1;
                    }
                    next += 1;
                    next - 1
                }
            };
            list.push(Arc::new(Server::new(cfg, ServerId(id), epoch)));
        }
        let config = Arc::new(config);
        let lc = (config.algorithm == Algorithm::LeastConn).then(|| Arc::new(LeastConn::default()));
        let rr = Arc::new(AtomicUsize::new(0));
        let stats = BackendStats::default();
        let snap = Snapshot::build(
            Parts {
                name: name.clone(),
                servers: list.clone().into_boxed_slice(),
                config: config.clone(),
                rr: rr.clone(),
                lc: lc.clone(),
                generation: 0,
                backend_inflight: stats.inflight.clone(),
            },
            epoch,
        );
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Ok(Backend {
            shared: Arc::new(Shared {
                name,
                config,
                snapshot: ArcSwap::from_pointee(snap),
                writer: Mutex::new(Writer { servers: list }),
                events,
                epoch,
                rr,
                lc,
                queue: Queue::default(),
                refreshing: AtomicBool::new(false),
                stats,
            }),
        })
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The balancing configuration.
    pub fn config(&self) -> &BalanceConfig {
        &self.shared.config
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }

    /// Backend-wide counters.
    pub fn stats(&self) -> &BackendStats {
        &self.shared.stats
    }

    /// Requests waiting in the queue now (`qcur`).
    pub fn queued(&self) -> usize {
        self.shared.queue.len()
    }

    /// A server by name.
    pub fn server(&self, name: &str) -> Option<Arc<Server>> {
        self.shared.snapshot.load().server(name).cloned()
    }

    /// Receives every later [`ServerEvent`] of this backend.
    pub fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.shared.events.subscribe()
    }

    /// Picks a server without taking a slot on it (see [`Snapshot::pick`]).
    ///
    /// # Errors
    /// [`Unavailable`] when no server can take the request now.
    pub fn pick(&self, key: &RequestKey<'_>, now: Instant) -> Result<Arc<Server>, Unavailable> {
        self.refresh_if_due(now);
        self.shared.snapshot.load().pick(key, now).cloned()
    }

    /// Picks a server and takes a slot on it; the slot is freed when the returned guard
    /// drops. Never waits: see [`Backend::admit`] for the queueing variant.
    ///
    /// # Errors
    /// [`Unavailable::NoServer`] or [`Unavailable::Saturated`].
    pub fn try_acquire(&self, key: &RequestKey<'_>, now: Instant) -> Result<InFlight, Unavailable> {
        self.refresh_if_due(now);
        let server = self.shared.acquire(key, now)?;
        Ok(InFlight::new(server, self.shared.clone()))
    }

    /// Takes a slot on a given server (persistence: cookie, stick table), bypassing the
    /// algorithm. The server must accept persistent traffic (up, not in maintenance).
    ///
    /// # Errors
    /// [`Unavailable::NoServer`] when it does not accept persistent traffic,
    /// [`Unavailable::Saturated`] when it is at maxconn.
    pub fn try_acquire_server(
        &self,
        server: &Arc<Server>,
        now: Instant,
    ) -> Result<InFlight, Unavailable> {
        if !server.accepts_persistent() {
            return Err(Unavailable::NoServer);
        }
        if !server.try_acquire(server.effective_maxconn(now)) {
            return Err(Unavailable::Saturated);
        }
        self.shared.stats.inflight.fetch_add(1, Ordering::Relaxed);
        self.shared.stats.total.fetch_add(1, Ordering::Relaxed);
        if let Some(lc) = &self.shared.lc {
            lc.update(server);
        }
        Ok(InFlight::new(server.clone(), self.shared.clone()))
    }

    /// Picks a server and takes a slot, waiting in the backend's FIFO queue while every
    /// usable server is at maxconn (up to `maxqueue` waiters and `queue_timeout`).
    ///
    /// The returned future owns everything it needs (it does not borrow `key`).
    ///
    /// # Errors
    /// The future fails with [`NoServerAvailable`](crate::NoServerAvailable),
    /// [`QueueFull`](crate::QueueFull) or [`QueueTimeout`](crate::QueueTimeout).
    pub fn admit(&self, key: &RequestKey<'_>, now: Instant) -> Admit {
        self.refresh_if_due(now);
        queue::admit(&self.shared, key, now)
    }

    /// Rebuilds the tables if a slow-start ramp moved on since the last build. Picks call
    /// it; a timer may too.
    pub fn refresh_if_due(&self, now: Instant) {
        let due = self
            .shared
            .snapshot
            .load()
            .refresh_at()
            .is_some_and(|t| t <= now);
        if due
            && self
                .shared
                .refreshing
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            let w = self.shared.lock_writer();
            self.shared.publish(&w, now);
            drop(w);
            self.shared.refreshing.store(false, Ordering::Release);
            self.shared.dispatch(now);
        }
    }

    fn change<T>(
        &self,
        name: &str,
        f: impl FnOnce(&Self, &Arc<Server>, Instant) -> Result<(T, Option<EventKind>), Error>,
        reason: &str,
    ) -> Result<T, Error> {
        let now = Instant::now();
        let w = self.shared.lock_writer();
        let server = w
            .servers
            .iter()
            .find(|s| s.name() == name)
            .cloned()
            .ok_or_else(|| Error::UnknownServer {
                backend: self.shared.name.clone(),
                server: name.to_owned(),
            })?;
        let (out, kind) = f(self, &server, now)?;
        if let Some(kind) = kind {
            self.shared.publish(&w, now);
            drop(w);
            self.shared.emit(&server, kind, reason);
            self.shared.dispatch(now);
        }
        Ok(out)
    }

    /// Sets a server's weight (0..=256). Static algorithms (static-rr, map-based hashing)
    /// accept only 0 and the initial weight, as HAProxy.
    ///
    /// # Errors
    /// Unknown server, or a weight a static algorithm cannot take.
    pub fn set_weight(&self, server: &str, weight: Weight, reason: &str) -> Result<(), Error> {
        self.change(
            server,
            |be, s, _| {
                let cfg = &be.shared.config;
                if !cfg.is_dynamic() && weight.get() != 0 && weight != s.initial_weight() {
                    return Err(Error::StaticWeight {
                        backend: be.shared.name.clone(),
                        server: s.name().to_owned(),
                        algorithm: cfg.algorithm.keyword(),
                        initial: s.initial_weight().get(),
                    });
                }
                let from = s.weight();
                s.set_weight(weight);
                Ok((
                    (),
                    (from != weight).then_some(EventKind::Weight { from, to: weight }),
                ))
            },
            reason,
        )
    }

    /// Sets a server's administrative state.
    ///
    /// # Errors
    /// Unknown server.
    pub fn set_admin_state(
        &self,
        server: &str,
        state: AdminState,
        reason: &str,
    ) -> Result<(), Error> {
        self.change(
            server,
            |_, s, now| {
                let from = s.set_admin_state(state, now);
                Ok((
                    (),
                    (from != state).then_some(EventKind::Admin { from, to: state }),
                ))
            },
            reason,
        )
    }

    /// Sets a server's operational state (health checks call this).
    ///
    /// # Errors
    /// Unknown server.
    pub fn set_op_state(&self, server: &str, state: OpState, reason: &str) -> Result<(), Error> {
        self.change(
            server,
            |_, s, now| {
                let from = s.set_op_state(state, now);
                Ok((
                    (),
                    (from != state).then_some(EventKind::Op { from, to: state }),
                ))
            },
            reason,
        )
    }

    /// Sets a server's maxconn (0 = unlimited).
    ///
    /// # Errors
    /// Unknown server.
    pub fn set_maxconn(&self, server: &str, maxconn: u32, reason: &str) -> Result<(), Error> {
        self.change(
            server,
            |_, s, _| {
                let from = s.maxconn();
                s.set_maxconn(maxconn);
                Ok((
                    (),
                    (from != maxconn).then_some(EventKind::MaxConn { from, to: maxconn }),
                ))
            },
            reason,
        )
    }

    /// Sets a server's address; connections made after this use it.
    ///
    /// # Errors
    /// Unknown server.
    pub fn set_address(&self, server: &str, address: Address, reason: &str) -> Result<(), Error> {
        self.change(
            server,
            |_, s, _| {
                let from = s.address();
                let kind = (*from != address).then(|| EventKind::Address {
                    from: from.to_string(),
                    to: address.to_string(),
                });
                s.set_address(address);
                Ok(((), kind))
            },
            reason,
        )
    }

    /// Adds a server at the end of the farm; it takes traffic at once if usable.
    ///
    /// # Errors
    /// A duplicate name or id.
    pub fn add_server(&self, cfg: ServerConfig, reason: &str) -> Result<Arc<Server>, Error> {
        let now = Instant::now();
        let mut w = self.shared.lock_writer();
        if w.servers.iter().any(|s| s.name() == &*cfg.name) {
            return Err(Error::DuplicateServer {
                backend: self.shared.name.clone(),
                server: cfg.name.to_string(),
            });
        }
        let id = match cfg.id {
            Some(id) if w.servers.iter().any(|s| s.id().0 == id) => {
                return Err(Error::DuplicateId {
                    backend: self.shared.name.clone(),
                    id,
                })
            }
            Some(id) => id,
            None => w.servers.iter().map(|s| s.id().0).max().unwrap_or(0) + 1,
        };
        let server = Arc::new(Server::new(cfg, ServerId(id), self.shared.epoch));
        w.servers.push(server.clone());
        self.shared.publish(&w, now);
        drop(w);
        self.shared.emit(&server, EventKind::Added, reason);
        self.shared.dispatch(now);
        Ok(server)
    }

    /// Removes a server. Requests in flight on it finish normally; it takes no new ones.
    ///
    /// # Errors
    /// Unknown server.
    pub fn remove_server(&self, name: &str, reason: &str) -> Result<Arc<Server>, Error> {
        let now = Instant::now();
        let mut w = self.shared.lock_writer();
        let pos = w
            .servers
            .iter()
            .position(|s| s.name() == name)
            .ok_or_else(|| Error::UnknownServer {
                backend: self.shared.name.clone(),
                server: name.to_owned(),
            })?;
        let server = w.servers.remove(pos);
        self.shared.publish(&w, now);
        drop(w);
        self.shared.emit(&server, EventKind::Removed, reason);
        Ok(server)
    }
}

impl Shared {
    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Builds and stores a new snapshot from the writer's list.
    fn publish(&self, w: &MutexGuard<'_, Writer>, now: Instant) {
        let generation = self.snapshot.load().generation() + 1;
        let snap = Snapshot::build(
            Parts {
                name: self.name.clone(),
                servers: w.servers.clone().into_boxed_slice(),
                config: self.config.clone(),
                rr: self.rr.clone(),
                lc: self.lc.clone(),
                generation,
                backend_inflight: self.stats.inflight.clone(),
            },
            now,
        );
        self.snapshot.store(Arc::new(snap));
    }

    fn emit(&self, server: &Server, kind: EventKind, reason: &str) {
        let ev = ServerEvent {
            backend: self.name.clone(),
            server: server.name_arc().clone(),
            kind,
            reason: reason.into(),
        };
        tracing::info!(target: "lb::events", backend = %ev.backend, server = %ev.server, "{ev}");
        // No subscriber is not an error.
        let _ = self.events.send(ev);
    }

    /// Picks and takes a slot (no queueing).
    fn acquire(&self, key: &RequestKey<'_>, now: Instant) -> Result<Arc<Server>, Unavailable> {
        let snap = self.snapshot.load();
        let server = if let Some(lc) = snap.least_conn() {
            lc.acquire(key.avoid)?
        } else {
            let mut tries = 0;
            loop {
                let s = snap.pick(key, now)?;
                if s.try_acquire(s.effective_maxconn(now)) {
                    break s.clone();
                }
                // Lost a race for the last slot: pick again (it now looks full).
                tries += 1;
                if tries >= 4 {
                    return Err(Unavailable::Saturated);
                }
            }
        };
        self.stats.inflight.fetch_add(1, Ordering::Relaxed);
        self.stats.total.fetch_add(1, Ordering::Relaxed);
        Ok(server)
    }

    /// Gives free slots to queued requests, oldest first, after a change that may have
    /// freed capacity (a server came up, a weight or maxconn grew).
    fn dispatch(self: &Arc<Self>, now: Instant) {
        while self.queue.len() > 0 {
            let Ok(server) = self.acquire(&RequestKey::default(), now) else {
                return;
            };
            let guard = InFlight::new(server, self.clone());
            if let Some(g) = self.queue.hand_over(guard) {
                // Nobody was waiting after all.
                drop(g);
                return;
            }
        }
    }
}

/// A slot taken on a server: one request or connection in flight. Dropping it frees the
/// slot, hands it to the oldest queued request if any, and updates the counters.
///
/// Attach it to whatever lives as long as the work (a response body, a connection task).
pub struct InFlight {
    server: Option<Arc<Server>>,
    shared: Arc<Shared>,
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight")
            .field("backend", &self.shared.name)
            .field("server", &self.server.as_ref().map(|s| s.name().to_owned()))
            .finish()
    }
}

impl InFlight {
    fn new(server: Arc<Server>, shared: Arc<Shared>) -> Self {
        InFlight {
            server: Some(server),
            shared,
        }
    }

    /// The server holding the slot.
    pub fn server(&self) -> &Arc<Server> {
        self.server
            .as_ref()
            .expect("an InFlight holds its server until dropped")
    }

    /// The backend's name.
    pub fn backend_name(&self) -> &str {
        &self.shared.name
    }

    /// Gives up the server without releasing (the slot moved to another guard).
    fn disarm(mut self) -> Arc<Server> {
        self.server
            .take()
            .expect("an InFlight holds its server until dropped")
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        let shared = &self.shared;
        if shared.queue.len() > 0 && server.is_usable() {
            // Hand the slot straight to the oldest waiter: FIFO, and no newcomer can
            // steal it between the release and the wake-up.
            let guard = InFlight::new(server, shared.clone());
            match shared.queue.hand_over(guard) {
                None => return,
                Some(g) => {
                    let server = g.disarm();
                    release(shared, &server);
                    return;
                }
            }
        }
        release(shared, &server);
        if shared.queue.len() > 0 {
            // The slot could not be handed over (server no longer usable): others may.
            shared.dispatch(Instant::now());
        }
    }
}

fn release(shared: &Shared, server: &Server) {
    server.release();
    shared.stats.inflight.fetch_sub(1, Ordering::Relaxed);
    if let Some(lc) = &shared.lc {
        lc.update(server);
    }
}

#[cfg(test)]
mod tests;

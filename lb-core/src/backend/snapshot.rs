//! An immutable view of a backend: its servers and the tables its algorithm picks from.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::select::hash::{bounded_load_cap, HashMethod, Ring};
use crate::select::least_conn::LeastConn;
use crate::select::map::{smooth_map, Flavor};
use crate::select::{Algorithm, BalanceConfig, RequestKey, Unavailable};
use crate::server::{Server, ServerId};

/// While a server ramps up (slow start), tables are rebuilt this often.
const WARMUP_STEP: Duration = Duration::from_secs(1);

#[derive(Debug)]
enum Table {
    /// roundrobin, static-rr, map-based hashing: a smooth weighted sequence of positions in
    /// `lb`.
    Map(Box<[u32]>),
    /// Consistent hashing.
    Ring(Ring),
    /// random: cumulative effective weights over `lb`.
    Cumulative(Box<[u64]>),
    /// first: `lb` sorted by id (it already is).
    First,
    /// leastconn: the shared index.
    LeastConn(Arc<LeastConn>),
}

/// An immutable view of a backend at one moment: the servers in declaration order, the
/// subset the algorithm balances over (actives, or backups when no active is usable) and
/// the algorithm's precomputed table.
///
/// Picks read a snapshot without locks (leastconn takes one short lock). Servers' live
/// state is re-checked at each pick, so a server that went down after the snapshot was
/// built is skipped even before the next snapshot is stored.
#[derive(Debug)]
pub struct Snapshot {
    name: Arc<str>,
    servers: Box<[Arc<Server>]>,
    config: Arc<BalanceConfig>,
    /// Positions in `servers` of the servers balanced over.
    lb: Box<[u32]>,
    /// Effective weights of `lb`, same order.
    weights: Box<[u32]>,
    total_weight: u64,
    table: Table,
    rr: Arc<AtomicUsize>,
    refresh_at: Option<Instant>,
    generation: u64,
    backend_inflight: Arc<std::sync::atomic::AtomicU64>,
}

pub(crate) struct Parts {
    pub(crate) name: Arc<str>,
    pub(crate) servers: Box<[Arc<Server>]>,
    pub(crate) config: Arc<BalanceConfig>,
    pub(crate) rr: Arc<AtomicUsize>,
    pub(crate) lc: Option<Arc<LeastConn>>,
    pub(crate) generation: u64,
    pub(crate) backend_inflight: Arc<std::sync::atomic::AtomicU64>,
}

impl Snapshot {
    pub(crate) fn build(p: Parts, now: Instant) -> Snapshot {
        let cfg = &p.config;
        let dynamic = cfg.is_dynamic();
        let usable = |s: &&Arc<Server>| s.is_usable();
        let mut lb: Vec<u32> = p
            .servers
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_backup() && usable(s))
            .map(|(i, _)| i as u32)
            .collect();
        if lb.is_empty() {
            let backups = p
                .servers
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_backup() && usable(s))
                .map(|(i, _)| i as u32);
            lb = if cfg.allbackups {
                backups.collect()
            } else {
                backups.take(1).collect()
            };
        }
        if cfg.algorithm == Algorithm::First {
            lb.sort_by_key(|&i| p.servers[i as usize].id());
        }
        let weights: Box<[u32]> = lb
            .iter()
            .map(|&i| {
                let s = &p.servers[i as usize];
                if dynamic {
                    s.eweight(now)
                } else {
                    s.weight().get() * 16
                }
            })
            .collect();
        let total_weight = weights.iter().map(|&w| u64::from(w)).sum();
        let refresh_at = if dynamic {
            lb.iter()
                .filter_map(|&i| p.servers[i as usize].warmup_ends(now))
                .min()
                .map(|end| end.min(now + WARMUP_STEP))
        } else {
            None
        };
        let table = match &cfg.algorithm {
            Algorithm::LeastConn => {
                let lc = p.lc.clone().unwrap_or_default();
                let entries: Vec<_> = lb
                    .iter()
                    .zip(weights.iter())
                    .map(|(&i, &w)| {
                        let s = &p.servers[i as usize];
                        (s.clone(), w, s.effective_maxconn(now))
                    })
                    .collect();
                lc.rebuild(&entries);
                Table::LeastConn(lc)
            }
            Algorithm::First => Table::First,
            Algorithm::Random { .. } => {
                let mut acc = 0u64;
                Table::Cumulative(
                    weights
                        .iter()
                        .map(|&w| {
                            acc += u64::from(w);
                            acc
                        })
                        .collect(),
                )
            }
            a if a.is_hash() && cfg.hash_type.method == HashMethod::Consistent => {
                Table::Ring(Ring::build(lb.iter().zip(weights.iter()).enumerate().map(
                    |(pos, (&i, &w))| {
                        let id = p.servers[i as usize].id().0;
                        (pos as u32, id.wrapping_mul(4096), w)
                    },
                )))
            }
            Algorithm::RoundRobin => {
                Table::Map(smooth_map(&weights, Flavor::Smooth).into_boxed_slice())
            }
            _ => Table::Map(smooth_map(&weights, Flavor::Haproxy).into_boxed_slice()),
        };
        Snapshot {
            name: p.name,
            servers: p.servers,
            config: p.config,
            lb: lb.into_boxed_slice(),
            weights,
            total_weight,
            table,
            rr: p.rr,
            refresh_at,
            generation: p.generation,
            backend_inflight: p.backend_inflight,
        }
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A number that grows with each new snapshot of the backend.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// All servers, in declaration order.
    pub fn servers(&self) -> &[Arc<Server>] {
        &self.servers
    }

    /// A server by name.
    pub fn server(&self, name: &str) -> Option<&Arc<Server>> {
        self.servers.iter().find(|s| s.name() == name)
    }

    /// A server by id.
    pub fn server_by_id(&self, id: ServerId) -> Option<&Arc<Server>> {
        self.servers.iter().find(|s| s.id() == id)
    }

    /// The balancing configuration.
    pub fn config(&self) -> &BalanceConfig {
        &self.config
    }

    /// The servers currently balanced over (actives, or the backups in use).
    pub fn balanced(&self) -> impl Iterator<Item = &Arc<Server>> + '_ {
        self.lb.iter().map(|&i| &self.servers[i as usize])
    }

    /// Whether at least one server can take load-balanced traffic.
    pub fn is_available(&self) -> bool {
        self.balanced().any(|s| s.is_usable())
    }

    /// When tables must be rebuilt because a slow-start ramp moved on.
    pub(crate) fn refresh_at(&self) -> Option<Instant> {
        self.refresh_at
    }

    pub(crate) fn least_conn(&self) -> Option<&Arc<LeastConn>> {
        match &self.table {
            Table::LeastConn(lc) => Some(lc),
            _ => None,
        }
    }

    fn at(&self, pos: usize) -> &Arc<Server> {
        &self.servers[self.lb[pos] as usize]
    }

    /// Whether a pick may land on position `pos`: live-usable, not avoided, with a free slot.
    fn eligible(&self, pos: usize, avoid: Option<ServerId>, now: Instant) -> bool {
        let s = self.at(pos);
        s.is_usable() && avoid != Some(s.id()) && {
            let max = s.effective_maxconn(now);
            max == 0 || s.stats().inflight() < max
        }
    }

    /// Picks a server for `key` at `now` without taking a slot on it.
    ///
    /// Servers that are down, in maintenance, draining, at weight 0 or at maxconn are never
    /// returned. `key.avoid` is honoured when another server is eligible.
    ///
    /// # Errors
    /// [`Unavailable::NoServer`] when no server is usable, [`Unavailable::Saturated`] when
    /// all usable servers are at maxconn (the request should queue).
    pub fn pick(&self, key: &RequestKey<'_>, now: Instant) -> Result<&Arc<Server>, Unavailable> {
        let n = self.lb.len();
        if n == 0 {
            return Err(Unavailable::NoServer);
        }
        let pos = match &self.table {
            Table::LeastConn(lc) => {
                let s = lc.pick(key.avoid)?;
                return self
                    .servers
                    .iter()
                    .find(|x| Arc::ptr_eq(x, &s))
                    .ok_or(Unavailable::NoServer);
            }
            Table::First => self.pick_first(key.avoid, now),
            Table::Cumulative(cum) => self.pick_random(cum, key.avoid, now),
            Table::Ring(ring) => self.pick_ring(ring, key, now),
            Table::Map(map) => self.pick_map(map, key, now),
        };
        match pos {
            Some(p) => Ok(self.at(p)),
            None => Err(self.why_none()),
        }
    }

    fn why_none(&self) -> Unavailable {
        if self.balanced().any(|s| s.is_usable()) {
            Unavailable::Saturated
        } else {
            Unavailable::NoServer
        }
    }

    /// With `avoid` and no other choice, the avoided server is still better than nothing.
    fn with_fallback(
        &self,
        avoid: Option<ServerId>,
        now: Instant,
        f: impl Fn(Option<ServerId>) -> Option<usize>,
    ) -> Option<usize> {
        let _ = now;
        f(avoid).or_else(|| avoid.and_then(|_| f(None)))
    }

    fn pick_first(&self, avoid: Option<ServerId>, now: Instant) -> Option<usize> {
        self.with_fallback(avoid, now, |avoid| {
            (0..self.lb.len()).find(|&p| self.eligible(p, avoid, now))
        })
    }

    fn pick_map(&self, map: &[u32], key: &RequestKey<'_>, now: Instant) -> Option<usize> {
        if map.is_empty() {
            return None;
        }
        let hash = if self.config.algorithm.is_hash() {
            if self.lb.len() == 1 {
                // HAProxy skips hashing when a single server is left.
                return self
                    .with_fallback(key.avoid, now, |a| self.eligible(0, a, now).then_some(0));
            }
            key.hash(&self.config.algorithm, &self.config.hash_type)
        } else {
            None
        };
        let start = match hash {
            Some(h) => h as usize % map.len(),
            None => self.rr.fetch_add(1, Ordering::Relaxed) % map.len(),
        };
        self.with_fallback(key.avoid, now, |avoid| {
            (0..map.len())
                .map(|i| map[(start + i) % map.len()] as usize)
                .find(|&p| self.eligible(p, avoid, now))
        })
    }

    fn pick_ring(&self, ring: &Ring, key: &RequestKey<'_>, now: Instant) -> Option<usize> {
        let hash = match key.hash(&self.config.algorithm, &self.config.hash_type) {
            Some(h) if self.lb.len() > 1 => h,
            // No key (or a single server): round robin over the ring's order of servers.
            _ => {
                let start = self.rr.fetch_add(1, Ordering::Relaxed);
                let n = self.lb.len();
                return self.with_fallback(key.avoid, now, |avoid| {
                    (0..n)
                        .map(|i| (start + i) % n)
                        .find(|&p| self.eligible(p, avoid, now))
                });
            }
        };
        let factor = self.config.hash_balance_factor;
        let total = self.backend_inflight.load(Ordering::Relaxed);
        self.with_fallback(key.avoid, now, |avoid| {
            ring.candidates(hash).map(|p| p as usize).find(|&p| {
                self.eligible(p, avoid, now)
                    && (factor == 0 || {
                        let cap = bounded_load_cap(
                            total,
                            factor,
                            self.weights[p],
                            self.total_weight as u32,
                        );
                        u64::from(self.at(p).stats().inflight()) < cap
                    })
            })
        })
    }

    fn pick_random(&self, cum: &[u64], avoid: Option<ServerId>, now: Instant) -> Option<usize> {
        let total = *cum.last()?;
        if total == 0 {
            return None;
        }
        let draws = match self.config.algorithm {
            Algorithm::Random { draws } => draws.max(1),
            _ => 2,
        };
        let factor = self.config.hash_balance_factor;
        let backend_total = self.backend_inflight.load(Ordering::Relaxed);
        let mut best: Option<usize> = None;
        // Each draw is a weighted random position; keep the least loaded relative to weight.
        for _ in 0..draws {
            let r = fastrand::u64(0..total);
            let p = cum.partition_point(|&c| c <= r);
            if p >= self.lb.len() || !self.eligible(p, avoid, now) {
                continue;
            }
            if factor != 0 {
                let cap = bounded_load_cap(backend_total, factor, self.weights[p], total as u32);
                if u64::from(self.at(p).stats().inflight()) >= cap {
                    continue;
                }
            }
            best = Some(match best {
                None => p,
                Some(b) => {
                    let lb = u64::from(self.at(b).stats().inflight()) * u64::from(self.weights[p]);
                    let lp = u64::from(self.at(p).stats().inflight()) * u64::from(self.weights[b]);
                    if lp < lb {
                        p
                    } else {
                        b
                    }
                }
            });
        }
        if best.is_some() {
            return best;
        }
        // Every draw hit an ineligible server: scan from a random start so a usable server
        // is still found when one exists.
        let n = self.lb.len();
        let start = fastrand::usize(0..n);
        self.with_fallback(avoid, now, |avoid| {
            (0..n)
                .map(|i| (start + i) % n)
                .find(|&p| self.eligible(p, avoid, now))
        })
    }
}

//! The least-connections index: a min segment tree over the backend's servers.
//!
//! A pick reads the root; taking and releasing a slot updates one leaf and its path, all
//! under one short lock, so a pick always sees the true minimum and pick + acquire is atomic
//! (two concurrent picks cannot both take the last slot of a server). Keys follow HAProxy's
//! fwlc: 0 for an idle server, else `(inflight + 1) * 4096 / eweight`, and equal keys
//! rotate because each update stamps a fresh sequence number into the key's low bits.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::select::Unavailable;
use crate::server::{Server, ServerId};

const FULL: u32 = u32::MAX;
const EMPTY: (u64, u32) = (u64::MAX, u32::MAX);

#[derive(Debug, Default)]
struct Tree {
    servers: Vec<Arc<Server>>,
    eweights: Vec<u32>,
    limits: Vec<u32>,
    nodes: Vec<(u64, u32)>,
    cap: usize,
    seq: u32,
    usable: usize,
}

impl Tree {
    fn load_key(&self, slot: usize) -> u32 {
        let s = &self.servers[slot];
        let ew = self.eweights[slot];
        if ew == 0 || !s.is_usable() {
            return FULL;
        }
        let st = s.stats();
        let cur = st.inflight.load(Ordering::Relaxed);
        let limit = self.limits[slot];
        if limit != 0 && cur >= limit {
            return FULL;
        }
        let n = u64::from(cur) + u64::from(st.queued.load(Ordering::Relaxed));
        if n == 0 {
            0
        } else {
            ((n + 1) * 4096 / u64::from(ew)).min(u64::from(FULL - 1)) as u32
        }
    }

    fn set_leaf(&mut self, slot: usize, key: u32) {
        self.seq = self.seq.wrapping_add(1);
        let mut i = self.cap + slot;
        self.nodes[i] = ((u64::from(key) << 32) | u64::from(self.seq), slot as u32);
        while i > 1 {
            i /= 2;
            let (a, b) = (self.nodes[2 * i], self.nodes[2 * i + 1]);
            self.nodes[i] = if a.0 <= b.0 { a } else { b };
        }
    }

    fn refresh(&mut self, slot: usize) {
        let k = self.load_key(slot);
        self.set_leaf(slot, k);
    }

    /// The minimum slot, skipping `avoid` when another slot is available.
    fn min(&mut self, avoid: Option<ServerId>) -> Option<usize> {
        let root = *self.nodes.get(1)?;
        if root.0 >> 32 == u64::from(FULL) {
            return None;
        }
        let slot = root.1 as usize;
        if avoid.is_some_and(|a| self.servers[slot].id() == a) {
            // Look again with this leaf hidden, then put it back as it was.
            let leaf = self.cap + slot;
            let saved = self.nodes[leaf];
            self.set_leaf_raw(slot, EMPTY);
            let alt = self.nodes[1];
            self.set_leaf_raw(slot, saved);
            if alt.0 >> 32 != u64::from(FULL) && alt.1 != u32::MAX {
                return Some(alt.1 as usize);
            }
        }
        Some(slot)
    }

    fn set_leaf_raw(&mut self, slot: usize, v: (u64, u32)) {
        let mut i = self.cap + slot;
        self.nodes[i] = v;
        while i > 1 {
            i /= 2;
            let (a, b) = (self.nodes[2 * i], self.nodes[2 * i + 1]);
            self.nodes[i] = if a.0 <= b.0 { a } else { b };
        }
    }
}

/// The index; one per leastconn backend, rebuilt with each snapshot.
#[derive(Debug, Default)]
pub(crate) struct LeastConn {
    tree: Mutex<Tree>,
}

impl LeastConn {
    fn lock(&self) -> MutexGuard<'_, Tree> {
        // A panic while holding the lock cannot leave the tree inconsistent beyond stale
        // keys, which the next update fixes: recover the guard.
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rebuilds the index over `servers` = (server, effective weight, connection limit).
    pub(crate) fn rebuild(&self, servers: &[(Arc<Server>, u32, u32)]) {
        let mut t = self.lock();
        let n = servers.len();
        let cap = n.next_power_of_two().max(1);
        t.servers = servers.iter().map(|(s, _, _)| s.clone()).collect();
        t.eweights = servers.iter().map(|&(_, w, _)| w).collect();
        t.limits = servers.iter().map(|&(_, _, l)| l).collect();
        t.usable = servers.iter().filter(|(_, w, _)| *w > 0).count();
        t.cap = cap;
        t.nodes = vec![EMPTY; 2 * cap];
        for (slot, (s, _, _)) in servers.iter().enumerate() {
            s.lc_slot.store(slot as u32, Ordering::Relaxed);
            t.refresh(slot);
        }
    }

    /// The least loaded usable server, without taking a slot.
    pub(crate) fn pick(&self, avoid: Option<ServerId>) -> Result<Arc<Server>, Unavailable> {
        let mut t = self.lock();
        match t.min(avoid) {
            Some(slot) => Ok(t.servers[slot].clone()),
            None if t.usable == 0 => Err(Unavailable::NoServer),
            None => Err(Unavailable::Saturated),
        }
    }

    /// Picks the least loaded usable server and takes a slot on it, atomically.
    pub(crate) fn acquire(&self, avoid: Option<ServerId>) -> Result<Arc<Server>, Unavailable> {
        let mut t = self.lock();
        loop {
            let Some(slot) = t.min(avoid) else {
                return Err(if t.usable == 0 {
                    Unavailable::NoServer
                } else {
                    Unavailable::Saturated
                });
            };
            let limit = t.limits[slot];
            let ok = t.servers[slot].try_acquire(limit);
            t.refresh(slot);
            if ok {
                return Ok(t.servers[slot].clone());
            }
        }
    }

    /// Recomputes the key of `server` after its load changed outside `acquire`.
    pub(crate) fn update(&self, server: &Server) {
        let mut t = self.lock();
        let slot = server.lc_slot.load(Ordering::Relaxed) as usize;
        if slot < t.servers.len() && std::ptr::eq(Arc::as_ptr(&t.servers[slot]), server) {
            t.refresh(slot);
        }
    }
}

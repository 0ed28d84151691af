//! The consistent-hash ring (`hash-type consistent`) and bounded loads
//! (`hash-balance-factor`).
//!
//! A [`Ring`] is immutable: rebuild it when the usable servers or their
//! weights change (HAProxy edits its tree in place; the resulting set of
//! points is the same). Lookups borrow it and never allocate for the first
//! candidate.

use std::fmt;
use std::iter::FusedIterator;

use super::avalanche;

/// The most points a server can own: HAProxy's largest effective weight
/// (user weight 256 × `BE_WEIGHT_SCALE` 16).
pub const MAX_POINTS_PER_SERVER: u32 = 256 * 16;

/// A consistent-hash ring: each server owns `weight` points (callers pass
/// eweight = uweight*16 for full weight, as HAProxy).
///
/// Points are `full_hash(server_key + i)` for `i` in `0..eweight`
/// ([`avalanche`] is HAProxy's `full_hash`), as `chash_init_server_tree` /
/// `chash_queue_dequeue_srv` in HAProxy's `src/lb_chash.c`. With the default
/// `hash-key id`, `server_key` is `id * 4096`, so the points of a server do not
/// depend on the other servers and removing one moves only its keys.
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::Ring;
///
/// // Three servers of weight 1 (eweight 16), keys per `hash-key id`.
/// let ring = Ring::build((1..=3u32).map(|id| (id - 1, id * 4096, 16)));
/// assert_eq!(ring.len(), 48);
/// assert_eq!(ring.server_count(), 3);
/// let first = ring.nearest(0x1234_5678).unwrap();
/// assert!(first < 3);
/// ```
#[derive(Clone, Default)]
pub struct Ring {
    /// `(point, slot)` sorted by point then by caller index.
    points: Box<[(u32, u32)]>,
    /// Caller index of each slot, sorted ascending, unique.
    servers: Box<[u32]>,
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("points", &self.points.len())
            .field("servers", &self.servers)
            .finish()
    }
}

impl Ring {
    /// Builds a ring.
    ///
    /// `servers`: (index into the caller's server list, server key (HAProxy:
    /// id*4096 by default, hash-key id), eweight). A server with eweight 0 gets
    /// no point (HAProxy removes it from the tree); an eweight above
    /// [`MAX_POINTS_PER_SERVER`] is capped there (HAProxy cannot exceed it).
    /// An index given twice owns the points of both entries.
    pub fn build(servers: impl IntoIterator<Item = (u32, u32, u32)>) -> Ring {
        let entries: Vec<(u32, u32, u32)> = servers
            .into_iter()
            .map(|(index, key, weight)| (index, key, weight.min(MAX_POINTS_PER_SERVER)))
            .filter(|&(_, _, weight)| weight > 0)
            .collect();

        let mut indexes: Vec<u32> = entries.iter().map(|&(index, _, _)| index).collect();
        indexes.sort_unstable();
        indexes.dedup();

        let total: usize = entries.iter().map(|&(_, _, w)| w as usize).sum();
        let mut points: Vec<(u32, u32)> = Vec::with_capacity(total);
        for &(index, key, weight) in &entries {
            let slot = indexes
                .binary_search(&index)
                .expect("every entry's index was collected above");
            // Fewer than 2^32 unique indexes come from u32s: the slot fits.
            let slot = slot as u32;
            points.extend((0..weight).map(|i| (avalanche(key.wrapping_add(i)), slot)));
        }
        // Slots are in index order, so ties on a point break by caller index,
        // which does not depend on which other servers are present.
        points.sort_unstable();

        Ring {
            points: points.into_boxed_slice(),
            servers: indexes.into_boxed_slice(),
        }
    }

    /// Whether the ring has no point (no server of non-zero weight).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The number of points on the ring (the sum of the capped eweights).
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// The number of distinct servers on the ring.
    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// The server indexes on the ring, ascending.
    pub fn servers(&self) -> &[u32] {
        &self.servers
    }

    /// The first candidate for `hash`: `candidates(hash).next()`.
    pub fn nearest(&self, hash: u32) -> Option<u32> {
        self.candidates(hash).next()
    }

    /// The candidates for `hash`, nearest point first (HAProxy: compare
    /// distance to the next-or-equal point and the previous point, tie ->
    /// previous), then walking forward (clockwise) through the ring, each
    /// server index yielded at most once, at most one full wrap.
    ///
    /// This is HAProxy's `chash_get_server_hash`: the caller skips a candidate
    /// it must avoid (redispatch), one that is not eligible under
    /// `hash-balance-factor` ([`bounded_load_cap`]), or one at its `maxconn`
    /// (`hash-preserve-affinity`), and takes the next. Unlike HAProxy's walk,
    /// a server is never offered twice; every server on the ring is offered
    /// once the walk completes. Empty for an empty ring.
    ///
    /// The first candidate costs a binary search and no allocation; the
    /// iterator allocates a bitmap (one bit per server) when it reaches a
    /// second server.
    pub fn candidates(&self, hash: u32) -> Candidates<'_> {
        let n = self.points.len();
        let start = if n == 0 {
            0
        } else {
            let next = self.points.partition_point(|&(p, _)| p < hash);
            let next = if next == n { 0 } else { next };
            let prev = if next == 0 { n - 1 } else { next - 1 };
            let dp = hash.wrapping_sub(self.points[prev].0);
            let dn = self.points[next].0.wrapping_sub(hash);
            if dp <= dn {
                prev
            } else {
                next
            }
        };
        Candidates {
            ring: self,
            start,
            visited: 0,
            first: None,
            seen: Vec::new(),
            yielded: 0,
        }
    }
}

/// The candidate servers for a hash, from [`Ring::candidates`].
///
/// Yields caller indexes, nearest first, each at most once.
#[derive(Clone, Debug)]
pub struct Candidates<'a> {
    ring: &'a Ring,
    /// Position of the nearest point.
    start: usize,
    /// Points visited so far (at most one full turn).
    visited: usize,
    /// Slot of the first candidate.
    first: Option<u32>,
    /// Bitmap of yielded slots, allocated at the second candidate.
    seen: Vec<u64>,
    yielded: usize,
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let points = &self.ring.points;
        let servers = &self.ring.servers;
        while self.visited < points.len() && self.yielded < servers.len() {
            let mut pos = self.start + self.visited;
            if pos >= points.len() {
                pos -= points.len();
            }
            self.visited += 1;
            let slot = points[pos].1;
            let Some(first) = self.first else {
                self.first = Some(slot);
                self.yielded = 1;
                return servers.get(slot as usize).copied();
            };
            if slot == first {
                continue;
            }
            if self.seen.is_empty() {
                self.seen = vec![0; servers.len().div_ceil(64)];
                mark(&mut self.seen, first);
            }
            if mark(&mut self.seen, slot) {
                self.yielded += 1;
                return servers.get(slot as usize).copied();
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.ring.servers.len() - self.yielded;
        let lower = usize::from(self.first.is_none() && left > 0);
        (lower, Some(left))
    }
}

impl FusedIterator for Candidates<'_> {}

/// Sets `slot`'s bit; returns whether it was clear.
fn mark(seen: &mut [u64], slot: u32) -> bool {
    let (word, bit) = ((slot / 64) as usize, slot % 64);
    match seen.get_mut(word) {
        Some(w) if *w & (1 << bit) == 0 => {
            *w |= 1 << bit;
            true
        }
        _ => false,
    }
}

/// hash-balance-factor: the per-server cap of bounded-load consistent
/// hashing.
///
/// Given total in-flight over the backend (`total`, before adding this
/// request), the factor (e.g. 125 for 1.25) and the server's weight share
/// (`weight`, `total_weight`): as HAProxy's `chash_server_is_eligible`,
/// `slots = ceil((total+1) * factor / 100)` are distributed proportionally to
/// weights, at least 1 per server; the server is eligible iff its in-flight <
/// its cap.
///
/// HAProxy gives each server `weight * (slots / total_weight)` plus its share
/// of the remainder `slots % total_weight`, cut at cumulative weights (see
/// [`bounded_load_cap_exact`], which needs the server's position). Without the
/// position this function rounds the remainder share up: each cap is
/// HAProxy's or one more, so the caps still add up to at least `slots`.
///
/// Edge cases (HAProxy never sees them): `factor == 0` means the option is
/// off and gives `u64::MAX`; a factor in `1..100` is treated as 100 (HAProxy
/// requires more than 100), so the caps always cover `total + 1`;
/// `total_weight == 0` gives the whole `slots`; `weight` is capped at
/// `total_weight`; the arithmetic saturates instead of overflowing.
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::bounded_load_cap;
///
/// // 9 in flight, factor 1.25: ceil(10 * 1.25) = 13 slots over 3 equal servers.
/// assert_eq!(bounded_load_cap(9, 125, 16, 48), 5);
/// // Weight 2 of 4: half of ceil(100 * 1.5) = 150.
/// assert_eq!(bounded_load_cap(99, 150, 32, 64), 75);
/// // Never below one.
/// assert_eq!(bounded_load_cap(0, 125, 1, 1000), 1);
/// ```
pub fn bounded_load_cap(total: u64, factor: u32, weight: u32, total_weight: u32) -> u64 {
    bounded_load(total, factor, weight, total_weight, None)
}

/// [`bounded_load_cap`] exactly as HAProxy's `chash_server_is_eligible`,
/// which also needs `cumulative_weight`: the sum of the eweights of the
/// usable servers declared before this one (HAProxy's `recount_servers`).
///
/// The remainder share is `(cumulative_weight + weight) * rem / total_weight
/// - cumulative_weight * rem / total_weight` (integer division), so the caps
/// of all servers add up to exactly `slots`, plus one for each server bumped
/// to the minimum of 1. Same edge cases as [`bounded_load_cap`];
/// `cumulative_weight` is capped at `total_weight - weight`.
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::bounded_load_cap_exact;
///
/// // 13 slots over 3 servers of eweight 16: 4 each, the remainder 1 goes to
/// // the server whose weight range crosses it.
/// let caps: Vec<u64> = [0, 16, 32]
///     .iter()
///     .map(|&cum| bounded_load_cap_exact(9, 125, 16, cum, 48))
///     .collect();
/// assert_eq!(caps, [4, 4, 5]);
/// ```
pub fn bounded_load_cap_exact(
    total: u64,
    factor: u32,
    weight: u32,
    cumulative_weight: u32,
    total_weight: u32,
) -> u64 {
    bounded_load(total, factor, weight, total_weight, Some(cumulative_weight))
}

fn bounded_load(
    total: u64,
    factor: u32,
    weight: u32,
    total_weight: u32,
    cumulative_weight: Option<u32>,
) -> u64 {
    if factor == 0 {
        return u64::MAX;
    }
    let factor = u128::from(factor.max(100));
    // ceil((total + 1) * factor / 100), in u128: cannot overflow.
    let slots = ((u128::from(total) + 1) * factor).div_ceil(100);
    let cap = if total_weight == 0 {
        slots
    } else {
        let tw = u128::from(total_weight);
        let w = u128::from(weight).min(tw);
        let (per_weight, rem) = (slots / tw, slots % tw);
        let share = match cumulative_weight {
            None => (w * rem).div_ceil(tw),
            Some(cum) => {
                let cum = u128::from(cum).min(tw - w);
                (cum + w) * rem / tw - cum * rem / tw
            }
        };
        w * per_weight + share
    };
    u64::try_from(cap.max(1)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Servers of user weight `w` with `hash-key id` keys (id = index + 1).
    fn ring_of(weights: &[u32]) -> Ring {
        Ring::build(
            weights
                .iter()
                .enumerate()
                .map(|(i, &w)| (i as u32, (i as u32 + 1) * 4096, w * 16)),
        )
    }

    fn distribution(ring: &Ring, servers: usize, keys: u32, seed: u64) -> Vec<u32> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut counts = vec![0u32; servers];
        for _ in 0..keys {
            let s = ring.nearest(rng.u32(..)).expect("non-empty ring");
            counts[s as usize] += 1;
        }
        counts
    }

    #[test]
    fn empty_ring() {
        let ring = Ring::build([]);
        assert!(ring.is_empty());
        assert_eq!(ring.len(), 0);
        assert_eq!(ring.candidates(42).next(), None);
        assert_eq!(ring.nearest(0), None);
        let zero = Ring::build([(0, 4096, 0), (1, 8192, 0)]);
        assert!(zero.is_empty());
        assert_eq!(zero.server_count(), 0);
        assert_eq!(Ring::default().nearest(1), None);
    }

    #[test]
    fn points_follow_haproxy() {
        let ring = Ring::build([(7, 4096, 3)]);
        let mut expected: Vec<u32> = (0..3).map(|i| avalanche(4096 + i)).collect();
        expected.sort_unstable();
        let got: Vec<u32> = ring.points.iter().map(|&(p, _)| p).collect();
        assert_eq!(got, expected);
        assert_eq!(ring.servers(), &[7]);
        // Capped at HAProxy's largest eweight.
        let big = Ring::build([(0, 0, u32::MAX)]);
        assert_eq!(big.len(), MAX_POINTS_PER_SERVER as usize);
    }

    #[test]
    fn nearest_point_tie_goes_to_previous() {
        // Hand-made ring: points 100 (server 1) and 200 (server 2).
        let ring = Ring {
            points: vec![(100, 0), (200, 1)].into_boxed_slice(),
            servers: vec![1, 2].into_boxed_slice(),
        };
        assert_eq!(ring.nearest(100), Some(1));
        assert_eq!(ring.nearest(149), Some(1));
        assert_eq!(ring.nearest(150), Some(1)); // tie -> previous
        assert_eq!(ring.nearest(151), Some(2));
        assert_eq!(ring.nearest(200), Some(2)); // exact hit is "next", distance 0
        assert_eq!(ring.nearest(201), Some(2));
        // Wrap: from 200 to 100 through 0 is 2^32 - 100 long.
        assert_eq!(ring.nearest(u32::MAX), Some(1)); // 101 ahead vs ~2^32 behind
        assert_eq!(ring.nearest(0), Some(1));
        assert_eq!(ring.nearest(99), Some(1));
        let mid = 200u32.wrapping_add((u32::MAX - 100) / 2 + 1);
        assert_eq!(ring.nearest(mid), Some(2)); // equal distances -> previous (200)
        assert_eq!(ring.nearest(mid.wrapping_add(1)), Some(1));
        // Walk goes forward from the nearest point.
        assert_eq!(ring.candidates(150).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(ring.candidates(151).collect::<Vec<_>>(), [2, 1]);
    }

    #[test]
    fn candidates_yield_every_server_once() {
        let ring = ring_of(&[1, 2, 3, 1, 1]);
        for h in [0, 1, u32::MAX, 0x8000_0000, 123_456_789] {
            let c: Vec<u32> = ring.candidates(h).collect();
            let mut sorted = c.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2, 3, 4], "hash {h}");
            assert_eq!(c[0], ring.nearest(h).unwrap());
        }
        let mut it = ring.candidates(5);
        assert_eq!(it.size_hint(), (1, Some(5)));
        assert_eq!(it.by_ref().count(), 5);
        assert_eq!(it.next(), None);
        assert_eq!(it.size_hint(), (0, Some(0)));
    }

    #[test]
    fn single_server_takes_everything() {
        let ring = ring_of(&[1]);
        assert_eq!(ring.candidates(9).collect::<Vec<_>>(), [0]);
        // Sparse caller indexes are returned as given.
        let ring = Ring::build([(1000, 4096, 16), (u32::MAX, 8192, 16)]);
        let mut c: Vec<u32> = ring.candidates(3).collect();
        c.sort_unstable();
        assert_eq!(c, [1000, u32::MAX]);
        // The same index twice is one server.
        let ring = Ring::build([(4, 4096, 16), (4, 8192, 16)]);
        assert_eq!(ring.len(), 32);
        assert_eq!(ring.candidates(3).collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn equal_weights_spread_evenly() {
        // 10 servers at HAProxy's largest weight (4096 points each):
        // 100k uniform keys land within 6% of the mean on every server.
        let ring = ring_of(&[256; 10]);
        let counts = distribution(&ring, 10, 100_000, 1);
        for (s, &c) in counts.iter().enumerate() {
            let dev = (f64::from(c) - 10_000.0).abs() / 10_000.0;
            assert!(dev < 0.06, "server {s}: {c} keys ({counts:?})");
        }
    }

    #[test]
    fn equal_weights_default_weight_spread() {
        // HAProxy's default weight 1 gives only 16 points per server: the
        // spread is coarser but every server gets a fair part.
        let ring = ring_of(&[1; 10]);
        let counts = distribution(&ring, 10, 100_000, 2);
        for (s, &c) in counts.iter().enumerate() {
            assert!(
                (4_000..=16_000).contains(&c),
                "server {s}: {c} ({counts:?})"
            );
        }
    }

    #[test]
    fn weighted_spread_follows_weights() {
        // Weights 1:2:3 (scaled to 80:160:240, 1280..3840 points).
        let ring = ring_of(&[80, 160, 240]);
        let counts = distribution(&ring, 3, 120_000, 3);
        for (s, (&c, want)) in counts
            .iter()
            .zip([20_000.0, 40_000.0, 60_000.0])
            .enumerate()
        {
            let dev = (f64::from(c) - want).abs() / want;
            assert!(
                dev < 0.08,
                "server {s}: {c} keys, want ~{want} ({counts:?})"
            );
        }
    }

    #[test]
    fn removing_a_server_moves_about_one_nth() {
        let n = 10usize;
        let all = ring_of(&[100; 10]);
        let without = Ring::build(
            (0..n as u32)
                .filter(|&i| i != 3)
                .map(|i| (i, (i + 1) * 4096, 1600)),
        );
        let mut rng = fastrand::Rng::with_seed(4);
        let (mut moved, keys) = (0u32, 100_000u32);
        for _ in 0..keys {
            let h = rng.u32(..);
            let before = all.nearest(h).unwrap();
            let after = without.nearest(h).unwrap();
            if before != after {
                assert_eq!(before, 3, "only the removed server's keys move");
                moved += 1;
            }
        }
        let share = f64::from(moved) / f64::from(keys);
        assert!((0.07..0.13).contains(&share), "moved {share}");
    }

    #[test]
    fn bounded_load_examples() {
        assert_eq!(bounded_load_cap(9, 125, 16, 48), 5);
        assert_eq!(bounded_load_cap(99, 150, 32, 64), 75);
        assert_eq!(bounded_load_cap(0, 125, 1, 1000), 1);
        assert_eq!(bounded_load_cap(0, 0, 1, 1), u64::MAX);
        // factor below 100 acts as 100: the caps cover total + 1.
        assert_eq!(bounded_load_cap(9, 50, 1, 1), 10);
        assert_eq!(bounded_load_cap(9, 125, 5, 0), 13);
        assert_eq!(bounded_load_cap(9, 125, 99, 10), 13);
        assert_eq!(bounded_load_cap(u64::MAX, u32::MAX, 1, 1), u64::MAX);
        // HAProxy's exact split of 13 slots over 3 x 16.
        assert_eq!(bounded_load_cap_exact(9, 125, 16, 0, 48), 4);
        assert_eq!(bounded_load_cap_exact(9, 125, 16, 16, 48), 4);
        assert_eq!(bounded_load_cap_exact(9, 125, 16, 32, 48), 5);
        assert_eq!(bounded_load_cap_exact(0, 0, 16, 32, 48), u64::MAX);
        assert_eq!(bounded_load_cap_exact(0, 125, 16, 32, 0), 2);
    }

    fn weights() -> impl Strategy<Value = Vec<u32>> {
        proptest::collection::vec(0u32..=4096, 1..12)
    }

    proptest! {
        #[test]
        fn bounded_caps_cover_and_are_proportional(
            total in 0u64..1_000_000,
            factor in prop_oneof![100u32..=400, 1u32..100, Just(u32::MAX)],
            ws in weights(),
        ) {
            let tw: u32 = ws.iter().sum();
            prop_assume!(tw > 0);
            let caps: Vec<u64> = ws.iter().map(|&w| bounded_load_cap(total, factor, w, tw)).collect();
            let mut cum = 0;
            let exact: Vec<u64> = ws
                .iter()
                .map(|&w| {
                    let c = bounded_load_cap_exact(total, factor, w, cum, tw);
                    cum += w;
                    c
                })
                .collect();
            let f = u128::from(factor.max(100));
            let slots = ((u128::from(total) + 1) * f).div_ceil(100);
            prop_assert!(caps.iter().map(|&c| u128::from(c)).sum::<u128>() >= slots);
            prop_assert!(exact.iter().map(|&c| u128::from(c)).sum::<u128>() >= slots);
            prop_assert!(slots > u128::from(total));
            for (i, &w) in ws.iter().enumerate() {
                prop_assert!(caps[i] >= 1 && exact[i] >= 1);
                // Proportional: within one slot of slots * w / tw.
                let ideal = slots * u128::from(w) / u128::from(tw);
                prop_assert!(u128::from(caps[i]) >= ideal);
                prop_assert!(u128::from(caps[i]) <= (ideal + 1).max(1));
                prop_assert!(u128::from(exact[i]) + 1 >= ideal.max(1));
                prop_assert!(exact[i] <= caps[i]);
                prop_assert!(caps[i] - exact[i] <= 1);
            }
            // Monotone in weight.
            for (i, &a) in ws.iter().enumerate() {
                for (j, &b) in ws.iter().enumerate() {
                    if a <= b {
                        prop_assert!(caps[i] <= caps[j]);
                    }
                }
            }
        }

        #[test]
        fn bounded_cap_never_panics(total in any::<u64>(), factor in any::<u32>(), w in any::<u32>(), cum in any::<u32>(), tw in any::<u32>()) {
            prop_assert!(bounded_load_cap(total, factor, w, tw) >= 1);
            prop_assert!(bounded_load_cap_exact(total, factor, w, cum, tw) >= 1);
        }

        #[test]
        fn candidates_cover_all_servers(ws in weights(), h in any::<u32>()) {
            let ring = Ring::build(ws.iter().enumerate().map(|(i, &w)| (i as u32, (i as u32 + 1) * 4096, w)));
            let c: Vec<u32> = ring.candidates(h).collect();
            let mut sorted = c.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), c.len(), "no duplicates");
            let want: Vec<u32> = ws.iter().enumerate().filter(|(_, &w)| w > 0).map(|(i, _)| i as u32).collect();
            prop_assert_eq!(sorted, want);
            prop_assert_eq!(c.first().copied(), ring.nearest(h));
        }

        #[test]
        fn removal_only_moves_the_removed_servers_keys(
            ws in proptest::collection::vec(1u32..=64, 2..10),
            removed in any::<prop::sample::Index>(),
            hashes in proptest::collection::vec(any::<u32>(), 200),
        ) {
            let r = removed.index(ws.len()) as u32;
            let entry = |(i, &w): (usize, &u32)| (i as u32, (i as u32 + 1) * 4096, w * 16);
            let all = Ring::build(ws.iter().enumerate().map(entry));
            let without = Ring::build(ws.iter().enumerate().map(entry).filter(|&(i, _, _)| i != r));
            for h in hashes {
                let before = all.nearest(h).unwrap();
                let after = without.nearest(h).unwrap();
                if before != r {
                    prop_assert_eq!(before, after);
                } else {
                    prop_assert_ne!(after, r);
                }
            }
        }

        #[test]
        fn arbitrary_rings_never_panic(
            entries in proptest::collection::vec((any::<u32>(), any::<u32>(), 0u32..64), 0..20),
            h in any::<u32>(),
        ) {
            let ring = Ring::build(entries.clone());
            let c: Vec<u32> = ring.candidates(h).collect();
            prop_assert_eq!(c.len(), ring.server_count());
            prop_assert!(c.iter().all(|i| ring.servers().binary_search(i).is_ok()));
        }
    }
}

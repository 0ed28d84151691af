//! Smooth weighted sequences: the map behind roundrobin, static-rr and map-based hashing.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Longest map built; beyond it weights are scaled down proportionally (each keeps >= 1).
const MAX_MAP: u64 = 1 << 16;

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[derive(PartialEq, Eq)]
struct Slot {
    /// 2k+1 for the k-th appearance: the midpoint of its k-th share of virtual time.
    num: u64,
    weight: u64,
    index: u32,
}

impl Ord for Slot {
    fn cmp(&self, other: &Self) -> Ordering {
        // Min-heap on num/weight, then on index (declaration order wins ties).
        (other.num * self.weight)
            .cmp(&(self.num * other.weight))
            .then_with(|| other.index.cmp(&self.index))
    }
}

impl PartialOrd for Slot {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Above this many steps (servers x map length), the map is built by stride scheduling
/// instead of HAProxy's exact quadratic algorithm.
const MAX_EXACT_WORK: u64 = 4 << 20;

/// How a map interleaves servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// HAProxy's static map (lb_map.c): each slot, every server adds its weight to a
    /// score, the highest `(score + total) / total` wins (first declared on ties) and loses
    /// `total`. Map-based hashing then sends a key to the same server as HAProxy does.
    /// `[5, 1, 1]` gives `0 0 0 1 0 0 2`.
    Haproxy,
    /// Smooth weighted round robin (the highest running score wins, exact rather than
    /// quantized): `[5, 1, 1]` gives `0 0 1 0 2 0 0`. Used by roundrobin.
    Smooth,
}

/// Builds a weighted sequence of indices into `weights`: index `i` appears
/// `weights[i] / gcd` times; equal weights give `0, 1, 2, ...`; zero weights never appear.
///
/// Both flavors cost servers x slots; past [`MAX_EXACT_WORK`] an O(slots log servers)
/// stride schedule with the same counts is used instead.
pub(crate) fn smooth_map(weights: &[u32], flavor: Flavor) -> Vec<u32> {
    let g = weights
        .iter()
        .copied()
        .filter(|&w| w > 0)
        .fold(0, gcd)
        .max(1);
    let ws: Vec<i64> = weights.iter().map(|&w| i64::from(w / g)).collect();
    let total: i64 = ws.iter().sum();
    let live = ws.iter().filter(|&&w| w > 0).count() as u64;
    if total as u64 <= MAX_MAP && live * total as u64 <= MAX_EXACT_WORK {
        return scored_map(&ws, total, flavor);
    }
    stride_map(weights)
}

fn scored_map(ws: &[i64], total: i64, flavor: Flavor) -> Vec<u32> {
    let mut score = vec![0i64; ws.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let mut best: Option<(usize, i64)> = None;
        for (i, &w) in ws.iter().enumerate() {
            if w == 0 {
                continue;
            }
            score[i] += w;
            let v = match flavor {
                Flavor::Haproxy => (score[i] + total) / total,
                Flavor::Smooth => score[i],
            };
            if best.is_none_or(|(_, max)| v > max) {
                best = Some((i, v));
            }
        }
        let Some((b, _)) = best else { break };
        out.push(b as u32);
        score[b] -= total;
    }
    out
}

/// Stride scheduling: each appearance at the midpoint of its share of the cycle.
fn stride_map(weights: &[u32]) -> Vec<u32> {
    let g = weights
        .iter()
        .copied()
        .filter(|&w| w > 0)
        .fold(0, gcd)
        .max(1);
    let mut ws: Vec<u64> = weights.iter().map(|&w| u64::from(w / g)).collect();
    let total: u64 = ws.iter().sum();
    if total > MAX_MAP {
        for w in ws.iter_mut().filter(|w| **w > 0) {
            *w = (*w * MAX_MAP / total).max(1);
        }
    }
    let total: u64 = ws.iter().sum();
    let mut heap: BinaryHeap<Slot> = ws
        .iter()
        .enumerate()
        .filter(|(_, &w)| w > 0)
        .map(|(i, &w)| Slot {
            num: 1,
            weight: w,
            index: i as u32,
        })
        .collect();
    let mut out = Vec::with_capacity(total as usize);
    let mut left: Vec<u64> = ws;
    while let Some(mut s) = heap.pop() {
        out.push(s.index);
        let l = &mut left[s.index as usize];
        *l -= 1;
        if *l > 0 {
            s.num += 2;
            heap.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_weights_follow_declaration_order() {
        for f in [Flavor::Haproxy, Flavor::Smooth] {
            assert_eq!(smooth_map(&[1, 1, 1, 1], f), vec![0, 1, 2, 3]);
            assert_eq!(smooth_map(&[16, 16, 16], f), vec![0, 1, 2]);
        }
    }

    #[test]
    fn weights_are_interleaved() {
        assert_eq!(smooth_map(&[2, 1], Flavor::Haproxy), vec![0, 0, 1]);
        assert_eq!(
            smooth_map(&[5, 1, 1], Flavor::Haproxy),
            vec![0, 0, 0, 1, 0, 0, 2]
        );
        assert_eq!(smooth_map(&[2, 1], Flavor::Smooth), vec![0, 1, 0]);
        let m = smooth_map(&[5, 1, 1], Flavor::Smooth);
        assert_eq!(m, vec![0, 0, 1, 0, 2, 0, 0]);
        // never three of server 0 in a row
        assert!(!m.windows(3).any(|w| w.iter().all(|&i| i == 0)));
        // The stride fallback keeps the counts.
        let st = stride_map(&[5, 1, 1]);
        assert_eq!(st.iter().filter(|&&i| i == 0).count(), 5);
    }

    #[test]
    fn zero_weights_never_appear() {
        for f in [Flavor::Haproxy, Flavor::Smooth] {
            assert_eq!(smooth_map(&[0, 3, 0], f), vec![1]);
            assert!(smooth_map(&[0, 0], f).is_empty());
            assert!(smooth_map(&[], f).is_empty());
        }
    }

    #[test]
    fn huge_maps_are_scaled() {
        let ws: Vec<u32> = (0..1000).map(|i| 4096 - i).collect();
        let m = smooth_map(&ws, Flavor::Smooth);
        assert!(m.len() as u64 <= MAX_MAP + 1000);
        let mut seen = vec![false; 1000];
        for &i in &m {
            seen[i as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    proptest! {
        #[test]
        fn counts_match_weights(ws in prop::collection::vec(0u32..50, 1..20)) {
            let m = smooth_map(&ws, Flavor::Smooth);
            let g = ws.iter().copied().filter(|&w| w > 0).fold(0, gcd).max(1);
            for (i, &w) in ws.iter().enumerate() {
                let n = m.iter().filter(|&&x| x as usize == i).count() as u32;
                prop_assert_eq!(n, w / g);
            }
        }

        #[test]
        fn equal_weights_never_repeat(n in 1usize..50, w in 1u32..20) {
            let m = smooth_map(&vec![w; n], Flavor::Smooth);
            // cycling the map never gives the same server twice in a row unless alone
            if n > 1 {
                for i in 0..m.len() {
                    prop_assert_ne!(m[i], m[(i + 1) % m.len()]);
                }
            }
        }
    }
}

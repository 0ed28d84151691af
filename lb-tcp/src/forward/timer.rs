//! Inactivity timers for both sides, driven by one lazily re-armed [`Sleep`].
//!
//! Progress only stores a timestamp (one clock read per poll that moved bytes); the single
//! `Sleep` stays armed at the deadline it had, which can only be earlier than the true one
//! since progress pushes deadlines later. When it fires, the true deadline is computed:
//! past, the session times out; future, the `Sleep` is re-armed once. The `Sleep` is only
//! re-armed early when a deadline moves closer (a side switching to a shorter `*-fin`
//! timeout). A session that moves data steadily therefore touches the timer wheel once
//! per timeout period, not once per read.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{sleep_until, Instant, Sleep};

use super::config::ForwardConfig;
use super::outcome::{Side, Termination};

/// Index of the client side in the per-side arrays.
pub(super) const CLIENT: usize = 0;
/// Index of the server side in the per-side arrays.
pub(super) const SERVER: usize = 1;

/// Per-side inactivity state.
#[derive(Debug)]
pub(super) struct Timers {
    plain: [Option<Duration>; 2],
    tunnel: Option<Duration>,
    fin: [Option<Duration>; 2],
    /// Last activity on each side, or when the forwarder started waiting on it.
    last: [Instant; 2],
    /// Whether the forwarder waited on each side after the previous poll.
    waiting: [bool; 2],
    /// Created at the first deadline, so that a session with no timeout needs no timer.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Timers {
    /// Timers for `cfg`, or `None` when it sets no timeout at all.
    pub(super) fn new(cfg: &ForwardConfig, now: Instant) -> Option<Self> {
        cfg.has_timeouts().then(|| Self {
            plain: [cfg.timeout_client, cfg.timeout_server],
            tunnel: cfg.timeout_tunnel,
            fin: [cfg.timeout_client_fin, cfg.timeout_server_fin],
            last: [now; 2],
            waiting: [false; 2],
            sleep: None,
        })
    }

    /// The timeout that applies to `side` and the termination it causes.
    fn timeout(&self, side: usize, half_closed: bool) -> Option<(Duration, Termination)> {
        let (fin, plain, who) = if side == CLIENT {
            (
                Termination::ClientFinTimeout,
                Termination::ClientTimeout,
                Side::Client,
            )
        } else {
            (
                Termination::ServerFinTimeout,
                Termination::ServerTimeout,
                Side::Server,
            )
        };
        if half_closed {
            if let Some(d) = self.fin[side] {
                return Some((d, fin));
            }
        }
        if let Some(d) = self.tunnel {
            return Some((d, Termination::TunnelTimeout(who)));
        }
        self.plain[side].map(|d| (d, plain))
    }

    /// Records this poll's activity and checks the deadlines.
    ///
    /// `active[s]`: bytes moved from or to side `s`; `waiting[s]`: the forwarder now waits
    /// on `s`; `half_closed[s]`: the proxy shut down writing to `s`. Ready with the
    /// termination when the earliest deadline of a side waited on has passed; otherwise
    /// pending with the timer's waker registered.
    pub(super) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        active: [bool; 2],
        waiting: [bool; 2],
        half_closed: [bool; 2],
    ) -> Poll<Termination> {
        let mut now = None;
        for side in [CLIENT, SERVER] {
            if active[side] || (waiting[side] && !self.waiting[side]) {
                self.last[side] = *now.get_or_insert_with(Instant::now);
            }
            self.waiting[side] = waiting[side];
        }

        let mut next: Option<(Instant, Termination)> = None;
        for side in [CLIENT, SERVER] {
            if !waiting[side] {
                continue;
            }
            let Some((timeout, termination)) = self.timeout(side, half_closed[side]) else {
                continue;
            };
            // A timeout too large to add is as good as infinite.
            let Some(at) = self.last[side].checked_add(timeout) else {
                continue;
            };
            // Strictly earlier: on a tie the client, checked first, is blamed.
            match next {
                Some((earliest, _)) if earliest <= at => {}
                _ => next = Some((at, termination)),
            }
        }
        let Some((deadline, termination)) = next else {
            return Poll::Pending;
        };

        let sleep = match &mut self.sleep {
            Some(sleep) => {
                if sleep.deadline() > deadline {
                    sleep.as_mut().reset(deadline);
                }
                sleep
            }
            None => self.sleep.insert(Box::pin(sleep_until(deadline))),
        };
        // Twice at most: a fire before the true deadline re-arms once, and the second
        // poll registers the waker.
        for _ in 0..2 {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if deadline <= Instant::now() {
                return Poll::Ready(termination);
            }
            sleep.as_mut().reset(deadline);
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

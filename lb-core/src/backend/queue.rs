//! The backend queue: requests waiting for a free slot when every server is at maxconn.
//!
//! Strict FIFO: a freed slot is handed straight to the oldest waiter (the releasing guard
//! becomes the waiter's guard), and newcomers queue behind existing waiters instead of
//! racing them for slots.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

use super::{InFlight, Shared};
use crate::error::{NoServerAvailable, QueueFull, QueueTimeout};
use crate::select::{RequestKey, Unavailable};
use crate::BoxError;

struct Waiter {
    id: u64,
    tx: oneshot::Sender<InFlight>,
}

#[derive(Default)]
pub(super) struct Queue {
    len: AtomicUsize,
    next_id: AtomicU64,
    waiters: Mutex<VecDeque<Waiter>>,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Waiter>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Gives `guard` to the oldest live waiter; returns it when nobody takes it.
    pub(super) fn hand_over(&self, mut guard: InFlight) -> Option<InFlight> {
        let mut q = self.lock();
        while let Some(w) = q.pop_front() {
            self.len.fetch_sub(1, Ordering::AcqRel);
            match w.tx.send(guard) {
                Ok(()) => return None,
                Err(g) => guard = g,
            }
        }
        Some(guard)
    }

    fn remove(&self, id: u64) {
        let mut q = self.lock();
        if let Some(pos) = q.iter().position(|w| w.id == id) {
            q.remove(pos);
            self.len.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Removes its waiter from the queue when the waiting request goes away.
struct Ticket {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.shared.queue.remove(self.id);
    }
}

pin_project! {
    /// Future returned by [`Backend::admit`](super::Backend::admit): resolves to a slot.
    pub struct Admit {
        state: State,
        #[pin]
        sleep: Option<Sleep>,
    }
}

enum State {
    Ready(Option<Result<InFlight, BoxError>>),
    Waiting {
        rx: oneshot::Receiver<InFlight>,
        ticket: Ticket,
    },
}

impl fmt::Debug for Admit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Ready(_) => "ready",
            State::Waiting { .. } => "queued",
        };
        f.debug_struct("Admit").field("state", &state).finish()
    }
}

pub(super) fn admit(shared: &Arc<Shared>, key: &RequestKey<'_>, now: Instant) -> Admit {
    let ready = |r| Admit {
        state: State::Ready(Some(r)),
        sleep: None,
    };
    // Newcomers do not overtake waiters.
    if shared.queue.len() == 0 {
        match shared.acquire(key, now) {
            Ok(server) => return ready(Ok(InFlight::new(server, shared.clone()))),
            Err(Unavailable::NoServer) => {
                shared.stats.no_server.fetch_add(1, Ordering::Relaxed);
                return ready(Err(NoServerAvailable::new(shared.name.clone()).into()));
            }
            Err(Unavailable::Saturated) => {}
        }
    } else if !shared.snapshot.load().is_available() {
        shared.stats.no_server.fetch_add(1, Ordering::Relaxed);
        return ready(Err(NoServerAvailable::new(shared.name.clone()).into()));
    }
    let limit = shared.config.maxqueue;
    let (tx, rx) = oneshot::channel();
    let id = shared.queue.next_id.fetch_add(1, Ordering::Relaxed);
    {
        let mut q = shared.queue.lock();
        if limit != 0 && q.len() >= limit {
            drop(q);
            shared.stats.queue_full.fetch_add(1, Ordering::Relaxed);
            return ready(Err(QueueFull::new(shared.name.clone(), limit).into()));
        }
        q.push_back(Waiter { id, tx });
        let len = shared.queue.len.fetch_add(1, Ordering::AcqRel) + 1;
        shared.stats.max_queued.fetch_max(len, Ordering::Relaxed);
    }
    // A slot may have been freed between the failed acquire and the enqueue.
    shared.dispatch(now);
    Admit {
        state: State::Waiting {
            rx,
            ticket: Ticket {
                shared: shared.clone(),
                id,
            },
        },
        sleep: shared
            .config
            .queue_timeout
            .map(|t| tokio::time::sleep_until(now + t)),
    }
}

impl Admit {
    /// The server already granted, when no wait is needed.
    pub fn server(&self) -> Option<&Arc<crate::Server>> {
        match &self.state {
            State::Ready(Some(Ok(g))) => Some(g.server()),
            _ => None,
        }
    }
}

impl Future for Admit {
    type Output = Result<InFlight, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.state {
            State::Ready(r) => Poll::Ready(
                r.take()
                    .unwrap_or_else(|| Err("Admit polled after completion".into())),
            ),
            State::Waiting { rx, ticket } => {
                if let Poll::Ready(r) = Pin::new(rx).poll(cx) {
                    let shared = &ticket.shared;
                    return Poll::Ready(match r {
                        Ok(guard) => {
                            shared.stats.dequeued.fetch_add(1, Ordering::Relaxed);
                            Ok(guard)
                        }
                        // The sender is only dropped with the backend.
                        Err(_) => Err(NoServerAvailable::new(shared.name.clone()).into()),
                    });
                }
                if let Some(sleep) = this.sleep.as_pin_mut() {
                    if sleep.poll(cx).is_ready() {
                        let shared = &ticket.shared;
                        shared.stats.queue_timeouts.fetch_add(1, Ordering::Relaxed);
                        // A slot handed over right now is dropped with `rx` and released.
                        return Poll::Ready(Err(QueueTimeout::new(shared.name.clone()).into()));
                    }
                }
                Poll::Pending
            }
        }
    }
}

//! Graceful shutdown: [`Shutdown`] (the trigger) and [`ShutdownSignal`] (what serving
//! acceptors and handlers watch).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// What an accept loop did: connections accepted, ended on their own, and cut (aborted) at
/// the end of a shutdown's grace period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeReport {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections whose handler finished (or failed, or panicked).
    pub completed: u64,
    /// Connections aborted when the grace period ran out.
    pub cut: u64,
}

/// The trigger of a graceful shutdown; hand its [`signal`](Self::signal)s to
/// [`Acceptor::serve`](super::Acceptor::serve).
///
/// Not `Clone`, on purpose (as hyper-util's `GracefulShutdown`): one owner decides. Dropping
/// it without calling [`shutdown`](Self::shutdown) never fires the signals.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use lb_tcp::listen::Shutdown;
///
/// # tokio_test::block_on(async {
/// let shutdown = Shutdown::new();
/// let signal = shutdown.signal();
/// assert!(!signal.is_triggered());
/// // Nothing serves, so this returns at once.
/// let report = shutdown.shutdown(Duration::from_secs(5)).await;
/// assert_eq!(report.cut, 0);
/// assert!(signal.is_triggered());
/// # });
/// ```
#[derive(Debug)]
pub struct Shutdown {
    tx: watch::Sender<Option<Instant>>,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    serving: AtomicUsize,
    idle: Notify,
    accepted: AtomicU64,
    completed: AtomicU64,
    cut: AtomicU64,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A trigger that has not fired.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(None);
        Self {
            tx,
            shared: Arc::default(),
        }
    }

    /// A signal that fires when this shuts down.
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            rx: self.tx.subscribe(),
            shared: Arc::clone(&self.shared),
        }
    }

    /// Fires the signals without waiting: acceptors stop accepting and close their
    /// listeners, and connections still open `grace` from now are aborted. A second call
    /// can only bring the deadline closer.
    pub fn trigger(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        self.tx.send_if_modified(|d| match d {
            Some(old) if *old <= deadline => false,
            _ => {
                *d = Some(deadline);
                true
            }
        });
    }

    /// Whether the signals have fired.
    pub fn is_triggered(&self) -> bool {
        self.tx.borrow().is_some()
    }

    /// Fires the signals (as [`trigger`](Self::trigger)) and waits until every acceptor
    /// serving with them has returned; reports their connections in total.
    pub async fn shutdown(self, grace: Duration) -> ServeReport {
        self.trigger(grace);
        loop {
            let idle = self.shared.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.shared.serving.load(Ordering::Acquire) == 0 {
                break;
            }
            idle.await;
        }
        ServeReport {
            accepted: self.shared.accepted.load(Ordering::Acquire),
            completed: self.shared.completed.load(Ordering::Acquire),
            cut: self.shared.cut.load(Ordering::Acquire),
        }
    }
}

/// Watches a [`Shutdown`]: acceptors stop on it, and handlers may watch it too (to close
/// idle keep-alive connections early, say). Cheap to clone.
#[derive(Clone, Debug)]
pub struct ShutdownSignal {
    rx: watch::Receiver<Option<Instant>>,
    shared: Arc<Shared>,
}

impl ShutdownSignal {
    /// A signal that never fires: serve until the task is dropped.
    pub fn never() -> Self {
        Shutdown::new().signal()
    }

    /// Whether shutdown has begun.
    pub fn is_triggered(&self) -> bool {
        self.rx.borrow().is_some()
    }

    /// When live connections will be cut, once shutdown has begun.
    pub fn deadline(&self) -> Option<Instant> {
        *self.rx.borrow()
    }

    /// Waits for shutdown to begin and returns the deadline for live connections. Never
    /// resolves if the [`Shutdown`] is dropped without firing.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn triggered(&self) -> Instant {
        let mut rx = self.rx.clone();
        // Copy the deadline out: the borrow holds a lock.
        let deadline = rx.wait_for(Option::is_some).await.ok().and_then(|d| *d);
        match deadline {
            Some(deadline) => deadline,
            None => std::future::pending().await,
        }
    }

    /// Counts one running accept loop until the guard drops.
    pub(crate) fn serving(&self) -> ServingGuard {
        self.shared.serving.fetch_add(1, Ordering::AcqRel);
        ServingGuard {
            shared: Arc::clone(&self.shared),
            report: ServeReport::default(),
        }
    }
}

/// Adds an accept loop's report to its [`Shutdown`]'s totals when it returns.
#[derive(Debug)]
pub(crate) struct ServingGuard {
    shared: Arc<Shared>,
    pub(crate) report: ServeReport,
}

impl Drop for ServingGuard {
    fn drop(&mut self) {
        let s = &self.shared;
        s.accepted.fetch_add(self.report.accepted, Ordering::AcqRel);
        s.completed
            .fetch_add(self.report.completed, Ordering::AcqRel);
        s.cut.fetch_add(self.report.cut, Ordering::AcqRel);
        if s.serving.fetch_sub(1, Ordering::AcqRel) == 1 {
            s.idle.notify_waiters();
        }
    }
}

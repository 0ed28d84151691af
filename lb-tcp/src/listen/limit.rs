//! [`ConnLimit`]: a shared count of live connections with a ceiling (maxconn).

use std::sync::Arc;

use tokio::sync::{Notify, Semaphore};

/// A connection limit (HAProxy `maxconn`), shared by clones: a frontend's, or the global one
/// across frontends.
///
/// An [`Acceptor`](super::Acceptor) only calls `accept` while its limits have room, so at
/// the limit the kernel queues new connections in the listen backlog; it takes a
/// [`ConnPermit`] for each connection and holds it for the connection's life. Waiting for
/// room ([`ready`](Self::ready)) does not reserve a permit, so an idle frontend never holds
/// a share of the global limit that a busy one could use.
///
/// # Examples
/// ```
/// use lb_tcp::listen::ConnLimit;
/// let limit = ConnLimit::new(2);
/// let a = limit.try_acquire().unwrap();
/// let _b = limit.try_acquire().unwrap();
/// assert!(limit.try_acquire().is_none());
/// assert_eq!(limit.in_use(), 2);
/// drop(a);
/// assert_eq!(limit.available(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct ConnLimit {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sem: Semaphore,
    released: Notify,
    max: usize,
}

impl ConnLimit {
    /// A limit of `max` connections (capped at tokio's semaphore maximum). Zero admits
    /// nothing: a paused frontend.
    pub fn new(max: usize) -> Self {
        let max = max.min(Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new(Inner {
                sem: Semaphore::new(max),
                released: Notify::new(),
                max,
            }),
        }
    }

    /// The ceiling.
    pub fn max(&self) -> usize {
        self.inner.max
    }

    /// Connections holding a permit now.
    pub fn in_use(&self) -> usize {
        self.inner.max.saturating_sub(self.available())
    }

    /// Permits free now.
    pub fn available(&self) -> usize {
        self.inner.sem.available_permits()
    }

    /// Waits for a permit; waiters are served first come, first served.
    ///
    /// # Cancel safety
    /// Cancel safe, but a dropped call loses its place in the queue.
    pub async fn acquire(&self) -> ConnPermit {
        let permit = self
            .inner
            .sem
            .acquire()
            .await
            .expect("the semaphore is private and never closed");
        permit.forget();
        ConnPermit {
            limit: Arc::clone(&self.inner),
        }
    }

    /// A permit if one is free now.
    pub fn try_acquire(&self) -> Option<ConnPermit> {
        let permit = self.inner.sem.try_acquire().ok()?;
        permit.forget();
        Some(ConnPermit {
            limit: Arc::clone(&self.inner),
        })
    }

    /// Waits until a permit is free, without taking it (another task may take it first).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn ready(&self) {
        loop {
            let released = self.inner.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if self.available() > 0 {
                return;
            }
            released.await;
        }
    }
}

/// One connection's share of a [`ConnLimit`], given back on drop.
#[derive(Debug)]
pub struct ConnPermit {
    limit: Arc<Inner>,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        self.limit.sem.add_permits(1);
        self.limit.released.notify_waiters();
    }
}

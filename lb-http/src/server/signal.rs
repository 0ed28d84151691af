//! [`Signalled`]: polls a rarely-firing future (shutdown) only when it woke, not each time
//! the connection it guards is polled.
//!
//! `select!` polls every branch at each wake-up; for a connection that is woken a few
//! times per request, polling a shutdown watch each time costs more than the rest of the
//! select. Here the shutdown future is polled with its own waker, which raises a flag and
//! wakes the task; it is polled again only when the flag is up.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

struct Flag {
    raised: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.raised.store(true, Ordering::Release);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(w) = task {
            w.wake();
        }
    }
}

/// A rarely-ready future polled only after it signalled readiness.
pub(crate) struct Signalled<F> {
    fut: Pin<Box<F>>,
    flag: Arc<Flag>,
    waker: Waker,
    done: bool,
}

impl<F: Future> Signalled<F> {
    pub(crate) fn new(fut: F) -> Self {
        let flag = Arc::new(Flag {
            // Poll once at the start to register.
            raised: AtomicBool::new(true),
            task: Mutex::new(None),
        });
        Signalled {
            fut: Box::pin(fut),
            waker: Waker::from(flag.clone()),
            flag,
            done: false,
        }
    }

    /// Polls the inner future if it may have progressed; `cx`'s task is woken when it does.
    pub(crate) fn poll_signal(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Pending;
        }
        if !self.flag.raised.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        {
            let mut task = self.flag.task.lock().unwrap_or_else(|e| e.into_inner());
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let mut inner = Context::from_waker(&self.waker);
        match self.fut.as_mut().poll(&mut inner) {
            Poll::Ready(_) => {
                self.done = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_once_when_the_inner_future_completes() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut s = Signalled::new(async move {
            let _ = rx.await;
        });
        let mut polls = 0;
        let waiter = std::future::poll_fn(|cx| {
            polls += 1;
            s.poll_signal(cx)
        });
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            let _ = tx.send(());
        });
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken when the inner future fires");
        assert!(polls >= 2);
    }
}

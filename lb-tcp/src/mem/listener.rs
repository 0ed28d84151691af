//! [`MemListener`]: a named listener on a [`MemNetwork`].

use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use lb_core::Address;
use tokio::sync::mpsc;

use super::{MemNetwork, MemStream};
use crate::net::{Peer, Stream};

/// A listener on a [`MemNetwork`], from [`MemNetwork::bind`]. Dropping it unbinds the
/// address: later connects are refused, and queued connections see EOF.
#[derive(Debug)]
pub struct MemListener {
    net: MemNetwork,
    addr: Address,
    id: u64,
    queue: Mutex<mpsc::Receiver<MemStream>>,
    fail_accepts: AtomicU32,
}

impl MemListener {
    pub(super) fn new(
        net: MemNetwork,
        addr: Address,
        id: u64,
        queue: mpsc::Receiver<MemStream>,
    ) -> Self {
        Self {
            net,
            addr,
            id,
            queue: Mutex::new(queue),
            fail_accepts: AtomicU32::new(0),
        }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> &Address {
        &self.addr
    }

    /// The network this listener belongs to.
    pub fn network(&self) -> &MemNetwork {
        &self.net
    }

    /// Makes the next `n` accepts fail at once with an error, as `accept(2)` does on
    /// `EMFILE` (out of file descriptors): for testing that accept loops back off.
    pub fn fail_accepts(&self, n: u32) {
        self.fail_accepts.store(n, Ordering::Release);
    }

    /// Polls for the next connection.
    ///
    /// # Errors
    /// Only injected failures ([`MemListener::fail_accepts`]).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Stream, Peer)>> {
        let injected = self
            .fail_accepts
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if injected.is_ok() {
            return Poll::Ready(Err(io::Error::other(
                "injected accept failure (as EMFILE: too many open files)",
            )));
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match queue.poll_recv(cx) {
            Poll::Ready(Some(stream)) => {
                let peer = Peer::new(stream.peer_addr().clone(), stream.local_addr().clone());
                Poll::Ready(Ok((Stream::Mem(stream), peer)))
            }
            // The network holds the sender until this listener drops: not reached.
            Poll::Ready(None) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("in-memory listener {} is closed", self.addr),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Waits for the next connection.
    ///
    /// # Errors
    /// Only injected failures ([`MemListener::fail_accepts`]).
    ///
    /// # Cancel safety
    /// Cancel safe: no connection is lost if the future is dropped.
    pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }
}

impl Drop for MemListener {
    fn drop(&mut self) {
        self.net.unbind(&self.addr, self.id);
    }
}

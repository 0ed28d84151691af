//! [`MemStream`]: one end of an in-memory connection.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use lb_core::Address;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

use super::fault::Direction;

/// One end of an in-memory connection: a [`tokio::io::duplex`] pipe that knows its local and
/// peer addresses and carries the connection's injected faults.
///
/// Closing semantics are `duplex`'s: after `shutdown` (or drop) of one end, the other end
/// reads EOF once the buffered bytes are consumed, and writes to a dropped end fail with
/// `BrokenPipe`.
#[derive(Debug)]
pub struct MemStream {
    /// `None` once this end has reset the connection.
    io: Option<DuplexStream>,
    local: Address,
    peer: Address,
    reset: Option<ResetHook>,
    /// A stalled connection's server end, kept alive and never served.
    parked: Option<Box<MemStream>>,
}

impl MemStream {
    /// A connected pair, each end buffering up to `max_buf_size` bytes: `(client, server)`,
    /// with addresses `mem@client` and `mem@server`. Feed one end to code under test.
    pub fn pair(max_buf_size: usize) -> (MemStream, MemStream) {
        let client = Address::Mem("client".into());
        let server = Address::Mem("server".into());
        Self::pair_between(client, server, max_buf_size, None)
    }

    pub(crate) fn pair_between(
        client: Address,
        server: Address,
        max_buf_size: usize,
        reset_after: Option<(u64, Direction)>,
    ) -> (MemStream, MemStream) {
        let (c, s) = tokio::io::duplex(max_buf_size.max(1));
        let state = reset_after.map(|(bytes, dir)| (Arc::new(ResetState::new(bytes)), dir));
        let hook = |client_side: bool| {
            state.as_ref().map(|(st, dir)| ResetHook {
                state: Arc::clone(st),
                counts_writes: match dir {
                    Direction::Both => true,
                    Direction::ClientToServer => client_side,
                    Direction::ServerToClient => !client_side,
                },
            })
        };
        let c = MemStream {
            io: Some(c),
            local: client.clone(),
            peer: server.clone(),
            reset: hook(true),
            parked: None,
        };
        let s = MemStream {
            io: Some(s),
            local: server,
            peer: client,
            reset: hook(false),
            parked: None,
        };
        (c, s)
    }

    /// Keeps `server` alive inside this (client) end without ever serving it.
    pub(crate) fn park(&mut self, server: MemStream) {
        self.parked = Some(Box::new(server));
    }

    /// This end's address.
    pub fn local_addr(&self) -> &Address {
        &self.local
    }

    /// The other end's address.
    pub fn peer_addr(&self) -> &Address {
        &self.peer
    }

    /// Whether the connection has been reset by an injected fault.
    pub fn is_reset(&self) -> bool {
        self.reset.as_ref().is_some_and(|h| h.state.is_reset())
    }

    /// Marks the connection reset and closes this end, which wakes the peer.
    fn trigger_reset(&mut self) {
        if let Some(h) = &self.reset {
            h.state.reset.store(true, Ordering::Release);
            tracing::trace!(local = %self.local, peer = %self.peer, "mem connection reset by fault");
        }
        self.io = None;
    }

    /// Maps a pipe error to `ConnectionReset` once the connection is reset.
    fn map_err(&self, e: io::Error) -> io::Error {
        if self.is_reset() {
            reset_error()
        } else {
            e
        }
    }
}

fn reset_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection reset (injected fault on the in-memory network)",
    )
}

/// Shared by both ends of a connection with a reset fault.
#[derive(Debug)]
struct ResetState {
    remaining: AtomicU64,
    reset: AtomicBool,
}

impl ResetState {
    fn new(bytes: u64) -> Self {
        Self {
            remaining: AtomicU64::new(bytes),
            reset: AtomicBool::new(false),
        }
    }

    fn is_reset(&self) -> bool {
        self.reset.load(Ordering::Acquire)
    }
}

#[derive(Debug)]
struct ResetHook {
    state: Arc<ResetState>,
    /// Whether this end's writes spend the budget.
    counts_writes: bool,
}

impl AsyncRead for MemStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(io) = this.io.as_mut() else {
            return Poll::Ready(Err(reset_error()));
        };
        let wanted = buf.remaining() > 0;
        let before = buf.filled().len();
        match ready!(Pin::new(io).poll_read(cx, buf)) {
            // Bytes sent before a reset are still delivered; the reset shows instead of EOF.
            Ok(()) if wanted && buf.filled().len() == before && this.is_reset() => {
                Poll::Ready(Err(reset_error()))
            }
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(this.map_err(e))),
        }
    }
}

impl AsyncWrite for MemStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.is_reset() {
            return Poll::Ready(Err(reset_error()));
        }
        let budget = match &this.reset {
            Some(h) if h.counts_writes => Some(Arc::clone(&h.state)),
            _ => None,
        };
        let Some(io) = this.io.as_mut() else {
            return Poll::Ready(Err(reset_error()));
        };
        let Some(state) = budget else {
            return match ready!(Pin::new(io).poll_write(cx, buf)) {
                Ok(n) => Poll::Ready(Ok(n)),
                Err(e) => Poll::Ready(Err(this.map_err(e))),
            };
        };
        let remaining = state.remaining.load(Ordering::Acquire);
        if remaining == 0 {
            this.trigger_reset();
            return Poll::Ready(Err(reset_error()));
        }
        let n = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
        match ready!(Pin::new(io).poll_write(cx, &buf[..n])) {
            Ok(written) => {
                let spent = written as u64;
                let before = state
                    .remaining
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                        Some(r.saturating_sub(spent))
                    })
                    .unwrap_or(0);
                if before <= spent && n > 0 {
                    this.trigger_reset();
                }
                Poll::Ready(Ok(written))
            }
            Err(e) => Poll::Ready(Err(this.map_err(e))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.io.as_mut() {
            Some(io) => Pin::new(io).poll_flush(cx),
            None => Poll::Ready(Err(reset_error())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_reset() {
            return Poll::Ready(Err(reset_error()));
        }
        match this.io.as_mut() {
            Some(io) => Pin::new(io).poll_shutdown(cx),
            None => Poll::Ready(Err(reset_error())),
        }
    }
}

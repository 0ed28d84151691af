//! One direction of a session: read from a source, write to a destination, then pass the
//! source's EOF on as a shutdown of the destination.
//!
//! The buffer is linear, as in tokio's `copy`: reads fill it from `cap` towards the end,
//! writes drain it from `pos` to `cap`, and both indexes go back to zero once it is empty.
//! A read is tried whenever there is room, even while a write is pending, so writes stay
//! large. No allocation after [`Pipe::new`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Reads plus writes one direction may do in a single poll before it yields, so that a
/// fast direction cannot starve the other one nor the timers, whatever the I/O type.
/// 32 steps of 16 KiB is up to 256 KiB read per direction per poll.
const STEPS_PER_POLL: u32 = 32;

/// What a direction waits on after a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wait {
    /// Nothing: done, or it yielded with work left.
    Nothing,
    /// The source: the buffer is empty and the read is pending.
    Src,
    /// The destination: a write, flush or shutdown is pending.
    Dst,
}

/// Why a direction failed.
#[derive(Debug)]
pub(super) enum PipeError {
    /// Reading from the source failed.
    Read(io::Error),
    /// Writing to (or flushing, or shutting down) the destination failed.
    Write(io::Error),
}

/// Result of [`Pipe::poll_pipe`].
#[derive(Debug)]
pub(super) enum Status {
    /// EOF was read, every byte written and the destination shut down.
    Done,
    /// Waiting for I/O readiness; a waker is registered.
    Pending,
    /// Work is left but the step budget is spent: the caller must wake the task.
    Yield,
    /// The direction failed.
    Failed(PipeError),
}

/// A direction's progress, as the session sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Flow {
    /// Bytes read from the source.
    pub(super) read: u64,
    /// Whether the source reached EOF.
    pub(super) read_done: bool,
    /// Whether the destination was shut down after the last byte.
    pub(super) done: bool,
    /// What the last poll left this direction waiting on.
    pub(super) wait: Wait,
    /// Whether the last poll read bytes from the source.
    pub(super) src_active: bool,
    /// Whether the last poll wrote bytes to the destination.
    pub(super) dst_active: bool,
}

/// Reports a direction's [`Flow`], whatever its I/O types.
pub(super) trait Flowing {
    /// The direction's progress.
    fn flow(&self) -> Flow;
}

/// One direction of a session, from `R` to `W`. [`Pipe`] is the only engine; this is the
/// seam for another (a `splice(2)` pipe for TCP on Linux was tried and measured no faster
/// than [`Pipe`] over loopback at equal buffer sizes, so it was left out).
pub(super) trait Direction<R: ?Sized, W: ?Sized>: Flowing {
    /// Moves bytes until both ends block, the budget is spent, or the direction ends.
    /// `meter` gets the size of every chunk read.
    fn poll_dir<F: Fn(u64)>(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut R,
        dst: &mut W,
        meter: F,
    ) -> Status;

    /// Best effort once the session is over (the other direction failed, or a timeout):
    /// without waiting for anything, deliver what is buffered, keep copying whatever the
    /// source has ready (a server's last response before its reset), then shut the
    /// destination down. Errors are ignored: the session already has its termination.
    fn abort<F: Fn(u64)>(&mut self, cx: &mut Context<'_>, src: &mut R, dst: &mut W, meter: F);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    ShuttingDown,
    Done,
}

/// One direction's buffer and state.
#[derive(Debug)]
pub(super) struct Pipe {
    buf: Box<[u8]>,
    /// Next byte to write.
    pos: usize,
    /// End of the buffered bytes.
    cap: usize,
    read_done: bool,
    need_flush: bool,
    state: State,
    read: u64,
    wait: Wait,
    src_active: bool,
    dst_active: bool,
}

impl Pipe {
    /// A direction with a zeroed buffer of `size` bytes (at least one).
    pub(super) fn new(size: usize) -> Self {
        Self {
            buf: vec![0; size.max(1)].into_boxed_slice(),
            pos: 0,
            cap: 0,
            read_done: false,
            need_flush: false,
            state: State::Running,
            read: 0,
            wait: Wait::Nothing,
            src_active: false,
            dst_active: false,
        }
    }

    fn pending(&mut self, wait: Wait) -> Status {
        self.wait = wait;
        Status::Pending
    }

    fn fail(&mut self, err: PipeError) -> Status {
        self.wait = Wait::Nothing;
        Status::Failed(err)
    }
}

impl Flowing for Pipe {
    fn flow(&self) -> Flow {
        Flow {
            read: self.read,
            read_done: self.read_done,
            done: self.state == State::Done,
            wait: self.wait,
            src_active: self.src_active,
            dst_active: self.dst_active,
        }
    }
}

impl<R, W> Direction<R, W> for Pipe
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    fn poll_dir<F: Fn(u64)>(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut R,
        dst: &mut W,
        meter: F,
    ) -> Status {
        self.src_active = false;
        self.dst_active = false;
        self.wait = Wait::Nothing;
        let mut steps = STEPS_PER_POLL;
        loop {
            match self.state {
                State::Done => return Status::Done,
                State::ShuttingDown => {
                    if self.need_flush {
                        match Pin::new(&mut *dst).poll_flush(cx) {
                            Poll::Ready(Ok(())) => self.need_flush = false,
                            Poll::Ready(Err(e)) => return self.fail(PipeError::Write(e)),
                            Poll::Pending => return self.pending(Wait::Dst),
                        }
                    }
                    match Pin::new(&mut *dst).poll_shutdown(cx) {
                        Poll::Ready(Ok(())) => self.state = State::Done,
                        Poll::Ready(Err(e)) => return self.fail(PipeError::Write(e)),
                        Poll::Pending => return self.pending(Wait::Dst),
                    }
                }
                State::Running => {
                    if steps == 0 {
                        return Status::Yield;
                    }
                    // Read while there is room, even with bytes still to write.
                    if !self.read_done && self.cap < self.buf.len() {
                        let mut rb = ReadBuf::new(&mut self.buf[self.cap..]);
                        match Pin::new(&mut *src).poll_read(cx, &mut rb) {
                            Poll::Ready(Ok(())) => {
                                let n = rb.filled().len();
                                steps = steps.saturating_sub(1);
                                if n == 0 {
                                    self.read_done = true;
                                } else {
                                    self.cap += n;
                                    self.read += n as u64;
                                    self.src_active = true;
                                    meter(n as u64);
                                }
                            }
                            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                                steps = steps.saturating_sub(1);
                                continue;
                            }
                            Poll::Ready(Err(e)) => return self.fail(PipeError::Read(e)),
                            Poll::Pending if self.pos == self.cap => {
                                // Nothing to write: flush what was written, then wait.
                                if self.need_flush {
                                    match Pin::new(&mut *dst).poll_flush(cx) {
                                        Poll::Ready(Ok(())) => self.need_flush = false,
                                        Poll::Ready(Err(e)) => {
                                            return self.fail(PipeError::Write(e))
                                        }
                                        Poll::Pending => return self.pending(Wait::Dst),
                                    }
                                }
                                return self.pending(Wait::Src);
                            }
                            Poll::Pending => {}
                        }
                    }
                    if self.pos < self.cap {
                        match Pin::new(&mut *dst).poll_write(cx, &self.buf[self.pos..self.cap]) {
                            Poll::Ready(Ok(0)) => {
                                return self.fail(PipeError::Write(io::Error::new(
                                    io::ErrorKind::WriteZero,
                                    "write zero byte into writer",
                                )))
                            }
                            Poll::Ready(Ok(n)) => {
                                steps = steps.saturating_sub(1);
                                // A writer claiming more than it was given is a bug in it;
                                // clamp rather than index out of bounds.
                                self.pos = (self.pos + n).min(self.cap);
                                self.need_flush = true;
                                self.dst_active = true;
                                if self.pos == self.cap {
                                    self.pos = 0;
                                    self.cap = 0;
                                }
                            }
                            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                                steps = steps.saturating_sub(1);
                            }
                            Poll::Ready(Err(e)) => return self.fail(PipeError::Write(e)),
                            Poll::Pending => return self.pending(Wait::Dst),
                        }
                    } else if self.read_done {
                        self.state = State::ShuttingDown;
                    }
                }
            }
        }
    }

    fn abort<F: Fn(u64)>(&mut self, cx: &mut Context<'_>, src: &mut R, dst: &mut W, meter: F) {
        if self.state == State::Done {
            return;
        }
        for _ in 0..STEPS_PER_POLL {
            if self.pos < self.cap {
                match Pin::new(&mut *dst).poll_write(cx, &self.buf[self.pos..self.cap]) {
                    Poll::Ready(Ok(n)) if n > 0 => {
                        self.pos = (self.pos + n).min(self.cap);
                        if self.pos == self.cap {
                            self.pos = 0;
                            self.cap = 0;
                        }
                    }
                    _ => break,
                }
            } else if self.state == State::Running && !self.read_done {
                let mut rb = ReadBuf::new(&mut self.buf[..]);
                match Pin::new(&mut *src).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                        let n = rb.filled().len();
                        self.pos = 0;
                        self.cap = n;
                        self.read += n as u64;
                        meter(n as u64);
                    }
                    _ => break,
                }
            } else {
                break;
            }
        }
        let _ = Pin::new(&mut *dst).poll_flush(cx);
        let _ = Pin::new(&mut *dst).poll_shutdown(cx);
        self.state = State::Done;
        self.wait = Wait::Nothing;
    }
}

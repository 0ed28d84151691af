//! Zero-copy forwarding between two TCP sockets on Linux: `splice(2)` through one pipe
//! per direction, so payload bytes never cross into user space (HAProxy's `option
//! splice-auto` path).
//!
//! Readiness comes from tokio (`poll_read_ready`/`poll_write_ready`, `try_io`), so the
//! sockets stay registered with the runtime as usual. The pipe plays the buffer's part:
//! `in_pipe` bytes are in flight between the two splices.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll};

use tokio::io::{AsyncWrite, Interest};
use tokio::net::TcpStream;

use super::pipe::{Direction, Flow, Flowing, PipeError, Status, Wait, STEPS_PER_POLL};

/// The kernel's default pipe capacity, used when resizing is refused.
const DEFAULT_PIPE_SIZE: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    ShuttingDown,
    Done,
}

/// One direction spliced through a kernel pipe.
#[derive(Debug)]
pub(super) struct SplicePipe {
    read_end: OwnedFd,
    write_end: OwnedFd,
    /// The pipe's capacity in bytes.
    size: usize,
    /// Bytes spliced in and not yet spliced out.
    in_pipe: usize,
    read_done: bool,
    state: State,
    read: u64,
    wait: Wait,
    src_active: bool,
    dst_active: bool,
}

impl SplicePipe {
    /// A direction with a non-blocking pipe of about `size` bytes (the kernel rounds up to
    /// pages and caps unprivileged processes at `/proc/sys/fs/pipe-max-size`).
    ///
    /// # Errors
    ///
    /// When the pipe cannot be created (out of file descriptors).
    pub(super) fn new(size: usize) -> io::Result<Self> {
        let mut fds: [libc::c_int; 2] = [-1, -1];
        // SAFETY: `fds` points to two writable `c_int`s, as pipe2(2) requires.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else;
        // each is wrapped exactly once.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let wanted = libc::c_int::try_from(size.max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: F_SETPIPE_SZ on a descriptor we own, with an integer argument.
        let got = unsafe { libc::fcntl(write_end.as_raw_fd(), libc::F_SETPIPE_SZ, wanted) };
        let size = usize::try_from(got)
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_PIPE_SIZE);
        Ok(Self {
            read_end,
            write_end,
            size,
            in_pipe: 0,
            read_done: false,
            state: State::Running,
            read: 0,
            wait: Wait::Nothing,
            src_active: false,
            dst_active: false,
        })
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

/// One non-blocking `splice(2)` of up to `len` bytes from `from` to `to`.
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: a plain syscall on two descriptors the caller keeps open for the call's
    // duration; null offsets are required for pipes and sockets; no memory is passed.
    let n = unsafe {
        libc::splice(
            from,
            ptr::null_mut(),
            to,
            ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

impl Flowing for SplicePipe {
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

impl Direction<TcpStream, TcpStream> for SplicePipe {
    fn poll_dir<F: Fn(u64)>(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut TcpStream,
        dst: &mut TcpStream,
        meter: F,
    ) -> Status {
        self.src_active = false;
        self.dst_active = false;
        self.wait = Wait::Nothing;
        let mut steps = STEPS_PER_POLL;
        loop {
            match self.state {
                State::Done => return Status::Done,
                State::ShuttingDown => match Pin::new(&mut *dst).poll_shutdown(cx) {
                    Poll::Ready(Ok(())) => self.state = State::Done,
                    Poll::Ready(Err(e)) => return self.fail(PipeError::Write(e)),
                    Poll::Pending => return self.pending(Wait::Dst),
                },
                State::Running => {
                    if steps == 0 {
                        return Status::Yield;
                    }
                    if !self.read_done && self.in_pipe < self.size {
                        match src.poll_read_ready(cx) {
                            Poll::Ready(Ok(())) => {
                                let (from, to) = (src.as_raw_fd(), self.write_end.as_raw_fd());
                                let (want, had) = (self.size - self.in_pipe, self.in_pipe);
                                // EAGAIN with bytes in the pipe may mean the pipe is full
                                // (its slots, not its bytes): keep the socket's readiness
                                // and drain first, as HAProxy does.
                                let res = src.try_io(Interest::READABLE, || {
                                    match splice(from, to, want) {
                                        Err(e)
                                            if e.kind() == io::ErrorKind::WouldBlock && had > 0 =>
                                        {
                                            Ok(None)
                                        }
                                        res => res.map(Some),
                                    }
                                });
                                steps = steps.saturating_sub(1);
                                match res {
                                    Ok(Some(0)) => self.read_done = true,
                                    Ok(Some(n)) => {
                                        self.in_pipe += n;
                                        self.read += n as u64;
                                        self.src_active = true;
                                        meter(n as u64);
                                    }
                                    Ok(None) => {}
                                    // Readiness cleared: the next round registers the waker.
                                    Err(e)
                                        if matches!(
                                            e.kind(),
                                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                                        ) =>
                                    {
                                        continue
                                    }
                                    Err(e) => return self.fail(PipeError::Read(e)),
                                }
                            }
                            Poll::Ready(Err(e)) => return self.fail(PipeError::Read(e)),
                            Poll::Pending if self.in_pipe == 0 => return self.pending(Wait::Src),
                            Poll::Pending => {}
                        }
                    }
                    if self.in_pipe > 0 {
                        match dst.poll_write_ready(cx) {
                            Poll::Ready(Ok(())) => {
                                let (from, to) = (self.read_end.as_raw_fd(), dst.as_raw_fd());
                                let len = self.in_pipe;
                                let res = dst.try_io(Interest::WRITABLE, || splice(from, to, len));
                                steps = steps.saturating_sub(1);
                                match res {
                                    Ok(0) => {
                                        return self.fail(PipeError::Write(io::Error::new(
                                            io::ErrorKind::WriteZero,
                                            "splice wrote zero bytes",
                                        )))
                                    }
                                    Ok(n) => {
                                        self.in_pipe -= n.min(self.in_pipe);
                                        self.dst_active = true;
                                    }
                                    Err(e)
                                        if matches!(
                                            e.kind(),
                                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                                        ) => {}
                                    Err(e) => return self.fail(PipeError::Write(e)),
                                }
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

    fn abort<F: Fn(u64)>(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut TcpStream,
        dst: &mut TcpStream,
        meter: F,
    ) {
        if self.state == State::Done {
            return;
        }
        // Straight syscalls, no readiness bookkeeping: the session is over.
        for _ in 0..STEPS_PER_POLL {
            if self.in_pipe > 0 {
                match splice(self.read_end.as_raw_fd(), dst.as_raw_fd(), self.in_pipe) {
                    Ok(n) if n > 0 => self.in_pipe -= n.min(self.in_pipe),
                    _ => break,
                }
            } else if !self.read_done {
                match splice(src.as_raw_fd(), self.write_end.as_raw_fd(), self.size) {
                    Ok(n) if n > 0 => {
                        self.in_pipe = n;
                        self.read += n as u64;
                        meter(n as u64);
                    }
                    _ => break,
                }
            } else {
                break;
            }
        }
        let _ = Pin::new(&mut *dst).poll_shutdown(cx);
        self.state = State::Done;
        self.wait = Wait::Nothing;
    }
}

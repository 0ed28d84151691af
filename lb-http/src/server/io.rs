//! [`TimedIo`]: the client connection wrapper that gives HAProxy's HTTP timeouts their
//! meaning on HTTP/1 (`timeout http-request`, `http-keep-alive`, `client`).
//!
//! hyper parses; this wrapper knows the phase of the connection (waiting for a request
//! head, serving a request, idle between requests) from a small shared [`ConnState`] that
//! the per-request service updates, and enforces one lazily re-armed deadline:
//! - head not complete in time: write a 408 page and end the connection (slowloris);
//! - idle keep-alive connection: close silently;
//! - no progress either way while serving: end the connection (`timeout client`).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use pin_project_lite::pin_project;

use crate::errors::ErrorPages;
use crate::stats::ProxyCounters;
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

const WAIT_HEAD: u8 = 0;
const ACTIVE: u8 = 1;
const IDLE: u8 = 2;

/// The phase of a client connection, shared between its I/O and its requests, plus the
/// frontend's counters.
#[derive(Debug)]
pub struct ConnState {
    phase: AtomicU8,
    active: AtomicU32,
    requests: AtomicU32,
    /// Responses the service produced (their heads are written by hyper).
    heads: AtomicU32,
    counters: Option<Arc<ProxyCounters>>,
}

impl Default for ConnState {
    fn default() -> Self {
        ConnState::new(None)
    }
}

impl ConnState {
    /// A fresh connection counting into `counters` (the frontend's), if any.
    pub fn new(counters: Option<Arc<ProxyCounters>>) -> Self {
        ConnState {
            phase: AtomicU8::new(WAIT_HEAD),
            active: AtomicU32::new(0),
            requests: AtomicU32::new(0),
            heads: AtomicU32::new(0),
            counters,
        }
    }

    /// A request head was parsed: the head timer stops.
    pub fn request_started(&self) {
        self.active.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.phase.store(ACTIVE, Ordering::Release);
        if let Some(c) = &self.counters {
            c.request();
        }
    }

    /// The response head of a request went out with `status`.
    pub fn responded(&self, status: u16) {
        self.heads.fetch_add(1, Ordering::Release);
        if let Some(c) = &self.counters {
            c.response(status);
        }
    }

    /// A response was fully sent (or abandoned) after `bytes` of body: with nothing else in
    /// flight the connection becomes idle (keep-alive).
    pub fn request_finished(&self, bytes: u64) {
        if let Some(c) = &self.counters {
            c.add_bytes_out(bytes);
        }
        if self.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.phase.store(IDLE, Ordering::Release);
        }
    }

    /// Requests seen on this connection.
    pub fn requests(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// The timeouts [`TimedIo`] enforces (None = infinite).
#[derive(Clone, Copy, Debug, Default)]
pub struct IoTimeouts {
    /// Whole request head must arrive within this (`timeout http-request`).
    pub http_request: Option<Duration>,
    /// Idle time between requests (`timeout http-keep-alive`).
    pub keep_alive: Option<Duration>,
    /// Inactivity while a request is served (`timeout client`).
    pub client: Option<Duration>,
}

pin_project! {
    /// Client I/O with HAProxy's HTTP/1 timeouts. See the [module docs](self).
    pub struct TimedIo<I> {
        #[pin]
        inner: I,
        state: Arc<ConnState>,
        timeouts: IoTimeouts,
        page_408: Bytes,
        // The deadline of the current phase and when it was computed.
        deadline: Option<Instant>,
        phase_seen: u8,
        requests_seen: u32,
        // Bytes read since the connection became idle (a new head has started).
        head_started: bool,
        // Bytes moved since the deadline was last armed (`timeout client` is inactivity).
        progressed: bool,
        sleep: Option<Pin<Box<Sleep>>>,
        expired: bool,
        h2: Option<bool>,
        // The frontend's error pages, to replace hyper's own 400/414/431 answers.
        errors: Option<ErrorPages>,
        // A replacement page being written, and how much of it went out.
        replacing: Option<(Bytes, usize)>,
        // A page was substituted: hyper's remaining writes on this closing connection
        // are dropped.
        replaced: bool,
        // Response heads of the service seen going out (see `ConnState::heads`).
        heads_seen: u32,
    }
}

impl<I> TimedIo<I> {
    /// Wraps `inner`; `page_408` is the complete response written when a head is late.
    pub fn new(inner: I, state: Arc<ConnState>, timeouts: IoTimeouts, page_408: Bytes) -> Self {
        let now = Instant::now();
        TimedIo {
            inner,
            state,
            timeouts,
            page_408,
            deadline: timeouts.http_request.map(|t| now + t),
            phase_seen: WAIT_HEAD,
            requests_seen: 0,
            head_started: false,
            progressed: false,
            sleep: None,
            expired: false,
            h2: None,
            errors: None,
            replacing: None,
            replaced: false,
            heads_seen: 0,
        }
    }

    /// Answers the requests hyper's parser rejects (400, 414, 431, which hyper writes
    /// itself with an empty body) with the frontend's `errors` pages instead, so that
    /// `errorfile` covers them too.
    pub fn with_errors(mut self, errors: ErrorPages) -> Self {
        self.errors = Some(errors);
        self
    }

    /// The inner I/O.
    pub fn get_ref(&self) -> &I {
        &self.inner
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timeout"))
}

impl<I: AsyncRead + AsyncWrite> TimedIo<I> {
    /// Recomputes the deadline after a phase change; returns the phase.
    fn refresh(self: Pin<&mut Self>) -> u8 {
        let this = self.project();
        let phase = this.state.phase.load(Ordering::Acquire);
        let reqs = this.state.requests.load(Ordering::Relaxed);
        if phase != *this.phase_seen || reqs != *this.requests_seen {
            *this.phase_seen = phase;
            *this.requests_seen = reqs;
            let now = Instant::now();
            *this.progressed = false;
            *this.head_started = false;
            *this.deadline = match phase {
                IDLE => this
                    .timeouts
                    .keep_alive
                    .or(this.timeouts.http_request)
                    .or(this.timeouts.client)
                    .map(|t| now + t),
                ACTIVE => this.timeouts.client.map(|t| now + t),
                _ => this
                    .timeouts
                    .http_request
                    .or(this.timeouts.client)
                    .map(|t| now + t),
            };
        }
        phase
    }

    /// Polls the deadline; Ready(err) when it passed in a phase that ends the connection.
    fn poll_deadline(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Error> {
        let phase = self.as_mut().refresh();
        let this = self.as_mut().project();
        if *this.h2 == Some(true) {
            return Poll::Pending;
        }
        let Some(deadline) = *this.deadline else {
            return Poll::Pending;
        };
        // Lazy timer: progress only moves the deadline later, so the armed sleep is left
        // alone (it may fire early, and is then re-armed); it is moved only when the
        // deadline comes sooner. Resetting a timer at every read costs more than the read.
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() > deadline {
            sleep.as_mut().reset(deadline);
        }
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if phase == ACTIVE && *this.progressed {
            // Inactivity is measured from the last deadline at which data had moved: no
            // clock read per read or write, at the price of detecting inactivity between
            // one and two periods after the last byte.
            *this.progressed = false;
            if let Some(t) = this.timeouts.client {
                let next = Instant::now() + t;
                *this.deadline = Some(next);
                sleep.as_mut().reset(next);
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        } else if Instant::now() < deadline {
            sleep.as_mut().reset(deadline);
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        *this.expired = true;
        Poll::Ready(match phase {
            ACTIVE => timed_out("client"),
            IDLE if !*this.head_started => {
                io::Error::new(io::ErrorKind::TimedOut, "keep-alive timeout")
            }
            _ => {
                // A head is late: answer 408 (best effort, the page is small) and end.
                let mut written = 0;
                let page = this.page_408.clone();
                let mut inner = this.inner;
                while written < page.len() {
                    match inner.as_mut().poll_write(cx, &page[written..]) {
                        Poll::Ready(Ok(n)) if n > 0 => written += n,
                        _ => break,
                    }
                }
                let _ = inner.as_mut().poll_flush(cx);
                let _ = inner.poll_shutdown(cx);
                timed_out("http-request")
            }
        })
    }
}

use std::future::Future;

impl<I: AsyncRead + AsyncWrite> AsyncRead for TimedIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.expired {
            return Poll::Ready(Err(timed_out("connection")));
        }
        let before = buf.filled().len();
        let this = self.as_mut().project();
        match this.inner.poll_read(cx, buf) {
            Poll::Ready(r) => {
                let this = self.as_mut().project();
                let n = buf.filled().len() - before;
                if n > 0 {
                    if this.h2.is_none() {
                        *this.h2 = Some(buf.filled()[before..].starts_with(b"PRI * HTTP/2"));
                    }
                    *this.progressed = true;
                    if !*this.head_started && *this.phase_seen == IDLE {
                        // The next request has begun: the http-request timer applies.
                        *this.head_started = true;
                        let now = Instant::now();
                        *this.deadline = this
                            .timeouts
                            .http_request
                            .or(this.timeouts.client)
                            .map(|t| now + t);
                    }
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.poll_deadline(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// The status of an answer hyper wrote by itself for a request it could not parse: a
/// small, complete HTTP/1 head with an empty body and one of the parser's statuses.
fn parser_error_status(buf: &[u8]) -> Option<StatusCode> {
    if buf.len() > 512
        || !(buf.starts_with(b"HTTP/1.1 4") || buf.starts_with(b"HTTP/1.0 4"))
        || !buf.ends_with(b"\r\n\r\n")
        || !buf
            .windows(19)
            .any(|w| w.eq_ignore_ascii_case(b"content-length: 0\r\n"))
    {
        return None;
    }
    match buf.get(9..12)? {
        b"400" => Some(StatusCode::BAD_REQUEST),
        b"414" => Some(StatusCode::URI_TOO_LONG),
        b"431" => Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        _ => None,
    }
}

impl<I: AsyncRead + AsyncWrite> TimedIo<I> {
    /// Writes hyper's parser error answer as the frontend's page instead (see
    /// [`TimedIo::with_errors`]). `None`: `buf` is not such an answer, write it as is.
    fn poll_replace(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Option<Poll<io::Result<usize>>> {
        let mut this = self.project();
        if *this.replaced {
            // The connection closes after the error: anything else hyper writes is dropped.
            return Some(Poll::Ready(Ok(buf.len())));
        }
        if this.replacing.is_none() {
            let errors = this.errors.as_ref()?;
            if *this.h2 == Some(true) || !buf.starts_with(b"HTTP/1.") {
                return None;
            }
            // A head the service produced (hyper writes each right before its body): ours,
            // never replaced. hyper's own answers (interim 1xx, parser errors) come with no
            // head from the service.
            if *this.heads_seen < this.state.heads.load(Ordering::Acquire)
                && !buf.starts_with(b"HTTP/1.1 1")
            {
                *this.heads_seen += 1;
                return None;
            }
            let status = parser_error_status(buf)?;
            *this.replacing = Some((errors.http1_bytes(status), 0));
        }
        let (page, written) = this.replacing.as_mut()?;
        while *written < page.len() {
            match this.inner.as_mut().poll_write(cx, &page[*written..]) {
                Poll::Ready(Ok(0)) => {
                    return Some(Poll::Ready(Err(io::ErrorKind::WriteZero.into())))
                }
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Some(Poll::Ready(Err(e))),
                Poll::Pending => return Some(Poll::Pending),
            }
        }
        *this.replacing = None;
        *this.replaced = true;
        Some(Poll::Ready(Ok(buf.len())))
    }
}

impl<I: AsyncRead + AsyncWrite> AsyncWrite for TimedIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(r) = self.as_mut().poll_replace(cx, buf) {
            return r;
        }
        let this = self.as_mut().project();
        match this.inner.poll_write(cx, buf) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    *self.as_mut().project().progressed = true;
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.poll_deadline(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.replaced {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        if self.errors.is_some() {
            if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
                if bufs.iter().filter(|b| !b.is_empty()).count() == 1 {
                    // hyper writes its error answer as one buffer.
                    if let Some(r) = self.as_mut().poll_replace(cx, first) {
                        return r;
                    }
                } else {
                    // A head with its body: counted, never replaced.
                    let _ = self
                        .as_mut()
                        .poll_replace(cx, &first[..first.len().min(16)]);
                }
            }
        }
        let this = self.as_mut().project();
        match this.inner.poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    *self.as_mut().project().progressed = true;
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.poll_deadline(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

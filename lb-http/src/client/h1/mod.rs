//! A hand-written HTTP/1.1 client for pooled server connections.
//!
//! hyper's client runs every connection as a task fed through a channel; for a proxy that
//! sends one request at a time per connection this costs about as much as the rest of the
//! request path together (see BENCHMARKS.md). Here the request future owns the connection:
//! it writes the head (and streams the body), reads the response head, and hands the
//! connection to the response body, which reads the body straight from the socket's buffer
//! and puts the connection back in its pool after a clean end. No task, no channel, one
//! buffer per connection.
//!
//! The body of a request is streamed while the response is read (a server may answer
//! before the upload ends, or echo it as it arrives): the response body keeps driving the
//! upload when it is polled. A connection is reused only when both messages ended cleanly,
//! the server allows it, and nothing unexpected is left in the buffer.

pub(crate) mod decode;
pub(crate) mod encode;

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_util::io::poll_read_buf;

use lb_core::BoxError;

use self::decode::{Decoded, Decoder, Framing, Head, ProtoError};
use self::encode::BodyFraming;
use super::{IdlePool, OpenGuard};
use crate::body::ProxyBody;

/// A server connection's byte stream, type-erased so that pools and bodies are not generic
/// over the connector.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T> Io for T where T: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

/// A boxed [`Io`].
pub(crate) type BoxIo = Box<dyn Io>;

/// Read buffer growth when a head or a small body is expected.
const READ_SMALL: usize = 8 * 1024;
/// Read buffer growth while a large body streams.
const READ_LARGE: usize = 64 * 1024;
/// Read buffers larger than this are not kept with idle connections.
const KEEP_BUF: usize = 64 * 1024;

/// One HTTP/1.1 connection to a server, idle or checked out.
pub(crate) struct H1Conn {
    io: BoxIo,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    /// Responses read on this connection.
    served: u32,
    /// The connection's one timer (`timeout server`), armed lazily and kept across
    /// requests: no timer is created or dropped per request.
    timer: Option<Pin<Box<Sleep>>>,
    _open: OpenGuard,
}

impl fmt::Debug for H1Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H1Conn")
            .field("served", &self.served)
            .field("buffered", &self.rbuf.len())
            .finish()
    }
}

/// A waker that does nothing, to peek at idle connections without registering interest.
fn noop_waker() -> &'static Waker {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    static WAKER: OnceLock<Waker> = OnceLock::new();
    WAKER.get_or_init(|| Waker::from(Arc::new(Noop)))
}

impl H1Conn {
    /// A new connection over `io`; `open` counts it until it is dropped.
    pub(crate) fn new(io: BoxIo, open: OpenGuard) -> Self {
        H1Conn {
            io,
            rbuf: BytesMut::new(),
            wbuf: Vec::with_capacity(512),
            served: 0,
            timer: None,
            _open: open,
        }
    }

    /// Whether it already carried a request after its first one (HAProxy's "reused
    /// once", for `http-reuse aggressive`).
    pub(crate) fn proven(&self) -> bool {
        self.served >= 2
    }

    /// Drops oversized buffers before the connection waits in the idle pool.
    pub(crate) fn shrink(&mut self) {
        if self.rbuf.capacity() > KEEP_BUF {
            self.rbuf = BytesMut::new();
        }
    }

    /// Checks an idle connection without waiting: a connection the server closed (or that
    /// received unsolicited bytes) is not usable.
    pub(crate) fn is_usable(&mut self) -> bool {
        if !self.rbuf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(noop_waker());
        self.rbuf.reserve(READ_SMALL);
        poll_read_buf(Pin::new(&mut self.io), &mut cx, &mut self.rbuf).is_pending()
    }

    /// Sends `req` and reads the response head. The connection moves into the response
    /// body (or the upgrade) and goes back to `idle` after a clean end.
    pub(crate) async fn send(
        mut self,
        req: Request<ProxyBody>,
        opts: SendOptions,
        idle: Arc<IdlePool>,
    ) -> Result<H1Response, H1Error> {
        let (parts, body) = req.into_parts();
        let end_stream = body.is_end_stream();
        let framing = encode::head(&parts, end_stream, body.size_hint().exact(), &mut self.wbuf);
        let mut writer = (!end_stream).then(|| ReqWriter::new(body, framing));
        let mut progress = Progress::default();
        let head_request = parts.method == Method::HEAD;
        let deadline = opts.head_timeout.map(|t| Instant::now() + t);
        let result = poll_fn(|cx| self.poll_head(cx, &mut writer, &mut progress, deadline)).await;
        let head = match result {
            Ok(head) => head,
            Err((source, failure)) => {
                // The request can be given back while its body was never touched.
                let body = match writer {
                    None => Some(ProxyBody::empty()),
                    Some(w) if !w.polled => Some(*Pin::into_inner(w.body)),
                    Some(_) => None,
                };
                let request = match body {
                    Some(b) if !progress.response_bytes => Some(Request::from_parts(parts, b)),
                    _ => None,
                };
                return Err(H1Error {
                    source,
                    request,
                    sent: progress.sent,
                    failure,
                });
            }
        };
        let fail = |e: BoxError| H1Error {
            source: e,
            request: None,
            sent: true,
            failure: Failure::Junk,
        };
        self.served += 1;
        let status = head.status;
        let upgraded = status == StatusCode::SWITCHING_PROTOCOLS
            || (parts.method == Method::CONNECT && status.is_success());
        if upgraded && opts.upgrade {
            // The connection now belongs to the tunnel, with what the server already sent.
            let prefix = self.rbuf.split().freeze();
            let io = Rewind {
                prefix,
                io: self.io,
            };
            return Ok(H1Response {
                response: response(head, ProxyBody::empty()),
                upgrade: Some(Box::new(io)),
            });
        }
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(fail(
                "unexpected 101 response to a request without Upgrade".into(),
            ));
        }
        let framing = head.framing(head_request).map_err(|e| fail(e.into()))?;
        let keep_alive = head.keep_alive() && framing != Framing::Eof && !head.ambiguous_length();
        let decoder = Decoder::new(framing);
        let writer_done = writer.as_ref().is_none_or(|w| w.finished);
        if decoder.is_done() && writer_done {
            if keep_alive && self.rbuf.is_empty() {
                idle.put_back(self);
            }
            return Ok(H1Response {
                response: response(head, ProxyBody::empty()),
                upgrade: None,
            });
        }
        let body = H1Body {
            conn: Some(self),
            decoder,
            keep_alive,
            writer: writer.filter(|w| !w.finished).map(Box::new),
            idle,
            timeout: opts.read_timeout,
            armed: false,
            progressed: false,
        };
        Ok(H1Response {
            response: response(head, ProxyBody::h1(body)),
            upgrade: None,
        })
    }

    /// Writes the head and the body while waiting for the response head.
    fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        writer: &mut Option<ReqWriter>,
        progress: &mut Progress,
        deadline: Option<Instant>,
    ) -> Poll<Result<Head, (BoxError, Failure)>> {
        let io_fail = |e: io::Error, progress: &Progress| {
            let kind = if progress.response_bytes {
                Failure::Junk
            } else {
                Failure::Empty
            };
            (BoxError::from(e), kind)
        };
        while progress.head_written < self.wbuf.len() {
            let n =
                ready!(Pin::new(&mut self.io).poll_write(cx, &self.wbuf[progress.head_written..]))
                    .map_err(|e| io_fail(e, progress))?;
            if n == 0 {
                return Poll::Ready(Err(io_fail(io::ErrorKind::WriteZero.into(), progress)));
            }
            progress.sent = true;
            progress.head_written += n;
        }
        if !progress.flushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx)).map_err(|e| io_fail(e, progress))?;
            progress.flushed = true;
        }
        if let Some(w) = writer.as_mut().filter(|w| !w.finished && !w.failed) {
            match w.poll(&mut self.io, cx) {
                Poll::Ready(Ok(())) => w.finished = true,
                // The client's upload broke: nothing sensible can follow.
                Poll::Ready(Err(WriteError::Body(e))) => {
                    return Poll::Ready(Err((e, Failure::Client)))
                }
                // The server stopped reading; it may still have answered.
                Poll::Ready(Err(WriteError::Io(e))) => {
                    tracing::debug!(error = %e, "writing the request body failed");
                    w.failed = true;
                }
                Poll::Ready(Err(WriteError::Framing(what))) => {
                    return Poll::Ready(Err((what.into(), Failure::Client)))
                }
                Poll::Pending => {}
            }
        }
        loop {
            match decode::parse_head(&mut self.rbuf).map_err(|e| (e.into(), Failure::Junk))? {
                Some(head) if head.status.is_informational() && head.status != 101 => {
                    // 100 Continue, 103 Early Hints: the final response follows.
                    continue;
                }
                Some(head) => return Poll::Ready(Ok(head)),
                None => {}
            }
            if self.rbuf.capacity() - self.rbuf.len() < 1024 {
                self.rbuf.reserve(READ_SMALL);
            }
            let n = match poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf) {
                Poll::Ready(r) => r.map_err(|e| io_fail(e, progress))?,
                Poll::Pending => {
                    if let Some(deadline) = deadline {
                        if poll_deadline(&mut self.timer, deadline, cx).is_ready() {
                            return Poll::Ready(Err((
                                "server timeout before the response head".into(),
                                Failure::Timeout,
                            )));
                        }
                    }
                    return Poll::Pending;
                }
            };
            if n == 0 {
                return Poll::Ready(Err(if progress.response_bytes {
                    (
                        "server closed the connection inside the response head".into(),
                        Failure::Junk,
                    )
                } else {
                    (
                        "server closed the connection before responding".into(),
                        Failure::Empty,
                    )
                }));
            }
            progress.response_bytes = true;
        }
    }
}

fn response(head: Head, body: ProxyBody) -> Response<ProxyBody> {
    let mut r = Response::new(body);
    *r.status_mut() = head.status;
    // The proxy answers its client in its own version; an HTTP/1.0 server must not make
    // the client connection close (hyper's server reads a 1.0 response that way).
    *r.version_mut() = http::Version::HTTP_11;
    *r.headers_mut() = head.headers;
    r
}

/// What [`H1Conn::send`] needs besides the request.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SendOptions {
    /// The request asks for a protocol switch (Upgrade, CONNECT): a 101 (or a 2xx to
    /// CONNECT) hands the connection over as a tunnel.
    pub(crate) upgrade: bool,
    /// Inactivity limit while reading the response body (`timeout server`).
    pub(crate) read_timeout: Option<Duration>,
    /// The response head must arrive within this (`timeout server`).
    pub(crate) head_timeout: Option<Duration>,
}

/// A response, and the connection itself when the server switched protocols.
pub(crate) struct H1Response {
    pub(crate) response: Response<ProxyBody>,
    pub(crate) upgrade: Option<BoxIo>,
}

/// A request that failed.
pub(crate) struct H1Error {
    pub(crate) source: BoxError,
    /// The request, when its body was never read and no response byte arrived.
    pub(crate) request: Option<Request<ProxyBody>>,
    /// Whether any byte of the request reached the connection.
    pub(crate) sent: bool,
    /// What went wrong.
    pub(crate) failure: Failure,
}

/// How a request failed before its response head was complete (HAProxy's `retry-on`
/// classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The server closed or reset the connection without sending a byte
    /// (`empty-response`).
    Empty,
    /// The server sent something that is not a complete, valid response head
    /// (`junk-response`).
    Junk,
    /// The client's request body failed (aborted upload, wrong length): not the server's
    /// fault, never retried.
    Client,
    /// `timeout server` struck before the response head (`response-timeout`).
    Timeout,
    /// Anything else (HTTP/2 errors).
    Other,
}

/// Polls the connection timer towards `deadline`. The timer is moved only when the
/// deadline comes sooner than where it is armed (it is usually armed for an earlier
/// request's deadline, in the past or sooner): a timer that fires early is re-armed.
fn poll_deadline(
    timer: &mut Option<Pin<Box<Sleep>>>,
    deadline: Instant,
    cx: &mut Context<'_>,
) -> Poll<()> {
    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    while timer.as_mut().poll(cx).is_ready() {
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        timer.as_mut().reset(deadline);
    }
    Poll::Pending
}

#[derive(Default)]
struct Progress {
    head_written: usize,
    flushed: bool,
    sent: bool,
    response_bytes: bool,
}

enum WriteError {
    /// Writing to the server failed.
    Io(io::Error),
    /// Reading the client's body failed.
    Body(BoxError),
    /// The body disagrees with its announced length.
    Framing(&'static str),
}

/// Streams a request body to the server with the framing announced in the head.
struct ReqWriter {
    body: Pin<Box<ProxyBody>>,
    framing: BodyFraming,
    left: u64,
    out: VecDeque<Bytes>,
    /// The body was polled at least once (it can no longer be replayed).
    polled: bool,
    /// Everything was written.
    finished: bool,
    /// Writing to the server failed.
    failed: bool,
}

impl ReqWriter {
    fn new(body: ProxyBody, framing: BodyFraming) -> Self {
        ReqWriter {
            body: Box::pin(body),
            framing,
            left: match framing {
                BodyFraming::Length(n) => n,
                _ => 0,
            },
            out: VecDeque::new(),
            polled: false,
            finished: false,
            failed: false,
        }
    }

    fn poll_out(&mut self, io: &mut BoxIo, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let mut slices = [IoSlice::new(&[]); 4];
            let n = self.out.len().min(slices.len());
            for (s, b) in slices.iter_mut().zip(self.out.iter()) {
                *s = IoSlice::new(b);
            }
            let mut written = ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..n]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            while written > 0 {
                let front = self.out.front_mut().expect("written bytes were queued");
                if written >= front.len() {
                    written -= front.len();
                    self.out.pop_front();
                } else {
                    front.advance(written);
                    written = 0;
                }
            }
        }
        Pin::new(&mut *io).poll_flush(cx)
    }

    /// Writes until the body ends (Ready) or waits for the client or the socket.
    fn poll(&mut self, io: &mut BoxIo, cx: &mut Context<'_>) -> Poll<Result<(), WriteError>> {
        loop {
            ready!(self.poll_out(io, cx)).map_err(WriteError::Io)?;
            if self.finished {
                return Poll::Ready(Ok(()));
            }
            self.polled = true;
            match ready!(self.body.as_mut().poll_frame(cx)) {
                None => {
                    match self.framing {
                        BodyFraming::Chunked => self.out.push_back(encode::LAST_CHUNK),
                        BodyFraming::Length(_) if self.left != 0 => {
                            return Poll::Ready(Err(WriteError::Framing(
                                "request body shorter than its Content-Length",
                            )))
                        }
                        _ => {}
                    }
                    self.finished = true;
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if data.is_empty() => {}
                    Ok(data) => match self.framing {
                        BodyFraming::Chunked => {
                            self.out.push_back(encode::chunk_size_line(data.len()));
                            self.out.push_back(data);
                            self.out.push_back(encode::CHUNK_END);
                        }
                        _ => {
                            if data.len() as u64 > self.left {
                                return Poll::Ready(Err(WriteError::Framing(
                                    "request body longer than its Content-Length",
                                )));
                            }
                            self.left -= data.len() as u64;
                            self.out.push_back(data);
                        }
                    },
                    Err(frame) => {
                        if let (Ok(trailers), BodyFraming::Chunked) =
                            (frame.into_trailers(), self.framing)
                        {
                            self.out
                                .push_back(encode::last_chunk_with_trailers(&trailers));
                            self.finished = true;
                        }
                        // Trailers of a Content-Length body have nowhere to go: dropped.
                    }
                },
                Some(Err(e)) => return Poll::Ready(Err(WriteError::Body(e))),
            }
            // A finished body still has its last bytes to flush: loop once more.
            if self.finished {
                ready!(self.poll_out(io, cx)).map_err(WriteError::Io)?;
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// A response body read from a pooled HTTP/1.1 connection. It returns the connection to
/// its pool after a clean end (also when dropped right after its last byte, as hyper does
/// for bodies of known length) and closes it otherwise.
pub(crate) struct H1Body {
    conn: Option<H1Conn>,
    decoder: Decoder,
    keep_alive: bool,
    /// The rest of the request body, still being uploaded.
    writer: Option<Box<ReqWriter>>,
    idle: Arc<IdlePool>,
    timeout: Option<Duration>,
    /// The connection's timer was armed for this body.
    armed: bool,
    progressed: bool,
}

impl fmt::Debug for H1Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H1Body")
            .field("decoder", &self.decoder)
            .field("keep_alive", &self.keep_alive)
            .field("uploading", &self.writer.is_some())
            .finish()
    }
}

/// Why reading a response body failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The server sent nothing within `timeout server`.
    #[error("server timeout while sending the response body")]
    Timeout,
    /// The server closed the connection before the end of the body.
    #[error("server closed the connection in the middle of the response body")]
    Truncated,
    /// The body framing is broken.
    #[error(transparent)]
    Protocol(#[from] ProtoError),
    /// Reading from the server failed.
    #[error("reading the response body failed: {0}")]
    Io(#[from] io::Error),
}

impl H1Body {
    fn finish(&mut self) {
        let upload_done = self.writer.as_ref().is_none_or(|w| w.finished);
        if let Some(mut conn) = self.conn.take() {
            if self.keep_alive && upload_done && conn.rbuf.is_empty() {
                conn.shrink();
                self.idle.put_back(conn);
            }
        }
    }

    fn fail(&mut self, e: BodyError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        Poll::Ready(Some(Err(e.into())))
    }
}

impl Drop for H1Body {
    fn drop(&mut self) {
        if self.decoder.is_done() {
            self.finish();
        }
    }
}

impl Body for H1Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(conn) = this.conn.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(w) = this.writer.as_mut().filter(|w| !w.finished) {
            match w.poll(&mut conn.io, cx) {
                Poll::Ready(Ok(())) => w.finished = true,
                Poll::Ready(Err(_)) => {
                    // The upload broke: finish reading the answer, then close.
                    this.keep_alive = false;
                    this.writer = None;
                }
                Poll::Pending => {}
            }
        }
        loop {
            match this.decoder.decode(&mut conn.rbuf) {
                Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(Decoded::Trailers(t)) => return Poll::Ready(Some(Ok(Frame::trailers(t)))),
                Ok(Decoded::End) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(Decoded::NeedMore) => {}
                Err(e) => return this.fail(e.into()),
            }
            if conn.rbuf.capacity() - conn.rbuf.len() < 1024 {
                let large = this
                    .decoder
                    .remaining()
                    .is_none_or(|n| n > READ_SMALL as u64);
                conn.rbuf
                    .reserve(if large { READ_LARGE } else { READ_SMALL });
            }
            match poll_read_buf(Pin::new(&mut conn.io), cx, &mut conn.rbuf) {
                Poll::Ready(Ok(0)) => {
                    if this.decoder.eof() {
                        this.conn = None;
                        return Poll::Ready(None);
                    }
                    return this.fail(BodyError::Truncated);
                }
                Poll::Ready(Ok(_)) => this.progressed = true,
                Poll::Ready(Err(e)) => return this.fail(e.into()),
                Poll::Pending => {
                    if let Some(t) = this.timeout {
                        // Lazy inactivity timer: armed once, re-armed only when it fires
                        // after progress (no clock read per read); inactivity is caught
                        // between one and two periods after the last byte.
                        let timer = conn
                            .timer
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep(t)));
                        if !std::mem::replace(&mut this.armed, true) {
                            timer.as_mut().reset(Instant::now() + t);
                            this.progressed = false;
                        }
                        while timer.as_mut().poll(cx).is_ready() {
                            if !std::mem::take(&mut this.progressed) {
                                return this.fail(BodyError::Timeout);
                            }
                            timer.as_mut().reset(Instant::now() + t);
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none() || self.decoder.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// A connection handed to a tunnel, replaying the bytes already read from it first.
struct Rewind {
    prefix: Bytes,
    io: BoxIo,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

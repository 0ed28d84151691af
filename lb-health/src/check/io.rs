//! The check connection: the [`CheckConnect`] seam, timeouts, a bounded read buffer, and
//! errors turned into HAProxy's `info` strings.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use bytes::BytesMut;
use lb_core::Address;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use super::status::CheckStatus;

/// What a check connects with: any cloneable tower service from an [`Address`] to a byte
/// stream, such as [`lb_tcp::connect::TcpConnect`] or [`lb_tcp::mem::MemConnect`].
///
/// The stream type is free, so a TLS connector wrapping a TCP one can serve checks too
/// (`check-ssl` arrives with lb-tls).
pub trait CheckConnect: Clone + Send + Sync + 'static {
    /// The connected stream.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Connects to `addr`.
    fn connect(&self, addr: Address) -> ConnectFuture<Self::Io>;
}

/// The future of [`CheckConnect::connect`] (boxed: one per check, a cold path).
pub type ConnectFuture<Io> = Pin<Box<dyn Future<Output = io::Result<Io>> + Send + 'static>>;

impl<C> CheckConnect for C
where
    C: Service<Address, Error = io::Error> + Clone + Send + Sync + 'static,
    C::Response: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    C::Future: Send + 'static,
{
    type Io = C::Response;

    fn connect(&self, addr: Address) -> ConnectFuture<Self::Io> {
        Box::pin(self.clone().oneshot(addr))
    }
}

/// The deadlines of one check (REFERENCE 2.1): without `timeout check` the whole check
/// must finish within `inter`; with it, the connect gets `min(timeout connect, inter)` and
/// the rest `timeout check` from the moment the connection is established.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    start: Instant,
    inter: Duration,
    check: Option<Duration>,
    connect: Option<Duration>,
}

impl Budget {
    pub(crate) fn new(
        start: Instant,
        inter: Duration,
        check: Option<Duration>,
        connect: Option<Duration>,
    ) -> Self {
        Budget {
            start,
            inter,
            check,
            connect,
        }
    }

    pub(crate) fn connect_deadline(&self) -> Instant {
        match self.check {
            Some(_) => self.start + self.inter.min(self.connect.unwrap_or(self.inter)),
            None => self.start + self.inter,
        }
    }

    pub(crate) fn io_deadline(&self, connected_at: Instant) -> Instant {
        match self.check {
            Some(t) => connected_at + t,
            None => self.start + self.inter,
        }
    }
}

/// A check's verdict before it is timed: status, code and info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) status: CheckStatus,
    pub(crate) code: Option<u16>,
    pub(crate) info: String,
}

impl Verdict {
    pub(crate) fn new(status: CheckStatus, info: impl Into<String>) -> Self {
        Verdict {
            status,
            code: None,
            info: info.into(),
        }
    }

    pub(crate) fn with_code(mut self, code: u16) -> Self {
        self.code = Some(code);
        self
    }
}

/// Connects within the budget. Errors: `L4TOUT` on timeout, `L4CON` with the error text.
pub(crate) async fn open<C: CheckConnect>(
    connect: &C,
    addr: Address,
    deadline: Instant,
) -> Result<C::Io, Verdict> {
    match tokio::time::timeout_at(deadline, connect.connect(addr)).await {
        Err(_) => Err(Verdict::new(CheckStatus::L4Tout, "")),
        Ok(Err(e)) if e.kind() == io::ErrorKind::TimedOut => {
            Err(Verdict::new(CheckStatus::L4Tout, ""))
        }
        Ok(Err(e)) => Err(Verdict::new(CheckStatus::L4Con, strerror(&e))),
        Ok(Ok(io)) => Ok(io),
    }
}

/// The C library's text for an error, as HAProxy prints `strerror(errno)`: "Connection
/// refused", "Connection reset by peer", ...
pub(crate) fn strerror(e: &io::Error) -> String {
    use io::ErrorKind::*;
    let known = match e.kind() {
        ConnectionRefused => "Connection refused",
        ConnectionReset => "Connection reset by peer",
        ConnectionAborted => "Software caused connection abort",
        NotConnected => "Transport endpoint is not connected",
        AddrInUse => "Address already in use",
        AddrNotAvailable => "Cannot assign requested address",
        BrokenPipe => "Broken pipe",
        TimedOut => "Connection timed out",
        PermissionDenied => "Permission denied",
        UnexpectedEof => "Connection closed by peer",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    let text = e.to_string();
    // "No route to host (os error 113)" -> "No route to host".
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => text[..i].to_owned(),
        _ => text,
    }
}

/// The largest answer a check reads (HAProxy: `tune.bufsize`).
pub(crate) const BUFSIZE: usize = 16 * 1024;

/// A check connection with its read buffer, bounded to [`BUFSIZE`].
#[derive(Debug)]
pub(crate) struct Conn<Io> {
    io: Io,
    pub(crate) buf: BytesMut,
    pub(crate) eof: bool,
}

impl<Io> Conn<Io> {
    pub(crate) fn new(io: Io) -> Self {
        Conn {
            io,
            buf: BytesMut::new(),
            eof: false,
        }
    }

    /// Whether the buffer holds as much as a check may read.
    pub(crate) fn is_full(&self) -> bool {
        self.buf.len() >= BUFSIZE
    }

    /// Whether no more data can come (end of stream, or buffer full).
    pub(crate) fn done_reading(&self) -> bool {
        self.eof || self.is_full()
    }

    /// Drops what was read (before a new send, as tcp-check does).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.eof = false;
    }

    /// The stream, for a protocol library to take over (nothing must have been read).
    pub(crate) fn into_io(self) -> Io {
        debug_assert!(self.buf.is_empty(), "unread data would be lost");
        self.io
    }

    /// Closes the connection (dropping the stream closes it; nothing to wait for).
    pub(crate) fn close(self) {
        drop(self);
    }
}

impl<Io: AsyncRead + AsyncWrite + Unpin> Conn<Io> {
    /// Reads what arrives next into the buffer; returns how many bytes (0 at end of stream
    /// or when the buffer is full).
    pub(crate) async fn fill(&mut self) -> io::Result<usize> {
        if self.done_reading() {
            return Ok(0);
        }
        let want = (BUFSIZE - self.buf.len()).min(4096);
        self.buf.reserve(want);
        let n = (&mut self.io)
            .take(want as u64)
            .read_buf(&mut self.buf)
            .await?;
        if n == 0 {
            self.eof = true;
        }
        Ok(n)
    }

    /// Writes all of `data` and flushes.
    pub(crate) async fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.io.write_all(data).await?;
        self.io.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_texts() {
        let e = io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "connection to mem@x refused",
        );
        assert_eq!(strerror(&e), "Connection refused");
        let e = io::Error::from_raw_os_error(113);
        assert!(!strerror(&e).contains("os error"));
        let e = io::Error::other("odd");
        assert_eq!(strerror(&e), "odd");
    }

    #[test]
    fn budgets() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let b = Budget::new(t0, s(2), None, Some(s(1)));
        assert_eq!(b.connect_deadline(), t0 + s(2));
        assert_eq!(b.io_deadline(t0 + s(1)), t0 + s(2));
        let b = Budget::new(t0, s(2), Some(s(5)), Some(s(1)));
        assert_eq!(b.connect_deadline(), t0 + s(1));
        assert_eq!(b.io_deadline(t0 + s(1)), t0 + s(6));
        let b = Budget::new(t0, s(2), Some(s(5)), None);
        assert_eq!(b.connect_deadline(), t0 + s(2));
    }
}

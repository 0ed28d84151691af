//! Content inspection: HAProxy's `tcp-request content` stage.
//!
//! A TCP frontend can look at the first bytes a client sends before it picks a backend:
//! the TLS ClientHello (SNI, ALPN, versions), an HTTP/1 request head (method, target,
//! `Host`), the HTTP/2 connection preface or an SSH banner. [`inspect`] reads into a
//! bounded buffer until the [`Facts`] are decided, the inspect delay elapses, the byte
//! limit is reached or the client closes, and hands back a [`PrefixedIo`] that replays
//! every byte it read. [`ContentRules`] then map the facts to an [`InspectAction`], first
//! match wins, like HAProxy's `tcp-request content` and `use_backend` lines.
//!
//! # Organization
//!
//! - [`inspect`], [`InspectOptions`], [`Facts`], [`Protocol`], [`StopReason`]: the async
//!   stage (this file).
//! - [`parse_client_hello`], [`parse_http1_request_head`], [`is_http2_preface`],
//!   [`parse_ssh_banner`]: sans-IO parsers returning [`Parse`]; they never panic, whatever
//!   the input.
//! - [`PrefixedIo`]: replays the inspected bytes, then reads from the stream.
//! - [`Condition`], [`ContentRules`], [`InspectAction`]: the rules.
//! - [`InspectError`]: the one way inspection fails, a read error.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use lb_tcp::inspect::{
//!     inspect, Condition, ContentRules, InspectAction, InspectOptions, Protocol,
//! };
//! use tokio::io::AsyncReadExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Any `AsyncRead + Unpin` will do; a TCP stream in real life.
//! let client: &[u8] = b"GET /status HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
//!
//! let opts = InspectOptions::new(Duration::from_secs(5));
//! let (facts, mut io) = inspect(client, &opts).await?;
//! assert_eq!(facts.protocol(), Protocol::Http1);
//! assert_eq!(facts.http1.as_ref().and_then(|h| h.host.as_deref()), Some("api.example.com"));
//!
//! let rules = ContentRules::new()
//!     .rule(Condition::sni_eq("admin.example.com"), InspectAction::UseBackend("admin"))
//!     .rule(Condition::protocol(Protocol::Http1), InspectAction::UseBackend("web"))
//!     .rule(Condition::ssh(), InspectAction::Reject);
//! assert_eq!(rules.evaluate(&facts), Some(&InspectAction::UseBackend("web")));
//!
//! // Nothing was lost: the backend sees the request from its first byte.
//! let mut replay = Vec::new();
//! io.read_to_end(&mut replay).await?;
//! assert!(replay.starts_with(b"GET /status"));
//! # Ok(())
//! # }
//! ```

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

mod detect;
mod error;
mod http1;
mod prefixed;
mod rules;
mod tls_hello;

pub use self::detect::{is_http2_preface, parse_ssh_banner, HTTP2_PREFACE, MAX_SSH_BANNER_LEN};
pub use self::error::InspectError;
pub use self::http1::{
    parse_http1_request_head, Http1Facts, Http1Version, MAX_HTTP1_HEADERS, MAX_HTTP1_HEAD_LEN,
};
pub use self::prefixed::PrefixedIo;
pub use self::rules::{Condition, ContentRules, InspectAction};
pub use self::tls_hello::{parse_client_hello, ClientHelloFacts};

/// The outcome of a sans-IO parser over the bytes received so far.
///
/// Parsers are monotone: once a buffer is [`Invalid`](Parse::Invalid), no longer buffer
/// starting with the same bytes is valid, and every proper prefix of a valid input is
/// [`Incomplete`](Parse::Incomplete).
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Parse<T> {
    /// The input starts with a complete, valid message.
    Complete(T),
    /// The input is a valid prefix: more bytes are needed to decide.
    Incomplete,
    /// The input is not (the start of) this kind of message.
    Invalid,
}

impl<T> Parse<T> {
    /// Returns the parsed value, if complete.
    pub fn complete(self) -> Option<T> {
        match self {
            Parse::Complete(t) => Some(t),
            Parse::Incomplete | Parse::Invalid => None,
        }
    }

    /// Returns `true` for [`Parse::Complete`].
    pub const fn is_complete(&self) -> bool {
        matches!(self, Parse::Complete(_))
    }

    /// Returns `true` for [`Parse::Incomplete`].
    pub const fn is_incomplete(&self) -> bool {
        matches!(self, Parse::Incomplete)
    }

    /// Returns `true` for [`Parse::Invalid`].
    pub const fn is_invalid(&self) -> bool {
        matches!(self, Parse::Invalid)
    }

    /// Maps the complete value, keeping `Incomplete` and `Invalid`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parse<U> {
        match self {
            Parse::Complete(t) => Parse::Complete(f(t)),
            Parse::Incomplete => Parse::Incomplete,
            Parse::Invalid => Parse::Invalid,
        }
    }
}

/// Why a parser stopped short of a result; the parsers' internal error type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Incomplete,
    Invalid,
}

impl<T> From<Result<T, Stop>> for Parse<T> {
    fn from(r: Result<T, Stop>) -> Self {
        match r {
            Ok(t) => Parse::Complete(t),
            Err(Stop::Incomplete) => Parse::Incomplete,
            Err(Stop::Invalid) => Parse::Invalid,
        }
    }
}

/// The protocol a client spoke first, as far as inspection could tell.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// A TLS ClientHello (possibly incomplete, see [`ClientHelloFacts::complete`]).
    Tls,
    /// An HTTP/1.x request head.
    Http1,
    /// The HTTP/2 connection preface (prior knowledge, "h2c").
    Http2,
    /// An SSH identification string.
    Ssh,
    /// None of the above, or not decided before the delay, the limit or EOF.
    Unknown,
}

/// Why [`inspect`] stopped reading.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// The facts are decided: a message was recognized, or the data can be none of them.
    ///
    /// This is also the value in [`Facts::default`].
    #[default]
    Decided,
    /// The inspect delay elapsed first.
    DelayElapsed,
    /// The byte limit was reached first.
    LimitReached,
    /// The client closed (or half-closed) its side first.
    Eof,
}

/// What inspection learned from the client's first bytes.
///
/// At most one of `tls`, `http1`, `http2_preface` and `ssh_banner` is set;
/// [`protocol`](Facts::protocol) says which.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// How many bytes were read (and will be replayed by [`PrefixedIo`]).
    pub len: usize,
    /// Why reading stopped.
    pub stop: StopReason,
    /// Present when a TLS ClientHello was seen, complete or (after the delay, the limit
    /// or EOF) in part.
    pub tls: Option<ClientHelloFacts>,
    /// Present when a complete HTTP/1 request head was seen.
    pub http1: Option<Http1Facts>,
    /// `true` when the complete HTTP/2 connection preface was seen.
    pub http2_preface: bool,
    /// The SSH identification line ("SSH-2.0-..."), without its line ending.
    pub ssh_banner: Option<String>,
}

impl Facts {
    /// The protocol the client spoke, [`Protocol::Unknown`] when none was recognized.
    pub fn protocol(&self) -> Protocol {
        if self.tls.is_some() {
            Protocol::Tls
        } else if self.http1.is_some() {
            Protocol::Http1
        } else if self.http2_preface {
            Protocol::Http2
        } else if self.ssh_banner.is_some() {
            Protocol::Ssh
        } else {
            Protocol::Unknown
        }
    }

    /// The TLS server name (SNI), lowercased, when a ClientHello carried a valid one.
    pub fn sni(&self) -> Option<&str> {
        self.tls.as_ref().and_then(|t| t.sni.as_deref())
    }
}

/// Options for [`inspect`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use lb_tcp::inspect::InspectOptions;
///
/// let opts = InspectOptions::new(Duration::from_secs(2)).with_max_bytes(4096);
/// assert_eq!(opts.delay(), Duration::from_secs(2));
/// assert_eq!(opts.max_bytes(), 4096);
/// assert_eq!(InspectOptions::default().max_bytes(), InspectOptions::DEFAULT_MAX_BYTES);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InspectOptions {
    delay: Duration,
    max_bytes: usize,
}

impl InspectOptions {
    /// The default byte limit, 16 KiB (HAProxy's default `tune.bufsize`).
    pub const DEFAULT_MAX_BYTES: usize = 16 * 1024;

    /// The default inspect delay, 5 seconds.
    pub const DEFAULT_DELAY: Duration = Duration::from_secs(5);

    /// Options with the given inspect delay and the default byte limit.
    ///
    /// The delay is HAProxy's `tcp-request inspect-delay`: how long to wait, from the
    /// start of inspection, for the facts to be decided. With a zero delay only the bytes
    /// that are already available are inspected.
    pub const fn new(delay: Duration) -> Self {
        Self {
            delay,
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }

    /// Sets the byte limit: inspection stops once this many bytes are buffered.
    ///
    /// The buffer grows up to this size. Default is [`DEFAULT_MAX_BYTES`](Self::DEFAULT_MAX_BYTES).
    pub const fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets the inspect delay. Default is [`DEFAULT_DELAY`](Self::DEFAULT_DELAY).
    pub const fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The inspect delay.
    pub const fn delay(&self) -> Duration {
        self.delay
    }

    /// The byte limit.
    pub const fn max_bytes(&self) -> usize {
        self.max_bytes
    }
}

impl Default for InspectOptions {
    fn default() -> Self {
        Self::new(Self::DEFAULT_DELAY)
    }
}

/// How much buffer to reserve per read, at most.
const READ_CHUNK: usize = 4096;

/// Reads the client's first bytes and decides the [`Facts`].
///
/// Reads until one of:
/// - the facts are decided ([`StopReason::Decided`]): a complete ClientHello, HTTP/1
///   request head, HTTP/2 preface or SSH banner was seen, or the bytes can be none of them;
/// - `opts.delay()` elapsed since the call ([`StopReason::DelayElapsed`]);
/// - `opts.max_bytes()` bytes are buffered ([`StopReason::LimitReached`]);
/// - the client closed its side ([`StopReason::Eof`]).
///
/// In the last three cases the facts are those decided so far: a partial message is
/// [`Protocol::Unknown`], except a ClientHello whose handshake header was seen, which is
/// reported with [`ClientHelloFacts::complete`] `false` and the fields received in full.
/// A client that sends nothing before the delay yields facts with `len` 0.
///
/// Every byte read is replayed by the returned [`PrefixedIo`] before it reads from `io`
/// again. Each read re-runs the parsers that are still undecided over the buffer, so the
/// work per connection is bounded by the byte limit.
///
/// # Errors
///
/// [`InspectError::Io`] when reading fails; the bytes read so far are dropped with `io`.
///
/// # Cancel safety
///
/// Not cancel safe: `io` is moved in, so dropping the future drops the stream and the
/// bytes read so far.
pub async fn inspect<I>(
    mut io: I,
    opts: &InspectOptions,
) -> Result<(Facts, PrefixedIo<I>), InspectError>
where
    I: AsyncRead + Unpin,
{
    let max = opts.max_bytes;
    // `None` when the delay is too large to represent: wait without a deadline.
    let deadline = Instant::now().checked_add(opts.delay);
    let mut buf = BytesMut::with_capacity(max.min(READ_CHUNK));
    let mut detector = Detector::new();

    let (facts, stop) = loop {
        if !buf.is_empty() {
            if let Some(facts) = detector.examine(&buf) {
                break (facts, StopReason::Decided);
            }
        }
        let remaining = max.saturating_sub(buf.len());
        if remaining == 0 {
            break (detector.undecided(&buf), StopReason::LimitReached);
        }
        buf.reserve(remaining.min(READ_CHUNK));

        let mut limited = (&mut io).take(u64::try_from(remaining).unwrap_or(u64::MAX));
        let read = limited.read_buf(&mut buf);
        let read = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, read).await {
                Ok(read) => read,
                Err(_elapsed) => break (detector.undecided(&buf), StopReason::DelayElapsed),
            },
            None => read.await,
        };
        match read {
            Ok(0) => break (detector.undecided(&buf), StopReason::Eof),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(InspectError::Io(e)),
        }
    };

    let facts = Facts { stop, ..facts };
    tracing::trace!(
        len = facts.len,
        protocol = ?facts.protocol(),
        stop = ?facts.stop,
        sni = facts.sni(),
        "inspected"
    );
    Ok((facts, PrefixedIo::new(buf.freeze(), io)))
}

/// Which protocols the buffered bytes may still be.
///
/// The parsers are monotone, so a protocol ruled out stays ruled out and its parser is
/// not run again.
#[derive(Debug)]
struct Detector {
    tls: bool,
    http1: bool,
    http2: bool,
    ssh: bool,
}

impl Detector {
    const fn new() -> Self {
        Self {
            tls: true,
            http1: true,
            http2: true,
            ssh: true,
        }
    }

    /// Runs the parsers still in the race; `Some` once the facts are decided.
    fn examine(&mut self, buf: &[u8]) -> Option<Facts> {
        let mut facts = Facts {
            len: buf.len(),
            ..Facts::default()
        };
        if self.tls {
            match parse_client_hello(buf) {
                Parse::Complete(hello) => {
                    facts.tls = Some(hello);
                    return Some(facts);
                }
                Parse::Incomplete => {}
                Parse::Invalid => self.tls = false,
            }
        }
        if self.http1 {
            match parse_http1_request_head(buf) {
                Parse::Complete(head) => {
                    facts.http1 = Some(head);
                    return Some(facts);
                }
                Parse::Incomplete => {}
                Parse::Invalid => self.http1 = false,
            }
        }
        if self.http2 {
            match is_http2_preface(buf) {
                Parse::Complete(()) => {
                    facts.http2_preface = true;
                    return Some(facts);
                }
                Parse::Incomplete => {}
                Parse::Invalid => self.http2 = false,
            }
        }
        if self.ssh {
            match parse_ssh_banner(buf) {
                Parse::Complete(banner) => {
                    facts.ssh_banner = Some(banner);
                    return Some(facts);
                }
                Parse::Incomplete => {}
                Parse::Invalid => self.ssh = false,
            }
        }
        let undecided = self.tls || self.http1 || self.http2 || self.ssh;
        (!undecided).then_some(facts)
    }

    /// The facts when reading stopped before a decision.
    fn undecided(&self, buf: &[u8]) -> Facts {
        Facts {
            len: buf.len(),
            tls: if self.tls {
                tls_hello::parse_partial(buf)
            } else {
                None
            },
            ..Facts::default()
        }
    }
}

#[cfg(test)]
mod tests;

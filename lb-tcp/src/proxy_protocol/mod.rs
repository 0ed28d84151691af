//! The PROXY protocol, v1 (text) and v2 (binary): parse what a load balancer in front of us
//! sends, and emit it towards servers behind us (HAProxy's `accept-proxy`, `send-proxy`,
//! `send-proxy-v2`).
//!
//! Parsing is sans-IO: [`parse`] takes the bytes read so far and answers
//! [`Parsed::Complete`] (with how many bytes the header used: the rest is payload) or
//! [`Parsed::Incomplete`]. [`read_header`] drives it over any [`AsyncRead`] with a timeout.
//! Validation is strict, as the spec asks: anything off aborts the connection.
//!
//! # Examples
//!
//! ```
//! use bytes::BytesMut;
//! use lb_tcp::proxy_protocol::{parse, Parsed, ProxyHeader, Tlvs, Version};
//!
//! // A v1 line followed by the client's first bytes.
//! let input = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n";
//! let Ok(Parsed::Complete { header, consumed }) = parse(input) else { panic!("not a header") };
//! assert_eq!(header.version, Version::V1);
//! assert_eq!(header.source(), Some("192.0.2.1:56324".parse().unwrap()));
//! assert_eq!(&input[consumed..], b"GET / HTTP/1.1\r\n");
//!
//! // A v2 header with TLVs and a checksum, parsed back.
//! let mut tlvs = Tlvs::default();
//! tlvs.alpn = Some(b"h2".to_vec());
//! tlvs.authority = Some("example.com".to_owned());
//! tlvs.crc32c = true;
//! let sent = ProxyHeader::v2("[2001:db8::1]:40000".parse().unwrap(), "[2001:db8::2]:443".parse().unwrap())
//!     .with_tlvs(tlvs);
//! let mut out = BytesMut::new();
//! sent.encode(&mut out).unwrap();
//! assert_eq!(
//!     parse(&out).unwrap(),
//!     Parsed::Complete { header: sent, consumed: out.len() },
//! );
//!
//! // Partial input asks for more.
//! assert!(matches!(parse(&out[..10]), Ok(Parsed::Incomplete { needed: Some(6) })));
//! ```
//!
//! # Organization
//!
//! - this module: the [`ProxyHeader`] model, [`parse`] (detects the version), [`read_header`];
//! - `v1`: the text line; `v2`: the binary header and address blocks;
//! - `tlv`: the typed v2 TLVs ([`Tlvs`], [`Ssl`]); `crc32c`: the checksum;
//! - `error`: [`ProxyProtocolError`].

mod crc32c;
mod error;
mod tlv;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

pub use self::error::ProxyProtocolError;
pub use self::tlv::{Ssl, SslClient, SslOptions, Tlvs, MAX_UNIQUE_ID_LEN};

/// The longest v1 line, CRLF included (107 bytes).
pub const V1_MAX_LEN: usize = v1::MAX_LEN;
/// The longest v2 header: 16 fixed bytes plus a 16-bit length (65 551 bytes).
pub const V2_MAX_LEN: usize = v2::MAX_LEN;

/// A PROXY protocol header, v1 or v2.
///
/// Build one with [`ProxyHeader::v1`], [`ProxyHeader::v2`] or [`ProxyHeader::local`], or get
/// one from [`parse`] / [`read_header`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyHeader {
    /// Which wire format the header uses (parsed) or will use (encoded).
    pub version: Version,
    /// Whether the connection is relayed for a client or made by the proxy itself.
    pub command: Command,
    /// The client connection's transport.
    pub transport: Transport,
    /// The client connection's endpoints.
    pub addresses: Addresses,
    /// v2 TLVs; always empty in v1.
    pub tlvs: Tlvs,
}

/// The PROXY protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// The human-readable line, `PROXY TCP4 ...\r\n`.
    V1,
    /// The binary format, with TLVs.
    V2,
}

/// The v2 command (v1 headers are always [`Command::Proxy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// The proxy opened the connection itself (e.g. a health check): use the real endpoints.
    Local,
    /// The connection is relayed on behalf of the client described by the header.
    Proxy,
}

/// The transport of the relayed connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Unknown or not told (v1 `UNKNOWN`, v2 family `UNSPEC`, LOCAL headers).
    Unspec,
    /// A stream: TCP, or a UNIX stream socket.
    Stream,
    /// Datagrams: UDP, or a UNIX datagram socket.
    Datagram,
}

/// The endpoints of the relayed connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Addresses {
    /// Not told: use the real endpoints of the connection.
    Unspec,
    /// IPv4 or IPv6 endpoints.
    ///
    /// The wire formats carry neither IPv6 flow info nor scope ID: parsing sets them to 0 and
    /// encoding drops them. A pair mixing IPv4 and IPv6 is sent as IPv6, the IPv4 end mapped
    /// (`::ffff:a.b.c.d`), and is parsed back as such.
    Inet {
        /// The client.
        src: SocketAddr,
        /// The address the client connected to.
        dst: SocketAddr,
    },
    /// UNIX socket paths (v2 only): the `sun_path` bytes without their NUL padding.
    ///
    /// A Linux abstract socket name keeps its leading NUL. Encoding refuses paths longer than
    /// 108 bytes.
    Unix {
        /// The client's socket path.
        src: Vec<u8>,
        /// The path of the socket the client connected to.
        dst: Vec<u8>,
    },
}

impl ProxyHeader {
    /// A v1 header for a TCP connection from `src` to `dst`.
    pub fn v1(src: SocketAddr, dst: SocketAddr) -> Self {
        Self {
            version: Version::V1,
            ..Self::v2(src, dst)
        }
    }

    /// A v2 PROXY header for a TCP connection from `src` to `dst`, without TLVs.
    pub fn v2(src: SocketAddr, dst: SocketAddr) -> Self {
        Self {
            version: Version::V2,
            command: Command::Proxy,
            transport: Transport::Stream,
            addresses: Addresses::Inet { src, dst },
            tlvs: Tlvs::default(),
        }
    }

    /// A v2 LOCAL header: the connection is the proxy's own (health checks, `check-send-proxy`).
    pub fn local() -> Self {
        Self {
            version: Version::V2,
            command: Command::Local,
            transport: Transport::Unspec,
            addresses: Addresses::Unspec,
            tlvs: Tlvs::default(),
        }
    }

    /// Replaces the TLVs (v2 only: v1 has none).
    #[must_use]
    pub fn with_tlvs(mut self, tlvs: Tlvs) -> Self {
        self.tlvs = tlvs;
        self
    }

    /// The client's address, if the header tells it; `None` means "use the connection's peer".
    pub fn source(&self) -> Option<SocketAddr> {
        match (self.command, &self.addresses) {
            (Command::Proxy, Addresses::Inet { src, .. }) => Some(*src),
            _ => None,
        }
    }

    /// The address the client connected to, if the header tells it.
    pub fn destination(&self) -> Option<SocketAddr> {
        match (self.command, &self.addresses) {
            (Command::Proxy, Addresses::Inet { dst, .. }) => Some(*dst),
            _ => None,
        }
    }

    /// Appends the header to `out` in the format of [`self.version`](Self::version).
    ///
    /// v1 can only say TCP over IPv4/IPv6: any other header is written `PROXY UNKNOWN\r\n`, as
    /// the spec prescribes, and TLVs are not written. In v2, TLVs are written in a fixed order
    /// (CRC32C, ALPN, authority, unique ID, SSL, netns, then `other` as given); with
    /// [`Tlvs::crc32c`] set, the checksum is computed over the finished header.
    ///
    /// A LOCAL v2 header is written with whatever addresses and TLVs it holds, which a receiver
    /// (this module's [`parse`] included) discards.
    ///
    /// # Errors
    ///
    /// v2 only, with `out` left unchanged:
    /// [`Unencodable`](ProxyProtocolError::Unencodable) when exactly one of `transport` and
    /// `addresses` is unspecified, a UNIX path exceeds 108 bytes, or `other` holds a TLV type
    /// that has its own field; [`UniqueIdTooLong`](ProxyProtocolError::UniqueIdTooLong);
    /// [`HeaderTooLong`](ProxyProtocolError::HeaderTooLong) when the body exceeds 65 535 bytes.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), ProxyProtocolError> {
        match self.version {
            Version::V1 => {
                v1::encode(self, out);
                Ok(())
            }
            Version::V2 => v2::encode(self, out),
        }
    }

    /// The header as bytes; see [`encode`](Self::encode).
    ///
    /// # Errors
    ///
    /// As [`encode`](Self::encode).
    pub fn to_bytes(&self) -> Result<Bytes, ProxyProtocolError> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out.freeze())
    }
}

/// What [`parse`] made of the bytes so far.
// A header is a few hundred bytes (the SSL TLV's fields are inline); a `Parsed` lives for
// one call, so boxing it would cost an allocation per parse for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole header.
    Complete {
        /// The header.
        header: ProxyHeader,
        /// How many bytes it took; the bytes after them are the connection's payload.
        consumed: usize,
    },
    /// The bytes so far are a valid start of a header; more are needed.
    Incomplete {
        /// `Some(n)`: at least `n` more bytes are needed (for v2 after the first 16 bytes,
        /// exactly `n`). `None`: a v1 line whose CRLF has not arrived; it ends within
        /// [`V1_MAX_LEN`] bytes.
        needed: Option<usize>,
    },
}

/// Parses a PROXY header at the start of `buf`, detecting its version.
///
/// v2 when `buf` starts with the v2 signature, v1 when it starts with `PROXY`; while `buf` is
/// too short to tell, a prefix of either is [`Parsed::Incomplete`]. Feed it everything read so
/// far, each time more arrives.
///
/// # Errors
///
/// [`BadSignature`](ProxyProtocolError::BadSignature) when `buf` starts with neither, and
/// the other parse variants of [`ProxyProtocolError`] when the header is invalid. Errors are
/// reported as soon as the bytes so far prove the header invalid.
pub fn parse(buf: &[u8]) -> Result<Parsed, ProxyProtocolError> {
    let starts = |prefix: &[u8]| {
        let n = buf.len().min(prefix.len());
        buf[..n] == prefix[..n]
    };
    match buf.first() {
        None => Ok(Parsed::Incomplete {
            needed: Some(v1::MIN_LEN),
        }),
        Some(b'\r') if starts(&v2::SIGNATURE) => v2::parse(buf),
        Some(b'P') if starts(v1::PREFIX) => v1::parse(buf),
        Some(_) => Err(ProxyProtocolError::BadSignature),
    }
}

/// Reads a PROXY header from `io`, giving up after `timeout`.
///
/// Reads no more than needed where it can: 16 bytes, then exactly the rest of a v2 header; a
/// v1 line is read in chunks of up to 107 bytes in all, so bytes after it may come along.
/// Those are returned as the leftover, to be handed to whatever reads the payload (a
/// [`Bytes`] that is empty when none were read). Never buffers more than [`V2_MAX_LEN`] bytes.
///
/// # Errors
///
/// [`Timeout`](ProxyProtocolError::Timeout), [`Io`](ProxyProtocolError::Io),
/// [`UnexpectedEof`](ProxyProtocolError::UnexpectedEof) if `io` ends first, and the parse
/// errors of [`parse`].
///
/// # Cancel safety
///
/// Not cancel safe: bytes read before the future is dropped are lost.
pub async fn read_header<I>(
    io: &mut I,
    timeout: Duration,
) -> Result<(ProxyHeader, Bytes), ProxyProtocolError>
where
    I: AsyncRead + Unpin + ?Sized,
{
    tokio::time::timeout(timeout, read_header_inner(io))
        .await
        .unwrap_or(Err(ProxyProtocolError::Timeout))
}

async fn read_header_inner<I>(io: &mut I) -> Result<(ProxyHeader, Bytes), ProxyProtocolError>
where
    I: AsyncRead + Unpin + ?Sized,
{
    let mut buf = BytesMut::new();
    loop {
        let want = match parse(&buf)? {
            Parsed::Complete { header, consumed } => {
                let leftover = buf.split_off(consumed).freeze();
                return Ok((header, leftover));
            }
            // The first read takes the 16 bytes that tell v1 from v2 and hold v2's length.
            Parsed::Incomplete { needed: Some(n) } => {
                n.max(v2::HEADER_LEN.saturating_sub(buf.len()))
            }
            Parsed::Incomplete { needed: None } => V1_MAX_LEN.saturating_sub(buf.len()),
        }
        .max(1);
        buf.reserve(want);
        if io.read_buf(&mut (&mut buf).limit(want)).await? == 0 {
            return Err(ProxyProtocolError::UnexpectedEof { read: buf.len() });
        }
    }
}

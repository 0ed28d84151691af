//! Reading HTTP/1.1 responses: the head (with `httparse`) and the body framing of RFC 9112
//! §6 (no body, Content-Length, chunked with trailers, or until the server closes).

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};

/// Most header fields accepted in a response head (HAProxy's `tune.http.maxhdr` is 101).
pub(crate) const MAX_HEADERS: usize = 101;
/// Largest response head accepted (HAProxy answers 502 past `tune.bufsize`).
pub(crate) const MAX_HEAD: usize = u16::MAX as usize;
/// Longest chunk-size line (size, extensions, CRLF) accepted.
const MAX_CHUNK_LINE: usize = 4096;
/// Largest trailer section accepted.
const MAX_TRAILERS: usize = 16 * 1024;

/// Why a response from an HTTP/1 server could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtoError {
    /// The head is not valid HTTP/1.
    #[error("invalid response head: {0}")]
    Head(&'static str),
    /// The head is larger than 64 KiB.
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    /// Content-Length is invalid or contradicts itself.
    #[error("invalid Content-Length")]
    ContentLength,
    /// The chunked framing is broken.
    #[error("invalid chunked encoding: {0}")]
    Chunked(&'static str),
}

/// A parsed response head, with the fields that decide framing and reuse already read
/// (one pass over the fields while they are parsed, no lookups afterwards).
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    /// `Connection: close` was present.
    conn_close: bool,
    /// `Connection: keep-alive` was present.
    conn_keep_alive: bool,
    /// Transfer-Encoding was present; whether its final coding is chunked.
    te_chunked: Option<bool>,
    /// The Content-Length, `Err` when the values are invalid or disagree.
    content_length: Option<Result<u64, ()>>,
}

impl Head {
    /// A head with room for `fields` header fields, none read yet.
    fn new(status: StatusCode, version: Version, fields: usize) -> Self {
        Head {
            status,
            version,
            headers: HeaderMap::with_capacity(fields),
            conn_close: false,
            conn_keep_alive: false,
            te_chunked: None,
            content_length: None,
        }
    }

    /// Reads the framing and connection fields.
    fn note(&mut self, name: &HeaderName, value: &HeaderValue) {
        if *name == CONNECTION {
            for token in value.as_bytes().split(|&b| b == b',') {
                let t = token.trim_ascii();
                self.conn_close |= t.eq_ignore_ascii_case(b"close");
                self.conn_keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if *name == TRANSFER_ENCODING {
            // The final coding decides: chunked, else the body runs until close.
            let last = value
                .as_bytes()
                .rsplit(|&b| b == b',')
                .next()
                .map(<[u8]>::trim_ascii)
                .unwrap_or_default();
            self.te_chunked = Some(last.eq_ignore_ascii_case(b"chunked"));
        } else if *name == CONTENT_LENGTH {
            for part in value.as_bytes().split(|&b| b == b',') {
                let n = parse_decimal(part.trim_ascii()).ok_or(());
                self.content_length = match (self.content_length, n) {
                    (None, n) => Some(n),
                    (Some(Ok(a)), Ok(b)) if a == b => Some(Ok(a)),
                    _ => Some(Err(())),
                };
            }
        }
    }

    /// Whether the server lets the connection stay open after this response.
    pub(crate) fn keep_alive(&self) -> bool {
        match self.version {
            Version::HTTP_11 => !self.conn_close,
            _ => self.conn_keep_alive && !self.conn_close,
        }
    }

    /// Whether both Transfer-Encoding and Content-Length were sent (RFC 9112 §6.3: the
    /// connection must be closed after the response).
    pub(crate) fn ambiguous_length(&self) -> bool {
        self.te_chunked.is_some() && self.content_length.is_some()
    }

    /// The body framing of this response to a request (RFC 9112 §6.3). `head_request`:
    /// the request was HEAD.
    pub(crate) fn framing(&self, head_request: bool) -> Result<Framing, ProtoError> {
        let s = self.status.as_u16();
        if head_request || (100..200).contains(&s) || s == 204 || s == 304 {
            return Ok(Framing::Length(0));
        }
        match (self.te_chunked, self.content_length) {
            (Some(true), _) => Ok(Framing::Chunked),
            (Some(false), _) => Ok(Framing::Eof),
            (None, Some(Ok(n))) => Ok(Framing::Length(n)),
            (None, Some(Err(()))) => Err(ProtoError::ContentLength),
            (None, None) => Ok(Framing::Eof),
        }
    }
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// Parses a response head from the front of `buf`. `Ok(None)`: more bytes are needed.
/// On success the head's bytes are split off `buf` (header values share them, no copy).
pub(crate) fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, ProtoError> {
    if buf.is_empty() {
        return Ok(None);
    }
    // Uninitialized slots: zeroing 101 of them would cost more than the parse itself.
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= MAX_HEAD {
                Err(ProtoError::HeadTooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ProtoError::Head("too many headers")),
        Err(e) => return Err(ProtoError::Head(error_name(e))),
    };
    if len > MAX_HEAD {
        return Err(ProtoError::HeadTooLarge);
    }
    let status = resp
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(ProtoError::Head("status"))?;
    let version = match resp.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    // Offsets of every name and value (the head is at most 64 KiB), so that the values
    // can share the head's bytes once it is split off the buffer.
    let base = buf.as_ptr() as usize;
    let mut spans = [[0u16; 4]; MAX_HEADERS];
    let count = resp.headers.len();
    for (span, h) in spans.iter_mut().zip(resp.headers.iter()) {
        let n = h.name.as_ptr() as usize - base;
        let v = h.value.as_ptr() as usize - base;
        *span = [n, n + h.name.len(), v, v + h.value.len()].map(|x| x as u16);
    }
    let bytes = buf.split_to(len).freeze();
    let mut head = Head::new(status, version, count);
    for &[ns, ne, vs, ve] in &spans[..count] {
        let (ns, ne, vs, ve) = (ns as usize, ne as usize, vs as usize, ve as usize);
        let name = HeaderName::from_bytes(&bytes[ns..ne]).map_err(|_| ProtoError::Head("name"))?;
        let value = HeaderValue::from_maybe_shared(bytes.slice(vs..ve))
            .map_err(|_| ProtoError::Head("value"))?;
        head.note(&name, &value);
        head.headers.append(name, value);
    }
    Ok(Some(head))
}

fn error_name(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "header name",
        httparse::Error::HeaderValue => "header value",
        httparse::Error::NewLine => "line ending",
        httparse::Error::Status => "status",
        httparse::Error::Token => "token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "version",
    }
}

/// How a response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Exactly this many bytes (zero: no body).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the server closes the connection.
    Eof,
}

/// What the decoder found in the buffer.
#[derive(Debug, PartialEq)]
pub(crate) enum Decoded {
    /// Body data.
    Data(Bytes),
    /// The trailer section (chunked bodies).
    Trailers(HeaderMap),
    /// The body ended.
    End,
    /// More bytes are needed.
    NeedMore,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd,
    /// Reading the trailer section.
    Trailers,
}

/// Incremental body decoder over a read buffer.
#[derive(Debug)]
pub(crate) struct Decoder {
    kind: DecoderKind,
}

#[derive(Debug)]
enum DecoderKind {
    Length(u64),
    Chunked(Chunk),
    Eof,
    Done,
}

impl Decoder {
    /// A decoder for `framing`.
    pub(crate) fn new(framing: Framing) -> Self {
        let kind = match framing {
            Framing::Length(0) => DecoderKind::Done,
            Framing::Length(n) => DecoderKind::Length(n),
            Framing::Chunked => DecoderKind::Chunked(Chunk::Size),
            Framing::Eof => DecoderKind::Eof,
        };
        Decoder { kind }
    }

    /// Whether the body has ended.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.kind, DecoderKind::Done)
    }

    /// Bytes left when the length is known.
    pub(crate) fn remaining(&self) -> Option<u64> {
        match self.kind {
            DecoderKind::Length(n) => Some(n),
            DecoderKind::Done => Some(0),
            _ => None,
        }
    }

    /// The server closed the connection: the end of an EOF-delimited body.
    pub(crate) fn eof(&mut self) -> bool {
        if matches!(self.kind, DecoderKind::Eof) {
            self.kind = DecoderKind::Done;
            true
        } else {
            self.is_done()
        }
    }

    /// Takes what it can from the front of `buf`.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, ProtoError> {
        loop {
            match &mut self.kind {
                DecoderKind::Done => return Ok(Decoded::End),
                DecoderKind::Length(left) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let n = (*left).min(buf.len() as u64) as usize;
                    *left -= n as u64;
                    if *left == 0 {
                        self.kind = DecoderKind::Done;
                    }
                    return Ok(Decoded::Data(buf.split_to(n).freeze()));
                }
                DecoderKind::Eof => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    return Ok(Decoded::Data(buf.split().freeze()));
                }
                DecoderKind::Chunked(state) => match *state {
                    Chunk::Size => {
                        let Some(eol) = find_crlf(buf) else {
                            if buf.len() > MAX_CHUNK_LINE {
                                return Err(ProtoError::Chunked("chunk-size line too long"));
                            }
                            return Ok(Decoded::NeedMore);
                        };
                        let size = parse_chunk_size(&buf[..eol])?;
                        buf.advance(eol + 2);
                        *state = if size == 0 {
                            Chunk::Trailers
                        } else {
                            Chunk::Data(size)
                        };
                    }
                    Chunk::Data(left) => {
                        if buf.is_empty() {
                            return Ok(Decoded::NeedMore);
                        }
                        let n = left.min(buf.len() as u64) as usize;
                        *state = if left == n as u64 {
                            Chunk::DataEnd
                        } else {
                            Chunk::Data(left - n as u64)
                        };
                        return Ok(Decoded::Data(buf.split_to(n).freeze()));
                    }
                    Chunk::DataEnd => {
                        if buf.len() < 2 {
                            return Ok(Decoded::NeedMore);
                        }
                        if &buf[..2] != b"\r\n" {
                            return Err(ProtoError::Chunked("missing CRLF after chunk data"));
                        }
                        buf.advance(2);
                        *state = Chunk::Size;
                    }
                    Chunk::Trailers => {
                        // Fast path: no trailers.
                        if buf.starts_with(b"\r\n") {
                            buf.advance(2);
                            self.kind = DecoderKind::Done;
                            return Ok(Decoded::End);
                        }
                        let Some(end) = find(buf, b"\r\n\r\n") else {
                            if buf.len() > MAX_TRAILERS {
                                return Err(ProtoError::Chunked("trailer section too large"));
                            }
                            return Ok(Decoded::NeedMore);
                        };
                        let section = buf.split_to(end + 4).freeze();
                        let trailers = parse_trailers(&section.slice(..end + 2))?;
                        self.kind = DecoderKind::Done;
                        if trailers.is_empty() {
                            return Ok(Decoded::End);
                        }
                        return Ok(Decoded::Trailers(trailers));
                    }
                },
            }
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    find(buf, b"\r\n")
}

fn find(buf: &[u8], needle: &[u8]) -> Option<usize> {
    buf.windows(needle.len()).position(|w| w == needle)
}

fn parse_chunk_size(line: &[u8]) -> Result<u64, ProtoError> {
    // chunk-size [ chunk-ext ]: extensions are ignored.
    let end = line
        .iter()
        .position(|&b| b == b';' || b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    let digits = &line[..end];
    if digits.is_empty() || digits.len() > 15 {
        return Err(ProtoError::Chunked("chunk size"));
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(ProtoError::Chunked("chunk size")),
        };
        Ok(n * 16 + u64::from(d))
    })
}

/// Parses trailer fields (`name: value` lines, each ending in CRLF). Fields that may not
/// appear in trailers (framing, routing) are dropped as RFC 9110 §6.5.1 allows.
fn parse_trailers(section: &Bytes) -> Result<HeaderMap, ProtoError> {
    let mut map = HeaderMap::new();
    let mut pos = 0;
    while pos < section.len() {
        let eol = find_crlf(&section[pos..]).ok_or(ProtoError::Chunked("trailer line"))? + pos;
        let line = &section[pos..eol];
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ProtoError::Chunked("trailer field"))?;
        let name = HeaderName::from_bytes(&line[..colon])
            .map_err(|_| ProtoError::Chunked("trailer name"))?;
        let value = section.slice(pos + colon + 1..eol);
        let trimmed = value.as_ref().trim_ascii();
        let start = pos + colon + 1 + (value.len() - value.as_ref().trim_ascii_start().len());
        let value = HeaderValue::from_maybe_shared(section.slice(start..start + trimmed.len()))
            .map_err(|_| ProtoError::Chunked("trailer value"))?;
        if !matches!(
            name,
            http::header::CONTENT_LENGTH | http::header::TRANSFER_ENCODING | http::header::HOST
        ) {
            map.append(name, value);
        }
        pos = eol + 2;
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head(raw: &str) -> Head {
        let mut buf = BytesMut::from(raw);
        parse_head(&mut buf).unwrap().unwrap()
    }

    #[test]
    fn parses_a_head_and_leaves_the_body() {
        let mut buf =
            BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello");
        let h = parse_head(&mut buf).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.version, Version::HTTP_11);
        assert_eq!(h.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(&buf[..], b"hello");
        assert_eq!(h.framing(false), Ok(Framing::Length(5)));
        assert!(h.keep_alive());
    }

    #[test]
    fn partial_heads_ask_for_more_and_huge_ones_fail() {
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nContent-Le");
        assert!(parse_head(&mut buf).unwrap().is_none());
        let mut big = BytesMut::from("HTTP/1.1 200 OK\r\n");
        while big.len() < MAX_HEAD {
            big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert!(parse_head(&mut big).is_err());
        let mut junk = BytesMut::from("HTTX/1.1 200 OK\r\n\r\n");
        assert!(parse_head(&mut junk).is_err());
    }

    #[test]
    fn framing_follows_rfc_9112() {
        assert_eq!(
            head("HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n").framing(false),
            Ok(Framing::Length(0))
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n").framing(true),
            Ok(Framing::Length(0))
        );
        assert_eq!(
            head(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n"
            )
            .framing(false),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").framing(false),
            Ok(Framing::Eof)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\n\r\n").framing(false),
            Ok(Framing::Eof)
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n").framing(false),
            Ok(Framing::Length(3))
        );
        assert!(
            head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n")
                .framing(false)
                .is_err()
        );
        assert!(head("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
            .framing(false)
            .is_err());
    }

    #[test]
    fn keep_alive_per_version_and_connection_header() {
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").keep_alive());
        assert!(!head("HTTP/1.0 200 OK\r\n\r\n").keep_alive());
        assert!(head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\n\r\n").keep_alive());
    }

    fn decode_all(
        framing: Framing,
        input: &[u8],
    ) -> Result<(Vec<u8>, Option<HeaderMap>), ProtoError> {
        let mut d = Decoder::new(framing);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        let mut trailers = None;
        loop {
            match d.decode(&mut buf)? {
                Decoded::Data(b) => out.extend_from_slice(&b),
                Decoded::Trailers(t) => trailers = Some(t),
                Decoded::End => return Ok((out, trailers)),
                Decoded::NeedMore => {
                    assert!(d.eof() || buf.is_empty());
                    return Ok((out, trailers));
                }
            }
        }
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let (body, trailers) = decode_all(
            Framing::Chunked,
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\nContent-Length: 1\r\n\r\n",
        )
        .unwrap();
        assert_eq!(body, b"hello world");
        let t = trailers.unwrap();
        assert_eq!(t.get("x-sum").unwrap(), "42");
        assert!(t.get("content-length").is_none());
    }

    #[test]
    fn broken_chunked_bodies_are_errors() {
        assert!(decode_all(Framing::Chunked, b"zz\r\n").is_err());
        assert!(decode_all(Framing::Chunked, b"3\r\nabcX\r\n").is_err());
        assert!(decode_all(Framing::Chunked, b"ffffffffffffffffff\r\n").is_err());
    }

    #[test]
    fn length_bodies_stop_at_their_length() {
        let mut d = Decoder::new(Framing::Length(3));
        let mut buf = BytesMut::from(&b"abcdef"[..]);
        assert_eq!(
            d.decode(&mut buf).unwrap(),
            Decoded::Data(Bytes::from_static(b"abc"))
        );
        assert_eq!(d.decode(&mut buf).unwrap(), Decoded::End);
        assert_eq!(&buf[..], b"def");
    }

    fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].clamp(1, rest.len());
            out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            out.extend_from_slice(&rest[..n]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[n..];
            i += 1;
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    proptest! {
        /// Any split of the input into reads decodes to the same body.
        #[test]
        fn chunked_decoding_is_independent_of_read_boundaries(
            body in proptest::collection::vec(any::<u8>(), 0..2000),
            sizes in proptest::collection::vec(1usize..300, 1..8),
            cuts in proptest::collection::vec(1usize..64, 1..64),
        ) {
            let wire = chunked(&body, &sizes);
            let mut d = Decoder::new(Framing::Chunked);
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let mut pos = 0;
            let mut cut = cuts.iter().cycle();
            let mut ended = false;
            while !ended {
                match d.decode(&mut buf).unwrap() {
                    Decoded::Data(b) => out.extend_from_slice(&b),
                    Decoded::Trailers(_) => {}
                    Decoded::End => ended = true,
                    Decoded::NeedMore => {
                        prop_assert!(pos < wire.len(), "decoder wants more after the end");
                        let n = (*cut.next().unwrap()).min(wire.len() - pos);
                        buf.extend_from_slice(&wire[pos..pos + n]);
                        pos += n;
                    }
                }
            }
            prop_assert_eq!(out, body);
            prop_assert_eq!(pos, wire.len());
            prop_assert!(buf.is_empty());
        }

        /// The head parser never panics, whatever the bytes.
        #[test]
        fn head_parser_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&raw[..]);
            if let Ok(Some(h)) = parse_head(&mut buf) {
                let _ = h.framing(false);
                let _ = h.keep_alive();
            }
        }
    }
}

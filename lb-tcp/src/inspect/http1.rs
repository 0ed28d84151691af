//! The HTTP/1 request head parser (RFC 9112 §2-§5).
//!
//! Strict where it costs nothing: tokens are checked byte by byte, whitespace before a
//! header colon and obsolete line folding are rejected, and so is a second `Host`. A bare
//! LF is accepted as a line ending (RFC 9112 §2.2).

use super::{Parse, Stop};

/// The longest request head accepted, in bytes, including the final empty line.
pub const MAX_HTTP1_HEAD_LEN: usize = 16 * 1024;

/// The most header fields accepted in a request head.
pub const MAX_HTTP1_HEADERS: usize = 100;

/// The HTTP/1 minor version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Http1Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    Http11,
}

/// What an HTTP/1 request head says.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http1Facts {
    /// The request method, as sent (methods are case-sensitive).
    pub method: String,
    /// The request target, as sent: `/path?query`, `http://host/path`, `host:port` or `*`.
    pub target: String,
    /// The protocol version.
    pub version: Http1Version,
    /// The `Host` header value, as sent (compare case-insensitively; it may carry a
    /// port), without surrounding whitespace. `None` when absent.
    pub host: Option<String>,
    /// The length of the head in bytes, up to and including the empty line.
    pub head_len: usize,
}

/// Parses an HTTP/1.0 or HTTP/1.1 request head at the start of `buf`.
///
/// A head longer than [`MAX_HTTP1_HEAD_LEN`] or with more than [`MAX_HTTP1_HEADERS`]
/// fields is [`Parse::Invalid`], as is any other version (the HTTP/2 preface included).
/// Bytes after the head (a body, a pipelined request) are ignored.
///
/// # Examples
///
/// ```
/// use lb_tcp::inspect::{parse_http1_request_head, Http1Version, Parse};
///
/// let head = parse_http1_request_head(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
/// let head = head.complete().expect("a valid head");
/// assert_eq!((head.method.as_str(), head.version), ("GET", Http1Version::Http11));
/// assert_eq!(head.host.as_deref(), Some("example.com"));
///
/// assert_eq!(parse_http1_request_head(b"GET / HTTP/1.1\r\nHost: exa"), Parse::Incomplete);
/// assert_eq!(parse_http1_request_head(b"G{T / HTTP/1.1\r\n"), Parse::Invalid);
/// ```
pub fn parse_http1_request_head(buf: &[u8]) -> Parse<Http1Facts> {
    let window = buf.get(..MAX_HTTP1_HEAD_LEN).unwrap_or(buf);
    match parse_head(window) {
        // No head can end within the limit any more.
        Err(Stop::Incomplete) if window.len() == MAX_HTTP1_HEAD_LEN => Parse::Invalid,
        result => result.into(),
    }
}

fn parse_head(buf: &[u8]) -> Result<Http1Facts, Stop> {
    let mut c = Cursor { buf, pos: 0 };

    let method = c.non_empty(is_tchar)?;
    c.expect(b' ')?;
    let target = c.non_empty(|b| b.is_ascii_graphic())?;
    c.expect(b' ')?;
    let version = c.version()?;
    c.line_end()?;

    let mut host = None;
    let mut fields = 0;
    loop {
        match c.peek()? {
            b'\r' | b'\n' => {
                c.line_end()?;
                break;
            }
            // Obsolete line folding (RFC 9112 §5.2).
            b' ' | b'\t' => return Err(Stop::Invalid),
            _ => {}
        }
        fields += 1;
        if fields > MAX_HTTP1_HEADERS {
            return Err(Stop::Invalid);
        }
        let name = c.non_empty(is_tchar)?;
        // No whitespace between the name and the colon (RFC 9112 §5.1).
        c.expect(b':')?;
        let value = trim_ows(c.take_while(is_field_byte)?);
        c.line_end()?;
        if name.eq_ignore_ascii_case(b"host") {
            if host.is_some() || !value.iter().all(u8::is_ascii_graphic) {
                return Err(Stop::Invalid);
            }
            host = Some(ascii(value));
        }
    }

    Ok(Http1Facts {
        method: ascii(method),
        target: ascii(target),
        version,
        host,
        head_len: c.pos,
    })
}

/// A position in the received bytes; running out of them is [`Stop::Incomplete`].
#[derive(Debug)]
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Result<u8, Stop> {
        self.rest().first().copied().ok_or(Stop::Incomplete)
    }

    /// The bytes up to the first one that is not `ok`, which is left unread.
    fn take_while(&mut self, ok: impl Fn(u8) -> bool) -> Result<&'a [u8], Stop> {
        let rest = self.rest();
        let n = rest.iter().position(|&b| !ok(b)).ok_or(Stop::Incomplete)?;
        self.pos += n;
        Ok(&rest[..n])
    }

    fn non_empty(&mut self, ok: impl Fn(u8) -> bool) -> Result<&'a [u8], Stop> {
        let bytes = self.take_while(ok)?;
        if bytes.is_empty() {
            return Err(Stop::Invalid);
        }
        Ok(bytes)
    }

    fn expect(&mut self, byte: u8) -> Result<(), Stop> {
        if self.peek()? != byte {
            return Err(Stop::Invalid);
        }
        self.pos += 1;
        Ok(())
    }

    /// CRLF, or a bare LF.
    fn line_end(&mut self) -> Result<(), Stop> {
        if self.peek()? == b'\r' {
            self.pos += 1;
        }
        self.expect(b'\n')
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    fn version(&mut self) -> Result<Http1Version, Stop> {
        const PREFIX: &[u8] = b"HTTP/1.";
        let rest = self.rest();
        let n = rest.len().min(PREFIX.len());
        if rest[..n] != PREFIX[..n] {
            return Err(Stop::Invalid);
        }
        let version = match rest.get(PREFIX.len()) {
            None => return Err(Stop::Incomplete),
            Some(b'0') => Http1Version::Http10,
            Some(b'1') => Http1Version::Http11,
            Some(_) => return Err(Stop::Invalid),
        };
        self.pos += PREFIX.len() + 1;
        Ok(version)
    }
}

/// `tchar` (RFC 9110 §5.6.2).
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// A byte of a field value: VCHAR, obs-text, SP or HTAB (RFC 9110 §5.5).
const fn is_field_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' '..=b'~' | 0x80..=0xff)
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// The bytes as a string; callers pass ASCII only.
fn ascii(bytes: &[u8]) -> String {
    bytes.iter().copied().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn complete(head: &[u8]) -> Http1Facts {
        match parse_http1_request_head(head) {
            Parse::Complete(facts) => facts,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(head)),
        }
    }

    fn invalid(head: &[u8]) {
        let parsed = parse_http1_request_head(head);
        assert_eq!(
            parsed,
            Parse::Invalid,
            "{:?}",
            String::from_utf8_lossy(head)
        );
    }

    const HEAD: &[u8] = b"GET /index.html?q=1 HTTP/1.1\r\nHost: Example.com:8080\r\n\
        User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

    #[test]
    fn valid_head_with_host() {
        let facts = complete(HEAD);
        assert_eq!(facts.method, "GET");
        assert_eq!(facts.target, "/index.html?q=1");
        assert_eq!(facts.version, Http1Version::Http11);
        assert_eq!(facts.host.as_deref(), Some("Example.com:8080"));
        assert_eq!(facts.head_len, HEAD.len());
    }

    #[test]
    fn bytes_after_the_head_are_ignored() {
        let mut buf = HEAD.to_vec();
        buf.extend(b"GET /next HTTP/1.1\r\n");
        assert_eq!(complete(&buf).head_len, HEAD.len());
    }

    #[test]
    fn missing_host() {
        let facts = complete(b"OPTIONS * HTTP/1.0\r\nAccept: */*\r\n\r\n");
        assert_eq!(facts.host, None);
        assert_eq!(facts.target, "*");
        assert_eq!(facts.version, Http1Version::Http10);
        assert_eq!(complete(b"GET / HTTP/1.1\r\n\r\n").host, None);
    }

    #[test]
    fn host_name_is_case_insensitive_and_trimmed() {
        let facts = complete(b"GET / HTTP/1.1\r\nhOsT: \t example.com \t\r\n\r\n");
        assert_eq!(facts.host.as_deref(), Some("example.com"));
        let facts = complete(b"GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n");
        assert_eq!(facts.host.as_deref(), Some(""));
    }

    #[test]
    fn bare_lf_line_endings() {
        let facts = complete(b"CONNECT db:5432 HTTP/1.1\nHost: db:5432\n\n");
        assert_eq!(facts.method, "CONNECT");
        assert_eq!(facts.host.as_deref(), Some("db:5432"));
    }

    #[test]
    fn every_prefix_is_incomplete() {
        for len in 0..HEAD.len() {
            let parsed = parse_http1_request_head(&HEAD[..len]);
            assert_eq!(parsed, Parse::Incomplete, "len {len}");
        }
    }

    #[test]
    fn invalid_method_chars() {
        invalid(b"G(T / HTTP/1.1\r\n\r\n");
        invalid(b"GE\x00T / HTTP/1.1\r\n\r\n");
        invalid(b"\x16\x03\x01\x00");
        invalid(b" GET / HTTP/1.1\r\n\r\n");
        invalid(b"\r\nGET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn invalid_request_lines() {
        invalid(b"GET  / HTTP/1.1\r\n\r\n"); // empty target
        invalid(b"GET /a b HTTP/1.1\r\n\r\n");
        invalid(b"GET /\x7f HTTP/1.1\r\n\r\n");
        invalid(b"GET / HTTP/1.2\r\n\r\n");
        invalid(b"GET / HTTP/1.1 \r\n\r\n");
        invalid(b"GET / http/1.1\r\n\r\n");
        invalid(b"GET / HTTP/1.1\r\r\n\r\n");
        invalid(b"GET /\r\n\r\n"); // HTTP/0.9
        invalid(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        invalid(b"SSH-2.0-OpenSSH_9.6\r\n");
    }

    #[test]
    fn invalid_header_fields() {
        invalid(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"); // space before colon
        invalid(b"GET / HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n"); // obs-fold
        invalid(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n");
        invalid(b"GET / HTTP/1.1\r\n: empty-name\r\n\r\n");
        invalid(b"GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n");
        invalid(b"GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n");
        invalid(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        invalid(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
        invalid("GET / HTTP/1.1\r\nHost: caf\u{e9}\r\n\r\n".as_bytes());
        // obs-text is fine elsewhere.
        complete("GET / HTTP/1.1\r\nX-Name: caf\u{e9}\r\n\r\n".as_bytes());
    }

    #[test]
    fn too_long() {
        let mut head = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        let fixed = head.len() + b"\r\n\r\n".len();
        head.extend(vec![b'a'; MAX_HTTP1_HEAD_LEN - fixed]);
        head.extend(b"\r\n\r\n");
        assert_eq!(complete(&head).head_len, MAX_HTTP1_HEAD_LEN);

        head.insert(20, b'a');
        invalid(&head);
        invalid(&head[..MAX_HTTP1_HEAD_LEN]);
        assert!(parse_http1_request_head(&head[..MAX_HTTP1_HEAD_LEN - 1]).is_incomplete());
    }

    #[test]
    fn too_many_headers() {
        let head = |n: usize| {
            let mut head = b"GET / HTTP/1.1\r\n".to_vec();
            for i in 0..n {
                head.extend(format!("X-{i}: {i}\r\n").as_bytes());
            }
            head.extend(b"\r\n");
            head
        };
        complete(&head(MAX_HTTP1_HEADERS));
        invalid(&head(MAX_HTTP1_HEADERS + 1));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_http1_request_head(&bytes);
        }

        #[test]
        fn never_panics_after_a_request_line(
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut head = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
            head.extend(bytes);
            let _ = parse_http1_request_head(&head);
        }

        #[test]
        fn complete_heads_round_trip(
            method in "[A-Z]{1,10}",
            path in "/[a-z0-9/._~-]{0,40}",
            host in "[a-z0-9.-]{0,30}",
        ) {
            let head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let facts = complete(head.as_bytes());
            prop_assert_eq!(facts.method, method);
            prop_assert_eq!(facts.target, path);
            prop_assert_eq!(facts.host, Some(host));
        }
    }
}

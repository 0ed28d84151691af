//! Writing HTTP/1.1 requests: the head, and the framing of a streamed body.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderMap, Method};

/// How the request body is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body follows the head.
    None,
    /// Exactly this many bytes follow.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
}

/// Whether a method's requests normally carry a body, so that an empty one is announced
/// with `Content-Length: 0` (as hyper and browsers do).
fn expects_body(m: &Method) -> bool {
    matches!(*m, Method::POST | Method::PUT | Method::PATCH)
}

/// Writes the request head into `out` (cleared first) and returns the body framing.
/// `end_stream`: the body is known to be empty; `exact`: its exact length when known.
///
/// The request line uses the origin form (the authority form for CONNECT); the client's
/// own `Content-Length` and `Transfer-Encoding` are replaced by the framing chosen here,
/// so the server never sees a length the proxy does not enforce.
pub(crate) fn head(
    parts: &Parts,
    end_stream: bool,
    exact: Option<u64>,
    out: &mut Vec<u8>,
) -> BodyFraming {
    out.clear();
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    if parts.method == Method::CONNECT {
        match parts.uri.authority() {
            Some(a) => out.extend_from_slice(a.as_str().as_bytes()),
            None => out.extend_from_slice(parts.uri.path().as_bytes()),
        }
    } else {
        match parts.uri.path_and_query() {
            Some(pq) if !pq.as_str().is_empty() => out.extend_from_slice(pq.as_str().as_bytes()),
            _ => out.push(b'/'),
        }
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    write_fields(&parts.headers, out, true);
    let framing = if end_stream {
        if expects_body(&parts.method) || parts.headers.contains_key(CONTENT_LENGTH) {
            out.extend_from_slice(b"content-length: 0\r\n");
        }
        BodyFraming::None
    } else if let Some(n) = exact {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(n.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        BodyFraming::Length(n)
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        BodyFraming::Chunked
    };
    out.extend_from_slice(b"\r\n");
    framing
}

/// Writes `name: value\r\n` lines; `skip_framing` leaves out Content-Length and
/// Transfer-Encoding.
fn write_fields(headers: &HeaderMap, out: &mut Vec<u8>, skip_framing: bool) {
    for (name, value) in headers {
        if skip_framing && (name == CONTENT_LENGTH || name == TRANSFER_ENCODING) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The size line of a chunk of `len` bytes.
pub(crate) fn chunk_size_line(len: usize) -> Bytes {
    Bytes::from(format!("{len:x}\r\n"))
}

/// The CRLF that ends a chunk's data.
pub(crate) const CHUNK_END: Bytes = Bytes::from_static(b"\r\n");

/// The last chunk and the end of an empty trailer section.
pub(crate) const LAST_CHUNK: Bytes = Bytes::from_static(b"0\r\n\r\n");

/// The last chunk followed by a trailer section.
pub(crate) fn last_chunk_with_trailers(trailers: &HeaderMap) -> Bytes {
    let mut out = b"0\r\n".to_vec();
    for (name, value) in trailers {
        // Framing fields may not be sent as trailers.
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING || name == http::header::HOST {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn encode(req: Request<()>, end: bool, exact: Option<u64>) -> (String, BodyFraming) {
        let (parts, ()) = req.into_parts();
        let mut out = Vec::new();
        let f = head(&parts, end, exact, &mut out);
        (String::from_utf8(out).unwrap(), f)
    }

    #[test]
    fn get_has_no_framing_fields() {
        let (s, f) = encode(
            Request::get("/a?b=1").header("host", "x").body(()).unwrap(),
            true,
            Some(0),
        );
        assert_eq!(s, "GET /a?b=1 HTTP/1.1\r\nhost: x\r\n\r\n");
        assert_eq!(f, BodyFraming::None);
    }

    #[test]
    fn empty_post_says_content_length_zero() {
        let (s, _) = encode(Request::post("/").body(()).unwrap(), true, Some(0));
        assert_eq!(s, "POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
    }

    #[test]
    fn client_framing_is_replaced() {
        let req = Request::post("/up")
            .header("content-length", "999")
            .header("transfer-encoding", "chunked")
            .body(())
            .unwrap();
        let (s, f) = encode(req, false, Some(12));
        assert_eq!(s, "POST /up HTTP/1.1\r\ncontent-length: 12\r\n\r\n");
        assert_eq!(f, BodyFraming::Length(12));
        let req = Request::post("/up")
            .header("content-length", "5")
            .body(())
            .unwrap();
        let (s, f) = encode(req, false, None);
        assert_eq!(s, "POST /up HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n");
        assert_eq!(f, BodyFraming::Chunked);
    }

    #[test]
    fn connect_uses_the_authority_form() {
        let (s, _) = encode(
            Request::connect("example.com:443").body(()).unwrap(),
            true,
            Some(0),
        );
        assert_eq!(s, "CONNECT example.com:443 HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn trailers_skip_framing_fields() {
        let mut t = HeaderMap::new();
        t.insert("x-checksum", "abc".parse().unwrap());
        t.insert("content-length", "1".parse().unwrap());
        assert_eq!(
            &last_chunk_with_trailers(&t)[..],
            b"0\r\nx-checksum: abc\r\n\r\n"
        );
        assert_eq!(&chunk_size_line(255)[..], b"ff\r\n");
    }
}

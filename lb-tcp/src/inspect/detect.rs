//! Fixed-shape openings: the HTTP/2 connection preface and the SSH identification string.

use super::Parse;

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The longest SSH identification string, line ending included (RFC 4253 §4.2).
pub const MAX_SSH_BANNER_LEN: usize = 255;

/// Checks for the HTTP/2 connection preface at the start of `buf`.
///
/// [`Parse::Incomplete`] while `buf` is a proper prefix of [`HTTP2_PREFACE`]; bytes after
/// the preface (the client's SETTINGS frame) are ignored.
///
/// # Examples
///
/// ```
/// use lb_tcp::inspect::{is_http2_preface, Parse, HTTP2_PREFACE};
///
/// assert_eq!(is_http2_preface(HTTP2_PREFACE), Parse::Complete(()));
/// assert_eq!(is_http2_preface(b"PRI * HTTP/2"), Parse::Incomplete);
/// assert_eq!(is_http2_preface(b"GET / HTTP/1.1\r\n"), Parse::Invalid);
/// ```
pub fn is_http2_preface(buf: &[u8]) -> Parse<()> {
    let n = buf.len().min(HTTP2_PREFACE.len());
    if buf[..n] != HTTP2_PREFACE[..n] {
        Parse::Invalid
    } else if n < HTTP2_PREFACE.len() {
        Parse::Incomplete
    } else {
        Parse::Complete(())
    }
}

/// Parses an SSH identification string, `SSH-protoversion-softwareversion [comments]`,
/// ended by CRLF or a bare LF, at the start of `buf` (RFC 4253 §4.2).
///
/// Returns the line without its ending. Only printable ASCII and spaces are accepted, the
/// line must fit in [`MAX_SSH_BANNER_LEN`] bytes with its ending, and both the protocol
/// and the software version must be present. Clients speak first in SSH too, so this
/// is what a client's first line looks like; a server may send other lines before its
/// banner, but inspection only reads the client.
///
/// # Examples
///
/// ```
/// use lb_tcp::inspect::{parse_ssh_banner, Parse};
///
/// let banner = parse_ssh_banner(b"SSH-2.0-OpenSSH_9.6 Ubuntu\r\n");
/// assert_eq!(banner, Parse::Complete("SSH-2.0-OpenSSH_9.6 Ubuntu".to_owned()));
/// assert_eq!(parse_ssh_banner(b"SSH-2.0-Open"), Parse::Incomplete);
/// assert_eq!(parse_ssh_banner(b"HTTP/1.1"), Parse::Invalid);
/// ```
pub fn parse_ssh_banner(buf: &[u8]) -> Parse<String> {
    const PREFIX: &[u8] = b"SSH-";
    let n = buf.len().min(PREFIX.len());
    if buf[..n] != PREFIX[..n] {
        return Parse::Invalid;
    }
    let window = buf.get(..MAX_SSH_BANNER_LEN).unwrap_or(buf);
    for (i, &b) in window.iter().enumerate().skip(PREFIX.len()) {
        match b {
            b'\n' => return banner(&buf[..i]),
            b'\r' => {
                return match window.get(i + 1) {
                    Some(b'\n') => banner(&buf[..i]),
                    Some(_) => Parse::Invalid,
                    // The LF would be byte 256.
                    None if window.len() == MAX_SSH_BANNER_LEN => Parse::Invalid,
                    None => Parse::Incomplete,
                };
            }
            b' '..=b'~' => {}
            _ => return Parse::Invalid,
        }
    }
    if window.len() == MAX_SSH_BANNER_LEN {
        Parse::Invalid
    } else {
        Parse::Incomplete
    }
}

/// Checks the shape of a whole line: "SSH-" protoversion "-" softwareversion.
fn banner(line: &[u8]) -> Parse<String> {
    let after = line.get(4..).unwrap_or_default();
    let Some(dash) = after.iter().position(|&b| b == b'-') else {
        return Parse::Invalid;
    };
    let (proto, software) = (&after[..dash], &after[dash + 1..]);
    let software = software.split(|&b| b == b' ').next().unwrap_or_default();
    if proto.is_empty() || proto.contains(&b' ') || software.is_empty() {
        return Parse::Invalid;
    }
    // Printable ASCII, checked by the caller.
    Parse::Complete(line.iter().copied().map(char::from).collect())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn http2_preface() {
        assert_eq!(is_http2_preface(HTTP2_PREFACE), Parse::Complete(()));
        let mut with_settings = HTTP2_PREFACE.to_vec();
        with_settings.extend([0, 0, 0, 4, 0, 0, 0, 0, 0]);
        assert_eq!(is_http2_preface(&with_settings), Parse::Complete(()));
        for len in 0..HTTP2_PREFACE.len() {
            assert_eq!(is_http2_preface(&HTTP2_PREFACE[..len]), Parse::Incomplete);
        }
        assert_eq!(is_http2_preface(b"PRI * HTTP/1.1\r\n"), Parse::Invalid);
        assert_eq!(is_http2_preface(b"GET"), Parse::Invalid);
        assert_eq!(is_http2_preface(&[0x16, 3, 1]), Parse::Invalid);
    }

    fn complete(buf: &[u8]) -> String {
        match parse_ssh_banner(buf) {
            Parse::Complete(line) => line,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn ssh_banners() {
        assert_eq!(complete(b"SSH-2.0-OpenSSH_9.6\r\n"), "SSH-2.0-OpenSSH_9.6");
        assert_eq!(
            complete(b"SSH-2.0-PuTTY_Release_0.80\n"),
            "SSH-2.0-PuTTY_Release_0.80"
        );
        assert_eq!(complete(b"SSH-1.99-Cisco-1.25\r\n"), "SSH-1.99-Cisco-1.25");
        let with_kexinit = b"SSH-2.0-libssh2_1.11.0 comment\r\n\x00\x00\x05\xdc\x0a\x14";
        assert_eq!(complete(with_kexinit), "SSH-2.0-libssh2_1.11.0 comment");
    }

    #[test]
    fn ssh_prefixes_are_incomplete() {
        let line = b"SSH-2.0-OpenSSH_9.6\r\n";
        for len in 0..line.len() {
            assert_eq!(
                parse_ssh_banner(&line[..len]),
                Parse::Incomplete,
                "len {len}"
            );
        }
    }

    #[test]
    fn ssh_invalid() {
        for bad in [
            &b"SSH-2.0-Open\x00SSH\r\n"[..],
            b"SSH-2.0-Open\tSSH\r\n",
            b"SSH-2.0-OpenSSH\rX",
            b"SSH-2.0\r\n",
            b"SSH-2.0-\r\n",
            b"SSH--OpenSSH\r\n",
            b"SSH-2 0-OpenSSH\r\n",
            b"SSH-2.0- comment\r\n",
            b"ssh-2.0-OpenSSH\r\n",
            b"GET / HTTP/1.1\r\n",
            b"\x16\x03\x01",
        ] {
            assert_eq!(
                parse_ssh_banner(bad),
                Parse::Invalid,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn ssh_length_limit() {
        let line = |len: usize, ending: &[u8]| {
            let mut line = b"SSH-2.0-".to_vec();
            line.resize(len - ending.len(), b'x');
            line.extend(ending);
            line
        };
        let longest = line(MAX_SSH_BANNER_LEN, b"\r\n");
        assert_eq!(complete(&longest).len(), MAX_SSH_BANNER_LEN - 2);
        assert_eq!(
            complete(&line(MAX_SSH_BANNER_LEN, b"\n")).len(),
            MAX_SSH_BANNER_LEN - 1
        );
        let too_long = line(MAX_SSH_BANNER_LEN + 1, b"\r\n");
        assert_eq!(parse_ssh_banner(&too_long), Parse::Invalid);
        assert_eq!(
            parse_ssh_banner(&too_long[..MAX_SSH_BANNER_LEN]),
            Parse::Invalid
        );
        assert_eq!(
            parse_ssh_banner(&too_long[..MAX_SSH_BANNER_LEN - 1]),
            Parse::Incomplete
        );
        assert_eq!(
            parse_ssh_banner(&line(MAX_SSH_BANNER_LEN + 1, b"\n")),
            Parse::Invalid
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = is_http2_preface(&bytes);
            let _ = parse_ssh_banner(&bytes);
        }

        #[test]
        fn ssh_never_panics_after_the_prefix(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = b"SSH-".to_vec();
            bytes.extend(tail);
            if let Parse::Complete(line) = parse_ssh_banner(&bytes) {
                prop_assert!(line.len() < MAX_SSH_BANNER_LEN);
                prop_assert!(bytes.starts_with(line.as_bytes()));
            }
        }
    }
}

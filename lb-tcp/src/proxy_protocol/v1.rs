//! PROXY protocol v1: one text line.
//!
//! ```text
//! PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n
//! PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n
//! PROXY UNKNOWN\r\n
//! ```

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::BytesMut;

use super::{Addresses, Command, Parsed, ProxyHeader, ProxyProtocolError, Transport, Version};

/// What every v1 line starts with.
pub(super) const PREFIX: &[u8] = b"PROXY";
/// The longest line, CRLF included.
pub(super) const MAX_LEN: usize = 107;
/// The shortest line, `PROXY UNKNOWN\r\n`.
pub(super) const MIN_LEN: usize = 15;

/// Parses a v1 line at the start of `buf`, which begins with [`PREFIX`] (or a prefix of it).
pub(super) fn parse(buf: &[u8]) -> Result<Parsed, ProxyProtocolError> {
    let window = &buf[..buf.len().min(MAX_LEN)];
    let Some(end) = window.iter().position(|&b| b == b'\r' || b == b'\n') else {
        if buf.len() >= MAX_LEN {
            return Err(ProxyProtocolError::V1LineTooLong);
        }
        let needed = MIN_LEN.checked_sub(buf.len()).filter(|&n| n > 0);
        return Ok(Parsed::Incomplete { needed });
    };
    if end + 2 > MAX_LEN {
        return Err(ProxyProtocolError::V1LineTooLong);
    }
    match buf[end..] {
        [b'\r'] => return Ok(Parsed::Incomplete { needed: Some(1) }),
        [b'\r', b'\n', ..] => {}
        _ => return Err(malformed("bare CR or LF")),
    }
    let header = parse_line(&buf[..end])?;
    Ok(Parsed::Complete {
        header,
        consumed: end + 2,
    })
}

/// Parses a line without its CRLF.
fn parse_line(line: &[u8]) -> Result<ProxyHeader, ProxyProtocolError> {
    let rest = line
        .strip_prefix(b"PROXY ")
        .ok_or(malformed("expected a single space after PROXY"))?;
    let (protocol, rest) = match rest.iter().position(|&b| b == b' ') {
        Some(space) => (&rest[..space], Some(&rest[space + 1..])),
        None => (rest, None),
    };
    let (transport, addresses) = match protocol {
        // The receiver ignores whatever follows UNKNOWN and uses the real endpoints.
        b"UNKNOWN" => (Transport::Unspec, Addresses::Unspec),
        b"TCP4" => (Transport::Stream, parse_inet(rest, Family::V4)?),
        b"TCP6" => (Transport::Stream, parse_inet(rest, Family::V6)?),
        _ => return Err(malformed("protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    Ok(ProxyHeader {
        version: Version::V1,
        command: Command::Proxy,
        transport,
        addresses,
        tlvs: Default::default(),
    })
}

/// The address family a TCP4 or TCP6 line announces.
#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

/// Parses `src dst sport dport`, separated by exactly one space each.
fn parse_inet(fields: Option<&[u8]>, family: Family) -> Result<Addresses, ProxyProtocolError> {
    const SHAPE: &str = "expected 4 fields after the protocol, separated by single spaces";
    let mut fields = fields.ok_or(malformed(SHAPE))?.split(|&b| b == b' ');
    let mut next = || {
        fields
            .next()
            .filter(|f| !f.is_empty())
            .ok_or(malformed(SHAPE))
    };
    let (src, dst, sport, dport) = (next()?, next()?, next()?, next()?);
    if fields.next().is_some() {
        return Err(malformed(SHAPE));
    }
    let src = SocketAddr::new(parse_ip(src, family)?, parse_port(sport)?);
    let dst = SocketAddr::new(parse_ip(dst, family)?, parse_port(dport)?);
    Ok(Addresses::Inet { src, dst })
}

/// Parses an address of `family`; std's parsers already reject leading zeros in IPv4 octets.
fn parse_ip(field: &[u8], family: Family) -> Result<IpAddr, ProxyProtocolError> {
    let text = std::str::from_utf8(field).map_err(|_| malformed("address is not ASCII"))?;
    match family {
        Family::V4 => text.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| {
            if text.parse::<Ipv6Addr>().is_ok() {
                malformed("IPv6 address in a TCP4 line")
            } else {
                malformed("invalid IPv4 address")
            }
        }),
        Family::V6 => text.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| {
            if text.parse::<Ipv4Addr>().is_ok() {
                malformed("IPv4 address in a TCP6 line")
            } else {
                malformed("invalid IPv6 address")
            }
        }),
    }
}

/// Parses a port: 1 to 5 decimal digits, no leading zero, at most 65535.
fn parse_port(field: &[u8]) -> Result<u16, ProxyProtocolError> {
    let digits = (1..=5).contains(&field.len())
        && field.iter().all(u8::is_ascii_digit)
        && (field.len() == 1 || field.first() != Some(&b'0'));
    if !digits {
        return Err(malformed("invalid port"));
    }
    // At most five digits: no overflow.
    let value = field
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(value).map_err(|_| malformed("port above 65535"))
}

fn malformed(reason: &'static str) -> ProxyProtocolError {
    ProxyProtocolError::V1Malformed { reason }
}

/// Appends `header` as a v1 line.
///
/// v1 carries only TCP over IPv4 or IPv6: anything else (LOCAL, datagrams, UNIX sockets,
/// unspecified addresses) is written as `PROXY UNKNOWN`, as the spec prescribes. TLVs do not
/// exist in v1 and are not written. Mixed IPv4/IPv6 pairs are written as TCP6, the IPv4
/// side mapped (`::ffff:a.b.c.d`).
pub(super) fn encode(header: &ProxyHeader, out: &mut BytesMut) {
    let inet = match (&header.command, &header.transport, &header.addresses) {
        (Command::Proxy, Transport::Stream, Addresses::Inet { src, dst }) => Some((src, dst)),
        _ => None,
    };
    let Some((src, dst)) = inet else {
        out.extend_from_slice(b"PROXY UNKNOWN\r\n");
        return;
    };
    out.reserve(MAX_LEN);
    let written = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => write!(out, "PROXY TCP4 {s} {d}"),
        (s, d) => write!(out, "PROXY TCP6 {} {}", to_v6(s), to_v6(d)),
    }
    .and_then(|()| write!(out, " {} {}\r\n", src.port(), dst.port()));
    written.expect("fmt::Write for BytesMut grows the buffer and never fails");
}

/// `ip` as IPv6, IPv4 addresses mapped.
fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn complete(line: &[u8]) -> (ProxyHeader, usize) {
        match parse(line) {
            Ok(Parsed::Complete { header, consumed }) => (header, consumed),
            other => panic!("{:?}: expected a complete header, got {other:?}", line),
        }
    }

    fn rejected(line: &[u8]) -> ProxyProtocolError {
        match parse(line) {
            Err(e) => e,
            other => panic!("{:?}: expected an error, got {other:?}", line),
        }
    }

    #[test]
    fn tcp4() {
        let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
        let (header, consumed) = complete(line);
        assert_eq!(consumed, line.len());
        assert_eq!(
            header,
            ProxyHeader::v1(
                "192.0.2.1:56324".parse().unwrap(),
                "198.51.100.2:443".parse().unwrap()
            )
        );
        assert_eq!(header.transport, Transport::Stream);
    }

    #[test]
    fn tcp6() {
        let line = b"PROXY TCP6 2001:db8::1 ::ffff:192.0.2.1 0 65535\r\n";
        let (header, _) = complete(line);
        assert_eq!(
            header.addresses,
            Addresses::Inet {
                src: "[2001:db8::1]:0".parse().unwrap(),
                dst: "[::ffff:192.0.2.1]:65535".parse().unwrap(),
            }
        );
    }

    #[test]
    fn unknown_with_and_without_rest() {
        for line in [
            &b"PROXY UNKNOWN\r\n"[..],
            b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
            b"PROXY UNKNOWN \x01 anything\r\n",
        ] {
            let (header, consumed) = complete(line);
            assert_eq!(consumed, line.len());
            assert_eq!(header.version, Version::V1);
            assert_eq!(header.command, Command::Proxy);
            assert_eq!(header.transport, Transport::Unspec);
            assert_eq!(header.addresses, Addresses::Unspec);
        }
    }

    #[test]
    fn worst_case_lengths_accepted() {
        let tcp4 = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
        assert_eq!(tcp4.len(), 56);
        assert_eq!(complete(tcp4).1, 56);

        let tcp6 = b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \
                     ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
        assert_eq!(tcp6.len(), 104);
        assert_eq!(complete(tcp6).1, 104);

        let mut unknown = b"PROXY UNKNOWN ".to_vec();
        unknown.resize(105, b'x');
        unknown.extend_from_slice(b"\r\n");
        assert_eq!(unknown.len(), 107);
        assert_eq!(complete(&unknown).1, 107);
    }

    #[test]
    fn longer_than_107_rejected() {
        let mut line = b"PROXY UNKNOWN ".to_vec();
        line.resize(106, b'x');
        line.extend_from_slice(b"\r\n");
        assert_eq!(line.len(), 108);
        assert!(matches!(rejected(&line), ProxyProtocolError::V1LineTooLong));
        // Without any CRLF, the verdict comes as soon as 107 bytes are in.
        assert!(matches!(
            rejected(&line[..107]),
            ProxyProtocolError::V1LineTooLong
        ));
        assert_eq!(
            parse(&line[..106]).unwrap(),
            Parsed::Incomplete { needed: None }
        );
    }

    #[test]
    fn leading_zeros_rejected() {
        for line in [
            &b"PROXY TCP4 192.0.2.01 198.51.100.2 56324 443\r\n"[..],
            b"PROXY TCP4 192.0.2.1 198.051.100.2 56324 443\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 056324 443\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 0443\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 00\r\n",
        ] {
            assert!(matches!(
                rejected(line),
                ProxyProtocolError::V1Malformed { .. }
            ));
        }
    }

    #[test]
    fn malformed_lines_rejected() {
        for line in [
            // Spacing: exactly one space between fields, none at the end.
            &b"PROXY  TCP4 192.0.2.1 198.51.100.2 1 2\r\n"[..],
            b"PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1  2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n",
            b"PROXY TCP4 192.0.2.1\t198.51.100.2 1 2\r\n",
            b"PROXY\r\n",
            b"PROXYTCP4 192.0.2.1 198.51.100.2 1 2\r\n",
            // Field count.
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n",
            b"PROXY TCP4\r\n",
            // Protocol.
            b"PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n",
            b"PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n",
            b"PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
            b"PROXY UNKNOWNX\r\n",
            // Address family must match the protocol.
            b"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
            b"PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n",
            b"PROXY TCP6 2001:db8::1 2001:db8::2%eth0 1 2\r\n",
            b"PROXY TCP4 256.0.2.1 198.51.100.2 1 2\r\n",
            b"PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n",
            // Ports.
            b"PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 999999 2\r\n",
            // Line endings.
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX",
            b"PROXY UNKNOWN\n\r\n",
            b"PROXY UNKNOWN x\ry\r\n",
        ] {
            let err = rejected(line);
            assert!(
                matches!(err, ProxyProtocolError::V1Malformed { .. }),
                "{:?}: {err}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn trailing_payload_is_not_consumed() {
        let input = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n\r\n";
        let (_, consumed) = complete(input);
        assert_eq!(&input[consumed..], b"GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn partial_lines_are_incomplete() {
        let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
        for cut in 0..line.len() {
            match parse(&line[..cut]).unwrap() {
                Parsed::Incomplete { needed } => {
                    if let Some(n) = needed {
                        assert!(n <= line.len() - cut, "{cut}");
                    }
                }
                other => panic!("{cut}: {other:?}"),
            }
        }
        assert_eq!(
            parse(b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r").unwrap(),
            Parsed::Incomplete { needed: Some(1) }
        );
    }

    #[test]
    fn encode_tcp4_tcp6_unknown() {
        let mut out = BytesMut::new();
        let v4 = ProxyHeader::v1(
            "192.0.2.1:56324".parse().unwrap(),
            "198.51.100.2:443".parse().unwrap(),
        );
        v4.encode(&mut out).unwrap();
        assert_eq!(&out[..], b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n");

        out.clear();
        let v6 = ProxyHeader::v1(
            "[2001:db8::1]:1".parse().unwrap(),
            "[2001:db8::2]:2".parse().unwrap(),
        );
        v6.encode(&mut out).unwrap();
        assert_eq!(&out[..], b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n");

        out.clear();
        let mixed = ProxyHeader::v1(
            "192.0.2.1:1".parse().unwrap(),
            "[2001:db8::2]:2".parse().unwrap(),
        );
        mixed.encode(&mut out).unwrap();
        assert_eq!(&out[..], b"PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1 2\r\n");

        out.clear();
        let mut unix = ProxyHeader::v2(
            "192.0.2.1:1".parse().unwrap(),
            "192.0.2.2:2".parse().unwrap(),
        );
        unix.version = Version::V1;
        unix.addresses = Addresses::Unix {
            src: b"/a".to_vec(),
            dst: b"/b".to_vec(),
        };
        unix.encode(&mut out).unwrap();
        assert_eq!(&out[..], b"PROXY UNKNOWN\r\n");
    }
}

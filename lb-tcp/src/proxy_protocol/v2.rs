//! PROXY protocol v2: a 16-byte binary preamble, an address block and TLVs.
//!
//! ```text
//! offset  0  signature  0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
//!        12  version (high nibble, 2) | command (low: 0 LOCAL, 1 PROXY)
//!        13  family (high: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX)
//!            | transport (low: 0 UNSPEC, 1 STREAM, 2 DGRAM)
//!        14  len (big-endian): how many bytes follow
//!        16  address block (0, 12, 36 or 216 bytes), then TLVs, up to 16 + len
//! ```

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, BytesMut};

use super::crc32c::crc32c;
use super::{tlv, Addresses, Command, Parsed, ProxyHeader, ProxyProtocolError, Transport, Version};

/// The 12 bytes every v2 header starts with.
pub(super) const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Signature, version/command, family/transport and length.
pub(super) const HEADER_LEN: usize = 16;
/// The largest header: the fixed part plus a 16-bit length.
pub(super) const MAX_LEN: usize = HEADER_LEN + u16::MAX as usize;
/// Size of one `sun_path` in a UNIX address block.
const UNIX_PATH_LEN: usize = 108;

const VERSION_2: u8 = 0x2;
const LOCAL: u8 = 0x0;
const PROXY: u8 = 0x1;
const AF_UNSPEC: u8 = 0x0;
const AF_INET: u8 = 0x1;
const AF_INET6: u8 = 0x2;
const AF_UNIX: u8 = 0x3;
const UNSPEC: u8 = 0x0;
const STREAM: u8 = 0x1;
const DGRAM: u8 = 0x2;

/// Parses a v2 header at the start of `buf`, which begins with [`SIGNATURE`] (or a prefix).
pub(super) fn parse(buf: &[u8]) -> Result<Parsed, ProxyProtocolError> {
    let Some((fixed, _)) = buf.split_first_chunk::<HEADER_LEN>() else {
        return Ok(Parsed::Incomplete {
            needed: Some(HEADER_LEN - buf.len()),
        });
    };
    let [sig @ .., ver_cmd, fam, len_hi, len_lo] = *fixed;
    if sig != SIGNATURE {
        return Err(ProxyProtocolError::BadSignature);
    }
    let version = ver_cmd >> 4;
    if version != VERSION_2 {
        return Err(ProxyProtocolError::UnsupportedVersion { version });
    }
    let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
    let total = HEADER_LEN + len;
    let command = match ver_cmd & 0x0F {
        LOCAL => Command::Local,
        PROXY => Command::Proxy,
        command => return Err(ProxyProtocolError::UnsupportedCommand { command }),
    };
    // LOCAL ignores the family: validate it only for PROXY, and before waiting for the body.
    let family = match command {
        Command::Local => None,
        Command::Proxy => {
            let family = Family::from_byte(fam)?;
            let needed = family.address_len();
            if len < needed {
                return Err(ProxyProtocolError::TruncatedAddresses { len, needed });
            }
            Some(family)
        }
    };
    let Some(header) = buf.get(..total) else {
        return Ok(Parsed::Incomplete {
            needed: Some(total - buf.len()),
        });
    };
    let header = match family {
        // The receiver discards the whole block of a LOCAL header, whatever its family.
        None => ProxyHeader::local(),
        Some(family) => {
            let block = &header[HEADER_LEN..];
            ProxyHeader {
                version: Version::V2,
                command: Command::Proxy,
                transport: family.transport,
                addresses: family.parse_addresses(block)?,
                tlvs: tlv::parse(header, HEADER_LEN + family.address_len())?,
            }
        }
    };
    Ok(Parsed::Complete {
        header,
        consumed: total,
    })
}

/// A valid family/transport byte, decoded.
#[derive(Clone, Copy)]
struct Family {
    af: u8,
    transport: Transport,
}

impl Family {
    /// Accepts exactly the spec's seven values: 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32.
    fn from_byte(byte: u8) -> Result<Self, ProxyProtocolError> {
        let af = byte >> 4;
        let transport = match (af, byte & 0x0F) {
            (AF_UNSPEC, UNSPEC) => Transport::Unspec,
            (AF_INET | AF_INET6 | AF_UNIX, STREAM) => Transport::Stream,
            (AF_INET | AF_INET6 | AF_UNIX, DGRAM) => Transport::Datagram,
            _ => return Err(ProxyProtocolError::BadFamily { byte }),
        };
        Ok(Self { af, transport })
    }

    /// The size of the address block this family requires.
    fn address_len(self) -> usize {
        match self.af {
            AF_INET => 4 + 4 + 2 + 2,
            AF_INET6 => 16 + 16 + 2 + 2,
            AF_UNIX => UNIX_PATH_LEN * 2,
            _ => 0,
        }
    }

    /// Decodes the address block at the start of `block` (already checked to be long enough).
    fn parse_addresses(self, block: &[u8]) -> Result<Addresses, ProxyProtocolError> {
        let mut cursor = block;
        let addresses = match self.af {
            AF_INET => inet4(&mut cursor),
            AF_INET6 => inet6(&mut cursor),
            AF_UNIX => unix(&mut cursor),
            _ => Some(Addresses::Unspec),
        };
        addresses.ok_or(ProxyProtocolError::TruncatedAddresses {
            len: block.len(),
            needed: self.address_len(),
        })
    }
}

/// Decodes an IPv4 block: `src(4) dst(4) sport(2) dport(2)`.
fn inet4(cursor: &mut &[u8]) -> Option<Addresses> {
    let (src, dst) = (take::<4>(cursor)?, take::<4>(cursor)?);
    let (sport, dport) = (take::<2>(cursor)?, take::<2>(cursor)?);
    Some(Addresses::Inet {
        src: SocketAddr::new(IpAddr::from(src), u16::from_be_bytes(sport)),
        dst: SocketAddr::new(IpAddr::from(dst), u16::from_be_bytes(dport)),
    })
}

/// Decodes an IPv6 block: `src(16) dst(16) sport(2) dport(2)`.
fn inet6(cursor: &mut &[u8]) -> Option<Addresses> {
    let (src, dst) = (take::<16>(cursor)?, take::<16>(cursor)?);
    let (sport, dport) = (take::<2>(cursor)?, take::<2>(cursor)?);
    Some(Addresses::Inet {
        src: SocketAddr::new(IpAddr::from(src), u16::from_be_bytes(sport)),
        dst: SocketAddr::new(IpAddr::from(dst), u16::from_be_bytes(dport)),
    })
}

/// Decodes two `sun_path`s.
fn unix(cursor: &mut &[u8]) -> Option<Addresses> {
    let src = take::<UNIX_PATH_LEN>(cursor)?;
    let dst = take::<UNIX_PATH_LEN>(cursor)?;
    Some(Addresses::Unix {
        src: trim_nuls(&src).to_vec(),
        dst: trim_nuls(&dst).to_vec(),
    })
}

/// Splits the first `N` bytes off `cursor`.
fn take<const N: usize>(cursor: &mut &[u8]) -> Option<[u8; N]> {
    let (head, tail) = cursor.split_first_chunk::<N>()?;
    *cursor = tail;
    Some(*head)
}

/// A `sun_path` without its NUL padding. An abstract socket's leading NUL is kept.
fn trim_nuls(path: &[u8]) -> &[u8] {
    let end = path
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    &path[..end]
}

/// Appends `header` as v2; on error `out` is left as it was.
pub(super) fn encode(header: &ProxyHeader, out: &mut BytesMut) -> Result<(), ProxyProtocolError> {
    let start = out.len();
    let result = encode_at(header, out, start);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode_at(
    header: &ProxyHeader,
    out: &mut BytesMut,
    start: usize,
) -> Result<(), ProxyProtocolError> {
    let command = match header.command {
        Command::Local => LOCAL,
        Command::Proxy => PROXY,
    };
    let transport = match header.transport {
        Transport::Unspec => UNSPEC,
        Transport::Stream => STREAM,
        Transport::Datagram => DGRAM,
    };
    // IPv4 only when both ends are: a mixed pair goes as IPv6, the IPv4 end mapped.
    let af = match &header.addresses {
        Addresses::Unspec => AF_UNSPEC,
        Addresses::Inet { src, dst } if src.is_ipv4() && dst.is_ipv4() => AF_INET,
        Addresses::Inet { .. } => AF_INET6,
        Addresses::Unix { .. } => AF_UNIX,
    };
    let fam = (af << 4) | transport;
    let family = Family::from_byte(fam).map_err(|_| ProxyProtocolError::Unencodable {
        reason: "addresses and transport must be both unspecified or both specified",
    })?;

    out.reserve(HEADER_LEN + family.address_len());
    out.put_slice(&SIGNATURE);
    out.put_u8((VERSION_2 << 4) | command);
    out.put_u8(fam);
    out.put_u16(0); // patched below
    match &header.addresses {
        Addresses::Unspec => {}
        Addresses::Inet { src, dst } => {
            match (src.ip(), dst.ip()) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    out.put_slice(&s.octets());
                    out.put_slice(&d.octets());
                }
                (s, d) => {
                    out.put_slice(&to_v6(s).octets());
                    out.put_slice(&to_v6(d).octets());
                }
            }
            out.put_u16(src.port());
            out.put_u16(dst.port());
        }
        Addresses::Unix { src, dst } => {
            for path in [src, dst] {
                if path.len() > UNIX_PATH_LEN {
                    return Err(ProxyProtocolError::Unencodable {
                        reason: "UNIX socket path longer than 108 bytes",
                    });
                }
                out.put_slice(path);
                out.put_bytes(0, UNIX_PATH_LEN - path.len());
            }
        }
    }
    let crc_at = tlv::encode(&header.tlvs, out)?;

    let len = out.len() - start - HEADER_LEN;
    let len16 = u16::try_from(len).map_err(|_| ProxyProtocolError::HeaderTooLong { len })?;
    out[start + 14..start + HEADER_LEN].copy_from_slice(&len16.to_be_bytes());
    if let Some(at) = crc_at {
        let crc = crc32c(&out[start..]);
        out[at..at + 4].copy_from_slice(&crc.to_be_bytes());
    }
    Ok(())
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
    use super::super::{parse, SslClient, Tlvs};
    use super::*;

    /// Signature, then `ver_cmd`, `fam`, the big-endian length of `body`, then `body`.
    fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&[ver_cmd, fam]);
        out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// The IPv4 block for 192.0.2.1:56324 -> 198.51.100.2:443.
    const INET4: [u8; 12] = [192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB];

    fn complete(buf: &[u8]) -> (ProxyHeader, usize) {
        match parse(buf) {
            Ok(Parsed::Complete { header, consumed }) => (header, consumed),
            other => panic!("expected a complete header, got {other:?}"),
        }
    }

    fn rejected(buf: &[u8]) -> ProxyProtocolError {
        match parse(buf) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn with_tlvs(tlvs: &[u8]) -> Vec<u8> {
        v2(0x21, 0x11, &[&INET4[..], tlvs].concat())
    }

    #[test]
    fn ipv4_stream() {
        let buf = v2(0x21, 0x11, &INET4);
        let (header, consumed) = complete(&buf);
        assert_eq!(consumed, 28);
        assert_eq!(
            header,
            ProxyHeader::v2(
                "192.0.2.1:56324".parse().unwrap(),
                "198.51.100.2:443".parse().unwrap()
            )
        );
    }

    #[test]
    fn ipv4_datagram() {
        let (header, _) = complete(&v2(0x21, 0x12, &INET4));
        assert_eq!(header.transport, Transport::Datagram);
    }

    #[test]
    fn ipv6() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let body = [&src.octets()[..], &dst.octets(), &[0, 1, 0xFF, 0xFF]].concat();
        let (header, consumed) = complete(&v2(0x21, 0x21, &body));
        assert_eq!(consumed, 16 + 36);
        assert_eq!(
            header.addresses,
            Addresses::Inet {
                src: "[2001:db8::1]:1".parse().unwrap(),
                dst: "[2001:db8::2]:65535".parse().unwrap(),
            }
        );
        assert_eq!(header.transport, Transport::Stream);
    }

    #[test]
    fn unix() {
        let mut body = vec![0; 216];
        body[..15].copy_from_slice(b"/var/run/a.sock");
        body[108..110].copy_from_slice(b"\0x"); // an abstract socket
        let (header, consumed) = complete(&v2(0x21, 0x32, &body));
        assert_eq!(consumed, 16 + 216);
        assert_eq!(header.transport, Transport::Datagram);
        assert_eq!(
            header.addresses,
            Addresses::Unix {
                src: b"/var/run/a.sock".to_vec(),
                dst: b"\0x".to_vec(),
            }
        );
    }

    #[test]
    fn local_skips_its_block_whatever_the_family() {
        let (header, consumed) = complete(&v2(0x20, 0x00, &[]));
        assert_eq!((header, consumed), (ProxyHeader::local(), 16));
        // Family, addresses and TLVs of a LOCAL header are ignored, even invalid ones.
        let (header, consumed) = complete(&v2(0x20, 0xFF, &[0xAA; 5]));
        assert_eq!((header, consumed), (ProxyHeader::local(), 21));
        // A wrong CRC32C in a LOCAL header goes unchecked, as the block is not parsed.
        let mut buf = with_tlvs(&[0x03, 0, 4, 1, 2, 3, 4]);
        buf[12] = 0x20;
        assert_eq!(complete(&buf).0, ProxyHeader::local());
    }

    #[test]
    fn unspec_proxy() {
        let (header, consumed) = complete(&v2(0x21, 0x00, &[]));
        assert_eq!(consumed, 16);
        assert_eq!(header.command, Command::Proxy);
        assert_eq!(header.transport, Transport::Unspec);
        assert_eq!(header.addresses, Addresses::Unspec);
        assert_eq!(header.source(), None);
        // UNSPEC has no address block: TLVs start right away.
        let (header, _) = complete(&v2(0x21, 0x00, &[0xE0, 0, 1, 7]));
        assert_eq!(header.tlvs.other, vec![(0xE0, vec![7])]);
    }

    #[test]
    fn trailing_payload_preserved() {
        let mut buf = v2(0x21, 0x11, &INET4);
        buf.extend_from_slice(b"\x16\x03\x01 payload");
        let (_, consumed) = complete(&buf);
        assert_eq!(&buf[consumed..], b"\x16\x03\x01 payload");
    }

    #[test]
    fn partial_headers_are_incomplete_with_exact_needs() {
        let buf = with_tlvs(&[0xE0, 0, 3, 1, 2, 3]);
        for cut in 0..buf.len() {
            let needed = match parse(&buf[..cut]) {
                Ok(Parsed::Incomplete { needed: Some(n) }) => n,
                other => panic!("{cut}: {other:?}"),
            };
            let expected = match cut {
                // Nothing yet: the shortest header of either version is a 15-byte v1 line.
                0 => 15,
                1..HEADER_LEN => HEADER_LEN - cut,
                _ => buf.len() - cut,
            };
            assert_eq!(needed, expected, "{cut}");
        }
    }

    #[test]
    fn bad_preamble_rejected() {
        assert!(matches!(
            rejected(&v2(0x11, 0x11, &INET4)),
            ProxyProtocolError::UnsupportedVersion { version: 1 }
        ));
        assert!(matches!(
            rejected(&v2(0x31, 0x11, &INET4)),
            ProxyProtocolError::UnsupportedVersion { version: 3 }
        ));
        assert!(matches!(
            rejected(&v2(0x22, 0x11, &INET4)),
            ProxyProtocolError::UnsupportedCommand { command: 2 }
        ));
        for fam in [0x01, 0x02, 0x10, 0x13, 0x20, 0x30, 0x41, 0x11 | 0x04, 0xFF] {
            assert!(
                matches!(rejected(&v2(0x21, fam, &[0; 216])), ProxyProtocolError::BadFamily { byte } if byte == fam),
                "{fam:#x}"
            );
        }
        let mut bad_sig = v2(0x21, 0x11, &INET4);
        bad_sig[11] = b'X';
        assert!(matches!(
            rejected(&bad_sig),
            ProxyProtocolError::BadSignature
        ));
        // A signature prefix that goes wrong is rejected before 16 bytes are in.
        assert!(matches!(
            rejected(b"\r\n\r\n\0\r\nQUIX"),
            ProxyProtocolError::BadSignature
        ));
    }

    #[test]
    fn short_address_blocks_rejected_early() {
        for (fam, needed) in [(0x11, 12), (0x21, 36), (0x31, 216)] {
            let mut buf = v2(0x21, fam, &[]);
            buf[14..16].copy_from_slice(&u16::try_from(needed - 1).unwrap().to_be_bytes());
            // Only the 16-byte preamble is in: the verdict does not wait for the body.
            assert!(matches!(
                rejected(&buf),
                ProxyProtocolError::TruncatedAddresses { len, needed: n } if len == needed - 1 && n == needed
            ));
        }
    }

    #[test]
    fn tlv_overrun_rejected() {
        // A TLV claiming 5 bytes where 4 remain, even though payload bytes follow.
        let mut buf = with_tlvs(&[0xE0, 0, 5, 1, 2, 3, 4]);
        buf.extend_from_slice(b"payload");
        assert!(matches!(
            rejected(&buf),
            ProxyProtocolError::TlvOverrun { kind: 0xE0 }
        ));
        // Too few bytes left for a TLV's type and length.
        for tail in [&[0xE1][..], &[0xE1, 0]] {
            assert!(matches!(
                rejected(&with_tlvs(tail)),
                ProxyProtocolError::TlvOverrun { kind: 0xE1 }
            ));
        }
        // An SSL sub-TLV running past the SSL TLV.
        let ssl = [0x20, 0, 8, 0x01, 0, 0, 0, 0, 0x21, 0, 9];
        assert!(matches!(
            rejected(&with_tlvs(&ssl)),
            ProxyProtocolError::TlvOverrun { kind: 0x21 }
        ));
    }

    #[test]
    fn crc32c_known_vector_accepted() {
        // Checksum computed independently (bitwise CRC32C) over the header with the field zeroed.
        let buf = with_tlvs(&[0x03, 0, 4, 0x20, 0xEC, 0x95, 0x49]);
        let (header, _) = complete(&buf);
        assert!(header.tlvs.crc32c);
        let mut encoded = BytesMut::new();
        header.encode(&mut encoded).unwrap();
        assert_eq!(&encoded[..], &buf[..]);
    }

    #[test]
    fn crc32c_mismatch_rejected() {
        let mut buf = with_tlvs(&[0x03, 0, 4, 0x20, 0xEC, 0x95, 0x49]);
        buf[16] = 10; // source address changed in transit
        assert!(matches!(
            rejected(&buf),
            ProxyProtocolError::Crc32cMismatch {
                carried: 0x20EC_9549,
                ..
            }
        ));
        assert!(matches!(
            rejected(&with_tlvs(&[0x03, 0, 3, 0, 0, 0])),
            ProxyProtocolError::BadTlvLength { kind: 0x03, len: 3 }
        ));
    }

    #[test]
    fn crc32c_covers_tlvs_after_it() {
        let tlvs = Tlvs {
            crc32c: true,
            authority: Some("example.com".into()),
            ..Tlvs::default()
        };
        let sent = ProxyHeader::v2(
            "192.0.2.1:1".parse().unwrap(),
            "192.0.2.2:2".parse().unwrap(),
        )
        .with_tlvs(tlvs);
        let mut buf = sent.to_bytes().unwrap().to_vec();
        assert_eq!(complete(&buf).0, sent);
        let last = buf.len() - 1;
        buf[last] = b'n';
        assert!(matches!(
            rejected(&buf),
            ProxyProtocolError::Crc32cMismatch { .. }
        ));
    }

    #[test]
    fn tlvs_parsed() {
        let ssl_subs = [
            &[0x21, 0, 7][..],
            b"TLSv1.3",
            &[0x22, 0, 6],
            b"client",
            &[0x23, 0, 22],
            b"TLS_AES_128_GCM_SHA256",
            &[0x24, 0, 6],
            b"SHA256",
            &[0x25, 0, 7],
            b"RSA2048",
            &[0x26, 0, 6],
            b"X25519",
            &[0x27, 0, 22],
            b"ecdsa_secp256r1_sha256",
            &[0x28, 0, 3, 0x30, 0x01, 0x00],
            &[0x29, 0, 1, 9],
        ]
        .concat();
        let mut ssl = vec![0x20];
        ssl.extend_from_slice(&u16::try_from(5 + ssl_subs.len()).unwrap().to_be_bytes());
        ssl.extend_from_slice(&[0x07, 0, 0, 0, 0]);
        ssl.extend_from_slice(&ssl_subs);
        let body = [
            &[0x01, 0, 2][..],
            b"h2",
            &[0x02, 0, 11],
            b"example.com",
            &[0x04, 0, 3, 0, 0, 0], // NOOP
            &[0x05, 0, 4, 1, 2, 3, 4],
            &ssl,
            &[0x30, 0, 4],
            b"blue",
            &[0xE0, 0, 1, 0xAA],
            &[0xF8, 0, 0],
            &[0xE0, 0, 1, 0xBB],
        ]
        .concat();
        let (header, consumed) = complete(&with_tlvs(&body));
        assert_eq!(consumed, 16 + 12 + body.len());
        let tlvs = header.tlvs;
        assert_eq!(tlvs.alpn.as_deref(), Some(&b"h2"[..]));
        assert_eq!(tlvs.authority.as_deref(), Some("example.com"));
        assert!(!tlvs.crc32c);
        assert_eq!(tlvs.unique_id.as_deref(), Some(&[1, 2, 3, 4][..]));
        assert_eq!(tlvs.netns.as_deref(), Some("blue"));
        assert_eq!(
            tlvs.other,
            vec![(0xE0, vec![0xAA]), (0xF8, vec![]), (0xE0, vec![0xBB])]
        );
        let ssl = tlvs.ssl.expect("SSL TLV");
        assert!(ssl
            .client
            .contains(SslClient::SSL | SslClient::CERT_CONN | SslClient::CERT_SESS));
        assert!(ssl.client_cert_verified());
        assert_eq!(ssl.version.as_deref(), Some("TLSv1.3"));
        assert_eq!(ssl.cn.as_deref(), Some("client"));
        assert_eq!(ssl.cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(ssl.sig_alg.as_deref(), Some("SHA256"));
        assert_eq!(ssl.key_alg.as_deref(), Some("RSA2048"));
        assert_eq!(ssl.group.as_deref(), Some("X25519"));
        assert_eq!(ssl.sig_scheme.as_deref(), Some("ecdsa_secp256r1_sha256"));
        assert_eq!(ssl.client_cert.as_deref(), Some(&[0x30, 0x01, 0x00][..]));
        assert_eq!(ssl.other, vec![(0x29, vec![9])]);
    }

    #[test]
    fn bad_tlvs_rejected() {
        let long_id = [&[0x05, 0, 129][..], &[7; 129]].concat();
        assert!(matches!(
            rejected(&with_tlvs(&long_id)),
            ProxyProtocolError::UniqueIdTooLong { len: 129 }
        ));
        let max_id = [&[0x05, 0, 128][..], &[7; 128]].concat();
        assert_eq!(
            complete(&with_tlvs(&max_id)).0.tlvs.unique_id,
            Some(vec![7; 128])
        );
        assert!(matches!(
            rejected(&with_tlvs(&[0x01, 0, 1, b'a', 0x01, 0, 1, b'b'])),
            ProxyProtocolError::DuplicateTlv { kind: 0x01 }
        ));
        assert!(matches!(
            rejected(&with_tlvs(&[0x02, 0, 2, 0xC3, 0x28])),
            ProxyProtocolError::TlvNotUtf8 { kind: 0x02 }
        ));
        assert!(matches!(
            rejected(&with_tlvs(&[0x20, 0, 4, 1, 0, 0, 0])),
            ProxyProtocolError::BadTlvLength { kind: 0x20, len: 4 }
        ));
        let dup_sub = [
            0x20, 0, 13, 1, 0, 0, 0, 0, 0x22, 0, 1, b'a', 0x22, 0, 1, b'b',
        ];
        assert!(matches!(
            rejected(&with_tlvs(&dup_sub)),
            ProxyProtocolError::DuplicateTlv { kind: 0x22 }
        ));
    }

    #[test]
    fn encode_exact_bytes() {
        let header = ProxyHeader::v2(
            "192.0.2.1:56324".parse().unwrap(),
            "198.51.100.2:443".parse().unwrap(),
        );
        assert_eq!(&header.to_bytes().unwrap()[..], &v2(0x21, 0x11, &INET4)[..]);
        assert_eq!(
            &ProxyHeader::local().to_bytes().unwrap()[..],
            &v2(0x20, 0x00, &[])[..]
        );
    }

    #[test]
    fn encode_mixed_families_as_mapped_ipv6() {
        let header = ProxyHeader::v2(
            "192.0.2.1:1".parse().unwrap(),
            "[2001:db8::2]:2".parse().unwrap(),
        );
        let (parsed, _) = complete(&header.to_bytes().unwrap());
        assert_eq!(
            parsed.addresses,
            Addresses::Inet {
                src: "[::ffff:192.0.2.1]:1".parse().unwrap(),
                dst: "[2001:db8::2]:2".parse().unwrap(),
            }
        );
    }

    #[test]
    fn encode_errors_leave_out_unchanged() {
        let base = ProxyHeader::v2(
            "192.0.2.1:1".parse().unwrap(),
            "192.0.2.2:2".parse().unwrap(),
        );
        let mut unspec_transport = base.clone();
        unspec_transport.transport = Transport::Unspec;
        let mut unspec_addresses = base.clone();
        unspec_addresses.addresses = Addresses::Unspec;
        let mut long_path = base.clone();
        long_path.addresses = Addresses::Unix {
            src: vec![b'a'; 109],
            dst: vec![],
        };
        let tlvs = Tlvs {
            unique_id: Some(vec![0; 129]),
            ..Tlvs::default()
        };
        let long_id = base.clone().with_tlvs(tlvs);
        let tlvs = Tlvs {
            other: vec![(0x01, b"h2".to_vec())],
            ..Tlvs::default()
        };
        let shadowed = base.clone().with_tlvs(tlvs);
        let tlvs = Tlvs {
            other: vec![(0xE0, vec![0; 65_535 - 12 - 3 + 1])],
            ..Tlvs::default()
        };
        let too_long = base.clone().with_tlvs(tlvs);

        for (header, expect) in [
            (unspec_transport, "unencodable"),
            (unspec_addresses, "unencodable"),
            (long_path, "unencodable"),
            (long_id, "unique id"),
            (shadowed, "unencodable"),
            (too_long, "too long"),
        ] {
            let mut out = BytesMut::from(&b"keep"[..]);
            let err = header.encode(&mut out).unwrap_err();
            let ok = match expect {
                "unencodable" => matches!(err, ProxyProtocolError::Unencodable { .. }),
                "unique id" => matches!(err, ProxyProtocolError::UniqueIdTooLong { len: 129 }),
                _ => matches!(err, ProxyProtocolError::HeaderTooLong { len: 65_536 }),
            };
            assert!(ok, "{expect}: {err}");
            assert_eq!(&out[..], b"keep");
        }
    }

    #[test]
    fn largest_header_round_trips() {
        let tlvs = Tlvs {
            other: vec![(0xE0, vec![0x5A; 65_535 - 12 - 3])],
            ..Tlvs::default()
        };
        let header = ProxyHeader::v2(
            "192.0.2.1:1".parse().unwrap(),
            "192.0.2.2:2".parse().unwrap(),
        )
        .with_tlvs(tlvs);
        let bytes = header.to_bytes().unwrap();
        assert_eq!(bytes.len(), MAX_LEN);
        assert_eq!(complete(&bytes), (header, MAX_LEN));
    }
}

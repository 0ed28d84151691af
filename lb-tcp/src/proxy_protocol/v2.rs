//! PROXY protocol v2: a 16-byte binary preamble, an address block and TLVs.
//!
//! ```text
//! 0                   12       13       14       16
//! | signature (12)    | ver|cmd | fam|tp | len (BE) | addresses | TLVs ... |
//!                                                  |<----------- len ---------->|
//! ```

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, BytesMut};

use super::crc32c::crc32c;
use super::{
    tlv, Addresses, Command, Parsed, ProxyHeader, ProxyProtocolError, Transport, Version,
};

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
    let end = path.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
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

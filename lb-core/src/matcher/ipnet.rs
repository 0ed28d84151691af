//! IP networks (CIDR): `src` ACLs, `tcp-request connection` rules, `option forwardfor except`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network: an address and a prefix length.
///
/// Parsed from `addr/prefix` (`10.0.0.0/8`, `2001:db8::/32`), `addr/dotted-mask` for IPv4
/// (`10.0.0.0/255.0.0.0`, as HAProxy accepts), or a bare address (a /32 or /128). Host bits
/// set in the address are cleared, as HAProxy does.
///
/// # Examples
/// ```
/// use lb_core::matcher::IpNet;
///
/// let net: IpNet = "192.168.1.77/24".parse()?;
/// assert_eq!(net.to_string(), "192.168.1.0/24");
/// assert!(net.contains("192.168.1.200".parse()?));
/// assert!(!net.contains("192.168.2.1".parse()?));
/// // An IPv4-mapped IPv6 client (a socket bound to `[::]`) matches IPv4 networks.
/// assert!(net.contains("::ffff:192.168.1.3".parse()?));
/// assert!("10.0.0.0/33".parse::<IpNet>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Builds a network, clearing the host bits of `addr`.
    ///
    /// # Errors
    /// [`IpNetError::PrefixTooLong`] if `prefix` exceeds 32 (IPv4) or 128 (IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, IpNetError> {
        let max = max_prefix(addr);
        if prefix > max {
            return Err(IpNetError::PrefixTooLong { prefix, max });
        }
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(prefix))),
        };
        Ok(Self { addr, prefix })
    }

    /// The network address (host bits cleared).
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub const fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Returns whether `ip` belongs to this network. IPv4-mapped IPv6 addresses
    /// (`::ffff:a.b.c.d`) are compared as their IPv4 address and vice versa.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => in_v4(net, self.prefix, ip),
            (IpAddr::V4(net), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|ip| in_v4(net, self.prefix, ip)),
            (IpAddr::V6(net), IpAddr::V6(ip)) => in_v6(net, self.prefix, ip),
            (IpAddr::V6(net), IpAddr::V4(ip)) => in_v6(net, self.prefix, ip.to_ipv6_mapped()),
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| IpNetError::InvalidAddress(addr.to_owned()))?;
        let prefix = match (prefix, addr) {
            (None, addr) => max_prefix(addr),
            (Some(p), _) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| IpNetError::PrefixTooLong {
                    prefix: u8::MAX,
                    max: max_prefix(addr),
                })?
            }
            (Some(p), IpAddr::V4(_)) => {
                let mask: Ipv4Addr = p
                    .parse()
                    .map_err(|_| IpNetError::InvalidPrefix(p.to_owned()))?;
                let mask = u32::from(mask);
                if mask.leading_ones() + mask.trailing_zeros() != 32 {
                    return Err(IpNetError::InvalidPrefix(p.to_owned()));
                }
                // leading_ones() <= 32, so this fits.
                mask.leading_ones() as u8
            }
            (Some(p), IpAddr::V6(_)) => return Err(IpNetError::InvalidPrefix(p.to_owned())),
        };
        Self::new(addr, prefix)
    }
}

/// Why an [`IpNet`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpNetError {
    /// The address part is not an IPv4 or IPv6 address.
    #[error("invalid network address `{0}`")]
    InvalidAddress(String),
    /// The part after `/` is neither a prefix length nor a contiguous IPv4 mask.
    #[error("invalid prefix length or mask `{0}`")]
    InvalidPrefix(String),
    /// The prefix length exceeds the address size.
    #[error("prefix length {prefix} exceeds {max}")]
    PrefixTooLong {
        /// The prefix length given (255 when it did not even fit a byte).
        prefix: u8,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

fn in_v4(net: Ipv4Addr, prefix: u8, ip: Ipv4Addr) -> bool {
    u32::from(ip) & mask32(prefix) == u32::from(net)
}

fn in_v6(net: Ipv6Addr, prefix: u8, ip: Ipv6Addr) -> bool {
    u128::from(ip) & mask128(prefix) == u128::from(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect(s)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect(s)
    }

    #[test]
    fn parses_forms() {
        assert_eq!(net("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(net("10.1.2.3").to_string(), "10.1.2.3/32");
        assert_eq!(net("10.1.2.3/255.255.0.0").to_string(), "10.1.0.0/16");
        assert_eq!(net("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(net("2001:db8::1/32").to_string(), "2001:db8::/32");
        assert_eq!(net("::1").to_string(), "::1/128");
        assert_eq!(net("::/0").to_string(), "::/0");
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            "10.0.0/8".parse::<IpNet>(),
            Err(IpNetError::InvalidAddress("10.0.0".into()))
        );
        assert_eq!(
            "10.0.0.0/33".parse::<IpNet>(),
            Err(IpNetError::PrefixTooLong {
                prefix: 33,
                max: 32
            })
        );
        assert_eq!(
            "::/129".parse::<IpNet>(),
            Err(IpNetError::PrefixTooLong {
                prefix: 129,
                max: 128
            })
        );
        assert!(matches!(
            "10.0.0.0/999".parse::<IpNet>(),
            Err(IpNetError::PrefixTooLong { .. })
        ));
        assert_eq!(
            "10.0.0.0/255.0.255.0".parse::<IpNet>(),
            Err(IpNetError::InvalidPrefix("255.0.255.0".into()))
        );
        assert!(matches!(
            "10.0.0.0/".parse::<IpNet>(),
            Err(IpNetError::InvalidPrefix(_))
        ));
        assert!(matches!(
            "10.0.0.0/-1".parse::<IpNet>(),
            Err(IpNetError::InvalidPrefix(_))
        ));
        assert!(matches!(
            "::/ffff::".parse::<IpNet>(),
            Err(IpNetError::InvalidPrefix(_))
        ));
        assert!("".parse::<IpNet>().is_err());
        assert!("/8".parse::<IpNet>().is_err());
        assert!("a/b/c".parse::<IpNet>().is_err());
    }

    #[test]
    fn contains() {
        let v4 = net("172.16.0.0/12");
        assert!(v4.contains(ip("172.31.255.255")));
        assert!(!v4.contains(ip("172.32.0.0")));
        assert!(v4.contains(ip("::ffff:172.16.0.1")));
        assert!(!v4.contains(ip("2001:db8::1")));
        assert!(net("0.0.0.0/0").contains(ip("1.2.3.4")));

        let v6 = net("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(net("::ffff:0:0/96").contains(ip("10.0.0.1")));
        assert!(net("::/0").contains(ip("::1")));
    }

    #[test]
    fn new_validates() {
        assert!(IpNet::new(ip("10.0.0.0"), 32).is_ok());
        assert!(IpNet::new(ip("10.0.0.0"), 33).is_err());
        assert!(IpNet::new(ip("::"), 128).is_ok());
        assert_eq!(
            IpNet::new(ip("10.9.8.7"), 0).map(|n| n.addr()),
            Ok(ip("0.0.0.0"))
        );
    }
}

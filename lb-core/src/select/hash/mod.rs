//! Hashing for the hash-based algorithms: HAProxy's hash functions, key
//! extraction and the consistent-hash ring.
//!
//! # Organization
//!
//! - this module: [`HashFunction`] (`sdbm`, `djb2`, `wt6`, `crc32`, `none`),
//!   [`HashMethod`] and [`HashType`] (`hash-type <method> [<function>]
//!   [avalanche]`), [`avalanche`] (HAProxy's `full_hash`) and [`source_hash`]
//!   (`balance source`).
//! - [`key`]: borrowing key extraction for `balance uri`, `url_param`,
//!   `hdr(host) use_domain_only` and `rdp-cookie`.
//! - [`ring`]: [`Ring`], the weighted consistent-hash ring (`hash-type
//!   consistent`), and [`bounded_load_cap`] (`hash-balance-factor`).
//!
//! Everything here is pure and allocation-free on the lookup path (except
//! [`Candidates`] once it has to remember a second server), and never panics.
//!
//! # Examples
//!
//! Map-based `balance uri` over four servers of weight 1 (HAProxy's
//! `balance-uri.vtc`):
//!
//! ```
//! use lb_core::select::hash::{key::uri_key, key::UriOptions, HashType};
//!
//! let servers = ["s1", "s2", "s3", "s4"];
//! let hash_type = HashType::map_based();
//! let pick = |uri: &str| {
//!     let key = uri_key(uri, &UriOptions::default());
//!     servers[(hash_type.hash(key.as_bytes()) % 4) as usize]
//! };
//! assert_eq!(pick("/url1"), "s2");
//! assert_eq!(pick("/url1?ignore=this-arg"), "s2");
//! assert_eq!(pick("/url2"), "s3");
//! assert_eq!(pick("/url3"), "s4");
//! assert_eq!(pick("/url4"), "s1");
//! ```
//!
//! Consistent hashing over servers of weight 1 (16 points each, as HAProxy's
//! effective weight), with a fallback order for a busy first choice:
//!
//! ```
//! use lb_core::select::hash::{HashType, Ring};
//!
//! // (index in our server list, server key = id * 4096, eweight)
//! let ring = Ring::build([(0, 4096, 16), (1, 2 * 4096, 16), (2, 3 * 4096, 16)]);
//! let hash = HashType::consistent().hash(b"/some/page");
//! let order: Vec<u32> = ring.candidates(hash).collect();
//! assert_eq!(order.len(), 3); // every server once, nearest first
//! assert_eq!(Some(order[0]), ring.nearest(hash));
//! ```

pub mod key;
pub mod ring;

pub use self::key::{domain_only, rdp_cookie, uri_key, url_param, url_param_in_body, UriOptions};
pub use self::ring::{bounded_load_cap, bounded_load_cap_exact, Candidates, Ring};

use std::net::IpAddr;

/// HAProxy's hash functions (hash-type's second argument).
///
/// All of them work on raw bytes and wrap at 32 bits, as HAProxy's
/// `src/hash.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HashFunction {
    /// `sdbm` (the default): `h = c + (h << 6) + (h << 16) - h`, from 0.
    #[default]
    Sdbm,
    /// `djb2`: `h = h * 33 + c`, from 5381.
    Djb2,
    /// `wt6`: Willy Tarreau's rotating hash over two 32-bit halves.
    Wt6,
    /// `crc32`: the Ethernet/zlib CRC-32 (reflected polynomial `0xEDB88320`).
    Crc32,
    /// `none`: the key is not hashed but read as a decimal integer.
    ///
    /// This follows HAProxy's `read_int64`: an optional `-` or `+`, then the
    /// leading decimal digits (parsing stops at the first other byte, so
    /// `"42abc"` is 42 and `"abc"` or `""` is 0); the value saturates to the
    /// `i64` range and its low 32 bits are the hash (C's conversion to
    /// `unsigned int`), so `"-1"` is `0xFFFF_FFFF` and `"4294967296"` is 0.
    None,
}

impl HashFunction {
    /// Hashes `key` with this function.
    ///
    /// # Examples
    ///
    /// ```
    /// use lb_core::select::hash::HashFunction;
    ///
    /// assert_eq!(HashFunction::Crc32.hash(b"123456789"), 0xCBF4_3926);
    /// assert_eq!(HashFunction::Djb2.hash(b""), 5381);
    /// assert_eq!(HashFunction::None.hash(b"1234"), 1234);
    /// ```
    pub fn hash(self, key: &[u8]) -> u32 {
        match self {
            HashFunction::Sdbm => sdbm(key),
            HashFunction::Djb2 => djb2(key),
            HashFunction::Wt6 => wt6(key),
            HashFunction::Crc32 => crc32(key),
            HashFunction::None => read_int(key),
        }
    }
}

/// How a hash is turned into a server: `map-based` or `consistent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HashMethod {
    /// `map-based` (the default): `map[hash % total_weight]`. Static: any
    /// change of the usable servers remaps most keys.
    #[default]
    MapBased,
    /// `consistent`: a [`Ring`] of weighted points; a server change moves only
    /// the keys of that server.
    Consistent,
}

/// `hash-type <method> [<function>] [avalanche]`.
///
/// The default is HAProxy's: map-based, sdbm, no avalanche. Note that HAProxy
/// applies avalanche by default to `consistent` *when no function is given*:
/// use [`HashType::consistent`] for that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashType {
    /// `map-based` or `consistent`.
    pub method: HashMethod,
    /// The hash function applied to the key.
    pub function: HashFunction,
    /// Whether [`avalanche`] is applied to the function's result.
    pub avalanche: bool,
}

impl Default for HashType {
    fn default() -> Self {
        Self::map_based()
    }
}

impl HashType {
    /// `hash-type consistent`: sdbm then avalanche (HAProxy's default for
    /// `consistent` without a function).
    pub const fn consistent() -> Self {
        Self {
            method: HashMethod::Consistent,
            function: HashFunction::Sdbm,
            avalanche: true,
        }
    }

    /// `hash-type map-based`: sdbm, no avalanche (HAProxy's default).
    pub const fn map_based() -> Self {
        Self {
            method: HashMethod::MapBased,
            function: HashFunction::Sdbm,
            avalanche: false,
        }
    }

    /// Hashes `key`: the function, then [`avalanche`] if set.
    ///
    /// # Examples
    ///
    /// ```
    /// use lb_core::select::hash::{avalanche, HashFunction, HashType};
    ///
    /// let h = HashType::consistent().hash(b"key");
    /// assert_eq!(h, avalanche(HashFunction::Sdbm.hash(b"key")));
    /// ```
    pub fn hash(&self, key: &[u8]) -> u32 {
        self.finish(self.function.hash(key))
    }

    /// Applies this hash type's modifier ([`avalanche`] if set) to an already
    /// computed hash, such as [`source_hash`]'s (`balance source` ignores the
    /// hash function but honours `avalanche`).
    pub fn finish(&self, hash: u32) -> u32 {
        if self.avalanche {
            avalanche(hash)
        } else {
            hash
        }
    }
}

/// Bob Jenkins' 32-bit full-avalanche integer hash, as HAProxy's `full_hash`.
///
/// Six add/xor-shift rounds (Jenkins' "integer hash", see
/// <http://burtleburtle.net/bob/hash/integer.html>), then a multiplication by
/// 3221225473 (a prime close to 3/4 of 2^32) to spread values over the tree.
/// Used as the `avalanche` modifier and to place consistent-hash points.
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::avalanche;
///
/// assert_eq!(avalanche(0), 0xAB4E_D927);
/// assert_eq!(avalanche(1), 0x3486_81B6);
/// ```
pub const fn avalanche(h: u32) -> u32 {
    let mut a = h;
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    a.wrapping_mul(3_221_225_473)
}

/// The `balance source` key: the XOR of the address's 32-bit big-endian
/// words, as HAProxy's `get_server_sh`.
///
/// An IPv4 address is its own value (`10.0.0.1` is `0x0A00_0001`); an IPv6
/// address XORs its four words. The hash function is not applied (HAProxy
/// ignores it for `source`); apply the modifier with [`HashType::finish`].
/// IPv4-mapped IPv6 addresses are hashed as IPv6, as HAProxy does for an
/// IPv6 socket.
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::source_hash;
///
/// assert_eq!(source_hash("10.0.0.1".parse().unwrap()), 0x0A00_0001);
/// assert_eq!(source_hash("::1".parse().unwrap()), 1);
/// ```
pub fn source_hash(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            // Truncating casts pick each 32-bit word.
            (bits >> 96) as u32 ^ (bits >> 64) as u32 ^ (bits >> 32) as u32 ^ bits as u32
        }
    }
}

fn sdbm(key: &[u8]) -> u32 {
    key.iter().fold(0u32, |h, &c| {
        u32::from(c)
            .wrapping_add(h << 6)
            .wrapping_add(h << 16)
            .wrapping_sub(h)
    })
}

fn djb2(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &c| {
        (h << 5).wrapping_add(h).wrapping_add(u32::from(c))
    })
}

fn wt6(key: &[u8]) -> u32 {
    let mut h0: u32 = 0xa53c_965a;
    let mut h1: u32 = 0x5ca6_953a;
    let mut step0: u32 = 6;
    let mut step1: u32 = 18;
    for &c in key {
        let c = u32::from(c);
        h0 = !(h0 ^ c);
        h1 = !(h1.wrapping_add(c));
        // HAProxy writes these as `(x << s) | (x >> (32 - s))`: a rotation
        // (its s == 0 case also yields x on the platforms it runs on).
        let t = h1.rotate_left(step0);
        h1 = h0.rotate_left(step1);
        h0 = t;
        let t = ((h0 >> 16) ^ h1) & 0xffff;
        step0 = t & 0x1f;
        step1 = t >> 11;
    }
    h0 ^ h1
}

const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

fn crc32(key: &[u8]) -> u32 {
    // Table-driven form of HAProxy's bit-by-bit `hash_crc32`: same result.
    !key.iter().fold(!0u32, |crc, &c| {
        (crc >> 8) ^ CRC32_TABLE[((crc ^ u32::from(c)) & 0xff) as usize]
    })
}

/// HAProxy's `read_int64` truncated to 32 bits (see [`HashFunction::None`]).
fn read_int(key: &[u8]) -> u32 {
    let (negative, digits) = match key.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, key),
    };
    let mut value: u64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(u64::from(c - b'0'));
    }
    let signed: i64 = if negative {
        // -(2^63) is the floor; anything larger in magnitude saturates.
        0i64.checked_sub_unsigned(value).unwrap_or(i64::MIN)
    } else {
        i64::try_from(value).unwrap_or(i64::MAX)
    };
    // C's conversion of `long long` to `unsigned int`: keep the low 32 bits.
    signed as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reference_uri_vector() {
        // balance-uri.vtc: 4 servers of weight 1, map-based sdbm.
        let servers = ["s1", "s2", "s3", "s4"];
        let pick = |k: &str| servers[(HashType::map_based().hash(k.as_bytes()) % 4) as usize];
        assert_eq!(pick("/url1"), "s2");
        assert_eq!(pick("/url2"), "s3");
        assert_eq!(pick("/url3"), "s4");
        assert_eq!(pick("/url4"), "s1");
    }

    #[test]
    fn sdbm_vectors() {
        assert_eq!(sdbm(b""), 0);
        assert_eq!(sdbm(b"a"), 0x61);
        assert_eq!(sdbm(b"/url1"), 0xf491_dab1);
        assert_eq!(sdbm(b"123456789"), 0x68a0_7035);
    }

    #[test]
    fn djb2_vectors() {
        assert_eq!(djb2(b""), 5381);
        assert_eq!(djb2(b"a"), 5381 * 33 + 97);
        assert_eq!(djb2(b"haproxy"), 0x33d7_d490);
        assert_eq!(djb2(b"123456789"), 0x35cd_bb82);
    }

    #[test]
    fn wt6_vectors() {
        // Empty input: h0 ^ h1 of the seeds.
        assert_eq!(wt6(b""), 0xa53c_965a ^ 0x5ca6_953a);
        // Cross-checked against an independent transcription of hash.c.
        assert_eq!(wt6(b"a"), 0x714b_f225);
        assert_eq!(wt6(b"/url1"), 0x92d1_9ced);
        assert_eq!(wt6(b"haproxy"), 0x8071_3d93);
        assert_eq!(wt6(b"123456789"), 0x84a1_6c1d);
    }

    #[test]
    fn crc32_vectors() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xe8b7_be43);
        assert_eq!(HashFunction::Crc32.hash(b"haproxy"), 0x53cd_3fa0);
    }

    #[test]
    fn none_reads_integers_like_read_int64() {
        let h = |s: &str| HashFunction::None.hash(s.as_bytes());
        assert_eq!(h("0"), 0);
        assert_eq!(h("1234"), 1234);
        assert_eq!(h("+7"), 7);
        assert_eq!(h("42abc"), 42);
        assert_eq!(h("abc"), 0);
        assert_eq!(h(""), 0);
        assert_eq!(h("-"), 0);
        assert_eq!(h("-1"), u32::MAX);
        assert_eq!(h("4294967295"), u32::MAX);
        assert_eq!(h("4294967296"), 0);
        assert_eq!(h("4294967297"), 1);
        // Saturates to i64::MAX / i64::MIN before truncation.
        assert_eq!(h("99999999999999999999999"), i64::MAX as u32);
        assert_eq!(h("-99999999999999999999999"), i64::MIN as u32);
        assert_eq!(h("-9223372036854775808"), i64::MIN as u32);
    }

    #[test]
    fn avalanche_vectors() {
        assert_eq!(avalanche(0), 0xab4e_d927);
        assert_eq!(avalanche(1), 0x3486_81b6);
        assert_eq!(avalanche(4096), 0x49c2_008b);
        assert_eq!(avalanche(12345), 0xf652_3c53);
        assert_eq!(avalanche(u32::MAX), 0x7e64_c182);
    }

    #[test]
    fn hash_type_defaults() {
        assert_eq!(HashType::default(), HashType::map_based());
        assert_eq!(HashType::default().method, HashMethod::MapBased);
        assert_eq!(HashType::default().function, HashFunction::Sdbm);
        assert!(!HashType::default().avalanche);
        let c = HashType::consistent();
        assert_eq!(c.method, HashMethod::Consistent);
        assert_eq!(c.function, HashFunction::Sdbm);
        assert!(c.avalanche);
        assert_eq!(c.hash(b"/url1"), avalanche(0xf491_dab1));
        assert_eq!(HashType::map_based().hash(b"/url1"), 0xf491_dab1);
        assert_eq!(c.finish(7), avalanche(7));
        assert_eq!(HashType::map_based().finish(7), 7);
    }

    #[test]
    fn source_hash_words() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(source_hash(ip("10.0.0.1")), 0x0a00_0001);
        assert_eq!(source_hash(ip("255.255.255.255")), u32::MAX);
        assert_eq!(source_hash(ip("::")), 0);
        assert_eq!(
            source_hash(ip("2001:db8:1:2:3:4:5:6")),
            0x2001_0db8 ^ 0x0001_0002 ^ 0x0003_0004 ^ 0x0005_0006
        );
        // IPv4-mapped stays IPv6: 0 ^ 0 ^ 0x0000ffff ^ addr.
        assert_eq!(source_hash(ip("::ffff:10.0.0.1")), 0xffff ^ 0x0a00_0001);
    }

    /// The bit-by-bit CRC of HAProxy's hash.c, to check the table.
    fn crc32_bitwise(key: &[u8]) -> u32 {
        let mut hash = !0u32;
        for &c in key {
            hash ^= u32::from(c);
            for _ in 0..8 {
                hash = (hash >> 1) ^ if hash & 1 == 1 { 0xedb8_8320 } else { 0 };
            }
        }
        !hash
    }

    proptest! {
        #[test]
        fn crc32_table_matches_bitwise(key in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(crc32(&key), crc32_bitwise(&key));
        }

        #[test]
        fn none_round_trips_u32(n in any::<u32>()) {
            prop_assert_eq!(HashFunction::None.hash(n.to_string().as_bytes()), n);
        }

        #[test]
        fn none_matches_i64_truncation(n in any::<i64>()) {
            prop_assert_eq!(HashFunction::None.hash(n.to_string().as_bytes()), n as u32);
        }

        #[test]
        fn functions_never_panic(key in proptest::collection::vec(any::<u8>(), 0..128)) {
            for f in [
                HashFunction::Sdbm,
                HashFunction::Djb2,
                HashFunction::Wt6,
                HashFunction::Crc32,
                HashFunction::None,
            ] {
                let _ = f.hash(&key);
                let ht = HashType { method: HashMethod::Consistent, function: f, avalanche: true };
                prop_assert_eq!(ht.hash(&key), avalanche(f.hash(&key)));
            }
        }

        #[test]
        fn avalanche_is_injective_on_neighbours(a in any::<u32>()) {
            // full_hash is a bijection: consecutive inputs never collide.
            prop_assert_ne!(avalanche(a), avalanche(a.wrapping_add(1)));
        }
    }
}

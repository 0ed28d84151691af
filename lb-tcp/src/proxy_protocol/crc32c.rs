//! CRC32C (Castagnoli), as the v2 `PP2_TYPE_CRC32C` TLV requires.
//!
//! Table-driven, one byte at a time: headers are at most 64 KiB and usually under 100 bytes,
//! so a slicing-by-8 or SSE4.2 version would not pay for its code.

/// Reflected Castagnoli polynomial.
const POLY: u32 = 0x82F6_3B78;

/// `TABLE[b]` is the CRC of the single byte `b`, built at compile time.
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
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

/// A running CRC32C, for checksumming a header given in several slices.
#[derive(Clone, Copy, Debug)]
pub(super) struct Crc32c(u32);

impl Crc32c {
    /// Starts a new checksum.
    pub(super) const fn new() -> Self {
        Self(!0)
    }

    /// Feeds `bytes`.
    pub(super) fn update(mut self, bytes: &[u8]) -> Self {
        for &b in bytes {
            self.0 = TABLE[usize::from((self.0 as u8) ^ b)] ^ (self.0 >> 8);
        }
        self
    }

    /// The checksum of everything fed so far.
    pub(super) const fn finish(self) -> u32 {
        !self.0
    }
}

/// The CRC32C of `bytes`.
pub(super) fn crc32c(bytes: &[u8]) -> u32 {
    Crc32c::new().update(bytes).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_vector() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn known_vectors() {
        // RFC 3720 (iSCSI) appendix B.4.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn split_updates_match_one_shot() {
        let data = b"The quick brown fox jumps over the lazy dog";
        for cut in 0..data.len() {
            let (a, b) = data.split_at(cut);
            assert_eq!(Crc32c::new().update(a).update(b).finish(), crc32c(data));
        }
    }
}

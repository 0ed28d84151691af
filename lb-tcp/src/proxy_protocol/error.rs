//! Errors of the PROXY protocol parser, encoder and reader.

use std::io;

/// Why a PROXY protocol header was rejected, could not be encoded, or could not be read.
///
/// Every parse error means "abort the connection": the spec forbids guessing (REFERENCE §9).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyProtocolError {
    /// The bytes start with neither the v2 signature nor `PROXY`.
    #[error("not a PROXY protocol header (bad signature)")]
    BadSignature,

    /// No CRLF within the first 107 bytes of a v1 header.
    #[error("PROXY v1 line is longer than 107 bytes")]
    V1LineTooLong,

    /// A v1 line that is not `PROXY TCP4|TCP6|UNKNOWN ...` exactly as the spec writes it.
    #[error("malformed PROXY v1 line: {reason}")]
    V1Malformed {
        /// What was wrong.
        reason: &'static str,
    },

    /// A v2 version nibble other than 2.
    #[error("unsupported PROXY v2 version {version}")]
    UnsupportedVersion {
        /// The high nibble of byte 13.
        version: u8,
    },

    /// A v2 command other than LOCAL (0) or PROXY (1).
    #[error("unsupported PROXY v2 command {command}")]
    UnsupportedCommand {
        /// The low nibble of byte 13.
        command: u8,
    },

    /// A v2 family/transport byte outside the spec's list (0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32).
    #[error("invalid PROXY v2 family/transport byte {byte:#04x}")]
    BadFamily {
        /// Byte 14 of the header.
        byte: u8,
    },

    /// The v2 length is too short for the address block its family requires.
    #[error("PROXY v2 length {len} is shorter than the {needed}-byte address block")]
    TruncatedAddresses {
        /// The length announced in bytes 15-16.
        len: usize,
        /// The size of the address block of the announced family (12, 36 or 216).
        needed: usize,
    },

    /// A TLV (or an SSL sub-TLV) runs past the end of its enclosing block.
    #[error("PROXY v2 TLV {kind:#04x} runs past the end of the header")]
    TlvOverrun {
        /// The TLV type.
        kind: u8,
    },

    /// A TLV whose value has a length its type does not allow.
    #[error("PROXY v2 TLV {kind:#04x} has invalid length {len}")]
    BadTlvLength {
        /// The TLV type.
        kind: u8,
        /// The length of its value.
        len: usize,
    },

    /// A TLV type that the spec defines (not NOOP or custom) appears twice.
    ///
    /// Rejected rather than "first wins" so two hops can never disagree on the value.
    #[error("PROXY v2 TLV {kind:#04x} appears more than once")]
    DuplicateTlv {
        /// The TLV type.
        kind: u8,
    },

    /// A TLV defined as text (authority, netns, SSL strings) holds invalid UTF-8.
    #[error("PROXY v2 TLV {kind:#04x} is not valid UTF-8")]
    TlvNotUtf8 {
        /// The TLV type.
        kind: u8,
    },

    /// The CRC32C TLV does not match the header.
    #[error("PROXY v2 CRC32C mismatch: header carries {carried:#010x}, computed {computed:#010x}")]
    Crc32cMismatch {
        /// The checksum in the TLV.
        carried: u32,
        /// The checksum of the received header.
        computed: u32,
    },

    /// A unique ID longer than 128 bytes (received or to be sent).
    #[error("PROXY v2 unique ID is {len} bytes, more than 128")]
    UniqueIdTooLong {
        /// Its length.
        len: usize,
    },

    /// Encoding: the v2 header would not fit its 16-bit length field.
    #[error("PROXY v2 header body of {len} bytes exceeds 65535")]
    HeaderTooLong {
        /// The length the body would have.
        len: usize,
    },

    /// Encoding: the header cannot be written as v2 as it stands.
    #[error("cannot encode PROXY header: {reason}")]
    Unencodable {
        /// What is inconsistent.
        reason: &'static str,
    },

    /// The peer closed the connection before a whole header arrived.
    #[error("connection closed after {read} bytes of a PROXY header")]
    UnexpectedEof {
        /// How many header bytes had been read.
        read: usize,
    },

    /// No whole header arrived within the timeout given to [`read_header`](super::read_header).
    #[error("timed out waiting for a PROXY header")]
    Timeout,

    /// Reading the header failed.
    #[error("reading PROXY header: {0}")]
    Io(#[from] io::Error),
}

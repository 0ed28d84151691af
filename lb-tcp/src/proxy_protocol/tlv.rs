//! v2 TLVs: the typed [`Tlvs`] and [`Ssl`] records, their parser and their encoder.
//!
//! A TLV is `type (1) | length (2, big-endian) | value`. The spec's types get typed fields;
//! NOOP is padding and is dropped; everything else (custom 0xE0–0xEF, experimental,
//! future, or types this module does not know yet) is kept in order in `other`.

use std::ops::{BitOr, BitOrAssign};

use bytes::{BufMut, BytesMut};

use super::crc32c::Crc32c;
use super::error::ProxyProtocolError;

/// `PP2_TYPE_ALPN`.
pub(super) const ALPN: u8 = 0x01;
/// `PP2_TYPE_AUTHORITY`.
pub(super) const AUTHORITY: u8 = 0x02;
/// `PP2_TYPE_CRC32C`.
pub(super) const CRC32C: u8 = 0x03;
/// `PP2_TYPE_NOOP`.
pub(super) const NOOP: u8 = 0x04;
/// `PP2_TYPE_UNIQUE_ID`.
pub(super) const UNIQUE_ID: u8 = 0x05;
/// `PP2_TYPE_SSL`.
pub(super) const SSL: u8 = 0x20;
/// `PP2_SUBTYPE_SSL_VERSION`.
const SSL_VERSION: u8 = 0x21;
/// `PP2_SUBTYPE_SSL_CN`.
const SSL_CN: u8 = 0x22;
/// `PP2_SUBTYPE_SSL_CIPHER`.
const SSL_CIPHER: u8 = 0x23;
/// `PP2_SUBTYPE_SSL_SIG_ALG`.
const SSL_SIG_ALG: u8 = 0x24;
/// `PP2_SUBTYPE_SSL_KEY_ALG`.
const SSL_KEY_ALG: u8 = 0x25;
/// `PP2_SUBTYPE_SSL_GROUP`.
const SSL_GROUP: u8 = 0x26;
/// `PP2_SUBTYPE_SSL_SIG_SCHEME`.
const SSL_SIG_SCHEME: u8 = 0x27;
/// `PP2_SUBTYPE_SSL_CLIENT_CERT`.
const SSL_CLIENT_CERT: u8 = 0x28;
/// `PP2_TYPE_NETNS`.
pub(super) const NETNS: u8 = 0x30;

/// The longest unique ID the spec allows.
pub const MAX_UNIQUE_ID_LEN: usize = 128;

/// Size of a TLV's type and length fields.
const TLV_HEADER_LEN: usize = 3;

/// The TLVs of a v2 header.
///
/// Parsing fills the fields of the types it finds; encoding writes the fields that are set.
/// Build one from [`Tlvs::default`] and set fields:
///
/// ```
/// use lb_tcp::proxy_protocol::Tlvs;
///
/// let mut tlvs = Tlvs::default();
/// tlvs.alpn = Some(b"h2".to_vec());
/// tlvs.crc32c = true;
/// assert!(!tlvs.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tlvs {
    /// `PP2_TYPE_ALPN` (0x01): the negotiated application protocol, e.g. `h2`.
    pub alpn: Option<Vec<u8>>,
    /// `PP2_TYPE_AUTHORITY` (0x02): the host name the client asked for (TLS SNI or Host).
    pub authority: Option<String>,
    /// `PP2_TYPE_CRC32C` (0x03).
    ///
    /// Parsing: `true` when the header carried a checksum and it matched (a mismatch is
    /// [`Crc32cMismatch`](ProxyProtocolError::Crc32cMismatch)). Encoding: `true` appends a
    /// checksum computed over the whole header.
    pub crc32c: bool,
    /// `PP2_TYPE_UNIQUE_ID` (0x05): an opaque connection ID of at most 128 bytes.
    pub unique_id: Option<Vec<u8>>,
    /// `PP2_TYPE_SSL` (0x20): how the client connected to the sender over TLS.
    pub ssl: Option<Ssl>,
    /// `PP2_TYPE_NETNS` (0x30): the network namespace the connection was accepted in.
    pub netns: Option<String>,
    /// TLVs of every other type, in the order received (custom 0xE0–0xEF, experimental
    /// 0xF0–0xF7, future 0xF8–0xFF, and types defined after this module was written).
    ///
    /// Encoding writes them as given. A `NOOP` (0x04) entry here is written as padding;
    /// entries of the types above are refused, since their field is the one place for them.
    pub other: Vec<(u8, Vec<u8>)>,
}

impl Tlvs {
    /// Whether no TLV would be written (and none was received, NOOP aside).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The `client` bit field of the SSL TLV.
///
/// Bits the spec does not define are kept as received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SslClient(u8);

impl SslClient {
    /// `PP2_CLIENT_SSL`: the client connected over SSL/TLS.
    pub const SSL: Self = Self(0x01);
    /// `PP2_CLIENT_CERT_CONN`: the client sent a certificate over this connection.
    pub const CERT_CONN: Self = Self(0x02);
    /// `PP2_CLIENT_CERT_SESS`: the client sent a certificate at least once in this TLS session.
    pub const CERT_SESS: Self = Self(0x04);

    /// No bit set.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// The field as received, unknown bits included.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw field.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
}

impl BitOr for SslClient {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for SslClient {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// The `PP2_TYPE_SSL` TLV: `client` bits, `verify` result and sub-TLVs.
///
/// ```
/// use lb_tcp::proxy_protocol::{Ssl, SslClient};
///
/// let mut ssl = Ssl::default();
/// ssl.client = SslClient::SSL | SslClient::CERT_CONN;
/// ssl.version = Some("TLSv1.3".into());
/// assert!(ssl.client_cert_verified());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ssl {
    /// Which of SSL, certificate-on-connection and certificate-in-session apply.
    pub client: SslClient,
    /// 0 if the client presented a certificate and it was verified, non-zero otherwise.
    pub verify: u32,
    /// `PP2_SUBTYPE_SSL_VERSION` (0x21), e.g. `TLSv1.3`.
    pub version: Option<String>,
    /// `PP2_SUBTYPE_SSL_CN` (0x22): the Common Name of the client certificate's subject.
    pub cn: Option<String>,
    /// `PP2_SUBTYPE_SSL_CIPHER` (0x23), e.g. `ECDHE-RSA-AES128-GCM-SHA256`.
    pub cipher: Option<String>,
    /// `PP2_SUBTYPE_SSL_SIG_ALG` (0x24): the client certificate's signature algorithm.
    pub sig_alg: Option<String>,
    /// `PP2_SUBTYPE_SSL_KEY_ALG` (0x25): the client certificate's key algorithm.
    pub key_alg: Option<String>,
    /// `PP2_SUBTYPE_SSL_GROUP` (0x26): the key exchange group, e.g. `X25519`.
    pub group: Option<String>,
    /// `PP2_SUBTYPE_SSL_SIG_SCHEME` (0x27): the handshake signature scheme.
    pub sig_scheme: Option<String>,
    /// `PP2_SUBTYPE_SSL_CLIENT_CERT` (0x28): the client certificate, DER.
    pub client_cert: Option<Vec<u8>>,
    /// Sub-TLVs of other types, in the order received.
    ///
    /// Encoding refuses entries of the types above, which have their own field.
    pub other: Vec<(u8, Vec<u8>)>,
}

impl Ssl {
    /// Whether the client presented a certificate and the sender verified it.
    pub fn client_cert_verified(&self) -> bool {
        self.client
            .intersects(SslClient::CERT_CONN | SslClient::CERT_SESS)
            && self.verify == 0
    }

    /// Parses the value of an SSL TLV.
    fn parse(value: &[u8]) -> Result<Self, ProxyProtocolError> {
        let Some((&[client, v0, v1, v2, v3], subs)) = value.split_first_chunk::<5>() else {
            return Err(ProxyProtocolError::BadTlvLength {
                kind: SSL,
                len: value.len(),
            });
        };
        let mut ssl = Ssl {
            client: SslClient(client),
            verify: u32::from_be_bytes([v0, v1, v2, v3]),
            ..Ssl::default()
        };
        for tlv in Iter::new(subs) {
            let Tlv { kind, value, .. } = tlv?;
            match kind {
                SSL_VERSION => set_once(&mut ssl.version, kind, utf8(kind, value)?)?,
                SSL_CN => set_once(&mut ssl.cn, kind, utf8(kind, value)?)?,
                SSL_CIPHER => set_once(&mut ssl.cipher, kind, utf8(kind, value)?)?,
                SSL_SIG_ALG => set_once(&mut ssl.sig_alg, kind, utf8(kind, value)?)?,
                SSL_KEY_ALG => set_once(&mut ssl.key_alg, kind, utf8(kind, value)?)?,
                SSL_GROUP => set_once(&mut ssl.group, kind, utf8(kind, value)?)?,
                SSL_SIG_SCHEME => set_once(&mut ssl.sig_scheme, kind, utf8(kind, value)?)?,
                SSL_CLIENT_CERT => set_once(&mut ssl.client_cert, kind, value.to_vec())?,
                _ => ssl.other.push((kind, value.to_vec())),
            }
        }
        Ok(ssl)
    }

    /// Appends the whole SSL TLV (type, length and value).
    fn encode(&self, out: &mut BytesMut) -> Result<(), ProxyProtocolError> {
        if self
            .other
            .iter()
            .any(|(kind, _)| (SSL_VERSION..=SSL_CLIENT_CERT).contains(kind))
        {
            return Err(ProxyProtocolError::Unencodable {
                reason: "Ssl::other holds a sub-TLV type that has its own field",
            });
        }
        let start = out.len();
        out.put_u8(SSL);
        out.put_u16(0); // patched below
        out.put_u8(self.client.0);
        out.put_u32(self.verify);
        let strings = [
            (SSL_VERSION, &self.version),
            (SSL_CN, &self.cn),
            (SSL_CIPHER, &self.cipher),
            (SSL_SIG_ALG, &self.sig_alg),
            (SSL_KEY_ALG, &self.key_alg),
            (SSL_GROUP, &self.group),
            (SSL_SIG_SCHEME, &self.sig_scheme),
        ];
        for (kind, value) in strings {
            if let Some(value) = value {
                put_tlv(out, kind, value.as_bytes())?;
            }
        }
        if let Some(cert) = &self.client_cert {
            put_tlv(out, SSL_CLIENT_CERT, cert)?;
        }
        for (kind, value) in &self.other {
            put_tlv(out, *kind, value)?;
        }
        patch_len(out, start)
    }
}

/// Which sub-TLVs of the client's TLS facts a sender puts in the `PP2_TYPE_SSL` TLV, as
/// HAProxy's server keywords choose them: `send-proxy-v2-ssl` sends the TLV with the
/// `client` bits, `verify` and the version; `send-proxy-v2-ssl-cn` adds the client
/// certificate's CN; `proxy-v2-options ssl-cipher` adds the cipher.
///
/// ```
/// use lb_tcp::proxy_protocol::{Ssl, SslClient, SslOptions};
///
/// let mut facts = Ssl::default();
/// facts.client = SslClient::SSL | SslClient::CERT_CONN | SslClient::CERT_SESS;
/// facts.version = Some("TLSv1.3".into());
/// facts.cn = Some("alice".into());
/// facts.cipher = Some("TLS_AES_128_GCM_SHA256".into());
/// let sent = facts.for_server(SslOptions { cn: true, ..SslOptions::default() });
/// assert_eq!(sent.cn.as_deref(), Some("alice"));
/// assert_eq!(sent.cipher, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SslOptions {
    /// `PP2_SUBTYPE_SSL_CN` (`send-proxy-v2-ssl-cn`, `proxy-v2-options cert-cn`).
    pub cn: bool,
    /// `PP2_SUBTYPE_SSL_CIPHER` (`proxy-v2-options ssl-cipher`).
    pub cipher: bool,
}

impl Ssl {
    /// The TLV a sender writes for a client connection with these TLS facts (`self`): the
    /// `client` bits, `verify` and the version always, the other sub-TLVs as `opts` says.
    /// HAProxy writes the TLV for clear connections too, empty: use
    /// [`Ssl::default`] for those.
    pub fn for_server(&self, opts: SslOptions) -> Ssl {
        Ssl {
            client: self.client,
            verify: self.verify,
            version: self.version.clone(),
            cn: self.cn.clone().filter(|_| opts.cn),
            cipher: self.cipher.clone().filter(|_| opts.cipher),
            ..Ssl::default()
        }
    }
}

/// Parses the TLVs of a v2 header.
///
/// `header` is the whole header (16 + len bytes), needed to verify the CRC32C; the TLVs
/// are `header[start..]`.
pub(super) fn parse(header: &[u8], start: usize) -> Result<Tlvs, ProxyProtocolError> {
    let mut tlvs = Tlvs::default();
    let block = header.get(start..).unwrap_or_default();
    for tlv in Iter::new(block) {
        let Tlv {
            kind,
            value,
            offset,
        } = tlv?;
        match kind {
            ALPN => set_once(&mut tlvs.alpn, kind, value.to_vec())?,
            AUTHORITY => set_once(&mut tlvs.authority, kind, utf8(kind, value)?)?,
            CRC32C => {
                if tlvs.crc32c {
                    return Err(ProxyProtocolError::DuplicateTlv { kind });
                }
                verify_crc32c(header, start + offset, value)?;
                tlvs.crc32c = true;
            }
            NOOP => {}
            UNIQUE_ID => {
                if value.len() > MAX_UNIQUE_ID_LEN {
                    return Err(ProxyProtocolError::UniqueIdTooLong { len: value.len() });
                }
                set_once(&mut tlvs.unique_id, kind, value.to_vec())?;
            }
            SSL => set_once(&mut tlvs.ssl, kind, Ssl::parse(value)?)?,
            NETNS => set_once(&mut tlvs.netns, kind, utf8(kind, value)?)?,
            _ => tlvs.other.push((kind, value.to_vec())),
        }
    }
    Ok(tlvs)
}

/// Appends the TLVs; returns the index in `out` of the CRC32C value if one was written
/// (zeroed, for the caller to fill in once the header is complete).
pub(super) fn encode(tlvs: &Tlvs, out: &mut BytesMut) -> Result<Option<usize>, ProxyProtocolError> {
    if let Some(id) = &tlvs.unique_id {
        if id.len() > MAX_UNIQUE_ID_LEN {
            return Err(ProxyProtocolError::UniqueIdTooLong { len: id.len() });
        }
    }
    if tlvs
        .other
        .iter()
        .any(|(kind, _)| matches!(*kind, ALPN | AUTHORITY | CRC32C | UNIQUE_ID | SSL | NETNS))
    {
        return Err(ProxyProtocolError::Unencodable {
            reason: "Tlvs::other holds a TLV type that has its own field",
        });
    }
    let crc_at = if tlvs.crc32c {
        put_tlv(out, CRC32C, &[0; 4])?;
        Some(out.len() - 4)
    } else {
        None
    };
    if let Some(alpn) = &tlvs.alpn {
        put_tlv(out, ALPN, alpn)?;
    }
    if let Some(authority) = &tlvs.authority {
        put_tlv(out, AUTHORITY, authority.as_bytes())?;
    }
    if let Some(id) = &tlvs.unique_id {
        put_tlv(out, UNIQUE_ID, id)?;
    }
    if let Some(ssl) = &tlvs.ssl {
        ssl.encode(out)?;
    }
    if let Some(netns) = &tlvs.netns {
        put_tlv(out, NETNS, netns.as_bytes())?;
    }
    for (kind, value) in &tlvs.other {
        put_tlv(out, *kind, value)?;
    }
    Ok(crc_at)
}

/// Checks the CRC32C TLV whose value sits at `header[at..at + 4]`: the checksum of the
/// whole header with those four bytes zeroed.
fn verify_crc32c(header: &[u8], at: usize, value: &[u8]) -> Result<(), ProxyProtocolError> {
    let Ok(&carried) = <&[u8; 4]>::try_from(value) else {
        return Err(ProxyProtocolError::BadTlvLength {
            kind: CRC32C,
            len: value.len(),
        });
    };
    let carried = u32::from_be_bytes(carried);
    let (before, rest) = header.split_at(at);
    let after = rest.get(4..).unwrap_or_default();
    let computed = Crc32c::new()
        .update(before)
        .update(&[0; 4])
        .update(after)
        .finish();
    if computed == carried {
        Ok(())
    } else {
        Err(ProxyProtocolError::Crc32cMismatch { carried, computed })
    }
}

/// Stores `value` in an empty `slot`; a second TLV of the same type is an error.
fn set_once<T>(slot: &mut Option<T>, kind: u8, value: T) -> Result<(), ProxyProtocolError> {
    if slot.is_some() {
        return Err(ProxyProtocolError::DuplicateTlv { kind });
    }
    *slot = Some(value);
    Ok(())
}

/// The value of a text TLV.
fn utf8(kind: u8, value: &[u8]) -> Result<String, ProxyProtocolError> {
    std::str::from_utf8(value)
        .map(str::to_owned)
        .map_err(|_| ProxyProtocolError::TlvNotUtf8 { kind })
}

/// Appends one TLV.
fn put_tlv(out: &mut BytesMut, kind: u8, value: &[u8]) -> Result<(), ProxyProtocolError> {
    let len = u16::try_from(value.len())
        .map_err(|_| ProxyProtocolError::HeaderTooLong { len: value.len() })?;
    out.reserve(TLV_HEADER_LEN + value.len());
    out.put_u8(kind);
    out.put_u16(len);
    out.put_slice(value);
    Ok(())
}

/// Fills in the length of the TLV that starts at `out[start]` and ends at `out.len()`.
fn patch_len(out: &mut BytesMut, start: usize) -> Result<(), ProxyProtocolError> {
    let len = out.len() - start - TLV_HEADER_LEN;
    let len16 = u16::try_from(len).map_err(|_| ProxyProtocolError::HeaderTooLong { len })?;
    out[start + 1..start + TLV_HEADER_LEN].copy_from_slice(&len16.to_be_bytes());
    Ok(())
}

/// One TLV found by [`Iter`].
struct Tlv<'a> {
    kind: u8,
    value: &'a [u8],
    /// Where `value` starts within the iterated block.
    offset: usize,
}

/// Walks a block of TLVs; the first TLV that runs past the block ends the walk with
/// [`TlvOverrun`](ProxyProtocolError::TlvOverrun).
struct Iter<'a> {
    block: &'a [u8],
    pos: usize,
}

impl<'a> Iter<'a> {
    fn new(block: &'a [u8]) -> Self {
        Self { block, pos: 0 }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Tlv<'a>, ProxyProtocolError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.block.get(self.pos..)?;
        let (&kind, after_kind) = rest.split_first()?;
        let parsed = after_kind
            .split_first_chunk::<2>()
            .and_then(|(&len, after_len)| after_len.get(..usize::from(u16::from_be_bytes(len))));
        let Some(value) = parsed else {
            self.pos = self.block.len();
            return Some(Err(ProxyProtocolError::TlvOverrun { kind }));
        };
        let offset = self.pos + TLV_HEADER_LEN;
        self.pos = offset + value.len();
        Some(Ok(Tlv {
            kind,
            value,
            offset,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_client_bits() {
        let both = SslClient::SSL | SslClient::CERT_SESS;
        assert_eq!(both.bits(), 0x05);
        assert!(both.contains(SslClient::SSL));
        assert!(!both.contains(SslClient::SSL | SslClient::CERT_CONN));
        assert!(both.intersects(SslClient::SSL | SslClient::CERT_CONN));
        assert!(!SslClient::empty().intersects(both));
        let mut bits = SslClient::from_bits(0x80);
        bits |= SslClient::CERT_CONN;
        assert_eq!(bits.bits(), 0x82, "unknown bits are kept");
    }

    #[test]
    fn verified_needs_a_certificate() {
        let mut ssl = Ssl {
            client: SslClient::SSL,
            ..Ssl::default()
        };
        assert!(!ssl.client_cert_verified(), "no certificate, verify 0");
        ssl.client |= SslClient::CERT_CONN;
        assert!(ssl.client_cert_verified());
        ssl.verify = 1;
        assert!(!ssl.client_cert_verified());
    }

    #[test]
    fn empty_tlvs_encode_to_nothing() {
        let mut out = BytesMut::new();
        assert_eq!(encode(&Tlvs::default(), &mut out).unwrap(), None);
        assert!(out.is_empty());
        assert!(Tlvs::default().is_empty());
        let noop_only = [NOOP, 0, 2, 0, 0];
        assert!(parse(&noop_only, 0).unwrap().is_empty());
    }

    #[test]
    fn noop_in_other_is_padding() {
        let tlvs = Tlvs {
            other: vec![(NOOP, vec![0; 3])],
            ..Tlvs::default()
        };
        let mut out = BytesMut::new();
        encode(&tlvs, &mut out).unwrap();
        assert_eq!(&out[..], &[NOOP, 0, 3, 0, 0, 0]);
        assert_eq!(parse(&out, 0).unwrap(), Tlvs::default());
    }

    #[test]
    fn ssl_other_may_not_shadow_a_field() {
        let tlvs = Tlvs {
            ssl: Some(Ssl {
                other: vec![(SSL_CN, b"cn".to_vec())],
                ..Ssl::default()
            }),
            ..Tlvs::default()
        };
        assert!(matches!(
            encode(&tlvs, &mut BytesMut::new()),
            Err(ProxyProtocolError::Unencodable { .. })
        ));
    }
}

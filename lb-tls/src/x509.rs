//! A minimal X.509 reader: just what the certificate store and the TLS facts need (the
//! subject and issuer names, the DNS names of the subjectAltName extension, the validity
//! end), by walking the DER by hand rather than pulling in a full parser.
//!
//! Signatures, constraints and the rest are not looked at here: webpki checks them during
//! handshakes. Anything unexpected is an error (`&'static str` reason), never a panic.

use std::fmt::Write as _;

/// DER tags used below.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0]` EXPLICIT (version).
const CTX_0: u8 = 0xA0;
/// `[3]` EXPLICIT (extensions).
const CTX_3: u8 = 0xA3;
/// `[2]` IMPLICIT IA5String: a `dNSName` in a GeneralName.
const DNS_NAME: u8 = 0x82;

/// `2.5.29.17`, subjectAltName.
const OID_SAN: &[u8] = &[0x55, 0x1D, 0x11];
/// `2.5.4.3`, commonName.
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];

/// Reads one TLV from the front of `input`: the tag and the value.
fn read_tlv<'a>(input: &mut &'a [u8]) -> Result<(u8, &'a [u8]), &'static str> {
    let (&tag, rest) = input.split_first().ok_or("truncated DER")?;
    if tag & 0x1F == 0x1F {
        return Err("multi-byte DER tags are not supported");
    }
    let (&first, mut rest) = rest.split_first().ok_or("truncated DER length")?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return Err("unsupported DER length");
        }
        let (bytes, after) = rest.split_at_checked(n).ok_or("truncated DER length")?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    let (value, after) = rest.split_at_checked(len).ok_or("truncated DER value")?;
    *input = after;
    Ok((tag, value))
}

/// Reads one TLV that must have tag `want`.
fn expect<'a>(
    input: &mut &'a [u8],
    want: u8,
    what: &'static str,
) -> Result<&'a [u8], &'static str> {
    match read_tlv(input)? {
        (tag, value) if tag == want => Ok(value),
        _ => Err(what),
    }
}

/// The tag of the next TLV, if any.
fn peek(input: &[u8]) -> Option<u8> {
    input.first().copied()
}

/// One attribute of a distinguished name: its type (OID value bytes) and text.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Attribute {
    oid: Vec<u8>,
    value: String,
}

/// A distinguished name: relative distinguished names (each one or more attributes) in
/// certificate order (most significant first, usually `C` ... `CN`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Name {
    rdns: Vec<Vec<Attribute>>,
}

impl Name {
    /// Parses the contents of a Name SEQUENCE.
    fn parse(mut input: &[u8]) -> Result<Self, &'static str> {
        let mut rdns = Vec::new();
        while !input.is_empty() {
            let mut set = expect(&mut input, SET, "a name component is not a SET")?;
            let mut rdn = Vec::new();
            while !set.is_empty() {
                let mut atv = expect(&mut set, SEQUENCE, "a name attribute is not a SEQUENCE")?;
                let oid = expect(&mut atv, OID, "a name attribute has no type")?;
                let (tag, raw) = read_tlv(&mut atv)?;
                rdn.push(Attribute {
                    oid: oid.to_vec(),
                    value: decode_string(tag, raw),
                });
            }
            rdns.push(rdn);
        }
        Ok(Self { rdns })
    }

    /// The last common name (the most specific one), if any.
    pub(crate) fn common_name(&self) -> Option<&str> {
        self.rdns
            .iter()
            .flatten()
            .rev()
            .find(|a| a.oid == OID_CN)
            .map(|a| a.value.as_str())
    }

    /// OpenSSL's one-line form, what HAProxy prints by default: `/C=FR/O=Example/CN=www`.
    pub(crate) fn oneline(&self) -> String {
        let mut out = String::new();
        for rdn in &self.rdns {
            out.push('/');
            for (i, a) in rdn.iter().enumerate() {
                if i > 0 {
                    out.push('+');
                }
                push_attribute_type(&mut out, &a.oid);
                out.push('=');
                out.push_str(&a.value);
            }
        }
        out
    }

    /// The RFC 2253 form (least significant first, comma separated, special characters
    /// escaped): `CN=www,O=Example,C=FR`.
    pub(crate) fn rfc2253(&self) -> String {
        let mut out = String::new();
        for (n, rdn) in self.rdns.iter().rev().enumerate() {
            if n > 0 {
                out.push(',');
            }
            for (i, a) in rdn.iter().enumerate() {
                if i > 0 {
                    out.push('+');
                }
                push_attribute_type(&mut out, &a.oid);
                out.push('=');
                push_escaped(&mut out, &a.value);
            }
        }
        out
    }
}

/// Appends the short name of an attribute type, or its dotted OID.
fn push_attribute_type(out: &mut String, oid: &[u8]) {
    let short = match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x04] => "SN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "street",
        [0x55, 0x04, 0x0A] => "O",
        [0x55, 0x04, 0x0B] => "OU",
        [0x55, 0x04, 0x0C] => "title",
        [0x55, 0x04, 0x2A] => "GN",
        [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01] => "emailAddress",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x01] => "UID",
        _ => {
            push_dotted_oid(out, oid);
            return;
        }
    };
    out.push_str(short);
}

/// Appends an OID in dotted form (`1.2.3`).
fn push_dotted_oid(out: &mut String, oid: &[u8]) {
    let mut arcs = Vec::new();
    let mut acc: u64 = 0;
    for &b in oid {
        acc = (acc << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
        }
    }
    let Some((&first, rest)) = arcs.split_first() else {
        return;
    };
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let _ = write!(out, "{a}.{b}");
    for arc in rest {
        let _ = write!(out, ".{arc}");
    }
}

/// Appends a value with RFC 2253 escaping.
fn push_escaped(out: &mut String, value: &str) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Decodes a directory string of any of the usual types; bytes that are not valid text
/// are replaced, never an error (a DN is for display and matching).
fn decode_string(tag: u8, raw: &[u8]) -> String {
    match tag {
        // BMPString: UTF-16BE.
        0x1E => {
            let units: Vec<u16> = raw
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        // UniversalString: UTF-32BE.
        0x1C => raw
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                char::from_u32(u32::from_be_bytes(b)).unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        // TeletexString: in practice Latin-1.
        0x14 => raw.iter().map(|&b| char::from(b)).collect(),
        // UTF8String, PrintableString, IA5String, VisibleString, NumericString, others.
        _ => String::from_utf8_lossy(raw).into_owned(),
    }
}

/// What the crate reads from a certificate.
#[derive(Clone, Debug)]
pub(crate) struct CertInfo {
    /// The subject.
    pub(crate) subject: Name,
    /// The issuer.
    pub(crate) issuer: Name,
    /// The `dNSName` entries of subjectAltName, as written.
    pub(crate) dns_names: Vec<String>,
    /// Validity end, as the raw time string (`YYMMDDHHMMSSZ` or `YYYYMMDDHHMMSSZ`).
    pub(crate) not_after: String,
}

impl CertInfo {
    /// Parses a DER certificate.
    pub(crate) fn parse(der: &[u8]) -> Result<Self, &'static str> {
        let mut input = der;
        let mut cert = expect(
            &mut input,
            SEQUENCE,
            "not a certificate (no outer SEQUENCE)",
        )?;
        if !input.is_empty() {
            return Err("trailing bytes after the certificate");
        }
        let mut tbs = expect(&mut cert, SEQUENCE, "no tbsCertificate")?;
        if peek(tbs) == Some(CTX_0) {
            read_tlv(&mut tbs)?;
        }
        expect(&mut tbs, INTEGER, "no serial number")?;
        expect(&mut tbs, SEQUENCE, "no signature algorithm")?;
        let issuer = Name::parse(expect(&mut tbs, SEQUENCE, "no issuer name")?)?;
        let mut validity = expect(&mut tbs, SEQUENCE, "no validity")?;
        read_time(&mut validity)?;
        let not_after = read_time(&mut validity)?;
        let subject = Name::parse(expect(&mut tbs, SEQUENCE, "no subject name")?)?;
        expect(&mut tbs, SEQUENCE, "no subject public key info")?;
        let mut dns_names = Vec::new();
        while !tbs.is_empty() {
            let (tag, value) = read_tlv(&mut tbs)?;
            if tag == CTX_3 {
                let mut v = value;
                let exts = expect(&mut v, SEQUENCE, "extensions are not a SEQUENCE")?;
                dns_names = san_dns_names(exts)?;
            }
        }
        Ok(Self {
            subject,
            issuer,
            dns_names,
            not_after,
        })
    }
}

/// Reads a UTCTime or GeneralizedTime as text.
fn read_time(input: &mut &[u8]) -> Result<String, &'static str> {
    match read_tlv(input)? {
        (UTC_TIME | GENERALIZED_TIME, raw) => Ok(String::from_utf8_lossy(raw).into_owned()),
        _ => Err("bad validity time"),
    }
}

/// The `dNSName`s of the subjectAltName extension, if present.
fn san_dns_names(mut exts: &[u8]) -> Result<Vec<String>, &'static str> {
    let mut names = Vec::new();
    while !exts.is_empty() {
        let mut ext = expect(&mut exts, SEQUENCE, "an extension is not a SEQUENCE")?;
        let oid = expect(&mut ext, OID, "an extension has no OID")?;
        if peek(ext) == Some(BOOLEAN) {
            read_tlv(&mut ext)?;
        }
        let mut value = expect(&mut ext, OCTET_STRING, "an extension has no value")?;
        if oid != OID_SAN {
            continue;
        }
        let mut general_names = expect(&mut value, SEQUENCE, "subjectAltName is not a SEQUENCE")?;
        while !general_names.is_empty() {
            let (tag, raw) = read_tlv(&mut general_names)?;
            if tag == DNS_NAME {
                let name = std::str::from_utf8(raw).map_err(|_| "a SAN DNS name is not ASCII")?;
                names.push(name.to_owned());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_oids() {
        let mut s = String::new();
        push_dotted_oid(
            &mut s,
            &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x02],
        );
        assert_eq!(s, "1.2.840.113549.1.9.2");
    }

    #[test]
    fn rfc2253_escapes() {
        let mut s = String::new();
        push_escaped(&mut s, " a,b+c ");
        assert_eq!(s, "\\ a\\,b\\+c\\ ");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 2, 3, 4, 5],
            &[0x30, 0x05, 0x30],
        ] {
            assert!(CertInfo::parse(input).is_err());
        }
        // Every prefix of a valid-looking header.
        let der = [
            0x30, 0x82, 0x01, 0x00, 0x30, 0x10, 0xA0, 0x03, 0x02, 0x01, 0x02,
        ];
        for n in 0..der.len() {
            assert!(CertInfo::parse(&der[..n]).is_err());
        }
    }

    #[test]
    fn bmp_and_teletex_strings() {
        assert_eq!(decode_string(0x1E, &[0, b'h', 0, b'i']), "hi");
        assert_eq!(decode_string(0x14, &[0xE9]), "é");
        assert_eq!(decode_string(0x1E, &[0, b'h', 0]), "h\0");
    }
}

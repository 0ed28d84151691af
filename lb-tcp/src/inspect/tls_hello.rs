//! The TLS ClientHello parser (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1).
//!
//! The ClientHello is read through the record layer: one handshake message spread over
//! one or more handshake records (RFC 8446 §5.1). Every length is checked against the
//! length that encloses it, so malformed input is [`Parse::Invalid`] as soon as the
//! offending bytes arrive, while any prefix of a valid hello is [`Parse::Incomplete`].

use std::borrow::Cow;

use super::{Parse, Stop};

/// Record content type `handshake`.
const CONTENT_HANDSHAKE: u8 = 22;
/// Handshake message type `client_hello`.
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const RECORD_HEADER_LEN: usize = 5;
const HANDSHAKE_HEADER_LEN: usize = 4;
/// A plaintext record carries at most 2^14 bytes (RFC 8446 §5.1).
const MAX_RECORD_LEN: usize = 1 << 14;
const RANDOM_LEN: usize = 32;
const MAX_SESSION_ID_LEN: usize = 32;

const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
/// `NameType` `host_name` in the server_name extension.
const NAME_TYPE_HOST_NAME: u8 = 0;

/// What a TLS ClientHello says about the connection the client wants.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHelloFacts {
    /// The server name (SNI `host_name`), lowercased.
    ///
    /// `None` when the extension is absent or the name is not a valid DNS name: labels of
    /// 1 to 63 letters, digits, `-` (not at either end) or `_`, at most 253 bytes, no
    /// trailing dot, and not an IPv4 literal (RFC 6066 forbids IP addresses).
    pub sni: Option<String>,
    /// The ALPN protocol names, in the client's order of preference.
    pub alpn: Vec<Vec<u8>>,
    /// The ClientHello `legacy_version` field (`0x0303` for TLS 1.2 and 1.3).
    pub legacy_version: u16,
    /// The highest version offered: the largest non-GREASE entry of `supported_versions`
    /// (`0x0304` for TLS 1.3) if present, else `legacy_version`.
    pub max_version: u16,
    /// `false` when inspection stopped before the whole ClientHello arrived; the other
    /// fields then hold what was received in full (an extension not yet received reads
    /// as absent).
    pub complete: bool,
}

/// Parses a TLS ClientHello at the start of `buf`, record headers included.
///
/// The hello may span several handshake records; bytes after it are ignored.
///
/// # Examples
///
/// ```
/// use lb_tcp::inspect::{parse_client_hello, Parse};
///
/// // A handshake record header and the start of a ClientHello: wait for more.
/// assert_eq!(parse_client_hello(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01]), Parse::Incomplete);
/// // Plain text is not TLS.
/// assert_eq!(parse_client_hello(b"GET / HTTP/1.1\r\n"), Parse::Invalid);
/// ```
pub fn parse_client_hello(buf: &[u8]) -> Parse<ClientHelloFacts> {
    let mut facts = ClientHelloFacts::default();
    let parsed = reassemble(buf).and_then(|msg| parse_message(&msg, &mut facts));
    Parse::from(parsed.map(|()| ClientHelloFacts {
        complete: true,
        ..facts
    }))
}

/// The facts of a ClientHello cut short, once its handshake header is in: `None` when the
/// bytes are not a (prefix of a) ClientHello or hold too little of one.
pub(super) fn parse_partial(buf: &[u8]) -> Option<ClientHelloFacts> {
    let msg = reassemble(buf).ok()?;
    if msg.len() < HANDSHAKE_HEADER_LEN {
        return None;
    }
    let mut facts = ClientHelloFacts::default();
    match parse_message(&msg, &mut facts) {
        Ok(()) => Some(ClientHelloFacts {
            complete: true,
            ..facts
        }),
        Err(Stop::Incomplete) => Some(facts),
        Err(Stop::Invalid) => None,
    }
}

/// Collects the handshake bytes from the leading records, up to the end of the first
/// handshake message once its length is known.
///
/// Only invalid record headers are errors; the caller sees truncation as a short message.
fn reassemble(mut rest: &[u8]) -> Result<Cow<'_, [u8]>, Stop> {
    let mut msg: Cow<'_, [u8]> = Cow::Borrowed(&[]);
    loop {
        if let Some(len) = message_len(&msg) {
            if msg.len() >= len {
                return Ok(truncate(msg, len));
            }
        }
        let Some(&content_type) = rest.first() else {
            return Ok(msg);
        };
        if content_type != CONTENT_HANDSHAKE {
            return Err(Stop::Invalid);
        }
        // legacy_record_version is 0x03xx.
        if rest.get(1).is_some_and(|&major| major != 3) {
            return Err(Stop::Invalid);
        }
        let Some(header) = rest.get(..RECORD_HEADER_LEN) else {
            return Ok(msg);
        };
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        // Zero-length handshake fragments are forbidden (RFC 8446 §5.1).
        if len == 0 || len > MAX_RECORD_LEN {
            return Err(Stop::Invalid);
        }
        let body = &rest[RECORD_HEADER_LEN..];
        let fragment = &body[..len.min(body.len())];
        if msg.is_empty() {
            msg = Cow::Borrowed(fragment);
        } else {
            msg.to_mut().extend_from_slice(fragment);
        }
        if fragment.len() < len {
            return Ok(msg);
        }
        rest = &body[len..];
    }
}

/// The length of the whole handshake message, header included, once the header is in.
fn message_len(msg: &[u8]) -> Option<usize> {
    match msg {
        [_, a, b, c, ..] => Some(HANDSHAKE_HEADER_LEN + u24(*a, *b, *c)),
        _ => None,
    }
}

fn truncate(msg: Cow<'_, [u8]>, len: usize) -> Cow<'_, [u8]> {
    match msg {
        Cow::Borrowed(b) => Cow::Borrowed(&b[..len.min(b.len())]),
        Cow::Owned(mut v) => {
            v.truncate(len);
            Cow::Owned(v)
        }
    }
}

fn u24(a: u8, b: u8, c: u8) -> usize {
    (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c)
}

/// Parses the handshake message `msg` (header included), filling `facts` as fields are
/// read in full.
fn parse_message(msg: &[u8], facts: &mut ClientHelloFacts) -> Result<(), Stop> {
    match msg.first() {
        None => return Err(Stop::Incomplete),
        Some(&HANDSHAKE_CLIENT_HELLO) => {}
        Some(_) => return Err(Stop::Invalid),
    }
    let len = message_len(msg).ok_or(Stop::Incomplete)?;
    let mut body = Reader::new(msg, HANDSHAKE_HEADER_LEN, len);

    let legacy_version = body.u16()?;
    if legacy_version >> 8 != 3 {
        return Err(Stop::Invalid);
    }
    facts.legacy_version = legacy_version;
    facts.max_version = legacy_version;

    body.take(RANDOM_LEN)?;
    let session_id_len = usize::from(body.u8()?);
    if session_id_len > MAX_SESSION_ID_LEN {
        return Err(Stop::Invalid);
    }
    body.take(session_id_len)?;
    // cipher_suites<2..2^16-2>, two bytes each.
    let suites_len = usize::from(body.u16()?);
    if suites_len < 2 || suites_len % 2 != 0 {
        return Err(Stop::Invalid);
    }
    body.take(suites_len)?;
    // legacy_compression_methods<1..2^8-1>
    let compression_len = usize::from(body.u8()?);
    if compression_len == 0 {
        return Err(Stop::Invalid);
    }
    body.take(compression_len)?;
    // Hellos from before extensions (SSLv3, some TLS 1.0 clients) end here.
    if body.is_done() {
        return Ok(());
    }
    let extensions_len = usize::from(body.u16()?);
    let mut extensions = body.sub(extensions_len)?;
    body.finish()?;

    let mut seen = Seen::default();
    while !extensions.is_done() {
        let ty = extensions.u16()?;
        let len = usize::from(extensions.u16()?);
        let mut data = extensions.sub(len)?;
        match ty {
            EXT_SERVER_NAME => {
                seen.once(ty)?;
                facts.sni = server_name(&mut data)?;
            }
            EXT_ALPN => {
                seen.once(ty)?;
                facts.alpn = alpn(&mut data)?;
            }
            EXT_SUPPORTED_VERSIONS => {
                seen.once(ty)?;
                if let Some(max) = supported_versions(&mut data)? {
                    facts.max_version = max;
                }
            }
            _ => {}
        }
    }
    // The records may hold only part of the message: make sure all of it is here.
    if msg.len() < len {
        return Err(Stop::Incomplete);
    }
    Ok(())
}

/// The extensions we parse may appear once each (RFC 8446 §4.2).
#[derive(Default)]
struct Seen {
    server_name: bool,
    alpn: bool,
    supported_versions: bool,
}

impl Seen {
    fn once(&mut self, ty: u16) -> Result<(), Stop> {
        let flag = match ty {
            EXT_SERVER_NAME => &mut self.server_name,
            EXT_ALPN => &mut self.alpn,
            _ => &mut self.supported_versions,
        };
        if std::mem::replace(flag, true) {
            return Err(Stop::Invalid);
        }
        Ok(())
    }
}

/// `ServerNameList` (RFC 6066 §3): the first `host_name`, if it is a valid DNS name.
fn server_name(data: &mut Reader<'_>) -> Result<Option<String>, Stop> {
    let list_len = usize::from(data.u16()?);
    if list_len == 0 {
        return Err(Stop::Invalid);
    }
    let mut list = data.sub(list_len)?;
    data.finish()?;
    let mut host_name = None;
    while !list.is_done() {
        let name_type = list.u8()?;
        let len = usize::from(list.u16()?);
        if len == 0 {
            return Err(Stop::Invalid);
        }
        let name = list.take(len)?;
        if name_type == NAME_TYPE_HOST_NAME {
            // At most one name per type.
            if host_name.replace(name).is_some() {
                return Err(Stop::Invalid);
            }
        }
    }
    Ok(host_name.and_then(dns_name))
}

/// `ProtocolNameList` (RFC 7301 §3.1).
fn alpn(data: &mut Reader<'_>) -> Result<Vec<Vec<u8>>, Stop> {
    let list_len = usize::from(data.u16()?);
    if list_len < 2 {
        return Err(Stop::Invalid);
    }
    let mut list = data.sub(list_len)?;
    data.finish()?;
    let mut protocols = Vec::new();
    while !list.is_done() {
        let len = usize::from(list.u8()?);
        if len == 0 {
            return Err(Stop::Invalid);
        }
        protocols.push(list.take(len)?.to_vec());
    }
    Ok(protocols)
}

/// `SupportedVersions` in a ClientHello (RFC 8446 §4.2.1): the highest non-GREASE version.
fn supported_versions(data: &mut Reader<'_>) -> Result<Option<u16>, Stop> {
    let list_len = usize::from(data.u8()?);
    if list_len < 2 || list_len % 2 != 0 {
        return Err(Stop::Invalid);
    }
    let mut list = data.sub(list_len)?;
    data.finish()?;
    let mut max = None;
    while !list.is_done() {
        let version = list.u16()?;
        if !is_grease(version) {
            max = max.max(Some(version));
        }
    }
    Ok(max)
}

/// GREASE values (RFC 8701) are `0x?a?a` with both bytes equal.
const fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// Validates and lowercases a DNS host name; `None` if it is not one.
fn dns_name(raw: &[u8]) -> Option<String> {
    if raw.is_empty() || raw.len() > 253 {
        return None;
    }
    let mut last_label_numeric = false;
    for label in raw.split(|&b| b == b'.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with(b"-")
            && !label.ends_with(b"-")
            && label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return None;
        }
        last_label_numeric = label.iter().all(u8::is_ascii_digit);
    }
    if last_label_numeric {
        return None;
    }
    let mut name = String::from_utf8(raw.to_vec()).ok()?;
    name.make_ascii_lowercase();
    Some(name)
}

/// A cursor over a length-delimited field whose bytes may have arrived only in part.
///
/// `end` is the declared end of the field, `buf.len()` what arrived so far: reading
/// past `end` is [`Stop::Invalid`], past what arrived [`Stop::Incomplete`].
#[derive(Debug)]
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    const fn new(buf: &'a [u8], pos: usize, end: usize) -> Self {
        Self { buf, pos, end }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        let end = self.advance(n)?;
        let start = self.pos;
        let bytes = self.buf.get(start..end).ok_or(Stop::Incomplete)?;
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, Stop> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Stop> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Splits off the next `n` bytes as a nested field, whether they arrived or not.
    fn sub(&mut self, n: usize) -> Result<Reader<'a>, Stop> {
        let end = self.advance(n)?;
        let sub = Reader::new(self.buf, self.pos, end);
        self.pos = end;
        Ok(sub)
    }

    /// The position `n` bytes on, if within the field.
    fn advance(&self, n: usize) -> Result<usize, Stop> {
        self.pos
            .checked_add(n)
            .filter(|&end| end <= self.end)
            .ok_or(Stop::Invalid)
    }

    const fn is_done(&self) -> bool {
        self.pos >= self.end
    }

    /// The field must have been read to its end.
    const fn finish(&self) -> Result<(), Stop> {
        if self.pos == self.end {
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Test fixtures, built by hand from the RFC 8446 structures.
    pub(crate) mod build {
        fn u16_prefixed(body: &[u8]) -> Vec<u8> {
            let mut out = u16::try_from(body.len())
                .expect("test vector fits")
                .to_be_bytes()
                .to_vec();
            out.extend_from_slice(body);
            out
        }

        fn u8_prefixed(body: &[u8]) -> Vec<u8> {
            let mut out = vec![u8::try_from(body.len()).expect("test vector fits")];
            out.extend_from_slice(body);
            out
        }

        /// An extension: type, then length-prefixed data.
        pub(crate) fn extension(ty: u16, data: &[u8]) -> Vec<u8> {
            let mut out = ty.to_be_bytes().to_vec();
            out.extend(u16_prefixed(data));
            out
        }

        /// server_name with one host_name.
        pub(crate) fn sni(name: &str) -> Vec<u8> {
            let mut entry = vec![0];
            entry.extend(u16_prefixed(name.as_bytes()));
            extension(0, &u16_prefixed(&entry))
        }

        pub(crate) fn alpn(protocols: &[&[u8]]) -> Vec<u8> {
            let list: Vec<u8> = protocols.iter().flat_map(|p| u8_prefixed(p)).collect();
            extension(16, &u16_prefixed(&list))
        }

        pub(crate) fn supported_versions(versions: &[u16]) -> Vec<u8> {
            let list: Vec<u8> = versions.iter().flat_map(|v| v.to_be_bytes()).collect();
            extension(43, &u8_prefixed(&list))
        }

        /// A ClientHello handshake message (header included) with these extensions.
        pub(crate) fn hello_message(extensions: &[Vec<u8>]) -> Vec<u8> {
            let mut body = vec![0x03, 0x03]; // legacy_version TLS 1.2
            body.extend([0x5a; 32]); // random
            body.extend(u8_prefixed(&[0x11; 32])); // legacy_session_id
            body.extend(u16_prefixed(&[0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f])); // suites
            body.extend(u8_prefixed(&[0])); // compression: null
            body.extend(u16_prefixed(&extensions.concat()));
            let len = u32::try_from(body.len()).expect("test vector fits");
            let mut msg = vec![1];
            msg.extend(&len.to_be_bytes()[1..]);
            msg.extend(body);
            msg
        }

        /// The message in handshake records of at most `fragment` bytes each.
        pub(crate) fn records(msg: &[u8], fragment: usize) -> Vec<u8> {
            msg.chunks(fragment)
                .flat_map(|chunk| {
                    let mut record = vec![22, 0x03, 0x01];
                    record.extend(u16_prefixed(chunk));
                    record
                })
                .collect()
        }

        /// The message split into two records at `at`.
        pub(crate) fn two_records(msg: &[u8], at: usize) -> Vec<u8> {
            let mut out = records(&msg[..at], usize::MAX);
            out.extend(records(&msg[at..], usize::MAX));
            out
        }

        /// A TLS 1.3 ClientHello for example.com offering h2 and http/1.1, in one record.
        pub(crate) fn example_hello() -> Vec<u8> {
            records(&example_message(), usize::MAX)
        }

        pub(crate) fn example_message() -> Vec<u8> {
            hello_message(&[
                extension(0xbaba, &[]), // GREASE
                sni("example.com"),
                extension(10, &[0x00, 0x02, 0x00, 0x1d]), // supported_groups: x25519
                alpn(&[b"h2", b"http/1.1"]),
                supported_versions(&[0x3a3a, 0x0304, 0x0303]),
            ])
        }
    }

    fn example_facts() -> ClientHelloFacts {
        ClientHelloFacts {
            sni: Some("example.com".to_owned()),
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            legacy_version: 0x0303,
            max_version: 0x0304,
            complete: true,
        }
    }

    #[test]
    fn parses_example_hello() {
        let hello = build::example_hello();
        assert_eq!(parse_client_hello(&hello), Parse::Complete(example_facts()));
    }

    #[test]
    fn ignores_bytes_after_the_hello() {
        let mut hello = build::example_hello();
        hello.extend([23, 3, 3, 0, 1, 0xff]); // an application data record
        assert_eq!(parse_client_hello(&hello), Parse::Complete(example_facts()));
    }

    #[test]
    fn hello_split_over_two_records_at_every_point() {
        let msg = build::example_message();
        for at in 1..msg.len() {
            let hello = build::two_records(&msg, at);
            assert_eq!(
                parse_client_hello(&hello),
                Parse::Complete(example_facts()),
                "at {at}"
            );
        }
    }

    #[test]
    fn hello_fragmented_over_many_records() {
        let msg = build::example_message();
        for fragment in [1, 3, 7, 64] {
            let hello = build::records(&msg, fragment);
            assert_eq!(parse_client_hello(&hello), Parse::Complete(example_facts()));
        }
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let msg = build::example_message();
        for hello in [
            build::example_hello(),
            build::two_records(&msg, 40),
            build::records(&msg, 5),
        ] {
            for len in 0..hello.len() {
                assert_eq!(
                    parse_client_hello(&hello[..len]),
                    Parse::Incomplete,
                    "len {len}"
                );
            }
        }
    }

    #[test]
    fn partial_facts_hold_what_arrived_in_full() {
        let hello = build::example_hello();
        // Cut inside the ALPN extension: the SNI is in, the ALPN list is not.
        let alpn_at = hello
            .windows(2)
            .position(|w| w == b"h2")
            .expect("fixture has h2");
        let partial = parse_partial(&hello[..alpn_at]).expect("a ClientHello prefix");
        assert_eq!(partial.sni.as_deref(), Some("example.com"));
        assert!(partial.alpn.is_empty());
        assert_eq!(partial.max_version, 0x0303);
        assert!(!partial.complete);

        // The handshake header is in: TLS, nothing more known.
        assert_eq!(
            parse_partial(&hello[..9]).map(|f| f.legacy_version),
            Some(0)
        );
        assert_eq!(parse_partial(&hello[..8]), None);
        assert_eq!(parse_partial(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(parse_partial(&hello), Some(example_facts()));
    }

    #[test]
    fn sni_is_lowercased() {
        let msg = build::hello_message(&[build::sni("WWW.Example.COM")]);
        let facts = parse_client_hello(&build::records(&msg, usize::MAX)).complete();
        assert_eq!(
            facts.and_then(|f| f.sni),
            Some("www.example.com".to_owned())
        );
    }

    #[test]
    fn invalid_dns_names_are_dropped() {
        let long_label = "a".repeat(64);
        let long_name = ["abc"; 64].join(".");
        for name in [
            "exa mple.com",
            "example.com.",
            "-example.com",
            "example-.com",
            "a..b",
            "192.0.2.1",
            "caf\u{e9}.example",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            let msg = build::hello_message(&[build::sni(name)]);
            let parsed = parse_client_hello(&build::records(&msg, usize::MAX));
            let facts = parsed.complete().expect("still a valid hello");
            assert_eq!(facts.sni, None, "{name:?}");
        }
        for name in [
            "_acme.example.com",
            "xn--caf-dma.example",
            "1.example",
            "localhost",
        ] {
            let msg = build::hello_message(&[build::sni(name)]);
            let parsed = parse_client_hello(&build::records(&msg, usize::MAX));
            assert_eq!(parsed.complete().and_then(|f| f.sni).as_deref(), Some(name));
        }
    }

    #[test]
    fn hello_without_extensions() {
        let mut msg = build::hello_message(&[]);
        msg.truncate(msg.len() - 2); // drop the empty extensions block
        msg[3] -= 2; // and its two length bytes from the message length
        let facts = parse_client_hello(&build::records(&msg, usize::MAX)).complete();
        let facts = facts.expect("valid");
        assert_eq!((facts.sni, facts.alpn.len()), (None, 0));
        assert_eq!(facts.max_version, 0x0303);
    }

    #[test]
    fn grease_only_versions_keep_the_legacy_version() {
        let msg = build::hello_message(&[build::supported_versions(&[0x0a0a, 0xfafa])]);
        let facts = parse_client_hello(&build::records(&msg, usize::MAX)).complete();
        assert_eq!(facts.map(|f| f.max_version), Some(0x0303));
        assert!(is_grease(0x2a2a) && !is_grease(0x0304) && !is_grease(0x0a1a));
    }

    fn invalid(bytes: &[u8]) {
        assert_eq!(parse_client_hello(bytes), Parse::Invalid, "{bytes:02x?}");
    }

    #[test]
    fn garbage_is_invalid() {
        invalid(b"GET / HTTP/1.1\r\n\r\n");
        invalid(b"SSH-2.0-OpenSSH_9.6\r\n");
        invalid(&[0x80, 0x2e, 0x01, 0x03, 0x01]); // SSLv2-compatible hello
        invalid(&[23, 3, 3, 0, 5, 1, 2, 3, 4, 5]); // application data
        invalid(&[22, 2]); // record version 0x02xx
        invalid(&[22, 3, 1, 0, 0]); // empty record
        invalid(&[22, 3, 1, 0x40, 0x01]); // record longer than 2^14
        invalid(&[22, 3, 1, 0, 4, 2, 0, 0, 0]); // ServerHello
        invalid(&[22, 3, 1, 0, 6, 1, 0, 0, 2, 0x02, 0x00]); // hello legacy_version 0x0200
    }

    /// The example hello with one byte of the message replaced.
    fn patched(offset: usize, value: u8) -> Vec<u8> {
        let mut msg = build::example_message();
        msg[offset] = value;
        build::records(&msg, usize::MAX)
    }

    #[test]
    fn bad_lengths_are_invalid() {
        // Offsets in the handshake message: 4 header, 2 version, 32 random, then the
        // session id length at 38, suites length at 71..73, compression length at 79.
        invalid(&patched(38, 33)); // session id over 32 bytes
        invalid(&patched(72, 5)); // odd cipher suites length
        invalid(&patched(72, 0)); // no cipher suites
        invalid(&patched(79, 0)); // no compression methods
        invalid(&patched(81, 0xff)); // extensions overrun the message

        // Trailing bytes inside the message.
        let mut msg = build::example_message();
        msg.push(0);
        msg[3] += 1;
        invalid(&build::records(&msg, usize::MAX));

        // A length field that overruns its extension.
        let msg = build::hello_message(&[build::extension(16, &[0, 9, 2, b'h', b'2'])]);
        invalid(&build::records(&msg, usize::MAX));
        // An empty ALPN name.
        let msg = build::hello_message(&[build::extension(16, &[0, 3, 0, 1, b'x'])]);
        invalid(&build::records(&msg, usize::MAX));
        // Two host names.
        let two = [0, 10, 0, 0, 2, b'a', b'b', 0, 0, 2, b'c', b'd'];
        let msg = build::hello_message(&[build::extension(0, &two)]);
        invalid(&build::records(&msg, usize::MAX));
        // An odd supported_versions list.
        let msg = build::hello_message(&[build::extension(43, &[3, 3, 4, 3])]);
        invalid(&build::records(&msg, usize::MAX));
    }

    #[test]
    fn duplicate_extensions_are_invalid() {
        let msg = build::hello_message(&[build::sni("a.example"), build::sni("b.example")]);
        invalid(&build::records(&msg, usize::MAX));
        let msg = build::hello_message(&[build::alpn(&[b"h2"]), build::alpn(&[b"h2"])]);
        invalid(&build::records(&msg, usize::MAX));
    }

    #[test]
    fn invalid_prefixes_are_invalid_early() {
        // The bad session id length is caught before the rest arrives.
        let hello = patched(38, 33);
        invalid(&hello[..5 + 39]);
    }

    #[test]
    fn interleaved_records_are_invalid() {
        let msg = build::example_message();
        let mut hello = build::records(&msg[..20], usize::MAX);
        hello.extend([21, 3, 3, 0, 2, 1, 0]); // an alert between the fragments
        hello.extend(build::records(&msg[20..], usize::MAX));
        invalid(&hello);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_client_hello(&bytes);
            let _ = parse_partial(&bytes);
        }

        #[test]
        fn never_panics_behind_a_valid_header(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            fragment in 1usize..600,
        ) {
            let len = u32::try_from(body.len()).expect("small");
            let mut msg = vec![1];
            msg.extend(&len.to_be_bytes()[1..]);
            msg.extend(body);
            let _ = parse_client_hello(&build::records(&msg, fragment));
        }

        #[test]
        fn mutated_hellos_never_panic(offset in 0usize..200, value in any::<u8>()) {
            let mut msg = build::example_message();
            let offset = offset % msg.len();
            msg[offset] = value;
            let hello = build::records(&msg, 50);
            let _ = parse_client_hello(&hello);
            let _ = parse_partial(&hello);
        }
    }
}

//! [`read_header`] over scripted IO, and property tests of the whole module.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;
use tokio_test::io::Builder;

use super::*;

const TIMEOUT: Duration = Duration::from_secs(5);

fn v2_ipv4() -> ProxyHeader {
    ProxyHeader::v2(
        "192.0.2.1:56324".parse().unwrap(),
        "198.51.100.2:443".parse().unwrap(),
    )
}

/// Reads `io` to its end, for scripts with bytes left after the header.
async fn rest<I: AsyncRead + Unpin>(io: &mut I) -> Vec<u8> {
    let mut rest = Vec::new();
    io.read_to_end(&mut rest).await.unwrap();
    rest
}

#[test]
fn ssl_for_server_keeps_what_haproxy_sends() {
    let facts = Ssl {
        client: SslClient::SSL | SslClient::CERT_CONN | SslClient::CERT_SESS,
        verify: 0,
        version: Some("TLSv1.3".into()),
        cn: Some("alice".into()),
        cipher: Some("TLS_AES_128_GCM_SHA256".into()),
        group: Some("X25519".into()),
        client_cert: Some(vec![0x30, 0x00]),
        ..Ssl::default()
    };

    // send-proxy-v2-ssl: bits, verify, version.
    let plain = facts.for_server(SslOptions::default());
    assert_eq!(plain.client, facts.client);
    assert_eq!(plain.version.as_deref(), Some("TLSv1.3"));
    assert_eq!((plain.cn.as_ref(), plain.cipher.as_ref()), (None, None));
    assert_eq!(
        (plain.group.as_ref(), plain.client_cert.as_ref()),
        (None, None)
    );
    // send-proxy-v2-ssl-cn: plus the CN; ssl-cipher: plus the cipher.
    let all = facts.for_server(SslOptions {
        cn: true,
        cipher: true,
    });
    assert_eq!(all.cn.as_deref(), Some("alice"));
    assert_eq!(all.cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));

    // On the wire: type 0x20, client 0x07, verify 0, then VERSION (0x21) and CN (0x22).
    let tlvs = Tlvs {
        ssl: Some(facts.for_server(SslOptions {
            cn: true,
            cipher: false,
        })),
        ..Tlvs::default()
    };
    let bytes = v2_ipv4().with_tlvs(tlvs.clone()).to_bytes().unwrap();
    let tlv = &bytes[16 + 12..];
    let mut want = vec![0x20, 0x00, 23, 0x07, 0, 0, 0, 0];
    want.extend_from_slice(&[0x21, 0x00, 7]);
    want.extend_from_slice(b"TLSv1.3");
    want.extend_from_slice(&[0x22, 0x00, 5]);
    want.extend_from_slice(b"alice");
    assert_eq!(tlv, &want[..]);
    match parse(&bytes).unwrap() {
        Parsed::Complete { header, .. } => assert_eq!(header.tlvs, tlvs),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn v1_with_payload_in_the_same_read() {
    let mut io = Builder::new()
        .read(b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n")
        .build();
    let (header, leftover) = read_header(&mut io, TIMEOUT).await.unwrap();
    assert_eq!(
        header,
        ProxyHeader {
            version: Version::V1,
            ..v2_ipv4()
        }
    );
    // The line was read in chunks of at most 107 bytes: the payload after it is handed back.
    let mut payload = leftover.to_vec();
    payload.extend(rest(&mut io).await);
    assert_eq!(payload, b"GET / HTTP/1.1\r\n");
}

#[tokio::test]
async fn v1_byte_at_a_time() {
    let line = b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n";
    let mut builder = Builder::new();
    for byte in line.iter().chain(b"payload") {
        builder.read(std::slice::from_ref(byte));
    }
    let mut io = builder.build();
    let (header, leftover) = read_header(&mut io, TIMEOUT).await.unwrap();
    assert_eq!(header.source(), Some("[2001:db8::1]:1".parse().unwrap()));
    assert!(leftover.is_empty());
    assert_eq!(rest(&mut io).await, b"payload");
}

#[tokio::test]
async fn v2_byte_at_a_time() {
    let tlvs = Tlvs {
        crc32c: true,
        unique_id: Some(b"abc".to_vec()),
        ..Tlvs::default()
    };
    let sent = v2_ipv4().with_tlvs(tlvs);
    let bytes = sent.to_bytes().unwrap();
    let mut builder = Builder::new();
    for byte in bytes.iter().chain(b"payload") {
        builder.read(std::slice::from_ref(byte));
    }
    let mut io = builder.build();
    let (header, leftover) = read_header(&mut io, TIMEOUT).await.unwrap();
    assert_eq!(header, sent);
    assert!(leftover.is_empty());
    assert_eq!(rest(&mut io).await, b"payload");
}

#[tokio::test]
async fn v2_reads_exactly_the_header() {
    let mut bytes = v2_ipv4().to_bytes().unwrap().to_vec();
    bytes.extend_from_slice(b"\x16\x03\x01 client hello");
    let mut io = Builder::new().read(&bytes).build();
    let (header, leftover) = read_header(&mut io, TIMEOUT).await.unwrap();
    assert_eq!(header, v2_ipv4());
    assert!(leftover.is_empty(), "read past a v2 header: {leftover:?}");
    assert_eq!(rest(&mut io).await, b"\x16\x03\x01 client hello");
}

/// Server-speaks-first protocols (SMTP, MySQL): the client sends the header and waits.
#[tokio::test(start_paused = true)]
async fn header_alone_does_not_wait_for_more() {
    for bytes in [
        &b"PROXY UNKNOWN\r\n"[..],
        &ProxyHeader::local().to_bytes().unwrap(),
        &v2_ipv4().to_bytes().unwrap(),
    ] {
        let mut io = Builder::new()
            .read(bytes)
            .wait(Duration::from_secs(3600))
            .build();
        let start = Instant::now();
        let (_, leftover) = read_header(&mut io, TIMEOUT).await.unwrap();
        assert!(leftover.is_empty());
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}

#[tokio::test(start_paused = true)]
async fn times_out_on_a_stalled_header() {
    let mut io = Builder::new()
        .read(b"PROXY TCP4 ")
        .wait(Duration::from_secs(60))
        .build();
    let start = Instant::now();
    let err = read_header(&mut io, Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyProtocolError::Timeout), "{err}");
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test]
async fn eof_inside_the_header() {
    let mut io = Builder::new().read(b"PROXY TCP4 192.0").build();
    let err = read_header(&mut io, TIMEOUT).await.unwrap_err();
    assert!(
        matches!(err, ProxyProtocolError::UnexpectedEof { read: 16 }),
        "{err}"
    );

    let mut io = Builder::new().build();
    let err = read_header(&mut io, TIMEOUT).await.unwrap_err();
    assert!(
        matches!(err, ProxyProtocolError::UnexpectedEof { read: 0 }),
        "{err}"
    );
}

#[tokio::test]
async fn io_errors_pass_through() {
    let mut io = Builder::new()
        .read(b"PROXY ")
        .read_error(io::Error::new(io::ErrorKind::ConnectionReset, "reset"))
        .build();
    let err = read_header(&mut io, TIMEOUT).await.unwrap_err();
    assert!(
        matches!(&err, ProxyProtocolError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset),
        "{err}"
    );
}

#[tokio::test]
async fn rejects_without_reading_much() {
    let mut io = Builder::new().read(b"GET / HTTP/1.1\r\n").build();
    let err = read_header(&mut io, TIMEOUT).await.unwrap_err();
    assert!(matches!(err, ProxyProtocolError::BadSignature), "{err}");

    // No CRLF: the verdict comes after 107 bytes; the rest is never read.
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(200, b'x');
    let mut io = Builder::new().read(&line).build();
    let err = read_header(&mut io, TIMEOUT).await.unwrap_err();
    assert!(matches!(err, ProxyProtocolError::V1LineTooLong), "{err}");
    assert_eq!(rest(&mut io).await.len(), 200 - V1_MAX_LEN);
}

// ---- property tests ----

fn inet_pair() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
    prop_oneof![
        any::<([u8; 4], u16, [u8; 4], u16)>()
            .prop_map(|(s, sp, d, dp)| { (SocketAddr::from((s, sp)), SocketAddr::from((d, dp))) }),
        any::<([u8; 16], u16, [u8; 16], u16)>().prop_map(|(s, sp, d, dp)| {
            (
                SocketAddr::new(IpAddr::from(s), sp),
                SocketAddr::new(IpAddr::from(d), dp),
            )
        }),
    ]
}

/// A `sun_path` as parsing returns it: at most 108 bytes, no trailing NUL.
fn unix_path() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=108).prop_map(|mut path| {
        while path.last() == Some(&0) {
            path.pop();
        }
        path
    })
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn ssl() -> impl Strategy<Value = Ssl> {
    let sub_kind = any::<u8>().prop_filter("has a field", |k| !(0x21..=0x28).contains(k));
    (
        any::<(u8, u32)>(),
        [
            option::of(text()),
            option::of(text()),
            option::of(text()),
            option::of(text()),
            option::of(text()),
            option::of(text()),
            option::of(text()),
        ],
        option::of(vec(any::<u8>(), 0..32)),
        vec((sub_kind, vec(any::<u8>(), 0..8)), 0..3),
    )
        .prop_map(|((client, verify), strings, client_cert, other)| {
            let [version, cn, cipher, sig_alg, key_alg, group, sig_scheme] = strings;
            Ssl {
                client: SslClient::from_bits(client),
                verify,
                version,
                cn,
                cipher,
                sig_alg,
                key_alg,
                group,
                sig_scheme,
                client_cert,
                other,
            }
        })
}

fn tlvs() -> impl Strategy<Value = Tlvs> {
    // NOOP is left out: parsing drops it.
    let kind = any::<u8>().prop_filter("has a field", |k| !matches!(k, 0x01..=0x05 | 0x20 | 0x30));
    (
        option::of(vec(any::<u8>(), 0..16)),
        option::of(text()),
        any::<bool>(),
        option::of(vec(any::<u8>(), 0..=128)),
        option::of(ssl()),
        option::of(text()),
        vec((kind, vec(any::<u8>(), 0..16)), 0..4),
    )
        .prop_map(
            |(alpn, authority, crc32c, unique_id, ssl, netns, other)| Tlvs {
                alpn,
                authority,
                crc32c,
                unique_id,
                ssl,
                netns,
                other,
            },
        )
}

/// Headers as parsing returns them, so that encode then parse is the identity.
fn v1_header() -> impl Strategy<Value = ProxyHeader> {
    let unknown = ProxyHeader {
        version: Version::V1,
        command: Command::Proxy,
        transport: Transport::Unspec,
        addresses: Addresses::Unspec,
        tlvs: Tlvs::default(),
    };
    prop_oneof![
        4 => inet_pair().prop_map(|(src, dst)| ProxyHeader::v1(src, dst)),
        1 => Just(unknown),
    ]
}

fn v2_header() -> impl Strategy<Value = ProxyHeader> {
    let transport = prop_oneof![Just(Transport::Stream), Just(Transport::Datagram)];
    let addresses = prop_oneof![
        inet_pair().prop_map(|(src, dst)| Addresses::Inet { src, dst }),
        (unix_path(), unix_path()).prop_map(|(src, dst)| Addresses::Unix { src, dst }),
    ];
    let known = prop_oneof![
        (transport, addresses),
        Just((Transport::Unspec, Addresses::Unspec)),
    ];
    prop_oneof![
        6 => (known, tlvs()).prop_map(|((transport, addresses), tlvs)| ProxyHeader {
            version: Version::V2,
            command: Command::Proxy,
            transport,
            addresses,
            tlvs,
        }),
        1 => Just(ProxyHeader::local()),
    ]
}

fn header() -> impl Strategy<Value = ProxyHeader> {
    prop_oneof![v1_header(), v2_header()]
}

/// Bytes that look like the start of a header more often than uniform noise does.
fn header_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..256),
        (any::<(u8, u8)>(), vec(any::<u8>(), 0..300)).prop_map(|((ver_cmd, fam), tail)| {
            let mut buf = v2::SIGNATURE.to_vec();
            buf.extend([(ver_cmd & 0x21) | 0x20, fam]);
            let len = u16::try_from(tail.len().saturating_sub(2)).unwrap_or(0);
            buf.extend(len.to_be_bytes());
            buf.extend(tail);
            buf
        }),
        "PROXY (TCP4|TCP6|UNKNOWN) [0-9a-f:. ]{0,90}\r?\n?".prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn encode_then_parse_is_identity(header in header(), payload in vec(any::<u8>(), 0..8)) {
        let mut out = BytesMut::new();
        header.encode(&mut out).unwrap();
        let len = out.len();
        out.extend_from_slice(&payload);
        prop_assert_eq!(parse(&out).unwrap(), Parsed::Complete { header, consumed: len });
    }

    #[test]
    fn prefixes_are_incomplete(header in header()) {
        let bytes = header.to_bytes().unwrap();
        for cut in 0..bytes.len() {
            match parse(&bytes[..cut]) {
                Ok(Parsed::Incomplete { needed }) => {
                    if let Some(n) = needed {
                        prop_assert!(n >= 1 && n <= bytes.len() - cut);
                    }
                }
                other => prop_assert!(false, "{}: {:?}", cut, other),
            }
        }
    }

    #[test]
    fn parse_never_panics(bytes in header_like_bytes()) {
        if let Ok(Parsed::Complete { header, consumed }) = parse(&bytes) {
            prop_assert!(consumed <= bytes.len());
            // What parses re-encodes, and parses back the same.
            let again = header.to_bytes().unwrap();
            prop_assert_eq!(
                parse(&again).unwrap(),
                Parsed::Complete { header, consumed: again.len() }
            );
        }
    }

    #[test]
    fn read_header_over_any_chunking(
        header in header(),
        payload in vec(any::<u8>(), 0..8),
        cuts in vec(1usize..40, 0..8),
    ) {
        let mut bytes = header.to_bytes().unwrap().to_vec();
        bytes.extend_from_slice(&payload);
        let mut builder = Builder::new();
        let mut rest_bytes = &bytes[..];
        for cut in cuts {
            let (chunk, tail) = rest_bytes.split_at(cut.min(rest_bytes.len()));
            if !chunk.is_empty() {
                builder.read(chunk);
            }
            rest_bytes = tail;
        }
        if !rest_bytes.is_empty() {
            builder.read(rest_bytes);
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let (got, received) = runtime.block_on(async {
            let mut io = builder.build();
            let (got, leftover) = read_header(&mut io, TIMEOUT).await.unwrap();
            let mut received = leftover.to_vec();
            received.extend(rest(&mut io).await);
            (got, received)
        });
        prop_assert_eq!(got, header);
        prop_assert_eq!(received, payload);
    }
}

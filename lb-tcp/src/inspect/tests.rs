//! Tests of the async stage over scripted IO and in-memory pipes, on the paused clock.

use std::time::Duration;

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_test::io::Builder;

use super::tls_hello::tests::build;
use super::*;

const DELAY: Duration = Duration::from_secs(5);

fn opts() -> InspectOptions {
    InspectOptions::new(DELAY)
}

async fn replay<I: AsyncRead + Unpin>(mut io: PrefixedIo<I>) -> Vec<u8> {
    let mut all = Vec::new();
    io.read_to_end(&mut all).await.expect("replay");
    all
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[tokio::test(start_paused = true)]
async fn tls_hello_over_several_reads() {
    let hello = build::two_records(&build::example_message(), 50);
    let early_data: &[u8] = &[23, 3, 3, 0, 1, 0xaa];
    let io = Builder::new()
        .read(&hello[..3])
        .wait(Duration::from_millis(100))
        .read(&hello[3..60])
        .read(&hello[60..])
        .read(early_data)
        .build();

    let start = Instant::now();
    let (facts, io) = inspect(io, &opts()).await.expect("inspect");
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(facts.protocol(), Protocol::Tls);
    assert_eq!(facts.stop, StopReason::Decided);
    assert_eq!(facts.len, hello.len());
    assert_eq!(facts.sni(), Some("example.com"));
    let tls = facts.tls.as_ref().expect("tls facts");
    assert_eq!(tls.alpn, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    assert_eq!((tls.legacy_version, tls.max_version), (0x0303, 0x0304));
    assert!(tls.complete);
    assert_eq!(replay(io).await, concat(&[&hello, early_data]));
}

#[tokio::test(start_paused = true)]
async fn http1_head_in_chunks() {
    let io = Builder::new()
        .read(b"POST /upload HT")
        .wait(Duration::from_millis(10))
        .read(b"TP/1.1\r\nHost: files.example\r\nContent-Length: 4\r\n")
        .read(b"\r\nbody")
        .build();
    let (facts, io) = inspect(io, &opts()).await.expect("inspect");
    assert_eq!(facts.protocol(), Protocol::Http1);
    let head = facts.http1.as_ref().expect("head");
    assert_eq!(
        (head.method.as_str(), head.target.as_str()),
        ("POST", "/upload")
    );
    assert_eq!(head.host.as_deref(), Some("files.example"));
    assert_eq!(facts.len, head.head_len + b"body".len());
    assert_eq!(
        replay(io).await,
        b"POST /upload HTTP/1.1\r\nHost: files.example\r\nContent-Length: 4\r\n\r\nbody"
    );
}

#[tokio::test(start_paused = true)]
async fn http2_preface() {
    let settings: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
    let io = Builder::new()
        .read(&HTTP2_PREFACE[..10])
        .read(&HTTP2_PREFACE[10..])
        .read(settings)
        .build();
    let (facts, io) = inspect(io, &opts()).await.expect("inspect");
    assert_eq!(facts.protocol(), Protocol::Http2);
    assert!(facts.http2_preface && facts.http1.is_none());
    assert_eq!(replay(io).await, concat(&[HTTP2_PREFACE, settings]));
}

#[tokio::test(start_paused = true)]
async fn ssh_banner() {
    let io = Builder::new()
        .read(b"SSH-2.0-")
        .read(b"OpenSSH_9.6\r\n\x00\x00")
        .build();
    let (facts, io) = inspect(io, &opts()).await.expect("inspect");
    assert_eq!(facts.protocol(), Protocol::Ssh);
    assert_eq!(facts.ssh_banner.as_deref(), Some("SSH-2.0-OpenSSH_9.6"));
    assert_eq!(replay(io).await, b"SSH-2.0-OpenSSH_9.6\r\n\x00\x00");
}

#[tokio::test(start_paused = true)]
async fn unknown_bytes_decide_without_waiting() {
    let io = Builder::new()
        .read(b"\x00\x01\x02\x03")
        .wait(Duration::from_secs(60))
        .read(b"more")
        .build();
    let start = Instant::now();
    let (facts, io) = inspect(io, &opts()).await.expect("inspect");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(
        (facts.protocol(), facts.stop, facts.len),
        (Protocol::Unknown, StopReason::Decided, 4)
    );
    assert_eq!(replay(io).await, b"\x00\x01\x02\x03more");
}

#[tokio::test(start_paused = true)]
async fn http2_version_in_an_http1_head_is_unknown() {
    let io = Builder::new().read(b"GET / HTTP/2.0\r\n").build();
    let (facts, _io) = inspect(io, &opts()).await.expect("inspect");
    assert_eq!(
        (facts.protocol(), facts.stop),
        (Protocol::Unknown, StopReason::Decided)
    );
}

#[tokio::test(start_paused = true)]
async fn delay_expiry_returns_what_is_known() {
    let io = Builder::new()
        .read(b"GET / HT")
        .wait(Duration::from_secs(10))
        .read(b"TP/1.1\r\n\r\n")
        .build();
    let start = Instant::now();
    let opts = InspectOptions::new(Duration::from_secs(1));
    let (facts, io) = inspect(io, &opts).await.expect("inspect");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(facts.stop, StopReason::DelayElapsed);
    assert_eq!((facts.protocol(), facts.len), (Protocol::Unknown, 8));
    assert_eq!(replay(io).await, b"GET / HTTP/1.1\r\n\r\n");
}

#[tokio::test(start_paused = true)]
async fn delay_expiry_mid_hello_reports_a_partial_hello() {
    let hello = build::example_hello();
    let cut = hello
        .windows(2)
        .position(|w| w == b"h2")
        .expect("fixture has h2");
    let io = Builder::new()
        .read(&hello[..cut])
        .wait(Duration::from_secs(10))
        .read(&hello[cut..])
        .build();
    let (facts, io) = inspect(io, &opts()).await.expect("inspect");
    assert_eq!((facts.stop, facts.len), (StopReason::DelayElapsed, cut));
    assert_eq!(facts.protocol(), Protocol::Tls);
    let tls = facts.tls.as_ref().expect("partial hello");
    assert!(!tls.complete);
    assert_eq!(tls.sni.as_deref(), Some("example.com"));
    assert!(tls.alpn.is_empty());
    assert_eq!(replay(io).await, hello);
}

#[tokio::test(start_paused = true)]
async fn silent_client_yields_empty_facts_after_the_delay() {
    let (mut client, server) = tokio::io::duplex(1024);
    let start = Instant::now();
    let (facts, io) = inspect(server, &opts()).await.expect("inspect");
    assert_eq!(start.elapsed(), DELAY);
    assert_eq!((facts.len, facts.stop), (0, StopReason::DelayElapsed));
    assert_eq!(facts.protocol(), Protocol::Unknown);

    client.write_all(b"late").await.expect("write");
    client.shutdown().await.expect("shutdown");
    assert_eq!(replay(io).await, b"late");
}

#[tokio::test(start_paused = true)]
async fn byte_limit() {
    let head = b"GET /a/long/path HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let io = Builder::new().read(head).build();
    let opts = opts().with_max_bytes(16);
    let (facts, io) = inspect(io, &opts).await.expect("inspect");
    assert_eq!((facts.stop, facts.len), (StopReason::LimitReached, 16));
    assert_eq!(facts.protocol(), Protocol::Unknown);
    assert_eq!(replay(io).await, head);
}

#[tokio::test(start_paused = true)]
async fn byte_limit_zero_reads_nothing() {
    let io = Builder::new().read(b"SSH-2.0-x\r\n").build();
    let (facts, io) = inspect(io, &opts().with_max_bytes(0))
        .await
        .expect("inspect");
    assert_eq!((facts.stop, facts.len), (StopReason::LimitReached, 0));
    assert_eq!(replay(io).await, b"SSH-2.0-x\r\n");
}

#[tokio::test(start_paused = true)]
async fn eof() {
    let (facts, io) = inspect(&b"GET /"[..], &opts()).await.expect("inspect");
    assert_eq!((facts.stop, facts.len), (StopReason::Eof, 5));
    assert_eq!(facts.protocol(), Protocol::Unknown);
    assert_eq!(replay(io).await, b"GET /");

    let (facts, io) = inspect(&b""[..], &opts()).await.expect("inspect");
    assert_eq!((facts.stop, facts.len), (StopReason::Eof, 0));
    assert_eq!(replay(io).await, b"");
}

#[tokio::test(start_paused = true)]
async fn read_error() {
    let io = Builder::new()
        .read(b"GET")
        .read_error(io::Error::new(io::ErrorKind::ConnectionReset, "reset"))
        .build();
    match inspect(io, &opts()).await {
        Err(InspectError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("expected a read error, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn zero_delay_inspects_what_is_available() {
    let ready = &b"SSH-2.0-OpenSSH_9.6\r\n"[..];
    let (facts, _) = inspect(ready, &InspectOptions::new(Duration::ZERO))
        .await
        .expect("inspect");
    assert_eq!(
        (facts.protocol(), facts.stop),
        (Protocol::Ssh, StopReason::Decided)
    );

    let later = Builder::new()
        .wait(Duration::from_secs(1))
        .read(b"x")
        .build();
    let opts = InspectOptions::new(Duration::ZERO);
    let (facts, io) = inspect(later, &opts).await.expect("inspect");
    assert_eq!((facts.stop, facts.len), (StopReason::DelayElapsed, 0));
    assert_eq!(replay(io).await, b"x");
}

#[tokio::test(start_paused = true)]
async fn unrepresentable_delay_means_no_deadline() {
    let opts = InspectOptions::new(Duration::MAX);
    let (facts, _) = inspect(&b"GET / HTTP/1.0\r\n\r\n"[..], &opts)
        .await
        .expect("inspect");
    assert_eq!(facts.protocol(), Protocol::Http1);
}

#[tokio::test(start_paused = true)]
async fn over_a_duplex_pipe_both_ways() {
    let (mut client, server) = tokio::io::duplex(64);
    let hello = build::records(&build::example_message(), 40);
    let sent = hello.clone();
    let client_task = tokio::spawn(async move {
        for chunk in sent.chunks(30) {
            client.write_all(chunk).await.expect("write");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        client.write_all(b"after").await.expect("write");
        client.shutdown().await.expect("shutdown");
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.expect("read");
        answer
    });

    let (facts, mut io) = inspect(server, &opts()).await.expect("inspect");
    assert_eq!(facts.stop, StopReason::Decided);
    assert_eq!(facts.sni(), Some("example.com"));
    let mut received = Vec::new();
    io.read_to_end(&mut received).await.expect("replay");
    assert_eq!(received, concat(&[&hello, b"after"]));

    io.write_all(b"server hello").await.expect("write");
    io.shutdown().await.expect("shutdown");
    drop(io);
    assert_eq!(client_task.await.expect("client"), b"server hello");
}

#[test]
fn options() {
    let opts = InspectOptions::default();
    assert_eq!(
        (opts.delay(), opts.max_bytes()),
        (InspectOptions::DEFAULT_DELAY, 16384)
    );
    let opts = opts.with_delay(Duration::from_millis(1)).with_max_bytes(1);
    assert_eq!(
        (opts.delay(), opts.max_bytes()),
        (Duration::from_millis(1), 1)
    );
}

#[test]
fn parse_helpers() {
    assert_eq!(Parse::Complete(2).map(|n| n * 2), Parse::Complete(4));
    assert_eq!(Parse::<u8>::Incomplete.map(|n| n * 2), Parse::Incomplete);
    assert!(Parse::<()>::Invalid.is_invalid() && Parse::<()>::Invalid.complete().is_none());
    assert!(Parse::Complete(()).is_complete() && Parse::<()>::Incomplete.is_incomplete());
}

#[test]
fn at_most_one_protocol() {
    for input in [
        build::example_hello(),
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        HTTP2_PREFACE.to_vec(),
        b"SSH-2.0-x\r\n".to_vec(),
    ] {
        let decided = [
            parse_client_hello(&input).is_complete(),
            parse_http1_request_head(&input).is_complete(),
            is_http2_preface(&input).is_complete(),
            parse_ssh_banner(&input).is_complete(),
        ];
        assert_eq!(decided.iter().filter(|&&d| d).count(), 1, "{input:?}");
    }
}

proptest! {
    #[test]
    fn never_loses_bytes(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        chunks in proptest::collection::vec(1usize..100, 1..6),
        max_bytes in 0usize..700,
    ) {
        let mut io = Builder::new();
        let mut rest = &data[..];
        for &size in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, more) = rest.split_at(size.min(rest.len()));
            io.read(chunk);
            rest = more;
        }
        let opts = opts().with_max_bytes(max_bytes);
        let (facts, replayed) = tokio_test::block_on(async {
            let (facts, io) = inspect(io.build(), &opts).await.expect("inspect");
            (facts, replay(io).await)
        });
        prop_assert!(facts.len <= max_bytes.min(data.len()));
        prop_assert_eq!(replayed, data);
    }

    #[test]
    fn fragmented_hellos_decide_the_same(
        fragment in 1usize..200,
        chunks in proptest::collection::vec(1usize..64, 1..6),
    ) {
        let hello = build::records(&build::example_message(), fragment);
        let mut io = Builder::new();
        let mut rest = &hello[..];
        for &size in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, more) = rest.split_at(size.min(rest.len()));
            io.read(chunk);
            rest = more;
        }
        let (facts, replayed) = tokio_test::block_on(async {
            let (facts, io) = inspect(io.build(), &opts()).await.expect("inspect");
            (facts, replay(io).await)
        });
        prop_assert_eq!(facts.stop, StopReason::Decided);
        prop_assert_eq!(facts.sni(), Some("example.com"));
        prop_assert_eq!(replayed, hello);
    }
}

//! Tests for the forwarder: in-memory (`duplex`) and loopback TCP pairs, paused-time
//! timeouts, fault injection.

use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{
    duplex, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, timeout, Instant};

use super::*;

// ---------------------------------------------------------------------------------------
// Helpers

/// FNV-1a, 64 bits, fed incrementally so that chunking does not matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fnv(u64);

impl Fnv {
    const fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift64).
struct Gen(u64);

impl Gen {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let bytes = self.0.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Writes `total` pseudo-random bytes in odd-sized chunks, then shuts down; returns the hash.
async fn send<W: AsyncWrite + Unpin>(w: &mut W, total: u64, seed: u64) -> io::Result<Fnv> {
    let mut gen = Gen(seed);
    let mut hash = Fnv::new();
    let mut buf = vec![0u8; 65_521];
    let mut left = total;
    while left > 0 {
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        gen.fill(&mut buf[..n]);
        hash.update(&buf[..n]);
        w.write_all(&buf[..n]).await?;
        left -= n as u64;
    }
    w.shutdown().await?;
    Ok(hash)
}

/// Reads to EOF; returns the byte count and hash.
async fn recv<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<(u64, Fnv)> {
    let mut hash = Fnv::new();
    let mut buf = vec![0u8; 50_000];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok((total, hash));
        }
        hash.update(&buf[..n]);
        total += n as u64;
    }
}

/// `(client app, accepted by the proxy, connected by the proxy, server app)` in memory.
fn mem(cap: usize) -> (DuplexStream, DuplexStream, DuplexStream, DuplexStream) {
    let (client, accepted) = duplex(cap);
    let (connected, server) = duplex(cap);
    (client, accepted, connected, server)
}

/// A connected loopback pair `(connecting side, accepted side)`.
async fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (a, b) = tokio::try_join!(TcpStream::connect(addr), async {
        listener.accept().await.map(|(s, _)| s)
    })?;
    Ok((a, b))
}

/// `(client app, accepted by the proxy, connected by the proxy, server app)` on loopback.
async fn tcp() -> (TcpStream, TcpStream, TcpStream, TcpStream) {
    let (client, accepted) = tcp_pair().await.expect("client pair");
    let (connected, server) = tcp_pair().await.expect("server pair");
    (client, accepted, connected, server)
}

const LIMIT: Duration = Duration::from_secs(60);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Reads from `r` into a fresh buffer: wraps one `read` call.
async fn read_some<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; 4096];
    let n = r.read(&mut buf).await?;
    buf.truncate(n);
    Ok(buf)
}

/// An in-memory stream whose reads fail with `ConnectionReset` after `budget` bytes.
struct ResetAfter {
    inner: DuplexStream,
    budget: usize,
}

impl AsyncRead for ResetAfter {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.budget == 0 {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let mut tmp = [0u8; 512];
        let want = self.budget.min(buf.remaining()).min(tmp.len());
        let mut limited = ReadBuf::new(&mut tmp[..want]);
        let res = Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        let n = limited.filled().len();
        buf.put_slice(limited.filled());
        self.budget -= n;
        res
    }
}

impl AsyncWrite for ResetAfter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A stream that reads EOF at once and whose writes return `Ok(0)` or `Interrupted`.
struct OddWriter {
    interrupts: usize,
}

impl AsyncRead for OddWriter {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for OddWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.interrupts > 0 {
            self.interrupts -= 1;
            return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
        }
        Poll::Ready(Ok(0))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// ---------------------------------------------------------------------------------------
// Half-close

/// The client sends a request and half-closes; the server reads it to EOF and only then
/// answers; the client gets the whole answer.
async fn client_half_close<S>(mut client: S, mut accepted: S, mut connected: S, mut server: S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let counters = Counters::new();
    let cfg = ForwardConfig::new().buffer_size(7);
    let proxy = forward(&mut accepted, &mut connected, &cfg, &counters);
    let client_app = async {
        client.write_all(b"GET / please").await?;
        client.shutdown().await?;
        let mut response = Vec::new();
        client.read_to_end(&mut response).await?;
        Ok::<_, io::Error>(response)
    };
    let server_app = async {
        let mut request = Vec::new();
        server.read_to_end(&mut request).await?;
        // Answer well after the client's FIN went through.
        sleep(Duration::from_millis(20)).await;
        server.write_all(b"a response, after the FIN").await?;
        server.shutdown().await?;
        Ok::<_, io::Error>(request)
    };
    let (outcome, response, request) =
        timeout(LIMIT, async { tokio::join!(proxy, client_app, server_app) })
            .await
            .expect("session ends");
    assert_eq!(request.expect("server side"), b"GET / please");
    assert_eq!(response.expect("client side"), b"a response, after the FIN");
    assert_eq!(outcome.termination, Termination::ClientClosed);
    assert_eq!(outcome.haproxy_code(), "--");
    assert_eq!(outcome.client_to_server, 12);
    assert_eq!(outcome.server_to_client, 25);
    assert_eq!(counters.load(), (12, 25));
    assert!(outcome.error.is_none());
}

/// Mirror: the server sends and half-closes first; the client keeps sending afterwards
/// and the server gets it all.
async fn server_half_close<S>(mut client: S, mut accepted: S, mut connected: S, mut server: S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let counters = Counters::new();
    let cfg = ForwardConfig::new().buffer_size(5);
    let proxy = forward(&mut accepted, &mut connected, &cfg, &counters);
    let server_app = async {
        server.write_all(b"banner").await?;
        server.shutdown().await?;
        let mut upload = Vec::new();
        server.read_to_end(&mut upload).await?;
        Ok::<_, io::Error>(upload)
    };
    let client_app = async {
        let mut banner = Vec::new();
        client.read_to_end(&mut banner).await?;
        for _ in 0..3 {
            client.write_all(b"late upload;").await?;
        }
        client.shutdown().await?;
        Ok::<_, io::Error>(banner)
    };
    let (outcome, upload, banner) =
        timeout(LIMIT, async { tokio::join!(proxy, server_app, client_app) })
            .await
            .expect("session ends");
    assert_eq!(banner.expect("client side"), b"banner");
    assert_eq!(upload.expect("server side"), b"late upload;".repeat(3));
    assert_eq!(outcome.termination, Termination::ServerClosed);
    assert_eq!(outcome.haproxy_code(), "--");
    assert_eq!(
        (outcome.client_to_server, outcome.server_to_client),
        (36, 6)
    );
    assert_eq!(counters.load(), (36, 6));
}

#[tokio::test]
async fn mem_client_half_close() {
    let (c, a, k, s) = mem(16);
    client_half_close(c, a, k, s).await;
}

#[tokio::test]
async fn mem_server_half_close() {
    let (c, a, k, s) = mem(16);
    server_half_close(c, a, k, s).await;
}

#[tokio::test]
async fn tcp_client_half_close() {
    let (c, a, k, s) = tcp().await;
    client_half_close(c, a, k, s).await;
}

#[tokio::test]
async fn tcp_server_half_close() {
    let (c, a, k, s) = tcp().await;
    server_half_close(c, a, k, s).await;
}

// ---------------------------------------------------------------------------------------
// Bulk transfers

const MB100: u64 = 100 * 1000 * 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_100mb_each_way_intact() {
    let (client, mut accepted, mut connected, server) = tcp().await;
    let (mut client_r, mut client_w) = client.into_split();
    let (mut server_r, mut server_w) = server.into_split();
    let up = tokio::spawn(async move { send(&mut client_w, MB100, 1).await });
    let down = tokio::spawn(async move { send(&mut server_w, MB100, 2).await });
    let at_server = tokio::spawn(async move { recv(&mut server_r).await });
    let at_client = tokio::spawn(async move { recv(&mut client_r).await });

    let counters = Counters::new();
    let outcome = timeout(
        LIMIT,
        forward(
            &mut accepted,
            &mut connected,
            &ForwardConfig::new(),
            &counters,
        ),
    )
    .await
    .expect("session ends");

    let sent_up = up.await.expect("join").expect("client sends");
    let sent_down = down.await.expect("join").expect("server sends");
    let (n_up, got_up) = at_server.await.expect("join").expect("server receives");
    let (n_down, got_down) = at_client.await.expect("join").expect("client receives");
    assert_eq!((n_up, got_up), (MB100, sent_up));
    assert_eq!((n_down, got_down), (MB100, sent_down));
    assert!(outcome.termination.is_normal(), "{outcome}");
    assert_eq!(
        (outcome.client_to_server, outcome.server_to_client),
        (MB100, MB100)
    );
    assert_eq!(counters.load(), (MB100, MB100));
}

#[tokio::test]
async fn mem_100mb_intact() {
    let (mut client, mut accepted, mut connected, mut server) = mem(64 * 1024);
    let counters = Counters::new();
    let proxy = forward(
        &mut accepted,
        &mut connected,
        &ForwardConfig::new(),
        &counters,
    );
    let client_app = async {
        let (mut r, mut w) = tokio::io::split(&mut client);
        tokio::try_join!(send(&mut w, MB100, 3), recv(&mut r))
    };
    let server_app = async {
        let (mut r, mut w) = tokio::io::split(&mut server);
        tokio::try_join!(recv(&mut r), send(&mut w, 1_000_003, 4))
    };
    let (outcome, client_side, server_side) =
        timeout(LIMIT, async { tokio::join!(proxy, client_app, server_app) })
            .await
            .expect("session ends");
    let (sent_up, (n_down, got_down)) = client_side.expect("client side");
    let ((n_up, got_up), sent_down) = server_side.expect("server side");
    assert_eq!((n_up, got_up), (MB100, sent_up));
    assert_eq!((n_down, got_down), (1_000_003, sent_down));
    assert!(outcome.termination.is_normal());
    assert_eq!(counters.load(), (MB100, 1_000_003));
}

#[tokio::test]
async fn counters_exact_for_odd_sizes_and_buffers() {
    for buffer_size in [0, 1, 3, 4096, DEFAULT_BUFFER_SIZE] {
        for (up, down) in [(0, 0), (1, 0), (0, 1), (16_383, 16_384), (16_385, 70_001)] {
            let (mut client, mut accepted, mut connected, mut server) = mem(1000);
            let cfg = ForwardConfig::new().buffer_size(buffer_size);
            let (a, b) = (Counters::new(), Arc::new(Counters::new()));
            let meters = [Some(&a), None];
            let proxy = forward(
                &mut accepted,
                &mut connected,
                &cfg,
                (&meters[..], b.clone()),
            );
            let client_app = async {
                let (mut r, mut w) = tokio::io::split(&mut client);
                tokio::try_join!(send(&mut w, up, 5), recv(&mut r))
            };
            let server_app = async {
                let (mut r, mut w) = tokio::io::split(&mut server);
                tokio::try_join!(recv(&mut r), send(&mut w, down, 6))
            };
            let (outcome, c, s) =
                timeout(LIMIT, async { tokio::join!(proxy, client_app, server_app) })
                    .await
                    .expect("session ends");
            let (sent_up, (n_down, got_down)) = c.expect("client side");
            let ((n_up, got_up), sent_down) = s.expect("server side");
            assert_eq!(
                (n_up, got_up, n_down, got_down),
                (up, sent_up, down, sent_down)
            );
            assert_eq!(
                (outcome.client_to_server, outcome.server_to_client),
                (up, down)
            );
            assert_eq!(a.load(), (up, down), "buffer {buffer_size}");
            assert_eq!(b.bytes_in.load(Ordering::Relaxed), up);
            assert_eq!(b.bytes_out.load(Ordering::Relaxed), down);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Failures

#[tokio::test]
async fn tcp_client_reset_mid_stream() {
    let (mut client, mut accepted, mut connected, mut server) = tcp().await;
    let proxy = forward(&mut accepted, &mut connected, &ForwardConfig::new(), ());
    let apps = async {
        client.write_all(&[7; 3000]).await?;
        let mut first = vec![0; 3000];
        server.read_exact(&mut first).await?;
        // RST instead of FIN.
        client.set_zero_linger()?;
        drop(client);
        // The server is told with a FIN: it reads EOF, not an error.
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await?;
        Ok::<_, io::Error>(rest)
    };
    let (outcome, rest) = timeout(LIMIT, async { tokio::join!(proxy, apps) })
        .await
        .expect("session ends");
    assert_eq!(rest.expect("server side sees EOF"), b"");
    assert!(
        matches!(outcome.termination, Termination::ClientError(_)),
        "{outcome}"
    );
    assert!(outcome.termination.is_reset(), "{outcome}");
    assert_eq!(outcome.haproxy_code(), "CD");
    assert_eq!(outcome.client_to_server, 3000);
    assert!(outcome.error.is_some());
}

#[tokio::test]
async fn mem_client_reset_mid_stream() {
    let (mut client, accepted, mut connected, mut server) = mem(1024);
    let mut accepted = ResetAfter {
        inner: accepted,
        budget: 100,
    };
    let proxy = forward(&mut accepted, &mut connected, &ForwardConfig::new(), ());
    let apps = async {
        client.write_all(&[1; 200]).await?;
        let mut got = Vec::new();
        server.read_to_end(&mut got).await?;
        Ok::<_, io::Error>(got)
    };
    let (outcome, got) = timeout(LIMIT, async { tokio::join!(proxy, apps) })
        .await
        .expect("session ends");
    // Everything read before the reset reached the server, then a FIN.
    assert_eq!(got.expect("server side sees EOF"), vec![1; 100]);
    assert_eq!(
        outcome.termination,
        Termination::ClientError(io::ErrorKind::ConnectionReset)
    );
    assert_eq!(outcome.client_to_server, 100);
}

#[tokio::test]
async fn tcp_server_dies_mid_stream() {
    let (mut client, mut accepted, mut connected, mut server) = tcp().await;
    let proxy = forward(&mut accepted, &mut connected, &ForwardConfig::new(), ());
    let apps = async {
        server.write_all(b"hello").await?;
        let mut hello = [0; 5];
        client.read_exact(&mut hello).await?;
        client.write_all(&[2; 10_000]).await?;
        let mut some = [0; 100];
        server.read_exact(&mut some).await?;
        // The server process dies with unread data: the kernel resets.
        drop(server);
        // The client keeps sending for a while (bounded), then sees the close.
        for _ in 0..100 {
            if client.write_all(&[3; 10_000]).await.is_err() {
                break;
            }
            sleep(Duration::from_millis(1)).await;
        }
        let mut rest = Vec::new();
        // EOF (the proxy's FIN) or a reset, both are a close.
        let _ = client.read_to_end(&mut rest).await;
        Ok::<_, io::Error>(hello)
    };
    let (outcome, hello) = timeout(LIMIT, async { tokio::join!(proxy, apps) })
        .await
        .expect("session ends");
    assert_eq!(&hello.expect("client side"), b"hello");
    assert!(
        matches!(
            outcome.termination,
            Termination::ServerClosed | Termination::ServerError(_)
        ),
        "{outcome}"
    );
    assert_eq!(outcome.termination.side(), Some(Side::Server));
}

#[tokio::test]
async fn mem_server_dies_mid_stream() {
    let (mut client, mut accepted, mut connected, mut server) = mem(1024);
    let proxy = forward(&mut accepted, &mut connected, &ForwardConfig::new(), ());
    let apps = async {
        client.write_all(b"request").await?;
        let mut req = [0; 7];
        server.read_exact(&mut req).await?;
        server.write_all(b"partial").await?;
        drop(server);
        // The client still uploads; the proxy's writes to the dead server fail.
        let _ = client.write_all(b"more").await;
        let mut got = Vec::new();
        client.read_to_end(&mut got).await?;
        Ok::<_, io::Error>(got)
    };
    let (outcome, got) = timeout(LIMIT, async { tokio::join!(proxy, apps) })
        .await
        .expect("session ends");
    assert_eq!(got.expect("client sees EOF"), b"partial");
    assert_eq!(
        outcome.termination,
        Termination::ServerError(io::ErrorKind::BrokenPipe),
        "{outcome}"
    );
    assert_eq!(outcome.haproxy_code(), "SD");
}

#[tokio::test]
async fn write_zero_is_an_error_and_interrupts_are_retried() {
    let (mut client, mut accepted, _, _) = mem(64);
    client.write_all(b"x").await.expect("write");
    let mut server = OddWriter { interrupts: 3 };
    let outcome = timeout(
        LIMIT,
        forward(&mut accepted, &mut server, &ForwardConfig::new(), ()),
    )
    .await
    .expect("session ends");
    assert_eq!(
        outcome.termination,
        Termination::ServerError(io::ErrorKind::WriteZero)
    );
}

// ---------------------------------------------------------------------------------------
// Timeouts (paused time: the runtime jumps to the next timer when idle)

#[tokio::test(start_paused = true)]
async fn client_timeout_when_nothing_moves() {
    let (_client, mut accepted, mut connected, _server) = mem(64);
    let cfg = ForwardConfig::new()
        .timeout_client(secs(5))
        .timeout_server(secs(10));
    let outcome = forward(&mut accepted, &mut connected, &cfg, ()).await;
    assert_eq!(outcome.termination, Termination::ClientTimeout);
    assert_eq!(outcome.haproxy_code(), "cD");
    assert_eq!(outcome.duration, secs(5));
}

#[tokio::test(start_paused = true)]
async fn server_timeout_when_nothing_moves() {
    let (_client, mut accepted, mut connected, _server) = mem(64);
    let cfg = ForwardConfig::new()
        .timeout_client(secs(10))
        .timeout_server(secs(5));
    let outcome = forward(&mut accepted, &mut connected, &cfg, ()).await;
    assert_eq!(outcome.termination, Termination::ServerTimeout);
    assert_eq!(outcome.haproxy_code(), "sD");
    assert_eq!(outcome.duration, secs(5));
}

#[tokio::test(start_paused = true)]
async fn equal_timeouts_blame_the_client_first() {
    let (_client, mut accepted, mut connected, _server) = mem(64);
    let cfg = ForwardConfig::new()
        .timeout_client(secs(5))
        .timeout_server(secs(5));
    let outcome = forward(&mut accepted, &mut connected, &cfg, ()).await;
    assert_eq!(outcome.termination, Termination::ClientTimeout);
}

#[tokio::test(start_paused = true)]
async fn no_timeout_while_data_flows() {
    let (mut client, mut accepted, mut connected, mut server) = mem(64);
    let cfg = ForwardConfig::new()
        .timeout_client(secs(3))
        .timeout_server(secs(3));
    let start = Instant::now();
    let proxy = forward(&mut accepted, &mut connected, &cfg, ());
    let client_app = async {
        // One byte a second for 20 s, then silence (the stream stays open).
        for _ in 0..20 {
            sleep(secs(1)).await;
            client.write_all(b"x").await?;
        }
        Ok::<_, io::Error>(())
    };
    let server_app = async {
        let mut total = 0;
        // Ends on the proxy's FIN when the session times out.
        while !read_some(&mut server).await?.is_empty() {
            total += 1;
        }
        Ok::<_, io::Error>(total)
    };
    let (outcome, sent, got) = tokio::join!(proxy, client_app, server_app);
    sent.expect("client");
    assert_eq!(got.expect("server"), 20);
    assert_eq!(outcome.termination, Termination::ClientTimeout);
    assert_eq!(outcome.duration, secs(23));
    assert_eq!(start.elapsed(), secs(23));
}

#[tokio::test(start_paused = true)]
async fn no_timeout_while_data_flows_to_the_client() {
    let (mut client, mut accepted, mut connected, mut server) = mem(64);
    let cfg = ForwardConfig::new()
        .timeout_client(secs(3))
        .timeout_server(secs(2));
    let proxy = forward(&mut accepted, &mut connected, &cfg, ());
    let server_app = async {
        for _ in 0..10 {
            server.write_all(b"tick").await?;
            sleep(Duration::from_millis(1500)).await;
        }
        Ok::<_, io::Error>(())
    };
    let client_app = async {
        let mut total = 0;
        while !read_some(&mut client).await?.is_empty() {
            total += 1;
        }
        Ok::<_, io::Error>(total)
    };
    let (outcome, sent, got) = tokio::join!(proxy, server_app, client_app);
    sent.expect("server");
    assert_eq!(got.expect("client"), 10);
    // Last tick at 13.5 s; the server's 2 s expire first.
    assert_eq!(outcome.termination, Termination::ServerTimeout);
    assert_eq!(outcome.duration, Duration::from_millis(15_500));
}

#[tokio::test(start_paused = true)]
async fn tunnel_replaces_client_and_server_timeouts() {
    let (_client, mut accepted, mut connected, _server) = mem(64);
    let cfg = ForwardConfig::new()
        .timeout_client(secs(1))
        .timeout_server(secs(1))
        .timeout_tunnel(secs(30));
    let outcome = forward(&mut accepted, &mut connected, &cfg, ()).await;
    assert_eq!(
        outcome.termination,
        Termination::TunnelTimeout(Side::Client)
    );
    assert_eq!(outcome.haproxy_code(), "cD");
    assert_eq!(outcome.duration, secs(30));
}

#[tokio::test(start_paused = true)]
async fn client_fin_applies_once_the_server_closed() {
    let (mut client, mut accepted, mut connected, mut server) = mem(64);
    let cfg = ForwardConfig::new()
        .timeout_tunnel(secs(60))
        .timeout_client_fin(secs(2));
    let proxy = forward(&mut accepted, &mut connected, &cfg, ());
    let apps = async {
        sleep(secs(10)).await;
        server.write_all(b"bye").await?;
        server.shutdown().await?;
        let mut got = Vec::new();
        client.read_to_end(&mut got).await?;
        // The client never closes: FIN_WAIT forever without client-fin.
        Ok::<_, io::Error>(got)
    };
    let (outcome, got) = tokio::join!(proxy, apps);
    assert_eq!(got.expect("client gets the FIN"), b"bye");
    assert_eq!(outcome.termination, Termination::ClientFinTimeout);
    assert_eq!(outcome.haproxy_code(), "cD");
    assert_eq!(outcome.duration, secs(12));
}

#[tokio::test(start_paused = true)]
async fn server_fin_applies_once_the_client_closed() {
    let (mut client, mut accepted, mut connected, mut server) = mem(64);
    let cfg = ForwardConfig::new()
        .timeout_client(secs(60))
        .timeout_server(secs(60))
        .timeout_server_fin(secs(4));
    let proxy = forward(&mut accepted, &mut connected, &cfg, ());
    let apps = async {
        client.write_all(b"last words").await?;
        client.shutdown().await?;
        let mut got = Vec::new();
        server.read_to_end(&mut got).await?;
        Ok::<_, io::Error>(got)
    };
    let (outcome, got) = tokio::join!(proxy, apps);
    assert_eq!(got.expect("server gets the FIN"), b"last words");
    assert_eq!(outcome.termination, Termination::ServerFinTimeout);
    assert_eq!(outcome.haproxy_code(), "sD");
    assert_eq!(outcome.duration, secs(4));
}

#[tokio::test(start_paused = true)]
async fn fin_timeout_unset_falls_back_to_tunnel() {
    let (_client, mut accepted, mut connected, mut server) = mem(64);
    let cfg = ForwardConfig::new()
        .timeout_tunnel(secs(7))
        .timeout_server_fin(secs(1));
    server.shutdown().await.expect("shutdown");
    let outcome = forward(&mut accepted, &mut connected, &cfg, ()).await;
    // The client side is half-closed, no client-fin: the tunnel timeout applies to it.
    assert_eq!(
        outcome.termination,
        Termination::TunnelTimeout(Side::Client)
    );
    assert_eq!(outcome.duration, secs(7));
}

#[tokio::test(start_paused = true)]
async fn a_server_that_does_not_read_is_not_a_client_timeout() {
    let (mut client, mut accepted, mut connected, _server) = mem(1024);
    let cfg = ForwardConfig::new()
        .timeout_client(secs(5))
        .timeout_server(secs(10))
        .buffer_size(4096);
    let proxy = forward(&mut accepted, &mut connected, &cfg, ());
    let client_app = async {
        // More than every buffer on the way can hold: the client blocks.
        let _ = timeout(secs(100), client.write_all(&[0; 100_000])).await;
    };
    let (outcome, ()) = tokio::join!(proxy, client_app);
    assert_eq!(outcome.termination, Termination::ServerTimeout, "{outcome}");
    assert_eq!(outcome.duration, secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_does_not_read_is_a_client_timeout() {
    let (_client, mut accepted, mut connected, mut server) = mem(1024);
    let cfg = ForwardConfig::new()
        .timeout_client(secs(5))
        .timeout_server(secs(3))
        .buffer_size(4096);
    let proxy = forward(&mut accepted, &mut connected, &cfg, ());
    let server_app = async {
        let _ = timeout(secs(100), server.write_all(&[0; 100_000])).await;
    };
    let (outcome, ()) = tokio::join!(proxy, server_app);
    assert_eq!(outcome.termination, Termination::ClientTimeout, "{outcome}");
    assert_eq!(outcome.duration, secs(5));
}

// ---------------------------------------------------------------------------------------
// The future itself

#[tokio::test(start_paused = true)]
async fn killed_from_outside_keeps_the_counts() {
    let (mut client, mut accepted, mut connected, mut server) = mem(64);
    client.write_all(b"abc").await.expect("write");
    let mut proxy = forward(&mut accepted, &mut connected, &ForwardConfig::new(), ());
    let mut got = [0; 3];
    let outcome = tokio::select! {
        outcome = &mut proxy => outcome,
        _ = async {
            server.read_exact(&mut got).await.expect("read");
            sleep(secs(1)).await;
        } => proxy.into_outcome(Termination::Killed),
    };
    assert_eq!(outcome.termination, Termination::Killed);
    assert_eq!(outcome.haproxy_code(), "KD");
    assert_eq!(outcome.client_to_server, 3);
}

#[tokio::test]
async fn polled_again_after_the_end_gives_the_same_outcome() {
    let (mut client, mut accepted, mut connected, mut server) = mem(64);
    client.shutdown().await.expect("shutdown");
    server.shutdown().await.expect("shutdown");
    let mut proxy = forward(&mut accepted, &mut connected, &ForwardConfig::new(), ());
    let first = (&mut proxy).await;
    let again = (&mut proxy).await;
    assert_eq!(first.termination, Termination::ClientClosed);
    assert_eq!(again.termination, first.termination);
    assert_eq!(
        proxy.into_outcome(Termination::Killed).termination,
        first.termination
    );
}

#[test]
fn no_time_driver_needed_without_timeouts() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (mut client, mut accepted, mut connected, mut server) = mem(64);
        client.write_all(b"hi").await.expect("write");
        client.shutdown().await.expect("shutdown");
        server.shutdown().await.expect("shutdown");
        let outcome = forward(&mut accepted, &mut connected, &ForwardConfig::new(), ()).await;
        assert!(outcome.termination.is_normal());
        assert_eq!(outcome.client_to_server, 2);
    });
}

#[test]
fn termination_codes_and_text() {
    use io::ErrorKind::{BrokenPipe, ConnectionReset, TimedOut};
    let cases = [
        (Termination::ClientClosed, "--", "client closed"),
        (Termination::ServerClosed, "--", "server closed"),
        (Termination::ClientTimeout, "cD", "client timeout"),
        (Termination::ServerTimeout, "sD", "server timeout"),
        (Termination::ClientFinTimeout, "cD", "client-fin timeout"),
        (Termination::ServerFinTimeout, "sD", "server-fin timeout"),
        (
            Termination::TunnelTimeout(Side::Client),
            "cD",
            "tunnel timeout on the client side",
        ),
        (
            Termination::TunnelTimeout(Side::Server),
            "sD",
            "tunnel timeout on the server side",
        ),
        (
            Termination::ClientError(ConnectionReset),
            "CD",
            "client error: connection reset",
        ),
        (
            Termination::ServerError(BrokenPipe),
            "SD",
            "server error: broken pipe",
        ),
        (Termination::Killed, "KD", "killed"),
        (Termination::ServerDown, "DD", "server down"),
    ];
    for (t, code, text) in cases {
        assert_eq!(t.haproxy_code(), code);
        assert_eq!(t.to_string(), text);
        assert_eq!(t.haproxy_code().len(), 2);
        let kinds = [t.is_normal(), t.is_timeout(), t.is_error()];
        assert!(kinds.iter().filter(|k| **k).count() <= 1, "{t}");
    }
    assert!(Termination::ServerError(BrokenPipe).is_reset());
    assert!(!Termination::ServerError(TimedOut).is_reset());
    assert!(!Termination::ClientTimeout.is_reset());
    assert_eq!(Termination::Killed.side(), None);
    assert_eq!(Termination::ServerDown.side(), Some(Side::Server));
    assert_eq!(Side::Client.peer(), Side::Server);
}

#[test]
fn config_setters() {
    let cfg = ForwardConfig::default()
        .buffer_size(1024)
        .timeout_client(secs(1))
        .timeout_server(None)
        .timeout_tunnel(secs(3))
        .timeout_client_fin(secs(4))
        .timeout_server_fin(secs(5));
    assert_eq!(cfg.buffer_size, 1024);
    assert_eq!(cfg.timeout_client, Some(secs(1)));
    assert_eq!(cfg.timeout_server, None);
    assert_eq!(cfg.timeout_tunnel, Some(secs(3)));
    assert_eq!(cfg.timeout_client_fin, Some(secs(4)));
    assert_eq!(cfg.timeout_server_fin, Some(secs(5)));
    assert!(cfg.has_timeouts());
    assert!(!ForwardConfig::new().buffer_size(1).has_timeouts());
}

// ---------------------------------------------------------------------------------------
// Scheduling, properties

/// Always ready: reads fill the whole buffer, writes take everything. Does not use
/// tokio's cooperative budget, so only the forwarder's own yielding lets others run.
struct Firehose;

impl AsyncRead for Firehose {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining();
        buf.put_slice(&vec![0x42; n]);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Firehose {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn never_blocking_streams_still_yield() {
    let (mut client, mut server) = (Firehose, Firehose);
    let cfg = ForwardConfig::new()
        .timeout_client(Duration::from_millis(10))
        .timeout_server(Duration::from_millis(10));
    let counters = Counters::new();
    let mut proxy = forward(&mut client, &mut server, &cfg, &counters);
    // The proxy must let the timer of this `timeout` run; it never times out itself since
    // both sides move bytes all the time.
    let res = timeout(Duration::from_millis(50), &mut proxy).await;
    assert!(res.is_err(), "the session should still be running");
    let (up, down) = counters.load();
    assert!(
        up > 0 && down > 0,
        "both directions progressed: {up} {down}"
    );
    assert_eq!(
        (proxy.client_to_server(), proxy.server_to_client()),
        (up, down)
    );
}

#[test]
fn forward_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let (mut a, mut b) = duplex(8);
    let counters = Counters::new();
    let proxy = forward(&mut a, &mut b, &ForwardConfig::new(), &counters);
    is_send(&proxy);
    assert!(format!("{proxy:?}").starts_with("Forward"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Any sizes, any buffer and pipe capacities: every byte arrives, in order, counted once.
    #[test]
    fn any_sizes_arrive_intact(
        up in 0u64..200_000,
        down in 0u64..200_000,
        buffer_size in 1usize..40_000,
        cap in 1usize..10_000,
        seed in 1u64..u64::MAX,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            let (mut client, mut accepted, mut connected, mut server) = mem(cap);
            let cfg = ForwardConfig::new().buffer_size(buffer_size);
            let counters = Counters::new();
            let proxy = forward(&mut accepted, &mut connected, &cfg, &counters);
            let client_app = async {
                let (mut r, mut w) = tokio::io::split(&mut client);
                tokio::try_join!(send(&mut w, up, seed), recv(&mut r))
            };
            let server_app = async {
                let (mut r, mut w) = tokio::io::split(&mut server);
                tokio::try_join!(recv(&mut r), send(&mut w, down, seed ^ 1))
            };
            let (outcome, c, s) = tokio::join!(proxy, client_app, server_app);
            let (sent_up, (n_down, got_down)) = c.expect("client side");
            let ((n_up, got_up), sent_down) = s.expect("server side");
            assert_eq!((n_up, got_up), (up, sent_up));
            assert_eq!((n_down, got_down), (down, sent_down));
            assert!(outcome.termination.is_normal());
            assert_eq!(counters.load(), (up, down));
        });
    }
}

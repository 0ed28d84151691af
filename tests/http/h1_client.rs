//! The hand-written HTTP/1.1 client towards servers, against scripted raw origins: framing,
//! reuse decisions, replays, informational responses, timeouts and broken servers.

use super::*;

use std::sync::atomic::{AtomicUsize, Ordering};

/// A raw origin: for each request head it reads, it writes `reply(conn, request)` (conn and
/// request numbered from 0), then closes the connection if the reply says so by returning
/// `None` as the next action.
struct Scripted {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a scripted origin does after one request.
enum Then {
    /// Keep the connection for the next request.
    Keep,
    /// Close it at once.
    Close,
    /// Close it after this delay.
    CloseAfter(Duration),
    /// Stay silent (hold the connection open) for this long, then close.
    Stall(Duration),
}

async fn scripted(reply: fn(usize, usize) -> (Vec<u8>, Then)) -> Scripted {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let c2 = conns.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let conn = c2.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut req = 0;
                loop {
                    // Read one request head (these tests send no request bodies).
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        let mut chunk = [0u8; 4096];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    let (bytes, then) = reply(conn, req);
                    req += 1;
                    if s.write_all(&bytes).await.is_err() {
                        return;
                    }
                    match then {
                        Then::Keep => {}
                        Then::Close => return,
                        Then::CloseAfter(d) => {
                            tokio::time::sleep(d).await;
                            return;
                        }
                        Then::Stall(d) => {
                            tokio::time::sleep(d).await;
                            return;
                        }
                    }
                }
            });
        }
    });
    Scripted { addr, conns, task }
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn always() -> Opts {
    Opts {
        reuse: ReuseMode::Always,
        ..Opts::default()
    }
}

async fn get_text(c: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>) -> (u16, String) {
    let r = c.send_request(get("/")).await.unwrap();
    let status = r.status().as_u16();
    (status, body_string(r).await)
}

#[tokio::test]
async fn keep_alive_connections_are_reused() {
    let o = scripted(|_, i| (ok(&format!("r{i}")), Then::Keep)).await;
    let p = proxy(&[o.addr], always()).await;
    let mut c = h1(p.addr).await;
    for i in 0..5 {
        assert_eq!(get_text(&mut c).await, (200, format!("r{i}")));
    }
    assert_eq!(o.conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_idle_connection_the_server_closed_is_not_used() {
    // Each connection answers once, then the server closes it shortly after.
    let o = scripted(|c, _| {
        (
            ok(&format!("c{c}")),
            Then::CloseAfter(Duration::from_millis(20)),
        )
    })
    .await;
    let p = proxy(&[o.addr], always()).await;
    let mut c = h1(p.addr).await;
    assert_eq!(get_text(&mut c).await, (200, "c0".into()));
    tokio::time::sleep(Duration::from_millis(150)).await;
    // The pooled connection is dead: a new one serves the request, no error.
    assert_eq!(get_text(&mut c).await, (200, "c1".into()));
    assert_eq!(o.conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_race_with_the_server_closing_is_replayed_for_idempotent_requests() {
    // The server accepts the next request on a kept-alive connection and closes without a
    // byte: the classic keep-alive race. A GET is replayed on a new connection.
    let o = scripted(|c, i| match (c, i) {
        (0, 0) => (ok("first"), Then::Keep),
        (0, _) => (Vec::new(), Then::Close),
        _ => (ok("replayed"), Then::Keep),
    })
    .await;
    let p = proxy(&[o.addr], always()).await;
    let mut c = h1(p.addr).await;
    assert_eq!(get_text(&mut c).await, (200, "first".into()));
    assert_eq!(get_text(&mut c).await, (200, "replayed".into()));
}

#[tokio::test]
async fn connection_close_and_http_1_0_responses_are_not_reused() {
    let o = scripted(|c, _| {
        let reply = if c % 2 == 0 {
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
        } else {
            "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
        };
        (reply.as_bytes().to_vec(), Then::Keep)
    })
    .await;
    let p = proxy(&[o.addr], always()).await;
    let mut c = h1(p.addr).await;
    for _ in 0..4 {
        assert_eq!(get_text(&mut c).await, (200, "ok".into()));
    }
    assert_eq!(
        o.conns.load(Ordering::SeqCst),
        4,
        "a new connection each time"
    );
}

#[tokio::test]
async fn close_delimited_bodies_end_when_the_server_closes() {
    let o = scripted(|_, _| {
        (
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end".to_vec(),
            Then::Close,
        )
    })
    .await;
    let p = proxy(&[o.addr], always()).await;
    let mut c = h1(p.addr).await;
    assert_eq!(get_text(&mut c).await, (200, "until the end".into()));
    assert_eq!(get_text(&mut c).await, (200, "until the end".into()));
    assert_eq!(o.conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn informational_responses_before_the_final_one_are_skipped() {
    let o = scripted(|_, _| {
        (
            b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n\
              HTTP/1.1 100 Continue\r\n\r\n\
              HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"
                .to_vec(),
            Then::Keep,
        )
    })
    .await;
    let p = proxy(&[o.addr], always()).await;
    let mut c = h1(p.addr).await;
    assert_eq!(get_text(&mut c).await, (200, "final".into()));
    assert_eq!(get_text(&mut c).await, (200, "final".into()));
    assert_eq!(o.conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn chunked_bodies_with_extensions_and_trailers() {
    let o = scripted(|_, _| {
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              4;name=value\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Digest: abc\r\n\r\n"
                .to_vec(),
            Then::Keep,
        )
    })
    .await;
    let p = proxy(&[o.addr], always()).await;
    let mut c = h2(p.addr).await;
    let uri = format!("http://127.0.0.1:{}/", p.addr.port());
    let r = c.send_request(get(&uri)).await.unwrap();
    let collected = r.into_body().collect().await.unwrap();
    assert_eq!(
        collected.trailers().unwrap().get("x-digest").unwrap(),
        "abc"
    );
    assert_eq!(&collected.to_bytes()[..], b"Wikipedia");
    let r = c.send_request(get(&uri)).await.unwrap();
    assert_eq!(body_string(r).await, "Wikipedia");
    assert_eq!(
        o.conns.load(Ordering::SeqCst),
        1,
        "reused after a clean chunked end"
    );
}

#[tokio::test]
async fn bytes_after_the_response_prevent_reuse() {
    let o = scripted(|_, _| {
        let mut r = ok("one");
        r.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray");
        (r, Then::Keep)
    })
    .await;
    let p = proxy(&[o.addr], always()).await;
    let mut c = h1(p.addr).await;
    assert_eq!(get_text(&mut c).await, (200, "one".into()));
    // The stray response must never be served as the answer to the next request.
    assert_eq!(get_text(&mut c).await, (200, "one".into()));
    assert_eq!(o.conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn broken_response_heads_give_502() {
    let o = scripted(|c, _| {
        let reply: &[u8] = match c % 3 {
            0 => b"HELLO WORLD\r\n\r\n",
            1 => b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            _ => b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        };
        (reply.to_vec(), Then::Keep)
    })
    .await;
    let p = proxy(&[o.addr], always()).await;
    let mut c = h1(p.addr).await;
    for _ in 0..3 {
        let (status, _) = get_text(&mut c).await;
        assert_eq!(status, 502);
    }
    assert_eq!(p.backend.stats().inflight(), 0);
}

#[tokio::test]
async fn a_server_stalling_inside_the_body_hits_timeout_server() {
    let o = scripted(|_, _| {
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec(),
            Then::Stall(Duration::from_secs(30)),
        )
    })
    .await;
    let p = proxy(
        &[o.addr],
        Opts {
            proxy: ProxyConfig {
                timeout_server: Some(Duration::from_millis(200)),
                ..ProxyConfig::default()
            },
            ..Opts::default()
        },
    )
    .await;
    let text = raw_exchange(p.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("abc"), "{text}");
    assert!(eventually(|| p.backend.stats().inflight() == 0).await);
}

fn status_reply(status: u16) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\n{:02}",
        status % 100
    )
    .into_bytes()
}

async fn send(
    c: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    method: &str,
    body: &'static str,
) -> (u16, String) {
    let req = Request::builder()
        .method(method)
        .uri("/")
        .header("host", "x")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let r = c.send_request(req).await.unwrap();
    let status = r.status().as_u16();
    (status, body_string(r).await)
}

#[tokio::test]
async fn retry_on_status_replays_idempotent_requests_elsewhere() {
    let bad = scripted(|_, _| (status_reply(503), Then::Keep)).await;
    let good = scripted(|_, _| (status_reply(200), Then::Keep)).await;
    let p = proxy(
        &[bad.addr, good.addr],
        Opts {
            proxy: ProxyConfig {
                retry_on: lb::http::proxy::RetryOn::parse(["conn-failure", "503"]).unwrap(),
                redispatch: Redispatch::Every(1),
                ..ProxyConfig::default()
            },
            ..always()
        },
    )
    .await;
    let mut c = h1(p.addr).await;
    for _ in 0..4 {
        // Round robin sends every other request to the 503 server first.
        assert_eq!(send(&mut c, "GET", "").await.0, 200);
        assert_eq!(send(&mut c, "PUT", "small body").await.0, 200);
    }
    // A POST is not idempotent: the 503 goes back to the client.
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(send(&mut c, "POST", "x=1").await.0);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 503]);
}

#[tokio::test]
async fn retry_on_empty_response_and_the_default_does_not() {
    // The first connection closes without answering; later ones answer.
    let o = scripted(|c, _| match c {
        0 => (Vec::new(), Then::Close),
        _ => (ok("second try"), Then::Keep),
    })
    .await;
    let p = proxy(
        &[o.addr],
        Opts {
            proxy: ProxyConfig {
                retry_on: lb::http::proxy::RetryOn::parse(["empty-response"]).unwrap(),
                ..ProxyConfig::default()
            },
            ..always()
        },
    )
    .await;
    let mut c = h1(p.addr).await;
    assert_eq!(send(&mut c, "GET", "").await, (200, "second try".into()));

    // With the default (conn-failure), the same failure is a 502.
    let o = scripted(|c, _| match c {
        0 => (Vec::new(), Then::Close),
        _ => (ok("second try"), Then::Keep),
    })
    .await;
    let p = proxy(&[o.addr], always()).await;
    let mut c = h1(p.addr).await;
    assert_eq!(send(&mut c, "GET", "").await.0, 502);
}

#[tokio::test]
async fn request_bodies_over_the_limit_get_413() {
    let o = origin("a").await;
    let p = proxy(
        &[o.addr],
        Opts {
            proxy: ProxyConfig {
                max_request_body: Some(16),
                ..ProxyConfig::default()
            },
            ..Opts::default()
        },
    )
    .await;
    // Announced length: refused before anything reaches the server.
    let mut c = h1(p.addr).await;
    assert_eq!(
        send(&mut c, "POST", "this body is longer than sixteen bytes")
            .await
            .0,
        413
    );
    assert_eq!(o.requests(), 0);
    // Within the limit: fine.
    let mut c = h1(p.addr).await;
    assert_eq!(send(&mut c, "POST", "short").await.0, 200);
    // Streamed without a length (chunked): cut at the limit.
    let mut c = h1_streaming(p.addr).await;
    let req = Request::post("/echo")
        .header("host", "x")
        .body(IterBody::new(std::iter::repeat_n(
            Bytes::from_static(b"0123456789"),
            10,
        )))
        .unwrap();
    let r = c.send_request(req).await.unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn tunnels_end_after_timeout_tunnel_of_inactivity_only() {
    let o = origin("a").await;
    let p = proxy(
        &[o.addr],
        Opts {
            proxy: ProxyConfig {
                timeout_tunnel: Some(Duration::from_millis(300)),
                ..ProxyConfig::default()
            },
            ..Opts::default()
        },
    )
    .await;
    let mut c = h1(p.addr).await;
    let req = Request::get("/ws")
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .body(Full::default())
        .unwrap();
    let mut resp = c.send_request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    let up = hyper::upgrade::on(&mut resp).await.unwrap();
    let mut io = hyper_util::rt::TokioIo::new(up);
    // Active for three times the timeout: the tunnel stays up.
    for _ in 0..9 {
        io.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        io.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Then idle: closed by the proxy soon after the timeout.
    let mut rest = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(3), io.read_to_end(&mut rest)).await;
    assert!(r.is_ok(), "the idle tunnel must be closed");
    assert!(rest.is_empty());
    assert!(eventually(|| p.backend.stats().inflight() == 0).await);
}

#[tokio::test]
async fn timeout_server_before_the_head_gives_504_or_a_retry_when_configured() {
    let silent = scripted(|_, _| (Vec::new(), Then::Stall(Duration::from_secs(30)))).await;
    let good = scripted(|_, _| (ok("answered"), Then::Keep)).await;
    let timeout = Some(Duration::from_millis(200));
    let p = proxy(
        &[silent.addr],
        Opts {
            proxy: ProxyConfig {
                timeout_server: timeout,
                ..ProxyConfig::default()
            },
            ..always()
        },
    )
    .await;
    let mut c = h1(p.addr).await;
    let started = std::time::Instant::now();
    assert_eq!(get_text(&mut c).await.0, 504);
    assert!(started.elapsed() < Duration::from_secs(2));
    // The connection keeps its timer across requests: a second request times out too.
    assert_eq!(get_text(&mut c).await.0, 504);

    let p = proxy(
        &[silent.addr, good.addr],
        Opts {
            proxy: ProxyConfig {
                timeout_server: timeout,
                retry_on: lb::http::proxy::RetryOn::parse(["conn-failure", "response-timeout"])
                    .unwrap(),
                redispatch: Redispatch::Every(1),
                ..ProxyConfig::default()
            },
            ..always()
        },
    )
    .await;
    let mut c = h1(p.addr).await;
    for _ in 0..3 {
        assert_eq!(get_text(&mut c).await, (200, "answered".into()));
    }
}

#[tokio::test]
async fn a_servers_own_empty_400_passes_through_untouched() {
    // What hyper's parser-error answers look like, from the origin: it must reach the
    // client as sent (not replaced by the frontend's 400 page), and keep-alive goes on.
    let o = scripted(|_, _| {
        (
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec(),
            Then::Keep,
        )
    })
    .await;
    let p = proxy(&[o.addr], always()).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    for _ in 0..3 {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
        assert!(text.starts_with("http/1.1 400"), "{text}");
        assert!(text.contains("content-length: 0\r\n"), "{text}");
        assert!(!text.contains("<html>"), "{text}");
    }
}

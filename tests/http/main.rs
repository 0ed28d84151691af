//! lb-http end to end over loopback: real hyper clients and origins, the proxy between.

#[path = "../support/mod.rs"]
mod support;

mod h1_client;
mod limits;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use lb::core::{Address, Algorithm, Backend, BalanceConfig, OpState, ServerConfig};
use lb::http::client::{PoolConfig, Pools, ReuseMode, ServerProto};
use lb::http::proxy::{HttpProxy, ProxyConfig, Redispatch};
use lb::http::server::{serve_connection, ConnInfo, FrontendConfig};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Connect = tower::util::BoxCloneSyncService<Address, TcpStream, std::io::Error>;

fn tcp_connect() -> Connect {
    tower::util::BoxCloneSyncService::new(tower::service_fn(|a: Address| async move {
        match a.as_inet() {
            Some(sa) => TcpStream::connect(sa).await,
            None => Err(std::io::Error::other("not an inet address")),
        }
    }))
}

struct Proxy {
    addr: SocketAddr,
    backend: Backend,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Opts {
    proto: ServerProto,
    reuse: ReuseMode,
    fe: FrontendConfig,
    proxy: ProxyConfig,
    connect_timeout: Option<Duration>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            proto: ServerProto::Http1,
            reuse: ReuseMode::Safe,
            fe: FrontendConfig::new("fe"),
            proxy: ProxyConfig::default(),
            connect_timeout: Some(Duration::from_millis(500)),
        }
    }
}

async fn proxy(servers: &[SocketAddr], opts: Opts) -> Proxy {
    trace_init();
    let backend = Backend::new(
        "be",
        BalanceConfig::new(Algorithm::RoundRobin),
        servers
            .iter()
            .enumerate()
            .map(|(i, a)| ServerConfig::new(format!("s{}", i + 1), (*a).into())),
    )
    .unwrap();
    let pools = Arc::new(Pools::new(
        tcp_connect(),
        PoolConfig {
            reuse: opts.reuse,
            proto: opts.proto,
            connect_timeout: opts.connect_timeout,
            ..PoolConfig::default()
        },
    ));
    let svc = HttpProxy::new(backend.clone(), pools, opts.proxy);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fe = Arc::new(opts.fe);
    let task = tokio::spawn(async move {
        loop {
            let Ok((io, peer)) = listener.accept().await else {
                return;
            };
            let svc = svc.clone();
            let fe = fe.clone();
            tokio::spawn(async move {
                let info = ConnInfo {
                    client: Some(peer),
                    local: io.local_addr().ok(),
                    frontend: fe.name.clone(),
                    accepted: SystemTime::now(),
                    tls: false,
                    ssl_version: None,
                    ssl_cipher: None,
                };
                let _ = serve_connection(io, info, &fe, &svc, std::future::pending()).await;
            });
        }
    });
    Proxy {
        addr,
        backend,
        task,
    }
}

/// Sends `request` on a new connection to `addr` and reads until the proxy closes it
/// (within 5 s, else the test fails: a hung connection).
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("the connection must be closed, not left hanging")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn all_protocol_pairs_route_and_balance() {
    let (a, b) = (origin("a").await, origin("b").await);
    for (client_h2, proto) in [
        (false, ServerProto::Http1),
        (false, ServerProto::Http2),
        (true, ServerProto::Http1),
        (true, ServerProto::Http2),
    ] {
        let p = proxy(
            &[a.addr, b.addr],
            Opts {
                proto,
                ..Opts::default()
            },
        )
        .await;
        let mut seen = Vec::new();
        let want_version = if proto == ServerProto::Http2 {
            "HTTP/2.0"
        } else {
            "HTTP/1.1"
        };
        for i in 0..4 {
            let uri = format!("http://127.0.0.1:{}/p?i={i}", p.addr.port());
            let resp = if client_h2 {
                h2(p.addr).await.send_request(get(&uri)).await.unwrap()
            } else {
                let mut req = get(&format!("/p?i={i}"));
                req.headers_mut()
                    .insert("host", "example.com".parse().unwrap());
                h1(p.addr).await.send_request(req).await.unwrap()
            };
            assert_eq!(resp.status(), 200, "h2 client {client_h2}, {proto:?}");
            assert_eq!(resp.headers()["x-seen-version"], want_version);
            seen.push(resp.headers()["x-origin"].to_str().unwrap().to_owned());
            let body = body_string(resp).await;
            assert!(body.starts_with("hello from "));
        }
        assert_eq!(
            seen,
            ["a", "b", "a", "b"],
            "client h2 {client_h2}, {proto:?}"
        );
    }
}

#[tokio::test]
async fn keep_alive_and_pipelining() {
    let o = origin("a").await;
    let p = proxy(&[o.addr], Opts::default()).await;
    // Keep-alive: many requests on one client connection.
    let mut c = h1(p.addr).await;
    for _ in 0..20 {
        let r = c.send_request(get("/")).await.unwrap();
        assert_eq!(body_string(r).await, "hello from a");
    }
    // Pipelining: three requests written at once, three answers in order.
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"GET /size/3 HTTP/1.1\r\nHost: x\r\n\r\nGET /size/5 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("proxy closes after Connection: close")
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 3, "{text}");
    assert!(text.ends_with("hello from a"), "{text}");
}

#[tokio::test]
async fn bodies_stream_intact_both_ways() {
    let o = origin("a").await;
    let p = proxy(&[o.addr], Opts::default()).await;
    let mut c = h1(p.addr).await;
    for len in [0usize, 1, 1 << 20, 100 << 20] {
        for chunked in [false, true] {
            // Download.
            let q = if chunked { "?chunked" } else { "" };
            let r = c
                .send_request(get(&format!("/size/{len}{q}")))
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let mut h = Fnv::default();
            let mut n = 0;
            let mut body = r.into_body();
            while let Some(f) = body.frame().await {
                if let Some(d) = f.unwrap().data_ref() {
                    h.update(d);
                    n += d.len();
                }
            }
            assert_eq!(
                (n, h),
                (len, pattern_hash(len)),
                "download {len} chunked {chunked}"
            );
        }
        // Upload (streamed, chunked by the client library when no length is known).
        let body = IterBody::new(pattern(len));
        let mut up = h1_streaming(p.addr).await;
        let r = up
            .send_request(Request::post("/hash").body(body).unwrap())
            .await
            .unwrap();
        assert_eq!(
            body_string(r).await,
            format!("{len}:{:016x}", pattern_hash(len).0),
            "upload {len}"
        );
    }
}

async fn h1_streaming(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<IterBody> {
    let io = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

#[tokio::test]
async fn trailers_head_and_bodyless_responses() {
    let o = origin("a").await;
    for proto in [ServerProto::Http1, ServerProto::Http2] {
        let p = proxy(
            &[o.addr],
            Opts {
                proto,
                ..Opts::default()
            },
        )
        .await;
        // Trailers need HTTP/2 or chunked HTTP/1.1 with TE: trailers on the client side.
        let mut c = h2(p.addr).await;
        let r = c
            .send_request(get(&format!("http://127.0.0.1:{}/trailers", p.addr.port())))
            .await
            .unwrap();
        let collected = r.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned();
        assert_eq!(&collected.to_bytes()[..], b"body");
        assert_eq!(
            trailers.expect("trailers forwarded")["x-checksum"],
            "abc123",
            "{proto:?}"
        );
        // HEAD: headers only.
        let mut c = h1(p.addr).await;
        let r = c
            .send_request(
                Request::head("/size/1000")
                    .header("host", "example.com")
                    .body(Full::default())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{proto:?} {:?}", r.headers());
        assert_eq!(r.headers()["content-length"], "1000");
        assert!(r.into_body().collect().await.unwrap().to_bytes().is_empty());
    }
}

#[tokio::test]
async fn expect_100_continue_is_honoured() {
    let o = origin("a").await;
    let p = proxy(&[o.addr], Opts::default()).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(
        b"POST /hash HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100 Continue"));
    s.write_all(b"hello").await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let n = s.read(&mut buf).await.unwrap();
            out.extend_from_slice(&buf[..n]);
            if n == 0 || String::from_utf8_lossy(&out).contains("\r\n\r\n5:") {
                break;
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("200 OK") && text.contains("5:"), "{text}");
}

#[tokio::test]
async fn websocket_upgrade_is_tunnelled() {
    let o = origin("a").await;
    let p = proxy(&[o.addr], Opts::default()).await;
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
    io.write_all(b"ping through the tunnel").await.unwrap();
    let mut buf = [0u8; 23];
    tokio::time::timeout(Duration::from_secs(5), io.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"ping through the tunnel");
}

#[tokio::test]
async fn slowloris_gets_408() {
    let o = origin("a").await;
    let mut fe = FrontendConfig::new("fe");
    fe.timeout_http_request = Some(Duration::from_millis(300));
    let p = proxy(
        &[o.addr],
        Opts {
            fe,
            ..Opts::default()
        },
    )
    .await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // Keep dribbling a header byte by byte, slower than the timeout allows in total.
    let mut out = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), async {
        for _ in 0..10 {
            if s.write_all(b"X").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        let _ = s.read_to_end(&mut out).await;
    })
    .await;
    assert!(r.is_ok(), "no hang");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.to_ascii_lowercase().contains("connection: close"));
}

#[tokio::test]
async fn origin_down_gives_503_after_retries() {
    // A port with nothing listening.
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy_cfg = ProxyConfig {
        retries: 2,
        redispatch: Redispatch::Every(1),
        ..ProxyConfig::default()
    };
    let p = proxy(
        &[dead],
        Opts {
            proxy: proxy_cfg,
            ..Opts::default()
        },
    )
    .await;
    let mut c = h1(p.addr).await;
    let r = tokio::time::timeout(Duration::from_secs(10), c.send_request(get("/")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status(), 503);
    let s = p.backend.server("s1").unwrap();
    assert_eq!(
        s.stats()
            .connect_errors
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    assert_eq!(s.stats().inflight(), 0);
}

#[tokio::test]
async fn connect_failure_redispatches_to_a_live_server() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let live = origin("live").await;
    let proxy_cfg = ProxyConfig {
        redispatch: Redispatch::Every(1),
        ..ProxyConfig::default()
    };
    let p = proxy(
        &[dead, live.addr],
        Opts {
            proxy: proxy_cfg,
            ..Opts::default()
        },
    )
    .await;
    let mut c = h1(p.addr).await;
    for _ in 0..4 {
        let r = c.send_request(get("/")).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-origin"], "live");
        body_string(r).await;
    }
}

#[tokio::test]
async fn origin_reset_mid_response_closes_the_client_connection() {
    // A raw origin: headers and 100 of 100000 announced bytes, then a reset.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                .await;
            let _ = s.write_all(&[b'x'; 100]).await;
            let _ = s.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            #[allow(deprecated)] // zero linger: no blocking, just an RST
            let _ = s.set_linger(Some(Duration::ZERO));
            drop(s);
        }
    });
    let p = proxy(&[addr], Opts::default()).await;
    let text = raw_exchange(p.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // Fewer bytes than announced: the client can tell the response was cut.
    assert!(text.len() < 100_000);
    // The server slot is free again.
    assert!(eventually(|| p.backend.stats().inflight() == 0).await);
    task.abort();
}

#[tokio::test]
async fn origin_closing_before_headers_gives_502() {
    let o = origin("a").await;
    let p = proxy(&[o.addr], Opts::default()).await;
    let mut c = h1(p.addr).await;
    let mut req = get("/reset");
    req.headers_mut().insert("host", "x".parse().unwrap());
    let r = c.send_request(req).await.unwrap();
    assert_eq!(r.status(), 502);
    // The client connection stays usable.
    let mut req = get("/");
    req.headers_mut().insert("host", "x".parse().unwrap());
    assert_eq!(c.send_request(req).await.unwrap().status(), 200);
}

#[tokio::test]
async fn pooled_connections_are_reused() {
    let o = origin("a").await;
    let p = proxy(
        &[o.addr],
        Opts {
            reuse: ReuseMode::Always,
            ..Opts::default()
        },
    )
    .await;
    for _ in 0..5 {
        // A new client connection each time; the server side is shared.
        let mut c = h1(p.addr).await;
        for _ in 0..4 {
            body_string(c.send_request(get("/")).await.unwrap()).await;
        }
    }
    assert_eq!(o.requests(), 20);
    assert_eq!(
        o.conns(),
        1,
        "one server connection reused for all 20 requests"
    );

    // never: no sharing across client connections
    let o2 = origin("b").await;
    let p2 = proxy(
        &[o2.addr],
        Opts {
            reuse: ReuseMode::Never,
            ..Opts::default()
        },
    )
    .await;
    for _ in 0..3 {
        let mut c = h1(p2.addr).await;
        body_string(c.send_request(get("/")).await.unwrap()).await;
    }
    assert_eq!(o2.conns(), 3);

    // safe: a client connection's first request opens its own, later ones reuse
    let o3 = origin("c").await;
    let p3 = proxy(
        &[o3.addr],
        Opts {
            reuse: ReuseMode::Safe,
            ..Opts::default()
        },
    )
    .await;
    let mut c = h1(p3.addr).await;
    for _ in 0..5 {
        body_string(c.send_request(get("/")).await.unwrap()).await;
    }
    assert_eq!(o3.conns(), 1);
}

#[tokio::test]
async fn a_post_whose_body_was_sent_is_never_replayed() {
    // An origin that reads the whole request then drops the connection without answering.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let s2 = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            s2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = vec![0u8; 65536];
            let _ = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await;
            drop(s);
        }
    });
    let proxy_cfg = ProxyConfig {
        redispatch: Redispatch::Every(1),
        ..ProxyConfig::default()
    };
    let p = proxy(
        &[addr],
        Opts {
            proxy: proxy_cfg,
            ..Opts::default()
        },
    )
    .await;
    let mut c = h1(p.addr).await;
    let r = c
        .send_request(
            Request::post("/")
                .body(Full::new(Bytes::from_static(b"payment=1")))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "sent once, never replayed"
    );
    task.abort();
}

#[tokio::test]
async fn no_usable_server_gives_503() {
    let o = origin("a").await;
    let p = proxy(&[o.addr], Opts::default()).await;
    p.backend.set_op_state("s1", OpState::Down, "test").unwrap();
    let mut c = h1(p.addr).await;
    let r = c.send_request(get("/")).await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("content-length"));
    assert!(body_string(r).await.contains("503"));
}

#[tokio::test]
async fn forwarding_headers_and_hop_by_hop() {
    use lb::http::headers::{ForwardFor, ForwardedOptions};
    // A raw origin shows exactly what the proxy sends, and answers with hop-by-hop headers.
    let raw = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let raw_addr = raw.local_addr().unwrap();
    let proxy_cfg = ProxyConfig {
        forwarded: ForwardedOptions::new().forward_for(ForwardFor::new()),
        ..ProxyConfig::default()
    };
    let p2 = proxy(
        &[raw_addr],
        Opts {
            proxy: proxy_cfg,
            ..Opts::default()
        },
    )
    .await;
    let got = tokio::spawn(async move {
        let (mut s, _) = raw.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive, x-secret\r\nX-Secret: 1\r\n\r\nok")
            .await
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let mut c = TcpStream::connect(p2.addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, x-hop\r\nX-Hop: drop me\r\nKeep-Alive: 300\r\nTE: trailers, gzip\r\n\r\n")
        .await
        .unwrap();
    let sent = got.await.unwrap().to_ascii_lowercase();
    assert!(sent.contains("x-forwarded-for: 127.0.0.1"), "{sent}");
    assert!(!sent.contains("x-hop"), "{sent}");
    assert!(!sent.contains("keep-alive: 300"), "{sent}");
    assert!(sent.contains("te: trailers\r\n"), "{sent}");
    assert!(sent.contains("host: example.com"), "{sent}");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let resp = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
    assert!(!resp.contains("x-secret"), "{resp}");
    assert!(!resp.contains("keep-alive: timeout"), "{resp}");
}

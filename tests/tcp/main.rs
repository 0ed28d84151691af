//! lb-tcp end to end over loopback: the TCP proxy, PROXY protocol, SNI switching.

#[path = "../support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use lb::core::Redispatch;
use lb::core::{Algorithm, Backend, BalanceConfig, ServerConfig};
use lb::tcp::connect::TcpConnect;
use lb::tcp::forward::ForwardConfig;
use lb::tcp::frontend::{SourceAction, TcpFrontend};
use lb::tcp::inspect::{Condition, ContentRules, InspectAction, InspectOptions};
use lb::tcp::listen::{Acceptor, BindSpec, Shutdown};
use lb::tcp::proxy::{SendProxy, TcpProxy, TcpProxyConfig};
use lb::tcp::proxy_protocol::ProxyHeader;
use support::{pattern, pattern_hash, trace_init, Fnv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An echo server that also answers a banner first when `banner` is set.
async fn echo(banner: Option<&'static str>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let t = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                if let Some(b) = banner {
                    let _ = s.write_all(b.as_bytes()).await;
                }
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    (addr, t)
}

fn backend(name: &str, servers: &[SocketAddr]) -> Backend {
    Backend::new(
        name,
        BalanceConfig::new(Algorithm::RoundRobin),
        servers
            .iter()
            .enumerate()
            .map(|(i, a)| ServerConfig::new(format!("s{}", i + 1), (*a).into())),
    )
    .unwrap()
}

fn tcp_proxy(be: Backend, cfg: TcpProxyConfig) -> TcpProxy<TcpConnect> {
    TcpProxy::new(be, TcpConnect::new(), cfg)
}

/// Serves `frontend` on 127.0.0.1:0; returns the address and the shutdown handle.
async fn serve(frontend: TcpFrontend<TcpConnect>) -> (SocketAddr, Shutdown) {
    trace_init();
    let listeners = BindSpec::parse("127.0.0.1:0").unwrap().bind().unwrap();
    let addr = listeners[0].local_addr().as_inet().unwrap();
    let shutdown = Shutdown::new();
    let signal = shutdown.signal();
    tokio::spawn(Acceptor::new("fe", listeners).serve(frontend, signal));
    (addr, shutdown)
}

#[tokio::test]
async fn forwards_with_half_close_both_ways() {
    let (srv, _t) = echo(None).await;
    let (addr, _sd) = serve(TcpFrontend::new(
        "fe",
        tcp_proxy(backend("be", &[srv]), TcpProxyConfig::default()),
    ))
    .await;
    // Client half-closes, still reads the echo afterwards.
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"request").await.unwrap();
    c.shutdown().await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out, b"request");

    // Server half-closes first: a banner then FIN; the client can still send.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let srv2 = l.local_addr().unwrap();
    let got = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        s.write_all(b"bye").await.unwrap();
        s.shutdown().await.unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await.unwrap();
        rest
    });
    let (addr2, _sd2) = serve(TcpFrontend::new(
        "fe2",
        tcp_proxy(backend("be2", &[srv2]), TcpProxyConfig::default()),
    ))
    .await;
    let mut c = TcpStream::connect(addr2).await.unwrap();
    let mut buf = [0u8; 3];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"bye");
    assert_eq!(c.read(&mut [0u8; 1]).await.unwrap(), 0, "FIN propagated");
    c.write_all(b"after").await.unwrap();
    c.shutdown().await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), got)
            .await
            .unwrap()
            .unwrap(),
        b"after"
    );
}

#[tokio::test]
async fn hundred_megabytes_arrive_intact() {
    let (srv, _t) = echo(None).await;
    let be = backend("be", &[srv]);
    let (addr, _sd) = serve(TcpFrontend::new(
        "fe",
        tcp_proxy(be.clone(), TcpProxyConfig::default()),
    ))
    .await;
    let c = TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = c.into_split();
    const LEN: usize = 100 << 20;
    let writer = tokio::spawn(async move {
        for chunk in pattern(LEN) {
            w.write_all(&chunk).await.unwrap();
        }
        w.shutdown().await.unwrap();
    });
    let mut h = Fnv::default();
    let mut n = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let k = r.read(&mut buf).await.unwrap();
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k;
    }
    writer.await.unwrap();
    assert_eq!((n, h), (LEN, pattern_hash(LEN)));
    let s = be.server("s1").unwrap();
    assert!(support::eventually(|| s.stats().bytes_out.load(Relaxed) == LEN as u64).await);
    assert_eq!(s.stats().bytes_in.load(Relaxed), LEN as u64);
}

#[tokio::test]
async fn server_dying_mid_stream_closes_the_client_and_counts() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let srv = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        s.write_all(b"partial").await.unwrap();
        // Let the proxy connect and start forwarding, then reset mid-stream.
        tokio::time::sleep(Duration::from_millis(200)).await;
        #[allow(deprecated)] // zero linger sends an RST, it does not block
        let _ = s.set_linger(Some(Duration::ZERO));
        drop(s);
    });
    let be = backend("be", &[srv]);
    let (addr, _sd) = serve(TcpFrontend::new(
        "fe",
        tcp_proxy(be.clone(), TcpProxyConfig::default()),
    ))
    .await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let mut out = Vec::new();
    // Closed (cleanly or with a reset), never left hanging; what arrived is a prefix of
    // what the server sent (the reset may overtake the data).
    let r = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    assert!(r.is_ok(), "the client connection must end");
    assert_eq!(out, b"partial");
    let s = be.server("s1").unwrap();
    assert!(support::eventually(|| s.stats().response_errors.load(Relaxed) == 1).await);
    assert!(support::eventually(|| s.stats().inflight() == 0).await);
}

#[tokio::test]
async fn refused_connections_move_to_the_next_server() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (live, _t) = echo(Some("live\n")).await;
    let be = backend("be", &[dead, live]);
    let cfg = TcpProxyConfig {
        redispatch: Redispatch::Every(1),
        connect_timeout: Some(Duration::from_secs(1)),
        ..TcpProxyConfig::default()
    };
    let (addr, _sd) = serve(TcpFrontend::new("fe", tcp_proxy(be.clone(), cfg))).await;
    for _ in 0..4 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 5];
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"live\n");
    }
    assert!(
        be.server("s1")
            .unwrap()
            .stats()
            .connect_errors
            .load(Relaxed)
            >= 2
    );
}

#[tokio::test]
async fn all_servers_down_closes_promptly() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = TcpProxyConfig {
        retries: 1,
        redispatch: Redispatch::Every(1),
        ..TcpProxyConfig::default()
    };
    let be = backend("be", &[dead]);
    let (addr, _sd) = serve(TcpFrontend::new("fe", tcp_proxy(be.clone(), cfg))).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let start = std::time::Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(3), c.read(&mut [0u8; 16]))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)));
    assert!(start.elapsed() < Duration::from_secs(2));
    // And with the server marked down, at once.
    be.set_op_state("s1", lb::core::OpState::Down, "test")
        .unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    let n = tokio::time::timeout(Duration::from_millis(500), c.read(&mut [0u8; 16]))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)));
}

#[tokio::test]
async fn idle_sessions_time_out() {
    let (srv, _t) = echo(None).await;
    let cfg = TcpProxyConfig {
        forward: ForwardConfig::new()
            .timeout_client(Duration::from_millis(200))
            .timeout_server(Duration::from_millis(200)),
        ..TcpProxyConfig::default()
    };
    let (addr, _sd) = serve(TcpFrontend::new(
        "fe",
        tcp_proxy(backend("be", &[srv]), cfg),
    ))
    .await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"x").await.unwrap();
    let mut b = [0u8; 1];
    c.read_exact(&mut b).await.unwrap();
    let start = std::time::Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(3), c.read(&mut b))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)));
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn proxy_protocol_in_and_out() {
    // A server that reports the PROXY line it receives.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let srv = l.local_addr().unwrap();
    let seen = tokio::spawn(async move {
        let mut lines = Vec::new();
        for _ in 0..2 {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 512];
            let mut got = Vec::new();
            while !got.windows(5).any(|w| w == b"hello") {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            lines.push(got);
        }
        lines
    });
    for version in [SendProxy::V1, SendProxy::V2(Box::default())] {
        let cfg = TcpProxyConfig {
            send_proxy: version,
            ..TcpProxyConfig::default()
        };
        let fe = TcpFrontend::new("fe", tcp_proxy(backend("be", &[srv]), cfg))
            .accept_proxy(Duration::from_secs(2));
        let (addr, _sd) = serve(fe).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        // The client claims to be 203.0.113.7:4242 talking to 198.51.100.1:443 (v2 in).
        let header = ProxyHeader::v2(
            "203.0.113.7:4242".parse().unwrap(),
            "198.51.100.1:443".parse().unwrap(),
        )
        .to_bytes()
        .unwrap();
        c.write_all(&header).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lines = tokio::time::timeout(Duration::from_secs(5), seen)
        .await
        .unwrap()
        .unwrap();
    assert!(
        lines[0].starts_with(b"PROXY TCP4 203.0.113.7 198.51.100.1 4242 443\r\nhello"),
        "{:?}",
        String::from_utf8_lossy(&lines[0])
    );
    let parsed = lb::tcp::proxy_protocol::parse(&lines[1]).unwrap();
    match parsed {
        lb::tcp::proxy_protocol::Parsed::Complete { header, consumed } => {
            assert_eq!(header.source(), Some("203.0.113.7:4242".parse().unwrap()));
            assert_eq!(&lines[1][consumed..], b"hello");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bad_proxy_header_is_dropped() {
    let (srv, _t) = echo(None).await;
    let be = backend("be", &[srv]);
    let fe = TcpFrontend::new("fe", tcp_proxy(be.clone(), TcpProxyConfig::default()))
        .accept_proxy(Duration::from_millis(500));
    let counters = fe.counters().clone();
    let (addr, _sd) = serve(fe).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(3), c.read(&mut [0u8; 16]))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)));
    assert_eq!(be.stats().total.load(Relaxed), 0);
    assert!(support::eventually(|| counters.errors.load(Relaxed) == 1).await);
}

fn client_hello(sni: &str) -> Vec<u8> {
    fn u16p(b: &[u8]) -> Vec<u8> {
        let mut v = (b.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(b);
        v
    }
    let mut name = vec![0u8];
    name.extend(u16p(sni.as_bytes()));
    let mut ext = 0u16.to_be_bytes().to_vec();
    ext.extend(u16p(&u16p(&name)));
    let mut body = vec![3, 3];
    body.extend([7u8; 32]);
    body.push(0);
    body.extend(u16p(&[0x13, 0x01]));
    body.extend([1, 0]);
    body.extend(u16p(&ext));
    let mut hs = vec![1];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![22, 3, 1];
    rec.extend(u16p(&hs));
    rec
}

#[tokio::test]
async fn sni_routes_to_two_farms_and_ssh_to_a_third() {
    let (a, _ta) = echo(Some("farm-a\n")).await;
    let (b, _tb) = echo(Some("farm-b\n")).await;
    let (ssh, _ts) = echo(Some("farm-ssh\n")).await;
    let backends = vec![
        tcp_proxy(backend("a", &[a]), TcpProxyConfig::default()),
        tcp_proxy(backend("b", &[b]), TcpProxyConfig::default()),
        tcp_proxy(backend("ssh", &[ssh]), TcpProxyConfig::default()),
    ];
    let rules = ContentRules::new()
        .rule(
            Condition::sni_eq("a.example.com"),
            InspectAction::UseBackend(0),
        )
        .rule(
            Condition::sni_ends_with(".b.example.com"),
            InspectAction::UseBackend(1),
        )
        .rule(Condition::ssh(), InspectAction::UseBackend(2))
        .rule(
            Condition::sni_eq("blocked.example.com"),
            InspectAction::Reject,
        );
    let fe = TcpFrontend::with_backends("fe", backends, Some(0))
        .content_rules(InspectOptions::new(Duration::from_secs(1)), rules)
        .source_rules(vec![(
            "192.0.2.0/24".parse().unwrap(),
            SourceAction::Reject,
        )]);
    let (addr, _sd) = serve(fe).await;
    for (first, want) in [
        (client_hello("a.example.com"), "farm-a\n"),
        (client_hello("x.b.example.com"), "farm-b\n"),
        (b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(), "farm-ssh\n"),
    ] {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(&first).await.unwrap();
        let mut buf = vec![0u8; want.len()];
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&buf), want);
        // The inspected bytes reach the server intact (the echo sends them back).
        let mut back = vec![0u8; first.len()];
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, first);
    }
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(&client_hello("blocked.example.com"))
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(3), c.read(&mut [0u8; 16]))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)), "rejected");
}

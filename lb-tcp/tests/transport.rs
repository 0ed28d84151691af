//! Listeners, connectors and the accept loop over real loopback sockets: 127.0.0.1, ::1
//! (skipped when the host has no IPv6) and Unix sockets in a temporary directory. Every wait
//! is bounded; nothing leaves the host.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lb_core::Address;
use lb_tcp::connect::TcpConnect;
use lb_tcp::listen::{Acceptor, BindOptions, BindSpec, Listener, ServeReport, Shutdown};
use lb_tcp::net::{Keepalive, Peer, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

/// Bound for steps that should succeed.
const SOON: Duration = Duration::from_secs(5);
/// How long to watch for something that must not happen.
const A_WHILE: Duration = Duration::from_millis(300);

async fn echo((stream, _peer): (Stream, Peer)) -> io::Result<u64> {
    let (mut r, mut w) = tokio::io::split(stream);
    tokio::io::copy(&mut r, &mut w).await
}

fn serve(
    listeners: Vec<Listener>,
    maxconn: Option<usize>,
    shutdown: &Shutdown,
) -> JoinHandle<ServeReport> {
    let mut acceptor = Acceptor::new("test", listeners);
    if let Some(n) = maxconn {
        acceptor = acceptor.maxconn(n);
    }
    tokio::spawn(acceptor.serve(tower::service_fn(echo), shutdown.signal()))
}

async fn connect(addr: &Address) -> Stream {
    timeout(SOON, TcpConnect::new().connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// Writes `msg` and expects it back within `within`; `false` if nothing came back in time.
async fn echoes(stream: &mut Stream, msg: &[u8], within: Duration) -> bool {
    let io = async {
        stream.write_all(msg).await?;
        let mut buf = vec![0; msg.len()];
        stream.read_exact(&mut buf).await?;
        Ok::<_, io::Error>(buf)
    };
    match timeout(within, io).await {
        Ok(r) => {
            assert_eq!(r.expect("echo"), msg);
            true
        }
        Err(_) => false,
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("lb-tcp-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bind(spec: &str) -> Vec<Listener> {
    BindSpec::parse(spec).expect("spec").bind().expect("bind")
}

#[tokio::test]
async fn tcp_v4_accepts_and_echoes() {
    let listeners = bind("127.0.0.1:0 keepalive");
    let addr = listeners[0].local_addr();
    let Listener::Tcp(listener) = listeners.into_iter().next().expect("one listener") else {
        panic!("a TCP listener");
    };
    let client = tokio::spawn({
        let addr = addr.clone();
        async move { connect(&addr).await }
    });
    let (mut server, peer) = timeout(SOON, listener.accept()).await.unwrap().unwrap();
    let mut client = client.await.unwrap();

    // Peer and local addresses, options applied to the accepted socket.
    assert_eq!(peer.local(), &addr);
    assert_eq!(
        peer.socket_addr(),
        client.as_tcp().unwrap().local_addr().ok()
    );
    assert_eq!(server.peer_addr().unwrap(), *peer.addr());
    assert_eq!(server.local_addr().unwrap(), addr);
    let tcp = server.as_tcp().expect("tcp");
    assert!(tcp.nodelay().unwrap());
    assert!(socket2::SockRef::from(tcp).keepalive().unwrap());
    assert!(client.as_tcp().unwrap().nodelay().unwrap());

    client.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    timeout(SOON, server.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"ping");
    server.write_all(b"pong").await.unwrap();
    timeout(SOON, client.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"pong");
}

#[tokio::test]
async fn tcp_v6_accepts_and_echoes() {
    let listeners = match BindSpec::parse("[::1]:0 v6only").unwrap().bind() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("skipping: no IPv6 loopback here ({e})");
            return;
        }
    };
    let addr = listeners[0].local_addr();
    assert!(addr.as_inet().unwrap().is_ipv6());
    let shutdown = Shutdown::new();
    serve(listeners, None, &shutdown);
    let mut client = connect(&addr).await;
    assert!(echoes(&mut client, b"over ipv6", SOON).await);
    drop(client);
    let report = timeout(SOON, shutdown.shutdown(SOON)).await.unwrap();
    assert_eq!((report.accepted, report.cut), (1, 0));
}

#[cfg(unix)]
#[tokio::test]
async fn unix_socket_accepts_and_echoes() {
    use std::os::unix::fs::PermissionsExt;

    let dir = TempDir::new("unix");
    let path = dir.path("lb.sock");
    let spec = BindSpec::parse(&format!("unix@{} mode 600", path.display())).unwrap();
    let listeners = spec.bind().unwrap();
    let addr = Address::Unix(path.clone());
    assert_eq!(listeners[0].local_addr(), addr);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let Listener::Unix(listener) = listeners.into_iter().next().unwrap() else {
        panic!("a Unix listener");
    };
    let client = tokio::spawn({
        let addr = addr.clone();
        async move { connect(&addr).await }
    });
    let (mut server, peer) = timeout(SOON, listener.accept()).await.unwrap().unwrap();
    let mut client = client.await.unwrap();
    assert_eq!(peer.addr(), &Address::Unix(PathBuf::new()));
    assert_eq!(peer.local(), &addr);
    assert!(peer.socket_addr().is_none());
    assert!(server.as_tcp().is_none());
    assert_eq!(client.peer_addr().unwrap(), addr);

    client.write_all(b"hi").await.unwrap();
    let mut buf = [0; 2];
    timeout(SOON, server.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"hi");

    // A live socket cannot be bound twice (the bind probes it: the listener sees an empty
    // connection).
    let err = spec.bind().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);

    // Once the listener is gone, its stale socket file is replaced on the next bind.
    drop(listener);
    assert!(path.exists());
    let listeners = spec.bind().unwrap();
    let shutdown = Shutdown::new();
    serve(listeners, None, &shutdown);
    let mut client = connect(&addr).await;
    assert!(echoes(&mut client, b"again", SOON).await);
}

#[cfg(unix)]
#[tokio::test]
async fn unix_bind_does_not_replace_regular_files() {
    let dir = TempDir::new("regular");
    let path = dir.path("not-a-socket");
    std::fs::write(&path, b"data").unwrap();
    let err = BindSpec::parse(&format!("unix@{}", path.display()))
        .unwrap()
        .bind()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert_eq!(std::fs::read(&path).unwrap(), b"data");
}

/// Binds `127.0.0.1:P-(P+n-1)` for some free P (retrying when a port is taken).
fn bind_port_range(n: u16) -> (u16, Vec<Listener>) {
    // Below the usual ephemeral range (32768-60999): busy loopback traffic keeps client
    // sockets on ports next to a probed ephemeral port.
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
    for attempt in 0..50u64 {
        let first = 20_000 + ((seed.wrapping_mul(2_654_435_761) + attempt * 7_919) % 10_000) as u16;
        let Some(last) = first.checked_add(n - 1) else {
            continue;
        };
        match BindSpec::parse(&format!("127.0.0.1:{first}-{last}"))
            .unwrap()
            .bind()
        {
            Ok(listeners) => return (first, listeners),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("no free port range found");
}

#[tokio::test]
async fn port_range_binds_every_port() {
    let (first, listeners) = bind_port_range(4);
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().as_inet().unwrap().port())
        .collect();
    assert_eq!(ports, (first..first + 4).collect::<Vec<_>>());
    let shutdown = Shutdown::new();
    serve(listeners, None, &shutdown);
    for port in first..first + 4 {
        let addr = Address::Inet(SocketAddr::from(([127, 0, 0, 1], port)));
        let mut client = connect(&addr).await;
        assert!(echoes(&mut client, format!("port {port}").as_bytes(), SOON).await);
    }
    let report = timeout(SOON, shutdown.shutdown(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(report.accepted, 4);
}

#[tokio::test]
async fn maxconn_holds_the_third_client_in_the_backlog() {
    let listeners = bind("127.0.0.1:0");
    let addr = listeners[0].local_addr();
    let shutdown = Shutdown::new();
    serve(listeners, Some(2), &shutdown);

    let mut c1 = connect(&addr).await;
    let mut c2 = connect(&addr).await;
    assert!(echoes(&mut c1, b"one", SOON).await);
    assert!(echoes(&mut c2, b"two", SOON).await);

    // The kernel completes the third handshake, but nothing serves it...
    let mut c3 = connect(&addr).await;
    assert!(!echoes(&mut c3, b"three", A_WHILE).await);
    // ...until one of the first two closes.
    drop(c1);
    let mut buf = [0; 5];
    timeout(SOON, c3.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"three");
    assert!(echoes(&mut c2, b"still two", SOON).await);
}

#[tokio::test]
async fn graceful_shutdown_waits_then_cuts() {
    let listeners = bind("127.0.0.1:0");
    let addr = listeners[0].local_addr();
    let shutdown = Shutdown::new();
    let signal = shutdown.signal();
    let served = serve(listeners, None, &shutdown);
    let mut live = connect(&addr).await;
    assert!(echoes(&mut live, b"before", SOON).await);

    let grace = Duration::from_millis(600);
    let start = Instant::now();
    let stopping = tokio::spawn(shutdown.shutdown(grace));
    timeout(SOON, signal.triggered()).await.unwrap();

    // The listener closes: new connections are refused.
    let refused = timeout(SOON, async {
        loop {
            match TcpConnect::new().connect(&addr).await {
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return e,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await
    .unwrap();
    assert!(refused.to_string().contains(&addr.to_string()), "{refused}");

    // The live connection is served during the grace period...
    assert!(echoes(&mut live, b"during", SOON).await);
    assert!(start.elapsed() < grace);
    // ...then cut.
    let mut buf = [0; 1];
    let end = timeout(SOON, live.read(&mut buf)).await.unwrap();
    assert!(matches!(end, Ok(0) | Err(_)), "{end:?}");
    assert!(start.elapsed() >= grace);

    let report = timeout(SOON, stopping).await.unwrap().unwrap();
    assert_eq!((report.accepted, report.completed, report.cut), (1, 0, 1));
    assert_eq!(timeout(SOON, served).await.unwrap().unwrap(), report);
}

#[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
#[tokio::test]
async fn reuseport_lets_two_listeners_share_a_port() {
    let first = bind("127.0.0.1:0 reuseport");
    let addr = first[0].local_addr();
    let spec = format!("{addr} reuseport");
    let second = bind(&spec);
    assert_eq!(second[0].local_addr(), addr);

    // Without SO_REUSEPORT the port is taken (Linux; BSDs differ with SO_REUSEADDR).
    #[cfg(target_os = "linux")]
    {
        let err = BindSpec::parse(&addr.to_string())
            .unwrap()
            .bind()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(err.addr(), &addr);
    }

    // Both serve: connections keep working whichever socket the kernel picks, and after
    // one listener goes away the other takes everything.
    let (s1, s2) = (Shutdown::new(), Shutdown::new());
    serve(first, None, &s1);
    serve(second, None, &s2);
    for i in 0..6 {
        let mut c = connect(&addr).await;
        assert!(echoes(&mut c, format!("conn {i}").as_bytes(), SOON).await);
    }
    let r1 = timeout(SOON, s1.shutdown(Duration::ZERO)).await.unwrap();
    for i in 0..3 {
        let mut c = connect(&addr).await;
        assert!(echoes(&mut c, format!("after {i}").as_bytes(), SOON).await);
    }
    let r2 = timeout(SOON, s2.shutdown(Duration::ZERO)).await.unwrap();
    assert_eq!(r1.accepted + r2.accepted, 9);
}

#[tokio::test]
async fn tcp_connect_errors_are_clear() {
    // A port nothing listens on: bind, note the port, close.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = TcpConnect::new()
        .connect(&Address::Inet(closed))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains(&closed.to_string()), "{err}");

    let v6: SocketAddr = "[::1]:9".parse().unwrap();
    let err = TcpConnect::new()
        .source("127.0.0.1:0".parse().unwrap())
        .connect(&Address::Inet(v6))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

    let err = TcpConnect::new()
        .connect(&Address::Mem("x".into()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    assert!(err.to_string().contains("MemConnect"), "{err}");

    #[cfg(unix)]
    {
        let dir = TempDir::new("noconn");
        let err = TcpConnect::new()
            .connect(&Address::Unix(dir.path("absent.sock")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}

#[tokio::test]
async fn tcp_connect_binds_the_source_and_sets_options() {
    use tower::ServiceExt;

    let listeners = bind("127.0.0.1:0");
    let addr = listeners[0].local_addr();
    let shutdown = Shutdown::new();
    serve(listeners, None, &shutdown);
    let connect = TcpConnect::new()
        .source("127.0.0.1:0".parse().unwrap())
        .nodelay(false)
        .keepalive(Keepalive::new().idle(Duration::from_secs(30)))
        .connect_timeout(SOON);
    let mut stream = timeout(SOON, connect.clone().oneshot(addr.clone()))
        .await
        .unwrap()
        .unwrap();
    let tcp = stream.as_tcp().unwrap();
    assert_eq!(tcp.local_addr().unwrap().ip(), addr.as_inet().unwrap().ip());
    assert!(!tcp.nodelay().unwrap());
    assert!(socket2::SockRef::from(tcp).keepalive().unwrap());
    assert_eq!(stream.peer_socket_addr(), addr.as_inet());
    assert!(echoes(&mut stream, b"from a bound source", SOON).await);

    // A per-connection source overrides the configured one.
    let source: SocketAddr = "127.0.0.2:0".parse().unwrap();
    match timeout(SOON, connect.connect_from(&addr, Some(source)))
        .await
        .unwrap()
    {
        Ok(mut s) => {
            let local = s.as_tcp().unwrap().local_addr().unwrap();
            assert_eq!(local.ip(), source.ip());
            assert!(echoes(&mut s, b"from 127.0.0.2", SOON).await);
        }
        // 127.0.0.2 is loopback on Linux; elsewhere it may not be configured.
        Err(e) => eprintln!("skipping the 127.0.0.2 source check: {e}"),
    }
}

#[tokio::test]
async fn one_acceptor_serves_tcp_and_unix_together() {
    let dir = TempDir::new("mixed");
    let sock = dir.path("mixed.sock");
    let spec = BindSpec::new(
        BindSpec::parse(&format!("127.0.0.1:0,unix@{}", sock.display()))
            .unwrap()
            .addrs()
            .iter()
            .cloned(),
        BindOptions::default().backlog(16),
    );
    let listeners = spec.bind().unwrap();
    let addrs: Vec<Address> = listeners.iter().map(Listener::local_addr).collect();
    let shutdown = Shutdown::new();
    serve(listeners, Some(10), &shutdown);
    for addr in &addrs {
        let mut c = connect(addr).await;
        assert!(echoes(&mut c, addr.to_string().as_bytes(), SOON).await);
    }
    assert!(Path::new(&sock).exists());
}

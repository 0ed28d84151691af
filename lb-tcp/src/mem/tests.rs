use std::io::ErrorKind;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout, Instant};
use tower::ServiceExt;

use super::*;
use crate::connect::{ConnectTimedOut, ConnectTimeout};

fn mem(name: &str) -> Address {
    Address::Mem(name.into())
}

#[tokio::test(start_paused = true)]
async fn bind_connect_and_talk_both_ways() {
    let net = MemNetwork::new();
    let listener = net.bind("origin").unwrap();
    assert!(net.is_bound("origin"));
    let mut client = net.connect("origin").await.unwrap();
    let (mut server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer.local(), &mem("origin"));
    assert_eq!(peer.addr(), client.local_addr());
    assert_eq!(client.peer_addr(), &mem("origin"));
    assert_eq!(server.peer_addr().unwrap(), *client.local_addr());
    assert!(peer.addr().to_string().starts_with("mem@client-"));

    client.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    server.write_all(b"pong").await.unwrap();
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");

    // Half close: the server reads EOF and can still answer.
    client.shutdown().await.unwrap();
    assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    server.write_all(b"bye").await.unwrap();
    drop(server);
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"bye");
}

#[tokio::test(start_paused = true)]
async fn unbound_and_dropped_listeners_refuse() {
    let net = MemNetwork::new();
    let err = net.connect("nobody").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains("mem@nobody"), "{err}");

    let listener = net.bind("a").unwrap();
    assert_eq!(net.bind("a").unwrap_err().kind(), ErrorKind::AddrInUse);
    // A queued connection sees EOF when the listener goes away unaccepted.
    let mut queued = net.connect("a").await.unwrap();
    drop(listener);
    assert!(!net.is_bound("a"));
    let mut buf = [0; 1];
    assert_eq!(queued.read(&mut buf).await.unwrap(), 0);
    assert_eq!(
        net.connect("a").await.unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );

    // Rebinding works, and dropping an old listener does not unbind a new one.
    let first = net.bind("b").unwrap();
    drop(first);
    let _second = net.bind("b").unwrap();
    assert!(net.is_bound("b"));
}

#[tokio::test(start_paused = true)]
async fn inet_addresses_can_live_in_memory() {
    let net = MemNetwork::new();
    let sa: SocketAddr = "10.0.0.1:80".parse().unwrap();
    let listener = net.bind(sa).unwrap();
    let source: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    let client = net
        .connector()
        .source(source)
        .oneshot(Address::Inet(sa))
        .await
        .unwrap();
    assert_eq!(client.peer_socket_addr(), Some(sa));
    let (_server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer.socket_addr(), Some(source));
    assert_eq!(peer.local_socket_addr(), Some(sa));
}

#[tokio::test(start_paused = true)]
async fn refuse_fault() {
    let net = MemNetwork::new();
    let _l = net.bind("x").unwrap();
    net.set_faults("x", Faults::new().refuse());
    assert!(net.faults("x").is_refusing());
    let err = net.connect("x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains("injected"), "{err}");
    net.clear_faults("x");
    net.connect("x").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn reset_after_n_bytes_both_ways() {
    let net = MemNetwork::new();
    let listener = net.bind("r").unwrap();
    net.set_faults("r", Faults::new().reset_after(10));
    let mut client = net.connect("r").await.unwrap();
    let (mut server, _) = listener.accept().await.unwrap();

    client.write_all(b"12345").await.unwrap();
    server.write_all(b"abc").await.unwrap();
    // 8 of 10 bytes spent: a 5-byte write is cut to 2 and resets the connection.
    assert_eq!(client.write(b"67890").await.unwrap(), 2);
    assert!(client.is_reset());
    let err = client.write(b"x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    let mut buf = [0; 3];
    assert_eq!(
        client.read(&mut buf).await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );

    // The server still gets the 7 bytes sent before the reset, then the reset.
    let mut got = vec![0; 7];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(got, b"1234567");
    assert_eq!(
        server.read(&mut buf).await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
    assert_eq!(
        server.write(b"late").await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
}

#[tokio::test(start_paused = true)]
async fn reset_counts_one_direction_and_wakes_a_waiting_reader() {
    let net = MemNetwork::new();
    let listener = net.bind("r").unwrap();
    net.set_faults(
        "r",
        Faults::new().reset_after_in(4, Direction::ServerToClient),
    );
    let mut client = net.connect("r").await.unwrap();
    let (mut server, _) = listener.accept().await.unwrap();

    // Client bytes do not count.
    client.write_all(&[0; 100]).await.unwrap();
    let mut sink = [0; 100];
    server.read_exact(&mut sink).await.unwrap();

    // The client waits for a response and is woken by the reset.
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut buf = [0; 16];
        loop {
            match client.read(&mut buf).await {
                Ok(0) => return (got, None),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return (got, Some(e.kind())),
            }
        }
    });
    tokio::task::yield_now().await;
    assert_eq!(server.write(b"abcdef").await.unwrap(), 4);
    let (got, err) = timeout(Duration::from_secs(1), reader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"abcd");
    assert_eq!(err, Some(ErrorKind::ConnectionReset));
}

#[tokio::test(start_paused = true)]
async fn reset_after_zero_bytes_resets_on_first_write() {
    let net = MemNetwork::new();
    let listener = net.bind("z").unwrap();
    net.set_faults("z", Faults::new().reset_after(0));
    let mut client = net.connect("z").await.unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    assert_eq!(
        client.write(b"x").await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
    let mut buf = [0; 1];
    assert_eq!(
        server.read(&mut buf).await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
}

#[tokio::test(start_paused = true)]
async fn stall_connects_but_never_serves() {
    let net = MemNetwork::with_buffer_size(8);
    let listener = net.bind("hung").unwrap();
    net.set_faults("hung", Faults::new().stall());
    let mut client = net.connect("hung").await.unwrap();

    // Reads wait forever (no data, no EOF)...
    let mut buf = [0; 1];
    assert!(timeout(Duration::from_secs(60), client.read(&mut buf))
        .await
        .is_err());
    // ...writes stop once the buffer is full...
    client.write_all(&[1; 8]).await.unwrap();
    assert!(timeout(Duration::from_secs(60), client.write_all(b"more"))
        .await
        .is_err());
    // ...and the listener never sees the connection.
    assert!(timeout(Duration::from_secs(60), listener.accept())
        .await
        .is_err());
}

#[tokio::test(start_paused = true)]
async fn connect_delay_obeys_the_clock() {
    let net = MemNetwork::new();
    let _l = net.bind("far").unwrap();
    net.set_faults(
        "far",
        Faults::new().connect_delay(Duration::from_millis(300)),
    );
    let start = Instant::now();
    net.connect("far").await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(300));

    // A delay longer than the timeout times out.
    let connect = ConnectTimeout::new(net.connector(), Duration::from_millis(100));
    let err = connect.oneshot(mem("far")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
}

#[tokio::test(start_paused = true)]
async fn blackhole_times_out_with_a_clear_error() {
    let net = MemNetwork::new();
    let _l = net.bind("void").unwrap();
    net.set_faults("void", Faults::new().blackhole());
    let start = Instant::now();
    let connect = ConnectTimeout::new(net.connector(), Duration::from_secs(3));
    let err = connect.oneshot(mem("void")).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(
        err.to_string(),
        "connect to mem@void timed out after 3s (timeout connect)"
    );
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<ConnectTimedOut>())
        .unwrap();
    assert_eq!(inner.addr(), &mem("void"));
    assert_eq!(inner.after(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn full_backlog_makes_connects_wait() {
    let net = MemNetwork::new();
    let listener = net.bind_with_backlog("q", 1).unwrap();
    let _first = net.connect("q").await.unwrap();
    let second = tokio::spawn({
        let net = net.clone();
        async move { net.connect("q").await }
    });
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!second.is_finished());
    let _ = listener.accept().await.unwrap();
    second.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn injected_accept_failures() {
    let net = MemNetwork::new();
    let listener = net.bind("e").unwrap();
    listener.fail_accepts(2);
    assert!(listener.accept().await.is_err());
    assert!(listener.accept().await.is_err());
    let _c = net.connect("e").await.unwrap();
    listener.accept().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn connector_is_a_connect_service() {
    fn is_connect<C: crate::connect::Connect>(_: &C) {}
    let net = MemNetwork::new();
    let connector = net.connector();
    is_connect(&connector);
    let _l = net.bind("s").unwrap();
    let stream = connector.oneshot(mem("s")).await.unwrap();
    assert!(matches!(stream, Stream::Mem(_)));
    assert!(stream.as_tcp().is_none());
    assert_eq!(stream.peer_addr().unwrap(), mem("s"));
    assert!(format!("{net:?}").contains("mem@s"));
}

#[tokio::test]
async fn pair_is_connected() {
    let (mut a, mut b) = MemStream::pair(16);
    assert_eq!(a.peer_addr(), b.local_addr());
    a.write_all(b"x").await.unwrap();
    let mut buf = [0; 1];
    b.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"x");
}

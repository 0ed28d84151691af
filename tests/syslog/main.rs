//! Tests of `lb::runtime::syslog`: the `global` section's `log` targets receive the
//! access log and server events over UDP and Unix datagram sockets.

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lb::config::Config;
use lb::runtime::syslog::SyslogLayer;
use tracing_subscriber::layer::SubscriberExt as _;

/// The layer for `log` lines given as configuration text.
fn layer(log_lines: &str) -> SyslogLayer {
    let text = format!("global\n{log_lines}\n");
    let config =
        Config::parse_str("syslog.cfg", &text, &|_| None).unwrap_or_else(|e| panic!("{e}"));
    SyslogLayer::from_config(&config.global.logs)
        .expect("targets open")
        .expect("a target")
        .with_hostname("testhost")
}

/// Runs `f` with `layer` as the subscriber.
fn with_layer(layer: SyslogLayer, f: impl FnOnce()) {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
}

fn receiver() -> (UdpSocket, String) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let addr = s.local_addr().unwrap().to_string();
    (s, addr)
}

fn recv(s: &UdpSocket) -> String {
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).expect("a datagram");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn nothing_more(s: &UdpSocket) {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    assert!(s.recv_from(&mut buf).is_err(), "no more datagrams");
}

const LINE: &str = "192.0.2.1:5000 [25/Nov/2026:22:18:28.123] fe be/s1 0/0/1/2/3 200 12 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"";

#[test]
fn rfc5424_access_log_over_udp() {
    let (rx, addr) = receiver();
    with_layer(
        layer(&format!("  log {addr} format rfc5424 local0")),
        || {
            tracing::info!(target: "lb::access", "{LINE}");
        },
    );
    let got = recv(&rx);
    let pid = std::process::id();
    assert!(got.starts_with("<134>1 "), "{got}");
    assert!(
        got.ends_with(&format!(" testhost lb {pid} - - {LINE}")),
        "{got}"
    );
    // <134>1 2026-11-25T22:18:28.123456Z
    let ts = &got[7..34];
    assert_eq!(ts.len(), 27, "{ts}");
    assert_eq!(&ts[4..5], "-");
    assert_eq!(&ts[10..11], "T");
    assert_eq!(&ts[19..20], ".");
    assert!(ts.ends_with('Z'), "{ts}");
}

#[test]
fn rfc3164_access_log_over_udp() {
    let (rx, addr) = receiver();
    // The default format is RFC 3164.
    with_layer(layer(&format!("  log {addr} local0")), || {
        tracing::info!(target: "lb::access", "{LINE}");
    });
    let got = recv(&rx);
    let pid = std::process::id();
    assert!(got.starts_with("<134>"), "{got}");
    // <134>Nov 25 22:18:28 testhost lb[pid]: msg
    let month = &got[5..8];
    assert!(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            .contains(&month),
        "{got}"
    );
    assert_eq!(&got[8..9], " ");
    assert_eq!(&got[14..15], ":");
    assert_eq!(&got[17..18], ":");
    assert_eq!(&got[20..], format!(" testhost lb[{pid}]: {LINE}"));
}

#[test]
fn events_are_notice_and_fields_are_appended() {
    let (rx, addr) = receiver();
    with_layer(layer(&format!("  log {addr} format raw local0")), || {
        tracing::info!(target: "lb::events", backend = "be", server = "s1", "Server be/s1 is DOWN");
        tracing::info!(
            target: "lb::access",
            frontend = %"fe",
            server = "s1",
            bytes_in = 10u64,
            termination = "--",
            "tcp session"
        );
    });
    assert_eq!(recv(&rx), "Server be/s1 is DOWN backend=be server=s1");
    assert_eq!(
        recv(&rx),
        "tcp session frontend=fe server=s1 bytes_in=10 termination=--"
    );
    let (rx, addr) = receiver();
    with_layer(layer(&format!("  log {addr} format short local0")), || {
        tracing::info!(target: "lb::events", "up");
    });
    // local0 notice: 16 * 8 + 5.
    assert_eq!(recv(&rx), "<133>up");
}

#[test]
fn other_targets_and_debug_are_not_forwarded_unless_asked() {
    let (rx, addr) = receiver();
    let l = layer(&format!("  log {addr} format short local0"));
    with_layer(l, || {
        tracing::info!(target: "lb::other", "no");
        tracing::warn!(target: "lb::other", "no");
        tracing::debug!(target: "lb::access", "no");
        tracing::info!(target: "lb::access", "yes");
    });
    assert_eq!(recv(&rx), "<134>yes");
    nothing_more(&rx);

    let (rx, addr) = receiver();
    let l = layer(&format!("  log {addr} format short local0")).with_warnings(true);
    with_layer(l, || {
        tracing::info!(target: "lb::other", "no");
        tracing::warn!(target: "lb::other", "careful");
        tracing::error!(target: "lb::other", "broken");
    });
    assert_eq!(recv(&rx), "<132>careful");
    assert_eq!(recv(&rx), "<131>broken");
    nothing_more(&rx);
}

#[test]
fn unix_datagram_target() {
    let path = std::env::temp_dir().join(format!(
        "lb-syslog-test-{}-{}.sock",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let _ = std::fs::remove_file(&path);
    let rx = UnixDatagram::bind(&path).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    with_layer(
        layer(&format!(
            "  log unix@{} format rfc5424 local0",
            path.display()
        )),
        || tracing::info!(target: "lb::access", "{LINE}"),
    );
    let mut buf = [0u8; 4096];
    let n = rx.recv(&mut buf).expect("a datagram");
    let got = std::str::from_utf8(&buf[..n]).unwrap();
    assert!(got.starts_with("<134>1 "), "{got}");
    assert!(got.ends_with(LINE), "{got}");
    drop(rx);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn lines_are_truncated_at_len() {
    let (rx, addr) = receiver();
    let long = "x".repeat(3000);
    with_layer(
        layer(&format!("  log {addr} len 100 format rfc5424 local0")),
        || {
            tracing::info!(target: "lb::access", "{long}");
        },
    );
    let got = recv(&rx);
    assert_eq!(got.len(), 100, "{got}");
    assert!(got.starts_with("<134>1 ") && got.ends_with("xxx"), "{got}");

    // Without `len`: 1024.
    let (rx, addr) = receiver();
    with_layer(layer(&format!("  log {addr} format raw local0")), || {
        tracing::info!(target: "lb::access", "{long}");
    });
    assert_eq!(recv(&rx), "x".repeat(1024));
}

#[test]
fn max_and_min_levels() {
    let (rx, addr) = receiver();
    // Up to notice: events pass, the access log (info) does not.
    with_layer(
        layer(&format!("  log {addr} format short local0 notice")),
        || {
            tracing::info!(target: "lb::access", "access");
            tracing::info!(target: "lb::events", "event");
        },
    );
    assert_eq!(recv(&rx), "<133>event");
    nothing_more(&rx);

    // Min level notice: errors are capped to notice.
    let (rx, addr) = receiver();
    let l = layer(&format!("  log {addr} format short local0 debug notice")).with_warnings(true);
    with_layer(l, || {
        tracing::error!(target: "lb::other", "broken");
        tracing::info!(target: "lb::access", "access");
    });
    assert_eq!(recv(&rx), "<133>broken");
    assert_eq!(recv(&rx), "<134>access");
}

#[test]
fn several_targets_each_get_their_format() {
    let (rx1, addr1) = receiver();
    let (rx2, addr2) = receiver();
    with_layer(
        layer(&format!(
            "  log {addr1} format raw local0\n  log {addr2} format short local7 err"
        )),
        || {
            tracing::info!(target: "lb::access", "a");
            tracing::error!(target: "lb::events", "e");
        },
    );
    assert_eq!(recv(&rx1), "a");
    assert_eq!(recv(&rx1), "e");
    // local7 err: 23 * 8 + 3.
    assert_eq!(recv(&rx2), "<187>e");
    nothing_more(&rx2);
}

#[test]
fn closed_udp_port_never_blocks_or_panics() {
    let addr = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let l = layer(&format!("  log {addr} format rfc5424 local0"));
    let dropped = l.dropped();
    let start = Instant::now();
    with_layer(l, || {
        for i in 0..2000 {
            tracing::info!(target: "lb::access", "line {i}");
        }
    });
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(dropped.load(Ordering::Relaxed) <= 2000);
}

#[test]
fn no_targets_is_none() {
    let config = Config::parse_str("syslog.cfg", "global\n  maxconn 10\n", &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(SyslogLayer::from_config(&config.global.logs)
        .unwrap()
        .is_none());
}

#[test]
fn stdout_and_stderr_targets_open() {
    let l = layer("  log stdout format raw local0\n  log stderr format raw local0");
    with_layer(
        l,
        || tracing::info!(target: "lb::access", "to stdout and stderr"),
    );
}

//! A few checks over real loopback sockets.

use std::time::Duration;

use lb_core::Address;
use lb_health::{Check, CheckContext, CheckProto, CheckStatus, HttpCheck, HttpExpect};
use lb_tcp::connect::TcpConnect;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::serve_h2;

const INTER: Duration = Duration::from_secs(5);

#[tokio::test]
async fn tcp_pass_and_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up: Address = listener.local_addr().unwrap().into();
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down: Address = closed.local_addr().unwrap().into();
    drop(closed);
    let ctx = CheckContext::default();
    let r = Check::tcp().run(&TcpConnect::new(), &up, INTER, &ctx).await;
    assert_eq!(r.status, CheckStatus::L4Ok);
    let r = Check::tcp()
        .run(&TcpConnect::new(), &down, INTER, &ctx)
        .await;
    assert_eq!(r.status, CheckStatus::L4Con);
    assert_eq!(
        r.reason,
        "Layer4 connection problem, info: \"Connection refused\""
    );
}

#[tokio::test]
async fn http_over_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: Address = listener.local_addr().unwrap().into();
    let server = tokio::spawn(async move {
        for status in ["200 OK", "503 Service Unavailable"] {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 1024];
            let mut n = 0;
            while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                let m = s.read(&mut buf[n..]).await.unwrap();
                assert!(m > 0);
                n += m;
            }
            let resp =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            s.write_all(resp.as_bytes()).await.unwrap();
        }
    });
    let check = Check::http(
        HttpCheck::new()
            .uri("/health")
            .version("HTTP/1.1")
            .header("Host", "lb"),
    );
    let ctx = CheckContext::default();
    let r = check.run(&TcpConnect::new(), &addr, INTER, &ctx).await;
    assert_eq!(r.reason, "Layer7 check passed, code: 200, info: \"OK\"");
    let r = check.run(&TcpConnect::new(), &addr, INTER, &ctx).await;
    assert_eq!(
        r.reason,
        "Layer7 wrong status, code: 503, info: \"Service Unavailable\""
    );
    server.await.unwrap();
}

/// `check-proto h2` against hyper's h2c server on a real socket: 200 passes, 500 fails
/// with HAProxy's reason.
#[tokio::test]
async fn h2c_over_loopback() {
    let ok = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ok_addr: Address = ok.local_addr().unwrap().into();
    let err_addr: Address = err.local_addr().unwrap().into();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for (listener, status, body) in [(ok, 200, "up"), (err, 500, "down")] {
        let log = log.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve_h2(s, status, body, Duration::ZERO, log.clone()));
            }
        });
    }
    let check = Check::http(
        HttpCheck::new()
            .method("GET")
            .uri("/health")
            .header("Host", "lb")
            .expect(HttpExpect::rstatus("^2").unwrap())
            .expect(HttpExpect::rstring("^up$").unwrap()),
    )
    .proto(CheckProto::H2);
    let ctx = CheckContext::default();
    let r = check.run(&TcpConnect::new(), &ok_addr, INTER, &ctx).await;
    assert_eq!(r.status, CheckStatus::L7Ok);
    assert_eq!(r.reason, "Layer7 check passed, code: 200, info: \"OK\"");
    {
        let seen = log.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            (seen[0].method.as_str(), seen[0].uri.as_str()),
            ("GET", "http://lb/health")
        );
    }
    let r = check.run(&TcpConnect::new(), &err_addr, INTER, &ctx).await;
    assert_eq!(r.status, CheckStatus::L7Sts);
    assert_eq!(
        r.reason,
        "Layer7 wrong status, code: 500, info: \"Internal Server Error\""
    );
}

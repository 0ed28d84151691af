//! A few checks over real loopback sockets.

use std::time::Duration;

use lb_core::Address;
use lb_health::{Check, CheckContext, CheckStatus, HttpCheck};
use lb_tcp::connect::TcpConnect;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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

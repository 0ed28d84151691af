//! The reference binary's engine end to end: configurations from text run by
//! `lb::runtime::Runtime` over loopback origins (balancing, stats, health checks moving
//! traffic, seamless reload under load, broken reloads rejected).

#[path = "../support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lb::config::Config;
use lb::runtime::Runtime;
use support::*;
use tokio::net::TcpListener;

fn parse(text: &str) -> Config {
    Config::parse_str("test.cfg", text, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

async fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cfg_text(port: u16, stats: u16, servers: &[(String, SocketAddr)], extra: &str) -> String {
    let servers: String = servers
        .iter()
        .map(|(n, a)| format!("    server {n} {a} check inter 100ms fastinter 50ms downinter 100ms rise 2 fall 2\n"))
        .collect();
    format!(
        "global\n    maxconn 200\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    retries 3\n    option redispatch 1\nfrontend web\n    bind 127.0.0.1:{port}\n    default_backend app\nbackend app\n    balance roundrobin\n{extra}{servers}listen stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats\n    http-request use-service prometheus-exporter if {{ path /metrics }}\n"
    )
}

async fn get_origin(addr: SocketAddr) -> Result<(u16, String), String> {
    let mut c = tokio::time::timeout(Duration::from_secs(2), async {
        let io = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok::<_, String>(send)
    })
    .await
    .map_err(|_| "connect timeout".to_string())??;
    let mut req = get("/");
    req.headers_mut().insert("host", "test".parse().unwrap());
    let r = tokio::time::timeout(Duration::from_secs(3), c.send_request(req))
        .await
        .map_err(|_| "response timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let origin = r
        .headers()
        .get("x-origin")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    body_string(r).await;
    Ok((status, origin))
}

#[tokio::test]
async fn config_runs_balances_and_serves_stats() {
    trace_init();
    let (a, b) = (origin("a").await, origin("b").await);
    let (port, stats) = (free_port().await, free_port().await);
    let text = cfg_text(
        port,
        stats,
        &[("a".into(), a.addr), ("b".into(), b.addr)],
        "",
    );
    let rt = Runtime::start(parse(&text), None).await.unwrap();
    let fe: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (s, o) = get_origin(fe).await.unwrap();
        assert_eq!(s, 200);
        seen.push(o);
    }
    assert_eq!(seen, ["a", "b", "a", "b"]);
    // Stats page (HTML and CSV) and Prometheus on the stats listener.
    let st: SocketAddr = format!("127.0.0.1:{stats}").parse().unwrap();
    let mut c = h1(st).await;
    let r = c.send_request(get("/stats;csv")).await.unwrap();
    assert_eq!(r.status(), 200);
    let csv = body_string(r).await;
    assert!(csv.starts_with("# pxname,svname,"), "{csv}");
    assert!(
        csv.contains("\napp,a,") && csv.contains("\napp,BACKEND,"),
        "{csv}"
    );
    let r = c.send_request(get("/metrics")).await.unwrap();
    let prom = body_string(r).await;
    assert!(
        prom.contains("haproxy_backend_http_responses_total"),
        "{}",
        &prom[..200.min(prom.len())]
    );
    let r = c.send_request(get("/stats")).await.unwrap();
    assert!(body_string(r).await.contains("<html"));
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_dead_origin_is_checked_out_and_rejoins_without_client_errors() {
    trace_init();
    let a = origin("a").await;
    // Origin b on a port we control, so it can die and come back on the same address.
    let b_port = free_port().await;
    let b_addr: SocketAddr = format!("127.0.0.1:{b_port}").parse().unwrap();
    let (port, stats) = (free_port().await, free_port().await);
    let text = cfg_text(
        port,
        stats,
        &[("a".into(), a.addr), ("b".into(), b_addr)],
        "    default-server slowstart 20s\n",
    );
    let rt = Runtime::start(parse(&text), None).await.unwrap();
    let fe: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // b is down from the start: checks mark it DOWN, and with redispatch no request fails.
    for _ in 0..20 {
        let (s, o) = get_origin(fe).await.unwrap();
        assert_eq!((s, o.as_str()), (200, "a"));
    }
    let be = rt.backend("app").unwrap().clone();
    assert!(
        eventually(|| !be.server("b").unwrap().op_state().is_up()).await,
        "b marked down"
    );
    // b comes back: after `rise` checks it takes traffic again.
    let listener = TcpListener::bind(b_addr).await.unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let s2 = served.clone();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let s2 = s2.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    s2.fetch_add(1, Ordering::SeqCst);
                    async {
                        let mut r = http::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from_static(b"b"),
                        ));
                        r.headers_mut().insert("x-origin", "b".parse().unwrap());
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    assert!(
        eventually(|| be.server("b").unwrap().op_state().is_up()).await,
        "b back up"
    );
    // Slow start: right after rejoining, b gets a small share (about 1/17 at first), not half.
    let mut b_count = 0;
    for _ in 0..68 {
        let (s, o) = get_origin(fe).await.unwrap();
        assert_eq!(s, 200);
        b_count += usize::from(o == "b");
    }
    assert!((1..=20).contains(&b_count), "b ramps up: {b_count} of 68");
    assert!(served.load(Ordering::SeqCst) > 0);
    task.abort();
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn reload_under_load_loses_no_request_and_broken_reloads_are_rejected() {
    trace_init();
    let (a, b, c) = (origin("a").await, origin("b").await, origin("c").await);
    let (port, stats) = (free_port().await, free_port().await);
    let v1 = cfg_text(
        port,
        stats,
        &[("a".into(), a.addr), ("b".into(), b.addr)],
        "",
    );
    let mut rt = Runtime::start(parse(&v1), None).await.unwrap();
    rt.backend("app")
        .unwrap()
        .set_weight("a", lb::core::Weight::new(3).unwrap(), "test")
        .unwrap();
    let fe: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) && n < 2000 {
                    match get_origin(fe).await {
                        Ok((200, _)) => ok.fetch_add(1, Ordering::SeqCst),
                        other => {
                            eprintln!("failed: {other:?}");
                            failed.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                    n += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Reload: remove b, add c. Old listeners keep serving until the new ones are bound.
    let v2 = cfg_text(
        port,
        stats,
        &[("a".into(), a.addr), ("c".into(), c.addr)],
        "",
    );
    let served_before = rt
        .backend("app")
        .unwrap()
        .server("a")
        .unwrap()
        .stats()
        .total();
    let new = Runtime::start(parse(&v2), Some(&mut rt)).await.unwrap();
    // Statistics carry over where names match.
    let served_after = new
        .backend("app")
        .unwrap()
        .server("a")
        .unwrap()
        .stats()
        .total();
    assert!(
        served_after >= served_before && served_before > 0,
        "{served_before} -> {served_after}"
    );
    // The operator's weight change on `a` survives the reload.
    assert_eq!(
        new.backend("app")
            .unwrap()
            .server("a")
            .unwrap()
            .weight()
            .get(),
        3
    );
    let old = std::mem::replace(&mut rt, new);
    old.stop(Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A broken configuration never replaces the running one.
    let broken = format!("{v2}\nbackend oops\n    balance roundrobbin\n");
    assert!(Config::parse_str("test.cfg", &broken, &|_| None).is_err());
    stop.store(true, Ordering::SeqCst);
    for l in load {
        l.await.unwrap();
    }
    assert!(
        ok.load(Ordering::SeqCst) > 50,
        "ok {}",
        ok.load(Ordering::SeqCst)
    );
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no request lost across the reload"
    );
    let (s, o) = get_origin(fe).await.unwrap();
    assert_eq!(s, 200);
    assert_ne!(o, "b");
    assert!(c.requests() > 0 || o == "c" || o == "a");
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn observe_layer7_marks_a_failing_server_down_and_track_follows() {
    trace_init();
    // An origin whose every answer is a 500, and a healthy one.
    let bad = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bad_addr = bad.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = bad.accept().await {
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    let mut r = http::Response::new(http_body_util::Full::new(
                        bytes::Bytes::from_static(b"oops"),
                    ));
                    *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    Ok::<_, std::convert::Infallible>(r)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    let good = origin("good").await;
    let (port, stats) = (free_port().await, free_port().await);
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:{port}\n    default_backend app\n\
         backend app\n    balance roundrobin\n\
         \x20   server bad {bad_addr} check inter 10s observe layer7 error-limit 3 on-error mark-down\n\
         \x20   server good {} check inter 10s\n\
         backend mirror\n    server copy {bad_addr} track app/bad\n\
         listen stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /\n",
        good.addr
    );
    let rt = Runtime::start(parse(&text), None).await.unwrap();
    let fe: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let be = rt.backend("app").unwrap().clone();
    let mirror = rt.backend("mirror").unwrap().clone();
    // Errors from `bad` count until `error-limit` consecutive ones mark it down (a passing
    // active check in between resets the count, so allow a few more under load).
    let mut errors = 0;
    for _ in 0..40 {
        if get_origin(fe).await.unwrap().0 == 500 {
            errors += 1;
        }
        if !be.server("bad").unwrap().op_state().is_up() {
            break;
        }
    }
    assert!(
        !be.server("bad").unwrap().op_state().is_up(),
        "bad marked down"
    );
    assert!(
        (3..=9).contains(&errors),
        "{errors} errors before mark-down"
    );
    // From then on only `good` answers.
    for _ in 0..10 {
        assert_eq!(get_origin(fe).await.unwrap().0, 200);
    }
    // The tracking server follows.
    assert!(eventually(|| !mirror.server("copy").unwrap().op_state().is_up()).await);
    task.abort();
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn unique_id_reaches_the_server() {
    trace_init();
    // A raw origin that echoes the request head back as the body.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
                head.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    let port = free_port().await;
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:{port}\n    unique-id-format %{{+X}}o\\ %ci:%cp_%rt\n    unique-id-header X-Request-ID\n    default_backend app\n\
         backend app\n    server s1 {addr}\n"
    );
    let rt = Runtime::start(parse(&text), None).await.unwrap();
    let mut c = h1(format!("127.0.0.1:{port}").parse().unwrap()).await;
    let mut req = get("/");
    req.headers_mut().insert("host", "x".parse().unwrap());
    let body = body_string(c.send_request(req).await.unwrap())
        .await
        .to_ascii_lowercase();
    let line = body
        .lines()
        .find(|l| l.starts_with("x-request-id:"))
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        line.contains("7f000001:") || line.contains("127.0.0.1:"),
        "{line}"
    );
    task.abort();
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn http_check_expect_status_marks_a_mismatching_server_down() {
    trace_init();
    // Both origins answer 200; `app` expects 204 so its server goes down, `ok` expects 200.
    let (a, b) = (origin("a").await, origin("b").await);
    let port = free_port().await;
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         \x20   option httpchk GET /\n\
         frontend web\n    bind 127.0.0.1:{port}\n    default_backend app\n\
         backend app\n    http-check expect status 204\n\
         \x20   server a {} check inter 50ms rise 1 fall 2\n\
         backend ok\n    http-check send hdr X-Check lb\n    http-check expect status 200\n\
         \x20   server b {} check inter 50ms rise 1 fall 2\n",
        a.addr, b.addr
    );
    let rt = Runtime::start(parse(&text), None).await.unwrap();
    let app = rt.backend("app").unwrap().clone();
    let ok = rt.backend("ok").unwrap().clone();
    // `ok` passes its checks; `app` is checked as often but its 200s fail the expect.
    assert!(eventually(|| ok.server("b").unwrap().op_state().is_up()).await);
    assert!(eventually(|| a.requests.load(Ordering::SeqCst) >= 4).await);
    assert!(!app.server("a").unwrap().op_state().is_up());
    assert!(ok.server("b").unwrap().op_state().is_up());
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn check_ssl_checks_go_through_tls() {
    trace_init();
    // A TLS server with a self-signed certificate...
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = format!("{}{}", cert.pem(), key.serialize_pem());
    let store = lb::tls::CertStore::new();
    store
        .add("c", lb::tls::Cert::from_pem(pem.as_bytes()).unwrap())
        .unwrap();
    store.set_default("c").unwrap();
    let acceptor = Arc::new(
        lb::tls::TlsAcceptor::builder(Arc::new(store))
            .build()
            .unwrap(),
    );
    let tls_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_addr = tls_listener.local_addr().unwrap();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let h2 = handshakes.clone();
    let tls_task = tokio::spawn(async move {
        while let Ok((s, _)) = tls_listener.accept().await {
            let (a, h) = (acceptor.clone(), h2.clone());
            tokio::spawn(async move {
                if let Ok(mut t) = a.accept(s).await {
                    h.fetch_add(1, Ordering::SeqCst);
                    let _ = tokio::io::copy(&mut t, &mut tokio::io::sink()).await;
                }
            });
        }
    });
    // ...and a plain-text server, which a TLS check cannot pass.
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_addr = plain.local_addr().unwrap();
    let plain_task = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = plain.accept().await {
            let _ = s.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n").await;
        }
    });
    let port = free_port().await;
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:{port}\n    default_backend app\n\
         backend app\n\
         \x20   server tls {tls_addr} check check-ssl check-sni localhost inter 100ms rise 1 fall 1\n\
         \x20   server plain {plain_addr} check check-ssl inter 100ms rise 1 fall 1\n\
         backend hello\n    option ssl-hello-chk\n\
         \x20   server tls {tls_addr} check inter 100ms rise 1 fall 1\n\
         \x20   server plain {plain_addr} check inter 100ms rise 1 fall 1\n"
    );
    let rt = Runtime::start(parse(&text), None).await.unwrap();
    let be = rt.backend("app").unwrap().clone();
    assert!(
        eventually(|| !be.server("plain").unwrap().op_state().is_up()).await,
        "a plain-text server fails a TLS check"
    );
    assert!(
        eventually(|| handshakes.load(Ordering::SeqCst) >= 2).await,
        "TLS checks shake hands"
    );
    assert!(
        be.server("tls").unwrap().op_state().is_up(),
        "the TLS server passes"
    );
    // `option ssl-hello-chk` checks every server of its backend through TLS.
    let hello = rt.backend("hello").unwrap().clone();
    assert!(eventually(|| !hello.server("plain").unwrap().op_state().is_up()).await);
    assert!(hello.server("tls").unwrap().op_state().is_up());
    tls_task.abort();
    plain_task.abort();
    rt.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn monitor_uri_reports_a_down_backend_with_monitor_fail() {
    trace_init();
    let a = origin("a").await;
    let port = free_port().await;
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend web\n    bind 127.0.0.1:{port}\n    monitor-uri /alive\n    monitor fail if {{ nbsrv(app) lt 1 }}\n    default_backend app\n\
         backend app\n    server a {}\n",
        a.addr
    );
    let rt = Runtime::start(parse(&text), None).await.unwrap();
    let fe: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let status =
        |c: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>| {
            let mut req = get("/alive");
            req.headers_mut().insert("host", "x".parse().unwrap());
            c.send_request(req)
        };
    let mut c = h1(fe).await;
    let r = status(&mut c).await.unwrap();
    assert_eq!(r.status(), 200);
    body_string(r).await;
    rt.backend("app")
        .unwrap()
        .set_op_state("a", lb::core::OpState::Down, "test")
        .unwrap();
    let r = status(&mut c).await.unwrap();
    assert_eq!(r.status(), 503, "the backend has no usable server");
    body_string(r).await;
    rt.stop(Duration::from_secs(1)).await;
}

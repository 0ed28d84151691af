//! Each check kind passes and fails for the right reasons (in-memory fake servers).

use std::time::Duration;

use lb_core::Address;
use lb_health::{
    Check, CheckContext, CheckProto, CheckResult, CheckStatus, ConfigError, HttpCheck, HttpExpect,
    MysqlCheck, PgsqlCheck, ProxyVersion, SmtpCheck, TcpCheck, TcpCheckRule, TcpExpect,
};
use lb_tcp::mem::{Faults, MemNetwork};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::support::*;

const INTER: Duration = Duration::from_secs(2);

fn addr(name: &str) -> Address {
    format!("mem@{name}").parse().unwrap()
}

async fn run(net: &MemNetwork, check: &Check, name: &str) -> CheckResult {
    check
        .run(
            &net.connector(),
            &addr(name),
            INTER,
            &CheckContext::default(),
        )
        .await
}

async fn run_ctx(net: &MemNetwork, check: &Check, name: &str, ctx: CheckContext) -> CheckResult {
    check.run(&net.connector(), &addr(name), INTER, &ctx).await
}

#[tokio::test(start_paused = true)]
async fn tcp_pass_refused_timeout() {
    let net = MemNetwork::new();
    let _l = net.bind("up").unwrap();
    let r = run(&net, &Check::tcp(), "up").await;
    assert_eq!(r.status, CheckStatus::L4Ok);
    assert_eq!(r.reason, "Layer4 check passed");

    let r = run(&net, &Check::tcp(), "nobody").await;
    assert_eq!(r.status, CheckStatus::L4Con);
    assert_eq!(
        r.reason,
        "Layer4 connection problem, info: \"Connection refused\""
    );

    net.set_faults("hole", Faults::new().blackhole());
    let t0 = Instant::now();
    let r = run(&net, &Check::tcp(), "hole").await;
    assert_eq!(r.status, CheckStatus::L4Tout);
    assert_eq!(r.reason, "Layer4 timeout");
    // Without `timeout check`, the whole check gets `inter`.
    assert_eq!(t0.elapsed(), INTER);
    assert_eq!(r.duration, INTER);
}

#[tokio::test(start_paused = true)]
async fn timeout_check_semantics() {
    let net = MemNetwork::new();
    net.set_faults("hole", Faults::new().blackhole());
    // With `timeout check`, connect gets min(timeout connect, inter).
    let check = Check::tcp()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_millis(500));
    let t0 = Instant::now();
    assert_eq!(run(&net, &check, "hole").await.status, CheckStatus::L4Tout);
    assert_eq!(t0.elapsed(), Duration::from_millis(500));

    // ... and the answer gets `timeout check` after the connect, even beyond inter.
    let _s = silent_server(&net, "mute");
    let check = Check::redis().timeout(Duration::from_secs(5));
    let t0 = Instant::now();
    let r = run(&net, &check, "mute").await;
    assert_eq!(r.status, CheckStatus::L7Tout);
    assert_eq!(r.reason, "Layer7 timeout");
    assert_eq!(t0.elapsed(), Duration::from_secs(5));

    // Without it, the answer must come within inter.
    let t0 = Instant::now();
    assert_eq!(
        run(&net, &Check::redis(), "mute").await.status,
        CheckStatus::L7Tout
    );
    assert_eq!(t0.elapsed(), INTER);
}

#[tokio::test(start_paused = true)]
async fn http_default_pass_and_wrong_status() {
    let net = MemNetwork::new();
    let (_s, log) = http_server(&net, "ok", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let (_s2, _) = http_server(
        &net,
        "err",
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
    );
    let (_s3, _) = http_server(&net, "redir", "HTTP/1.0 302 Found\r\n\r\n");
    let check = Check::http(HttpCheck::new());
    let r = run(&net, &check, "ok").await;
    assert_eq!(r.status, CheckStatus::L7Ok);
    assert_eq!(r.code, Some(200));
    assert_eq!(r.reason, "Layer7 check passed, code: 200, info: \"OK\"");
    assert_eq!(
        log.lock().unwrap()[0],
        "OPTIONS / HTTP/1.0\r\nConnection: close\r\n\r\n"
    );
    let r = run(&net, &check, "err").await;
    assert_eq!(r.status, CheckStatus::L7Sts);
    assert_eq!(
        r.reason,
        "Layer7 wrong status, code: 500, info: \"Internal Server Error\""
    );
    assert_eq!(run(&net, &check, "redir").await.status, CheckStatus::L7Ok);
}

#[tokio::test(start_paused = true)]
async fn http_send_builds_the_request() {
    let net = MemNetwork::new();
    let log = scripted_server(
        &net,
        "app",
        Vec::new(),
        vec![b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()],
    );
    let check = Check::http(
        HttpCheck::new()
            .method("POST")
            .uri("/health?deep=1")
            .version("HTTP/1.1")
            .header("Host", "app.example")
            .body("{}"),
    );
    let r = run(&net, &check, "app").await;
    assert_eq!(
        r.reason,
        "Layer7 check passed, code: 204, info: \"No Content\""
    );
    let got = log.lock().unwrap().concat();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "POST /health?deep=1 HTTP/1.1\r\nHost: app.example\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    );
}

#[tokio::test(start_paused = true)]
async fn http_expect_status_and_string() {
    let net = MemNetwork::new();
    let (_a, _) = http_server(
        &net,
        "a",
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 11\r\n\r\nmaintenance",
    );
    let (_b, _) = http_server(
        &net,
        "b",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nall g\r\n6\r\nood :)\r\n0\r\n\r\n",
    );
    let (_c, _) = http_server(&net, "c", "HTTP/1.1 200 OK\r\n\r\nstatus: degraded");

    let status =
        |list: &str| Check::http(HttpCheck::new().expect(HttpExpect::status(list).unwrap()));
    // 503 is not 2xx/3xx, but an explicit expect accepts it.
    assert_eq!(
        run(&net, &status("200,500-599"), "a").await.status,
        CheckStatus::L7Ok
    );
    let r = run(&net, &status("200-299"), "a").await;
    assert_eq!(
        r.reason,
        "Layer7 wrong status, code: 503, info: \"Service Unavailable\""
    );
    let not5xx = Check::http(
        HttpCheck::new().expect(HttpExpect::parse(&["!", "status", "500-599"]).unwrap()),
    );
    assert_eq!(run(&net, &not5xx, "a").await.status, CheckStatus::L7Sts);
    assert_eq!(run(&net, &not5xx, "b").await.status, CheckStatus::L7Ok);

    let string = |s: &str| Check::http(HttpCheck::new().expect(HttpExpect::string(s)));
    // Content-Length body, chunked body, body up to close.
    assert_eq!(
        run(&net, &string("maint"), "a").await.status,
        CheckStatus::L7Ok
    );
    assert_eq!(
        run(&net, &string("all good"), "b").await.status,
        CheckStatus::L7Ok
    );
    let r = run(&net, &string("healthy"), "c").await;
    assert_eq!(r.status, CheckStatus::L7Rsp);
    assert_eq!(
        r.reason,
        "Layer7 invalid response, info: \"HTTP content check did not match\""
    );
    let r = run(
        &net,
        &Check::http(HttpCheck::new().expect(HttpExpect::string("degraded").negate())),
        "c",
    )
    .await;
    assert_eq!(r.status, CheckStatus::L7Rsp);
    assert_eq!(r.info, "HTTP content check matched unwanted content");
}

#[tokio::test(start_paused = true)]
async fn http_disable_on_404() {
    let net = MemNetwork::new();
    let (_s, _) = http_server(&net, "nf", "HTTP/1.1 404 Not Found\r\n\r\n");
    let check = Check::http(HttpCheck::new().disable_on_404(true));
    let r = run(&net, &check, "nf").await;
    assert_eq!(r.status, CheckStatus::L7OkC);
    assert_eq!(
        r.reason,
        "Layer7 check conditionally passed, code: 404, info: \"Not Found\""
    );
    // Only for running servers: a down server stays down.
    let ctx = CheckContext {
        running: false,
        ..CheckContext::default()
    };
    assert_eq!(
        run_ctx(&net, &check, "nf", ctx).await.status,
        CheckStatus::L7Sts
    );
    // Precedence over expect rules.
    let check = Check::http(
        HttpCheck::new()
            .disable_on_404(true)
            .expect(HttpExpect::status("200").unwrap()),
    );
    assert_eq!(run(&net, &check, "nf").await.status, CheckStatus::L7OkC);
}

#[tokio::test(start_paused = true)]
async fn http_bad_answers() {
    let net = MemNetwork::new();
    let (_a, _) = http_server(&net, "junk", "SSH-2.0-OpenSSH_9.6\r\n\r\n");
    let (_b, _) = http_server(&net, "empty", "");
    let (_c, _) = http_server(&net, "cut", "HTTP/1.1 200 OK\r\nContent-");
    let _d = silent_server(&net, "mute");
    let check = Check::http(HttpCheck::new());
    let r = run(&net, &check, "junk").await;
    assert_eq!(r.status, CheckStatus::L7Rsp);
    assert!(r.info.starts_with("Invalid HTTP response"), "{}", r.info);
    assert_eq!(run(&net, &check, "empty").await.info, "Empty response");
    assert_eq!(
        run(&net, &check, "cut").await.info,
        "Incomplete HTTP response"
    );
    let r = run(&net, &check, "mute").await;
    assert_eq!(r.status, CheckStatus::L7Tout);

    // Reset in the middle of the answer.
    net.set_faults(
        "reset",
        Faults::new().reset_after_in(10, lb_tcp::mem::Direction::ServerToClient),
    );
    let (_e, _) = http_server(
        &net,
        "reset",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    let r = run(&net, &check, "reset").await;
    assert_eq!(r.status, CheckStatus::L4Con, "{r:?}");
    assert_eq!(r.info, "Connection reset by peer");
}

#[tokio::test(start_paused = true)]
async fn tcp_check_scripts() {
    let net = MemNetwork::new();
    let _s = scripted_server(
        &net,
        "pop",
        b"+OK POP3 ready\r\n".to_vec(),
        vec![b"+OK bye\r\n".to_vec()],
    );
    let expect = |s: &str| TcpCheckRule::expect(TcpExpect::string(s));
    let script = TcpCheck::new()
        .rule(expect("+OK"))
        .rule(TcpCheckRule::send("QUIT\r\n"))
        .rule(expect("bye"));
    let r = run(&net, &Check::script(script), "pop").await;
    assert_eq!(r.status, CheckStatus::L7Ok);
    assert_eq!(r.reason, "Layer7 check passed, info: \"(tcp-check)\"");

    // A mismatch is judged once the server stops sending (here: min-recv).
    let script = TcpCheck::new().rule(TcpCheckRule::expect(TcpExpect::string("-ERR").min_recv(3)));
    let r = run(&net, &Check::script(script), "pop").await;
    assert_eq!(r.status, CheckStatus::L7Rsp);
    assert_eq!(r.info, "TCPCHK did not match content '-ERR' at step 2");

    let script = TcpCheck::new().rule(TcpCheckRule::expect(
        TcpExpect::string("+OK").negate().min_recv(3),
    ));
    let r = run(&net, &Check::script(script), "pop").await;
    assert_eq!(r.info, "TCPCHK matched unwanted content '+OK' at step 2");

    // Without min-recv a mismatch waits for more data: the check times out.
    let script = TcpCheck::new().rule(expect("never"));
    let r = run(&net, &Check::script(script), "pop").await;
    assert_eq!(r.status, CheckStatus::L7Tout);
    assert_eq!(
        r.reason,
        "Layer7 timeout, info: \"at step 2 of tcp-check (expect string 'never')\""
    );

    // Binary: send and expect bytes.
    let log = scripted_server(&net, "bin", Vec::new(), vec![vec![0xde, 0xad, 0xbe, 0xef]]);
    let script = TcpCheck::new()
        .rule(TcpCheckRule::send_binary("0102").unwrap())
        .rule(TcpCheckRule::expect(TcpExpect::binary("beef").unwrap()));
    assert_eq!(
        run(&net, &Check::script(script), "bin").await.status,
        CheckStatus::L7Ok
    );
    assert_eq!(log.lock().unwrap()[0], vec![1, 2]);

    // Connect-only scripts are layer 4; connect failures name their step.
    assert_eq!(
        run(&net, &Check::script(TcpCheck::new()), "pop")
            .await
            .status,
        CheckStatus::L4Ok
    );
    let script = TcpCheck::new()
        .rule(TcpCheckRule::connect())
        .rule(TcpCheckRule::connect_port(8443));
    let r = run(&net, &Check::script(script), "pop").await;
    assert_eq!(r.status, CheckStatus::L4Con);
    assert_eq!(
        r.info,
        "Connection refused at step 2 of tcp-check (connect port 8443)"
    );
    // Multi-port: a second listener answers on port 8443.
    let _p = scripted_server(&net, "pop:8443", b"ready\r\n".to_vec(), Vec::new());
    let script = TcpCheck::new()
        .rule(TcpCheckRule::connect())
        .rule(expect("+OK"))
        .rule(TcpCheckRule::connect_port(8443))
        .rule(expect("ready"));
    assert_eq!(
        run(&net, &Check::script(script), "pop").await.status,
        CheckStatus::L7Ok
    );
}

#[tokio::test(start_paused = true)]
async fn redis() {
    let net = MemNetwork::new();
    let log = scripted_server(&net, "r1", Vec::new(), vec![b"+PONG\r\n".to_vec()]);
    let _r2 = scripted_server(
        &net,
        "r2",
        Vec::new(),
        vec![b"-NOAUTH Authentication required.\r\n".to_vec()],
    );
    let r = run(&net, &Check::redis(), "r1").await;
    assert_eq!(
        r.reason,
        "Layer7 check passed, info: \"Redis server is ok\""
    );
    assert_eq!(log.lock().unwrap()[0], b"*1\r\n$4\r\nPING\r\n");
    let r = run(&net, &Check::redis(), "r2").await;
    assert_eq!(r.status, CheckStatus::L7Sts);
    assert_eq!(r.info, "-NOAUTH Authentication required.");
}

#[tokio::test(start_paused = true)]
async fn smtp() {
    let net = MemNetwork::new();
    let log = scripted_server(
        &net,
        "mx1",
        b"220 mx1.example ESMTP\r\n".to_vec(),
        vec![b"250-mx1.example\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n".to_vec()],
    );
    let r = run(&net, &Check::smtp(SmtpCheck::ehlo("lb.example")), "mx1").await;
    assert_eq!(r.status, CheckStatus::L7Ok);
    assert_eq!(
        r.reason,
        "Layer7 check passed, code: 250, info: \"mx1.example\""
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    let got = log.lock().unwrap().concat();
    assert_eq!(got, b"EHLO lb.example\r\nQUIT\r\n");

    let _busy = scripted_server(
        &net,
        "mx2",
        b"554 No SMTP service here\r\n".to_vec(),
        Vec::new(),
    );
    let r = run(&net, &Check::smtp(SmtpCheck::new()), "mx2").await;
    assert_eq!(r.status, CheckStatus::L7Sts);
    assert_eq!(r.code, Some(554));
    assert_eq!(
        r.reason,
        "Layer7 wrong status, code: 554, info: \"554 No SMTP service here\""
    );

    let _rej = scripted_server(
        &net,
        "mx3",
        b"220 hi\r\n".to_vec(),
        vec![b"501 Syntax error\r\n".to_vec()],
    );
    let r = run(&net, &Check::smtp(SmtpCheck::new()), "mx3").await;
    assert_eq!((r.status, r.code), (CheckStatus::L7Sts, Some(501)));

    let _junk = scripted_server(&net, "mx4", b"hello there\r\n".to_vec(), Vec::new());
    let r = run(&net, &Check::smtp(SmtpCheck::new()), "mx4").await;
    assert_eq!(r.status, CheckStatus::L7Rsp);
}

fn mysql_packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

fn mysql_greeting() -> Vec<u8> {
    let mut g = vec![0x0a];
    g.extend_from_slice(b"8.0.36\0");
    g.extend_from_slice(&42u32.to_le_bytes()); // connection id
    g.extend_from_slice(b"abcdefgh\0"); // auth data part 1 + filler
    g.extend_from_slice(&[0xff, 0xf7, 0x21, 0x02, 0x00, 0xff, 0xc1, 0x15]);
    g.extend_from_slice(&[0; 10]);
    g.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
    mysql_packet(0, &g)
}

fn mysql_err(seq: u8, code: u16, msg: &str) -> Vec<u8> {
    let mut e = vec![0xff];
    e.extend_from_slice(&code.to_le_bytes());
    e.extend_from_slice(msg.as_bytes());
    mysql_packet(seq, &e)
}

#[tokio::test(start_paused = true)]
async fn mysql() {
    let net = MemNetwork::new();
    let _db1 = scripted_server(&net, "db1", mysql_greeting(), Vec::new());
    let r = run(&net, &Check::mysql(MysqlCheck::new()), "db1").await;
    assert_eq!(r.status, CheckStatus::L7Ok);
    assert_eq!(r.info, "8.0.36");

    let _db2 = scripted_server(
        &net,
        "db2",
        mysql_err(
            0,
            1129,
            "Host '10.0.0.9' is blocked because of many connection errors",
        ),
        Vec::new(),
    );
    let r = run(&net, &Check::mysql(MysqlCheck::new()), "db2").await;
    assert_eq!(r.status, CheckStatus::L7Sts);
    assert_eq!(
        r.reason,
        "Layer7 wrong status, code: 1129, info: \"Host '10.0.0.9' is blocked because of many connection errors\""
    );

    // With a user: login + QUIT, then OK or an access error.
    let log = scripted_server(
        &net,
        "db3",
        mysql_greeting(),
        vec![mysql_packet(2, &[0, 0, 0, 2, 0, 0, 0])],
    );
    let r = run(
        &net,
        &Check::mysql(MysqlCheck::new().user("haproxy")),
        "db3",
    )
    .await;
    assert_eq!(r.status, CheckStatus::L7Ok, "{r:?}");
    let sent = log.lock().unwrap().concat();
    assert_eq!(sent[3], 1, "sequence 1");
    assert!(sent.windows(8).any(|w| w == b"haproxy\0"));
    assert!(sent.ends_with(&[1, 0, 0, 0, 1]), "COM_QUIT");

    let _db4 = scripted_server(
        &net,
        "db4",
        mysql_greeting(),
        vec![mysql_err(2, 1045, "#28000Access denied for user 'haproxy'")],
    );
    let r = run(
        &net,
        &Check::mysql(MysqlCheck::new().user("haproxy")),
        "db4",
    )
    .await;
    assert_eq!((r.status, r.code), (CheckStatus::L7Sts, Some(1045)));
    assert_eq!(r.info, "Access denied for user 'haproxy'");
}

#[tokio::test(start_paused = true)]
async fn pgsql() {
    let net = MemNetwork::new();
    // AuthenticationMD5Password: 'R', len 12, code 5, salt.
    let log = scripted_server(
        &net,
        "pg1",
        Vec::new(),
        vec![b"R\0\0\0\x0c\0\0\0\x05salt".to_vec()],
    );
    let r = run(&net, &Check::pgsql(PgsqlCheck::new("haproxy")), "pg1").await;
    assert_eq!(
        r.reason,
        "Layer7 check passed, info: \"PostgreSQL server is ok\""
    );
    let sent = log.lock().unwrap()[0].clone();
    assert_eq!(&sent[..8], &[0, 0, 0, 22, 0, 3, 0, 0]);
    assert_eq!(&sent[8..], b"user\0haproxy\0\0");

    let mut err = b"E".to_vec();
    let fields = b"SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host\0\0";
    err.extend_from_slice(&((fields.len() + 4) as u32).to_be_bytes());
    err.extend_from_slice(fields);
    let _pg2 = scripted_server(&net, "pg2", Vec::new(), vec![err]);
    let r = run(&net, &Check::pgsql(PgsqlCheck::new("haproxy")), "pg2").await;
    assert_eq!(r.status, CheckStatus::L7Rsp);
    assert_eq!(r.info, "FATAL: no pg_hba.conf entry for host");
}

#[tokio::test(start_paused = true)]
async fn ldap() {
    let net = MemNetwork::new();
    let ok = vec![
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];
    let log = scripted_server(&net, "ld1", Vec::new(), vec![ok]);
    let r = run(&net, &Check::ldap(), "ld1").await;
    assert_eq!(r.reason, "Layer7 check passed, info: \"Success\"");
    assert_eq!(
        log.lock().unwrap()[0],
        [0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]
    );
    // invalidCredentials (49).
    let bad = vec![
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 49, 0x04, 0x00, 0x04, 0x00,
    ];
    let _ld2 = scripted_server(&net, "ld2", Vec::new(), vec![bad]);
    let r = run(&net, &Check::ldap(), "ld2").await;
    assert_eq!(r.status, CheckStatus::L7Sts);
    assert_eq!(
        r.reason,
        "Layer7 wrong status, code: 49, info: \"See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9\""
    );
    let _ld3 = scripted_server(
        &net,
        "ld3",
        Vec::new(),
        vec![b"HTTP/1.1 400 Bad\r\n\r\n".to_vec()],
    );
    let r = run(&net, &Check::ldap(), "ld3").await;
    assert_eq!(
        r.reason,
        "Layer7 invalid response, info: \"Not LDAPv3 protocol\""
    );
}

#[tokio::test(start_paused = true)]
async fn send_proxy_and_overrides() {
    let net = MemNetwork::new();
    let log = scripted_server(&net, "pp", Vec::new(), Vec::new());
    let r = run(&net, &Check::tcp().send_proxy(ProxyVersion::V1), "pp").await;
    assert_eq!(r.status, CheckStatus::L4Ok);
    // The server sees the header before the connection closes.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(log.lock().unwrap().concat(), b"PROXY UNKNOWN\r\n");

    let log2 = scripted_server(&net, "pp2", Vec::new(), vec![b"+PONG\r\n".to_vec()]);
    let r = run(&net, &Check::redis().send_proxy(ProxyVersion::V2), "pp2").await;
    assert_eq!(r.status, CheckStatus::L7Ok);
    let got = log2.lock().unwrap().concat();
    assert_eq!(&got[..12], b"\r\n\r\n\0\r\nQUIT\n");
    assert_eq!(got[12], 0x20, "v2 LOCAL");

    // `port` and `addr` move the check elsewhere.
    let _side = net.bind("web1:8080").unwrap();
    let r = run(&net, &Check::tcp().port(8080), "web1").await;
    assert_eq!(r.status, CheckStatus::L4Ok);
    let r = run(&net, &Check::tcp().addr(addr("web1:8080")), "elsewhere").await;
    assert_eq!(r.status, CheckStatus::L4Ok);
}

#[tokio::test(start_paused = true)]
async fn results_are_clean_when_servers_misbehave() {
    // A server sending megabytes does not make a check read forever.
    let net = MemNetwork::new();
    let _big = serve(&net, "big", |mut s| async move {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
        let line = vec![b'x'; 1000];
        for _ in 0..1000 {
            if s.write_all(b"X-Pad: ").await.is_err()
                || s.write_all(&line).await.is_err()
                || s.write_all(b"\r\n").await.is_err()
            {
                return;
            }
        }
    });
    let r = run(&net, &Check::http(HttpCheck::new()), "big").await;
    assert_eq!(r.status, CheckStatus::L7Rsp);
}

#[tokio::test(start_paused = true)]
async fn http_expect_regexes() {
    let net = MemNetwork::new();
    let (_a, _) = http_server(
        &net,
        "a",
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 24\r\n\r\n{\"status\": \"MAINTENANCE\"}",
    );
    let (_b, _) = http_server(
        &net,
        "b",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{\"status\r\n9\r\n\": \"up\"}\r\n0\r\n\r\n",
    );
    let check =
        |words: &[&str]| Check::http(HttpCheck::new().expect(HttpExpect::parse(words).unwrap()));

    // rstatus: pass and fail (with the server's reason, as `status`).
    let r = run(&net, &check(&["rstatus", "^2[0-9]{2}$"]), "b").await;
    assert_eq!(r.reason, "Layer7 check passed, code: 200, info: \"OK\"");
    let r = run(&net, &check(&["rstatus", "^2[0-9]{2}$"]), "a").await;
    assert_eq!(r.status, CheckStatus::L7Sts);
    assert_eq!(
        r.reason,
        "Layer7 wrong status, code: 503, info: \"Service Unavailable\""
    );
    // `! rstatus ^5`: anything but 5xx.
    assert_eq!(
        run(&net, &check(&["!", "rstatus", "^5"]), "b").await.status,
        CheckStatus::L7Ok
    );
    let r = run(&net, &check(&["!", "rstatus", "^5"]), "a").await;
    assert_eq!(r.status, CheckStatus::L7Sts);
    assert_eq!(r.code, Some(503));

    // rstring over a chunked body whose match spans two chunks.
    let up = r#""status":\s*"up""#;
    assert_eq!(
        run(&net, &check(&["rstring", up]), "b").await.status,
        CheckStatus::L7Ok
    );
    let r = run(&net, &check(&["rstring", up]), "a").await;
    assert_eq!(r.status, CheckStatus::L7Rsp);
    assert_eq!(
        r.reason,
        "Layer7 invalid response, info: \"HTTP content check did not match\""
    );
    let r = run(&net, &check(&["!", "rstring", "(?i)maint"]), "a").await;
    assert_eq!(
        r.reason,
        "Layer7 invalid response, info: \"HTTP content check matched unwanted content\""
    );
    assert_eq!(
        run(&net, &check(&["!", "rstring", "(?i)maint"]), "b")
            .await
            .status,
        CheckStatus::L7Ok
    );
}

#[tokio::test(start_paused = true)]
async fn http_rstring_is_bounded_like_string() {
    // The match sits after 16 KiB of body: neither `string` nor `rstring` sees it.
    let net = MemNetwork::new();
    let body = format!("{}MARK", "x".repeat(17 * 1024));
    let resp: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    );
    let (_s, _) = http_server(&net, "big", resp);
    for rule in [
        HttpExpect::string("MARK"),
        HttpExpect::rstring("MARK$").unwrap(),
    ] {
        let r = run(&net, &Check::http(HttpCheck::new().expect(rule)), "big").await;
        assert_eq!(r.status, CheckStatus::L7Rsp);
    }
    // ... while a match early in the body passes.
    let r = run(
        &net,
        &Check::http(HttpCheck::new().expect(HttpExpect::rstring("^x{100}").unwrap())),
        "big",
    )
    .await;
    assert_eq!(r.status, CheckStatus::L7Ok);
}

#[tokio::test(start_paused = true)]
async fn tcp_check_rstring() {
    let net = MemNetwork::new();
    let _s = scripted_server(
        &net,
        "redis",
        Vec::new(),
        vec![b"$12\r\nrole:master\r\n".to_vec()],
    );
    let script = |e: TcpExpect| {
        Check::script(
            TcpCheck::new()
                .rule(TcpCheckRule::send("INFO replication\r\n"))
                .rule(TcpCheckRule::expect(e)),
        )
    };
    let r = run(
        &net,
        &script(TcpExpect::rstring(r"role:(master|primary)\r").unwrap()),
        "redis",
    )
    .await;
    assert_eq!(r.status, CheckStatus::L7Ok);
    assert_eq!(r.reason, "Layer7 check passed, info: \"(tcp-check)\"");

    let r = run(
        &net,
        &script(TcpExpect::rstring("role:slave").unwrap().min_recv(5)),
        "redis",
    )
    .await;
    assert_eq!(r.status, CheckStatus::L7Rsp);
    assert_eq!(r.info, "TCPCHK did not match content (regex) at step 3");

    let r = run(
        &net,
        &script(
            TcpExpect::rstring("^\\$[0-9]+")
                .unwrap()
                .negate()
                .min_recv(5),
        ),
        "redis",
    )
    .await;
    assert_eq!(r.info, "TCPCHK matched unwanted content (regex) at step 3");
    let r = run(
        &net,
        &script(TcpExpect::rstring("^-ERR").unwrap().negate().min_recv(5)),
        "redis",
    )
    .await;
    assert_eq!(r.status, CheckStatus::L7Ok);

    // Without min-recv a mismatch waits for more: the timeout names the rule.
    let r = run(&net, &script(TcpExpect::rstring("never").unwrap()), "redis").await;
    assert_eq!(r.status, CheckStatus::L7Tout);
    assert_eq!(
        r.reason,
        "Layer7 timeout, info: \"at step 3 of tcp-check (expect rstring 'never')\""
    );
}

#[tokio::test(start_paused = true)]
async fn h2_checks() {
    let net = MemNetwork::new();
    let (_ok, log) = h2_server(&net, "ok", 200, "all good", Duration::ZERO);
    let (_err, _) = h2_server(&net, "err", 500, "", Duration::ZERO);
    let h2 = |h: HttpCheck| Check::http(h).proto(CheckProto::H2);

    // Default check: pass on 2xx; the request carries the `http-check send` settings.
    let check = h2(HttpCheck::new()
        .method("POST")
        .uri("/health?deep=1")
        .version("HTTP/1.1")
        .header("Host", "app.example")
        .header("X-Check", "lb")
        .body("{}"));
    assert!(check.validate().is_ok());
    let r = run(&net, &check, "ok").await;
    assert_eq!(r.status, CheckStatus::L7Ok);
    assert_eq!(r.reason, "Layer7 check passed, code: 200, info: \"OK\"");
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri, "http://app.example/health?deep=1");
    assert!(seen.headers.contains(&("x-check".into(), "lb".into())));
    assert!(seen
        .headers
        .contains(&("content-length".into(), "2".into())));
    assert_eq!(seen.body, b"{}");

    // 500: the same reason as over HTTP/1 (the standard phrase: h2 has none).
    let r = run(&net, &h2(HttpCheck::new()), "err").await;
    assert_eq!(r.status, CheckStatus::L7Sts);
    assert_eq!(
        r.reason,
        "Layer7 wrong status, code: 500, info: \"Internal Server Error\""
    );

    // The same expect rules.
    let expect = |e: HttpExpect| h2(HttpCheck::new().expect(e));
    assert_eq!(
        run(&net, &expect(HttpExpect::rstring("good$").unwrap()), "ok")
            .await
            .status,
        CheckStatus::L7Ok
    );
    let r = run(&net, &expect(HttpExpect::string("bad")), "ok").await;
    assert_eq!(
        r.reason,
        "Layer7 invalid response, info: \"HTTP content check did not match\""
    );
    assert_eq!(
        run(&net, &expect(HttpExpect::status("500").unwrap()), "err")
            .await
            .status,
        CheckStatus::L7Ok
    );
    assert_eq!(
        run(
            &net,
            &expect(HttpExpect::rstatus("^5").unwrap().negate()),
            "err"
        )
        .await
        .status,
        CheckStatus::L7Sts
    );
    let ctx = CheckContext::default();
    let (_nf, _) = h2_server(&net, "gone", 404, "", Duration::ZERO);
    let r = run_ctx(
        &net,
        &h2(HttpCheck::new().disable_on_404(true)),
        "gone",
        ctx,
    )
    .await;
    assert_eq!(r.status, CheckStatus::L7OkC);
}

#[tokio::test(start_paused = true)]
async fn h2_check_timeouts_and_failures() {
    let net = MemNetwork::new();
    let h2 = || Check::http(HttpCheck::new()).proto(CheckProto::H2);

    // A slow answer: the whole check gets `inter`, L7TOUT as over HTTP/1.
    let (_slow, _) = h2_server(&net, "slow", 200, "", Duration::from_secs(60));
    let t0 = Instant::now();
    let r = run(&net, &h2(), "slow").await;
    assert_eq!(r.status, CheckStatus::L7Tout);
    assert_eq!(r.reason, "Layer7 timeout");
    assert_eq!(t0.elapsed(), INTER);
    // With `timeout check`, the answer gets it from the connect on.
    let t0 = Instant::now();
    let r = run(&net, &h2().timeout(Duration::from_secs(5)), "slow").await;
    assert_eq!(r.status, CheckStatus::L7Tout);
    assert_eq!(t0.elapsed(), Duration::from_secs(5));

    // Nobody listening: L4CON as any check.
    let r = run(&net, &h2(), "nobody").await;
    assert_eq!(
        r.reason,
        "Layer4 connection problem, info: \"Connection refused\""
    );

    // An HTTP/1 server does not understand the preface: an invalid response.
    let (_h1, _) = http_server(
        &net,
        "h1",
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    );
    let r = run(&net, &h2(), "h1").await;
    assert_eq!(r.status, CheckStatus::L7Rsp);
    assert_eq!(
        r.info,
        "Invalid HTTP/2 response: connection error detected: frame with invalid size"
    );

    // A server that closes at once: the socket's error.
    let _closer = crate::support::serve(&net, "closer", |s| async move { drop(s) });
    let r = run(&net, &h2(), "closer").await;
    assert_eq!(r.status, CheckStatus::L4Con);
    assert_eq!(r.info, "Broken pipe");
}

#[test]
fn h2_only_for_http_checks() {
    assert!(matches!(
        Check::tcp().proto(CheckProto::H2).validate(),
        Err(ConfigError::InvalidValue {
            keyword: "check-proto",
            ..
        })
    ));
    assert!(Check::redis().proto(CheckProto::H1).validate().is_ok());
    assert!(Check::http(HttpCheck::new().header("X-Bad", "\u{1}"))
        .proto(CheckProto::H2)
        .validate()
        .is_err());
}

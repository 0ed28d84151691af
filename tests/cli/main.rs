//! The runtime API over real `stats socket`s: a [`Runtime`] started from a configuration
//! with loopback origins, clients on tokio's `UnixStream`.

#[path = "../support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lb::config::Config;
use lb::runtime::Runtime;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("lb-cli-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A proxy on `port` over `servers`, with an admin and an operator socket in `dir`.
fn config(dir: &TempDir, port: u16, servers: &[SocketAddr]) -> Config {
    let mut text = format!(
        "global
    stats socket {admin} level admin mode 600
    stats socket {oper} level operator

defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:{port}
    default_backend app

backend app
    balance roundrobin
",
        admin = dir.path("admin.sock").display(),
        oper = dir.path("oper.sock").display(),
    );
    for (i, a) in servers.iter().enumerate() {
        text.push_str(&format!("    server web{} {a}\n", i + 1));
    }
    Config::parse_str("cli.cfg", &text, &|_| None).expect("valid configuration")
}

struct Setup {
    dir: TempDir,
    runtime: Runtime,
    port: u16,
    origins: Vec<Origin>,
}

async fn setup(tag: &str, servers: usize) -> Setup {
    trace_init();
    let dir = TempDir::new(tag);
    let mut origins = Vec::new();
    for i in 1..=servers {
        origins.push(origin(&format!("web{i}")).await);
    }
    let addrs: Vec<SocketAddr> = origins.iter().map(|o| o.addr).collect();
    let port = free_port();
    let runtime = Runtime::start(config(&dir, port, &addrs), None)
        .await
        .expect("runtime starts");
    Setup {
        dir,
        runtime,
        port,
        origins,
    }
}

/// Sends one line on a new connection and reads the answer until the server closes.
async fn cli(socket: &Path, line: &str) -> String {
    let mut s = UnixStream::connect(socket).await.expect("socket accepts");
    s.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .expect("an answer")
        .unwrap();
    out
}

/// Sends `n` requests, one connection each, and returns which origin answered each.
async fn requests(port: u16, n: usize) -> Vec<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut seen = Vec::new();
    for _ in 0..n {
        let mut req = get("/");
        req.headers_mut()
            .insert("host", "example.com".parse().unwrap());
        let resp = h1(addr).await.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        seen.push(resp.headers()["x-origin"].to_str().unwrap().to_owned());
        body_string(resp).await;
    }
    seen
}

fn count(seen: &[String], name: &str) -> usize {
    seen.iter().filter(|s| *s == name).count()
}

/// The fields of `server`'s line in a `show servers state` answer.
fn state_line(out: &str, server: &str) -> Option<Vec<String>> {
    out.lines()
        .map(|l| l.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .find(|f| f.len() == 25 && f[3] == server)
}

#[tokio::test]
async fn show_info_and_stat() {
    let s = setup("info", 2).await;
    let admin = s.dir.path("admin.sock");
    let mode = std::fs::metadata(&admin).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");

    let info = cli(&admin, "show info").await;
    assert!(info.starts_with("Name: lb\n"), "{info}");
    assert!(info.contains(&format!("Pid: {}\n", std::process::id())));
    assert!(info.contains("\nUptime_sec: "));
    assert!(info.ends_with("\n\n"));

    let stat = cli(&admin, "show stat").await;
    assert!(
        stat.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,"),
        "{stat}"
    );
    for row in ["fe,FRONTEND,", "app,web1,", "app,web2,", "app,BACKEND,"] {
        assert!(
            stat.lines().any(|l| l.starts_with(row)),
            "{row} missing from\n{stat}"
        );
    }
    // Reading is allowed on the operator socket too.
    let oper = s.dir.path("oper.sock");
    assert!(cli(&oper, "show stat").await.starts_with("# pxname,"));
    s.runtime.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn maint_shows_in_servers_state_and_traffic_avoids_the_server() {
    let s = setup("maint", 2).await;
    let admin = s.dir.path("admin.sock");
    let seen = requests(s.port, 4).await;
    assert_eq!(
        (count(&seen, "web1"), count(&seen, "web2")),
        (2, 2),
        "{seen:?}"
    );

    assert_eq!(cli(&admin, "set server app/web1 state maint").await, "\n");
    let state = cli(&admin, "show servers state app").await;
    assert!(
        state.starts_with("1\n# be_id be_name srv_id srv_name srv_addr "),
        "{state}"
    );
    let web1 = state_line(&state, "web1").expect("web1 listed");
    assert_eq!(&web1[4..7], ["127.0.0.1", "2", "1"], "{web1:?}");
    let web2 = state_line(&state, "web2").expect("web2 listed");
    assert_eq!(web2[6], "0");
    assert!(cli(&admin, "show stat")
        .await
        .lines()
        .any(|l| l.starts_with("app,web1,") && l.contains(",MAINT,")));

    let seen = requests(s.port, 6).await;
    assert_eq!(count(&seen, "web2"), 6, "{seen:?}");
    assert_eq!(s.origins[0].requests(), 2);

    assert_eq!(cli(&admin, "set server app/web1 state ready").await, "\n");
    let seen = requests(s.port, 4).await;
    assert_eq!(count(&seen, "web1"), 2, "{seen:?}");
    s.runtime.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn set_weight_drains_and_restores() {
    let s = setup("weight", 2).await;
    let admin = s.dir.path("admin.sock");
    assert_eq!(cli(&admin, "set weight app/web1 0").await, "\n");
    assert_eq!(
        cli(&admin, "get weight app/web1").await,
        "0 (initial 1)\n\n"
    );
    let state = cli(&admin, "show servers state").await;
    assert_eq!(&state_line(&state, "web1").unwrap()[7..9], ["0", "1"]);
    let seen = requests(s.port, 4).await;
    assert_eq!(count(&seen, "web2"), 4, "{seen:?}");

    assert_eq!(cli(&admin, "set server app/web1 weight 100%").await, "\n");
    assert_eq!(
        cli(&admin, "get weight app/web1").await,
        "1 (initial 1)\n\n"
    );
    let seen = requests(s.port, 4).await;
    assert_eq!(count(&seen, "web1"), 2, "{seen:?}");
    assert_eq!(
        cli(&admin, "set weight app/web1 300").await,
        "Absolute weight can only be between 0 and 256 inclusive.\n\n"
    );
    s.runtime.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn add_server_then_del_server() {
    let s = setup("add", 2).await;
    let admin = s.dir.path("admin.sock");
    let web3 = origin("web3").await;
    assert_eq!(
        cli(&admin, &format!("add server app/web3 {}", web3.addr)).await,
        "New server registered.\n\n"
    );
    let state = cli(&admin, "show servers state app").await;
    let line = state_line(&state, "web3").expect("web3 listed");
    // Added in maintenance, as in HAProxy.
    assert_eq!(line[6], "1");
    assert_eq!(count(&requests(s.port, 2).await, "web3"), 0);

    assert_eq!(cli(&admin, "enable server app/web3").await, "\n");
    let seen = requests(s.port, 6).await;
    assert_eq!(count(&seen, "web3"), 2, "{seen:?}");
    assert!(cli(&admin, "show stat").await.contains("\napp,web3,"));

    assert_eq!(
        cli(&admin, "del server app/web3").await,
        "Only servers in maintenance mode can be deleted.\n\n"
    );
    assert_eq!(cli(&admin, "disable server app/web3").await, "\n");
    assert_eq!(
        cli(&admin, "del server app/web3").await,
        "Server deleted.\n\n"
    );
    assert!(state_line(&cli(&admin, "show servers state").await, "web3").is_none());
    assert!(!cli(&admin, "show stat").await.contains("\napp,web3,"));
    let seen = requests(s.port, 4).await;
    assert_eq!(count(&seen, "web3"), 0, "{seen:?}");
    assert_eq!(
        cli(&admin, "del server app/web3").await,
        "No such server.\n\n"
    );
    s.runtime.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn bad_commands_and_levels() {
    let s = setup("levels", 2).await;
    let admin = s.dir.path("admin.sock");
    let oper = s.dir.path("oper.sock");
    let out = cli(&admin, "frobnicate").await;
    assert!(
        out.starts_with(
            "Unknown command: 'frobnicate'. Please enter one of the following commands only:\n"
        ),
        "{out}"
    );
    assert!(out.contains("  show servers state [<backend>]"));
    assert_eq!(
        cli(&admin, "set server app/nope state maint").await,
        "No such server.\n\n"
    );
    assert_eq!(
        cli(&admin, "set server nope/web1 state maint").await,
        "No such backend.\n\n"
    );
    assert_eq!(
        cli(&admin, "set server web1 state maint").await,
        "Require 'backend/server'.\n\n"
    );

    // An operator socket reads but does not change servers.
    assert_eq!(
        cli(&oper, "set server app/web1 state maint").await,
        "Permission denied\n\n"
    );
    assert_eq!(
        cli(&oper, "add server app/x 127.0.0.1:1").await,
        "Permission denied\n\n"
    );
    let state = cli(&oper, "show servers state").await;
    assert_eq!(state_line(&state, "web1").unwrap()[6], "0");
    assert!(cli(&oper, "show sess").await.contains("\napp web1 0\n"));
    assert!(!cli(&oper, "help").await.contains("set server"));
    s.runtime.stop(Duration::from_secs(1)).await;
}

/// Reads until the answer ends with the prompt.
async fn until_prompt(s: &mut UnixStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(b"> ") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("a prompt")
            .unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn interactive_session() {
    let s = setup("prompt", 2).await;
    let mut c = UnixStream::connect(s.dir.path("admin.sock")).await.unwrap();
    c.write_all(b"prompt\n").await.unwrap();
    assert_eq!(until_prompt(&mut c).await, "\n> ");
    c.write_all(b"show backend\n").await.unwrap();
    assert_eq!(until_prompt(&mut c).await, "# name\napp\n\n> ");
    c.write_all(b"set weight app/web2 0; get weight app/web2\n")
        .await
        .unwrap();
    assert_eq!(until_prompt(&mut c).await, "\n0 (initial 1)\n\n> ");
    c.write_all(b"quit\n").await.unwrap();
    let mut rest = String::new();
    c.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "");
    s.runtime.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn reload_takes_the_socket_over_and_stop_removes_it() {
    let mut s = setup("reload", 1).await;
    let admin = s.dir.path("admin.sock");
    assert_eq!(cli(&admin, "set weight app/web1 7").await, "\n");
    let addrs = [s.origins[0].addr];
    let next = Runtime::start(config(&s.dir, s.port, &addrs), Some(&mut s.runtime))
        .await
        .expect("reload starts");
    // The new configuration answers on the same path (the weight was carried over).
    assert_eq!(
        cli(&admin, "get weight app/web1").await,
        "7 (initial 1)\n\n"
    );
    assert_eq!(cli(&admin, "set weight app/web1 3").await, "\n");
    assert_eq!(
        next.backend("app")
            .unwrap()
            .server("web1")
            .unwrap()
            .weight()
            .get(),
        3
    );
    // Stopping the old one leaves the new one's socket alone.
    s.runtime.stop(Duration::from_secs(1)).await;
    assert_eq!(
        cli(&admin, "get weight app/web1").await,
        "3 (initial 1)\n\n"
    );
    next.stop(Duration::from_secs(1)).await;
    assert!(!admin.exists(), "the socket file is removed on stop");
    drop(s.dir);
}

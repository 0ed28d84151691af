//! The reference binary itself (`examples/lb.rs`, built by `cargo test`): `-c` on good and
//! broken files, then a real run from a file with a SIGHUP reload and a SIGTERM stop.
//!
//! `cargo test --workspace` builds the examples before running tests; a lone
//! `cargo test --test binary` may not, and then the tests say so and pass outside CI.

#[path = "../support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

fn binary() -> Option<PathBuf> {
    // target/<profile>/deps/binary-<hash> -> target/<profile>/examples/lb
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join("lb");
    if path.exists() {
        Some(path)
    } else {
        assert!(
            std::env::var("CI").is_err(),
            "CI runs `cargo test --workspace`, which builds examples/lb"
        );
        eprintln!("examples/lb not built: binary tests skipped");
        None
    }
}

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs")
}

#[test]
fn check_mode_accepts_the_benchmark_config_and_rejects_broken_ones() {
    let Some(lb) = binary() else { return };
    let ok = Command::new(&lb)
        .args(["-c", "-f"])
        .arg(configs().join("bench.cfg"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Configuration file is valid"));

    let bad = Command::new(&lb)
        .args(["-c", "-f"])
        .arg(configs().join("broken-syntax.cfg"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("broken-syntax.cfg:"), "{err}");
    assert!(err.contains("Fatal errors"), "{err}");
}

fn config(port: u16, servers: &[std::net::SocketAddr]) -> String {
    let servers: String = servers
        .iter()
        .enumerate()
        .map(|(i, a)| format!("    server s{i} {a}\n"))
        .collect();
    format!(
        "global\n    nbthread 1\n    hard-stop-after 2s\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nfrontend web\n    bind 127.0.0.1:{port}\n    default_backend app\nbackend app\n    balance roundrobin\n{servers}"
    )
}

async fn origin_of(port: u16) -> Option<String> {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let io = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .ok()?;
    tokio::spawn(conn);
    let mut req = get("/");
    req.headers_mut().insert("host", "t".parse().unwrap());
    let r = send.send_request(req).await.ok()?;
    let o = r.headers().get("x-origin")?.to_str().ok()?.to_owned();
    body_string(r).await;
    Some(o)
}

#[tokio::test]
async fn runs_a_file_reloads_on_sighup_and_stops_on_sigterm() {
    let Some(lb) = binary() else { return };
    let (a, b) = (origin("a").await, origin("b").await);
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("lb-binary-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lb.cfg");
    std::fs::write(&file, config(port, &[a.addr])).unwrap();
    let mut child = Command::new(&lb)
        .arg("-f")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut up = false;
    for _ in 0..100 {
        if origin_of(port).await.is_some() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "lb serves");
    assert_eq!(origin_of(port).await.as_deref(), Some("a"));

    // Reload with b added: the listener stays, new requests see both servers.
    std::fs::write(&file, config(port, &[a.addr, b.addr])).unwrap();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let mut seen_b = false;
    for _ in 0..100 {
        if origin_of(port).await.as_deref() == Some("b") {
            seen_b = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen_b, "the reloaded configuration serves");

    // A broken file is rejected and the running configuration stays.
    std::fs::write(&file, "frontend broken\n    bind\n").unwrap();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        origin_of(port).await.is_some(),
        "still serving after a broken reload"
    );

    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

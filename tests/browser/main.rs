//! The stats page in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `.ci/run`) loads the page, and a server state change shows up after a reload.
//!
//! Without a Chromium binary the test says so and passes only outside CI: under CI
//! (`CI=true`), a missing browser is a failure, since `.ci/run` installs it.

#[path = "../support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use lb::config::Config;
use lb::core::AdminState;
use lb::runtime::Runtime;
use support::*;
use tokio::net::TcpListener;

fn chromium() -> Option<&'static str> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

/// The DOM after the page loaded, as Chromium serialises it.
fn dump_dom(browser: &str, url: &str) -> String {
    let dir = std::env::temp_dir().join(format!("lb-chromium-{}", std::process::id()));
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--timeout=10000",
        ])
        .arg(format!("--user-data-dir={}", dir.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Status cells (not the legend or the admin menu) that read MAINT.
fn maint_cells(dom: &str) -> usize {
    dom.split("class=\"status\">")
        .skip(1)
        .filter(|rest| {
            rest.split('<')
                .next()
                .is_some_and(|cell| cell.contains("MAINT"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_page_renders_and_shows_state_changes() {
    trace_init();
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").is_err(),
            "CI installs chromium (.ci/run): the browser test must run there"
        );
        eprintln!("chromium not found: browser test skipped outside CI");
        return;
    };
    let (a, b) = (origin("alpha").await, origin("beta").await);
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         backend app\n    balance roundrobin\n    server alpha {}\n    server beta {}\n\
         listen stats\n    bind 127.0.0.1:{port}\n    stats enable\n    stats uri /\n",
        a.addr, b.addr
    );
    let config = Config::parse_str("browser.cfg", &text, &|_| None).unwrap();
    let rt = Runtime::start(config, None).await.unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let b1 = browser.to_owned();
    let u1 = url.clone();
    let dom = tokio::task::spawn_blocking(move || dump_dom(&b1, &u1))
        .await
        .unwrap();
    assert!(
        dom.contains("<table"),
        "rendered tables: {}",
        &dom[..dom.len().min(500)]
    );
    assert!(dom.contains("alpha") && dom.contains("beta"), "server rows");
    assert_eq!(maint_cells(&dom), 0, "no server in maintenance yet");

    rt.backend("app")
        .unwrap()
        .set_admin_state("beta", AdminState::Maint, "browser test")
        .unwrap();
    let dom = tokio::task::spawn_blocking(move || dump_dom(browser, &url))
        .await
        .unwrap();
    assert_eq!(maint_cells(&dom), 1, "the state change shows up");
    rt.stop(Duration::from_secs(1)).await;
}

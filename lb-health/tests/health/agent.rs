//! Agent checks change weight, maxconn and states.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lb_core::{AdminState, Algorithm, EventKind, OpState};
use lb_health::{AgentCheck, CheckConfig, CheckStatus, Checker};
use lb_tcp::mem::MemNetwork;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::support::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// An agent on `mem@<name>` that answers each connection with the current `reply`,
/// recording what it received first.
fn agent(net: &MemNetwork, name: &str) -> (Arc<Mutex<String>>, Arc<Mutex<Vec<String>>>) {
    let reply = Arc::new(Mutex::new(String::new()));
    let got = Arc::new(Mutex::new(Vec::new()));
    let (r, g) = (reply.clone(), got.clone());
    serve(net, name, move |mut s| {
        let (r, g) = (r.clone(), g.clone());
        async move {
            let line = r.lock().unwrap().clone();
            if line.starts_with('?') {
                // Wait for agent-send before answering.
                let req = read_until(&mut s, b"\n").await;
                g.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&req).into_owned());
            }
            let _ = s.write_all(line.trim_start_matches('?').as_bytes()).await;
        }
    });
    (reply, got)
}

#[tokio::test(start_paused = true)]
async fn reference_vector_and_recovery() {
    let net = MemNetwork::new();
    let (reply, _) = agent(&net, "web1:9999");
    *reply.lock().unwrap() = "75%,maxconn:30,maint,down\n".into();
    let be = backend_with(
        "web",
        Algorithm::RoundRobin,
        [server("web1").weight(100), server("web2")],
    );
    let mut events = be.subscribe();
    let t0 = Instant::now();
    let checks = Checker::new(net.connector())
        .start(
            &be,
            [(
                "web1",
                CheckConfig::agent_only(AgentCheck::new(9999).inter(secs(2))),
            )],
        )
        .unwrap();
    at(t0, 0.5).await;
    let s = be.server("web1").unwrap();
    assert_eq!(s.weight().get(), 75);
    assert_eq!(s.maxconn(), 30);
    assert_eq!(s.admin_state(), AdminState::Maint);
    assert_eq!(s.op_state(), OpState::Down);
    let st = checks.state("web1").unwrap();
    let last = st.last_agent_check().unwrap();
    assert_eq!(last.status, CheckStatus::L7Sts);
    assert_eq!(
        last.reason,
        "Layer7 wrong status, info: \"via agent : down\""
    );
    assert_eq!(st.check_state(), "MAINT");
    let mut kinds = Vec::new();
    while let Ok(ev) = events.try_recv() {
        kinds.push(ev.kind.clone());
        if matches!(ev.kind, EventKind::Weight { .. }) {
            assert_eq!(&*ev.reason, "agent reply \"75%,maxconn:30,maint,down\"");
        }
        if matches!(ev.kind, EventKind::Op { .. }) {
            assert_eq!(
                &*ev.reason,
                "Layer7 wrong status, info: \"via agent : down\", check duration: 0ms"
            );
        }
    }
    assert_eq!(kinds.len(), 4, "{kinds:?}"); // admin, weight, maxconn, op

    // The agent keeps running in maintenance: only it can say `ready` again.
    *reply.lock().unwrap() = "up ready 100%\r\n".into();
    at(t0, 2.5).await;
    assert_eq!(s.weight().get(), 100);
    assert_eq!(s.admin_state(), AdminState::Ready);
    assert_eq!(s.op_state(), OpState::Up);
    assert_eq!(st.check_state(), "no check");
    assert_eq!(st.chkdown(), 1);
    assert_eq!(st.downtime(Instant::now()), secs(2));
}

#[tokio::test(start_paused = true)]
async fn agent_and_health_check_must_both_agree() {
    let net = MemNetwork::new();
    let _web = net.bind("web1").unwrap();
    let (reply, _) = agent(&net, "web1:9999");
    *reply.lock().unwrap() = "down #disk full\n".into();
    let be = backend("web", &["web1"]);
    let t0 = Instant::now();
    let cfg = CheckConfig::tcp()
        .inter(secs(2))
        .agent(AgentCheck::new(9999).inter(secs(2)));
    let checks = Checker::new(net.connector())
        .start(&be, [("web1", cfg)])
        .unwrap();
    let st = checks.state("web1").unwrap();
    at(t0, 0.5).await;
    assert_eq!(be.server("web1").unwrap().op_state(), OpState::Down);
    assert_eq!(st.check_state(), "DOWN (agent)");
    assert_eq!(
        st.last_agent_check().unwrap().info,
        "via agent : down (disk full)"
    );
    // The health check passes meanwhile, but the agent holds the server down.
    assert_eq!(st.status(), CheckStatus::L4Ok);
    *reply.lock().unwrap() = "up\n".into();
    at(t0, 2.5).await;
    assert_eq!(be.server("web1").unwrap().op_state(), OpState::Up);
    assert_eq!(st.check_state(), "UP");
}

#[tokio::test(start_paused = true)]
async fn unreachable_agent_changes_nothing() {
    let net = MemNetwork::new();
    let be = backend_with("web", Algorithm::RoundRobin, [server("web1").weight(10)]);
    let t0 = Instant::now();
    let checks = Checker::new(net.connector())
        .start(
            &be,
            [("web1", CheckConfig::agent_only(AgentCheck::new(9999)))],
        )
        .unwrap();
    at(t0, 4.5).await;
    let s = be.server("web1").unwrap();
    assert_eq!((s.op_state(), s.weight().get()), (OpState::Up, 10));
    let last = checks.state("web1").unwrap().last_agent_check().unwrap();
    assert_eq!(last.status, CheckStatus::L4Con);
}

#[tokio::test(start_paused = true)]
async fn static_algorithms_accept_only_0_and_100_percent() {
    let net = MemNetwork::new();
    let (reply, got) = agent(&net, "web1:9999");
    *reply.lock().unwrap() = "?50%\n".into();
    let be = backend_with("web", Algorithm::StaticRr, [server("web1").weight(10)]);
    let t0 = Instant::now();
    let agent_cfg = AgentCheck::new(9999).send("status\n").inter(secs(2));
    let checks = Checker::new(net.connector())
        .start(&be, [("web1", CheckConfig::agent_only(agent_cfg))])
        .unwrap();
    at(t0, 0.5).await;
    let s = be.server("web1").unwrap();
    assert_eq!(s.weight().get(), 10);
    let st = checks.state("web1").unwrap();
    let info = st.last_agent_check().unwrap().info.clone();
    assert!(
        info.starts_with("agent warns : backend 'web' uses a static algorithm"),
        "{info}"
    );
    assert_eq!(got.lock().unwrap()[0], "status\n");
    *reply.lock().unwrap() = "?0%\n".into();
    at(t0, 2.5).await;
    assert_eq!(s.weight().get(), 0);
    assert_eq!(st.check_state(), "DRAIN");
    *reply.lock().unwrap() = "?weight:100%\n".into();
    at(t0, 4.5).await;
    assert_eq!(s.weight().get(), 10);
}

//! Scheduling: rise/fall counting, inter/fastinter/downinter timing, spread, maintenance,
//! flapping, send-state, disable-on-404, handles.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lb_core::{AdminState, OpState};
use lb_health::{Check, CheckConfig, CheckStatus, Checker, HttpCheck, InitState};
use lb_tcp::mem::MemNetwork;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::support::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn attempt_times(c: &ScriptedConnect, t0: Instant) -> Vec<f64> {
    c.log
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| (*t - t0).as_secs_f64())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn rise_fall_and_intervals() {
    let be = backend("web", &["web1"]);
    let mut events = be.subscribe();
    let plan = vec![
        true, true, true, false, false, false, false, true, true, true,
    ];
    let connect = ScriptedConnect::new(plan);
    let cfg = CheckConfig::tcp()
        .inter(secs(10))
        .fastinter(secs(1))
        .downinter(secs(30))
        .rise(2)
        .fall(3);
    let t0 = Instant::now();
    let checks = Checker::new(connect.clone())
        .start(&be, [("web1", cfg)])
        .unwrap();
    let st = checks.state("web1").unwrap();
    assert_eq!(st.check_state(), "UP 1/3"); // start-up: one failure from down
    assert_eq!(st.status(), CheckStatus::Init);

    at(t0, 0.5).await;
    assert_eq!(st.check_state(), "UP");
    at(t0, 30.5).await;
    assert_eq!(st.check_state(), "UP 2/3");
    assert_eq!(be.server("web1").unwrap().op_state(), OpState::GoingDown);
    at(t0, 31.5).await;
    assert_eq!(st.check_state(), "UP 1/3");
    at(t0, 32.5).await;
    assert_eq!(st.check_state(), "DOWN");
    assert_eq!(be.server("web1").unwrap().op_state(), OpState::Down);
    at(t0, 92.5).await;
    assert_eq!(st.check_state(), "DOWN 1/2");
    at(t0, 93.5).await;
    assert_eq!(st.check_state(), "UP");
    at(t0, 103.5).await;

    // inter while up, fastinter while transitioning, downinter while fully down.
    assert_eq!(
        attempt_times(&connect, t0),
        [0.0, 10.0, 20.0, 30.0, 31.0, 32.0, 62.0, 92.0, 93.0, 103.0]
    );
    let ev = op_events(&mut events);
    let transitions: Vec<_> = ev.iter().map(|(f, t, _)| (*f, *t)).collect();
    assert_eq!(
        transitions,
        [
            (OpState::Up, OpState::GoingDown),
            (OpState::GoingDown, OpState::Down),
            (OpState::Down, OpState::GoingUp),
            (OpState::GoingUp, OpState::Up),
        ]
    );
    assert_eq!(
        ev[1].2,
        "Layer4 connection problem, info: \"Connection refused\", check duration: 0ms"
    );
    assert_eq!(ev[3].2, "Layer4 check passed, check duration: 0ms");
    // A failure at 0 is not counted.
    assert_eq!(st.chkfail(), 3);
    assert_eq!(st.chkdown(), 1);
    assert_eq!(st.checks(), 10);
    assert_eq!(st.downtime(Instant::now()), secs(61));
    assert_eq!(
        st.since_last_change(Instant::now()),
        Duration::from_millis(10_500)
    );
}

#[tokio::test(start_paused = true)]
async fn flapping_server_changes_state_at_most_as_rise_fall_allow() {
    for (rise, fall) in [(2, 3), (1, 2), (3, 1)] {
        let be = backend("web", &["web1"]);
        let mut events = be.subscribe();
        let plan: Vec<bool> = (0..200).map(|i| i % 2 == 0).collect();
        let connect = ScriptedConnect::new(plan);
        let cfg = CheckConfig::tcp().inter(secs(1)).rise(rise).fall(fall);
        let t0 = Instant::now();
        let _checks = Checker::new(connect.clone())
            .start(&be, [("web1", cfg)])
            .unwrap();
        at(t0, 199.5).await;
        assert_eq!(connect.attempts(), 200);
        let flips = op_events(&mut events)
            .iter()
            .filter(|(f, t, _)| f.is_up() != t.is_up())
            .count();
        assert!(
            flips <= 2,
            "rise {rise} fall {fall}: {flips} up/down changes"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn init_state_fully_down_needs_rise_passes() {
    let be = backend("web", &["web1"]);
    let connect = ScriptedConnect::new(vec![true]);
    let cfg = CheckConfig::tcp()
        .inter(secs(10))
        .fastinter(secs(1))
        .rise(3)
        .init_state(InitState::FullyDown);
    let t0 = Instant::now();
    let checks = Checker::new(connect.clone())
        .start(&be, [("web1", cfg)])
        .unwrap();
    // Taken down at start, with a reason.
    assert_eq!(be.server("web1").unwrap().op_state(), OpState::Down);
    let st = checks.state("web1").unwrap();
    at(t0, 1.5).await;
    assert_eq!(st.check_state(), "DOWN 2/3");
    at(t0, 2.5).await;
    assert_eq!(st.check_state(), "UP");
    assert_eq!(attempt_times(&connect, t0), [0.0, 1.0, 2.0]);
}

#[tokio::test(start_paused = true)]
async fn maintenance_stops_checks() {
    let be = backend("web", &["web1"]);
    let mut events = be.subscribe();
    let connect = ScriptedConnect::new(vec![false]);
    let cfg = CheckConfig::tcp().inter(secs(2));
    let t0 = Instant::now();
    let checks = Checker::new(connect.clone())
        .start(&be, [("web1", cfg)])
        .unwrap();
    let st = checks.state("web1").unwrap();
    at(t0, 5.0).await;
    assert_eq!(connect.attempts(), 3);
    assert_eq!(st.check_state(), "DOWN");
    be.set_admin_state("web1", AdminState::Maint, "operator")
        .unwrap();
    assert_eq!(st.check_state(), "MAINT");
    at(t0, 20.5).await;
    assert_eq!(connect.attempts(), 3, "no checks in maintenance");
    op_events(&mut events);
    be.set_admin_state("web1", AdminState::Ready, "operator")
        .unwrap();
    at(t0, 22.5).await;
    // Leaving maintenance: up from `rise`, checked at once, down again.
    assert_eq!(attempt_times(&connect, t0)[3], 22.0);
    let ev = op_events(&mut events);
    assert_eq!(ev[0].1, OpState::Up);
    assert_eq!(ev[0].2, "leaving maintenance, checking");
    assert_eq!(ev[1].1, OpState::Down);
}

#[tokio::test(start_paused = true)]
async fn first_checks_are_spread() {
    let names: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let be = backend("farm", &refs);
    let connect = ScriptedConnect::new(vec![true]);
    let t0 = Instant::now();
    let _checks = Checker::new(connect.clone())
        .start(
            &be,
            refs.iter()
                .map(|n| (*n, CheckConfig::tcp().inter(secs(10)))),
        )
        .unwrap();
    at(t0, 9.95).await;
    let mut times = attempt_times(&connect, t0);
    assert_eq!(times.len(), 100);
    times.sort_by(f64::total_cmp);
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= 0.099, "checks {w:?} too close");
    }
}

#[tokio::test(start_paused = true)]
async fn spread_checks_jitter() {
    let be = backend("web", &["web1"]);
    let connect = ScriptedConnect::new(vec![true]);
    let t0 = Instant::now();
    let _checks = Checker::new(connect.clone())
        .spread_checks(10)
        .seed(42)
        .start(&be, [("web1", CheckConfig::tcp().inter(secs(10)))])
        .unwrap();
    at(t0, 300.0).await;
    let times = attempt_times(&connect, t0);
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 20);
    assert!(gaps.iter().all(|g| (8.99..=11.01).contains(g)), "{gaps:?}");
    assert!(
        gaps.iter().any(|g| (g - 10.0).abs() > 0.01),
        "no jitter: {gaps:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn send_state_header() {
    let net = MemNetwork::new();
    let (_s, log) = http_server(&net, "web1", "HTTP/1.1 200 OK\r\n\r\n");
    let be = backend("web", &["web1", "web2"]);
    let check = Check::http(HttpCheck::new().send_state(true));
    let t0 = Instant::now();
    let _checks = Checker::new(net.connector())
        .node("lb1")
        .start(&be, [("web1", CheckConfig::new(check).inter(secs(2)))])
        .unwrap();
    at(t0, 2.5).await;
    let reqs = log.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    let header = |r: &str| {
        r.lines()
            .find_map(|l| l.strip_prefix("X-Haproxy-Server-State: "))
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        header(&reqs[0]),
        "UP 1/3; address=mem@web1; port=; name=web/web1; node=lb1; weight=1/2; scur=0/0; qcur=0"
    );
    assert!(header(&reqs[1]).starts_with("UP; address=mem@web1;"));
}

#[tokio::test(start_paused = true)]
async fn disable_on_404_puts_the_server_in_nolb() {
    let net = MemNetwork::new();
    let gone = Arc::new(AtomicBool::new(true));
    let g = gone.clone();
    let _s = serve(&net, "web1", move |mut s| {
        let g = g.clone();
        async move {
            read_until(&mut s, b"\r\n\r\n").await;
            let resp: &[u8] = if g.load(Ordering::SeqCst) {
                b"HTTP/1.1 404 Not Found\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\n\r\n"
            };
            let _ = s.write_all(resp).await;
        }
    });
    let be = backend("web", &["web1"]);
    let mut events = be.subscribe();
    let check = Check::http(HttpCheck::new().disable_on_404(true));
    let t0 = Instant::now();
    let checks = Checker::new(net.connector())
        .start(&be, [("web1", CheckConfig::new(check))])
        .unwrap();
    let st = checks.state("web1").unwrap();
    at(t0, 0.5).await;
    assert_eq!(be.server("web1").unwrap().op_state(), OpState::Stopping);
    assert_eq!(st.check_state(), "NOLB");
    assert!(be.server("web1").unwrap().accepts_persistent());
    assert!(!be.server("web1").unwrap().is_usable());
    gone.store(false, Ordering::SeqCst);
    at(t0, 2.5).await;
    assert_eq!(be.server("web1").unwrap().op_state(), OpState::Up);
    let ev = op_events(&mut events);
    assert_eq!(
        ev[0].2,
        "Layer7 check conditionally passed, code: 404, info: \"Not Found\", check duration: 0ms"
    );
    assert_eq!(ev[1].1, OpState::Up);
}

#[tokio::test(start_paused = true)]
async fn handle_add_remove_and_drop() {
    let be = backend("web", &["a", "b"]);
    let ca = ScriptedConnect::new(vec![true]);
    let t0 = Instant::now();
    let checks = Checker::new(ca.clone())
        .start(&be, [("a", CheckConfig::tcp())])
        .unwrap();
    assert!(checks.state("b").is_none());
    assert!(checks.add("a", CheckConfig::tcp()).is_err());
    assert!(checks.add("zz", CheckConfig::tcp()).is_err());
    checks.add("b", CheckConfig::tcp()).unwrap();
    assert_eq!(checks.states().len(), 2);
    at(t0, 1.0).await;
    assert_eq!(ca.attempts(), 2);
    assert!(checks.remove("b"));
    assert!(!checks.remove("b"));
    at(t0, 5.0).await;
    assert_eq!(ca.attempts(), 4, "a at 0, 2, 4; b at 0 only");
    // Removing the server from the backend stops its checks too.
    be.set_admin_state("a", AdminState::Maint, "").unwrap();
    be.remove_server("a", "gone").unwrap();
    at(t0, 9.0).await;
    assert_eq!(ca.attempts(), 4);
    drop(checks);

    // Start errors.
    assert!(Checker::new(ca.clone())
        .start(&be, [("b", CheckConfig::tcp()), ("b", CheckConfig::tcp())])
        .is_err());
    assert!(Checker::new(ca.clone())
        .start(&be, [("b", CheckConfig::new(Check::tcp().ssl(true)))])
        .is_err());
    let handle = Checker::new(ca.clone())
        .start(&be, [("b", CheckConfig::tcp())])
        .unwrap();
    at(t0, 9.5).await;
    let n = ca.attempts();
    handle.stop();
    at(t0, 30.0).await;
    assert_eq!(ca.attempts(), n, "stopped");
}

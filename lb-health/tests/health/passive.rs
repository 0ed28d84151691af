//! `observe`: errors in real traffic feed the health counter.

use std::time::Duration;

use lb_core::OpState;
use lb_health::{CheckConfig, CheckStatus, Checker, Layer7Error, Observe, ObserveLayer, OnError};
use tokio::time::Instant;

use crate::support::*;

fn cfg(observe: Observe) -> CheckConfig {
    CheckConfig::tcp()
        .inter(Duration::from_secs(10))
        .fastinter(Duration::from_secs(1))
        .observe(observe)
}

#[tokio::test(start_paused = true)]
async fn layer7_marks_down_after_error_limit() {
    let be = backend("web", &["web1"]);
    let mut events = be.subscribe();
    let connect = ScriptedConnect::new(vec![true]);
    let t0 = Instant::now();
    let observe = Observe::new(ObserveLayer::Layer7)
        .error_limit(3)
        .on_error(OnError::MarkDown);
    let checks = Checker::new(connect.clone())
        .start(&be, [("web1", cfg(observe))])
        .unwrap();
    let obs = checks.observer("web1").unwrap();
    let st = checks.state("web1").unwrap();
    at(t0, 0.5).await;
    assert_eq!(st.check_state(), "UP");

    obs.report_layer7_status(503);
    obs.report_layer7_status(502);
    obs.report_layer7_status(404); // valid: resets
    assert_eq!(obs.consecutive_errors(), 0);
    obs.report_layer7_status(503);
    obs.report_layer7_error(Layer7Error::ReadTimeout);
    assert_eq!(be.server("web1").unwrap().op_state(), OpState::Up);
    obs.report_layer7_status(500);
    // Down at once, with the reason.
    assert_eq!(be.server("web1").unwrap().op_state(), OpState::Down);
    assert_eq!(st.status(), CheckStatus::Hana);
    assert_eq!(st.hanafail(), 1);
    assert_eq!(obs.consecutive_errors(), 0);
    let ev = op_events(&mut events);
    assert_eq!(
        ev[0].2,
        "Health analyze, info: \"Detected 3 consecutive errors, last one was: Wrong http response\""
    );
    // fastinter: checks at 1.5 and 2.5 bring it back (rise 2).
    at(t0, 2.6).await;
    assert_eq!(be.server("web1").unwrap().op_state(), OpState::Up);
    let times: Vec<f64> = connect
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| (*t - t0).as_secs_f64())
        .collect();
    assert_eq!(times, [0.0, 1.5, 2.5]);
}

#[tokio::test(start_paused = true)]
async fn default_fail_check_counts_one_failure() {
    let be = backend("web", &["web1"]);
    let connect = ScriptedConnect::new(vec![true, false]);
    let t0 = Instant::now();
    let checks = Checker::new(connect.clone())
        .start(&be, [("web1", cfg(Observe::new(ObserveLayer::Layer4)))])
        .unwrap();
    let obs = checks.observer("web1").unwrap();
    let st = checks.state("web1").unwrap();
    at(t0, 0.5).await;
    // layer4 mode ignores HTTP statuses.
    for _ in 0..20 {
        obs.report_layer7_status(503);
        obs.report_layer7_error(Layer7Error::InvalidResponse);
    }
    assert_eq!(st.check_state(), "UP");
    for _ in 0..9 {
        obs.report_layer4_error();
    }
    assert_eq!(st.check_state(), "UP");
    obs.report_layer4_error();
    assert_eq!(st.check_state(), "UP 2/3");
    assert_eq!(st.chkfail(), 1);
}

#[tokio::test(start_paused = true)]
async fn sudden_death_leaves_one_failure() {
    let be = backend("web", &["web1"]);
    let connect = ScriptedConnect::new(vec![true, false]);
    let t0 = Instant::now();
    let observe = Observe::new(ObserveLayer::Layer4)
        .error_limit(2)
        .on_error(OnError::SuddenDeath);
    let checks = Checker::new(connect.clone())
        .start(&be, [("web1", cfg(observe).fall(5))])
        .unwrap();
    let obs = checks.observer("web1").unwrap();
    let st = checks.state("web1").unwrap();
    at(t0, 0.5).await;
    assert_eq!(st.check_state(), "UP");
    obs.report_layer4_error();
    obs.report_layer4_error();
    assert_eq!(st.check_state(), "UP 1/5");
    // The next check (fastinter) fails: down.
    at(t0, 1.6).await;
    assert_eq!(st.check_state(), "DOWN");
}

#[tokio::test(start_paused = true)]
async fn fastinter_action_and_reset_by_passing_check() {
    let be = backend("web", &["web1"]);
    let connect = ScriptedConnect::new(vec![true]);
    let t0 = Instant::now();
    let observe = Observe::new(ObserveLayer::Layer4)
        .error_limit(3)
        .on_error(OnError::Fastinter);
    let checks = Checker::new(connect.clone())
        .start(&be, [("web1", cfg(observe))])
        .unwrap();
    let obs = checks.observer("web1").unwrap();
    let st = checks.state("web1").unwrap();
    at(t0, 0.5).await;
    for _ in 0..3 {
        obs.report_layer4_error();
    }
    assert_eq!(st.check_state(), "UP", "fastinter only reschedules");
    at(t0, 1.6).await;
    assert_eq!(connect.attempts(), 2, "checked at fastinter, not at inter");
    obs.report_layer4_error();
    assert_eq!(obs.consecutive_errors(), 1);
    at(t0, 11.6).await;
    assert_eq!(
        obs.consecutive_errors(),
        0,
        "a passing check resets the count"
    );
    obs.report_layer4_error();
    obs.report_success();
    assert_eq!(obs.consecutive_errors(), 0);
    assert!(checks.observer("nope").is_none());
}

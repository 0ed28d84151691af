//! `track`: a server follows another.

use std::time::Duration;

use lb_core::{AdminState, OpState};
use lb_health::{track, CheckConfig, Checker, ConfigError};
use tokio::time::Instant;

use crate::support::*;

async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn follower_copies_state_and_maintenance() {
    let api = backend("api", &["s1"]);
    let web = backend("web", &["s1"]);
    let mut events = web.subscribe();
    let connect = ScriptedConnect::new(vec![true, false, false, false, true, true]);
    let t0 = Instant::now();
    let _checks = Checker::new(connect)
        .start(
            &api,
            [(
                "s1",
                CheckConfig::tcp()
                    .inter(Duration::from_secs(10))
                    .fastinter(Duration::from_secs(1)),
            )],
        )
        .unwrap();
    let _t = track(&web, "s1", &api, "s1").unwrap();
    let follower = web.server("s1").unwrap();

    at(t0, 12.5).await; // failed at 10, 11, 12
    assert_eq!(follower.op_state(), OpState::Down);
    let ev = op_events(&mut events);
    assert_eq!(
        ev.last().unwrap().2,
        "via api/s1: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms"
    );
    at(t0, 22.5).await; // downinter = inter: passes at 22, 23
    assert_eq!(follower.op_state(), OpState::GoingUp);
    at(t0, 23.5).await;
    assert_eq!(follower.op_state(), OpState::Up);

    // Maintenance is inherited, and undone when the tracked server leaves it.
    api.set_admin_state("s1", AdminState::Maint, "operator")
        .unwrap();
    settle().await;
    assert_eq!(follower.admin_state(), AdminState::Maint);
    api.set_admin_state("s1", AdminState::Ready, "operator")
        .unwrap();
    settle().await;
    assert_eq!(follower.admin_state(), AdminState::Ready);

    // ... unless an operator changed the follower meanwhile.
    api.set_admin_state("s1", AdminState::Drain, "operator")
        .unwrap();
    settle().await;
    assert_eq!(follower.admin_state(), AdminState::Drain);
    web.set_admin_state("s1", AdminState::Maint, "operator")
        .unwrap();
    api.set_admin_state("s1", AdminState::Ready, "operator")
        .unwrap();
    settle().await;
    assert_eq!(follower.admin_state(), AdminState::Maint);
}

#[tokio::test(start_paused = true)]
async fn chains_and_initial_state() {
    let a = backend("a", &["s"]);
    let b = backend("b", &["s"]);
    let c = backend("c", &["s"]);
    a.set_op_state("s", OpState::Down, "Layer4 timeout")
        .unwrap();
    let _tb = track(&b, "s", &a, "s").unwrap();
    // Taken over at once.
    assert_eq!(b.server("s").unwrap().op_state(), OpState::Down);
    let _tc = track(&c, "s", &b, "s").unwrap();
    assert_eq!(c.server("s").unwrap().op_state(), OpState::Down);
    let mut events = c.subscribe();
    a.set_op_state("s", OpState::Up, "Layer4 check passed")
        .unwrap();
    settle().await;
    assert_eq!(c.server("s").unwrap().op_state(), OpState::Up);
    let ev = op_events(&mut events);
    assert_eq!(ev[0].2, "via b/s: via a/s: Layer4 check passed");
}

#[tokio::test(start_paused = true)]
async fn track_errors() {
    let a = backend("a", &["s", "t"]);
    assert!(matches!(
        track(&a, "s", &a, "s"),
        Err(ConfigError::TrackSelf { .. })
    ));
    assert!(matches!(
        track(&a, "x", &a, "s"),
        Err(ConfigError::UnknownServer { .. })
    ));
    assert!(track(&a, "t", &a, "s").is_ok());
}

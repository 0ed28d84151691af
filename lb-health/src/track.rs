//! `track [<backend>/]<server>`: a server follows another server's state.
//!
//! The follower copies the operational state of the tracked server (up, going down,
//! down, going up, NOLB) and inherits its maintenance and drain (HAProxy's MAINT(via) and
//! IDRAIN): when the tracked server leaves maintenance, the follower leaves it too,
//! unless an operator changed the follower's administrative state in the meantime.
//! Chains work: a follower's changes are events its own followers see. Every change
//! carries the reason `via <backend>/<server>: <the tracked server's reason>`.
//!
//! The follower is updated from the tracked backend's event stream, so it follows within
//! one task wake-up; after a burst that overflows the stream it resynchronises from the
//! tracked server's current state.
//!
//! # Examples
//! ```
//! use lb_core::{Algorithm, Backend, BalanceConfig, OpState, ServerConfig};
//! use lb_health::track;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = || BalanceConfig::new(Algorithm::RoundRobin);
//! let api = Backend::new("api", cfg(), [ServerConfig::new("s1", "mem@s1".parse()?)])?;
//! let static_be = Backend::new("static", cfg(), [ServerConfig::new("s1", "mem@s1".parse()?)])?;
//! let _t = track(&static_be, "s1", &api, "s1")?;
//!
//! api.set_op_state("s1", OpState::Down, "Layer4 timeout")?;
//! tokio::time::sleep(std::time::Duration::from_millis(1)).await;
//! assert_eq!(static_be.server("s1").unwrap().op_state(), OpState::Down);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use lb_core::{AdminState, Backend, EventKind, OpState};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::error::ConfigError;

/// A running `track`; dropping it stops following.
pub struct TrackHandle {
    task: JoinHandle<()>,
    follower: String,
    leader: String,
}

impl fmt::Debug for TrackHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackHandle")
            .field("follower", &self.follower)
            .field("tracks", &self.leader)
            .field("running", &!self.task.is_finished())
            .finish()
    }
}

impl TrackHandle {
    /// Whether the tracking stopped by itself (the tracked server or backend is gone).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for TrackHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Makes `server` of `follower` track `tracked` of `leader`; the follower takes the
/// tracked server's state at once.
///
/// # Errors
/// An unknown server, a server tracking itself, or no tokio runtime.
pub fn track(
    follower: &Backend,
    server: &str,
    leader: &Backend,
    tracked: &str,
) -> Result<TrackHandle, ConfigError> {
    let rt = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
    for (be, s) in [(follower, server), (leader, tracked)] {
        if be.server(s).is_none() {
            return Err(ConfigError::UnknownServer {
                backend: be.name().into(),
                server: s.to_owned(),
            });
        }
    }
    if follower.name() == leader.name() && server == tracked {
        return Err(ConfigError::TrackSelf {
            backend: follower.name().into(),
            server: server.to_owned(),
        });
    }
    // Subscribe before the first sync so that no change falls in between.
    let rx = leader.subscribe();
    let mut t = Tracker {
        follower: follower.clone(),
        server: server.into(),
        leader: leader.clone(),
        tracked: tracked.into(),
        via: format!("{}/{}", leader.name(), tracked),
        inherited: None,
    };
    t.sync("initial state");
    let handle = TrackHandle {
        follower: format!("{}/{}", follower.name(), server),
        leader: t.via.clone(),
        task: rt.spawn(t.run(rx)),
    };
    Ok(handle)
}

struct Tracker {
    follower: Backend,
    server: Arc<str>,
    leader: Backend,
    tracked: Arc<str>,
    via: String,
    /// The administrative state this tracker put on the follower, if any.
    inherited: Option<AdminState>,
}

impl Tracker {
    fn reason(&self, why: &str) -> String {
        if why.is_empty() {
            format!("via {}", self.via)
        } else {
            format!("via {}: {why}", self.via)
        }
    }

    fn set_op(&self, to: OpState, why: &str) {
        let follower = self.follower.server(&self.server);
        if follower.is_some_and(|s| s.op_state() != to) {
            let _ = self
                .follower
                .set_op_state(&self.server, to, &self.reason(why));
        }
    }

    fn set_admin(&mut self, to: AdminState, why: &str) {
        let Some(f) = self.follower.server(&self.server) else {
            return;
        };
        let current = f.admin_state();
        match to {
            AdminState::Ready => {
                // Undo only what this tracker did.
                if self.inherited.is_some_and(|a| a == current) {
                    let _ = self.follower.set_admin_state(
                        &self.server,
                        AdminState::Ready,
                        &self.reason(why),
                    );
                }
                self.inherited = None;
            }
            _ => {
                let ours = current == AdminState::Ready || self.inherited == Some(current);
                if ours && current != to {
                    let _ = self
                        .follower
                        .set_admin_state(&self.server, to, &self.reason(why));
                    self.inherited = Some(to);
                }
            }
        }
    }

    fn sync(&mut self, why: &str) {
        let Some(l) = self.leader.server(&self.tracked) else {
            return;
        };
        self.set_admin(l.admin_state(), why);
        self.set_op(l.op_state(), why);
    }

    async fn run(mut self, mut rx: tokio::sync::broadcast::Receiver<lb_core::ServerEvent>) {
        // Each pass handles one event; the task lives as long as the tracking.
        loop {
            match rx.recv().await {
                Ok(ev) if *ev.server == *self.tracked => match ev.kind {
                    EventKind::Op { to, .. } => self.set_op(to, &ev.reason),
                    EventKind::Admin { to, .. } => self.set_admin(to, &ev.reason),
                    EventKind::Removed => {
                        self.set_op(OpState::Down, "tracked server removed");
                        return;
                    }
                    _ => {}
                },
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => self.sync("resynchronised"),
                Err(RecvError::Closed) => return,
            }
        }
    }
}

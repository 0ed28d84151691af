//! Health checking for lb: active checks, agent checks, `track` and passive observation,
//! driving the operational state of lb-core servers with HAProxy's rise/fall hysteresis.
//!
//! Every state change goes through [`Backend::set_op_state`](lb_core::Backend) (or the
//! admin/weight/maxconn setters for agents) with HAProxy's reason string, so the
//! backend's event stream ([`Backend::subscribe`](lb_core::Backend::subscribe)) tells an
//! embedder what changed and why: enough to build email alerts or a status page.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use lb_core::{Algorithm, Backend, BalanceConfig, OpState, ServerConfig};
//! use lb_health::{CheckConfig, CheckStatus, Checker};
//! use lb_tcp::mem::MemNetwork;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let net = MemNetwork::new();
//! let _web1 = net.bind("web1")?; // web1 listens, web2 does not
//! let backend = Backend::new(
//!     "web",
//!     BalanceConfig::new(Algorithm::RoundRobin),
//!     [
//!         ServerConfig::new("web1", "mem@web1".parse()?),
//!         ServerConfig::new("web2", "mem@web2".parse()?),
//!     ],
//! )?;
//! let mut events = backend.subscribe();
//!
//! let checks = Checker::new(net.connector())
//!     .start(&backend, [("web1", CheckConfig::tcp()), ("web2", CheckConfig::tcp())])?;
//! tokio::time::sleep(Duration::from_secs(3)).await;
//!
//! assert_eq!(backend.server("web1").unwrap().op_state(), OpState::Up);
//! assert_eq!(backend.server("web2").unwrap().op_state(), OpState::Down);
//! let event = events.recv().await?;
//! assert_eq!(event.server.as_ref(), "web2");
//! assert_eq!(
//!     event.reason.as_ref(),
//!     "Layer4 connection problem, info: \"Connection refused\", check duration: 0ms"
//! );
//! let web2 = checks.state("web2").unwrap();
//! assert_eq!(web2.check_state(), "DOWN");
//! assert_eq!(web2.status(), CheckStatus::L4Con);
//! assert_eq!(web2.chkdown(), 1);
//! # Ok(()) }
//! ```
//!
//! # Organization
//! - [`hysteresis`]: the pure rise/fall counter ([`Hysteresis`], [`InitState`]).
//! - [`check`]: one check run: [`Check`] over a [`CheckConnect`] (TCP, HTTP, tcp-check
//!   scripts, redis, SMTP, MySQL, PostgreSQL, LDAP), giving a [`CheckResult`].
//! - [`agent`]: agent checks and the pure reply parser.
//! - [`scheduler`]: [`Checker`] starts checks per backend with a [`CheckConfig`] per
//!   server; [`HealthHandle`] holds them (intervals, spread, maintenance).
//! - [`state`]: [`HealthState`], the lock-free per-server view for stats and runtime API.
//! - [`track`](mod@track): a server following another ([`track()`]).
//! - [`passive`]: `observe` with [`Observer`] handles for protocol layers.
//! - [`error`] holds [`ConfigError`].
//!
//! Not yet here: `check-ssl`, `check-sni` and TLS hello checks (they come with lb-tls:
//! [`CheckConnect`] is generic over the stream so a TLS connector can wrap a TCP one).
#![doc(test(attr(deny(warnings))))]
#![warn(clippy::await_holding_lock)]

pub mod agent;
pub mod check;
pub mod error;
pub mod hysteresis;
pub mod passive;
pub mod scheduler;
pub mod state;
pub mod track;

pub use agent::{AgentCheck, AgentReply};
pub use check::{
    Check, CheckConnect, CheckContext, CheckKind, CheckProto, CheckResult, CheckStatus,
    ExpectRegex, HttpCheck, HttpExpect, MysqlCheck, PgsqlCheck, ProxyVersion, SmtpCheck, TcpCheck,
    TcpCheckRule, TcpExpect,
};
pub use error::ConfigError;
pub use hysteresis::{Hysteresis, InitState, Outcome};
pub use passive::{Layer7Error, Observe, ObserveLayer, Observer, OnError};
pub use scheduler::{CheckConfig, Checker, HealthHandle};
pub use state::HealthState;
pub use track::{track, TrackHandle};

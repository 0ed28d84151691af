//! Statistics, HAProxy style: counters, the stats page, CSV and Prometheus.
//!
//! The engine counts traffic into lock-free [`ProxyCounters`] (one per frontend and backend)
//! and [`ServerHttpCounters`] (one per server, beside lb-core's own
//! [`ServerStats`](lb_core::ServerStats)); a [`StatsRegistry`] knows them all by name,
//! together with each backend's [`lb_core::Backend`] handle for sessions, queues, weights and
//! states, and an optional [`HealthView`] for health-check facts. A [`StatsSnapshot`] reads
//! it all into HAProxy's rows, which three renderers turn into:
//!
//! - [`csv`]: HAProxy's CSV (`show stat`, the page's `;csv`), column for column;
//! - [`prometheus`]: the text exposition with HAProxy's exporter names
//!   (`haproxy_frontend_current_sessions`...);
//! - [`html`]: the stats page, with the admin forms of `stats admin`.
//!
//! [`StatsService`] serves the page (HTML, `;csv`, basic auth, admin POSTs) and
//! [`PrometheusService`] the metrics, as tower services.
//!
//! # Organization
//! - [`counters`]: [`ProxyCounters`], [`ServerHttpCounters`], [`RateCounter`] (HAProxy's
//!   `freq_ctr`), [`SlidingAverage`] (HAProxy's `swrate`).
//! - [`StatsRegistry`], [`HealthView`], [`HealthInfo`], [`ProxyOptions`].
//! - [`StatsSnapshot`], [`StatRow`]: the model the renderers read.
//! - [`AdminAction`], [`parse_admin_post`]: the page's admin form.
//! - [`service`]: [`StatsService`], [`PrometheusService`], [`StatsConfig`], [`BasicAuth`].
//!
//! # Example
//! ```
//! use lb_core::{Algorithm, Backend, BalanceConfig, ServerConfig};
//! use lb_http::stats::{csv, prometheus, ProxyMode, StatsRegistry};
//!
//! let be = Backend::new(
//!     "app",
//!     BalanceConfig::new(Algorithm::RoundRobin),
//!     [ServerConfig::new("web1", "127.0.0.1:8001".parse()?)],
//! )?;
//! let stats = StatsRegistry::new();
//! let fe = stats.register_frontend("www", ProxyMode::Http);
//! stats.register_backend(&be, ProxyMode::Http);
//!
//! // The engine counts...
//! fe.session_start();
//! fe.request();
//! fe.response(200);
//!
//! // ...and the renderers read.
//! let snap = stats.snapshot();
//! let text = csv::render(&snap);
//! assert!(text.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,"));
//! assert!(text.contains("\nwww,FRONTEND,,,1,1,,1,"));
//! let metrics = prometheus::render(&snap, &prometheus::Scopes::all());
//! assert!(metrics.contains("haproxy_frontend_http_responses_total{proxy=\"www\",code=\"2xx\"} 1\n"));
//! # Ok::<(), lb_core::Error>(())
//! ```

mod admin;
pub mod counters;
pub mod csv;
pub mod html;
pub mod prometheus;
mod registry;
pub mod service;
mod snapshot;

pub use admin::{
    encode_admin_post, parse_admin_post, AdminAction, AdminCommand, AdminParseError, AdminStatus,
};
pub use counters::{
    CountersSnapshot, HttpResponses, ProxyCounters, RateCounter, RequestTimes,
    ServerCountersSnapshot, ServerHttpCounters, SessionGuard, SlidingAverage, TimeStats,
};
pub use registry::{HealthInfo, HealthView, ProxyOptions, StatsRegistry};
pub use service::{BasicAuth, PrometheusService, StatsConfig, StatsService};
pub use snapshot::{ProcessInfo, ProxyMode, RowKind, StatRow, StatsSnapshot};

//! HAProxy's access log: `option httplog`, `option tcplog` and `log-format`.
//!
//! A [`LogRecord`] holds what one line shows (addresses, names, timers, status, bytes,
//! [`TerminationState`], connection counts, queues, request line). [`format_httplog`] and
//! [`format_tcplog`] write HAProxy's default lines; [`LogFormat`] parses a custom
//! `log-format` string once and renders records with it; [`emit`] sends the httplog line to
//! `tracing` at INFO on the `lb::access` target.
//!
//! Dates are written in UTC (`[06/Feb/2009:12:14:14.655]`): HAProxy writes local time,
//! which needs the system time-zone database; run the process with `TZ=UTC` to compare
//! lines byte for byte.
//!
//! # Examples
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use lb_http::log::{format_httplog, LogFormat, LogRecord, TerminationState};
//!
//! // A request that timed out before its headers were complete: HAProxy's 408 line.
//! let mut record = LogRecord::new(
//!     "192.0.2.10:51000".parse()?,
//!     UNIX_EPOCH + Duration::from_secs(1_795_645_108),
//!     "www",
//! );
//! record.t_active = Some(5001);
//! record.status = Some(408);
//! record.bytes_out = 212;
//! record.termination = TerminationState::client_timeout_request();
//! (record.actconn, record.feconn) = (1, 1);
//!
//! let mut line = String::new();
//! format_httplog(&record, &mut line);
//! assert_eq!(
//!     line,
//!     "192.0.2.10:51000 [25/Nov/2026:22:18:28.000] www www/<NOSRV> -1/-1/-1/-1/5001 408 212 \
//!      - - cR-- 1/1/0/0/0 0/0 \"<BADREQ>\""
//! );
//!
//! let custom = LogFormat::parse("%ci %ST %tsc %{+Q}r")?;
//! line.clear();
//! custom.render(&record, &mut line);
//! assert_eq!(line, "192.0.2.10 408 cR-- \"<BADREQ>\"");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod date;
mod format;
mod record;
mod termination;

use std::sync::OnceLock;

pub use format::{LogFormat, LogFormatError, HTTPLOG_FORMAT, TCPLOG_FORMAT};
pub use record::{LogRecord, ServerName};
pub use termination::{
    ClientCookie, ServerCookie, SessionPhase, ShortTerminationState, TerminationCause,
    TerminationState,
};

fn httplog() -> &'static LogFormat {
    static FORMAT: OnceLock<LogFormat> = OnceLock::new();
    FORMAT.get_or_init(LogFormat::httplog)
}

fn tcplog() -> &'static LogFormat {
    static FORMAT: OnceLock<LogFormat> = OnceLock::new();
    FORMAT.get_or_init(LogFormat::tcplog)
}

/// Appends HAProxy's default `option httplog` line for `record` to `out`:
/// `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc
/// %sq/%bq %hr %hs %{+Q}r` ([`HTTPLOG_FORMAT`]). Without captures, the `{...}` blocks are
/// omitted, as in HAProxy.
pub fn format_httplog(record: &LogRecord, out: &mut String) {
    httplog().render(record, out);
}

/// Appends HAProxy's default `option tcplog` line for `record` to `out`:
/// `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`
/// ([`TCPLOG_FORMAT`]).
///
/// # Examples
/// ```
/// use std::time::UNIX_EPOCH;
/// use lb_http::log::{format_tcplog, LogRecord, ServerName};
///
/// let mut record = LogRecord::new("[2001:db8::1]:40000".parse()?, UNIX_EPOCH, "db");
/// record.server = ServerName::from("pg1");
/// (record.t_queue, record.t_connect, record.t_total) = (Some(0), Some(1), Some(2503));
/// record.bytes_out = 4096;
/// let mut line = String::new();
/// format_tcplog(&record, &mut line);
/// assert_eq!(
///     line,
///     "2001:db8::1:40000 [01/Jan/1970:00:00:00.000] db db/pg1 0/1/2503 4096 -- 0/0/0/0/0 0/0"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn format_tcplog(record: &LogRecord, out: &mut String) {
    tcplog().render(record, out);
}

/// Logs `record`'s httplog line with `tracing::info!(target: "lb::access", "{line}")`.
/// Nothing is formatted when that target is disabled.
pub fn emit(record: &LogRecord) {
    httplog().emit(record);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, UNIX_EPOCH};

    fn base() -> LogRecord {
        let mut r = LogRecord::new(
            "127.0.0.1:40000".parse().expect("addr"),
            UNIX_EPOCH + Duration::from_millis(1_795_645_108_123),
            "fe",
        );
        r.backend = "be".into();
        r.actconn = 3;
        r.feconn = 2;
        r.beconn = 1;
        r.request_line = Some("GET / HTTP/1.1".into());
        r
    }

    fn httplog_line(r: &LogRecord) -> String {
        let mut s = String::new();
        format_httplog(r, &mut s);
        s
    }

    #[test]
    fn normal_request() {
        let mut r = base();
        r.server = ServerName::from("s1");
        r.srv_conn = 1;
        r.t_request = Some(0);
        r.t_queue = Some(0);
        r.t_connect = Some(1);
        r.t_response = Some(3);
        r.t_active = Some(4);
        r.status = Some(200);
        r.bytes_out = 1234;
        assert_eq!(
            httplog_line(&r),
            "127.0.0.1:40000 [25/Nov/2026:22:18:28.123] fe be/s1 0/0/1/3/4 200 1234 - - ---- \
             3/2/1/1/0 0/0 \"GET / HTTP/1.1\""
        );
    }

    #[test]
    fn no_server_503() {
        let mut r = base();
        r.t_request = Some(0);
        r.t_active = Some(0);
        r.status = Some(503);
        r.bytes_out = 217;
        r.termination = TerminationState::no_server();
        assert_eq!(
            httplog_line(&r),
            "127.0.0.1:40000 [25/Nov/2026:22:18:28.123] fe be/<NOSRV> 0/-1/-1/-1/0 503 217 - - \
             SC-- 3/2/1/0/0 0/0 \"GET / HTTP/1.1\""
        );
    }

    #[test]
    fn client_timeout_408() {
        let mut r = base();
        r.backend = r.frontend.clone();
        r.request_line = None;
        r.t_handshake = Some(0);
        r.t_idle = Some(2);
        r.t_active = Some(5001);
        r.status = Some(408);
        r.bytes_out = 212;
        r.beconn = 0;
        r.termination = TerminationState::client_timeout_request();
        assert_eq!(
            httplog_line(&r),
            "127.0.0.1:40000 [25/Nov/2026:22:18:28.125] fe fe/<NOSRV> -1/-1/-1/-1/5001 408 212 \
             - - cR-- 3/2/0/0/0 0/0 \"<BADREQ>\""
        );
    }

    #[test]
    fn redispatch() {
        let mut r = base();
        r.server = ServerName::from("s2");
        r.t_request = Some(1);
        r.t_queue = Some(0);
        r.t_connect = Some(3004);
        r.t_response = Some(2);
        r.t_active = Some(3007);
        r.status = Some(200);
        r.bytes_out = 99;
        r.retries = 1;
        r.redispatched = true;
        r.srv_queue = 4;
        r.backend_queue = 7;
        r.request_cookie = Some("s1".into());
        r.response_cookie = Some("s2".into());
        r.termination =
            TerminationState::normal().with_cookies(ClientCookie::Down, ServerCookie::Inserted);
        assert_eq!(
            httplog_line(&r),
            "127.0.0.1:40000 [25/Nov/2026:22:18:28.123] fe be/s2 1/0/3004/2/3007 200 99 s1 s2 \
             --DI 3/2/1/0/+1 4/7 \"GET / HTTP/1.1\""
        );
    }

    #[test]
    fn stats_and_cache_servers() {
        let mut r = base();
        r.server = ServerName::Stats;
        assert!(httplog_line(&r).contains(" be/<STATS> "));
        r.server = ServerName::Cache;
        assert!(httplog_line(&r).contains(" be/<CACHE> "));
        assert_eq!(ServerName::NoServer.to_string(), "<NOSRV>");
    }

    #[test]
    fn tcplog_line() {
        let mut r = base();
        r.server = ServerName::from("s1");
        r.t_queue = Some(0);
        r.t_connect = Some(0);
        r.t_total = Some(5);
        r.bytes_out = 10;
        r.termination = TerminationState::server_abort_data();
        let mut s = String::new();
        format_tcplog(&r, &mut s);
        assert_eq!(
            s,
            "127.0.0.1:40000 [25/Nov/2026:22:18:28.123] fe be/s1 0/0/5 10 SD 3/2/1/0/0 0/0"
        );
    }

    #[test]
    fn appends_to_out() {
        let mut s = String::from(">");
        format_httplog(&base(), &mut s);
        assert!(s.starts_with(">127.0.0.1:40000 "));
    }

    /// A minimal subscriber recording `lb::access` events.
    struct Capture(Arc<Mutex<Vec<(String, String)>>>);

    struct MessageVisitor<'a>(&'a mut String);

    impl tracing::field::Visit for MessageVisitor<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                *self.0 = format!("{value:?}");
            }
        }
    }

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut message = String::new();
            event.record(&mut MessageVisitor(&mut message));
            let target = event.metadata().target().to_owned();
            if let Ok(mut events) = self.0.lock() {
                events.push((target, message));
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn emit_logs_on_access_target() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let record = base();
        tracing::subscriber::with_default(Capture(events.clone()), || emit(&record));
        let events = events.lock().expect("not poisoned");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, "lb::access");
        assert_eq!(events[0].1, httplog_line(&record));
    }
}

//! Sending logs to the `log` targets of the `global` section: [`SyslogLayer`], a
//! [`tracing_subscriber::Layer`] that forwards the access log (target `lb::access`) and
//! the server events (target `lb::events`) as syslog datagrams (UDP or Unix socket) or
//! plain lines (stdout, stderr).
//!
//! ```no_run
//! use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
//! use tracing_subscriber::util::SubscriberInitExt as _;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = lb::config::Config::load(&["haproxy.cfg".into()])?;
//! let syslog = lb::runtime::syslog::SyslogLayer::from_config(&config.global.logs)?;
//! let filter = tracing_subscriber::EnvFilter::try_from_default_env()
//!     .unwrap_or_else(|_| "info".into());
//! tracing_subscriber::registry()
//!     // A per-layer filter: `RUST_LOG` quiets stdout, not the syslog targets.
//!     .with(tracing_subscriber::fmt::layer().with_target(true).with_filter(filter))
//!     .with(syslog) // `Option<Layer>` is a layer too
//!     .init();
//! # Ok(()) }
//! ```
//!
//! Only events at `INFO` or more severe are forwarded. Syslog severities: `ERROR` is
//! `err` (3), `WARN` is `warning` (4), `INFO` is `info` (6) on `lb::access` and `notice`
//! (5) on `lb::events`. Sending never blocks: a datagram that cannot leave at once is
//! dropped and counted ([`SyslogLayer::dropped`]).

use std::fmt::{self, Write as _};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::config::{Facility, LogDestination, LogLevel, LogTarget, SyslogFormat};

/// The access-log target.
pub const ACCESS_TARGET: &str = "lb::access";
/// The server-events target.
pub const EVENTS_TARGET: &str = "lb::events";
/// The longest line when a target has no `len` (HAProxy's default).
pub const DEFAULT_MAX_LEN: usize = 1024;

/// A [`Layer`] sending `lb::access` and `lb::events` events (and optionally every
/// warning and error) to the `log` targets of the configuration. See the
/// [module](self) documentation.
#[derive(Debug)]
pub struct SyslogLayer {
    sinks: Vec<Sink>,
    hostname: String,
    tag: String,
    pid: u32,
    warnings: bool,
    dropped: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Sink {
    kind: SinkKind,
    format: SyslogFormat,
    facility: Facility,
    max_len: usize,
    max_level: Option<LogLevel>,
    min_level: Option<LogLevel>,
}

#[derive(Debug)]
enum SinkKind {
    Stdout,
    Stderr,
    Udp(UdpSocket, SocketAddr),
    Unix(UnixDatagram, PathBuf),
}

impl SyslogLayer {
    /// Opens every target of `logs` (the `global` section's `log` lines). `Ok(None)` when
    /// there is none.
    ///
    /// # Errors
    /// A socket that could not be created; the message names the target.
    pub fn from_config(logs: &[LogTarget]) -> io::Result<Option<SyslogLayer>> {
        let mut sinks = Vec::with_capacity(logs.len());
        for t in logs {
            let kind = open(&t.destination).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "log target {} ({}:{}): {e}",
                        t.destination, t.span.file, t.span.line
                    ),
                )
            })?;
            sinks.push(Sink {
                kind,
                format: t.format,
                facility: t.facility,
                max_len: t.max_len.map_or(DEFAULT_MAX_LEN, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
                max_level: t.max_level,
                min_level: t.min_level,
            });
        }
        if sinks.is_empty() {
            return Ok(None);
        }
        Ok(Some(SyslogLayer {
            sinks,
            hostname: local_hostname(),
            tag: "lb".to_owned(),
            pid: std::process::id(),
            warnings: false,
            dropped: Arc::new(AtomicU64::new(0)),
        }))
    }

    /// Also forwards warnings and errors of every target (default: off).
    #[must_use]
    pub fn with_warnings(mut self, on: bool) -> Self {
        self.warnings = on;
        self
    }

    /// The hostname in syslog headers (default: the system's).
    #[must_use]
    pub fn with_hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = hostname.into();
        self
    }

    /// The tag (RFC 3164) or app-name (RFC 5424) in syslog headers (default: `lb`).
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = tag.into();
        self
    }

    /// The count of lines that could not be sent (socket buffer full, unreachable
    /// destination...), shared: it stays readable once the layer is installed.
    pub fn dropped(&self) -> Arc<AtomicU64> {
        self.dropped.clone()
    }

    /// The syslog severity of an event, or `None` when it is not forwarded.
    fn severity(&self, target: &str, level: Level) -> Option<LogLevel> {
        let ours = target == ACCESS_TARGET || target == EVENTS_TARGET;
        let sev = if level == Level::ERROR {
            LogLevel::Err
        } else if level == Level::WARN {
            LogLevel::Warning
        } else if level == Level::INFO && ours {
            if target == EVENTS_TARGET {
                LogLevel::Notice
            } else {
                LogLevel::Info
            }
        } else {
            return None;
        };
        (ours || self.warnings).then_some(sev)
    }

    fn send(&self, sink: &Sink, line: &[u8]) {
        let ok = match &sink.kind {
            SinkKind::Stdout => write_line(&mut io::stdout().lock(), line),
            SinkKind::Stderr => write_line(&mut io::stderr().lock(), line),
            SinkKind::Udp(s, addr) => s.send_to(line, addr).is_ok(),
            SinkKind::Unix(s, path) => s.send_to(line, path).is_ok(),
        };
        if !ok {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn write_line(w: &mut dyn io::Write, line: &[u8]) -> bool {
    w.write_all(line).is_ok() && w.write_all(b"\n").is_ok() && w.flush().is_ok()
}

fn open(dest: &LogDestination) -> io::Result<SinkKind> {
    Ok(match dest {
        LogDestination::Stdout => SinkKind::Stdout,
        LogDestination::Stderr => SinkKind::Stderr,
        LogDestination::Udp(addr) => {
            let local: SocketAddr = if addr.is_ipv4() {
                (Ipv4Addr::UNSPECIFIED, 0).into()
            } else {
                (Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let s = UdpSocket::bind(local)?;
            s.set_nonblocking(true)?;
            SinkKind::Udp(s, *addr)
        }
        LogDestination::Unix(path) => {
            let s = UnixDatagram::unbound()?;
            s.set_nonblocking(true)?;
            SinkKind::Unix(s, path.clone())
        }
    })
}

/// The system's hostname (`/proc/sys/kernel/hostname`, `/etc/hostname`), or `localhost`.
fn local_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty() && !s.contains(char::is_whitespace))
        .unwrap_or_else(|| "localhost".to_owned())
}

impl<S: Subscriber> Layer<S> for SyslogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let Some(sev) = self.severity(meta.target(), *meta.level()) else {
            return;
        };
        let mut msg = Message::default();
        event.record(&mut msg);
        let text = msg.finish();
        let now = SystemTime::now();
        let mut line = String::with_capacity(text.len() + 64);
        for sink in &self.sinks {
            if sink.max_level.is_some_and(|max| sev > max) {
                continue;
            }
            // HAProxy's `minlevel`: more severe messages are capped to it.
            let sev = sink.min_level.map_or(sev, |min| sev.max(min));
            line.clear();
            format_line(
                &mut line,
                sink.format,
                pri(sink.facility, sev),
                now,
                &self.hostname,
                &self.tag,
                self.pid,
                &text,
            );
            self.send(sink, truncate(&line, sink.max_len).as_bytes());
        }
    }
}

/// The syslog priority: `facility * 8 + severity`.
pub fn pri(facility: Facility, severity: LogLevel) -> u8 {
    facility.code() * 8 + severity as u8
}

/// Formats one line (without a trailing newline) in `format`.
#[allow(clippy::too_many_arguments)]
fn format_line(
    out: &mut String,
    format: SyslogFormat,
    pri: u8,
    time: SystemTime,
    hostname: &str,
    tag: &str,
    pid: u32,
    msg: &str,
) {
    let t = Utc::from(time);
    // Writing to a String cannot fail.
    let _ = match format {
        SyslogFormat::Rfc3164 => {
            write!(out, "<{pri}>{} {hostname} {tag}[{pid}]: {msg}", t.rfc3164())
        }
        SyslogFormat::Rfc5424 => {
            write!(out, "<{pri}>1 {} {hostname} {tag} {pid} - - {msg}", t.iso())
        }
        SyslogFormat::Short | SyslogFormat::Priority => write!(out, "<{pri}>{msg}"),
        SyslogFormat::Raw => write!(out, "{msg}"),
        SyslogFormat::Iso => write!(out, "{} {msg}", t.iso()),
        SyslogFormat::Timed => write!(out, "<{pri}>{} {msg}", t.iso()),
        SyslogFormat::Local => write!(out, "<{pri}>{} {msg}", t.rfc3164()),
    };
}

/// `line` cut to at most `max` bytes, on a character boundary.
fn truncate(line: &str, max: usize) -> &str {
    if line.len() <= max {
        return line;
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// Collects an event's `message` and its other fields as ` key=value`.
#[derive(Default)]
struct Message {
    message: String,
    fields: String,
}

impl Message {
    fn finish(mut self) -> String {
        self.message.push_str(&self.fields);
        // One event, one line.
        if self.message.contains(['\n', '\r']) {
            self.message = self.message.replace(['\n', '\r'], " ");
        }
        self.message
    }
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// A UTC date, computed by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    micros: u32,
}

impl From<SystemTime> for Utc {
    fn from(t: SystemTime) -> Utc {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs();
        let days = i64::try_from(secs / 86_400).unwrap_or(0);
        let rem = u32::try_from(secs % 86_400).unwrap_or(0);
        let (year, month, day) = civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: rem / 3600,
            min: rem / 60 % 60,
            sec: rem % 60,
            micros: d.subsec_micros(),
        }
    }
}

impl Utc {
    /// `2026-11-25T22:18:28.123456Z`.
    fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            self.year, self.month, self.day, self.hour, self.min, self.sec, self.micros
        )
    }

    /// `Nov 25 22:18:28` (the day padded with a space).
    fn rfc3164(&self) -> String {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let m = MONTHS[(self.month as usize).clamp(1, 12) - 1];
        format!(
            "{m} {:2} {:02}:{:02}:{:02}",
            self.day, self.hour, self.min, self.sec
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // 1..=12 and 1..=31: the casts cannot truncate.
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_417), (2025, 11, 25));
        let t = UNIX_EPOCH + Duration::from_micros(1_795_731_508_123_456);
        let u = Utc::from(t);
        assert_eq!(u.iso(), "2026-11-26T22:18:28.123456Z");
        assert_eq!(u.rfc3164(), "Nov 26 22:18:28");
        let t = UNIX_EPOCH + Duration::from_secs(1_767_600_000);
        assert_eq!(Utc::from(t).rfc3164(), "Jan  5 08:00:00");
    }

    #[test]
    fn formats() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_731_508_123_456);
        let line = |f| {
            let mut s = String::new();
            format_line(&mut s, f, 134, t, "host", "lb", 42, "hello");
            s
        };
        assert_eq!(
            line(SyslogFormat::Rfc5424),
            "<134>1 2026-11-26T22:18:28.123456Z host lb 42 - - hello"
        );
        assert_eq!(
            line(SyslogFormat::Rfc3164),
            "<134>Nov 26 22:18:28 host lb[42]: hello"
        );
        assert_eq!(line(SyslogFormat::Raw), "hello");
        assert_eq!(line(SyslogFormat::Short), "<134>hello");
        assert_eq!(
            line(SyslogFormat::Timed),
            "<134>2026-11-26T22:18:28.123456Z hello"
        );
    }

    #[test]
    fn priorities() {
        assert_eq!(pri(Facility::Local0, LogLevel::Info), 134);
        assert_eq!(pri(Facility::Kern, LogLevel::Emerg), 0);
        assert_eq!(pri(Facility::Local7, LogLevel::Debug), 191);
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}

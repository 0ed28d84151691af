//! [`BindSpec`]: what a frontend listens on (addresses, port ranges) and how
//! ([`BindOptions`]), parsed from HAProxy's `bind` syntax.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use lb_core::Address;

use super::error::{BindError, BindSpecError};
use super::{Listener, TcpListener};
use crate::net::Keepalive;

/// The default listen backlog when none is configured.
pub const DEFAULT_BACKLOG: u32 = 1024;

/// An inclusive range of TCP ports (`8000-8010`), or one port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// One port (0 asks the system for any free port).
    pub const fn single(port: u16) -> Self {
        Self {
            first: port,
            last: port,
        }
    }

    /// Ports `first..=last`, or `None` when `first > last` or a multi-port range includes 0.
    pub const fn new(first: u16, last: u16) -> Option<Self> {
        if first > last || (first == 0 && last != 0) {
            None
        } else {
            Some(Self { first, last })
        }
    }

    /// The first port.
    pub const fn first(&self) -> u16 {
        self.first
    }

    /// The last port.
    pub const fn last(&self) -> u16 {
        self.last
    }

    /// How many ports the range holds.
    pub const fn len(&self) -> usize {
        (self.last - self.first) as usize + 1
    }

    /// Always false: a range holds at least one port.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The ports, in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> {
        self.first..=self.last
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// One address of a [`BindSpec`]; an IP address carries a port range.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BindAddr {
    /// An IP address (`0.0.0.0`/`::` for all) with its ports.
    Inet {
        /// The address.
        ip: IpAddr,
        /// The ports, one listener each.
        ports: PortRange,
    },
    /// A Unix socket path.
    Unix(PathBuf),
    /// A name on the in-memory network.
    Mem(Arc<str>),
}

impl BindAddr {
    /// The addresses to listen on, one per port.
    pub fn addresses(&self) -> impl Iterator<Item = Address> + '_ {
        let (inet, other) = match self {
            BindAddr::Inet { ip, ports } => (Some((*ip, *ports)), None),
            BindAddr::Unix(p) => (None, Some(Address::Unix(p.clone()))),
            BindAddr::Mem(n) => (None, Some(Address::Mem(n.clone()))),
        };
        inet.into_iter()
            .flat_map(|(ip, ports)| {
                ports
                    .iter()
                    .map(move |p| Address::Inet(SocketAddr::new(ip, p)))
            })
            .chain(other)
    }
}

impl fmt::Display for BindAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindAddr::Inet {
                ip: IpAddr::V4(ip),
                ports,
            } => write!(f, "{ip}:{ports}"),
            BindAddr::Inet {
                ip: IpAddr::V6(ip),
                ports,
            } => write!(f, "[{ip}]:{ports}"),
            BindAddr::Unix(p) => write!(f, "unix@{}", p.display()),
            BindAddr::Mem(n) => write!(f, "mem@{n}"),
        }
    }
}

/// How to listen: HAProxy's `bind` options. Fields are public to read and assign; the
/// by-value setters chain.
///
/// # Examples
/// ```
/// use lb_tcp::listen::BindOptions;
/// let o = BindOptions::default().backlog(512).reuseport(true);
/// assert_eq!(o.effective_backlog(), 512);
/// assert!(o.nodelay);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BindOptions {
    /// Listen queue length. Default is `None`: [`DEFAULT_BACKLOG`] (HAProxy uses the
    /// frontend's maxconn: see [`default_backlog`](Self::default_backlog)).
    pub backlog: Option<u32>,
    /// `SO_REUSEPORT`: several sockets (processes, threads, reloads) share a port. Default
    /// is off.
    pub reuseport: bool,
    /// `TCP_NODELAY` on accepted connections. Default is on.
    pub nodelay: bool,
    /// TCP keepalive on accepted connections (HAProxy `option clitcpka`). Default is off.
    pub keepalive: Option<Keepalive>,
    /// `IP_TRANSPARENT`: accept connections to addresses this host does not own (TPROXY;
    /// Linux, `CAP_NET_ADMIN`). Default is off.
    pub transparent: bool,
    /// `IP_FREEBIND`: bind an address not (yet) configured on the host (Linux). Default is
    /// off.
    pub freebind: bool,
    /// `IPV6_V6ONLY` for IPv6 addresses: `Some(true)` is HAProxy `v6only`, `Some(false)`
    /// `v4v6`. Default is `None`, the system's setting.
    pub v6only: Option<bool>,
    /// Permissions of Unix socket files (`mode 660`, octal). Default is the umask's.
    pub mode: Option<u32>,
    /// Owner of Unix socket files. Default is the process's.
    pub uid: Option<u32>,
    /// Group of Unix socket files. Default is the process's.
    pub gid: Option<u32>,
    /// Network namespace (HAProxy `namespace`). Binding fails with `Unsupported`: entering
    /// a namespace needs `setns(2)` on the binding thread, which this crate does not do; run
    /// the process in the namespace (`ip netns exec`) instead.
    pub namespace: Option<String>,
}

impl Default for BindOptions {
    fn default() -> Self {
        Self {
            backlog: None,
            reuseport: false,
            nodelay: true,
            keepalive: None,
            transparent: false,
            freebind: false,
            v6only: None,
            mode: None,
            uid: None,
            gid: None,
            namespace: None,
        }
    }
}

impl BindOptions {
    /// Sets the listen queue length.
    pub fn backlog(mut self, n: u32) -> Self {
        self.backlog = Some(n);
        self
    }

    /// Sets the backlog if none was given: HAProxy's default is the frontend's maxconn.
    pub fn default_backlog(mut self, n: u32) -> Self {
        self.backlog.get_or_insert(n);
        self
    }

    /// The backlog to use: the configured one, else [`DEFAULT_BACKLOG`].
    pub fn effective_backlog(&self) -> u32 {
        self.backlog.unwrap_or(DEFAULT_BACKLOG)
    }

    /// Sets `SO_REUSEPORT`.
    pub fn reuseport(mut self, on: bool) -> Self {
        self.reuseport = on;
        self
    }

    /// Sets `TCP_NODELAY` on accepted connections.
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// Turns TCP keepalive on for accepted connections.
    pub fn keepalive(mut self, keepalive: Keepalive) -> Self {
        self.keepalive = Some(keepalive);
        self
    }

    /// Sets `IP_TRANSPARENT`.
    pub fn transparent(mut self, on: bool) -> Self {
        self.transparent = on;
        self
    }

    /// Sets `IP_FREEBIND`.
    pub fn freebind(mut self, on: bool) -> Self {
        self.freebind = on;
        self
    }

    /// Sets `IPV6_V6ONLY` for IPv6 addresses.
    pub fn v6only(mut self, on: bool) -> Self {
        self.v6only = Some(on);
        self
    }

    /// Sets Unix socket file permissions.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Sets the Unix socket file owner and group (`None` keeps one).
    pub fn owner(mut self, uid: Option<u32>, gid: Option<u32>) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// Sets the network namespace (see the field's doc: unsupported when binding).
    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        self.namespace = Some(name.into());
        self
    }
}

/// What a frontend listens on and how: HAProxy's `bind` line.
///
/// The syntax is a comma-separated address list, then options:
/// `ADDR[,ADDR...] [OPTION...]`. Addresses are `ip:port` (`*:port` or `:port` for all IPv4
/// addresses), `[v6]:port`, a port range `ip:8000-8010` (one listener per port), `ipv4@`/
/// `ipv6@` prefixes (`ipv6@:80` is `[::]:80`), `unix@/path` or `/path`, and `mem@name`.
/// Host names are rejected: nothing resolves here. Options: `backlog N`, `reuseport`,
/// `nodelay`, `keepalive`, `keepalive-idle D`, `keepalive-intvl D`, `keepalive-cnt N`,
/// `transparent`, `freebind`, `v6only`, `v4v6`, `mode OCTAL`, `uid N`, `gid N`,
/// `namespace NAME`; flags take a `no-` prefix to turn them off (`no-nodelay`). Durations are
/// in seconds unless suffixed (`us`, `ms`, `s`, `m`, `h`, `d`).
///
/// # Examples
/// ```
/// use lb_tcp::listen::BindSpec;
///
/// let spec = BindSpec::parse("127.0.0.1:8000-8002,[::1]:80,unix@/run/lb.sock backlog 64 reuseport")?;
/// let addrs: Vec<String> = spec.addresses().map(|a| a.to_string()).collect();
/// assert_eq!(addrs, [
///     "127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002", "[::1]:80", "unix@/run/lb.sock",
/// ]);
/// assert_eq!(spec.options().effective_backlog(), 64);
///
/// let err = BindSpec::parse("localhost:80").unwrap_err();
/// assert!(err.to_string().contains("not an IP address"));
/// # Ok::<(), lb_tcp::listen::BindSpecError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindSpec {
    addrs: Vec<BindAddr>,
    options: BindOptions,
}

impl BindSpec {
    /// A spec from addresses and options.
    pub fn new(addrs: impl IntoIterator<Item = BindAddr>, options: BindOptions) -> Self {
        Self {
            addrs: addrs.into_iter().collect(),
            options,
        }
    }

    /// Parses HAProxy `bind` syntax; see the [type docs](Self).
    ///
    /// # Errors
    /// A [`BindSpecError`] naming the offending token.
    pub fn parse(s: &str) -> Result<Self, BindSpecError> {
        let mut words = s.split_whitespace();
        let list = words.next().ok_or(BindSpecError::Empty)?;
        let addrs = list
            .split(',')
            .map(parse_addr)
            .collect::<Result<Vec<_>, _>>()?;
        let options = parse_options(words)?;
        Ok(Self { addrs, options })
    }

    /// The addresses, as written (port ranges unexpanded).
    pub fn addrs(&self) -> &[BindAddr] {
        &self.addrs
    }

    /// The options.
    pub fn options(&self) -> &BindOptions {
        &self.options
    }

    /// The options, mutably.
    pub fn options_mut(&mut self) -> &mut BindOptions {
        &mut self.options
    }

    /// Replaces the options.
    pub fn with_options(mut self, options: BindOptions) -> Self {
        self.options = options;
        self
    }

    /// Every address to listen on, port ranges expanded.
    pub fn addresses(&self) -> impl Iterator<Item = Address> + '_ {
        self.addrs.iter().flat_map(BindAddr::addresses)
    }

    /// Binds every address (one listener per port). Must run inside a tokio runtime with
    /// I/O enabled.
    ///
    /// # Errors
    /// The first address that fails, with its cause (`AddrInUse`, `PermissionDenied` for a
    /// low port or `transparent` without privileges, `Unsupported` for `namespace` and for
    /// `mem@` addresses, which need [`bind_in`](Self::bind_in)). Listeners bound before the
    /// failure are closed.
    pub fn bind(&self) -> Result<Vec<Listener>, BindError> {
        self.bind_each(|addr| {
            Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                format!("{addr} is on the in-memory network: bind with BindSpec::bind_in"),
            ))
        })
    }

    /// Binds every address, `mem@` names on `network`.
    ///
    /// # Errors
    /// As [`bind`](Self::bind).
    #[cfg(feature = "mem")]
    pub fn bind_in(&self, network: &crate::mem::MemNetwork) -> Result<Vec<Listener>, BindError> {
        let backlog = usize::try_from(self.options.effective_backlog()).unwrap_or(usize::MAX);
        self.bind_each(|addr| {
            network
                .bind_with_backlog(addr.clone(), backlog)
                .map(Listener::Mem)
        })
    }

    fn bind_each(
        &self,
        mut mem: impl FnMut(&Address) -> std::io::Result<Listener>,
    ) -> Result<Vec<Listener>, BindError> {
        let o = &self.options;
        self.addresses()
            .map(|addr| {
                let bound = match &addr {
                    _ if o.namespace.is_some() => Err(namespace_unsupported(o)),
                    Address::Inet(sa) => TcpListener::bind(*sa, o).map(Listener::Tcp),
                    #[cfg(unix)]
                    Address::Unix(path) => super::UnixListener::bind(path, o).map(Listener::Unix),
                    Address::Mem(_) => mem(&addr),
                    #[allow(unreachable_patterns)]
                    _ => Err(std::io::Error::new(
                        std::io::ErrorKind::Unsupported,
                        "this address family is not supported on this platform",
                    )),
                };
                bound.map_err(|e| BindError::new(addr, e))
            })
            .collect()
    }
}

fn namespace_unsupported(o: &BindOptions) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!(
            "network namespace `{}` is not supported: entering it needs setns(2) on the binding \
             thread; run lb inside the namespace (ip netns exec) instead",
            o.namespace.as_deref().unwrap_or_default()
        ),
    )
}

impl FromStr for BindSpec {
    type Err = BindSpecError;

    fn from_str(s: &str) -> Result<Self, BindSpecError> {
        Self::parse(s)
    }
}

impl fmt::Display for BindSpec {
    /// Writes the spec back in the syntax [`BindSpec::parse`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.addrs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            a.fmt(f)?;
        }
        let o = &self.options;
        if let Some(n) = o.backlog {
            write!(f, " backlog {n}")?;
        }
        if o.reuseport {
            f.write_str(" reuseport")?;
        }
        if !o.nodelay {
            f.write_str(" no-nodelay")?;
        }
        if let Some(ka) = &o.keepalive {
            f.write_str(" keepalive")?;
            if let Some(d) = ka.idle_time() {
                write!(f, " keepalive-idle {}", DisplayDuration(d))?;
            }
            if let Some(d) = ka.interval_time() {
                write!(f, " keepalive-intvl {}", DisplayDuration(d))?;
            }
            if let Some(n) = ka.retry_count() {
                write!(f, " keepalive-cnt {n}")?;
            }
        }
        if o.transparent {
            f.write_str(" transparent")?;
        }
        if o.freebind {
            f.write_str(" freebind")?;
        }
        match o.v6only {
            Some(true) => f.write_str(" v6only")?,
            Some(false) => f.write_str(" v4v6")?,
            None => {}
        }
        if let Some(m) = o.mode {
            write!(f, " mode {m:o}")?;
        }
        if let Some(u) = o.uid {
            write!(f, " uid {u}")?;
        }
        if let Some(g) = o.gid {
            write!(f, " gid {g}")?;
        }
        if let Some(ns) = &o.namespace {
            write!(f, " namespace {ns}")?;
        }
        Ok(())
    }
}

fn invalid(addr: &str, reason: impl Into<String>) -> BindSpecError {
    BindSpecError::InvalidAddress {
        addr: addr.to_owned(),
        reason: reason.into(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Any,
    V4,
    V6,
}

fn parse_addr(tok: &str) -> Result<BindAddr, BindSpecError> {
    if tok.is_empty() {
        return Err(invalid(tok, "empty address (stray comma?)"));
    }
    if let Some(path) = tok.strip_prefix("unix@") {
        if path.is_empty() {
            return Err(invalid(tok, "empty socket path"));
        }
        return Ok(BindAddr::Unix(path.into()));
    }
    if tok.starts_with('/') {
        return Ok(BindAddr::Unix(tok.into()));
    }
    if let Some(name) = tok.strip_prefix("mem@") {
        if name.is_empty() {
            return Err(invalid(tok, "empty in-memory listener name"));
        }
        return Ok(BindAddr::Mem(name.into()));
    }
    let (family, rest) = if let Some(r) = tok.strip_prefix("ipv4@") {
        (Family::V4, r)
    } else if let Some(r) = tok.strip_prefix("ipv6@") {
        (Family::V6, r)
    } else if let Some((prefix, _)) = tok.split_once('@') {
        return Err(invalid(
            tok,
            format!(
                "unsupported address family `{prefix}@` (supported: ipv4@, ipv6@, unix@, mem@)"
            ),
        ));
    } else {
        (Family::Any, tok)
    };
    let (host, ports) = if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| invalid(tok, "missing `]` after the IPv6 address"))?;
        let ports = after
            .strip_prefix(':')
            .ok_or_else(|| invalid(tok, "missing `:port` after `]`"))?;
        (host, ports)
    } else {
        let (host, ports) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid(tok, "missing `:port` (e.g. `127.0.0.1:8080`, `:80`)"))?;
        if host.contains(':') {
            return Err(invalid(
                tok,
                "IPv6 addresses need brackets, e.g. `[::1]:80`",
            ));
        }
        (host, ports)
    };
    let ip = match host {
        "" | "*" if family == Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        "" | "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        h => h.parse::<IpAddr>().map_err(|_| {
            invalid(
                tok,
                format!("`{h}` is not an IP address (host names are not resolved here)"),
            )
        })?,
    };
    match (family, ip) {
        (Family::V4, IpAddr::V6(_)) => return Err(invalid(tok, "ipv4@ with an IPv6 address")),
        (Family::V6, IpAddr::V4(_)) => return Err(invalid(tok, "ipv6@ with an IPv4 address")),
        _ => {}
    }
    Ok(BindAddr::Inet {
        ip,
        ports: parse_ports(tok, ports)?,
    })
}

fn parse_ports(tok: &str, s: &str) -> Result<PortRange, BindSpecError> {
    let port = |p: &str| {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BindSpecError::InvalidPort {
                addr: tok.to_owned(),
                port: p.to_owned(),
            });
        }
        p.parse::<u16>().map_err(|_| BindSpecError::InvalidPort {
            addr: tok.to_owned(),
            port: p.to_owned(),
        })
    };
    let range_err = |reason| BindSpecError::InvalidPortRange {
        addr: tok.to_owned(),
        range: s.to_owned(),
        reason,
    };
    match s.split_once('-') {
        None => Ok(PortRange::single(port(s)?)),
        Some((a, b)) => {
            let (first, last) = (port(a)?, port(b)?);
            if first == 0 {
                return Err(range_err("port 0 cannot be part of a range"));
            }
            PortRange::new(first, last).ok_or_else(|| range_err("the first port is above the last"))
        }
    }
}

fn parse_options<'a>(
    mut words: impl Iterator<Item = &'a str>,
) -> Result<BindOptions, BindSpecError> {
    let mut o = BindOptions::default();
    while let Some(word) = words.next() {
        let (on, kw) = match word.strip_prefix("no-") {
            Some(kw) => (false, kw),
            None => (true, word),
        };
        let flag = match kw {
            "reuseport" => Some(&mut o.reuseport),
            "nodelay" => Some(&mut o.nodelay),
            "transparent" => Some(&mut o.transparent),
            "freebind" => Some(&mut o.freebind),
            _ => None,
        };
        if let Some(flag) = flag {
            *flag = on;
            continue;
        }
        if kw == "keepalive" {
            o.keepalive = on.then(|| o.keepalive.unwrap_or_default());
            continue;
        }
        if !on {
            return Err(BindSpecError::UnknownOption(word.to_owned()));
        }
        macro_rules! value {
            ($name:literal) => {
                words
                    .next()
                    .ok_or(BindSpecError::MissingValue { option: $name })?
            };
        }
        let bad = |option, value: &str, expected| BindSpecError::InvalidValue {
            option,
            value: value.to_owned(),
            expected,
        };
        match kw {
            "backlog" => {
                let v = value!("backlog");
                let n = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0 && *n <= i32::MAX as u32)
                    .ok_or_else(|| bad("backlog", v, "a positive integer"))?;
                o.backlog = Some(n);
            }
            "keepalive-idle" => {
                let v = value!("keepalive-idle");
                let d = parse_duration(v).ok_or_else(|| bad("keepalive-idle", v, "a duration"))?;
                o.keepalive = Some(o.keepalive.unwrap_or_default().idle(d));
            }
            "keepalive-intvl" => {
                let v = value!("keepalive-intvl");
                let d = parse_duration(v).ok_or_else(|| bad("keepalive-intvl", v, "a duration"))?;
                o.keepalive = Some(o.keepalive.unwrap_or_default().interval(d));
            }
            "keepalive-cnt" => {
                let v = value!("keepalive-cnt");
                let n = v
                    .parse::<u32>()
                    .map_err(|_| bad("keepalive-cnt", v, "a count"))?;
                o.keepalive = Some(o.keepalive.unwrap_or_default().retries(n));
            }
            "v6only" => o.v6only = Some(true),
            "v4v6" => o.v6only = Some(false),
            "mode" => {
                let v = value!("mode");
                let m = u32::from_str_radix(v, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| bad("mode", v, "octal permissions such as 660"))?;
                o.mode = Some(m);
            }
            "uid" => {
                let v = value!("uid");
                o.uid = Some(v.parse().map_err(|_| bad("uid", v, "a numeric user id"))?);
            }
            "gid" => {
                let v = value!("gid");
                o.gid = Some(v.parse().map_err(|_| bad("gid", v, "a numeric group id"))?);
            }
            "namespace" => o.namespace = Some(value!("namespace").to_owned()),
            _ => return Err(BindSpecError::UnknownOption(word.to_owned())),
        }
    }
    Ok(o)
}

/// Writes a duration in the largest exact unit [`parse_duration`] reads.
struct DisplayDuration(Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 {
            write!(f, "{}s", d.as_secs())
        } else if d.subsec_millis() * 1_000_000 == d.subsec_nanos() {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{}us", d.as_micros())
        }
    }
}

/// `10`, `10s`, `500ms`, `2m`...: seconds unless suffixed.
fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "us" => Duration::from_micros(n),
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addrs(s: &str) -> Vec<String> {
        BindSpec::parse(s)
            .unwrap()
            .addresses()
            .map(|a| a.to_string())
            .collect()
    }

    #[test]
    fn parses_address_forms() {
        assert_eq!(addrs("127.0.0.1:80"), ["127.0.0.1:80"]);
        assert_eq!(addrs("[::1]:443"), ["[::1]:443"]);
        assert_eq!(addrs(":80"), ["0.0.0.0:80"]);
        assert_eq!(addrs("*:80"), ["0.0.0.0:80"]);
        assert_eq!(addrs("ipv6@:80"), ["[::]:80"]);
        assert_eq!(addrs("ipv4@10.0.0.1:1"), ["10.0.0.1:1"]);
        assert_eq!(addrs("127.0.0.1:0"), ["127.0.0.1:0"]);
        assert_eq!(addrs("unix@/run/lb.sock"), ["unix@/run/lb.sock"]);
        assert_eq!(addrs("/run/lb.sock"), ["unix@/run/lb.sock"]);
        assert_eq!(addrs("mem@front"), ["mem@front"]);
    }

    #[test]
    fn expands_port_ranges_and_lists() {
        assert_eq!(
            addrs("127.0.0.1:8000-8002,[::1]:9000-9001,mem@x"),
            [
                "127.0.0.1:8000",
                "127.0.0.1:8001",
                "127.0.0.1:8002",
                "[::1]:9000",
                "[::1]:9001",
                "mem@x"
            ]
        );
        let spec = BindSpec::parse("10.0.0.1:1-65535").unwrap();
        assert_eq!(spec.addresses().count(), 65535);
        assert_eq!(
            spec.addrs(),
            [BindAddr::Inet {
                ip: "10.0.0.1".parse().unwrap(),
                ports: PortRange::new(1, 65535).unwrap()
            }]
        );
        assert_eq!(addrs("1.2.3.4:7-7"), ["1.2.3.4:7"]);
    }

    #[test]
    fn rejects_bad_addresses_clearly() {
        let err = |s: &str| BindSpec::parse(s).unwrap_err();
        assert_eq!(err(""), BindSpecError::Empty);
        assert_eq!(err("   "), BindSpecError::Empty);
        assert!(
            matches!(err("127.0.0.1"), BindSpecError::InvalidAddress { reason, .. } if reason.contains("missing `:port`"))
        );
        assert!(
            matches!(err("::1:80"), BindSpecError::InvalidAddress { reason, .. } if reason.contains("brackets"))
        );
        assert!(
            matches!(err("[::1:80"), BindSpecError::InvalidAddress { reason, .. } if reason.contains("`]`"))
        );
        assert!(
            matches!(err("[::1]80"), BindSpecError::InvalidAddress { reason, .. } if reason.contains(":port"))
        );
        assert!(
            matches!(err("example.com:80"), BindSpecError::InvalidAddress { reason, .. } if reason.contains("not an IP address"))
        );
        assert!(
            matches!(err("abns@foo"), BindSpecError::InvalidAddress { reason, .. } if reason.contains("abns@"))
        );
        assert!(matches!(
            err("ipv4@[::1]:80"),
            BindSpecError::InvalidAddress { .. }
        ));
        assert!(matches!(
            err("ipv6@1.2.3.4:80"),
            BindSpecError::InvalidAddress { .. }
        ));
        assert!(matches!(err("unix@"), BindSpecError::InvalidAddress { .. }));
        assert!(matches!(err("mem@"), BindSpecError::InvalidAddress { .. }));
        assert!(
            matches!(err("1.2.3.4:80,"), BindSpecError::InvalidAddress { reason, .. } if reason.contains("stray comma"))
        );
        assert_eq!(
            err("1.2.3.4:65536"),
            BindSpecError::InvalidPort {
                addr: "1.2.3.4:65536".into(),
                port: "65536".into()
            }
        );
        assert!(matches!(
            err("1.2.3.4:http"),
            BindSpecError::InvalidPort { .. }
        ));
        assert!(matches!(
            err("1.2.3.4:+80"),
            BindSpecError::InvalidPort { .. }
        ));
        assert!(matches!(err("1.2.3.4:"), BindSpecError::InvalidPort { .. }));
        assert!(matches!(
            err("1.2.3.4:80-"),
            BindSpecError::InvalidPort { .. }
        ));
        assert!(
            matches!(err("1.2.3.4:90-80"), BindSpecError::InvalidPortRange { reason, .. } if reason.contains("above"))
        );
        assert!(
            matches!(err("1.2.3.4:0-80"), BindSpecError::InvalidPortRange { reason, .. } if reason.contains("port 0"))
        );
        // Messages name the token.
        assert_eq!(
            err("1.2.3.4:90-80").to_string(),
            "invalid port range `90-80` in `1.2.3.4:90-80`: the first port is above the last"
        );
    }

    #[test]
    fn parses_options() {
        let spec = BindSpec::parse(
            "unix@/s backlog 64 reuseport no-nodelay keepalive-idle 30 keepalive-intvl 500ms \
             keepalive-cnt 4 transparent freebind v6only mode 660 uid 10 gid 20 namespace blue",
        )
        .unwrap();
        let o = spec.options();
        assert_eq!(o.backlog, Some(64));
        assert!(o.reuseport && !o.nodelay && o.transparent && o.freebind);
        assert_eq!(
            o.keepalive,
            Some(
                Keepalive::new()
                    .idle(Duration::from_secs(30))
                    .interval(Duration::from_millis(500))
                    .retries(4)
            )
        );
        assert_eq!(o.v6only, Some(true));
        assert_eq!((o.mode, o.uid, o.gid), (Some(0o660), Some(10), Some(20)));
        assert_eq!(o.namespace.as_deref(), Some("blue"));

        let o = BindSpec::parse(":80 keepalive v4v6").unwrap().options;
        assert_eq!(o.keepalive, Some(Keepalive::new()));
        assert_eq!(o.v6only, Some(false));
        assert_eq!(o.effective_backlog(), DEFAULT_BACKLOG);
        assert_eq!(o.clone().default_backlog(7).effective_backlog(), 7);
        assert_eq!(o.backlog(9).default_backlog(7).effective_backlog(), 9);
        let o = BindSpec::parse(":80 keepalive no-keepalive")
            .unwrap()
            .options;
        assert_eq!(o.keepalive, None);
    }

    #[test]
    fn rejects_bad_options_clearly() {
        let err = |s: &str| BindSpec::parse(s).unwrap_err();
        assert_eq!(err(":80 ssl"), BindSpecError::UnknownOption("ssl".into()));
        assert_eq!(
            err(":80 no-backlog"),
            BindSpecError::UnknownOption("no-backlog".into())
        );
        assert_eq!(
            err(":80 backlog"),
            BindSpecError::MissingValue { option: "backlog" }
        );
        assert!(matches!(
            err(":80 backlog 0"),
            BindSpecError::InvalidValue {
                option: "backlog",
                ..
            }
        ));
        assert!(matches!(
            err(":80 backlog x"),
            BindSpecError::InvalidValue {
                option: "backlog",
                ..
            }
        ));
        assert!(matches!(
            err(":80 mode 999"),
            BindSpecError::InvalidValue { option: "mode", .. }
        ));
        assert!(matches!(
            err(":80 mode 17777"),
            BindSpecError::InvalidValue { option: "mode", .. }
        ));
        assert!(matches!(
            err(":80 keepalive-idle 5x"),
            BindSpecError::InvalidValue {
                option: "keepalive-idle",
                ..
            }
        ));
        assert!(matches!(
            err(":80 uid root"),
            BindSpecError::InvalidValue { option: "uid", .. }
        ));
        assert!(err(":80 ssl").to_string().contains("known: backlog"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("7us"), Some(Duration::from_micros(7)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("ms"), None);
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn namespace_and_mem_without_network_fail_to_bind() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        rt.block_on(async {
            let e = BindSpec::parse("mem@x").unwrap().bind().unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
            assert!(e.to_string().contains("bind_in"), "{e}");
            let e = BindSpec::parse("127.0.0.1:0 namespace red")
                .unwrap()
                .bind()
                .unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
            assert!(e.to_string().contains("ip netns exec"), "{e}");
            assert_eq!(e.addr().to_string(), "127.0.0.1:0");
        });
    }

    #[test]
    fn bind_outside_a_runtime_is_an_error_not_a_panic() {
        let e = BindSpec::parse("127.0.0.1:0").unwrap().bind().unwrap_err();
        assert!(e.to_string().contains("tokio runtime"), "{e}");
    }

    fn arb_addr() -> impl Strategy<Value = BindAddr> {
        let ports = (1u16..=65535, 0u16..50).prop_map(|(a, n)| {
            PortRange::new(a, a.saturating_add(n)).expect("first <= last, first > 0")
        });
        prop_oneof![
            (any::<[u8; 4]>(), ports.clone()).prop_map(|(ip, ports)| BindAddr::Inet {
                ip: IpAddr::from(ip),
                ports
            }),
            (any::<[u8; 16]>(), ports).prop_map(|(ip, ports)| BindAddr::Inet {
                ip: IpAddr::from(ip),
                ports
            }),
            "/[a-z0-9/._-]{1,20}".prop_map(|p| BindAddr::Unix(p.into())),
            "[a-z0-9._-]{1,12}".prop_map(|n| BindAddr::Mem(n.as_str().into())),
        ]
    }

    fn arb_options() -> impl Strategy<Value = BindOptions> {
        (
            proptest::option::of(1u32..100_000),
            any::<[bool; 4]>(),
            proptest::option::of((0u64..10_000, 0u32..10)),
            proptest::option::of(any::<bool>()),
            proptest::option::of(0u32..=0o7777),
        )
            .prop_map(|(backlog, flags, ka, v6only, mode)| {
                let mut o = BindOptions::default()
                    .reuseport(flags[0])
                    .nodelay(flags[1])
                    .transparent(flags[2])
                    .freebind(flags[3]);
                o.backlog = backlog;
                o.keepalive =
                    ka.map(|(ms, n)| Keepalive::new().idle(Duration::from_millis(ms)).retries(n));
                o.v6only = v6only;
                o.mode = mode;
                o
            })
    }

    proptest! {
        #[test]
        fn display_round_trips(
            addrs in proptest::collection::vec(arb_addr(), 1..4),
            options in arb_options(),
        ) {
            let spec = BindSpec::new(addrs, options);
            let text = spec.to_string();
            prop_assert_eq!(BindSpec::parse(&text), Ok(spec), "{}", text);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = BindSpec::parse(&s);
        }

        #[test]
        fn ranges_expand_in_order(first in 1u16..=65535, n in 0u16..200) {
            let last = first.saturating_add(n);
            let spec = BindSpec::parse(&format!("127.0.0.1:{first}-{last}")).unwrap();
            let ports: Vec<u16> = spec.addresses().map(|a| a.as_inet().unwrap().port()).collect();
            prop_assert_eq!(ports, (first..=last).collect::<Vec<_>>());
        }
    }
}

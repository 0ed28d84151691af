//! Active checks: one [`Check`] run is one connection attempt and its conversation, giving
//! a [`CheckResult`] with HAProxy's status and reason.
//!
//! # Examples
//! ```
//! use std::time::Duration;
//! use lb_health::{Check, CheckContext, CheckStatus};
//! use lb_tcp::mem::MemNetwork;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let net = MemNetwork::new();
//! let check = Check::tcp();
//! let inter = Duration::from_secs(2);
//!
//! // Nothing listens: refused.
//! let server = "mem@web1".parse().unwrap();
//! let r = check.run(&net.connector(), &server, inter, &CheckContext::default()).await;
//! assert_eq!(r.status, CheckStatus::L4Con);
//! assert_eq!(r.reason, "Layer4 connection problem, info: \"Connection refused\"");
//!
//! let _listener = net.bind("web1").unwrap();
//! let r = check.run(&net.connector(), &server, inter, &CheckContext::default()).await;
//! assert_eq!(r.reason, "Layer4 check passed");
//! # }
//! ```
//!
//! # Organization
//! - [`Check`]: the kind plus target overrides (`addr`, `port`), `check-send-proxy`,
//!   timeouts; [`CheckKind`] lists the kinds.
//! - [`HttpCheck`], [`HttpExpect`]: `option httpchk`, `http-check send/expect`, over
//!   HTTP/1 or HTTP/2 ([`CheckProto`], `check-proto h2`); [`ExpectRegex`] for `rstatus`
//!   and `rstring` rules.
//! - [`TcpCheck`], [`TcpCheckRule`], [`TcpExpect`]: `tcp-check` scripts.
//! - [`SmtpCheck`], [`MysqlCheck`], [`PgsqlCheck`]; redis and LDAP need no settings.
//! - [`CheckConnect`]: what checks connect with (any `Service<Address>` to a stream).

mod h2;
mod http;
pub(crate) mod io;
mod pattern;
mod proto;
mod script;
mod status;

use std::net::SocketAddr;
use std::time::Duration;

use lb_core::Address;
use lb_tcp::proxy_protocol::{ProxyHeader, Version};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

pub use self::http::{HttpCheck, HttpExpect, HttpMatch};
pub use self::io::{CheckConnect, ConnectFuture};
pub use self::pattern::ExpectRegex;
pub use self::proto::{MysqlCheck, PgsqlCheck, SmtpCheck};
pub use self::script::{TcpCheck, TcpCheckRule, TcpExpect, MAX_RULES};
pub use self::status::{CheckResult, CheckStatus};

use self::io::{open, Budget, Conn, Verdict};
use crate::error::ConfigError;

/// What a check says to the server once connected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckKind {
    /// Connect only (`L4OK`): the default `check`.
    Tcp,
    /// `option httpchk`.
    Http(HttpCheck),
    /// `option tcp-check` with its rules.
    Script(TcpCheck),
    /// `option redis-check`: `PING`, expect `+PONG`.
    Redis,
    /// `option smtpchk`.
    Smtp(SmtpCheck),
    /// `option mysql-check`.
    Mysql(MysqlCheck),
    /// `option pgsql-check`.
    Pgsql(PgsqlCheck),
    /// `option ldap-check`: anonymous bind, pass on resultCode 0.
    Ldap,
}

impl CheckKind {
    /// Whether the kind judges an application answer (its timeouts are `L7TOUT`).
    pub fn is_layer7(&self) -> bool {
        !matches!(self, CheckKind::Tcp)
    }
}

/// The protocol HTTP checks speak (`check-proto`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckProto {
    /// HTTP/1 (`check-proto h1`), the default.
    #[default]
    H1,
    /// HTTP/2 with prior knowledge (`check-proto h2`): h2c, or h2 inside `check-ssl`.
    H2,
}

/// The PROXY protocol version of `check-send-proxy` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyVersion {
    /// `send-proxy`: a v1 line (`PROXY UNKNOWN` for a check's own connection).
    V1,
    /// `send-proxy-v2`: a v2 LOCAL header.
    V2,
}

/// What the scheduler knows about the server when a check starts.
#[derive(Clone, Debug)]
pub struct CheckContext {
    /// Whether the server is up now (`disable-on-404` applies only to running servers).
    pub running: bool,
    /// The `X-Haproxy-Server-State` value for `http-check send-state`.
    pub state_header: Option<String>,
}

impl Default for CheckContext {
    /// A running server, no state header.
    fn default() -> Self {
        CheckContext {
            running: true,
            state_header: None,
        }
    }
}

/// One active check of a server: what to say, where, and within which time.
///
/// Built from a kind and HAProxy's server check settings; see the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    kind: CheckKind,
    addr: Option<Address>,
    port: Option<u16>,
    send_proxy: Option<ProxyVersion>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    ssl: bool,
    proto: CheckProto,
}

impl Check {
    /// A check of this kind, to the server's own address.
    pub fn new(kind: CheckKind) -> Self {
        Check {
            kind,
            addr: None,
            port: None,
            send_proxy: None,
            timeout: None,
            connect_timeout: None,
            ssl: false,
            proto: CheckProto::H1,
        }
    }

    /// A TCP connect check.
    pub fn tcp() -> Self {
        Self::new(CheckKind::Tcp)
    }

    /// An HTTP check.
    pub fn http(http: HttpCheck) -> Self {
        Self::new(CheckKind::Http(http))
    }

    /// A tcp-check script.
    pub fn script(script: TcpCheck) -> Self {
        Self::new(CheckKind::Script(script))
    }

    /// redis-check.
    pub fn redis() -> Self {
        Self::new(CheckKind::Redis)
    }

    /// smtpchk.
    pub fn smtp(smtp: SmtpCheck) -> Self {
        Self::new(CheckKind::Smtp(smtp))
    }

    /// mysql-check.
    pub fn mysql(mysql: MysqlCheck) -> Self {
        Self::new(CheckKind::Mysql(mysql))
    }

    /// pgsql-check.
    pub fn pgsql(pgsql: PgsqlCheck) -> Self {
        Self::new(CheckKind::Pgsql(pgsql))
    }

    /// ldap-check.
    pub fn ldap() -> Self {
        Self::new(CheckKind::Ldap)
    }

    /// The kind.
    pub fn kind(&self) -> &CheckKind {
        &self.kind
    }

    /// Checks this address instead of the server's (`addr`). Default is none.
    pub fn addr(mut self, addr: Address) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Checks this port instead of the server's (`port`). Default is none. On the
    /// in-memory network, port `P` of `mem@name` is `mem@name:P`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sends a PROXY header first (`check-send-proxy`). Default is none: the server's
    /// `send-proxy` is not inherited, as HAProxy when `port`/`addr` are set.
    pub fn send_proxy(mut self, version: ProxyVersion) -> Self {
        self.send_proxy = Some(version);
        self
    }

    /// `timeout check`: once connected, the answer must come within this. Default is
    /// none: the whole check must fit in `inter`.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// `timeout connect`: with `timeout check` set, the connect gets `min(this, inter)`.
    /// Default is none.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = Some(t);
        self
    }

    /// `check-ssl`. Not supported yet: [`validate`](Self::validate) refuses it.
    pub fn ssl(mut self, on: bool) -> Self {
        self.ssl = on;
        self
    }

    /// `check-proto`: the protocol of HTTP checks. Default is [`CheckProto::H1`];
    /// [`CheckProto::H2`] sends the same request over HTTP/2 (see
    /// [`HttpCheck::h2_request`]) and judges the answer with the same expect rules.
    pub fn proto(mut self, proto: CheckProto) -> Self {
        self.proto = proto;
        self
    }

    /// The protocol of HTTP checks.
    pub fn check_proto(&self) -> CheckProto {
        self.proto
    }

    /// Checks the configuration can run.
    ///
    /// # Errors
    /// `check-ssl` (TLS checks come with lb-tls), a zero `timeout check`, `check-proto
    /// h2` with a check that is not HTTP or a request HTTP/2 cannot carry, and invalid
    /// kind settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ssl {
            return Err(ConfigError::Unsupported {
                keyword: "check-ssl",
                why: "TLS checks come with lb-tls; check the plain port or use a tcp-check",
            });
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(ConfigError::InvalidValue {
                keyword: "timeout check",
                value: "0".into(),
                why: "must be positive",
            });
        }
        if self.proto == CheckProto::H2 {
            let CheckKind::Http(h) = &self.kind else {
                return Err(ConfigError::InvalidValue {
                    keyword: "check-proto",
                    value: "h2".into(),
                    why: "only HTTP checks (option httpchk) can speak h2",
                });
            };
            h.validate()?;
            h.h2_request(None)
                .map_err(|value| ConfigError::InvalidValue {
                    keyword: "check-proto h2",
                    value,
                    why: "the check request cannot be sent over HTTP/2",
                })?;
        }
        match &self.kind {
            CheckKind::Http(h) => h.validate(),
            CheckKind::Script(s) => s.validate(),
            CheckKind::Smtp(s) => s.validate(),
            CheckKind::Mysql(m) => m.validate(),
            CheckKind::Pgsql(p) => p.validate(),
            CheckKind::Tcp | CheckKind::Redis | CheckKind::Ldap => Ok(()),
        }
    }

    /// The address checked for a server at `server`: `addr` if set, with `port` if set.
    pub fn target(&self, server: &Address) -> Address {
        let base = self.addr.clone().unwrap_or_else(|| server.clone());
        match self.port {
            Some(p) => with_port(&base, p),
            None => base,
        }
    }

    /// Whether this is an HTTP check with `send-state`.
    pub fn sends_state(&self) -> bool {
        matches!(&self.kind, CheckKind::Http(h) if h.sends_state())
    }

    /// Runs the check once against a server at `server`, with `inter` as the time
    /// budget when no `timeout check` is set.
    ///
    /// Never fails: every problem is a [`CheckResult`] status.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future closes the check connection.
    pub async fn run<C: CheckConnect>(
        &self,
        connect: &C,
        server: &Address,
        inter: Duration,
        ctx: &CheckContext,
    ) -> CheckResult {
        let start = Instant::now();
        let budget = Budget::new(start, inter, self.timeout, self.connect_timeout);
        let v = self.verdict(connect, server, &budget, ctx).await;
        CheckResult::new(v.status, v.code, &v.info, start.elapsed())
    }

    async fn verdict<C: CheckConnect>(
        &self,
        connect: &C,
        server: &Address,
        budget: &Budget,
        ctx: &CheckContext,
    ) -> Verdict {
        if let CheckKind::Script(s) = &self.kind {
            return script::run(s, self, connect, server, budget).await;
        }
        let io = match open(connect, self.target(server), budget.connect_deadline()).await {
            Ok(io) => io,
            Err(v) => return v,
        };
        let deadline = budget.io_deadline(Instant::now());
        let mut conn = Conn::new(io);
        let timeout_status = if self.kind.is_layer7() {
            CheckStatus::L7Tout
        } else {
            CheckStatus::L4Tout
        };
        let talk = async move {
            if let Some(v) = self.send_proxy {
                if let Err(e) = write_proxy(&mut conn, v).await {
                    return Verdict::new(CheckStatus::L4Con, io::strerror(&e));
                }
            }
            match &self.kind {
                CheckKind::Tcp => Verdict::new(CheckStatus::L4Ok, ""),
                CheckKind::Http(h) if self.proto == CheckProto::H2 => {
                    h2::run(h, conn.into_io(), ctx).await
                }
                CheckKind::Http(h) => http::run(h, &mut conn, ctx).await,
                CheckKind::Redis => proto::redis(&mut conn).await,
                CheckKind::Smtp(s) => proto::smtp(s, &mut conn).await,
                CheckKind::Mysql(m) => proto::mysql(m, &mut conn).await,
                CheckKind::Pgsql(p) => proto::pgsql(p, &mut conn).await,
                CheckKind::Ldap => proto::ldap(&mut conn).await,
                CheckKind::Script(_) => Verdict::new(CheckStatus::Unknown, ""),
            }
        };
        match tokio::time::timeout_at(deadline, talk).await {
            Ok(v) => v,
            Err(_) => Verdict::new(timeout_status, ""),
        }
    }
}

/// Port `port` of `addr`: the IP's port replaced; `mem@name:port` on the in-memory
/// network (a `:digits` suffix replaced); Unix paths unchanged.
pub(crate) fn with_port(addr: &Address, port: u16) -> Address {
    match addr {
        Address::Inet(sa) => Address::Inet(SocketAddr::new(sa.ip(), port)),
        Address::Mem(name) => {
            let base = match name.rsplit_once(':') {
                Some((b, p)) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => b,
                _ => name,
            };
            Address::Mem(format!("{base}:{port}").into())
        }
        other => other.clone(),
    }
}

/// Writes the check's PROXY header: v1 `PROXY UNKNOWN`, or a v2 LOCAL header (a check's
/// own connection relays no client, as HAProxy sends them).
pub(crate) async fn write_proxy<Io: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<Io>,
    version: ProxyVersion,
) -> std::io::Result<()> {
    let mut header = ProxyHeader::local();
    if version == ProxyVersion::V1 {
        header.version = Version::V1;
    }
    let bytes = header
        .to_bytes()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    conn.send(&bytes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let inet: Address = "10.0.0.1:80".parse().unwrap();
        assert_eq!(Check::tcp().target(&inet), inet);
        assert_eq!(
            Check::tcp().port(8080).target(&inet).to_string(),
            "10.0.0.1:8080"
        );
        let other: Address = "10.0.0.2:9".parse().unwrap();
        assert_eq!(Check::tcp().addr(other.clone()).target(&inet), other);
        assert_eq!(
            Check::tcp().addr(other).port(7).target(&inet).to_string(),
            "10.0.0.2:7"
        );
        let mem: Address = "mem@web1".parse().unwrap();
        assert_eq!(Check::tcp().port(9).target(&mem).to_string(), "mem@web1:9");
        assert_eq!(
            with_port(&"mem@web1:9".parse().unwrap(), 10).to_string(),
            "mem@web1:10"
        );
        let unix: Address = "unix@/run/x.sock".parse().unwrap();
        assert_eq!(Check::tcp().port(9).target(&unix), unix);
    }

    #[test]
    fn ssl_is_unsupported() {
        assert!(matches!(
            Check::tcp().ssl(true).validate(),
            Err(ConfigError::Unsupported {
                keyword: "check-ssl",
                ..
            })
        ));
        assert!(Check::tcp().validate().is_ok());
        assert!(Check::pgsql(PgsqlCheck::new("")).validate().is_err());
    }
}

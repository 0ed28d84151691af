//! Evaluating configuration conditions (`if`/`unless` with ACLs) against a request or a
//! connection.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use lb_tls::{ClientCert, TlsInfo};

use crate::config::{Acl, AclRef, Condition, DnPart, Fetch, Match};

/// What a condition can look at. HTTP requests and inspected TCP connections implement it;
/// a fetch a source cannot answer is "not found" (the ACL does not match).
pub trait Samples {
    /// `path`: the request path without the query.
    fn path(&self) -> Option<&str> {
        None
    }
    /// `url`: the whole request target.
    fn url(&self) -> Option<&str> {
        None
    }
    /// `hdr(name)`: every value of a header, comma lists split.
    fn header_values(&self, _name: &http::HeaderName, _out: &mut dyn FnMut(&str) -> bool) -> bool {
        false
    }
    /// `method`.
    fn method(&self) -> Option<&str> {
        None
    }
    /// `src`: the client address.
    fn src(&self) -> Option<IpAddr> {
        None
    }
    /// `dst`: the local address the client connected to.
    fn dst(&self) -> Option<IpAddr> {
        None
    }
    /// `dst_port`: the local port.
    fn dst_port(&self) -> Option<u16> {
        None
    }
    /// `req.ssl_sni`.
    fn ssl_sni(&self) -> Option<&str> {
        None
    }
    /// `req.ssl_hello_type` (1 for a ClientHello).
    fn ssl_hello_type(&self) -> Option<i64> {
        None
    }
    /// `req.proto_http`.
    fn proto_http(&self) -> bool {
        false
    }
    /// `ssl_fc`.
    fn ssl_fc(&self) -> bool {
        self.tls().is_some()
    }
    /// The facts of the client's TLS handshake (`ssl_fc_*`, `ssl_c_*`), when the
    /// connection is TLS terminated here.
    fn tls(&self) -> Option<&TlsInfo> {
        None
    }
    /// `nbsrv(backend)`: servers of the backend that take traffic.
    fn nbsrv(&self, _backend: &str) -> Option<i64> {
        None
    }
}

/// Named ACLs of one proxy, resolved for evaluation.
#[derive(Clone, Debug, Default)]
pub struct Acls {
    named: Arc<[Acl]>,
}

impl Acls {
    /// The ACLs declared in a proxy.
    pub fn new(acls: &[Acl]) -> Self {
        Acls {
            named: Arc::from(acls.to_vec()),
        }
    }

    /// Whether `cond` holds for `s` (no condition: true).
    pub fn check(&self, cond: Option<&Condition>, s: &dyn Samples) -> bool {
        let Some(cond) = cond else { return true };
        let any = cond
            .any_of
            .iter()
            .any(|all| all.iter().all(|t| self.term(&t.acl, s) != t.negate));
        any != cond.unless
    }

    fn term(&self, acl: &AclRef, s: &dyn Samples) -> bool {
        match acl {
            AclRef::Anonymous(a) => acl_matches(a, s),
            // Declarations with one name are ORed, as HAProxy does.
            AclRef::Named(name) => self
                .named
                .iter()
                .filter(|a| &a.name == name)
                .any(|a| acl_matches(a, s)),
        }
    }
}

fn acl_matches(acl: &Acl, s: &dyn Samples) -> bool {
    acl.tests.iter().any(|t| test(&t.fetch, &t.matcher, s))
}

fn str_match(m: &Match, v: &str) -> bool {
    match m {
        Match::Found => true,
        Match::Bool => !v.is_empty(),
        Match::Str {
            patterns,
            ignore_case,
        } => patterns.iter().any(|p| p.matches(v, *ignore_case)),
        Match::Ip(nets) => v
            .parse::<IpAddr>()
            .is_ok_and(|ip| nets.iter().any(|n| n.contains(ip))),
        Match::Int(ms) => v
            .trim()
            .parse::<i64>()
            .is_ok_and(|n| ms.iter().any(|m| m.matches(n))),
    }
}

fn int_match(m: &Match, v: i64) -> bool {
    match m {
        Match::Found => true,
        Match::Bool => v != 0,
        Match::Int(ms) => ms.iter().any(|x| x.matches(v)),
        Match::Str { .. } => str_match(m, &v.to_string()),
        Match::Ip(_) => false,
    }
}

fn test(fetch: &Fetch, m: &Match, s: &dyn Samples) -> bool {
    match fetch {
        Fetch::Path => s.path().is_some_and(|v| str_match(m, v)),
        Fetch::Url => s.url().is_some_and(|v| str_match(m, v)),
        Fetch::Method => s.method().is_some_and(|v| str_match(m, v)),
        Fetch::Hdr(name) => {
            let mut hit = false;
            s.header_values(name, &mut |v| {
                hit = str_match(m, v);
                hit
            });
            hit
        }
        Fetch::Src => s.src().is_some_and(|ip| match m {
            Match::Ip(nets) => nets.iter().any(|n| n.contains(ip)),
            Match::Found => true,
            other => str_match(other, &ip.to_string()),
        }),
        Fetch::DstPort => s.dst_port().is_some_and(|p| int_match(m, i64::from(p))),
        Fetch::ReqSslSni => s.ssl_sni().is_some_and(|v| str_match(m, v)),
        Fetch::ReqSslHelloType => s.ssl_hello_type().is_some_and(|v| int_match(m, v)),
        Fetch::ReqProtoHttp => match m {
            Match::Bool | Match::Found => s.proto_http(),
            other => int_match(other, i64::from(s.proto_http())),
        },
        Fetch::SslFc => match m {
            Match::Bool | Match::Found => s.ssl_fc(),
            other => int_match(other, i64::from(s.ssl_fc())),
        },
        Fetch::Dst => s.dst().is_some_and(|ip| match m {
            Match::Ip(nets) => nets.iter().any(|n| n.contains(ip)),
            Match::Found => true,
            other => str_match(other, &ip.to_string()),
        }),
        Fetch::SslFcSni => s
            .tls()
            .and_then(TlsInfo::sni)
            .is_some_and(|v| str_match(m, v)),
        Fetch::SslFcAlpn => s
            .tls()
            .and_then(TlsInfo::alpn)
            .and_then(|a| std::str::from_utf8(a).ok())
            .is_some_and(|v| str_match(m, v)),
        Fetch::SslFcProtocol => s.tls().is_some_and(|t| str_match(m, t.version())),
        Fetch::SslFcCipher => s.tls().is_some_and(|t| str_match(m, t.cipher())),
        Fetch::SslCUsed => {
            let used = s.tls().is_some_and(TlsInfo::client_cert_used);
            match m {
                Match::Bool | Match::Found => used,
                other => int_match(other, i64::from(used)),
            }
        }
        Fetch::SslCVerify => s
            .tls()
            .is_some_and(|t| int_match(m, i64::from(t.verify_result()))),
        Fetch::SslCSDn(_) | Fetch::SslCIDn | Fetch::SslCSha1 => {
            let cert = s.tls().and_then(TlsInfo::client_cert);
            cert.and_then(|c| cert_string(fetch, c))
                .is_some_and(|v| str_match(m, &v))
        }
        Fetch::AlwaysTrue => true,
        Fetch::AlwaysFalse => false,
        Fetch::NbSrv(b) => s.nbsrv(b).is_some_and(|v| int_match(m, v)),
    }
}

/// The string samples of a client certificate.
fn cert_string(fetch: &Fetch, c: &ClientCert) -> Option<String> {
    match fetch {
        Fetch::SslCSDn(DnPart::CommonName) => c.common_name().map(str::to_owned),
        Fetch::SslCSDn(_) => Some(c.subject_dn()),
        Fetch::SslCIDn => Some(c.issuer_dn()),
        Fetch::SslCSha1 => Some(c.sha1_hex()),
        _ => None,
    }
}

/// Appends the value of `fetch` as text (a `%[...]` sample of a value format): addresses
/// and numbers in decimal, booleans as `1`/`0`, the last value of a header, the SHA-1
/// fingerprint in hex; nothing when the sample does not exist.
pub(crate) fn write_sample(fetch: &Fetch, s: &dyn Samples, out: &mut String) {
    let bool = |out: &mut String, b: bool| out.push(if b { '1' } else { '0' });
    match fetch {
        Fetch::Path => out.push_str(s.path().unwrap_or_default()),
        Fetch::Url => out.push_str(s.url().unwrap_or_default()),
        Fetch::Method => out.push_str(s.method().unwrap_or_default()),
        Fetch::Hdr(name) => {
            let mut last = None;
            s.header_values(name, &mut |v| {
                last = Some(v.to_owned());
                false
            });
            out.push_str(last.as_deref().unwrap_or_default());
        }
        Fetch::Src => {
            if let Some(ip) = s.src() {
                let _ = write!(out, "{ip}");
            }
        }
        Fetch::Dst => {
            if let Some(ip) = s.dst() {
                let _ = write!(out, "{ip}");
            }
        }
        Fetch::DstPort => {
            if let Some(p) = s.dst_port() {
                let _ = write!(out, "{p}");
            }
        }
        Fetch::ReqSslSni => out.push_str(s.ssl_sni().unwrap_or_default()),
        Fetch::ReqSslHelloType => {
            if let Some(t) = s.ssl_hello_type() {
                let _ = write!(out, "{t}");
            }
        }
        Fetch::ReqProtoHttp => bool(out, s.proto_http()),
        Fetch::SslFc => bool(out, s.ssl_fc()),
        Fetch::AlwaysTrue => bool(out, true),
        Fetch::AlwaysFalse => bool(out, false),
        Fetch::NbSrv(b) => {
            if let Some(n) = s.nbsrv(b) {
                let _ = write!(out, "{n}");
            }
        }
        Fetch::SslFcSni => out.push_str(s.tls().and_then(TlsInfo::sni).unwrap_or_default()),
        Fetch::SslFcAlpn => {
            let alpn = s.tls().and_then(TlsInfo::alpn).unwrap_or_default();
            out.push_str(std::str::from_utf8(alpn).unwrap_or_default());
        }
        Fetch::SslFcProtocol => out.push_str(s.tls().map(TlsInfo::version).unwrap_or_default()),
        Fetch::SslFcCipher => out.push_str(s.tls().map(TlsInfo::cipher).unwrap_or_default()),
        Fetch::SslCUsed => bool(out, s.tls().is_some_and(TlsInfo::client_cert_used)),
        Fetch::SslCVerify => {
            if let Some(t) = s.tls() {
                let _ = write!(out, "{}", t.verify_result());
            }
        }
        Fetch::SslCSDn(_) | Fetch::SslCIDn | Fetch::SslCSha1 => {
            let cert = s.tls().and_then(TlsInfo::client_cert);
            if let Some(v) = cert.and_then(|c| cert_string(fetch, c)) {
                out.push_str(&v);
            }
        }
    }
}

/// Samples of an HTTP request.
pub(crate) struct HttpSamples<'a> {
    pub(crate) parts: &'a http::request::Parts,
    pub(crate) src: Option<IpAddr>,
    pub(crate) local: Option<std::net::SocketAddr>,
    pub(crate) tls: bool,
    pub(crate) tls_info: Option<&'a TlsInfo>,
    pub(crate) backends: &'a std::collections::HashMap<Arc<str>, lb_core::Backend>,
}

impl Samples for HttpSamples<'_> {
    fn path(&self) -> Option<&str> {
        Some(self.parts.uri.path())
    }
    fn url(&self) -> Option<&str> {
        Some(
            self.parts
                .uri
                .path_and_query()
                .map_or(self.parts.uri.path(), |p| p.as_str()),
        )
    }
    fn header_values(&self, name: &http::HeaderName, out: &mut dyn FnMut(&str) -> bool) -> bool {
        for v in self.parts.headers.get_all(name) {
            if let Ok(v) = v.to_str() {
                for item in v.split(',') {
                    if out(item.trim()) {
                        return true;
                    }
                }
            }
        }
        false
    }
    fn method(&self) -> Option<&str> {
        Some(self.parts.method.as_str())
    }
    fn src(&self) -> Option<IpAddr> {
        self.src
    }
    fn dst(&self) -> Option<IpAddr> {
        self.local.map(|a| a.ip())
    }
    fn dst_port(&self) -> Option<u16> {
        self.local.map(|a| a.port())
    }
    fn proto_http(&self) -> bool {
        true
    }
    fn ssl_fc(&self) -> bool {
        self.tls
    }
    fn tls(&self) -> Option<&TlsInfo> {
        self.tls_info
    }
    fn nbsrv(&self, backend: &str) -> Option<i64> {
        let b = self.backends.get(backend)?;
        Some(
            b.snapshot()
                .servers()
                .iter()
                .filter(|s| s.is_usable())
                .count() as i64,
        )
    }
}

/// Samples of an inspected TCP connection.
pub(crate) struct TcpSamples<'a> {
    pub(crate) facts: &'a lb_tcp::inspect::Facts,
    /// The client and local addresses, when known.
    pub(crate) addrs: (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>),
    /// The TLS handshake, when the frontend terminates TLS.
    pub(crate) tls: Option<&'a TlsInfo>,
}

impl Samples for TcpSamples<'_> {
    fn src(&self) -> Option<IpAddr> {
        self.addrs.0.map(|a| a.ip())
    }
    fn dst(&self) -> Option<IpAddr> {
        self.addrs.1.map(|a| a.ip())
    }
    fn dst_port(&self) -> Option<u16> {
        self.addrs.1.map(|a| a.port())
    }
    fn tls(&self) -> Option<&TlsInfo> {
        self.tls
    }
    fn ssl_sni(&self) -> Option<&str> {
        self.facts.sni()
    }
    fn ssl_hello_type(&self) -> Option<i64> {
        self.facts.tls.as_ref().map(|_| 1)
    }
    fn proto_http(&self) -> bool {
        self.facts.http1.is_some() || self.facts.http2_preface
    }
    fn path(&self) -> Option<&str> {
        self.facts.http1.as_ref().map(|h| h.target.as_str())
    }
    fn method(&self) -> Option<&str> {
        self.facts.http1.as_ref().map(|h| h.method.as_str())
    }
}

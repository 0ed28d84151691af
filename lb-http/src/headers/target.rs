//! Request-target and `Host` / `:authority` translation between HTTP/1 and HTTP/2
//! (RFC 9112 §3.2, RFC 9113 §8.3.1, REFERENCE 4.1).

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Uri};
use http::{Method, StatusCode, Version};

use super::forwarded::Scheme;

/// Why a request target cannot be forwarded. Every variant is a client error: answer
/// [`TargetError::status`] (400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Several `Host` headers with different values (RFC 9112 §3.2).
    #[error("multiple Host headers with different values")]
    ConflictingHosts,
    /// A `Host` header that is not a valid `host[:port]`.
    #[error("invalid Host header")]
    InvalidHost,
    /// `Host` differs from the authority of an absolute-form or authority-form target.
    #[error("Host header does not match the request target's authority")]
    HostMismatch,
    /// The request must be sent with an authority (to HTTP/2, or from HTTP/2 to HTTP/1)
    /// but has neither an authority in its target nor a `Host` header.
    #[error("request has no authority: no Host header nor absolute target")]
    MissingAuthority,
    /// The target's authority carries userinfo (`user@host`), forbidden for http(s) URIs
    /// (RFC 9110 §4.2.4, RFC 9113 §8.3.1).
    #[error("userinfo is not allowed in the request authority")]
    UserInfo,
    /// A port in the target's authority that is not a number from 0 to 65535.
    #[error("invalid port in the request target")]
    InvalidPort,
    /// CONNECT without an authority-form target `host:port`.
    #[error("CONNECT requires an authority-form target host:port")]
    ConnectTarget,
    /// An authority-form target with a method other than CONNECT.
    #[error("authority-form target is only allowed with CONNECT")]
    AuthorityForm,
    /// The asterisk-form target `*` with a method other than OPTIONS.
    #[error("asterisk-form target is only allowed with OPTIONS")]
    AsteriskForm,
    /// An HTTP/2 extended CONNECT (RFC 8441, e.g. WebSocket over HTTP/2) bound for an
    /// HTTP/1 server, which this translation does not bridge.
    #[error("extended CONNECT cannot be forwarded to HTTP/1")]
    ExtendedConnect,
    /// The rebuilt target is not a valid URI.
    #[error("invalid request target")]
    InvalidTarget,
}

impl TargetError {
    /// The status to answer with: always `400 Bad Request`.
    pub fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

/// The four request-target forms (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Origin,
    Absolute,
    Authority,
    Asterisk,
}

fn form_of(uri: &Uri) -> Form {
    if uri.scheme().is_some() {
        Form::Absolute
    } else if uri.authority().is_some() {
        Form::Authority
    } else if uri.path() == "*" {
        Form::Asterisk
    } else {
        Form::Origin
    }
}

fn is_h1(version: Version) -> bool {
    version == Version::HTTP_09 || version == Version::HTTP_10 || version == Version::HTTP_11
}

/// Translates a request's target and `Host` between HTTP versions, validating them.
///
/// `from` is the version the request arrived with, `to` the version of the server
/// connection; `scheme` is the client connection's, used when an HTTP/2 target must be
/// built from an origin-form request. Versions 0.9 to 1.1 are HTTP/1; 2 and 3 use
/// pseudo-headers. `parts.version` is left alone.
///
/// - Duplicated `Host` headers with the same value (case-insensitively) are collapsed into
///   one; different values are [`TargetError::ConflictingHosts`]. `Host` must be a valid
///   `host[:port]` without userinfo, or empty.
/// - Target forms: authority-form only with CONNECT, which requires it with a port;
///   `*` only with OPTIONS (REFERENCE 4.1).
/// - From HTTP/1, absolute-form: `Host` must match the URI's authority, case-insensitively
///   and modulo the scheme's default port (REFERENCE 4.1); the authority wins and is
///   normalised (default or empty port dropped). For CONNECT, `Host` must match exactly
///   (port included).
/// - From HTTP/2, `:authority` (the URI's authority) wins over a different `Host`
///   (RFC 9113 §8.3.1); without `:authority`, `Host` is used.
/// - To HTTP/1: the target becomes origin-form (`/path?query`; `*` stays; CONNECT keeps
///   authority-form) and `Host` is set to the authority. A request without any authority is
///   forwarded as is from HTTP/1 (HTTP/1.0 allows it) and refused from HTTP/2.
/// - To HTTP/2: the target becomes absolute-form `scheme://authority/path?query` (the
///   URI's scheme, or `scheme`), as hyper's HTTP/2 client needs, and `Host` is removed:
///   `:authority` carries it. CONNECT keeps an authority-only target.
///
/// `OPTIONS http://h HTTP/1.1` is forwarded as `OPTIONS /`: the `http` crate normalises an
/// empty absolute path to `/`, so RFC 9112 §3.2.4's `*` cannot be recovered.
///
/// # Errors
/// A [`TargetError`]: answer 400.
///
/// # Examples
/// ```
/// use http::{Request, Version};
/// use lb_http::headers::{normalize_request_target, Scheme};
///
/// // HTTP/1.1 origin-form towards an HTTP/2 server.
/// let (mut parts, ()) = Request::get("/search?q=lb")
///     .header("host", "example.com")
///     .body(())?
///     .into_parts();
/// normalize_request_target(&mut parts, Version::HTTP_11, Version::HTTP_2, Scheme::Https)?;
/// assert_eq!(parts.uri, "https://example.com/search?q=lb");
/// assert!(parts.headers.get("host").is_none());
///
/// // ... and back to an HTTP/1.1 server.
/// normalize_request_target(&mut parts, Version::HTTP_2, Version::HTTP_11, Scheme::Https)?;
/// assert_eq!(parts.uri, "/search?q=lb");
/// assert_eq!(parts.headers["host"], "example.com");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn normalize_request_target(
    parts: &mut Parts,
    from: Version,
    to: Version,
    scheme: Scheme,
) -> Result<(), TargetError> {
    // Fast path, the common case: HTTP/1 to HTTP/1 in origin form. Only Host needs
    // checking; nothing is rewritten.
    if is_h1(from)
        && is_h1(to)
        && parts.method != Method::CONNECT
        && parts.uri.scheme().is_none()
        && parts.uri.authority().is_none()
        && parts.uri.path() != "*"
    {
        if let Some(value) = single_host(&mut parts.headers)? {
            if !value.is_empty() {
                check_host(value.as_bytes())?;
            }
        }
        return Ok(());
    }
    let host = single_host(&mut parts.headers)?;
    let host_authority = match &host {
        Some(value) if !value.is_empty() => Some(parse_host(value)?),
        _ => None,
    };

    let form = form_of(&parts.uri);
    let connect = parts.method == Method::CONNECT;
    // HTTP/2 extended CONNECT (RFC 8441) carries :scheme and :path.
    let extended_connect = connect && !is_h1(from) && form == Form::Absolute;
    match form {
        Form::Authority if !connect => return Err(TargetError::AuthorityForm),
        Form::Asterisk if parts.method != Method::OPTIONS => return Err(TargetError::AsteriskForm),
        Form::Origin | Form::Asterisk if connect => return Err(TargetError::ConnectTarget),
        Form::Absolute if connect && !extended_connect => return Err(TargetError::ConnectTarget),
        _ => {}
    }

    // The authority to forward, already checked against Host where required.
    let authority: Option<Authority> = match (form, parts.uri.authority()) {
        (Form::Authority, Some(target)) => {
            check_authority(target)?;
            if matches!(split_port(target.as_str()).1, None | Some("")) {
                return Err(TargetError::ConnectTarget);
            }
            if let Some(host) = &host_authority {
                if is_h1(from) && !same_authority(host, target, None) {
                    return Err(TargetError::HostMismatch);
                }
            }
            Some(target.clone())
        }
        (Form::Absolute, Some(target)) => {
            check_authority(target)?;
            if is_h1(from) {
                let default_port = default_port(parts.uri.scheme_str());
                if let Some(host) = &host_authority {
                    if !same_authority(host, target, default_port) {
                        return Err(TargetError::HostMismatch);
                    }
                }
                Some(without_default_port(target, default_port)?)
            } else {
                Some(target.clone())
            }
        }
        _ => host_authority,
    };

    if is_h1(to) {
        if extended_connect {
            return Err(TargetError::ExtendedConnect);
        }
        if form == Form::Absolute {
            parts.uri = origin_form(&parts.uri)?;
        }
        match authority {
            Some(authority) => {
                let value = HeaderValue::from_str(authority.as_str())
                    .map_err(|_| TargetError::InvalidTarget)?;
                parts.headers.insert(header::HOST, value);
            }
            None if !is_h1(from) => return Err(TargetError::MissingAuthority),
            None => {}
        }
    } else {
        let authority = authority.ok_or(TargetError::MissingAuthority)?;
        let mut uri = http::uri::Parts::default();
        if !connect || extended_connect {
            uri.scheme = Some(match parts.uri.scheme() {
                Some(s) => s.clone(),
                None => scheme.into(),
            });
            uri.path_and_query = Some(match parts.uri.path_and_query() {
                Some(pq) if !pq.as_str().is_empty() => pq.clone(),
                _ => PathAndQuery::from_static("/"),
            });
        }
        uri.authority = Some(authority);
        parts.uri = Uri::from_parts(uri).map_err(|_| TargetError::InvalidTarget)?;
        parts.headers.remove(header::HOST);
    }
    Ok(())
}

/// Collapses identical `Host` lines; refuses different ones.
fn single_host(headers: &mut HeaderMap) -> Result<Option<HeaderValue>, TargetError> {
    let mut values = headers.get_all(header::HOST).iter();
    let Some(first) = values.next().cloned() else {
        return Ok(None);
    };
    let mut duplicated = false;
    for other in values {
        if !other.as_bytes().eq_ignore_ascii_case(first.as_bytes()) {
            return Err(TargetError::ConflictingHosts);
        }
        duplicated = true;
    }
    if duplicated {
        headers.insert(header::HOST, first.clone());
    }
    Ok(Some(first))
}

fn parse_host(value: &HeaderValue) -> Result<Authority, TargetError> {
    let authority = Authority::try_from(value.as_bytes()).map_err(|_| TargetError::InvalidHost)?;
    if authority.as_str().contains('@') {
        return Err(TargetError::InvalidHost);
    }
    port_of(authority.as_str()).map_err(|_| TargetError::InvalidHost)?;
    Ok(authority)
}

/// Validates a `Host` value as [`parse_host`] does, without building an [`Authority`]:
/// RFC 3986 authority characters (reg-name, IP literal in brackets), no userinfo, a
/// numeric port that fits 16 bits.
fn check_host(value: &[u8]) -> Result<(), TargetError> {
    let ok = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
            )
    };
    if !value.iter().all(|&b| ok(b)) {
        return Err(TargetError::InvalidHost);
    }
    // All bytes are ASCII here.
    let s = std::str::from_utf8(value).map_err(|_| TargetError::InvalidHost)?;
    if s.starts_with('[') != s.contains(']') {
        return Err(TargetError::InvalidHost);
    }
    port_of(s).map_err(|_| TargetError::InvalidHost)?;
    Ok(())
}

/// Rejects userinfo and bad ports in a target's authority.
fn check_authority(authority: &Authority) -> Result<(), TargetError> {
    if authority.as_str().contains('@') {
        return Err(TargetError::UserInfo);
    }
    port_of(authority.as_str()).map(|_| ())
}

/// Splits `host[:port]` (with `[v6]` hosts) into host and the text after `:`, if any.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    let host_end = if authority.starts_with('[') {
        authority.find(']').map_or(authority.len(), |i| i + 1)
    } else {
        authority.rfind(':').unwrap_or(authority.len())
    };
    let (host, rest) = authority.split_at(host_end);
    (host, rest.strip_prefix(':'))
}

/// The port of `host[:port]`: `None` when absent or empty (`host:`).
fn port_of(authority: &str) -> Result<Option<u16>, TargetError> {
    match split_port(authority).1 {
        None | Some("") => Ok(None),
        Some(port) if port.bytes().all(|b| b.is_ascii_digit()) => port
            .parse::<u16>()
            .map(Some)
            .map_err(|_| TargetError::InvalidPort),
        Some(_) => Err(TargetError::InvalidPort),
    }
}

fn default_port(scheme: Option<&str>) -> Option<u16> {
    match scheme {
        Some(s) if s.eq_ignore_ascii_case("http") => Some(80),
        Some(s) if s.eq_ignore_ascii_case("https") => Some(443),
        _ => None,
    }
}

/// Same host (case-insensitively) and same port, a missing or empty port standing for
/// `default_port`.
fn same_authority(a: &Authority, b: &Authority, default_port: Option<u16>) -> bool {
    let (host_a, _) = split_port(a.as_str());
    let (host_b, _) = split_port(b.as_str());
    let port = |x: &Authority| port_of(x.as_str()).ok().flatten().or(default_port);
    host_a.eq_ignore_ascii_case(host_b) && port(a) == port(b)
}

/// Drops a default or empty port: `h:80` -> `h` for http.
fn without_default_port(
    authority: &Authority,
    default_port: Option<u16>,
) -> Result<Authority, TargetError> {
    let (host, port) = split_port(authority.as_str());
    let port_value = port_of(authority.as_str())?;
    let drop = port == Some("") || (port_value.is_some() && port_value == default_port);
    if !drop {
        return Ok(authority.clone());
    }
    Authority::from_maybe_shared(Bytes::copy_from_slice(host.as_bytes()))
        .map_err(|_| TargetError::InvalidTarget)
}

/// `scheme://a/p?q` -> `/p?q` (`/` for an empty path, as RFC 9112 §3.2.1 requires).
fn origin_form(uri: &Uri) -> Result<Uri, TargetError> {
    let pq = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    let pq = if pq.starts_with('/') || pq == "*" {
        PathAndQuery::from_maybe_shared(Bytes::copy_from_slice(pq.as_bytes()))
    } else {
        let mut owned = String::with_capacity(pq.len() + 1);
        owned.push('/');
        owned.push_str(pq);
        PathAndQuery::try_from(owned)
    }
    .map_err(|_| TargetError::InvalidTarget)?;
    Uri::from_parts({
        let mut parts = http::uri::Parts::default();
        parts.path_and_query = Some(pq);
        parts
    })
    .map_err(|_| TargetError::InvalidTarget)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;
    use proptest::prelude::*;

    const H1: Version = Version::HTTP_11;
    const H2: Version = Version::HTTP_2;

    fn parts(method: &str, uri: &str, hosts: &[&str]) -> Parts {
        let mut builder = Request::builder().method(method).uri(uri);
        for host in hosts {
            builder = builder.header("host", *host);
        }
        builder.body(()).expect("valid request").into_parts().0
    }

    fn run(
        method: &str,
        uri: &str,
        hosts: &[&str],
        from: Version,
        to: Version,
    ) -> Result<(String, Vec<String>), TargetError> {
        let mut p = parts(method, uri, hosts);
        normalize_request_target(&mut p, from, to, Scheme::Http)?;
        let hosts = p
            .headers
            .get_all("host")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect();
        Ok((p.uri.to_string(), hosts))
    }

    fn ok(uri: &str, hosts: &[&str]) -> (String, Vec<String>) {
        (
            uri.to_owned(),
            hosts.iter().map(|h| (*h).to_owned()).collect(),
        )
    }

    #[test]
    fn h1_origin_to_h1_is_unchanged() {
        assert_eq!(
            run("GET", "/a?b", &["example.com"], H1, H1),
            Ok(ok("/a?b", &["example.com"]))
        );
        // HTTP/1.0 without Host passes.
        assert_eq!(
            run("GET", "/", &[], Version::HTTP_10, Version::HTTP_10),
            Ok(ok("/", &[]))
        );
        assert_eq!(run("GET", "/", &[""], H1, H1), Ok(ok("/", &[""])));
    }

    #[test]
    fn duplicate_hosts() {
        assert_eq!(
            run("GET", "/", &["a.example", "A.EXAMPLE"], H1, H1),
            Ok(ok("/", &["a.example"]))
        );
        assert_eq!(
            run("GET", "/", &["a.example", "b.example"], H1, H1),
            Err(TargetError::ConflictingHosts)
        );
    }

    #[test]
    fn invalid_hosts() {
        for host in ["user@h", "h:port", "h:70000", "a b", "h/p"] {
            assert_eq!(
                run("GET", "/", &[host], H1, H1),
                Err(TargetError::InvalidHost),
                "{host}"
            );
        }
    }

    #[test]
    fn h1_absolute_to_h1_origin_and_host() {
        // Host added when missing, default port dropped.
        assert_eq!(
            run("GET", "http://Example.com:80/p?q", &[], H1, H1),
            Ok(ok("/p?q", &["Example.com"]))
        );
        // The URI authority wins over a matching Host (modulo default port, case).
        assert_eq!(
            run("GET", "http://example.com/p", &["EXAMPLE.com:80"], H1, H1),
            Ok(ok("/p", &["example.com"]))
        );
        assert_eq!(
            run(
                "GET",
                "https://example.com:/p",
                &["example.com:443"],
                H1,
                H1
            ),
            Ok(ok("/p", &["example.com"]))
        );
        assert_eq!(
            run(
                "GET",
                "https://example.com:8443/",
                &["example.com:8443"],
                H1,
                H1
            ),
            Ok(ok("/", &["example.com:8443"]))
        );
        assert_eq!(
            run("GET", "http://[::1]:80/", &["[::1]"], H1, H1),
            Ok(ok("/", &["[::1]"]))
        );
        // Query with an empty path.
        assert_eq!(
            run("GET", "http://h?x=1", &[], H1, H1),
            Ok(ok("/?x=1", &["h"]))
        );
    }

    #[test]
    fn h1_absolute_host_mismatch() {
        for (uri, host) in [
            ("http://example.com/", "other.com"),
            ("http://example.com/", "example.com:8080"),
            ("https://example.com/", "example.com:80"),
            ("http://example.com:8080/", "example.com"),
            ("foo://example.com/", "example.com:80"),
        ] {
            assert_eq!(
                run("GET", uri, &[host], H1, H1),
                Err(TargetError::HostMismatch),
                "{uri} vs {host}"
            );
        }
    }

    #[test]
    fn absolute_userinfo_and_port() {
        assert_eq!(
            run("GET", "http://user@h/", &[], H1, H1),
            Err(TargetError::UserInfo)
        );
        assert_eq!(
            run("GET", "http://h:99999/", &[], H1, H1),
            Err(TargetError::InvalidPort)
        );
        assert_eq!(
            run("GET", "http://user@h/", &[], H2, H1),
            Err(TargetError::UserInfo)
        );
    }

    #[test]
    fn request_target_validation_vectors() {
        // h1_request_target_validation.vtc
        assert!(run("OPTIONS", "*", &["h"], H1, H1).is_ok());
        assert!(run("OPTIONS", "/", &["h"], H1, H1).is_ok());
        assert!(run("OPTIONS", "http://h", &["h"], H1, H1).is_ok());
        assert_eq!(
            run("GET", "*", &["h"], H1, H1),
            Err(TargetError::AsteriskForm)
        );
        assert_eq!(
            run("CONNECT", "haproxy.org:80", &[], H1, H1),
            Ok(ok("haproxy.org:80", &["haproxy.org:80"]))
        );
        assert_eq!(
            run("CONNECT", "haproxy.org", &[], H1, H1),
            Err(TargetError::ConnectTarget)
        );
        assert_eq!(
            run("CONNECT", "haproxy.org:", &[], H1, H1),
            Err(TargetError::ConnectTarget)
        );
        assert_eq!(
            run("CONNECT", "/", &[], H1, H1),
            Err(TargetError::ConnectTarget)
        );
        assert_eq!(
            run("CONNECT", "http://h:80/", &[], H1, H1),
            Err(TargetError::ConnectTarget)
        );
        assert_eq!(
            run("GET", "haproxy.org:80", &[], H1, H1),
            Err(TargetError::AuthorityForm)
        );
        assert_eq!(
            run("GET", "admin", &[], H1, H1),
            Err(TargetError::AuthorityForm)
        );
    }

    #[test]
    fn connect_host_must_match_with_port() {
        assert!(run("CONNECT", "h:443", &["H:443"], H1, H1).is_ok());
        assert_eq!(
            run("CONNECT", "h:443", &["h"], H1, H1),
            Err(TargetError::HostMismatch)
        );
        // To HTTP/2: authority-only target, no Host.
        assert_eq!(
            run("CONNECT", "h:443", &["h:443"], H1, H2),
            Ok(ok("h:443", &[]))
        );
        // From HTTP/2 to HTTP/1: Host set from :authority.
        assert_eq!(
            run("CONNECT", "h:443", &[], H2, H1),
            Ok(ok("h:443", &["h:443"]))
        );
    }

    #[test]
    fn h1_to_h2_absolute_form() {
        assert_eq!(
            run("GET", "/p?q", &["example.com:8080"], H1, H2),
            Ok(ok("http://example.com:8080/p?q", &[]))
        );
        let mut p = parts("GET", "/", &["example.com"]);
        normalize_request_target(&mut p, H1, H2, Scheme::Https).expect("valid");
        assert_eq!(p.uri, "https://example.com/");
        // Absolute-form keeps its own scheme, normalised authority.
        assert_eq!(
            run("GET", "https://example.com:443/x", &[], H1, H2),
            Ok(ok("https://example.com/x", &[]))
        );
        assert_eq!(
            run("GET", "/", &[], H1, H2),
            Err(TargetError::MissingAuthority)
        );
        assert_eq!(
            run("GET", "/", &[""], H1, H2),
            Err(TargetError::MissingAuthority)
        );
    }

    #[test]
    fn h1_options_asterisk_to_h2() {
        let mut p = parts("OPTIONS", "*", &["example.com"]);
        normalize_request_target(&mut p, H1, H2, Scheme::Http).expect("valid");
        assert_eq!(p.uri.scheme_str(), Some("http"));
        assert_eq!(
            p.uri.authority().map(Authority::as_str),
            Some("example.com")
        );
        assert_eq!(p.uri.path(), "*");
        // ... and back.
        normalize_request_target(&mut p, H2, H1, Scheme::Http).expect("valid");
        assert_eq!(p.uri, "*");
        assert_eq!(p.headers["host"], "example.com");
    }

    #[test]
    fn h2_to_h1_origin_form_and_host() {
        assert_eq!(
            run("GET", "https://example.com/p?q", &[], H2, H1),
            Ok(ok("/p?q", &["example.com"]))
        );
        // :authority wins over a different Host.
        assert_eq!(
            run("GET", "https://example.com/", &["other.com"], H2, H1),
            Ok(ok("/", &["example.com"]))
        );
        // No :authority: Host is used.
        assert_eq!(
            run("GET", "/p", &["example.com"], H2, H1),
            Ok(ok("/p", &["example.com"]))
        );
        assert_eq!(
            run("GET", "/p", &[], H2, H1),
            Err(TargetError::MissingAuthority)
        );
    }

    #[test]
    fn h2_to_h2_keeps_authority_drops_host() {
        assert_eq!(
            run("GET", "https://example.com/p", &["example.com"], H2, H2),
            Ok(ok("https://example.com/p", &[]))
        );
        assert_eq!(
            run("GET", "/p", &["example.com"], H2, Version::HTTP_3),
            Ok(ok("http://example.com/p", &[]))
        );
    }

    #[test]
    fn extended_connect() {
        assert_eq!(
            run("CONNECT", "https://example.com/chat", &[], H2, H1),
            Err(TargetError::ExtendedConnect)
        );
        assert_eq!(
            run("CONNECT", "https://example.com/chat", &[], H2, H2),
            Ok(ok("https://example.com/chat", &[]))
        );
    }

    #[test]
    fn status_is_400() {
        assert_eq!(TargetError::HostMismatch.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn split_port_cases() {
        assert_eq!(split_port("h"), ("h", None));
        assert_eq!(split_port("h:"), ("h", Some("")));
        assert_eq!(split_port("h:80"), ("h", Some("80")));
        assert_eq!(split_port("[::1]"), ("[::1]", None));
        assert_eq!(split_port("[::1]:80"), ("[::1]", Some("80")));
        assert_eq!(split_port("[::1"), ("[::1", None));
    }

    proptest! {
        #[test]
        fn h1_origin_round_trips_through_h2(
            host in "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
            port in proptest::option::of(1u16..),
            path in "(/[a-zA-Z0-9._~%!$&'()*+,;=:@-]{0,8}){1,4}",
            query in proptest::option::of("[a-zA-Z0-9._~%!$&'()*+,;=:@/?-]{0,16}"),
            https in any::<bool>(),
        ) {
            let host = match port {
                Some(port) => format!("{host}:{port}"),
                None => host,
            };
            let target = match &query {
                Some(q) => format!("{path}?{q}"),
                None => path.clone(),
            };
            let scheme = if https { Scheme::Https } else { Scheme::Http };
            let mut p = parts("GET", &target, &[host.as_str()]);
            normalize_request_target(&mut p, H1, H2, scheme).expect("to h2");
            prop_assert_eq!(p.uri.scheme_str(), Some(scheme.as_str()));
            prop_assert_eq!(p.uri.authority().map(Authority::as_str), Some(host.as_str()));
            normalize_request_target(&mut p, H2, H1, scheme).expect("back to h1");
            prop_assert_eq!(p.uri.path(), path.as_str());
            prop_assert_eq!(p.uri.query(), query.as_deref());
            prop_assert_eq!(p.uri.to_string(), target);
            prop_assert_eq!(p.headers.get_all("host").iter().count(), 1);
            prop_assert_eq!(&p.headers["host"], host.as_str());
        }

        #[test]
        fn never_panics(
            method in prop_oneof![Just("GET"), Just("CONNECT"), Just("OPTIONS")],
            uri in "[a-z:/?*@\\[\\]0-9.]{0,20}",
            hosts in proptest::collection::vec("[a-zA-Z0-9:@\\[\\]. -]{0,12}", 0..3),
            from_h2 in any::<bool>(),
            to_h2 in any::<bool>(),
        ) {
            let Ok(uri) = uri.parse::<Uri>() else { return Ok(()); };
            let mut builder = Request::builder().method(method).uri(uri);
            for host in &hosts {
                if let Ok(value) = HeaderValue::from_str(host) {
                    builder = builder.header("host", value);
                }
            }
            let Ok(request) = builder.body(()) else { return Ok(()); };
            let (mut p, ()) = request.into_parts();
            let from = if from_h2 { H2 } else { H1 };
            let to = if to_h2 { H2 } else { H1 };
            if normalize_request_target(&mut p, from, to, Scheme::Http).is_ok() {
                if to_h2 {
                    prop_assert!(p.headers.get("host").is_none());
                    prop_assert!(p.uri.authority().is_some());
                } else {
                    prop_assert!(p.uri.scheme().is_none());
                    prop_assert!(p.headers.get_all("host").iter().count() <= 1);
                }
            }
        }
    }
}

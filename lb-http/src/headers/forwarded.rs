//! Forwarding headers: `X-Forwarded-For` (HAProxy's `option forwardfor`), `Forwarded`
//! (RFC 7239, HAProxy's `option forwarded`), `X-Forwarded-Proto`, `X-Forwarded-Host` and
//! `Via` (RFC 9110 §7.6.3).

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::Version;

use lb_core::matcher::IpNet;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The scheme of the connection a request arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain-text HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// 80 or 443.
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Scheme> for http::uri::Scheme {
    fn from(scheme: Scheme) -> Self {
        match scheme {
            Scheme::Http => http::uri::Scheme::HTTP,
            Scheme::Https => http::uri::Scheme::HTTPS,
        }
    }
}

/// HAProxy's `option forwardfor [except <net>] [header <name>] [if-none]`.
///
/// Adds the client's IP address as a *new* header line (never merged into an existing
/// one), unless the client is in the `except` network, or `if_none` is set and the header
/// is already present.
///
/// # Examples
/// ```
/// use lb_http::headers::ForwardFor;
///
/// let xff = ForwardFor::new().except("10.0.0.0/8".parse()?).if_none(true);
/// assert_eq!(xff.header_name(), "x-forwarded-for");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardFor {
    header: HeaderName,
    except: Option<IpNet>,
    if_none: bool,
}

impl ForwardFor {
    /// `X-Forwarded-For`, no exception, always added.
    pub fn new() -> Self {
        Self {
            header: X_FORWARDED_FOR,
            except: None,
            if_none: false,
        }
    }

    /// `header <name>`: the header to add. Default is `X-Forwarded-For`.
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = name;
        self
    }

    /// `except <net>`: do not add the header for clients in `net`. Default is none.
    pub fn except(mut self, net: IpNet) -> Self {
        self.except = Some(net);
        self
    }

    /// `if-none`: add the header only when the request has none. Default is `false`.
    pub fn if_none(mut self, if_none: bool) -> Self {
        self.if_none = if_none;
        self
    }

    /// The header this adds.
    pub fn header_name(&self) -> &HeaderName {
        &self.header
    }

    /// The excepted network, if any.
    pub fn except_net(&self) -> Option<IpNet> {
        self.except
    }

    /// Whether `if-none` is set.
    pub fn is_if_none(&self) -> bool {
        self.if_none
    }
}

impl Default for ForwardFor {
    fn default() -> Self {
        Self::new()
    }
}

/// The parameters of the RFC 7239 `Forwarded` header, as HAProxy's `option forwarded
/// [proto] [host] [by] [by_port] [for] [for_port]`.
///
/// The default is `for` alone, as HAProxy's option without arguments. Parameters are written
/// in HAProxy's order: `proto`, `host` (always quoted), `by`, `for`. IPv6 nodes are quoted
/// and bracketed (`for="[2001:db8::1]"`), as are nodes with a port (`for="192.0.2.1:4711"`).
/// A missing `by` address is written `unknown`.
///
/// # Examples
/// ```
/// use lb_http::headers::ForwardedParams;
///
/// let params = ForwardedParams::new().proto(true).host(true).for_port(true);
/// assert!(params.has_for());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ForwardedParams {
    proto: bool,
    host: bool,
    by: bool,
    by_port: bool,
    for_: bool,
    for_port: bool,
}

impl ForwardedParams {
    /// `for` alone.
    pub const fn new() -> Self {
        Self {
            proto: false,
            host: false,
            by: false,
            by_port: false,
            for_: true,
            for_port: false,
        }
    }

    /// `proto=http|https`. Default is off.
    pub const fn proto(mut self, on: bool) -> Self {
        self.proto = on;
        self
    }

    /// `host="<Host>"`. Default is off.
    pub const fn host(mut self, on: bool) -> Self {
        self.host = on;
        self
    }

    /// `by=<local address>`. Default is off.
    pub const fn by(mut self, on: bool) -> Self {
        self.by = on;
        self
    }

    /// Adds the local port to `by` (and turns `by` on). Default is off.
    pub const fn by_port(mut self, on: bool) -> Self {
        self.by_port = on;
        self.by |= on;
        self
    }

    /// `for=<client address>`. Default is on.
    pub const fn for_(mut self, on: bool) -> Self {
        self.for_ = on;
        self
    }

    /// Adds the client port to `for` (and turns `for` on). Default is off.
    pub const fn for_port(mut self, on: bool) -> Self {
        self.for_port = on;
        self.for_ |= on;
        self
    }

    /// Whether `for` is written.
    pub const fn has_for(&self) -> bool {
        self.for_
    }
}

impl Default for ForwardedParams {
    fn default() -> Self {
        Self::new()
    }
}

/// A `Via` received-by pseudonym (an RFC 9110 token, e.g. `lb`).
///
/// # Examples
/// ```
/// use lb_http::headers::Pseudonym;
///
/// let name: Pseudonym = "edge-1".parse()?;
/// assert_eq!(name.as_str(), "edge-1");
/// assert!("two words".parse::<Pseudonym>().is_err());
/// # Ok::<(), lb_http::headers::InvalidPseudonym>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pseudonym(Box<str>);

impl Pseudonym {
    /// The pseudonym.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Pseudonym {
    type Err = InvalidPseudonym;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.is_empty() && s.bytes().all(is_tchar) {
            Ok(Self(s.into()))
        } else {
            Err(InvalidPseudonym(s.to_owned()))
        }
    }
}

/// A `Via` pseudonym that is not an RFC 9110 token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid Via pseudonym `{0}`: must be a non-empty token")]
pub struct InvalidPseudonym(String);

/// Which forwarding headers a proxy adds to requests, for [`apply_forwarded`].
///
/// The default adds nothing.
///
/// # Examples
/// ```
/// use lb_http::headers::{ForwardFor, ForwardedOptions, ForwardedParams};
///
/// let opts = ForwardedOptions::new()
///     .forward_for(ForwardFor::new())
///     .forwarded(ForwardedParams::new().proto(true))
///     .x_forwarded_proto(true)
///     .via("lb".parse()?);
/// assert!(opts.forward_for_options().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForwardedOptions {
    forward_for: Option<ForwardFor>,
    forwarded: Option<ForwardedParams>,
    x_forwarded_proto: bool,
    x_forwarded_host: bool,
    via: Option<Pseudonym>,
}

impl ForwardedOptions {
    /// Adds nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `X-Forwarded-For` (or another name) as configured. Default is off.
    pub fn forward_for(mut self, xff: ForwardFor) -> Self {
        self.forward_for = Some(xff);
        self
    }

    /// Appends an RFC 7239 `Forwarded` element. Default is off.
    pub fn forwarded(mut self, params: ForwardedParams) -> Self {
        self.forwarded = Some(params);
        self
    }

    /// Sets `X-Forwarded-Proto: http|https`, replacing any value the client sent. Default
    /// is off.
    pub fn x_forwarded_proto(mut self, on: bool) -> Self {
        self.x_forwarded_proto = on;
        self
    }

    /// Sets `X-Forwarded-Host` to the request's host, replacing (or, without a host,
    /// removing) any value the client sent. Default is off.
    pub fn x_forwarded_host(mut self, on: bool) -> Self {
        self.x_forwarded_host = on;
        self
    }

    /// Appends `Via: <version> <pseudonym>`. Default is off.
    pub fn via(mut self, pseudonym: Pseudonym) -> Self {
        self.via = Some(pseudonym);
        self
    }

    /// The `X-Forwarded-For` settings, if enabled.
    pub fn forward_for_options(&self) -> Option<&ForwardFor> {
        self.forward_for.as_ref()
    }

    /// The `Forwarded` parameters, if enabled.
    pub fn forwarded_params(&self) -> Option<ForwardedParams> {
        self.forwarded
    }
}

/// Adds the forwarding headers `opts` asks for to a request about to be forwarded.
///
/// - `client`: the peer address (after PROXY protocol, if any); `local`: the address the
///   request was accepted on (`by=`), when known.
/// - `scheme`: of the client connection; `host`: the request's authority (`Host` or
///   `:authority`), for `host=` and `X-Forwarded-Host`.
/// - `version`: of the client request, for `Via` (`1.0`, `1.1`, `2`, `3`).
///
/// Headers are appended as new lines, as HAProxy does; `X-Forwarded-Proto` and
/// `X-Forwarded-Host` replace what the client sent. Call it after
/// [`strip_hop_by_hop`](super::strip_hop_by_hop).
///
/// # Examples
/// ```
/// use http::{HeaderMap, Version};
/// use lb_http::headers::{apply_forwarded, ForwardFor, ForwardedOptions, ForwardedParams, Scheme};
///
/// let opts = ForwardedOptions::new()
///     .forward_for(ForwardFor::new())
///     .forwarded(ForwardedParams::new().proto(true).for_port(true))
///     .via("lb".parse()?);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "203.0.113.9".parse()?);
/// apply_forwarded(
///     &mut headers,
///     &opts,
///     "[2001:db8::7]:50000".parse()?,
///     None,
///     Scheme::Https,
///     Some("example.com"),
///     Version::HTTP_2,
/// );
/// let xff: Vec<_> = headers.get_all("x-forwarded-for").iter().collect();
/// assert_eq!(xff, ["203.0.113.9", "2001:db8::7"]);
/// assert_eq!(headers["forwarded"], r#"proto=https;for="[2001:db8::7]:50000""#);
/// assert_eq!(headers["via"], "2 lb");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn apply_forwarded(
    req_headers: &mut HeaderMap,
    opts: &ForwardedOptions,
    client: SocketAddr,
    local: Option<SocketAddr>,
    scheme: Scheme,
    host: Option<&str>,
    version: Version,
) {
    if let Some(xff) = &opts.forward_for {
        let excepted = xff.except.is_some_and(|net| net.contains(client.ip()));
        let present = xff.if_none && req_headers.contains_key(&xff.header);
        if !excepted && !present {
            append_display(req_headers, xff.header.clone(), client.ip());
        }
    }

    if let Some(params) = opts.forwarded {
        let mut element = String::with_capacity(64);
        if params.proto {
            push_param(&mut element, "proto=");
            element.push_str(scheme.as_str());
        }
        if params.host {
            push_param(&mut element, "host=\"");
            if let Some(host) = host.filter(|h| is_rfc7239_host(h)) {
                element.push_str(host);
            }
            element.push('"');
        }
        if params.by {
            push_param(&mut element, "by=");
            match local {
                Some(addr) => push_node(&mut element, addr, params.by_port),
                None => element.push_str("unknown"),
            }
        }
        if params.for_ {
            push_param(&mut element, "for=");
            push_node(&mut element, client, params.for_port);
        }
        if !element.is_empty() {
            if let Ok(value) = HeaderValue::try_from(element) {
                req_headers.append(header::FORWARDED, value);
            }
        }
    }

    if opts.x_forwarded_proto {
        req_headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(scheme.as_str()));
    }

    if opts.x_forwarded_host {
        match host.and_then(|h| HeaderValue::from_str(h).ok()) {
            Some(value) => {
                req_headers.insert(X_FORWARDED_HOST, value);
            }
            None => {
                req_headers.remove(X_FORWARDED_HOST);
            }
        }
    }

    if let Some(pseudonym) = &opts.via {
        let mut via = String::with_capacity(4 + pseudonym.0.len());
        via.push_str(via_version(version));
        via.push(' ');
        via.push_str(&pseudonym.0);
        if let Ok(value) = HeaderValue::try_from(via) {
            req_headers.append(header::VIA, value);
        }
    }
}

/// The `Via` received-protocol for an HTTP version (protocol name omitted, RFC 9110
/// §7.6.3).
fn via_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

fn append_display(headers: &mut HeaderMap, name: HeaderName, value: impl fmt::Display) {
    if let Ok(value) = HeaderValue::try_from(value.to_string()) {
        headers.append(name, value);
    }
}

fn push_param(element: &mut String, param: &str) {
    if !element.is_empty() {
        element.push(';');
    }
    element.push_str(param);
}

/// An RFC 7239 node: `1.2.3.4`, `"1.2.3.4:80"`, `"[::1]"`, `"[::1]:80"`.
fn push_node(out: &mut String, addr: SocketAddr, with_port: bool) {
    let quoted = with_port || addr.is_ipv6();
    if quoted {
        out.push('"');
    }
    // Writing into a String cannot fail.
    let _ = match addr.ip() {
        IpAddr::V4(ip) => write!(out, "{ip}"),
        IpAddr::V6(ip) => write!(out, "[{ip}]"),
    };
    if with_port {
        let _ = write!(out, ":{}", addr.port());
    }
    if quoted {
        out.push('"');
    }
}

/// Whether `host` may be written inside a quoted `host=` value: an RFC 3986 authority
/// without userinfo, so never a quote or backslash.
fn is_rfc7239_host(host: &str) -> bool {
    !host.is_empty()
        && !host.contains('@')
        && host.parse::<http::uri::Authority>().is_ok()
        && !host.bytes().any(|b| b == b'"' || b == b'\\')
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect(s)
    }

    fn apply(
        headers: &mut HeaderMap,
        opts: &ForwardedOptions,
        client: &str,
        local: Option<&str>,
        host: Option<&str>,
    ) {
        apply_forwarded(
            headers,
            opts,
            addr(client),
            local.map(addr),
            Scheme::Http,
            host,
            Version::HTTP_11,
        );
    }

    fn values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("ascii"))
            .collect()
    }

    #[test]
    fn xff_appends_a_new_line() {
        let opts = ForwardedOptions::new().forward_for(ForwardFor::new());
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 2.2.2.2"),
        );
        apply(&mut headers, &opts, "192.0.2.1:1234", None, None);
        assert_eq!(
            values(&headers, "x-forwarded-for"),
            ["1.1.1.1, 2.2.2.2", "192.0.2.1"]
        );
    }

    #[test]
    fn xff_ipv6_is_bare() {
        let opts = ForwardedOptions::new().forward_for(ForwardFor::new());
        let mut headers = HeaderMap::new();
        apply(&mut headers, &opts, "[2001:db8::1]:443", None, None);
        assert_eq!(values(&headers, "x-forwarded-for"), ["2001:db8::1"]);
    }

    #[test]
    fn xff_except() {
        let opts = ForwardedOptions::new()
            .forward_for(ForwardFor::new().except("127.0.0.0/8".parse().expect("net")));
        let mut headers = HeaderMap::new();
        apply(&mut headers, &opts, "127.0.0.1:1", None, None);
        apply(&mut headers, &opts, "[::ffff:127.0.0.2]:1", None, None);
        assert!(headers.is_empty());
        apply(&mut headers, &opts, "10.0.0.1:1", None, None);
        assert_eq!(values(&headers, "x-forwarded-for"), ["10.0.0.1"]);
    }

    #[test]
    fn xff_if_none_and_custom_header() {
        let name = HeaderName::from_static("x-client-ip");
        let opts =
            ForwardedOptions::new().forward_for(ForwardFor::new().header(name).if_none(true));
        let mut headers = HeaderMap::new();
        apply(&mut headers, &opts, "10.0.0.1:1", None, None);
        apply(&mut headers, &opts, "10.0.0.2:1", None, None);
        assert_eq!(values(&headers, "x-client-ip"), ["10.0.0.1"]);
        assert!(headers.get("x-forwarded-for").is_none());
    }

    #[test]
    fn forwarded_default_is_for_only() {
        let opts = ForwardedOptions::new().forwarded(ForwardedParams::default());
        let mut headers = HeaderMap::new();
        apply(&mut headers, &opts, "192.0.2.43:5000", None, Some("h"));
        assert_eq!(values(&headers, "forwarded"), ["for=192.0.2.43"]);
    }

    #[test]
    fn forwarded_all_params() {
        let params = ForwardedParams::new()
            .proto(true)
            .host(true)
            .by_port(true)
            .for_port(true);
        let opts = ForwardedOptions::new().forwarded(params);
        let mut headers = HeaderMap::new();
        headers.append("forwarded", HeaderValue::from_static("for=198.51.100.17"));
        apply(
            &mut headers,
            &opts,
            "[2001:db8:cafe::17]:4711",
            Some("192.0.2.60:80"),
            Some("example.com:8080"),
        );
        assert_eq!(
            values(&headers, "forwarded"),
            [
                "for=198.51.100.17",
                r#"proto=http;host="example.com:8080";by="192.0.2.60:80";for="[2001:db8:cafe::17]:4711""#
            ]
        );
    }

    #[test]
    fn forwarded_unknown_by_and_bad_host() {
        let params = ForwardedParams::new().host(true).by(true).for_(false);
        let opts = ForwardedOptions::new().forwarded(params);
        let mut headers = HeaderMap::new();
        apply(&mut headers, &opts, "10.0.0.1:1", None, Some("a\"b"));
        apply(&mut headers, &opts, "10.0.0.1:1", Some("[::1]:80"), None);
        assert_eq!(
            values(&headers, "forwarded"),
            [r#"host="";by=unknown"#, r#"host="";by="[::1]""#]
        );
    }

    #[test]
    fn forwarded_nothing_enabled_adds_nothing() {
        let params = ForwardedParams::new().for_(false);
        let opts = ForwardedOptions::new().forwarded(params);
        let mut headers = HeaderMap::new();
        apply(&mut headers, &opts, "10.0.0.1:1", None, None);
        assert!(headers.is_empty());
    }

    #[test]
    fn x_forwarded_proto_and_host_replace() {
        let opts = ForwardedOptions::new()
            .x_forwarded_proto(true)
            .x_forwarded_host(true);
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-proto", HeaderValue::from_static("https"));
        headers.append("x-forwarded-host", HeaderValue::from_static("evil"));
        apply(&mut headers, &opts, "10.0.0.1:1", None, Some("example.com"));
        assert_eq!(values(&headers, "x-forwarded-proto"), ["http"]);
        assert_eq!(values(&headers, "x-forwarded-host"), ["example.com"]);

        apply_forwarded(
            &mut headers,
            &opts,
            addr("10.0.0.1:1"),
            None,
            Scheme::Https,
            None,
            Version::HTTP_11,
        );
        assert_eq!(values(&headers, "x-forwarded-proto"), ["https"]);
        assert!(headers.get("x-forwarded-host").is_none());
    }

    #[test]
    fn via_versions() {
        let opts = ForwardedOptions::new().via("lb".parse().expect("token"));
        let mut headers = HeaderMap::new();
        headers.append("via", HeaderValue::from_static("1.1 cdn"));
        for version in [
            Version::HTTP_09,
            Version::HTTP_10,
            Version::HTTP_11,
            Version::HTTP_2,
            Version::HTTP_3,
        ] {
            apply_forwarded(
                &mut headers,
                &opts,
                addr("10.0.0.1:1"),
                None,
                Scheme::Http,
                None,
                version,
            );
        }
        assert_eq!(
            values(&headers, "via"),
            ["1.1 cdn", "0.9 lb", "1.0 lb", "1.1 lb", "2 lb", "3 lb"]
        );
    }

    #[test]
    fn pseudonym_validation() {
        assert!("lb".parse::<Pseudonym>().is_ok());
        assert!("proxy.example.com".parse::<Pseudonym>().is_ok());
        assert!("".parse::<Pseudonym>().is_err());
        assert!("a b".parse::<Pseudonym>().is_err());
        assert!("a,b".parse::<Pseudonym>().is_err());
        assert!("é".parse::<Pseudonym>().is_err());
    }

    #[test]
    fn default_options_add_nothing() {
        let mut headers = HeaderMap::new();
        apply(
            &mut headers,
            &ForwardedOptions::default(),
            "10.0.0.1:1",
            None,
            Some("h"),
        );
        assert!(headers.is_empty());
    }

    #[test]
    fn scheme_helpers() {
        assert_eq!(Scheme::Http.to_string(), "http");
        assert_eq!(Scheme::Https.default_port(), 443);
        assert_eq!(
            http::uri::Scheme::from(Scheme::Https),
            http::uri::Scheme::HTTPS
        );
    }
}

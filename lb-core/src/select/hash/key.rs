//! Key extraction for the hash-based algorithms.
//!
//! Every function borrows from its input and allocates nothing; none panics,
//! whatever the input. They return the bytes HAProxy would hash; hash them
//! with [`HashType::hash`](super::HashType::hash).
//!
//! | algorithm | extractor |
//! |---|---|
//! | `balance uri [len N] [depth N] [whole] [path-only]` | [`uri_key`] |
//! | `balance url_param <name> [check_post]` | [`url_param`], then [`url_param_in_body`] |
//! | `balance hdr(<name>) [use_domain_only]` | the header value, or [`domain_only`] of it |
//! | `balance rdp-cookie[(<name>)]` | [`rdp_cookie`] ([`parse_rdp_cookie`] to wait for more data) |
//!
//! A `None` means "no key": HAProxy then falls back to round robin.
//!
//! # Examples
//!
//! ```
//! use lb_core::select::hash::key::{domain_only, uri_key, url_param, UriOptions};
//!
//! let opts = UriOptions { depth: Some(1), ..UriOptions::default() };
//! assert_eq!(uri_key("/img/logo.png?v=3", &opts), "/img");
//! assert_eq!(url_param("/cart?user=42&x=1", "user"), Some("42"));
//! assert_eq!(domain_only("haproxy.1wt.eu"), "1wt");
//! ```

/// The cookie name `balance rdp-cookie` uses when none is given.
pub const RDP_COOKIE_DEFAULT: &str = "mstshash";

/// Options of `balance uri`.
///
/// `Default` hashes the request target up to (not including) the first `?`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UriOptions {
    /// `len N`: hash at most the first N bytes. `Some(0)` is the same as
    /// `None` (HAProxy's parser rejects 0 and treats an unset length as 0).
    pub len: Option<usize>,
    /// `depth N`: hash at most N directory levels, stopping before the
    /// (N+1)th `/`. `Some(0)` is the same as `None`, as for `len`.
    pub depth: Option<usize>,
    /// `whole`: do not stop at `?`; the query string is hashed too.
    pub whole: bool,
    /// `path-only`: drop the scheme and authority of an absolute URI first,
    /// so `http://host/a` and `/a` (HTTP/1 origin form vs HTTP/2) hash alike.
    pub path_only: bool,
}

/// The part of a request target `balance uri` hashes.
///
/// In order, as HAProxy's `get_server_uh`:
/// 1. `path_only`: the path of an absolute URI (from the first `/` after
///    `scheme://authority`, query included); an origin-form target (`/…`) is
///    kept whole; `*`, an authority-form target (`host:443`) or an absolute
///    URI without a path give `""`.
/// 2. `len`: keep at most that many bytes. HAProxy counts bytes; a cut inside
///    a multi-byte UTF-8 character backs off to the character's start (a
///    `&str` cannot be split there; request targets are ASCII in practice).
/// 3. stop before the first `?` unless `whole`, and before the (depth+1)th
///    `/` if `depth` is set, whichever comes first.
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::key::{uri_key, UriOptions};
///
/// let d = UriOptions::default();
/// assert_eq!(uri_key("/a/b/c?x=1", &d), "/a/b/c");
/// let whole = UriOptions { whole: true, ..d };
/// assert_eq!(uri_key("/a/b/c?x=1", &whole), "/a/b/c?x=1");
/// let depth2 = UriOptions { depth: Some(2), ..d };
/// assert_eq!(uri_key("/a/b/c?x=1", &depth2), "/a/b");
/// let len3 = UriOptions { len: Some(3), ..d };
/// assert_eq!(uri_key("/a/b/c?x=1", &len3), "/a/");
/// let path_only = UriOptions { path_only: true, ..d };
/// assert_eq!(uri_key("http://h/a?b", &path_only), "/a");
/// ```
pub fn uri_key<'a>(uri: &'a str, opts: &UriOptions) -> &'a str {
    let mut s = if opts.path_only { uri_path(uri) } else { uri };
    if let Some(len) = opts.len.filter(|&n| n > 0) {
        if len < s.len() {
            let mut cut = len;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s = &s[..cut];
        }
    }
    // HAProxy stores depth+1 and stops when the slash count reaches it.
    let stop_slash = opts.depth.filter(|&n| n > 0).map(|n| n.saturating_add(1));
    let mut slashes = 0usize;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'/' => {
                slashes += 1;
                if Some(slashes) == stop_slash {
                    return &s[..i];
                }
            }
            b'?' if !opts.whole => return &s[..i],
            _ => {}
        }
    }
    s
}

/// The path (and query) of a request target, as HAProxy's `http_parse_path`.
fn uri_path(uri: &str) -> &str {
    let bytes = uri.as_bytes();
    match bytes.first() {
        None | Some(b'*') => return "",
        Some(b'/') => return uri,
        Some(c) if !c.is_ascii_alphabetic() => return "",
        Some(_) => {}
    }
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) then "://";
    // anything else is an authority-form target, which has no path.
    let scheme_len = bytes
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
        .unwrap_or(bytes.len());
    let Some(rest) = uri.get(scheme_len..).and_then(|r| r.strip_prefix("://")) else {
        return "";
    };
    match rest.find('/') {
        Some(start) => &rest[start..],
        None => "",
    }
}

/// The value of the query parameter `name`, for `balance url_param`.
///
/// The query is the part after the first `?` if there is one; otherwise the
/// whole input is taken as a query string, except that an origin-form target
/// (starting with `/`) without `?` has no parameters. Parameters are split on
/// `&` only (HAProxy's `get_server_ph` does not treat `;` as a delimiter); the
/// name matches exactly and case-sensitively; the value runs to the next `&`
/// or the end. The first occurrence wins. `None` if the parameter is absent,
/// if its (first) value is empty (HAProxy's documentation: round robin), or
/// if `name` is empty.
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::key::url_param;
///
/// assert_eq!(url_param("/p?a=1&userid=42&b=2", "userid"), Some("42"));
/// assert_eq!(url_param("a=1&userid=42", "userid"), Some("42"));
/// assert_eq!(url_param("/p?UserId=42", "userid"), None);
/// assert_eq!(url_param("/p?userid=&a=1", "userid"), None);
/// assert_eq!(url_param("/p/userid=42", "userid"), None);
/// ```
pub fn url_param<'a>(uri_or_query: &'a str, name: &str) -> Option<&'a str> {
    let query = match uri_or_query.find('?') {
        Some(q) => &uri_or_query[q + 1..],
        None if uri_or_query.starts_with('/') => return None,
        None => uri_or_query,
    };
    if name.is_empty() {
        return None;
    }
    let value = query
        .split('&')
        .find_map(|param| param.strip_prefix(name)?.strip_prefix('='))?;
    (!value.is_empty()).then_some(value)
}

/// The value of the form parameter `name` in a request body, for
/// `balance url_param <name> check_post`.
///
/// As HAProxy's `get_server_ph_post`: the body (only what is buffered: pass
/// the first chunk) is scanned as `a=1&b=2`, names match exactly and
/// case-sensitively, the first occurrence wins. The value runs to the next
/// `&`, the end, or the first CR, LF, space or tab. A value whose first byte
/// is neither an HTTP token character nor one of those blanks means the body
/// is not URL-encoded: `None`, as HAProxy. `None` as well when the parameter
/// is absent or its value empty.
///
/// Deviation: HAProxy only tests the value's first byte (its loop reads the
/// start pointer, not the cursor), so it hashes past a later blank; we stop
/// at any blank, which is what its comment ("eol, uncertain uri len") means.
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::key::url_param_in_body;
///
/// assert_eq!(url_param_in_body(b"user=bob&x=1", "user"), Some(&b"bob"[..]));
/// assert_eq!(url_param_in_body(b"user=bob\r\n", "user"), Some(&b"bob"[..]));
/// assert_eq!(url_param_in_body(b"user=\x00\x01", "user"), None);
/// ```
pub fn url_param_in_body<'a>(body: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let name = name.as_bytes();
    if name.is_empty() {
        return None;
    }
    let value = body
        .split(|&b| b == b'&')
        .find_map(|param| param.strip_prefix(name)?.strip_prefix(b"="))?;
    let first = *value.first()?;
    if !is_token(first) && !is_lws(first) {
        return None;
    }
    let end = value.iter().position(|&b| is_lws(b)).unwrap_or(value.len());
    let value = &value[..end];
    (!value.is_empty()).then_some(value)
}

/// RFC 9110 `tchar`.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// HAProxy's `HTTP_IS_LWS`: space, tab, CR, LF.
fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The label before the top-level domain, for `hdr(host) use_domain_only`.
///
/// As HAProxy's `get_server_hh`: the text between the last two dots
/// (`"haproxy.1wt.eu"` gives `"1wt"`, `"www.example.co.uk"` gives `"co"`),
/// the text before the only dot (`"example.com"` gives `"example"`), or the
/// whole name if it has no dot. A trailing dot is not special
/// (`"example.com."` gives `"com"`, as HAProxy).
///
/// Deviation: a `:port` suffix (digits only) is removed first, and the
/// brackets of an IPv6 literal are kept as they are (`"[::1]:8080"` gives
/// `"[::1]"`). HAProxy keeps the port, which only matters without a dot
/// (`"localhost:8080"`).
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::key::domain_only;
///
/// assert_eq!(domain_only("haproxy.1wt.eu"), "1wt");
/// assert_eq!(domain_only("haproxy.1wt.eu:8443"), "1wt");
/// assert_eq!(domain_only("localhost"), "localhost");
/// ```
pub fn domain_only(host: &str) -> &str {
    let host = strip_port(host);
    let Some(last_dot) = host.rfind('.') else {
        return host;
    };
    let label = &host[..last_dot];
    match label.rfind('.') {
        Some(dot) => &label[dot + 1..],
        None => label,
    }
}

fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(colon)
            if host[colon + 1..].bytes().all(|b| b.is_ascii_digit())
                && (!host[..colon].contains(':') || host[..colon].ends_with(']')) =>
        {
            &host[..colon]
        }
        _ => host,
    }
}

/// What [`parse_rdp_cookie`] found in an RDP connection request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RdpCookie<'a> {
    /// The cookie's value (possibly empty).
    Found(&'a [u8]),
    /// The payload is too short to decide: wait for more bytes (HAProxy's
    /// `SMP_F_MAY_CHANGE`, what `req.rdp_cookie_cnt` waits on).
    NeedMore,
    /// The payload does not carry that cookie: no key.
    Absent,
}

/// The `Cookie: <name>=<value>\r\n` routing token of an RDP connection
/// request, for `balance rdp-cookie[(<name>)]`. `None` when there is none,
/// when the payload is still incomplete, or when the value is empty (HAProxy
/// falls back to round robin in all three cases).
///
/// See [`parse_rdp_cookie`] for the format and to tell "wait for more" from
/// "absent". The default name is [`RDP_COOKIE_DEFAULT`].
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::key::rdp_cookie;
///
/// // TPKT (4 bytes) + X.224 connection request header (7 bytes), then the token.
/// let mut pdu = vec![3, 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0];
/// pdu.extend_from_slice(b"Cookie: mstshash=alice\r\n");
/// assert_eq!(rdp_cookie(&pdu, "mstshash"), Some(&b"alice"[..]));
/// assert_eq!(rdp_cookie(&pdu, "MSTSHASH"), Some(&b"alice"[..]));
/// assert_eq!(rdp_cookie(&pdu, "other"), None);
/// ```
pub fn rdp_cookie<'a>(payload: &'a [u8], name: &str) -> Option<&'a [u8]> {
    match parse_rdp_cookie(payload, name) {
        RdpCookie::Found(value) if !value.is_empty() => Some(value),
        _ => None,
    }
}

/// Parses the routing token of an RDP connection request, as HAProxy's
/// `fetch_rdp_cookie_name` (`src/payload.c`).
///
/// The token starts right after the 11-byte TPKT + X.224 header: `Cookie:`
/// (case-insensitive), optional spaces, then `<name>=` (name compared
/// case-insensitively; an empty `name` accepts any name, which must not
/// contain CR or LF), then the value up to a CR that must be followed by LF.
/// Like HAProxy, a payload of 11 bytes or less, or one that ends before the
/// `\r\n`, is [`RdpCookie::NeedMore`].
///
/// # Examples
///
/// ```
/// use lb_core::select::hash::key::{parse_rdp_cookie, RdpCookie};
///
/// let mut pdu = vec![0u8; 11];
/// pdu.extend_from_slice(b"Cookie: mstshash=bob");
/// assert_eq!(parse_rdp_cookie(&pdu, "mstshash"), RdpCookie::NeedMore);
/// pdu.extend_from_slice(b"\r\n");
/// assert_eq!(parse_rdp_cookie(&pdu, "mstshash"), RdpCookie::Found(b"bob"));
/// assert_eq!(parse_rdp_cookie(&pdu, ""), RdpCookie::Found(b"bob"));
/// ```
pub fn parse_rdp_cookie<'a>(payload: &'a [u8], name: &str) -> RdpCookie<'a> {
    const HEADER: usize = 11;
    const PREFIX: &[u8] = b"Cookie:";
    let Some(data) = payload.get(HEADER..).filter(|d| !d.is_empty()) else {
        return RdpCookie::NeedMore;
    };
    if data.len() <= PREFIX.len() {
        return RdpCookie::NeedMore;
    }
    if !data[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return RdpCookie::Absent;
    }
    let data = &data[PREFIX.len()..];
    let spaces = data.iter().take_while(|&&b| b == b' ').count();
    let data = &data[spaces..];

    let name = name.as_bytes();
    let value = if name.is_empty() {
        match data.iter().position(|&b| matches!(b, b'=' | b'\r' | b'\n')) {
            None => return RdpCookie::NeedMore,
            Some(i) if data[i] == b'=' => &data[i + 1..],
            Some(_) => return RdpCookie::Absent,
        }
    } else {
        if data.len() <= name.len() {
            return RdpCookie::NeedMore;
        }
        if data[name.len()] != b'=' || !data[..name.len()].eq_ignore_ascii_case(name) {
            return RdpCookie::Absent;
        }
        &data[name.len() + 1..]
    };

    match value.iter().position(|&b| b == b'\r') {
        None => RdpCookie::NeedMore,
        Some(cr) => match value.get(cr + 1) {
            None => RdpCookie::NeedMore,
            Some(b'\n') => RdpCookie::Found(&value[..cr]),
            Some(_) => RdpCookie::Absent,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opts(len: Option<usize>, depth: Option<usize>, whole: bool, path_only: bool) -> UriOptions {
        UriOptions {
            len,
            depth,
            whole,
            path_only,
        }
    }

    #[test]
    fn uri_default_stops_at_question_mark() {
        let d = UriOptions::default();
        assert_eq!(uri_key("/url1", &d), "/url1");
        assert_eq!(uri_key("/url1?ignore=this-arg", &d), "/url1");
        assert_eq!(uri_key("?x", &d), "");
        assert_eq!(uri_key("", &d), "");
        assert_eq!(uri_key("/a?b?c", &d), "/a");
    }

    #[test]
    fn uri_whole_keeps_query() {
        let w = opts(None, None, true, false);
        assert_eq!(
            uri_key("/url1?ignore=this-arg", &w),
            "/url1?ignore=this-arg"
        );
    }

    #[test]
    fn uri_len_truncates() {
        assert_eq!(
            uri_key("/abcdef", &opts(Some(4), None, false, false)),
            "/abc"
        );
        assert_eq!(uri_key("/ab", &opts(Some(40), None, false, false)), "/ab");
        // len limits the scan before '?' is looked for.
        assert_eq!(
            uri_key("/ab?cd", &opts(Some(5), None, true, false)),
            "/ab?c"
        );
        assert_eq!(uri_key("/ab?cd", &opts(Some(5), None, false, false)), "/ab");
        // Some(0) = unset.
        assert_eq!(uri_key("/abc", &opts(Some(0), None, false, false)), "/abc");
        // A cut inside a UTF-8 character backs off to its start.
        assert_eq!(uri_key("/é", &opts(Some(2), None, false, false)), "/");
        assert_eq!(uri_key("/é", &opts(Some(3), None, false, false)), "/é");
    }

    #[test]
    fn uri_depth_stops_before_next_slash() {
        let u = "/a/b/c/d?x=/y";
        assert_eq!(uri_key(u, &opts(None, Some(1), false, false)), "/a");
        assert_eq!(uri_key(u, &opts(None, Some(2), false, false)), "/a/b");
        assert_eq!(uri_key(u, &opts(None, Some(3), false, false)), "/a/b/c");
        assert_eq!(uri_key(u, &opts(None, Some(4), false, false)), "/a/b/c/d");
        assert_eq!(uri_key(u, &opts(None, Some(9), false, false)), "/a/b/c/d");
        // With whole, slashes in the query count too.
        assert_eq!(uri_key(u, &opts(None, Some(4), true, false)), "/a/b/c/d?x=");
        assert_eq!(uri_key("/a/", &opts(None, Some(1), false, false)), "/a");
        assert_eq!(uri_key(u, &opts(None, Some(0), false, false)), "/a/b/c/d");
        assert_eq!(
            uri_key(u, &opts(None, Some(usize::MAX), false, false)),
            "/a/b/c/d"
        );
    }

    #[test]
    fn uri_len_and_depth_first_wins() {
        let u = "/aaaa/bbbb/cccc";
        assert_eq!(uri_key(u, &opts(Some(3), Some(2), false, false)), "/aa");
        assert_eq!(
            uri_key(u, &opts(Some(12), Some(2), false, false)),
            "/aaaa/bbbb"
        );
    }

    #[test]
    fn uri_path_only() {
        let p = opts(None, None, false, true);
        // balance-uri-path-only.vtc: absolute and origin forms hash alike.
        assert_eq!(uri_key("http://127.0.0.1:8080/url1", &p), "/url1");
        assert_eq!(uri_key("/url1?ignore=this-arg", &p), "/url1");
        assert_eq!(uri_key("https://h/url2", &p), "/url2");
        assert_eq!(uri_key("http://h/a?b", &p), "/a");
        assert_eq!(uri_key("http://user@h/a/b", &p), "/a/b");
        assert_eq!(uri_key("http://h", &p), "");
        assert_eq!(uri_key("http://h?x", &p), "");
        assert_eq!(uri_key("*", &p), "");
        assert_eq!(uri_key("", &p), "");
        assert_eq!(uri_key("h:443", &p), "");
        assert_eq!(uri_key("1http://h/a", &p), "");
        assert_eq!(uri_key("svn+ssh://h/r", &p), "/r");
        // Without path_only the absolute URI is hashed as is.
        assert_eq!(
            uri_key("http://h/a?b", &UriOptions::default()),
            "http://h/a"
        );
        // Options apply to the path.
        assert_eq!(
            uri_key("http://h/a/b/c", &opts(Some(4), Some(9), false, true)),
            "/a/b"
        );
        let hashed =
            |u: &str| super::super::HashType::map_based().hash(uri_key(u, &p).as_bytes()) % 4;
        assert_eq!(hashed("http://127.0.0.1:1/url1"), 1);
        assert_eq!(hashed("http://127.0.0.1:1/url2"), 2);
        assert_eq!(hashed("/url3"), 3);
        assert_eq!(hashed("/url4"), 0);
    }

    #[test]
    fn url_param_cases() {
        assert_eq!(url_param("/p?userid=42", "userid"), Some("42"));
        assert_eq!(url_param("/p?a=1&userid=42&b=2", "userid"), Some("42"));
        assert_eq!(url_param("/p?a=1&userid=42", "userid"), Some("42"));
        assert_eq!(url_param("userid=42", "userid"), Some("42"));
        assert_eq!(url_param("?userid=42", "userid"), Some("42"));
        // Exact name: no prefix/suffix matches, case-sensitive.
        assert_eq!(url_param("/p?xuserid=1&userid2=2", "userid"), None);
        assert_eq!(url_param("/p?USERID=1", "userid"), None);
        // First occurrence wins; '=' inside the value is kept.
        assert_eq!(url_param("/p?u=1&u=2", "u"), Some("1"));
        assert_eq!(url_param("/p?u=a=b", "u"), Some("a=b"));
        // ';' is not a delimiter.
        assert_eq!(url_param("/p?a=1;u=2", "u"), None);
        assert_eq!(url_param("/p?u=1;a=2", "u"), Some("1;a=2"));
        // Empty or missing.
        assert_eq!(url_param("/p?u=", "u"), None);
        assert_eq!(url_param("/p?u=&u=3", "u"), None);
        assert_eq!(url_param("/p?u", "u"), None);
        assert_eq!(url_param("/p", "u"), None);
        assert_eq!(url_param("/p/u=1", "u"), None);
        assert_eq!(url_param("/p?", "u"), None);
        assert_eq!(url_param("", "u"), None);
        assert_eq!(url_param("/p?=1", ""), None);
        // Only the first '?' starts the query.
        assert_eq!(url_param("/p?a=?&u=1", "u"), Some("1"));
    }

    #[test]
    fn url_param_in_body_cases() {
        let f = |b: &'static [u8], n| url_param_in_body(b, n);
        assert_eq!(f(b"user=bob", "user"), Some(&b"bob"[..]));
        assert_eq!(f(b"a=1&user=bob&b=2", "user"), Some(&b"bob"[..]));
        assert_eq!(f(b"a=1&user=bob\r\n", "user"), Some(&b"bob"[..]));
        assert_eq!(f(b"user=bob smith", "user"), Some(&b"bob"[..]));
        assert_eq!(f(b"user=a%2Fb+c", "user"), Some(&b"a%2Fb+c"[..]));
        assert_eq!(f(b"user=a/b", "user"), Some(&b"a/b"[..]));
        assert_eq!(f(b"User=bob", "user"), None);
        assert_eq!(f(b"user=", "user"), None);
        assert_eq!(f(b"user=\r\n", "user"), None);
        assert_eq!(f(b"user={\"x\"}", "user"), None);
        assert_eq!(f(b"\x00\xffuser=1", "user"), None);
        assert_eq!(f(b"", "user"), None);
        assert_eq!(f(b"=1", ""), None);
        assert_eq!(f(b"{\"user\":\"bob\"}", "user"), None);
    }

    #[test]
    fn domain_only_cases() {
        assert_eq!(domain_only("haproxy.1wt.eu"), "1wt");
        assert_eq!(domain_only("www.example.com"), "example");
        assert_eq!(domain_only("a.b.c.example.com"), "example");
        assert_eq!(domain_only("example.com"), "example");
        assert_eq!(domain_only("localhost"), "localhost");
        assert_eq!(domain_only(""), "");
        assert_eq!(domain_only("www.example.co.uk"), "co");
        assert_eq!(domain_only("example.com."), "com");
        assert_eq!(domain_only(".com"), "");
        assert_eq!(domain_only("a..b"), "");
        // Port handling.
        assert_eq!(domain_only("haproxy.1wt.eu:8080"), "1wt");
        assert_eq!(domain_only("localhost:8080"), "localhost");
        assert_eq!(domain_only("example.com:"), "example");
        assert_eq!(domain_only("[::1]:8080"), "[::1]");
        assert_eq!(domain_only("[::1]"), "[::1]");
        assert_eq!(domain_only("10.0.0.1:80"), "0");
        assert_eq!(domain_only("host:abc"), "host:abc");
    }

    fn pdu(token: &[u8]) -> Vec<u8> {
        let mut v = vec![0x03, 0x00, 0x00, 0x2f, 0x2a, 0xe0, 0, 0, 0, 0, 0];
        v.extend_from_slice(token);
        v
    }

    #[test]
    fn rdp_cookie_cases() {
        let p = pdu(b"Cookie: mstshash=alice\r\n\x01\x00\x08\x00\x03\x00\x00\x00");
        assert_eq!(rdp_cookie(&p, RDP_COOKIE_DEFAULT), Some(&b"alice"[..]));
        assert_eq!(rdp_cookie(&p, "MstsHash"), Some(&b"alice"[..]));
        assert_eq!(rdp_cookie(&p, ""), Some(&b"alice"[..]));
        assert_eq!(rdp_cookie(&p, "msts"), None);
        assert_eq!(parse_rdp_cookie(&p, "msts"), RdpCookie::Absent);
        assert_eq!(parse_rdp_cookie(&p, "mstshash2"), RdpCookie::Absent);

        // Case-insensitive "Cookie:", any number of spaces (or none).
        let p = pdu(b"COOKIE:mstshash=bob\r\n");
        assert_eq!(rdp_cookie(&p, "mstshash"), Some(&b"bob"[..]));
        let p = pdu(b"cookie:    mstshash=bob\r\n");
        assert_eq!(rdp_cookie(&p, "mstshash"), Some(&b"bob"[..]));

        // Empty value: found, but no key.
        let p = pdu(b"Cookie: mstshash=\r\n");
        assert_eq!(parse_rdp_cookie(&p, "mstshash"), RdpCookie::Found(b""));
        assert_eq!(rdp_cookie(&p, "mstshash"), None);

        // Not a cookie.
        assert_eq!(
            parse_rdp_cookie(&pdu(b"Hello: x=y\r\n"), "x"),
            RdpCookie::Absent
        );
        assert_eq!(
            parse_rdp_cookie(&pdu(b"Cookie: name\r\n=x"), ""),
            RdpCookie::Absent
        );
        assert_eq!(
            parse_rdp_cookie(&pdu(b"Cookie: a=b\rX"), "a"),
            RdpCookie::Absent
        );

        // Incomplete: wait for more.
        assert_eq!(parse_rdp_cookie(&[], "a"), RdpCookie::NeedMore);
        assert_eq!(parse_rdp_cookie(&[0; 11], "a"), RdpCookie::NeedMore);
        assert_eq!(parse_rdp_cookie(&pdu(b"Cookie:"), "a"), RdpCookie::NeedMore);
        assert_eq!(parse_rdp_cookie(&pdu(b"Cook"), "a"), RdpCookie::NeedMore);
        assert_eq!(
            parse_rdp_cookie(&pdu(b"Cookie: mstsh"), "mstshash"),
            RdpCookie::NeedMore
        );
        assert_eq!(
            parse_rdp_cookie(&pdu(b"Cookie: mstshash"), "mstshash"),
            RdpCookie::NeedMore
        );
        assert_eq!(
            parse_rdp_cookie(&pdu(b"Cookie: mstshash=x"), "mstshash"),
            RdpCookie::NeedMore
        );
        assert_eq!(
            parse_rdp_cookie(&pdu(b"Cookie: mstshash=x\r"), "mstshash"),
            RdpCookie::NeedMore
        );
        assert_eq!(
            parse_rdp_cookie(&pdu(b"Cookie: abc"), ""),
            RdpCookie::NeedMore
        );
        assert_eq!(rdp_cookie(&pdu(b"Cookie: mstshash=x\r"), "mstshash"), None);
    }

    proptest! {
        #[test]
        fn uri_key_is_a_prefix_and_never_panics(
            uri in "\\PC{0,40}",
            len in proptest::option::of(0usize..50),
            depth in proptest::option::of(0usize..6),
            whole in any::<bool>(),
            path_only in any::<bool>(),
        ) {
            let o = opts(len, depth, whole, path_only);
            let key = uri_key(&uri, &o);
            let base = if path_only { uri_path(&uri) } else { uri.as_str() };
            prop_assert!(base.starts_with(key));
            if let Some(n) = len.filter(|&n| n > 0) {
                prop_assert!(key.len() <= n);
            }
            if !whole {
                prop_assert!(!key.contains('?'));
            }
            if let Some(d) = depth.filter(|&d| d > 0) {
                prop_assert!(key.matches('/').count() <= d);
            }
        }

        #[test]
        fn url_param_finds_what_was_put(
            name in "[a-z]{1,8}",
            value in "[A-Za-z0-9%+._-]{1,12}",
            before in proptest::collection::vec("[A-Z]{1,4}=[a-z]{0,4}", 0..4),
        ) {
            let mut params = before.clone();
            params.push(format!("{name}={value}"));
            let uri = format!("/path?{}", params.join("&"));
            prop_assert_eq!(url_param(&uri, &name), Some(value.as_str()));
            let body = params.join("&");
            prop_assert_eq!(url_param_in_body(body.as_bytes(), &name), Some(value.as_bytes()));
        }

        #[test]
        fn extractors_never_panic(s in "\\PC{0,40}", bytes in proptest::collection::vec(any::<u8>(), 0..64), name in "\\PC{0,6}") {
            let _ = url_param(&s, &name);
            let _ = url_param_in_body(&bytes, &name);
            let d = domain_only(&s);
            prop_assert!(s.contains(d));
            let _ = rdp_cookie(&bytes, &name);
            let _ = parse_rdp_cookie(&bytes, &name);
        }

        #[test]
        fn rdp_cookie_round_trips(name in "[A-Za-z]{1,10}", value in "[ -~]{1,20}") {
            prop_assume!(!value.contains('\r'));
            let p = pdu(format!("Cookie: {name}={value}\r\n").as_bytes());
            prop_assert_eq!(rdp_cookie(&p, &name.to_ascii_uppercase()), Some(value.as_bytes()));
            // Any prefix of the token is "need more" or already the answer.
            for cut in 0..p.len() {
                let r = parse_rdp_cookie(&p[..cut], &name);
                prop_assert_eq!(r, RdpCookie::NeedMore);
            }
        }
    }
}

//! Hop-by-hop header fields (RFC 9110 §7.6.1, RFC 9112 §9.6, RFC 9113 §8.2.2).

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// `Keep-Alive` (RFC 2068 §19.7.1), not in the `http` crate's constants.
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
/// `Proxy-Connection`: non-standard, sent by old clients to proxies.
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Returns whether `name` is always hop-by-hop: `Connection`, `Keep-Alive`,
/// `Proxy-Connection`, `TE`, `Transfer-Encoding` or `Upgrade`.
///
/// `Trailer` is not: RFC 9110 §6.6.2 makes it an end-to-end announcement of the trailer
/// fields (RFC 2616's hop-by-hop "Trailers" was the TE token), and an HTTP/1.1 sender
/// needs it to emit the announced trailers, so it is forwarded.
///
/// Headers named in a `Connection` header are hop-by-hop too, for that message only; see
/// [`strip_hop_by_hop`].
///
/// # Examples
/// ```
/// use http::header::{HeaderName, CONNECTION, CONTENT_LENGTH};
/// use lb_http::headers::is_hop_by_hop;
///
/// assert!(is_hop_by_hop(&CONNECTION));
/// assert!(is_hop_by_hop(&HeaderName::from_static("keep-alive")));
/// assert!(!is_hop_by_hop(&CONTENT_LENGTH));
/// ```
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
        || name == header::TE
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
}

/// Removes every hop-by-hop header from a message before it is forwarded.
///
/// Removed: `Connection` and every header it names (all `Connection` lines, comma lists,
/// any case), `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `Upgrade`,
/// and `TE` unless it carries the `trailers` token, which is then forwarded alone as
/// `TE: trailers` (HAProxy's rule, the only `TE` value HTTP/2 allows; REFERENCE 4.3:
/// `trailers, gzip` -> `trailers`, `gzip` -> removed, `trailers;q=0.5` -> removed). `TE`
/// survives this way even when `Connection` names it.
///
/// Framing (`Content-Length`, chunked) is hyper's job on both sides: after this call the
/// outgoing connection recomputes it from the body. To forward a protocol upgrade, use
/// [`strip_hop_by_hop_keep_upgrade`] instead.
///
/// Call this on the received headers *before* adding the proxy's own headers
/// ([`apply_forwarded`](super::apply_forwarded)): a client could otherwise name them in
/// `Connection` to have them removed. It cannot protect headers that an upstream proxy added
/// (the "hop-by-hop header abuse" of `Connection: X-Forwarded-For`); trust boundaries must
/// not rely on such headers.
///
/// # Examples
/// ```
/// use http::HeaderMap;
/// use lb_http::headers::strip_hop_by_hop;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("connection", "close, X-Debug".parse()?);
/// headers.insert("x-debug", "1".parse()?);
/// headers.insert("te", "trailers, gzip".parse()?);
/// headers.insert("accept", "*/*".parse()?);
/// strip_hop_by_hop(&mut headers);
/// assert!(headers.get("connection").is_none());
/// assert!(headers.get("x-debug").is_none());
/// assert_eq!(headers["te"], "trailers");
/// assert_eq!(headers["accept"], "*/*");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names first: most messages carry none or one of these, and a
    // scan is much cheaper than hashing every candidate for a removal.
    const CONN: u8 = 1;
    const KA: u8 = 2;
    const PC: u8 = 4;
    const TE_ENC: u8 = 8;
    const UPG: u8 = 16;
    const TE: u8 = 32;
    let mut seen = 0u8;
    for name in headers.keys() {
        seen |= if name == header::CONNECTION {
            CONN
        } else if name == header::TE {
            TE
        } else if name == header::TRANSFER_ENCODING {
            TE_ENC
        } else if name == header::UPGRADE {
            UPG
        } else if name == KEEP_ALIVE {
            KA
        } else if name == PROXY_CONNECTION {
            PC
        } else {
            0
        };
    }
    if seen == 0 {
        return;
    }
    if seen & CONN != 0 {
        strip_listed(headers);
        headers.remove(header::CONNECTION);
    }
    if seen & KA != 0 {
        headers.remove(KEEP_ALIVE);
    }
    if seen & PC != 0 {
        headers.remove(PROXY_CONNECTION);
    }
    if seen & TE_ENC != 0 {
        headers.remove(header::TRANSFER_ENCODING);
    }
    if seen & UPG != 0 {
        headers.remove(header::UPGRADE);
    }
    if seen & TE != 0 {
        strip_te(headers);
    }
}

/// Removes the headers named in `Connection` (not `TE`: its `trailers` token survives).
fn strip_listed(headers: &mut HeaderMap) {
    // Collect first: the names borrow nothing from the map once parsed.
    let mut listed: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        for token in list_tokens(value.as_bytes()) {
            // The usual options need no lookup: Keep-Alive is removed anyway, and
            // `close` names no header; skipping them avoids building a name.
            if token.eq_ignore_ascii_case(b"keep-alive") {
                continue;
            }
            if token.eq_ignore_ascii_case(b"close") {
                if headers.contains_key("close") {
                    listed.push(HeaderName::from_static("close"));
                }
                continue;
            }
            if let Ok(name) = HeaderName::from_bytes(token) {
                if name != header::TE && !listed.contains(&name) {
                    listed.push(name);
                }
            }
        }
    }
    for name in &listed {
        headers.remove(name);
    }
}

fn strip_te(headers: &mut HeaderMap) {
    let keep_trailers = headers.get_all(header::TE).iter().any(|value| {
        list_tokens(value.as_bytes()).any(|token| token.eq_ignore_ascii_case(b"trailers"))
    });
    if keep_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    } else {
        headers.remove(header::TE);
    }
}

/// Reports the protocol a message asks to upgrade to, if the upgrade is valid.
///
/// Valid means an `Upgrade` header together with the `upgrade` token in `Connection`
/// (RFC 9110 §7.8); `Upgrade` alone is ignored, as HAProxy does. The `h2c` and `h2`
/// tokens are dropped (HTTP/2 is never reached through `Upgrade` across a proxy, RFC 9113
/// §3.1); the remaining protocols are returned as one comma-separated value, or `None` if
/// nothing is left. Works on requests and on `101 Switching Protocols` responses.
///
/// # Examples
/// ```
/// use http::HeaderMap;
/// use lb_http::headers::upgrade_request;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("upgrade", "h2c, websocket".parse()?);
/// assert_eq!(upgrade_request(&headers), None); // no `Connection: upgrade`
/// headers.insert("connection", "Upgrade".parse()?);
/// assert_eq!(upgrade_request(&headers).unwrap(), "websocket");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn upgrade_request(headers: &HeaderMap) -> Option<HeaderValue> {
    let connection_upgrade = headers.get_all(header::CONNECTION).iter().any(|value| {
        list_tokens(value.as_bytes()).any(|token| token.eq_ignore_ascii_case(b"upgrade"))
    });
    if !connection_upgrade {
        return None;
    }
    let mut protocols: Vec<u8> = Vec::new();
    for value in headers.get_all(header::UPGRADE) {
        for token in list_tokens(value.as_bytes()) {
            // A protocol is `name[/version]`; drop any version of h2c/h2.
            let name = token.split(|&b| b == b'/').next().unwrap_or(token);
            if name.eq_ignore_ascii_case(b"h2c") || name.eq_ignore_ascii_case(b"h2") {
                continue;
            }
            if !protocols.is_empty() {
                protocols.extend_from_slice(b", ");
            }
            protocols.extend_from_slice(token);
        }
    }
    if protocols.is_empty() {
        return None;
    }
    HeaderValue::from_bytes(&protocols).ok()
}

/// [`strip_hop_by_hop`], keeping a valid protocol upgrade: returns the protocol(s) as
/// [`upgrade_request`] does and, when there is one, leaves exactly `Upgrade: <protocols>`
/// and `Connection: upgrade` in `headers`.
///
/// # Examples
/// ```
/// use http::HeaderMap;
/// use lb_http::headers::strip_hop_by_hop_keep_upgrade;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("connection", "keep-alive, Upgrade".parse()?);
/// headers.insert("upgrade", "websocket".parse()?);
/// headers.insert("keep-alive", "timeout=5".parse()?);
/// let protocol = strip_hop_by_hop_keep_upgrade(&mut headers);
/// assert_eq!(protocol.unwrap(), "websocket");
/// assert_eq!(headers["connection"], "upgrade");
/// assert_eq!(headers["upgrade"], "websocket");
/// assert!(headers.get("keep-alive").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn strip_hop_by_hop_keep_upgrade(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let upgrade = upgrade_request(headers);
    strip_hop_by_hop(headers);
    if let Some(protocols) = &upgrade {
        headers.insert(header::UPGRADE, protocols.clone());
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    upgrade
}

/// Splits a comma-separated header list into its non-empty elements, trimmed of
/// spaces and tabs (RFC 9110 §5.6.1).
pub(crate) fn list_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').filter_map(|element| {
        let element = trim_ows(element);
        (!element.is_empty()).then_some(element)
    })
}

/// Trims optional whitespace (SP / HTAB) on both sides.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn te_after(value: &'static str) -> Option<String> {
        let mut headers = map(&[("te", value)]);
        strip_hop_by_hop(&mut headers);
        assert!(headers.get_all(header::TE).iter().count() <= 1);
        headers
            .get(header::TE)
            .map(|v| v.to_str().expect("ascii").to_owned())
    }

    #[test]
    fn te_reference_vectors() {
        assert_eq!(te_after("trailers, gzip").as_deref(), Some("trailers"));
        assert_eq!(te_after("gzip"), None);
        assert_eq!(te_after("trailers;q=0.5"), None);
    }

    #[test]
    fn te_tokens_are_delimited_and_case_insensitive() {
        assert_eq!(te_after("TRAILERS").as_deref(), Some("trailers"));
        assert_eq!(te_after(" gzip ,\ttrailers ").as_deref(), Some("trailers"));
        assert_eq!(te_after("trailersx"), None);
        assert_eq!(te_after("xtrailers"), None);
        assert_eq!(te_after("trailers gzip"), None);
        assert_eq!(te_after(""), None);
        assert_eq!(te_after(",,"), None);
    }

    #[test]
    fn te_over_multiple_lines() {
        let mut headers = map(&[("te", "gzip"), ("te", "deflate, trailers")]);
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.get_all(header::TE).iter().count(), 1);
        assert_eq!(headers[header::TE], "trailers");
    }

    #[test]
    fn te_named_in_connection_keeps_trailers() {
        let mut headers = map(&[("connection", "TE"), ("te", "trailers")]);
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers[header::TE], "trailers");
    }

    #[test]
    fn removes_fixed_hop_by_hop_headers() {
        let mut headers = map(&[
            ("connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("host", "example.com"),
            ("content-type", "text/plain"),
        ]);
        strip_hop_by_hop(&mut headers);
        let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-type", "host", "trailer"]);
    }

    #[test]
    fn removes_headers_named_in_every_connection_line() {
        let mut headers = map(&[
            ("connection", "X-A, , x-b"),
            ("connection", " X-C "),
            ("x-a", "1"),
            ("x-b", "2"),
            ("x-b", "3"),
            ("x-c", "4"),
            ("x-d", "5"),
        ]);
        strip_hop_by_hop(&mut headers);
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-d"]);
    }

    #[test]
    fn invalid_connection_tokens_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_bytes(b"x y, \xff, (bad), x-ok").expect("valid value bytes"),
        );
        headers.insert("x-ok", HeaderValue::from_static("1"));
        headers.insert("x", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert!(headers.get("x-ok").is_none());
        assert!(headers.get("x").is_some());
    }

    #[test]
    fn is_hop_by_hop_list() {
        for name in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "transfer-encoding",
            "upgrade",
        ] {
            assert!(is_hop_by_hop(&HeaderName::from_static(name)), "{name}");
        }
        for name in [
            "host",
            "content-length",
            "proxy-authorization",
            "trailer",
            "trailers",
        ] {
            assert!(!is_hop_by_hop(&HeaderName::from_static(name)), "{name}");
        }
    }

    #[test]
    fn upgrade_requires_connection_upgrade() {
        assert_eq!(upgrade_request(&map(&[("upgrade", "websocket")])), None);
        assert_eq!(
            upgrade_request(&map(&[("connection", "upgrade")])),
            None,
            "token without header"
        );
        assert_eq!(
            upgrade_request(&map(&[
                ("connection", "upgraded"),
                ("upgrade", "websocket")
            ])),
            None
        );
        let valid = map(&[
            ("connection", "keep-alive, UPGRADE"),
            ("upgrade", "websocket"),
        ]);
        assert_eq!(
            upgrade_request(&valid),
            Some(HeaderValue::from_static("websocket"))
        );
    }

    #[test]
    fn upgrade_drops_h2_tokens() {
        let only_h2c = map(&[
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", "h2c"),
        ]);
        assert_eq!(upgrade_request(&only_h2c), None);
        let mixed = map(&[
            ("connection", "upgrade"),
            ("upgrade", "H2C, websocket"),
            ("upgrade", "h2/1, foo/2"),
        ]);
        assert_eq!(
            upgrade_request(&mixed),
            Some(HeaderValue::from_static("websocket, foo/2"))
        );
    }

    #[test]
    fn keep_upgrade_rewrites_connection() {
        let mut headers = map(&[
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", "h2c"),
            ("http2-settings", "AAMAAABkAAQAAP__"),
        ]);
        assert_eq!(strip_hop_by_hop_keep_upgrade(&mut headers), None);
        assert!(headers.is_empty());

        let mut headers = map(&[
            ("connection", "upgrade, x-private"),
            ("upgrade", "websocket"),
            ("x-private", "1"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        assert!(strip_hop_by_hop_keep_upgrade(&mut headers).is_some());
        assert_eq!(headers[header::CONNECTION], "upgrade");
        assert_eq!(headers[header::UPGRADE], "websocket");
        assert!(headers.get("x-private").is_none());
        assert!(headers.get("sec-websocket-key").is_some());
    }

    #[test]
    fn trim_and_tokens() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        let tokens: Vec<&[u8]> = list_tokens(b" a ,, b,\t,c ").collect();
        assert_eq!(tokens, [&b"a"[..], b"b", b"c"]);
    }

    fn header_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("connection".to_owned()),
            Just("Connection".to_owned()),
            Just("te".to_owned()),
            Just("upgrade".to_owned()),
            Just("keep-alive".to_owned()),
            "[a-zA-Z][a-zA-Z0-9-]{0,6}",
        ]
    }

    proptest! {
        #[test]
        fn strip_never_panics_and_leaves_no_connection_listed_header(
            pairs in proptest::collection::vec(
                (header_name(), proptest::collection::vec(any::<u8>(), 0..24)),
                0..12,
            ),
            listed in proptest::collection::vec("[a-zA-Z][a-zA-Z0-9-]{0,6}", 0..4),
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in &pairs {
                let (Ok(name), Ok(value)) =
                    (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value))
                else {
                    continue;
                };
                headers.append(name, value);
            }
            let connection = listed.join(", ");
            if let Ok(value) = HeaderValue::from_str(&connection) {
                headers.append(header::CONNECTION, value);
            }
            let named: Vec<HeaderName> = headers
                .get_all(header::CONNECTION)
                .iter()
                .flat_map(|v| list_tokens(v.as_bytes()))
                .filter_map(|t| HeaderName::from_bytes(t).ok())
                .collect();

            let mut stripped = headers.clone();
            strip_hop_by_hop(&mut stripped);
            for name in &named {
                if name == header::TE {
                    if let Some(te) = stripped.get(header::TE) {
                        prop_assert_eq!(te, "trailers");
                    }
                } else {
                    prop_assert!(!stripped.contains_key(name), "{} left", name);
                }
            }
            for name in stripped.keys() {
                prop_assert!(!is_hop_by_hop(name) || name == header::TE);
            }

            let mut kept = headers;
            let upgrade = strip_hop_by_hop_keep_upgrade(&mut kept);
            prop_assert_eq!(upgrade.is_some(), kept.contains_key(header::UPGRADE));
        }
    }
}

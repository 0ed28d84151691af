//! `server` and `default-server` lines.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use lb_core::{Address, Weight};
use lb_tcp::proxy_protocol::SslOptions;
use lb_tcp::proxy_protocol::Version as ProxyProtocolVersion;

use super::error::ErrorKind;
use super::model::{
    Backend, CheckParams, CheckProto, Global, Observe, OnError, Server, ServerAddress, ServerTls,
    ServerVerify, TrackTarget,
};
use super::parse::{check_name, port, positive_time, time, tls_version, u32_in, Ctx, Draft, Line};

/// The settings `default-server` sets for later `server` lines.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerParams {
    weight: Weight,
    backup: bool,
    maxconn: u32,
    maxqueue: u32,
    slowstart: Duration,
    disabled: bool,
    send_proxy: Option<ProxyProtocolVersion>,
    /// `send-proxy-v2-ssl`, `send-proxy-v2-ssl-cn`, `proxy-v2-options`.
    send_proxy_ssl: Option<SslOptions>,
    source: Option<SocketAddr>,
    check: CheckParams,
    /// `ssl`: TLS towards the server.
    ssl: bool,
    /// The TLS options, used when `ssl` is set (`default-server` may give them alone).
    tls: ServerTls,
}

/// The settings only a `server` line has.
#[derive(Default)]
struct Own<'a> {
    id: Option<u32>,
    track: Option<(Option<&'a str>, &'a str)>,
}

/// `server <name> <address> [params]`.
/// Relative TLS file paths are resolved against `dir`, the configuration file's directory.
pub(crate) fn server_line(dir: &Path, d: &mut Draft, l: &Line<'_>) -> Result<(), ErrorKind> {
    let name = l.req(1, "server name")?;
    check_name("server name", name)?;
    let addr = l.req(2, "server address")?;
    let address = server_address(addr)?;
    if let Some(first) = d.servers.iter().find(|s| &*s.name == name) {
        return Err(ErrorKind::Duplicate {
            what: "server",
            name: name.to_owned(),
            first: first.span.clone(),
        });
    }
    let mut p = d.default_server.clone();
    let mut own = Own::default();
    params(dir, l, 3, &mut p, Some(&mut own))?;
    if let Some(id) = own.id {
        if let Some(first) = d.servers.iter().find(|s| s.id == Some(id)) {
            return Err(ErrorKind::Duplicate {
                what: "server id",
                name: id.to_string(),
                first: first.span.clone(),
            });
        }
    }
    if p.check.agent.enabled && p.check.agent.port.is_none() {
        return Err(ErrorKind::Requires {
            what: "agent-check",
            needs: "agent-port",
        });
    }
    let track = own.track.map(|(backend, server)| TrackTarget {
        backend: backend.map_or_else(|| d.name().clone(), Into::into),
        server: server.into(),
    });
    d.servers.push(Server {
        span: l.span.clone(),
        name: name.into(),
        address,
        weight: p.weight,
        backup: p.backup,
        maxconn: p.maxconn,
        maxqueue: p.maxqueue,
        slowstart: p.slowstart,
        disabled: p.disabled,
        send_proxy: p.send_proxy,
        send_proxy_ssl: p.send_proxy_ssl,
        source: p.source,
        id: own.id,
        check: p.check,
        track,
        tls: p.ssl.then_some(p.tls),
    });
    Ok(())
}

/// `default-server [params]`.
pub(crate) fn default_server_line(
    dir: &Path,
    d: &mut Draft,
    l: &Line<'_>,
) -> Result<(), ErrorKind> {
    let mut p = d.default_server.clone();
    params(dir, l, 1, &mut p, None)?;
    d.default_server = p;
    Ok(())
}

/// `ip:port`, `[ipv6]:port`, `host:port`, `ipv4@`/`ipv6@` prefixes, `unix@/path`, `/path`,
/// `mem@name`.
pub(crate) fn server_address(s: &str) -> Result<ServerAddress, ErrorKind> {
    let invalid = |reason: &str| ErrorKind::InvalidValue {
        what: "server address",
        value: s.to_owned(),
        reason: reason.to_owned(),
    };
    if s.starts_with("unix@") || s.starts_with('/') || s.starts_with("mem@") {
        return s
            .parse::<Address>()
            .map(ServerAddress::Addr)
            .map_err(|_| invalid("empty socket path or name"));
    }
    let (family, rest) = if let Some(r) = s.strip_prefix("ipv4@") {
        (Some(false), r)
    } else if let Some(r) = s.strip_prefix("ipv6@") {
        (Some(true), r)
    } else if let Some((prefix, _)) = s.split_once('@') {
        return Err(ErrorKind::UnsupportedValue {
            what: format!("address family '{prefix}@'"),
            note: Some("supported: ipv4@, ipv6@, unix@, mem@"),
        });
    } else {
        (None, s)
    };
    let (host, port_text) = if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| invalid("missing ']' after the IPv6 address"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| invalid("missing ':port' (lb needs an explicit port)"))?;
        (host, port)
    } else {
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid("missing ':port' (lb needs an explicit port)"))?;
        if host.contains(':') {
            return Err(invalid("IPv6 addresses need brackets, e.g. [::1]:80"));
        }
        (host, port)
    };
    if port_text.starts_with(['+', '-']) || port_text.contains('-') {
        return Err(ErrorKind::UnsupportedValue {
            what: format!("port '{port_text}'"),
            note: Some("port offsets and ranges; give one explicit port"),
        });
    }
    let port = port("port", port_text)?;
    if host.is_empty() {
        return Err(invalid("missing host"));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        match (family, ip) {
            (Some(false), IpAddr::V6(_)) => return Err(invalid("ipv4@ with an IPv6 address")),
            (Some(true), IpAddr::V4(_)) => return Err(invalid("ipv6@ with an IPv4 address")),
            _ => {}
        }
        return Ok(ServerAddress::Addr(Address::Inet(SocketAddr::new(
            ip, port,
        ))));
    }
    let host_ok = host.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    if !host_ok {
        return Err(invalid(
            "expected ip:port, [ipv6]:port, host:port, unix@/path or mem@name",
        ));
    }
    Ok(ServerAddress::Host {
        name: host.into(),
        port,
    })
}

/// An IP address with an optional port (0, any, by default): `source`.
fn source_address(s: &str) -> Result<SocketAddr, ErrorKind> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 0));
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    Err(ErrorKind::InvalidValue {
        what: "source address",
        value: s.to_owned(),
        reason: "expected an IP address with an optional port".into(),
    })
}

/// Server parameters from word `i` on; `own` is `None` for `default-server`.
fn params<'a>(
    dir: &Path,
    l: &Line<'a>,
    mut i: usize,
    p: &mut ServerParams,
    mut own: Option<&mut Own<'a>>,
) -> Result<(), ErrorKind> {
    while let Some(w) = l.arg(i) {
        let value = |option: &'static str| l.arg(i + 1).ok_or(ErrorKind::MissingValue { option });
        let path = |option: &'static str| value(option).map(|v| dir.join(v));
        let mut takes_value = true;
        let c = &mut p.check;
        let t = &mut p.tls;
        match w {
            "verify" => {
                t.verify = match value("verify")? {
                    "none" => ServerVerify::None,
                    "required" => ServerVerify::Required,
                    other => {
                        return Err(ErrorKind::UnknownValue {
                            what: "verify",
                            value: other.to_owned(),
                            expected: "none or required",
                        })
                    }
                };
                t.verify_set = true;
            }
            "ca-file" => t.ca_file = Some(path("ca-file")?),
            "crt" => t.crt = Some(path("crt")?),
            "sni" => t.sni = Some(sni_expr(value("sni")?)?),
            "verifyhost" => t.verifyhost = Some(value("verifyhost")?.to_owned()),
            "alpn" => {
                let v = value("alpn")?;
                if v.is_empty() || v.split(',').any(str::is_empty) {
                    return Err(ErrorKind::InvalidValue {
                        what: "alpn",
                        value: v.to_owned(),
                        reason: "expected a comma-separated list such as h2,http/1.1".into(),
                    });
                }
                t.alpn = v.split(',').map(str::to_owned).collect();
            }
            "ssl-min-ver" => t.min_version = Some(tls_version(value("ssl-min-ver")?)?),
            "ssl-max-ver" => t.max_version = Some(tls_version(value("ssl-max-ver")?)?),
            "weight" => {
                let n = u32_in("weight", value("weight")?, 0, 256)?;
                p.weight = Weight::new(n).map_err(|e| ErrorKind::Invalid(e.to_string()))?;
            }
            "maxconn" => p.maxconn = u32_in("maxconn", value("maxconn")?, 0, u32::MAX)?,
            "maxqueue" => p.maxqueue = u32_in("maxqueue", value("maxqueue")?, 0, u32::MAX)?,
            "slowstart" => p.slowstart = time(value("slowstart")?)?,
            "source" => {
                p.source = Some(source_address(value("source")?)?);
                if let Some(next @ ("usesrc" | "interface")) = l.arg(i + 2) {
                    return Err(ErrorKind::UnsupportedValue {
                        what: format!("'source ... {next}'"),
                        note: None,
                    });
                }
            }
            "id" | "track" => {
                let v = value(if w == "id" { "id" } else { "track" })?;
                let Some(own) = own.as_deref_mut() else {
                    return Err(ErrorKind::Invalid(format!(
                        "'{w}' cannot be used on 'default-server'"
                    )));
                };
                if w == "id" {
                    own.id = Some(u32_in("id", v, 1, i32::MAX as u32)?);
                } else {
                    let (backend, server) = match v.split_once('/') {
                        Some((b, s)) => (Some(b), s),
                        None => (None, v),
                    };
                    if let Some(b) = backend {
                        check_name("backend name", b)?;
                    }
                    check_name("server name", server)?;
                    own.track = Some((backend, server));
                }
            }
            "inter" => c.inter = positive_time("inter", value("inter")?)?,
            "fastinter" => c.fastinter = Some(positive_time("fastinter", value("fastinter")?)?),
            "downinter" => c.downinter = Some(positive_time("downinter", value("downinter")?)?),
            "rise" => c.rise = u32_in("rise", value("rise")?, 1, 65535)?,
            "fall" => c.fall = u32_in("fall", value("fall")?, 1, 65535)?,
            "port" => c.port = Some(port("port", value("port")?)?),
            "addr" => {
                let v = value("addr")?;
                c.addr = Some(v.parse().map_err(|_| ErrorKind::InvalidValue {
                    what: "check address",
                    value: v.to_owned(),
                    reason: "expected an IP address".into(),
                })?);
            }
            "agent-port" => c.agent.port = Some(port("agent-port", value("agent-port")?)?),
            "agent-inter" => {
                c.agent.inter = positive_time("agent-inter", value("agent-inter")?)?;
            }
            "agent-send" => c.agent.send = Some(value("agent-send")?.to_owned()),
            "observe" => {
                c.observe = Some(match value("observe")? {
                    "layer4" => Observe::Layer4,
                    "layer7" => Observe::Layer7,
                    other => {
                        return Err(ErrorKind::UnknownValue {
                            what: "observe mode",
                            value: other.to_owned(),
                            expected: "layer4 or layer7",
                        })
                    }
                });
            }
            "error-limit" => {
                c.error_limit = u32_in("error-limit", value("error-limit")?, 1, 65535)?
            }
            "on-error" => {
                c.on_error = match value("on-error")? {
                    "fastinter" => OnError::FastInter,
                    "fail-check" => OnError::FailCheck,
                    "sudden-death" => OnError::SuddenDeath,
                    "mark-down" => OnError::MarkDown,
                    other => {
                        return Err(ErrorKind::UnknownValue {
                            what: "on-error action",
                            value: other.to_owned(),
                            expected: "fastinter, fail-check, sudden-death or mark-down",
                        })
                    }
                };
            }
            "check-sni" => c.sni = Some(value("check-sni")?.to_owned()),
            "proxy-v2-options" => {
                p.send_proxy_ssl = proxy_v2_options(value("proxy-v2-options")?)?;
            }
            "check-proto" => {
                c.proto = match value("check-proto")? {
                    "h1" => CheckProto::H1,
                    "h2" => CheckProto::H2,
                    other => {
                        return Err(ErrorKind::UnknownValue {
                            what: "check-proto",
                            value: other.to_owned(),
                            expected: "h1 or h2",
                        })
                    }
                };
            }
            flag => {
                takes_value = false;
                match flag {
                    "backup" => p.backup = true,
                    "no-backup" => p.backup = false,
                    "disabled" => p.disabled = true,
                    "enabled" => p.disabled = false,
                    "send-proxy" => p.send_proxy = Some(ProxyProtocolVersion::V1),
                    "send-proxy-v2" => p.send_proxy = Some(ProxyProtocolVersion::V2),
                    "no-send-proxy" | "no-send-proxy-v2" => p.send_proxy = None,
                    "send-proxy-v2-ssl" | "send-proxy-v2-ssl-cn" => {
                        p.send_proxy = Some(ProxyProtocolVersion::V2);
                        let o = p.send_proxy_ssl.get_or_insert_with(SslOptions::default);
                        o.cn |= flag == "send-proxy-v2-ssl-cn";
                    }
                    "no-send-proxy-v2-ssl" | "no-send-proxy-v2-ssl-cn" => {
                        p.send_proxy = None;
                        p.send_proxy_ssl = None;
                    }
                    "check" => c.enabled = true,
                    "no-check" => c.enabled = false,
                    "agent-check" => c.agent.enabled = true,
                    "no-agent-check" => c.agent.enabled = false,
                    "check-ssl" => c.ssl = true,
                    "no-check-ssl" => c.ssl = false,
                    "ssl" => p.ssl = true,
                    "no-ssl" => p.ssl = false,
                    "no-ssl-reuse" => p.tls.no_ssl_reuse = true,
                    "ssl-reuse" => p.tls.no_ssl_reuse = false,
                    other => {
                        return Err(ErrorKind::UnsupportedValue {
                            what: format!("server option '{other}'"),
                            note: None,
                        })
                    }
                }
            }
        }
        i += if takes_value { 2 } else { 1 };
    }
    if let (Some(min), Some(max)) = (p.tls.min_version, p.tls.max_version) {
        if min > max {
            return Err(ErrorKind::Invalid(format!(
                "'ssl-min-ver {min}' is above 'ssl-max-ver {max}'"
            )));
        }
    }
    Ok(())
}

/// The sample expression of `sni`: `str(<name>)` is a fixed name. The request's Host
/// (`req.hdr(host)`) would need a connection pool per name, which lb does not have yet.
fn sni_expr(expr: &str) -> Result<String, ErrorKind> {
    if let Some(name) = expr.strip_prefix("str(").and_then(|r| r.strip_suffix(')')) {
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ErrorKind::InvalidValue {
                what: "sni",
                value: expr.to_owned(),
                reason: "expected str(<server name>)".into(),
            });
        }
        return Ok(name.to_owned());
    }
    let fetch = expr.split(',').next().unwrap_or(expr).to_ascii_lowercase();
    let note = if matches!(fetch.as_str(), "req.hdr(host)" | "hdr(host)" | "ssl_fc_sni") {
        "a per-request SNI; use sni str(<name>)"
    } else {
        "supported: str(<name>)"
    };
    Err(ErrorKind::UnsupportedValue {
        what: format!("sni expression '{expr}'"),
        note: Some(note),
    })
}

/// Resolves the `verify` of `server ... ssl` lines that gave none (`ssl-server-verify`,
/// else required) and reports those that must verify without a `ca-file`, as HAProxy.
pub(crate) fn check_server_tls(cx: &mut Ctx, global: &Global, backends: &mut [Backend]) {
    for s in backends.iter_mut().flat_map(|b| b.servers.iter_mut()) {
        let Some(t) = s.tls.as_mut() else { continue };
        if !t.verify_set {
            t.verify = global.ssl_server_verify;
        }
        if t.verify == ServerVerify::Required && t.ca_file.is_none() {
            let kind = if t.verify_set {
                ErrorKind::Requires {
                    what: "verify required",
                    needs: "ca-file",
                }
            } else {
                ErrorKind::Invalid(
                    "'ssl' verifies the server's certificate by default but no 'ca-file' is \
                     given: add 'ca-file <file>', or 'verify none' on the line (or \
                     'ssl-server-verify none' in global) for a server you trust without it"
                        .into(),
                )
            };
            cx.error(&s.span, Some("server"), kind);
        }
    }
}

/// `proxy-v2-options <opt>[,<opt>...]`: the SSL TLV options lb implements (`ssl`,
/// `cert-cn`, `ssl-cipher`); `None` when none of them asks for the SSL TLV.
fn proxy_v2_options(list: &str) -> Result<Option<SslOptions>, ErrorKind> {
    let mut ssl: Option<SslOptions> = None;
    for opt in list.split(',') {
        let o = ssl.get_or_insert_with(SslOptions::default);
        match opt {
            "ssl" => {}
            "cert-cn" => o.cn = true,
            "ssl-cipher" => o.cipher = true,
            other => {
                return Err(ErrorKind::UnsupportedValue {
                    what: format!("proxy-v2-options '{other}'"),
                    note: Some("supported: ssl, cert-cn, ssl-cipher"),
                })
            }
        }
    }
    Ok(ssl)
}

//! ACLs (`acl <name> <fetch> [flags] [patterns]`) and conditions (`if|unless ...`).

use lb_core::matcher::{IntMatch, IpNet, StrMatch};

use super::error::ErrorKind;
use super::model::{
    Acl, AclRef, AclTest, Condition, DnPart, Fetch, Match, Mode, SampleType, Span, Term,
};
use super::parse::{check_name, header_name, split_call, suggest, uint, Ctx, Draft, Line};

const FETCHES: &str = "supported: path, url, hdr(<name>), method, src, dst, dst_port, \
                       req.ssl_sni, req.ssl_hello_type, req.proto_http, ssl_fc, ssl_fc_sni, \
                       ssl_fc_alpn, ssl_fc_protocol, ssl_fc_cipher, ssl_c_used, ssl_c_verify, \
                       ssl_c_s_dn, ssl_c_i_dn, ssl_c_sha1, nbsrv(<backend>), always_true, \
                       always_false; path, url and hdr also with _beg, _end, _sub, _dir, \
                       _dom, _len";

const NO_REGEX: &str = "lb has no regular expression engine; use _beg, _end, _sub, _dir or _dom";

/// A match method, from `-m` or a fetch suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Found,
    Bool,
    Int,
    Ip,
    Len,
    Str,
    Sub,
    Beg,
    End,
    Dir,
    Dom,
}

impl Method {
    fn keyword(self) -> &'static str {
        match self {
            Method::Found => "found",
            Method::Bool => "bool",
            Method::Int => "int",
            Method::Ip => "ip",
            Method::Len => "len",
            Method::Str => "str",
            Method::Sub => "sub",
            Method::Beg => "beg",
            Method::End => "end",
            Method::Dir => "dir",
            Method::Dom => "dom",
        }
    }

    fn parse(s: &str) -> Result<Self, ErrorKind> {
        Ok(match s {
            "found" => Method::Found,
            "bool" => Method::Bool,
            "int" => Method::Int,
            "ip" => Method::Ip,
            "len" => Method::Len,
            "str" => Method::Str,
            "sub" => Method::Sub,
            "beg" => Method::Beg,
            "end" => Method::End,
            "dir" => Method::Dir,
            "dom" => Method::Dom,
            "reg" | "bin" => {
                return Err(ErrorKind::UnsupportedValue {
                    what: format!("'-m {s}'"),
                    note: Some(if s == "reg" {
                        NO_REGEX
                    } else {
                        "binary samples are not supported"
                    }),
                })
            }
            other => {
                return Err(ErrorKind::UnknownValue {
                    what: "match method",
                    value: other.to_owned(),
                    expected: "found, bool, int, ip, len, str, sub, beg, end, dir or dom",
                })
            }
        })
    }

    fn accepts(self, t: SampleType) -> bool {
        use Method::*;
        match t {
            SampleType::String => matches!(self, Found | Len | Str | Sub | Beg | End | Dir | Dom),
            SampleType::Ip => matches!(self, Found | Ip),
            SampleType::Integer | SampleType::Boolean => matches!(self, Found | Bool | Int),
        }
    }
}

/// Parses a fetch name; a suffixed one (`path_beg`) implies a match method.
fn fetch(word: &str) -> Result<(Fetch, Option<Method>), ErrorKind> {
    let converter = match word.rfind(')') {
        Some(close) => word[close..].contains(','),
        None => word.contains(','),
    };
    if converter {
        return Err(ErrorKind::UnsupportedValue {
            what: format!("converters ('{word}')"),
            note: Some("use a plain fetch"),
        });
    }
    let (name, arg) = split_call("fetch", word)?;
    let (base, method) = match name {
        "path" | "url" | "hdr" | "req.hdr" | "method" | "src" | "dst_port" | "req.ssl_sni"
        | "req_ssl_sni" | "req.ssl_hello_type" | "req_ssl_hello_type" | "req.proto_http"
        | "req_proto_http" | "ssl_fc" | "always_true" | "always_false" | "nbsrv" | "dst"
        | "ssl_fc_sni" | "ssl_fc_alpn" | "ssl_fc_protocol" | "ssl_fc_cipher" | "ssl_c_used"
        | "ssl_c_verify" | "ssl_c_s_dn" | "ssl_c_i_dn" | "ssl_c_sha1" => (name, None),
        _ => {
            let (base, suffix) = name.rsplit_once('_').unwrap_or((name, ""));
            if !matches!(base, "path" | "url" | "hdr") {
                return Err(ErrorKind::UnsupportedValue {
                    what: format!("fetch '{name}'"),
                    note: Some(FETCHES),
                });
            }
            let method = match suffix {
                "beg" => Method::Beg,
                "end" => Method::End,
                "sub" => Method::Sub,
                "dir" => Method::Dir,
                "dom" => Method::Dom,
                "len" => Method::Len,
                "reg" => {
                    return Err(ErrorKind::UnsupportedValue {
                        what: format!("'{name}'"),
                        note: Some(NO_REGEX),
                    })
                }
                _ => {
                    return Err(ErrorKind::UnsupportedValue {
                        what: format!("fetch '{name}'"),
                        note: Some(FETCHES),
                    })
                }
            };
            (base, Some(method))
        }
    };
    let no_arg = |f: Fetch| match arg {
        None => Ok(f),
        Some(_) => Err(ErrorKind::InvalidValue {
            what: "fetch",
            value: word.to_owned(),
            reason: format!("'{name}' takes no argument"),
        }),
    };
    let f = match base {
        "path" => no_arg(Fetch::Path)?,
        "url" => no_arg(Fetch::Url)?,
        "hdr" | "req.hdr" => {
            let h = arg
                .filter(|a| !a.is_empty())
                .ok_or_else(|| ErrorKind::InvalidValue {
                    what: "fetch",
                    value: word.to_owned(),
                    reason: "needs a header name, e.g. hdr(host)".into(),
                })?;
            if h.contains(',') {
                return Err(ErrorKind::UnsupportedValue {
                    what: format!("header occurrences ('{word}')"),
                    note: None,
                });
            }
            Fetch::Hdr(header_name(h)?)
        }
        "method" => no_arg(Fetch::Method)?,
        "src" => no_arg(Fetch::Src)?,
        "dst_port" => no_arg(Fetch::DstPort)?,
        "req.ssl_sni" | "req_ssl_sni" => no_arg(Fetch::ReqSslSni)?,
        "req.ssl_hello_type" | "req_ssl_hello_type" => no_arg(Fetch::ReqSslHelloType)?,
        "req.proto_http" | "req_proto_http" => no_arg(Fetch::ReqProtoHttp)?,
        "ssl_fc" => no_arg(Fetch::SslFc)?,
        "dst" => no_arg(Fetch::Dst)?,
        "ssl_fc_sni" => no_arg(Fetch::SslFcSni)?,
        "ssl_fc_alpn" => no_arg(Fetch::SslFcAlpn)?,
        "ssl_fc_protocol" => no_arg(Fetch::SslFcProtocol)?,
        "ssl_fc_cipher" => no_arg(Fetch::SslFcCipher)?,
        "ssl_c_used" => no_arg(Fetch::SslCUsed)?,
        "ssl_c_verify" => no_arg(Fetch::SslCVerify)?,
        "ssl_c_i_dn" => no_arg(Fetch::SslCIDn)?,
        "ssl_c_sha1" => no_arg(Fetch::SslCSha1)?,
        "ssl_c_s_dn" => match arg {
            None => Fetch::SslCSDn(DnPart::Full),
            Some("CN" | "commonName") => Fetch::SslCSDn(DnPart::CommonName),
            Some(other) => {
                return Err(ErrorKind::UnsupportedValue {
                    what: format!("ssl_c_s_dn entry '{other}'"),
                    note: Some("supported: ssl_c_s_dn (the whole subject) or ssl_c_s_dn(CN)"),
                })
            }
        },
        "always_true" => no_arg(Fetch::AlwaysTrue)?,
        "nbsrv" => {
            let b = arg
                .filter(|a| !a.is_empty())
                .ok_or_else(|| ErrorKind::InvalidValue {
                    what: "fetch",
                    value: word.to_owned(),
                    reason: "needs a backend name, e.g. nbsrv(app)".into(),
                })?;
            Fetch::NbSrv(b.into())
        }
        _ => no_arg(Fetch::AlwaysFalse)?,
    };
    Ok((f, method))
}

/// The key of `balance hash <expr>`: a plain fetch that gives a string, address or number.
pub(crate) fn hash_fetch(expr: &str) -> Result<Fetch, ErrorKind> {
    let (f, implied) = fetch(expr)?;
    if implied.is_some() || f.sample_type() == SampleType::Boolean {
        return Err(ErrorKind::InvalidValue {
            what: "hash expression",
            value: expr.to_owned(),
            reason: "expected a plain fetch such as path, url, src or hdr(<name>)".into(),
        });
    }
    Ok(f)
}

/// The fetch of a `%[...]` sample in a value format (`http-request set-header`).
pub(crate) fn sample_fetch(expr: &str) -> Result<Fetch, ErrorKind> {
    // `ssl_c_sha1,hex` is the usual spelling; the fingerprint is hex already.
    let expr = expr
        .strip_suffix(",hex")
        .filter(|f| *f == "ssl_c_sha1")
        .unwrap_or(expr);
    let (f, implied) = fetch(expr)?;
    if implied.is_some() {
        return Err(ErrorKind::InvalidValue {
            what: "sample",
            value: expr.to_owned(),
            reason: "a suffixed fetch is an ACL match, not a sample; write the plain fetch \
                     (path, url, hdr(<name>))"
                .into(),
        });
    }
    Ok(f)
}

fn int(s: &str) -> Result<i64, ErrorKind> {
    s.parse::<i64>().map_err(|_| ErrorKind::InvalidValue {
        what: "integer pattern",
        value: s.to_owned(),
        reason: "expected an integer, an operator (eq, ge, gt, le, lt) then an integer, or a \
                 range such as 1024:65535"
            .into(),
    })
}

/// Builds an integer comparison from its operand.
type IntOp = fn(i64) -> IntMatch;

fn int_patterns(pats: &[String]) -> Result<Vec<IntMatch>, ErrorKind> {
    let mut out = Vec::new();
    let mut k = 0;
    while let Some(p) = pats.get(k) {
        let op: Option<(&'static str, IntOp)> = match p.as_str() {
            "eq" => Some(("eq", IntMatch::Eq)),
            "ge" => Some(("ge", IntMatch::Ge)),
            "gt" => Some(("gt", IntMatch::Gt)),
            "le" => Some(("le", IntMatch::Le)),
            "lt" => Some(("lt", IntMatch::Lt)),
            _ => None,
        };
        if let Some((option, make)) = op {
            let v = pats.get(k + 1).ok_or(ErrorKind::MissingValue { option })?;
            out.push(make(int(v)?));
            k += 2;
            continue;
        }
        if let Some((a, b)) = p.split_once(':') {
            if a.is_empty() && b.is_empty() {
                return Err(int(p).unwrap_err());
            }
            let lo = if a.is_empty() { i64::MIN } else { int(a)? };
            let hi = if b.is_empty() { i64::MAX } else { int(b)? };
            if lo > hi {
                return Err(ErrorKind::InvalidValue {
                    what: "integer range",
                    value: p.clone(),
                    reason: "the lower bound is above the upper bound".into(),
                });
            }
            out.push(IntMatch::Range(lo, hi));
        } else {
            out.push(IntMatch::Eq(int(p)?));
        }
        k += 1;
    }
    Ok(out)
}

/// One ACL test: `<fetch> [flags] [patterns]`.
fn test(span: &Span, words: &[String]) -> Result<AclTest, ErrorKind> {
    let word = words.first().ok_or(ErrorKind::MissingArgument {
        expected: "fetch (e.g. path_beg)",
    })?;
    let (fetch, implied) = fetch(word)?;
    let ty = fetch.sample_type();
    let mut ignore_case = false;
    let mut method = implied;
    let mut i = 1;
    while let Some(w) = words.get(i).filter(|w| w.starts_with('-')) {
        match w.as_str() {
            "-i" => ignore_case = true,
            "-n" => {}
            "--" => {
                i += 1;
                break;
            }
            "-m" => {
                let v = words
                    .get(i + 1)
                    .ok_or(ErrorKind::MissingValue { option: "-m" })?;
                if implied.is_some() {
                    return Err(ErrorKind::InvalidValue {
                        what: "flag",
                        value: "-m".into(),
                        reason: format!("'{word}' already implies a match method"),
                    });
                }
                method = Some(Method::parse(v)?);
                i += 1;
            }
            "-f" | "-M" | "-u" => {
                return Err(ErrorKind::UnsupportedValue {
                    what: format!("ACL flag '{w}'"),
                    note: None,
                })
            }
            other => {
                return Err(ErrorKind::UnknownValue {
                    what: "ACL flag",
                    value: other.to_owned(),
                    expected: "-i, -m, -n or --",
                })
            }
        }
        i += 1;
    }
    let method = method.unwrap_or(match ty {
        SampleType::String => Method::Str,
        SampleType::Ip => Method::Ip,
        SampleType::Integer => Method::Int,
        SampleType::Boolean => Method::Bool,
    });
    if !method.accepts(ty) {
        let kind = match ty {
            SampleType::String => "a string",
            SampleType::Ip => "an IP address",
            SampleType::Integer => "an integer",
            SampleType::Boolean => "a boolean",
        };
        return Err(ErrorKind::InvalidValue {
            what: "match method",
            value: method.keyword().into(),
            reason: format!("'{fetch}' gives {kind}"),
        });
    }
    let pats = &words[i.min(words.len())..];
    let string_match = matches!(
        method,
        Method::Str | Method::Sub | Method::Beg | Method::End | Method::Dir | Method::Dom
    );
    if ignore_case && !string_match {
        return Err(ErrorKind::InvalidValue {
            what: "flag",
            value: "-i".into(),
            reason: "it only applies to string matches".into(),
        });
    }
    let matcher = match method {
        Method::Found | Method::Bool => {
            if let Some(p) = pats.first() {
                return Err(ErrorKind::UnexpectedArgument { arg: p.clone() });
            }
            if method == Method::Found {
                Match::Found
            } else {
                Match::Bool
            }
        }
        Method::Ip => {
            if pats.is_empty() {
                return Err(ErrorKind::MissingArgument {
                    expected: "IP address or network to match",
                });
            }
            let nets = pats
                .iter()
                .map(|p| {
                    p.parse::<IpNet>().map_err(|e| ErrorKind::InvalidValue {
                        what: "IP network",
                        value: p.clone(),
                        reason: e.to_string(),
                    })
                })
                .collect::<Result<_, _>>()?;
            Match::Ip(nets)
        }
        Method::Int => {
            if pats.is_empty() {
                return Err(ErrorKind::MissingArgument {
                    expected: "integer or range to match",
                });
            }
            Match::Int(int_patterns(pats)?)
        }
        _ => {
            if pats.is_empty() {
                return Err(ErrorKind::MissingArgument {
                    expected: "pattern to match (or '-m found' to test presence)",
                });
            }
            let patterns = pats
                .iter()
                .map(|p| {
                    Ok(match method {
                        Method::Len => {
                            StrMatch::Len(uint("length", p, 0, u32::MAX.into())? as usize)
                        }
                        Method::Sub => StrMatch::Sub(p.clone()),
                        Method::Beg => StrMatch::Beg(p.clone()),
                        Method::End => StrMatch::End(p.clone()),
                        Method::Dir => StrMatch::Dir(p.clone()),
                        Method::Dom => StrMatch::Dom(p.clone()),
                        _ => StrMatch::Str(p.clone()),
                    })
                })
                .collect::<Result<_, ErrorKind>>()?;
            Match::Str {
                patterns,
                ignore_case,
            }
        }
    };
    Ok(AclTest {
        span: span.clone(),
        fetch,
        matcher,
    })
}

/// `acl <name> <fetch> [flags] [patterns]`: same-name declarations are ORed.
pub(crate) fn acl_line(d: &mut Draft, l: &Line<'_>) -> Result<(), ErrorKind> {
    let name = l.req(1, "ACL name")?;
    check_name("ACL name", name)?;
    let t = test(&l.span, &l.words[2.min(l.words.len())..])?;
    match d.acls.iter_mut().find(|a| &*a.name == name) {
        Some(acl) => acl.tests.push(t),
        None => d.acls.push(Acl {
            name: name.into(),
            span: l.span.clone(),
            tests: vec![t],
        }),
    }
    Ok(())
}

/// `if|unless <terms>`; `words[0]` is `if` or `unless`.
pub(crate) fn condition(span: &Span, words: &[String]) -> Result<Condition, ErrorKind> {
    let unless = words.first().map(String::as_str) == Some("unless");
    let rest = words.get(1..).unwrap_or_default();
    if rest.is_empty() {
        return Err(ErrorKind::MissingArgument {
            expected: if unless {
                "condition after 'unless'"
            } else {
                "condition after 'if'"
            },
        });
    }
    let bang = || ErrorKind::Invalid("'!' must be followed by an ACL".into());
    let mut groups = Vec::new();
    let mut cur: Vec<Term> = Vec::new();
    let mut negate = false;
    let mut i = 0;
    while let Some(w) = rest.get(i) {
        if w == "or" || w == "||" {
            if negate {
                return Err(bang());
            }
            if cur.is_empty() {
                return Err(ErrorKind::Invalid(format!("'{w}' must follow an ACL")));
            }
            groups.push(std::mem::take(&mut cur));
            i += 1;
            continue;
        }
        let name = w.trim_start_matches('!');
        if (w.len() - name.len()) % 2 == 1 {
            negate = !negate;
        }
        if name.is_empty() {
            i += 1;
            continue;
        }
        let acl = if name == "{" {
            let len = rest[i + 1..]
                .iter()
                .position(|x| x == "}")
                .ok_or_else(|| ErrorKind::Invalid("missing '}' to close '{'".into()))?;
            let inner = &rest[i + 1..i + 1 + len];
            if inner.is_empty() {
                return Err(ErrorKind::Invalid("empty anonymous ACL '{ }'".into()));
            }
            let t = test(span, inner)?;
            i += len + 2;
            AclRef::Anonymous(Box::new(Acl {
                name: format!("{{ {} }}", inner.join(" ")).into(),
                span: span.clone(),
                tests: vec![t],
            }))
        } else if name == "}" {
            return Err(ErrorKind::Invalid("unexpected '}'".into()));
        } else if name.starts_with('{') || name.ends_with('}') {
            return Err(ErrorKind::Invalid(format!(
                "'{{' and '}}' must be separate words in '{name}'"
            )));
        } else {
            check_name("ACL name", name)?;
            i += 1;
            AclRef::Named(name.into())
        };
        cur.push(Term { negate, acl });
        negate = false;
    }
    if negate {
        return Err(bang());
    }
    if cur.is_empty() {
        return Err(ErrorKind::Invalid("'or' must be followed by an ACL".into()));
    }
    groups.push(cur);
    Ok(Condition::new(unless, groups))
}

/// HAProxy's predefined ACLs that lb can evaluate.
pub(crate) fn predefined(name: &str, span: &Span) -> Option<Acl> {
    let t = |fetch, matcher| AclTest {
        span: span.clone(),
        fetch,
        matcher,
    };
    let methods = |m: &[&str]| Match::Str {
        patterns: m.iter().map(|m| StrMatch::Str((*m).to_owned())).collect(),
        ignore_case: false,
    };
    let test = match name {
        "TRUE" => t(Fetch::AlwaysTrue, Match::Bool),
        "FALSE" => t(Fetch::AlwaysFalse, Match::Bool),
        "HTTP" => t(Fetch::ReqProtoHttp, Match::Bool),
        "LOCALHOST" => t(
            Fetch::Src,
            Match::Ip(
                ["127.0.0.0/8", "::1"]
                    .iter()
                    .filter_map(|n| n.parse().ok())
                    .collect(),
            ),
        ),
        "METH_CONNECT" => t(Fetch::Method, methods(&["CONNECT"])),
        "METH_DELETE" => t(Fetch::Method, methods(&["DELETE"])),
        "METH_GET" => t(Fetch::Method, methods(&["GET", "HEAD"])),
        "METH_HEAD" => t(Fetch::Method, methods(&["HEAD"])),
        "METH_OPTIONS" => t(Fetch::Method, methods(&["OPTIONS"])),
        "METH_POST" => t(Fetch::Method, methods(&["POST"])),
        "METH_PUT" => t(Fetch::Method, methods(&["PUT"])),
        "METH_TRACE" => t(Fetch::Method, methods(&["TRACE"])),
        _ => return None,
    };
    Some(Acl {
        name: name.into(),
        span: span.clone(),
        tests: vec![test],
    })
}

/// At the end of a proxy section: named ACLs in conditions exist (predefined ones are
/// added), and HTTP fetches are only used in `mode http`.
pub(crate) fn resolve(cx: &mut Ctx, d: &mut Draft) {
    let refs = d.rule_conditions();
    for (kw, span, cond) in &refs {
        for acl in cond.acls() {
            match acl {
                AclRef::Named(name) => {
                    if d.acls.iter().any(|a| a.name == *name) {
                        continue;
                    }
                    if let Some(p) = predefined(name, span) {
                        d.acls.push(p);
                        continue;
                    }
                    let names: Vec<&str> = d.acls.iter().map(|a| &*a.name).collect();
                    let suggestion = suggest(name, &names).map(str::to_owned);
                    cx.error(
                        span,
                        Some(kw),
                        ErrorKind::UnknownReference {
                            what: "ACL",
                            name: name.to_string(),
                            suggestion,
                        },
                    );
                }
                AclRef::Anonymous(a) => {
                    if d.mode() == Mode::Tcp {
                        needs_http(cx, d, a, kw);
                    }
                }
            }
        }
    }
    if d.mode() == Mode::Tcp {
        let acls = d.acls.clone();
        for a in &acls {
            needs_http(cx, d, a, "acl");
        }
    }
}

fn needs_http(cx: &mut Ctx, d: &Draft, acl: &Acl, kw: &str) {
    for t in acl.tests.iter().filter(|t| t.fetch.needs_http()) {
        cx.error(
            &t.span,
            Some(kw),
            ErrorKind::NeedsHttp {
                what: format!("fetch '{}'", t.fetch),
                section: d.kind(),
                name: d.name().to_string(),
            },
        );
    }
}

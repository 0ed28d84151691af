//! `http-request` rules of a frontend or backend: evaluated in order on the request head,
//! header rewrites applied as they match, the first final action (`deny`, `use-service`)
//! ending the walk.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderName, HeaderValue, StatusCode};
use lb_http::errors::ErrorPages;
use lb_http::log::LogRecord;
use lb_http::server::ConnInfo;
use lb_http::stats::{PrometheusService, StatsRegistry};
use lb_tls::TlsInfo;

use super::acl::{write_sample, Acls, HttpSamples};
use crate::config::{Condition, HttpRequestAction, HttpRequestRule, Service, ValueFormat};

/// The `http-request` rules of one proxy section, with its ACLs and error pages.
#[derive(Debug, Default)]
pub(crate) struct HttpRules {
    acls: Acls,
    rules: Vec<Rule>,
    errors: ErrorPages,
}

#[derive(Debug)]
struct Rule {
    cond: Option<Condition>,
    action: Action,
}

#[derive(Debug)]
enum Action {
    SetHeader(HeaderName, ValueFormat),
    AddHeader(HeaderName, ValueFormat),
    DelHeader(HeaderName),
    Deny(StatusCode),
    Service(PrometheusService),
}

/// What the rules decided about a request.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Go on (headers may have been rewritten).
    Continue,
    /// `deny`: answer with this response (boxed: the cold path).
    Respond(Box<http::Response<lb_http::body::ProxyBody>>),
    /// `use-service prometheus-exporter`: the service answers.
    Service(PrometheusService),
}

/// What the rules can see of the connection a request came on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnFacts<'a> {
    /// Addresses, frontend name, accept date.
    pub(crate) info: Option<&'a ConnInfo>,
    /// The TLS handshake, when the frontend terminates TLS.
    pub(crate) tls: Option<&'a TlsInfo>,
    /// Every backend by name (`nbsrv`).
    pub(crate) backends: &'a HashMap<Arc<str>, lb_core::Backend>,
}

impl<'a> ConnFacts<'a> {
    /// The samples of a request on this connection.
    pub(crate) fn samples<'b>(&'b self, parts: &'b http::request::Parts) -> HttpSamples<'b> {
        HttpSamples {
            parts,
            src: self.info.and_then(|i| i.client).map(|a| a.ip()),
            local: self.info.and_then(|i| i.local),
            tls: self.info.is_some_and(|i| i.tls),
            tls_info: self.tls,
            backends: self.backends,
        }
    }

    /// A log record carrying the connection's facts, for the `%ci`-style aliases of value
    /// formats.
    fn record(&self) -> LogRecord {
        let unknown = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        let mut r = match self.info {
            Some(i) => LogRecord::new(i.client.unwrap_or(unknown), i.accepted, i.frontend.clone()),
            None => LogRecord::new(unknown, SystemTime::now(), ""),
        };
        r.frontend_addr = self.info.and_then(|i| i.local);
        r.frontend_tls = self.info.is_some_and(|i| i.tls);
        r
    }
}

impl HttpRules {
    /// The rules of a section, evaluated with its ACLs; `deny` answers with `errors`.
    pub(crate) fn new(
        rules: &[HttpRequestRule],
        acls: Acls,
        errors: ErrorPages,
        registry: &StatsRegistry,
    ) -> Self {
        let rules = rules
            .iter()
            .map(|r| Rule {
                cond: r.cond.clone(),
                action: match &r.action {
                    HttpRequestAction::SetHeader(n, f) => Action::SetHeader(n.clone(), f.clone()),
                    HttpRequestAction::AddHeader(n, f) => Action::AddHeader(n.clone(), f.clone()),
                    HttpRequestAction::DelHeader(n) => Action::DelHeader(n.clone()),
                    HttpRequestAction::Deny(code) => {
                        Action::Deny(StatusCode::from_u16(*code).unwrap_or(StatusCode::FORBIDDEN))
                    }
                    HttpRequestAction::UseService(Service::PrometheusExporter) => {
                        Action::Service(PrometheusService::new(registry.clone()))
                    }
                },
            })
            .collect();
        HttpRules {
            acls,
            rules,
            errors,
        }
    }

    /// Whether there is no rule (the request passes untouched).
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Runs the rules on a request head, in order.
    pub(crate) fn apply(&self, parts: &mut http::request::Parts, conn: &ConnFacts<'_>) -> Verdict {
        let mut record = None;
        for rule in &self.rules {
            // Conditions and values read the head; the rewrite happens once they are done.
            let value = {
                let samples = conn.samples(&*parts);
                if !self.acls.check(rule.cond.as_ref(), &samples) {
                    continue;
                }
                match &rule.action {
                    Action::SetHeader(_, f) | Action::AddHeader(_, f) => {
                        let record = record.get_or_insert_with(|| conn.record());
                        let mut out = String::new();
                        f.format.render_with(
                            record,
                            &mut |i, out| {
                                if let Some(fetch) = f.samples.get(i) {
                                    write_sample(fetch, &samples, out);
                                }
                            },
                            &mut out,
                        );
                        // A value that is no valid header value is skipped (HAProxy
                        // would fail the rewrite); the request goes on.
                        match HeaderValue::from_bytes(out.trim().as_bytes()) {
                            Ok(v) => Some(v),
                            Err(_) => {
                                tracing::debug!(value = %out, "http-request: invalid header value skipped");
                                continue;
                            }
                        }
                    }
                    _ => None,
                }
            };
            match (&rule.action, value) {
                (Action::SetHeader(name, _), Some(v)) => {
                    parts.headers.insert(name.clone(), v);
                }
                (Action::AddHeader(name, _), Some(v)) => {
                    parts.headers.append(name.clone(), v);
                }
                (Action::DelHeader(name), _) => {
                    parts.headers.remove(name);
                }
                (Action::Deny(status), _) => {
                    return Verdict::Respond(Box::new(self.errors.response(*status)));
                }
                (Action::Service(svc), _) => return Verdict::Service(svc.clone()),
                (Action::SetHeader(..) | Action::AddHeader(..), None) => {}
            }
        }
        Verdict::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The rules of the first frontend of `cfg` (a frontend section body).
    fn rules(body: &str) -> (HttpRules, Acls) {
        let text = format!(
            "defaults\n mode http\n timeout client 1s\n timeout server 1s\n timeout connect 1s\n\
             frontend fe\n bind 127.0.0.1:0\n default_backend be\n{body}\n\
             backend be\n server s1 127.0.0.1:1\n"
        );
        let cfg = Config::parse_str("t.cfg", &text, &|_| None).unwrap_or_else(|e| panic!("{e}"));
        let fe = &cfg.frontends[0];
        let acls = Acls::new(&fe.acls);
        (
            HttpRules::new(
                &fe.http_request,
                acls.clone(),
                ErrorPages::new(),
                &StatsRegistry::new(),
            ),
            acls,
        )
    }

    fn head(headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().uri("/p?q=1");
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).expect("valid request").into_parts().0
    }

    fn info(tls: bool) -> ConnInfo {
        ConnInfo {
            client: Some("192.0.2.7:4000".parse().expect("addr")),
            local: Some("198.51.100.1:443".parse().expect("addr")),
            frontend: "fe".into(),
            accepted: SystemTime::UNIX_EPOCH,
            tls,
            ssl_version: None,
            ssl_cipher: None,
        }
    }

    #[test]
    fn set_add_del_headers_in_order() {
        let (r, _) = rules(
            " http-request set-header X-Src %[src]:%cp\n\
             http-request add-header X-Multi a\n\
             http-request add-header X-Multi b%[dst]\n\
             http-request del-header X-Drop\n\
             http-request set-header X-Host h=%[hdr(host)]\n\
             http-request set-header X-Proto https if { ssl_fc }\n\
             http-request set-header X-SSL %[ssl_fc]\n",
        );
        let backends = HashMap::new();
        let info = info(false);
        let conn = ConnFacts {
            info: Some(&info),
            tls: None,
            backends: &backends,
        };
        let mut parts = head(&[("x-drop", "1"), ("host", "a, b"), ("x-src", "forged")]);
        assert!(matches!(r.apply(&mut parts, &conn), Verdict::Continue));
        let h = &parts.headers;
        assert_eq!(h.get_all("x-src").iter().count(), 1);
        assert_eq!(h["x-src"], "192.0.2.7:4000");
        let multi: Vec<_> = h.get_all("x-multi").iter().collect();
        assert_eq!(multi, ["a", "b198.51.100.1"]);
        assert!(h.get("x-drop").is_none());
        assert_eq!(h["x-host"], "h=b");
        assert!(h.get("x-proto").is_none(), "not TLS");
        assert_eq!(h["x-ssl"], "0");
    }

    #[test]
    fn deny_with_status_stops_the_rules() {
        let (r, _) = rules(
            " acl internal src 10.0.0.0/8\n\
             http-request deny deny_status 429 if !internal { hdr(x-k) -m found }\n\
             http-request set-header X-After 1\n",
        );
        let backends = HashMap::new();
        let info = info(false);
        let conn = ConnFacts {
            info: Some(&info),
            tls: None,
            backends: &backends,
        };
        let mut parts = head(&[("x-k", "1")]);
        match r.apply(&mut parts, &conn) {
            Verdict::Respond(resp) => assert_eq!(resp.status(), 429),
            other => panic!("expected a deny, got {other:?}"),
        }
        assert!(parts.headers.get("x-after").is_none());
        let mut parts = head(&[]);
        assert!(matches!(r.apply(&mut parts, &conn), Verdict::Continue));
        assert_eq!(parts.headers["x-after"], "1");
    }

    #[test]
    fn tls_samples_without_tls_are_absent() {
        let (r, _) = rules(
            " http-request set-header X-DN <%[ssl_c_s_dn]>\n\
             http-request set-header X-Verify <%[ssl_c_verify]>\n\
             http-request set-header X-Used %[ssl_c_used]\n\
             http-request deny if !{ ssl_c_verify 0 }\n",
        );
        let backends = HashMap::new();
        let conn = ConnFacts {
            info: None,
            tls: None,
            backends: &backends,
        };
        let mut parts = head(&[]);
        // ssl_c_verify does not exist on a clear connection: the deny applies.
        assert!(matches!(r.apply(&mut parts, &conn), Verdict::Respond(_)));
        assert_eq!(parts.headers["x-dn"], "<>");
        assert_eq!(parts.headers["x-verify"], "<>");
        assert_eq!(parts.headers["x-used"], "0");
    }

    #[test]
    fn request_samples() {
        let (r, _) = rules(" http-request set-header X-Path %[path]|%[url]|%[method]\n");
        let backends = HashMap::new();
        let conn = ConnFacts {
            info: None,
            tls: None,
            backends: &backends,
        };
        let mut parts = head(&[]);
        parts.uri = "/ok".parse().expect("uri");
        r.apply(&mut parts, &conn);
        assert_eq!(parts.headers["x-path"], "/ok|/ok|GET");
        assert!(!r.is_empty());
    }
}

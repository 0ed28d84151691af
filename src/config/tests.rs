//! Parser tests: each keyword's good forms, and every error path with its exact message.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderName, Method, StatusCode, Version};
use lb_core::matcher::{IntMatch, IpNet, StrMatch};
use lb_core::{Address, Algorithm, HashFunction, HashMethod, Redispatch, UriOptions};
use lb_http::client::ReuseMode;
use lb_http::log::LogFormat;
use lb_tcp::listen::BindAddr;
use lb_tcp::proxy_protocol::Version as ProxyVersion;
use proptest::prelude::*;

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "PORT" => Some("8080".into()),
        "HOST" => Some("10.0.0.1".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Config {
    Config::parse_str("t.cfg", text, &env).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> Vec<String> {
    match Config::parse_str("t.cfg", text, &env) {
        Ok(_) => panic!("no error for:\n{text}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

/// The single error of `text`.
fn err(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e.into_iter().next().unwrap_or_default()
}

/// A backend `b` (mode tcp) with `body` from line 2.
fn be(body: &str) -> String {
    format!("backend b\n{body}\n")
}

/// An HTTP backend `b` with `body` from line 3.
fn be_http(body: &str) -> String {
    format!("backend b\n  mode http\n{body}\n")
}

/// A frontend `f` with a bind on line 2 and `body` from line 3.
fn fe(body: &str) -> String {
    format!("frontend f\n  bind :80\n{body}\n")
}

/// An HTTP frontend `f` (bind on line 2, mode on line 3) and `body` from line 4.
fn fe_http(body: &str) -> String {
    format!("frontend f\n  bind :80\n  mode http\n{body}\n")
}

fn backend(c: &Config) -> &Backend {
    c.backend("b").expect("backend b")
}

fn frontend(c: &Config) -> &Frontend {
    c.frontend("f").expect("frontend f")
}

// ---------------------------------------------------------------------------------------
// sections

#[test]
fn sections_and_structure() {
    let c = parse(
        "# comment\n\nglobal\n  maxconn 100\nglobal\n  nbthread 2\n\
         frontend f\n  bind :80\n  default_backend b\n\
         backend b\n  server s 127.0.0.1:81\n\
         listen l\n  bind :82\n  server s 127.0.0.1:83\n",
    );
    assert_eq!(c.global.maxconn, Some(100));
    assert_eq!(c.global.nbthread, Some(2));
    assert_eq!(c.frontends.len(), 2);
    assert_eq!(c.backends.len(), 2);
    let l = c.frontend("l").unwrap();
    assert!(l.listen);
    assert_eq!(&*l.default_backend.as_ref().unwrap().name, "l");
    assert!(c.backend("l").unwrap().listen);
    assert!(!frontend(&c).listen);
    assert_eq!(frontend(&c).span.line, 7);
    assert_eq!(&*frontend(&c).span.file, "t.cfg");
    assert_eq!(backend(&c).servers[0].span.line, 11);
    assert!(c.frontend("b").is_none());
    assert!(c.backend("f").is_none());
    // Empty configurations are fine.
    let c = parse("");
    assert!(c.frontends.is_empty() && c.backends.is_empty());
}

#[test]
fn section_errors() {
    assert_eq!(
        err("foo bar\n  mode http\n"),
        "t.cfg:1: unknown section 'foo' (expected global, defaults, frontend, backend or listen)"
    );
    assert_eq!(
        err("  mode http\n  maxconn 5\n"),
        "t.cfg:1: 'mode': keyword outside of any section (sections are global, defaults, \
         frontend, backend and listen)"
    );
    // An unsupported section is one error; its body is skipped.
    assert_eq!(
        errors("resolvers dns\n  nameserver a 1.1.1.1:53\nbackend b\n  bogus\n"),
        [
            "t.cfg:1: 'resolvers': section not supported yet (supported: global, defaults, \
             frontend, backend, listen)",
            "t.cfg:4: 'bogus': not supported yet"
        ]
    );
    assert_eq!(
        errors("peers p\n  peer \"a 1.2.3.4:80\n"),
        [
            "t.cfg:1: 'peers': section not supported yet (supported: global, defaults, frontend, \
          backend, listen)"
        ]
    );
    assert_eq!(
        err("global extra\n"),
        "t.cfg:1: 'global': unexpected argument 'extra'"
    );
    assert_eq!(err("backend\n"), "t.cfg:1: 'backend': missing proxy name");
    assert_eq!(
        err("backend a/b\n"),
        "t.cfg:1: 'backend': invalid proxy name 'a/b': only letters, digits, '-', '_', '.' \
         and ':' are allowed"
    );
    assert_eq!(
        err("backend b extra\n"),
        "t.cfg:1: 'backend': unexpected argument 'extra'"
    );
    assert_eq!(
        err("backend b from\n"),
        "t.cfg:1: 'backend': missing value after 'from'"
    );
    assert_eq!(
        err("backend b from d x\n"),
        "t.cfg:1: 'backend': unexpected argument 'x'"
    );
    // The lines of a section with a bad header are skipped.
    assert_eq!(err("backend a/b\n  bogus\n"), errors("backend a/b\n")[0]);
}

#[test]
fn duplicate_proxies() {
    assert_eq!(
        err("backend b\nbackend b\n"),
        "t.cfg:2: 'backend': backend 'b' has the same name as backend 'b' declared at t.cfg:1"
    );
    assert_eq!(
        err("listen b\n  bind :1\nbackend b\n"),
        "t.cfg:3: 'backend': backend 'b' has the same name as listen 'b' declared at t.cfg:1"
    );
    assert_eq!(
        err("frontend x\n  bind :1\nlisten x\n  bind :2\n"),
        "t.cfg:3: 'listen': listen 'x' has the same name as frontend 'x' declared at t.cfg:1"
    );
    // A frontend and a backend may share a name.
    let c = parse("frontend x\n  bind :1\n  default_backend x\nbackend x\n");
    assert_eq!(c.frontends.len(), 1);
    assert_eq!(c.backends.len(), 1);
}

#[test]
fn frontend_needs_bind() {
    assert_eq!(
        err("frontend f\n"),
        "t.cfg:1: frontend 'f' has no 'bind' line"
    );
    assert_eq!(err("listen l\n"), "t.cfg:1: listen 'l' has no 'bind' line");
}

#[test]
fn unsupported_keywords_are_errors() {
    assert_eq!(
        err(&be("  compression algo gzip")),
        "t.cfg:2: 'compression': not supported yet"
    );
    assert_eq!(
        err(&be("  ballance roundrobin")),
        "t.cfg:2: 'ballance': not supported yet (did you mean 'balance'?)"
    );
    assert_eq!(
        err("global\n  maxcon 5\n"),
        "t.cfg:2: 'maxcon': not supported yet (did you mean 'maxconn'?)"
    );
    assert_eq!(
        err("global\n  chroot /var/empty\n"),
        "t.cfg:2: 'chroot': not supported yet"
    );
    assert_eq!(
        err("global\n  daemon\n"),
        "t.cfg:2: 'daemon': not supported: lb runs in the foreground (use a service manager \
         to daemonize it)"
    );
    assert_eq!(
        err("global\n  pidfile /run/lb.pid\n"),
        "t.cfg:2: 'pidfile': not supported: lb writes no pid file (use a service manager to \
         track it)"
    );
    assert_eq!(err(&be("  no foo")), "t.cfg:2: 'no foo': not supported yet");
    assert_eq!(
        err(&be("  no")),
        "t.cfg:2: 'no': missing keyword after 'no' (e.g. 'option')"
    );
}

#[test]
fn keywords_in_the_wrong_section() {
    assert_eq!(
        err(&fe("  server s 1.2.3.4:80")),
        "t.cfg:3: 'server': not allowed in a 'frontend' section (use it in a backend or \
         listen section)"
    );
    assert_eq!(
        err(&be("  bind :80")),
        "t.cfg:2: 'bind': not allowed in a 'backend' section (use it in a frontend or listen \
         section)"
    );
    assert_eq!(
        err(&fe("  balance roundrobin")),
        "t.cfg:3: 'balance': not allowed in a 'frontend' section (use it in a defaults, \
         backend or listen section)"
    );
    assert_eq!(
        err(&be("  default_backend x")),
        "t.cfg:2: 'default_backend': not allowed in a 'backend' section (use it in a \
         defaults, frontend or listen section)"
    );
    assert_eq!(
        err("defaults\n  acl a src 1.2.3.4\n"),
        "t.cfg:2: 'acl': not allowed in a 'defaults' section (use it in a frontend, backend \
         or listen section)"
    );
    assert_eq!(
        err(&fe("  option redispatch")),
        "t.cfg:3: 'option redispatch': not allowed in a 'frontend' section (use it in a \
         defaults, backend or listen section)"
    );
    assert_eq!(
        err(&be("  option httplog")),
        "t.cfg:2: 'option httplog': not allowed in a 'backend' section (use it in a \
         defaults, frontend or listen section)"
    );
    assert_eq!(
        err(&be("  stats socket /run/lb.sock")),
        "t.cfg:2: 'stats socket': not allowed in a 'backend' section (use it in the global \
         section)"
    );
    assert_eq!(
        err("defaults\n  stats admin if TRUE\n"),
        "t.cfg:2: 'stats admin': not allowed in a 'defaults' section (it needs the ACLs of a \
         backend or listen section)"
    );
    assert_eq!(
        err("defaults\n  tcp-request content accept\n"),
        "t.cfg:2: 'tcp-request content': not allowed in a 'defaults' section (use it in a \
         frontend, backend or listen section)"
    );
}

// ---------------------------------------------------------------------------------------
// lexer and units surface through the parser

#[test]
fn syntax_errors_carry_the_line() {
    assert_eq!(
        err("backend b\n  server s \"1.2.3.4:80\n"),
        "t.cfg:2: unmatched quote (\") opened at column 12"
    );
    assert_eq!(
        err("backend b\n  server s \"${NOPE}:80\"\n"),
        "t.cfg:2: environment variable 'NOPE' is not set (write \"${NOPE-default}\" to give \
         a default)"
    );
    let c = parse("backend b\n  server s \"${HOST}:${PORT}\"\n  server t \"${X-1.2.3.4}:1\"\n");
    assert_eq!(backend(&c).servers[0].address.to_string(), "10.0.0.1:8080");
    assert_eq!(backend(&c).servers[1].address.to_string(), "1.2.3.4:1");
    // CRLF line endings.
    let c = parse("backend b\r\n  mode http\r\n");
    assert_eq!(backend(&c).mode, Mode::Http);
}

// ---------------------------------------------------------------------------------------
// global

#[test]
fn global_keywords() {
    let c = parse(
        "global\n  maxconn 5000\n  nbthread 4\n  hard-stop-after 30s\n\
         log stdout format raw local0\n\
         log 127.0.0.1 local1 notice\n\
         log 10.0.0.1:1514 len 2048 format rfc5424 daemon info debug\n\
         log /dev/log local2\n  log unix@/run/log.sock user\n  log udp@[::1]:515 kern\n\
         log stderr format short local7\n  log [::2] auth\n\
         stats socket /run/lb.sock mode 600 level admin\n\
         stats socket 127.0.0.1:9999\n",
    );
    let g = &c.global;
    assert_eq!(g.maxconn, Some(5000));
    assert_eq!(g.nbthread, Some(4));
    assert_eq!(g.hard_stop_after, Some(Duration::from_secs(30)));
    let dests: Vec<String> = g.logs.iter().map(|l| l.destination.to_string()).collect();
    assert_eq!(
        dests,
        [
            "stdout",
            "udp@127.0.0.1:514",
            "udp@10.0.0.1:1514",
            "unix@/dev/log",
            "unix@/run/log.sock",
            "udp@[::1]:515",
            "stderr",
            "udp@[::2]:514"
        ]
    );
    assert_eq!(g.logs[0].format, SyslogFormat::Raw);
    assert_eq!(g.logs[0].facility, Facility::Local0);
    assert_eq!(g.logs[0].span.line, 5);
    assert_eq!(g.logs[1].max_level, Some(LogLevel::Notice));
    assert_eq!(g.logs[2].max_len, Some(2048));
    assert_eq!(g.logs[2].format, SyslogFormat::Rfc5424);
    assert_eq!(g.logs[2].facility, Facility::Daemon);
    assert_eq!(
        (g.logs[2].max_level, g.logs[2].min_level),
        (Some(LogLevel::Info), Some(LogLevel::Debug))
    );
    assert_eq!(g.logs[6].format, SyslogFormat::Short);
    assert_eq!(g.stats_sockets.len(), 2);
    let s = &g.stats_sockets[0];
    assert_eq!(s.address, BindAddr::Unix("/run/lb.sock".into()));
    assert_eq!(s.level, StatsLevel::Admin);
    assert_eq!(s.mode, Some(0o600));
    assert_eq!(g.stats_sockets[1].level, StatsLevel::Operator);
    assert_eq!(g.stats_sockets[1].mode, None);
    for f in ["iso", "priority", "timed", "local", "rfc3164"] {
        parse(&format!("global\n  log stdout format {f} local0\n"));
    }
}

#[test]
fn global_errors() {
    let g = |body: &str| err(&format!("global\n{body}\n"));
    assert_eq!(
        g("  maxconn"),
        "t.cfg:2: 'maxconn': missing connection count"
    );
    assert_eq!(
        g("  maxconn 0"),
        "t.cfg:2: 'maxconn': invalid maxconn '0': expected an integer from 1 to 4294967295"
    );
    assert_eq!(
        g("  maxconn 5 6"),
        "t.cfg:2: 'maxconn': unexpected argument '6'"
    );
    assert_eq!(
        g("  nbthread 5000"),
        "t.cfg:2: 'nbthread': invalid nbthread '5000': expected an integer from 1 to 4096"
    );
    assert_eq!(g("  nbthread"), "t.cfg:2: 'nbthread': missing thread count");
    assert_eq!(
        g("  hard-stop-after soon"),
        "t.cfg:2: 'hard-stop-after': invalid time 'soon': expected a number with an optional \
         unit (us, ms, s, m, h or d; default ms)"
    );
    assert_eq!(
        g("  hard-stop-after"),
        "t.cfg:2: 'hard-stop-after': missing time"
    );
    assert_eq!(
        g("  log global"),
        "t.cfg:2: 'log': 'log global' is for proxy sections; give a target here"
    );
    assert_eq!(
        g("  log"),
        "t.cfg:2: 'log': missing log target (stdout, stderr, an address or a socket path)"
    );
    assert_eq!(
        g("  log stdout"),
        "t.cfg:2: 'log': missing syslog facility (e.g. local0)"
    );
    assert_eq!(
        g("  log stdout local9"),
        "t.cfg:2: 'log': unknown syslog facility 'local9' (expected kern, user, mail, daemon, \
         auth, syslog, lpr, news, uucp, cron, auth2, ftp, ntp, audit, alert, cron2 or local0 \
         to local7)"
    );
    assert_eq!(
        g("  log stdout local0 loud"),
        "t.cfg:2: 'log': unknown log level 'loud' (expected emerg, alert, crit, err, warning, \
         notice, info or debug)"
    );
    assert_eq!(
        g("  log stdout local0 info quiet"),
        "t.cfg:2: 'log': unknown log level 'quiet' (expected emerg, alert, crit, err, warning, \
         notice, info or debug)"
    );
    assert_eq!(
        g("  log stdout local0 info debug x"),
        "t.cfg:2: 'log': unexpected argument 'x'"
    );
    assert_eq!(
        g("  log stdout format"),
        "t.cfg:2: 'log': missing value after 'format'"
    );
    assert_eq!(
        g("  log stdout format json local0"),
        "t.cfg:2: 'log': unknown log format 'json' (expected rfc3164, rfc5424, short, raw, iso, \
         priority, timed or local)"
    );
    assert_eq!(
        g("  log stdout len"),
        "t.cfg:2: 'log': missing value after 'len'"
    );
    assert_eq!(
        g("  log stdout len 10 local0"),
        "t.cfg:2: 'log': invalid log length '10': expected an integer from 80 to 65535"
    );
    assert_eq!(
        g("  log stdout sample 1:2 local0"),
        "t.cfg:2: 'log': log option 'sample' is not supported yet"
    );
    assert_eq!(
        g("  log ring@buf local0"),
        "t.cfg:2: 'log': log target 'ring@buf' is not supported yet (supported: stdout, \
         stderr, udp@ip:port, unix@/path)"
    );
    assert_eq!(
        g("  log unix@ local0"),
        "t.cfg:2: 'log': missing socket path after 'unix@'"
    );
    assert_eq!(
        g("  log syslog.example.com local0"),
        "t.cfg:2: 'log': invalid log target 'syslog.example.com': expected an IP address with \
         an optional port"
    );
    assert_eq!(
        g("  log 1.2.3.4:0 local0"),
        "t.cfg:2: 'log': invalid log target '1.2.3.4:0': expected an IP address with an \
         optional port"
    );
    assert_eq!(
        g("  stats"),
        "t.cfg:2: 'stats': missing stats keyword ('socket')"
    );
    assert_eq!(
        g("  stats timeout 30s"),
        "t.cfg:2: 'stats timeout': not supported yet"
    );
    assert_eq!(
        g("  stats socket"),
        "t.cfg:2: 'stats socket': missing socket address (a path or ip:port)"
    );
    assert_eq!(
        g("  stats socket 1.2.3.4"),
        "t.cfg:2: 'stats socket': invalid bind address `1.2.3.4`: missing `:port` (e.g. \
         `127.0.0.1:8080`, `:80`)"
    );
    assert_eq!(
        g("  stats socket 127.0.0.1:1-2"),
        "t.cfg:2: 'stats socket': invalid stats socket address '127.0.0.1:1-2': a port range \
         is not allowed here"
    );
    assert_eq!(
        g("  stats socket /a,/b"),
        "t.cfg:2: 'stats socket': invalid stats socket address '/a,/b': only one address is \
         allowed here"
    );
    assert_eq!(
        g("  stats socket /a level root"),
        "t.cfg:2: 'stats socket': unknown level 'root' (expected user, operator or admin)"
    );
    assert_eq!(
        g("  stats socket /a level"),
        "t.cfg:2: 'stats socket': missing value after 'level'"
    );
    assert_eq!(
        g("  stats socket /a mode"),
        "t.cfg:2: 'stats socket': missing value after 'mode'"
    );
    assert_eq!(
        g("  stats socket /a mode 999"),
        "t.cfg:2: 'stats socket': invalid mode '999': expected octal permissions such as 600"
    );
    assert_eq!(
        g("  stats socket /a expose-fd listeners"),
        "t.cfg:2: 'stats socket': stats socket option 'expose-fd' is not supported yet \
         (supported: level, mode)"
    );
}

// ---------------------------------------------------------------------------------------
// defaults

#[test]
fn defaults_are_inherited() {
    let c = parse(
        "defaults\n  mode http\n  timeout client 5s\n  balance leastconn\n  retries 5\n\
         defaults named\n  timeout connect 7s\n  balance source\n\
         backend after_named\n\
         defaults\n  maxconn 10\n\
         backend plain\n\
         backend from_named from named\n\
         defaults derived from named\n  retries 1\n\
         backend from_derived\n",
    );
    let b = c.backend("after_named").unwrap();
    // A named defaults section starts from scratch: nothing from the first one.
    assert_eq!(b.mode, Mode::Tcp);
    assert_eq!(b.balance.algorithm, Algorithm::Source);
    assert_eq!(b.timeouts.connect, Some(Duration::from_secs(7)));
    assert_eq!(b.timeouts.client, None);
    assert_eq!(b.retries, 3);
    let b = c.backend("plain").unwrap();
    assert_eq!(b.balance.algorithm, Algorithm::random());
    assert_eq!(b.timeouts.connect, None);
    let b = c.backend("from_named").unwrap();
    assert_eq!(b.balance.algorithm, Algorithm::Source);
    let b = c.backend("from_derived").unwrap();
    assert_eq!(b.balance.algorithm, Algorithm::Source);
    assert_eq!(b.retries, 1);
    assert_eq!(b.timeouts.connect, Some(Duration::from_secs(7)));
}

#[test]
fn defaults_errors() {
    assert_eq!(
        err("defaults d\ndefaults d\n"),
        "t.cfg:2: 'defaults': defaults section 'd' is already defined at t.cfg:1"
    );
    assert_eq!(
        err("defaults d/x\n"),
        "t.cfg:1: 'defaults': invalid defaults name 'd/x': only letters, digits, '-', '_', \
         '.' and ':' are allowed"
    );
    assert_eq!(
        err("defaults named\nbackend b from nmed\n"),
        "t.cfg:2: 'backend': unknown defaults section 'nmed' (did you mean 'named'?)"
    );
    assert_eq!(
        err("defaults a from nope\n"),
        "t.cfg:1: 'defaults': unknown defaults section 'nope'"
    );
    assert_eq!(
        err("defaults a x\n"),
        "t.cfg:1: 'defaults': unexpected argument 'x'"
    );
    // Anonymous with `from`.
    let c = parse("defaults d\n  retries 9\ndefaults from d\nbackend b\n");
    assert_eq!(backend(&c).retries, 9);
}

// ---------------------------------------------------------------------------------------
// proxy keywords

#[test]
fn mode_keyword() {
    assert_eq!(backend(&parse(&be("  mode http"))).mode, Mode::Http);
    assert_eq!(backend(&parse(&be("  mode tcp"))).mode, Mode::Tcp);
    assert_eq!(backend(&parse(&be(""))).mode, Mode::Tcp);
    assert_eq!(
        err(&be("  mode")),
        "t.cfg:2: 'mode': missing mode (tcp or http)"
    );
    assert_eq!(
        err(&be("  mode health")),
        "t.cfg:2: 'mode': unknown mode 'health' (expected tcp or http)"
    );
    assert_eq!(
        err(&be("  mode http x")),
        "t.cfg:2: 'mode': unexpected argument 'x'"
    );
}

#[test]
fn bind_keyword() {
    let c = parse(
        "frontend f\n  bind 127.0.0.1:80,[::1]:81 name web accept-proxy maxconn 10 backlog \
         64 reuseport\n  bind :443 ssl crt /etc/lb/site.pem crt b.pem alpn h2,http/1.1 \
         v4v6\n  bind unix@/run/f.sock mode 660 uid 0\n",
    );
    let f = frontend(&c);
    assert_eq!(f.binds.len(), 3);
    let b = &f.binds[0];
    assert_eq!(b.span.line, 2);
    assert_eq!(b.name.as_deref(), Some("web"));
    assert!(b.accept_proxy);
    assert_eq!(b.maxconn, Some(10));
    assert_eq!(b.spec.options().backlog, Some(64));
    assert!(b.spec.options().reuseport);
    let addrs: Vec<String> = b.spec.addresses().map(|a| a.to_string()).collect();
    assert_eq!(addrs, ["127.0.0.1:80", "[::1]:81"]);
    assert!(b.tls.is_none());
    let tls = f.binds[1].tls.as_ref().unwrap();
    assert_eq!(
        tls.certificates,
        [std::path::PathBuf::from("/etc/lb/site.pem"), "b.pem".into()]
    );
    assert_eq!(tls.alpn, ["h2", "http/1.1"]);
    assert_eq!(f.binds[1].spec.options().v6only, Some(false));
    assert_eq!(f.binds[2].spec.options().mode, Some(0o660));
    assert!(!f.binds[2].accept_proxy);
}

#[test]
fn bind_errors() {
    let b = |line: &str| err(&format!("frontend f\n  bind {line}\n"));
    assert_eq!(
        err("frontend f\n  bind :1\n  bind\n"),
        "t.cfg:3: 'bind': missing address (e.g. ':80' or '127.0.0.1:8080')"
    );
    assert_eq!(
        b("localhost:80"),
        "t.cfg:2: 'bind': invalid bind address `localhost:80`: `localhost` is not an IP \
         address (host names are not resolved here)"
    );
    assert_eq!(
        b(":80 process 1"),
        "t.cfg:2: 'bind': bind option 'process' is not supported yet (supported: \
         accept-proxy, name, maxconn, ssl, crt, crt-list, alpn, ssl-min-ver, ssl-max-ver, \
         ciphers, ciphersuites, prefer-client-ciphers, verify, ca-file, crl-file, \
         no-tls-tickets, tls-ticket-keys, backlog, reuseport, nodelay, keepalive, \
         keepalive-idle, keepalive-intvl, keepalive-cnt, transparent, freebind, v6only, v4v6, \
         mode, uid, gid, namespace)"
    );
    assert_eq!(b(":80 name"), "t.cfg:2: 'bind': missing value after 'name'");
    assert_eq!(
        b(":80 maxconn"),
        "t.cfg:2: 'bind': missing value after 'maxconn'"
    );
    assert_eq!(
        b(":80 maxconn x"),
        "t.cfg:2: 'bind': invalid maxconn 'x': expected an integer from 0 to 4294967295"
    );
    assert_eq!(b(":80 crt"), "t.cfg:2: 'bind': missing value after 'crt'");
    assert_eq!(b(":80 alpn"), "t.cfg:2: 'bind': missing value after 'alpn'");
    assert_eq!(
        b(":80 ssl crt a alpn h2,"),
        "t.cfg:2: 'bind': invalid alpn 'h2,': expected a comma-separated list such as \
         h2,http/1.1"
    );
    assert_eq!(b(":80 ssl"), "t.cfg:2: 'bind': 'ssl' needs 'crt'");
    assert_eq!(b(":80 crt a.pem"), "t.cfg:2: 'bind': 'crt' needs 'ssl'");
    assert_eq!(b(":80 alpn h2"), "t.cfg:2: 'bind': 'alpn' needs 'ssl'");
    assert_eq!(
        b(":80 backlog"),
        "t.cfg:2: 'bind': bind option `backlog` needs a value"
    );
    assert_eq!(
        b(":80 backlog 0"),
        "t.cfg:2: 'bind': invalid value `0` for bind option `backlog`: expected a positive \
         integer"
    );
    assert_eq!(
        b(":80 namespace \"a b\""),
        "t.cfg:2: 'bind': invalid bind argument 'a b': must be a single non-empty word"
    );
    assert_eq!(
        b(":80 name n \"\""),
        "t.cfg:2: 'bind': invalid bind argument '': must be a single non-empty word"
    );
}

#[test]
fn bind_tls_options() {
    let tls = |opts: &str| {
        let c = parse(&format!("frontend f\n  bind :443 ssl crt a.pem {opts}\n"));
        frontend(&c).binds[0].tls.clone().unwrap()
    };
    // Defaults.
    let t = tls("");
    assert_eq!(t.certificates, [std::path::PathBuf::from("a.pem")]);
    assert!(t.crt_lists.is_empty());
    assert_eq!(t.crt_base, None, "parse_str of 't.cfg' has no directory");
    assert_eq!(t.min_version, None);
    assert_eq!(t.max_version, None);
    assert_eq!(t.ciphers, None);
    assert_eq!(t.ciphersuites, None);
    assert!(!t.prefer_client_ciphers);
    assert_eq!(t.verify, ClientVerify::None);
    assert_eq!(t.ca_file, None);
    assert_eq!(t.crl_file, None);
    assert!(!t.no_tls_tickets);
    assert_eq!(t.tls_ticket_keys, None);

    // crt (repeatable, file or directory) and crt-list (repeatable).
    let t = tls("crt /etc/certs/ crt-list list.txt crt-list /l2.txt");
    assert_eq!(
        t.certificates,
        [std::path::PathBuf::from("a.pem"), "/etc/certs/".into()]
    );
    assert_eq!(
        t.crt_lists,
        [std::path::PathBuf::from("list.txt"), "/l2.txt".into()]
    );
    // crt-list alone is enough for ssl.
    let c = parse("frontend f\n  bind :443 ssl crt-list l.txt\n");
    let t = frontend(&c).binds[0].tls.clone().unwrap();
    assert!(t.certificates.is_empty());
    assert_eq!(t.crt_lists, [std::path::PathBuf::from("l.txt")]);

    // Versions.
    let t = tls("ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3");
    assert_eq!(t.min_version, Some(TlsVersion::Tls12));
    assert_eq!(t.max_version, Some(TlsVersion::Tls13));
    assert_eq!(
        tls("ssl-min-ver TLSv1.3").min_version,
        Some(TlsVersion::Tls13)
    );
    assert_eq!(
        tls("ssl-max-ver TLSv1.2").max_version,
        Some(TlsVersion::Tls12)
    );
    assert_eq!(TlsVersion::Tls12.to_string(), "TLSv1.2");
    assert_eq!(TlsVersion::Tls13.as_str(), "TLSv1.3");
    assert_eq!(
        tls("ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3").min_version,
        Some(TlsVersion::Tls13)
    );

    // Ciphers.
    let t = tls(
        "ciphers ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256 \
         ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256 prefer-client-ciphers",
    );
    assert_eq!(
        t.ciphers.as_deref(),
        Some("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
    );
    assert_eq!(
        t.ciphersuites.as_deref(),
        Some("TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256")
    );
    assert!(t.prefer_client_ciphers);

    // Client certificates.
    let t = tls("verify required ca-file ca.pem crl-file crl.pem");
    assert_eq!(t.verify, ClientVerify::Required);
    assert_eq!(t.ca_file, Some("ca.pem".into()));
    assert_eq!(t.crl_file, Some("crl.pem".into()));
    assert_eq!(
        tls("verify optional ca-file ca.pem").verify,
        ClientVerify::Optional
    );
    assert_eq!(tls("verify none").verify, ClientVerify::None);
    let t = tls("ca-file ca.pem");
    assert_eq!(t.verify, ClientVerify::None, "a CA alone asks for nothing");
    assert_eq!(t.ca_file, Some("ca.pem".into()));
    assert_eq!(ClientVerify::Optional.to_string(), "optional");

    // Tickets.
    assert!(tls("no-tls-tickets").no_tls_tickets);
    assert_eq!(
        tls("tls-ticket-keys keys.txt").tls_ticket_keys,
        Some("keys.txt".into())
    );

    // Options may come before 'ssl', and the last of a repeated option wins.
    let c = parse(
        "frontend f\n  bind :443 verify optional ca-file ca.pem ssl-min-ver TLSv1.3 \
         ssl-min-ver TLSv1.2 ssl crt a.pem\n",
    );
    let t = frontend(&c).binds[0].tls.clone().unwrap();
    assert_eq!(t.verify, ClientVerify::Optional);
    assert_eq!(t.min_version, Some(TlsVersion::Tls12));
}

#[test]
fn bind_tls_paths_are_relative_to_the_config_file() {
    let c = Config::parse_str(
        "/etc/lb/lb.cfg",
        "frontend f\n  bind :443 ssl crt site.pem crt /abs/b.pem crt certs/ crt-list l.txt \
         ca-file ca.pem crl-file crl.pem tls-ticket-keys keys.txt\n",
        &env,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = c.frontend("f").unwrap().binds[0].tls.clone().unwrap();
    let dir = std::path::Path::new("/etc/lb");
    assert_eq!(
        t.certificates,
        [
            dir.join("site.pem"),
            "/abs/b.pem".into(),
            dir.join("certs/")
        ]
    );
    assert_eq!(t.crt_lists, [dir.join("l.txt")]);
    assert_eq!(t.crt_base.as_deref(), Some(dir));
    assert_eq!(t.ca_file, Some(dir.join("ca.pem")));
    assert_eq!(t.crl_file, Some(dir.join("crl.pem")));
    assert_eq!(t.tls_ticket_keys, Some(dir.join("keys.txt")));
}

#[test]
fn bind_tls_errors() {
    let b = |line: &str| err(&format!("frontend f\n  bind {line}\n"));
    // Every TLS option needs 'ssl'.
    for (opts, what) in [
        ("crt a.pem", "crt"),
        ("crt-list l.txt", "crt-list"),
        ("alpn h2", "alpn"),
        ("ssl-min-ver TLSv1.2", "ssl-min-ver"),
        ("ssl-max-ver TLSv1.3", "ssl-max-ver"),
        ("ciphers ECDHE-RSA-AES128-GCM-SHA256", "ciphers"),
        ("ciphersuites TLS_AES_128_GCM_SHA256", "ciphersuites"),
        ("prefer-client-ciphers", "prefer-client-ciphers"),
        ("verify none", "verify"),
        ("ca-file ca.pem", "ca-file"),
        ("crl-file crl.pem", "crl-file"),
        ("no-tls-tickets", "no-tls-tickets"),
        ("tls-ticket-keys k.txt", "tls-ticket-keys"),
    ] {
        assert_eq!(
            b(&format!(":443 {opts}")),
            format!("t.cfg:2: 'bind': '{what}' needs 'ssl'"),
            "{opts}"
        );
    }
    // The first one is named.
    assert_eq!(
        b(":443 verify none crt a.pem"),
        "t.cfg:2: 'bind': 'verify' needs 'ssl'"
    );
    assert_eq!(b(":443 ssl"), "t.cfg:2: 'bind': 'ssl' needs 'crt'");
    assert_eq!(
        b(":443 ssl alpn h2 verify none"),
        "t.cfg:2: 'bind': 'ssl' needs 'crt'"
    );
    // Missing values.
    for opt in [
        "crt-list",
        "ssl-min-ver",
        "ssl-max-ver",
        "ciphers",
        "ciphersuites",
        "verify",
        "ca-file",
        "crl-file",
        "tls-ticket-keys",
    ] {
        assert_eq!(
            b(&format!(":443 ssl crt a.pem {opt}")),
            format!("t.cfg:2: 'bind': missing value after '{opt}'"),
        );
    }
    // Bad values.
    assert_eq!(
        b(":443 ssl crt a.pem ssl-min-ver TLSv1.1"),
        "t.cfg:2: 'bind': unknown TLS version 'TLSv1.1' (expected TLSv1.2 or TLSv1.3)"
    );
    assert_eq!(
        b(":443 ssl crt a.pem ssl-max-ver tlsv1.3"),
        "t.cfg:2: 'bind': unknown TLS version 'tlsv1.3' (expected TLSv1.2 or TLSv1.3)"
    );
    assert_eq!(
        b(":443 ssl crt a.pem verify always"),
        "t.cfg:2: 'bind': unknown verify 'always' (expected none, optional or required)"
    );
    assert_eq!(
        b(":443 ssl crt a.pem ciphers \"\""),
        "t.cfg:2: 'bind': invalid ciphers '': expected a ':'-separated list of cipher names"
    );
    assert_eq!(
        b(":443 ssl crt a.pem ciphersuites TLS_AES_128_GCM_SHA256:"),
        "t.cfg:2: 'bind': invalid ciphersuites 'TLS_AES_128_GCM_SHA256:': expected a \
         ':'-separated list of cipher names"
    );
    // Inconsistent combinations.
    assert_eq!(
        b(":443 ssl crt a.pem verify required"),
        "t.cfg:2: 'bind': 'verify required' needs 'ca-file'"
    );
    assert_eq!(
        b(":443 ssl crt a.pem verify optional"),
        "t.cfg:2: 'bind': 'verify optional' needs 'ca-file'"
    );
    assert_eq!(
        b(":443 ssl crt a.pem crl-file crl.pem"),
        "t.cfg:2: 'bind': 'crl-file' needs 'ca-file'"
    );
    assert_eq!(
        b(":443 ssl crt a.pem ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.2"),
        "t.cfg:2: 'bind': 'ssl-min-ver TLSv1.3' is above 'ssl-max-ver TLSv1.2'"
    );
    assert_eq!(
        b(":443 ssl crt a.pem no-tls-tickets tls-ticket-keys k.txt"),
        "t.cfg:2: 'bind': 'no-tls-tickets' and 'tls-ticket-keys' cannot be used together"
    );
}

#[test]
fn maxconn_keyword() {
    assert_eq!(frontend(&parse(&fe("  maxconn 300"))).maxconn, Some(300));
    assert_eq!(frontend(&parse(&fe(""))).maxconn, None);
    assert_eq!(
        err(&fe("  maxconn")),
        "t.cfg:3: 'maxconn': missing connection count"
    );
    assert_eq!(
        err(&fe("  maxconn -1")),
        "t.cfg:3: 'maxconn': invalid maxconn '-1': expected an integer from 0 to 4294967295"
    );
    assert_eq!(
        err(&fe("  maxconn 1 2")),
        "t.cfg:3: 'maxconn': unexpected argument '2'"
    );
}

#[test]
fn timeout_keyword() {
    let c = parse(
        "defaults\n  timeout client 1s\n  timeout server 2m\n  timeout connect 3000\n\
         timeout http-request 4s\n  timeout http-keep-alive 5s\n  timeout queue 6s\n\
         timeout tunnel 1h\n  timeout client-fin 8s\n  timeout server-fin 9s\n\
         timeout check 10s\nbackend b\n  timeout client 0\n",
    );
    let t = backend(&c).timeouts;
    assert_eq!(t.client, None, "0 means none");
    assert_eq!(t.server, Some(Duration::from_secs(120)));
    assert_eq!(t.connect, Some(Duration::from_secs(3)));
    assert_eq!(t.http_request, Some(Duration::from_secs(4)));
    assert_eq!(t.http_keep_alive, Some(Duration::from_secs(5)));
    assert_eq!(t.queue, Some(Duration::from_secs(6)));
    assert_eq!(t.tunnel, Some(Duration::from_secs(3600)));
    assert_eq!(t.client_fin, Some(Duration::from_secs(8)));
    assert_eq!(t.server_fin, Some(Duration::from_secs(9)));
    assert_eq!(t.check, Some(Duration::from_secs(10)));
    assert_eq!(
        backend(&c).balance.queue_timeout,
        Some(Duration::from_secs(6))
    );
    let c = parse(&be("  timeout connect 2s"));
    assert_eq!(
        backend(&c).balance.queue_timeout,
        Some(Duration::from_secs(2)),
        "queue falls back to connect"
    );
}

#[test]
fn timeouts_on_the_wrong_side_warn() {
    let c = parse(
        "frontend f\n  bind :80\n  timeout client 1s\n  timeout server 1s\n\
         timeout http-request 1s\nbackend b\n  timeout client-fin 1s\n  timeout connect 1s\n\
         timeout server 1s\n  timeout http-keep-alive 1s\n",
    );
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            "t.cfg:4: 'timeout server': ignored: frontend 'f' has no backend side",
            "t.cfg:7: 'timeout client-fin': ignored: backend 'b' has no frontend side",
        ]
    );
    // Stored anyway, and fine in defaults and listen sections.
    assert_eq!(frontend(&c).timeouts.server, Some(Duration::from_secs(1)));
    let c = parse(
        "defaults\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n\
         listen l\n  bind :80\n  timeout client-fin 1s\n  timeout queue 1s\n",
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn timeout_errors() {
    assert_eq!(
        err(&be("  timeout")),
        "t.cfg:2: 'timeout': missing timeout name (client, server, connect, http-request, \
         http-keep-alive, queue, tunnel, client-fin, server-fin or check)"
    );
    assert_eq!(
        err(&be("  timeout clinet 5s")),
        "t.cfg:2: 'timeout': unknown timeout 'clinet' (expected client, server, connect, \
         http-request, http-keep-alive, queue, tunnel, client-fin, server-fin or check)"
    );
    assert_eq!(
        err(&be("  timeout tarpit 5s")),
        "t.cfg:2: 'timeout tarpit': not supported yet"
    );
    assert_eq!(
        err(&be("  timeout client")),
        "t.cfg:2: 'timeout client': missing time"
    );
    assert_eq!(
        err(&be("  timeout client -5s")),
        "t.cfg:2: 'timeout client': invalid time '-5s': must not be negative"
    );
    assert_eq!(
        err(&be("  timeout server 5x")),
        "t.cfg:2: 'timeout server': invalid time '5x': unknown unit 'x' (expected us, ms, s, \
         m, h or d; default ms)"
    );
    assert_eq!(
        err(&be("  timeout server 30d")),
        "t.cfg:2: 'timeout server': invalid time '30d': too large (at most 2147483647 ms, \
         about 24.8 days)"
    );
    assert_eq!(
        err(&be("  timeout server 5s 6s")),
        "t.cfg:2: 'timeout server': unexpected argument '6s'"
    );
}

#[test]
fn balance_keyword() {
    let alg = |line: &str| backend(&parse(&be_http(line))).balance.algorithm.clone();
    assert_eq!(alg("  balance roundrobin"), Algorithm::RoundRobin);
    assert_eq!(alg("  balance static-rr"), Algorithm::StaticRr);
    assert_eq!(alg("  balance leastconn"), Algorithm::LeastConn);
    assert_eq!(alg("  balance first"), Algorithm::First);
    assert_eq!(alg("  balance source"), Algorithm::Source);
    assert_eq!(alg("  balance random"), Algorithm::Random { draws: 2 });
    assert_eq!(alg("  balance random(5)"), Algorithm::Random { draws: 5 });
    assert_eq!(alg(""), Algorithm::random(), "the default is random");
    assert_eq!(alg("  balance uri"), Algorithm::Uri(UriOptions::default()));
    assert_eq!(
        alg("  balance uri len 10 depth 2 whole path-only"),
        Algorithm::Uri(UriOptions {
            len: Some(10),
            depth: Some(2),
            whole: true,
            path_only: true
        })
    );
    assert_eq!(
        alg("  balance url_param id"),
        Algorithm::UrlParam {
            name: "id".into(),
            check_post: false
        }
    );
    assert_eq!(
        alg("  balance url_param id check_post"),
        Algorithm::UrlParam {
            name: "id".into(),
            check_post: true
        }
    );
    assert_eq!(
        alg("  balance url_param id check_post 64"),
        Algorithm::UrlParam {
            name: "id".into(),
            check_post: true
        }
    );
    assert_eq!(
        alg("  balance hdr(Host)"),
        Algorithm::Hdr {
            name: HeaderName::from_static("host"),
            use_domain_only: false
        }
    );
    assert_eq!(
        alg("  balance hdr(host) use_domain_only"),
        Algorithm::Hdr {
            name: HeaderName::from_static("host"),
            use_domain_only: true
        }
    );
    assert_eq!(alg("  balance rdp-cookie"), Algorithm::rdp_cookie());
    assert_eq!(alg("  balance rdp-cookie()"), Algorithm::rdp_cookie());
    assert_eq!(
        alg("  balance rdp-cookie(user)"),
        Algorithm::RdpCookie {
            name: "user".into()
        }
    );
    let c = parse(&be_http("  balance hash path"));
    assert_eq!(backend(&c).balance.algorithm, Algorithm::Hash);
    assert_eq!(backend(&c).hash_key, Some(Fetch::Path));
    let c = parse(&be("  balance hash src"));
    assert_eq!(backend(&c).hash_key, Some(Fetch::Src));
    let c = parse(&be_http("  balance hash hdr(x-user)"));
    assert_eq!(
        backend(&c).hash_key,
        Some(Fetch::Hdr(HeaderName::from_static("x-user")))
    );
    // Later `balance` lines replace earlier ones, hash keys included.
    let c = parse(&be_http("  balance hash path\n  balance roundrobin"));
    assert_eq!(backend(&c).hash_key, None);
}

#[test]
fn balance_errors() {
    assert_eq!(
        err(&be("  balance")),
        "t.cfg:2: 'balance': missing algorithm"
    );
    assert_eq!(
        err(&be("  balance roundrobbin")),
        "t.cfg:2: 'balance': unknown algorithm 'roundrobbin' (expected one of roundrobin, \
         static-rr, leastconn, first, source, random[(<draws>)], uri, url_param, \
         hdr(<name>), rdp-cookie[(<name>)], hash <expr>)"
    );
    assert_eq!(
        err(&be("  balance roundrobin x")),
        "t.cfg:2: 'balance': unexpected argument 'x'"
    );
    assert_eq!(
        err(&be("  balance leastconn(2)")),
        "t.cfg:2: 'balance': invalid algorithm 'leastconn(2)': 'leastconn' takes no argument \
         in parentheses"
    );
    assert_eq!(
        err(&be("  balance random(2")),
        "t.cfg:2: 'balance': invalid algorithm 'random(2': expected 'name(argument)'"
    );
    assert_eq!(
        err(&be("  balance random(0)")),
        "t.cfg:2: 'balance': invalid draws '0': expected an integer from 1 to 100"
    );
    assert_eq!(
        err(&be_http("  balance uri len")),
        "t.cfg:3: 'balance': missing value after 'len'"
    );
    assert_eq!(
        err(&be_http("  balance uri depth 0")),
        "t.cfg:3: 'balance': invalid depth '0': expected an integer from 1 to 4294967295"
    );
    assert_eq!(
        err(&be_http("  balance uri whole x")),
        "t.cfg:3: 'balance': unexpected argument 'x'"
    );
    assert_eq!(
        err(&be_http("  balance url_param")),
        "t.cfg:3: 'balance': missing parameter name"
    );
    assert_eq!(
        err(&be_http("  balance hdr")),
        "t.cfg:3: 'balance': invalid algorithm 'hdr': needs a header name, e.g. hdr(host)"
    );
    assert_eq!(
        err(&be_http("  balance \"hdr(a b)\"")),
        "t.cfg:3: 'balance': invalid header name 'a b': not a valid HTTP header name"
    );
    assert_eq!(
        err(&be_http("  balance hash")),
        "t.cfg:3: 'balance': missing sample expression (e.g. 'path')"
    );
    assert_eq!(
        err(&be_http("  balance hash path,lower")),
        "t.cfg:3: 'balance': converters ('path,lower') is not supported yet (use a plain \
         fetch)"
    );
    assert_eq!(
        err(&be_http("  balance hash path_beg")),
        "t.cfg:3: 'balance': invalid hash expression 'path_beg': expected a plain fetch such \
         as path, url, src or hdr(<name>)"
    );
    assert_eq!(
        err(&be_http("  balance hash ssl_fc")),
        "t.cfg:3: 'balance': invalid hash expression 'ssl_fc': expected a plain fetch such as \
         path, url, src or hdr(<name>)"
    );
    assert_eq!(
        err(&be_http("  balance hash req.cook(x)")),
        "t.cfg:3: 'balance': fetch 'req.cook' is not supported yet (supported: path, url, \
         hdr(<name>), method, src, dst, dst_port, req.ssl_sni, req.ssl_hello_type, \
         req.proto_http, ssl_fc, ssl_fc_sni, ssl_fc_alpn, ssl_fc_protocol, ssl_fc_cipher, \
         ssl_c_used, ssl_c_verify, ssl_c_s_dn, ssl_c_i_dn, ssl_c_sha1, nbsrv(<backend>), \
         always_true, always_false; path, url and hdr also with _beg, _end, _sub, _dir, _dom, \
         _len)"
    );
    assert_eq!(
        err(&be("  balance sticky")),
        "t.cfg:2: 'balance': algorithm 'sticky' is not supported yet (it is for log backends)"
    );
    // HTTP algorithms need mode http.
    assert_eq!(
        err(&be("  balance uri")),
        "t.cfg:2: 'balance': 'balance uri' needs 'mode http' (backend 'b' is in mode tcp)"
    );
    assert_eq!(
        err(&be("  balance hash path")),
        "t.cfg:2: 'balance': 'balance hash path' needs 'mode http' (backend 'b' is in mode \
         tcp)"
    );
    assert_eq!(
        err("defaults\n  balance hdr(host)\nbackend b\n"),
        "t.cfg:2: 'balance': 'balance hdr' needs 'mode http' (backend 'b' is in mode tcp)"
    );
}

#[test]
fn hash_type_keyword() {
    let ht = |line: &str| backend(&parse(&be(line))).balance.hash_type;
    let t = ht("  hash-type map-based");
    assert_eq!(
        (t.method, t.function, t.avalanche),
        (HashMethod::MapBased, HashFunction::Sdbm, false)
    );
    let t = ht("  hash-type consistent");
    assert_eq!(
        (t.method, t.function, t.avalanche),
        (HashMethod::Consistent, HashFunction::Sdbm, true)
    );
    let t = ht("  hash-type consistent djb2");
    assert_eq!((t.function, t.avalanche), (HashFunction::Djb2, false));
    let t = ht("  hash-type consistent wt6 avalanche");
    assert_eq!((t.function, t.avalanche), (HashFunction::Wt6, true));
    let t = ht("  hash-type map-based crc32");
    assert_eq!(t.function, HashFunction::Crc32);
    let t = ht("  hash-type map-based none");
    assert_eq!(t.function, HashFunction::None);
    let t = ht("  hash-type map-based avalanche");
    assert_eq!((t.function, t.avalanche), (HashFunction::Sdbm, true));
    assert_eq!(
        err(&be("  hash-type")),
        "t.cfg:2: 'hash-type': missing hash method (map-based or consistent)"
    );
    assert_eq!(
        err(&be("  hash-type ring")),
        "t.cfg:2: 'hash-type': unknown hash method 'ring' (expected map-based or consistent)"
    );
    assert_eq!(
        err(&be("  hash-type consistent md5")),
        "t.cfg:2: 'hash-type': unknown hash function 'md5' (expected sdbm, djb2, wt6, crc32 \
         or none)"
    );
    assert_eq!(
        err(&be("  hash-type consistent sdbm avalanche x")),
        "t.cfg:2: 'hash-type': unexpected argument 'x'"
    );
}

#[test]
fn hash_balance_factor_keyword() {
    let c = parse(&be("  hash-balance-factor 150"));
    assert_eq!(backend(&c).balance.hash_balance_factor, 150);
    let c = parse(&be("  hash-balance-factor 0"));
    assert_eq!(backend(&c).balance.hash_balance_factor, 0);
    assert_eq!(
        err(&be("  hash-balance-factor 50")),
        "t.cfg:2: 'hash-balance-factor': invalid hash-balance-factor '50': must be 0 (off) or \
         above 100"
    );
    assert_eq!(
        err(&be("  hash-balance-factor")),
        "t.cfg:2: 'hash-balance-factor': missing factor (0 or above 100)"
    );
    assert_eq!(
        err(&be("  hash-balance-factor x")),
        "t.cfg:2: 'hash-balance-factor': invalid hash-balance-factor 'x': expected an \
         integer from 0 to 65535"
    );
}

#[test]
fn server_keyword() {
    let c = parse(&be_http(
        "  default-server inter 3s fall 5 check\n\
         server s1 10.0.0.1:80 weight 10 maxconn 100 maxqueue 5 slowstart 30s id 7 \
         send-proxy source 10.0.0.9 rise 3 port 8080 addr 10.0.0.2 fastinter 1s \
         downinter 10s observe layer7 error-limit 4 on-error mark-down check-ssl \
         check-sni example.com\n\
         server s2 [::1]:81 backup disabled send-proxy-v2 no-check agent-check agent-port \
         9999 agent-inter 5s agent-send \"ready\\n\" source 10.0.0.9:4000\n\
         server s3 app.internal:8080 track s1\n\
         server s4 unix@/run/app.sock\n  server s5 /run/app2.sock enabled\n\
         server s6 mem@origin\n  server s7 ipv4@10.0.0.3:82\n  server s8 ipv6@[::2]:83\n\
         server s9 1.2.3.4:1 on-error fastinter observe layer4\n\
         server s10 1.2.3.4:2 on-error sudden-death\n\
         server s11 1.2.3.4:3 on-error fail-check no-send-proxy\n\
         server s12 1.2.3.4:4 backup no-backup no-agent-check no-check-ssl",
    ));
    let b = backend(&c);
    let s1 = b.server("s1").unwrap();
    assert_eq!(s1.span.line, 4);
    assert_eq!(
        s1.address,
        ServerAddress::Addr("10.0.0.1:80".parse().unwrap())
    );
    assert_eq!(s1.weight.get(), 10);
    assert_eq!((s1.maxconn, s1.maxqueue), (100, 5));
    assert_eq!(s1.slowstart, Duration::from_secs(30));
    assert_eq!(s1.id, Some(7));
    assert_eq!(s1.send_proxy, Some(ProxyVersion::V1));
    assert_eq!(s1.source, Some("10.0.0.9:0".parse().unwrap()));
    let ck = &s1.check;
    assert!(ck.enabled);
    assert_eq!(ck.inter, Duration::from_secs(3));
    assert_eq!((ck.rise, ck.fall), (3, 5));
    assert_eq!(ck.port, Some(8080));
    assert_eq!(ck.addr, Some("10.0.0.2".parse().unwrap()));
    assert_eq!(ck.fastinter, Some(Duration::from_secs(1)));
    assert_eq!(ck.downinter, Some(Duration::from_secs(10)));
    assert_eq!(ck.observe, Some(Observe::Layer7));
    assert_eq!(ck.error_limit, 4);
    assert_eq!(ck.on_error, OnError::MarkDown);
    assert!(ck.ssl);
    assert_eq!(ck.sni.as_deref(), Some("example.com"));
    let s2 = b.server("s2").unwrap();
    assert_eq!(s2.address, ServerAddress::Addr("[::1]:81".parse().unwrap()));
    assert!(s2.backup && s2.disabled);
    assert_eq!(s2.send_proxy, Some(ProxyVersion::V2));
    assert!(!s2.check.enabled);
    assert_eq!(
        s2.check.inter,
        Duration::from_secs(3),
        "from default-server"
    );
    assert_eq!(s2.check.fall, 5);
    assert!(s2.check.agent.enabled);
    assert_eq!(s2.check.agent.port, Some(9999));
    assert_eq!(s2.check.agent.inter, Duration::from_secs(5));
    assert_eq!(s2.check.agent.send.as_deref(), Some("ready\n"));
    assert_eq!(s2.source, Some("10.0.0.9:4000".parse().unwrap()));
    let s3 = b.server("s3").unwrap();
    assert_eq!(
        s3.address,
        ServerAddress::Host {
            name: "app.internal".into(),
            port: 8080
        }
    );
    assert_eq!(
        s3.track,
        Some(TrackTarget {
            backend: "b".into(),
            server: "s1".into()
        })
    );
    assert!(s3.check.enabled, "default-server check");
    assert_eq!(
        b.server("s4").unwrap().address,
        ServerAddress::Addr(Address::Unix("/run/app.sock".into()))
    );
    assert!(!b.server("s5").unwrap().disabled);
    assert_eq!(
        b.server("s6").unwrap().address,
        ServerAddress::Addr(Address::Mem("origin".into()))
    );
    assert_eq!(b.server("s8").unwrap().address.to_string(), "[::2]:83");
    assert_eq!(b.server("s9").unwrap().check.on_error, OnError::FastInter);
    assert_eq!(b.server("s9").unwrap().check.observe, Some(Observe::Layer4));
    assert_eq!(
        b.server("s10").unwrap().check.on_error,
        OnError::SuddenDeath
    );
    assert_eq!(b.server("s11").unwrap().check.on_error, OnError::FailCheck);
    assert_eq!(b.server("s11").unwrap().send_proxy, None);
    let s12 = b.server("s12").unwrap();
    assert!(!s12.backup && !s12.check.agent.enabled && !s12.check.ssl);
    // The lb-core view.
    let core = s1.core_config("10.0.0.1:80".parse().unwrap());
    assert_eq!(core.weight.get(), 10);
    assert_eq!(core.id, Some(7));
    assert_eq!(core.maxconn, 100);
    let core = s2.core_config("[::1]:81".parse().unwrap());
    assert!(core.backup);
    assert_eq!(core.admin, lb_core::AdminState::Maint);
}

#[test]
fn server_errors() {
    let s = |params: &str| err(&be(&format!("  server s {params}")));
    assert_eq!(
        err(&be("  server")),
        "t.cfg:2: 'server': missing server name"
    );
    assert_eq!(
        err(&be("  server s")),
        "t.cfg:2: 'server': missing server address"
    );
    assert_eq!(
        err(&be("  server s/1 1.2.3.4:80")),
        "t.cfg:2: 'server': invalid server name 's/1': only letters, digits, '-', '_', '.' and \
         ':' are allowed"
    );
    assert_eq!(
        s("1.2.3.4"),
        "t.cfg:2: 'server': invalid server address '1.2.3.4': missing ':port' (lb needs an \
         explicit port)"
    );
    assert_eq!(
        s("[::1]"),
        "t.cfg:2: 'server': invalid server address '[::1]': missing ':port' (lb needs an \
         explicit port)"
    );
    assert_eq!(
        s("[::1:80"),
        "t.cfg:2: 'server': invalid server address '[::1:80': missing ']' after the IPv6 \
         address"
    );
    assert_eq!(
        s("::1:80"),
        "t.cfg:2: 'server': invalid server address '::1:80': IPv6 addresses need brackets, \
         e.g. [::1]:80"
    );
    assert_eq!(
        s("1.2.3.4:99999"),
        "t.cfg:2: 'server': invalid port '99999': expected an integer from 1 to 65535"
    );
    assert_eq!(
        s("1.2.3.4:0"),
        "t.cfg:2: 'server': invalid port '0': expected an integer from 1 to 65535"
    );
    assert_eq!(
        s("1.2.3.4:http"),
        "t.cfg:2: 'server': invalid port 'http': expected an integer from 1 to 65535"
    );
    assert_eq!(
        s("1.2.3.4:+1"),
        "t.cfg:2: 'server': port '+1' is not supported yet (port offsets and ranges; give one \
         explicit port)"
    );
    assert_eq!(
        s(":80"),
        "t.cfg:2: 'server': invalid server address ':80': missing host"
    );
    assert_eq!(
        s("bad_host!:80"),
        "t.cfg:2: 'server': invalid server address 'bad_host!:80': expected ip:port, \
         [ipv6]:port, host:port, unix@/path or mem@name"
    );
    assert_eq!(
        s("unix@"),
        "t.cfg:2: 'server': invalid server address 'unix@': empty socket path or name"
    );
    assert_eq!(
        s("abns@x"),
        "t.cfg:2: 'server': address family 'abns@' is not supported yet (supported: ipv4@, \
         ipv6@, unix@, mem@)"
    );
    assert_eq!(
        s("ipv4@[::1]:80"),
        "t.cfg:2: 'server': invalid server address 'ipv4@[::1]:80': ipv4@ with an IPv6 \
         address"
    );
    assert_eq!(
        s("ipv6@1.2.3.4:80"),
        "t.cfg:2: 'server': invalid server address 'ipv6@1.2.3.4:80': ipv6@ with an IPv4 \
         address"
    );
    assert_eq!(
        s("1.2.3.4:80 weight 300"),
        "t.cfg:2: 'server': invalid weight '300': expected an integer from 0 to 256"
    );
    assert_eq!(
        s("1.2.3.4:80 weight"),
        "t.cfg:2: 'server': missing value after 'weight'"
    );
    assert_eq!(
        s("1.2.3.4:80 maxconn x"),
        "t.cfg:2: 'server': invalid maxconn 'x': expected an integer from 0 to 4294967295"
    );
    assert_eq!(
        s("1.2.3.4:80 maxqueue -1"),
        "t.cfg:2: 'server': invalid maxqueue '-1': expected an integer from 0 to 4294967295"
    );
    assert_eq!(
        s("1.2.3.4:80 slowstart -1s"),
        "t.cfg:2: 'server': invalid time '-1s': must not be negative"
    );
    assert_eq!(
        s("1.2.3.4:80 source host"),
        "t.cfg:2: 'server': invalid source address 'host': expected an IP address with an \
         optional port"
    );
    assert_eq!(
        s("1.2.3.4:80 source 1.1.1.1 usesrc clientip"),
        "t.cfg:2: 'server': 'source ... usesrc' is not supported yet"
    );
    assert_eq!(
        s("1.2.3.4:80 id 0"),
        "t.cfg:2: 'server': invalid id '0': expected an integer from 1 to 2147483647"
    );
    assert_eq!(
        s("1.2.3.4:80 inter 0"),
        "t.cfg:2: 'server': invalid inter '0': must be greater than zero"
    );
    assert_eq!(
        s("1.2.3.4:80 fastinter x"),
        "t.cfg:2: 'server': invalid time 'x': expected a number with an optional unit (us, \
         ms, s, m, h or d; default ms)"
    );
    assert_eq!(
        s("1.2.3.4:80 downinter 0"),
        "t.cfg:2: 'server': invalid downinter '0': must be greater than zero"
    );
    assert_eq!(
        s("1.2.3.4:80 rise 0"),
        "t.cfg:2: 'server': invalid rise '0': expected an integer from 1 to 65535"
    );
    assert_eq!(
        s("1.2.3.4:80 fall 0"),
        "t.cfg:2: 'server': invalid fall '0': expected an integer from 1 to 65535"
    );
    assert_eq!(
        s("1.2.3.4:80 port 0"),
        "t.cfg:2: 'server': invalid port '0': expected an integer from 1 to 65535"
    );
    assert_eq!(
        s("1.2.3.4:80 addr host"),
        "t.cfg:2: 'server': invalid check address 'host': expected an IP address"
    );
    assert_eq!(
        s("1.2.3.4:80 agent-port 70000"),
        "t.cfg:2: 'server': invalid agent-port '70000': expected an integer from 1 to 65535"
    );
    assert_eq!(
        s("1.2.3.4:80 agent-inter 0"),
        "t.cfg:2: 'server': invalid agent-inter '0': must be greater than zero"
    );
    assert_eq!(
        s("1.2.3.4:80 agent-send"),
        "t.cfg:2: 'server': missing value after 'agent-send'"
    );
    assert_eq!(
        s("1.2.3.4:80 agent-check"),
        "t.cfg:2: 'server': 'agent-check' needs 'agent-port'"
    );
    assert_eq!(
        s("1.2.3.4:80 observe layer9"),
        "t.cfg:2: 'server': unknown observe mode 'layer9' (expected layer4 or layer7)"
    );
    assert_eq!(
        s("1.2.3.4:80 error-limit 0"),
        "t.cfg:2: 'server': invalid error-limit '0': expected an integer from 1 to 65535"
    );
    assert_eq!(
        s("1.2.3.4:80 on-error panic"),
        "t.cfg:2: 'server': unknown on-error action 'panic' (expected fastinter, fail-check, \
         sudden-death or mark-down)"
    );
    assert_eq!(
        s("1.2.3.4:80 check-sni"),
        "t.cfg:2: 'server': missing value after 'check-sni'"
    );
    assert_eq!(
        s("1.2.3.4:80 track a/b/c"),
        "t.cfg:2: 'server': invalid server name 'b/c': only letters, digits, '-', '_', '.' \
         and ':' are allowed"
    );
    assert_eq!(
        s("1.2.3.4:80 track a!/b"),
        "t.cfg:2: 'server': invalid backend name 'a!': only letters, digits, '-', '_', '.' \
         and ':' are allowed"
    );
    assert_eq!(
        s("1.2.3.4:80 cookie s1"),
        "t.cfg:2: 'server': server option 'cookie' is not supported yet"
    );
    assert_eq!(
        s("1.2.3.4:80 proxy-v2-options ssl,cert-sig"),
        "t.cfg:2: 'server': proxy-v2-options 'cert-sig' is not supported yet (supported: ssl, \
         cert-cn, ssl-cipher)"
    );
    assert_eq!(
        s("1.2.3.4:80 proxy-v2-options"),
        "t.cfg:2: 'server': missing value after 'proxy-v2-options'"
    );
    assert_eq!(
        s("1.2.3.4:80 observe layer7"),
        "t.cfg:2: 'server': 'observe layer7' needs 'mode http' (backend 'b' is in mode tcp)"
    );
    assert_eq!(
        err(&be("  server s 1.2.3.4:80\n  server s 1.2.3.4:81")),
        "t.cfg:3: 'server': server 's' is already defined at t.cfg:2"
    );
    assert_eq!(
        err(&be(
            "  server a 1.2.3.4:80 id 3\n  server b 1.2.3.4:81 id 3"
        )),
        "t.cfg:3: 'server': server id '3' is already defined at t.cfg:2"
    );
    // default-server.
    assert_eq!(
        err(&be("  default-server id 3")),
        "t.cfg:2: 'default-server': 'id' cannot be used on 'default-server'"
    );
    assert_eq!(
        err(&be("  default-server track x")),
        "t.cfg:2: 'default-server': 'track' cannot be used on 'default-server'"
    );
    assert_eq!(
        err(&be("  default-server weight 999")),
        "t.cfg:2: 'default-server': invalid weight '999': expected an integer from 0 to 256"
    );
    // agent-check from default-server with the port on the server is fine.
    let c = parse(&be(
        "  default-server agent-check\n  server s 1.2.3.4:80 agent-port 1",
    ));
    assert!(backend(&c).servers[0].check.agent.enabled);
}

#[test]
fn track_errors() {
    let base = "backend b\n  server web1 1.2.3.4:80 check\n  server web2 1.2.3.4:81\n";
    assert_eq!(
        err(&format!("{base}  server t 1.2.3.4:82 track nope\n")),
        "t.cfg:4: 'server': unknown server 'b/nope'"
    );
    assert_eq!(
        err(&format!("{base}  server t 1.2.3.4:82 track web3\n")),
        "t.cfg:4: 'server': unknown server 'b/web3' (did you mean 'b/web1'?)"
    );
    assert_eq!(
        err(&format!("{base}  server t 1.2.3.4:82 track x/web1\n")),
        "t.cfg:4: 'server': unknown backend 'x'"
    );
    assert_eq!(
        err(&format!("{base}  server t 1.2.3.4:82 track web2\n")),
        "t.cfg:4: 'server': cannot track 'b/web2': it has no 'check' or 'agent-check'"
    );
    assert_eq!(
        errors("backend b\n  server a 1.2.3.4:80 track b\n  server b 1.2.3.4:81 track a\n"),
        [
            "t.cfg:2: 'server': tracking loop through 'b/a'",
            "t.cfg:3: 'server': tracking loop through 'b/b'"
        ]
    );
    // Chains and other backends.
    let c = parse(
        "backend a\n  server x 1.2.3.4:80 check\n\
         backend b\n  server y 1.2.3.4:81 track a/x\n  server z 1.2.3.4:82 track y\n",
    );
    assert_eq!(
        backend(&c)
            .server("z")
            .unwrap()
            .track
            .as_ref()
            .unwrap()
            .to_string(),
        "b/y"
    );
}

#[test]
fn retries_and_reuse() {
    let c = parse(&be("  retries 5\n  http-reuse always"));
    assert_eq!(backend(&c).retries, 5);
    assert_eq!(backend(&c).http_reuse, ReuseMode::Always);
    let c = parse(&be(""));
    assert_eq!(backend(&c).retries, 3);
    assert_eq!(backend(&c).http_reuse, ReuseMode::Safe);
    for (w, m) in [
        ("never", ReuseMode::Never),
        ("safe", ReuseMode::Safe),
        ("aggressive", ReuseMode::Aggressive),
    ] {
        assert_eq!(
            backend(&parse(&be(&format!("  http-reuse {w}")))).http_reuse,
            m
        );
    }
    assert_eq!(
        err(&be("  retries")),
        "t.cfg:2: 'retries': missing retry count"
    );
    assert_eq!(
        err(&be("  retries 1000")),
        "t.cfg:2: 'retries': invalid retries '1000': expected an integer from 0 to 100"
    );
    assert_eq!(
        err(&be("  http-reuse")),
        "t.cfg:2: 'http-reuse': missing mode (never, safe, aggressive or always)"
    );
    assert_eq!(
        err(&be("  http-reuse sometimes")),
        "t.cfg:2: 'http-reuse': unknown http-reuse mode 'sometimes' (expected never, safe, \
         aggressive or always)"
    );
    assert_eq!(
        err(&be("  http-reuse safe x")),
        "t.cfg:2: 'http-reuse': unexpected argument 'x'"
    );
}

#[test]
fn options() {
    let c = parse(
        "defaults\n  mode http\n  option redispatch\n  option forwardfor except 10.0.0.0/8 \
         header X-Client if-none\n  option http-server-close\n  option httplog\n\
         option dontlognull\n  option allbackups\n  option httpchk GET /health HTTP/1.1 \
         example.com\nlisten l\n  bind :80\n",
    );
    let b = c.backend("l").unwrap();
    let f = c.frontend("l").unwrap();
    assert_eq!(b.redispatch, Redispatch::Last);
    let xff = b.forwardfor.as_ref().unwrap();
    assert_eq!(xff.header_name(), "x-client");
    assert_eq!(
        xff.except_net(),
        Some("10.0.0.0/8".parse::<IpNet>().unwrap())
    );
    assert!(xff.is_if_none());
    assert_eq!(f.forwardfor.as_ref(), Some(xff));
    assert_eq!(b.http_conn_mode, HttpConnMode::ServerClose);
    assert_eq!(f.log_format, Some(LogFormat::httplog()));
    assert!(f.dontlognull);
    assert!(b.balance.allbackups);
    let chk = b.httpchk.as_ref().unwrap();
    assert_eq!(chk.method, Method::GET);
    assert_eq!(chk.uri, "/health");
    assert_eq!(chk.version, Version::HTTP_11);
    assert_eq!(chk.host.as_deref(), Some("example.com"));

    let opt = |lines: &str| parse(&format!("listen l\n  bind :80\n  mode http\n{lines}\n"));
    let c = opt("  option redispatch 2");
    assert_eq!(c.backend("l").unwrap().redispatch, Redispatch::Every(2));
    let c = opt("  option redispatch -2");
    assert_eq!(
        c.backend("l").unwrap().redispatch,
        Redispatch::BeforeLast(2)
    );
    let c = opt("  option redispatch\n  no option redispatch");
    assert_eq!(c.backend("l").unwrap().redispatch, Redispatch::Off);
    let c = opt("  option forwardfor");
    assert_eq!(
        c.backend("l")
            .unwrap()
            .forwardfor
            .as_ref()
            .unwrap()
            .header_name(),
        "x-forwarded-for"
    );
    let c = opt("  option forwardfor\n  no option forwardfor");
    assert!(c.backend("l").unwrap().forwardfor.is_none());
    let c = opt("  option httpclose");
    assert_eq!(c.frontend("l").unwrap().http_conn_mode, HttpConnMode::Close);
    let c = opt("  option httpclose\n  no option httpclose");
    assert_eq!(
        c.frontend("l").unwrap().http_conn_mode,
        HttpConnMode::KeepAlive
    );
    let c = opt("  option httpclose\n  no option http-server-close");
    assert_eq!(c.frontend("l").unwrap().http_conn_mode, HttpConnMode::Close);
    let c = opt("  option httpclose\n  option http-keep-alive");
    assert_eq!(
        c.frontend("l").unwrap().http_conn_mode,
        HttpConnMode::KeepAlive
    );
    let c = opt("  option tcplog");
    assert_eq!(
        c.frontend("l").unwrap().log_format,
        Some(LogFormat::tcplog())
    );
    let c = opt("  option httplog\n  no option httplog");
    assert_eq!(c.frontend("l").unwrap().log_format, None);
    let c = opt("  option httplog\n  no option tcplog");
    assert_eq!(
        c.frontend("l").unwrap().log_format,
        Some(LogFormat::httplog())
    );
    let c = opt("  option dontlognull\n  no option dontlognull");
    assert!(!c.frontend("l").unwrap().dontlognull);
    let c = opt("  option allbackups\n  no option allbackups");
    assert!(!c.backend("l").unwrap().balance.allbackups);
    let c = opt("  option httpchk");
    let chk = c.backend("l").unwrap().httpchk.clone().unwrap();
    assert_eq!(
        (chk.method, chk.uri.as_str(), chk.version, chk.span.line),
        (Method::OPTIONS, "/", Version::HTTP_10, 4)
    );
    let c = opt("  option httpchk /ping");
    let chk = c.backend("l").unwrap().httpchk.clone().unwrap();
    assert_eq!((chk.method, chk.uri.as_str()), (Method::OPTIONS, "/ping"));
    let c = opt("  option httpchk HEAD /ping");
    let chk = c.backend("l").unwrap().httpchk.clone().unwrap();
    assert_eq!((chk.method, chk.version), (Method::HEAD, Version::HTTP_10));
    let c = opt("  option httpchk\n  no option httpchk");
    assert!(c.backend("l").unwrap().httpchk.is_none());
    // Only the last log option counts; log-format replaces it.
    let c = opt("  option httplog\n  log-format \"%ci %ST\"");
    assert_eq!(
        c.frontend("l").unwrap().log_format,
        Some(LogFormat::parse("%ci %ST").unwrap())
    );
}

#[test]
fn option_errors() {
    let o = |line: &str| err(&be_http(line));
    assert_eq!(o("  option"), "t.cfg:3: 'option': missing option name");
    assert_eq!(
        o("  option http-buffer-request"),
        "t.cfg:3: 'option http-buffer-request': not supported yet"
    );
    assert_eq!(
        o("  option redispath"),
        "t.cfg:3: 'option redispath': not supported yet (did you mean 'redispatch'?)"
    );
    assert_eq!(
        o("  option redispatch x"),
        "t.cfg:3: 'option redispatch': invalid redispatch interval 'x': expected an integer \
         (0 disables, -1 is the last retry)"
    );
    assert_eq!(
        o("  option redispatch 1 2"),
        "t.cfg:3: 'option redispatch': unexpected argument '2'"
    );
    assert_eq!(
        o("  no option redispatch 1"),
        "t.cfg:3: 'no option redispatch': unexpected argument '1'"
    );
    assert_eq!(
        o("  option forwardfor except"),
        "t.cfg:3: 'option forwardfor': missing value after 'except'"
    );
    assert_eq!(
        o("  option forwardfor except 10.0.0.0/33"),
        "t.cfg:3: 'option forwardfor': invalid network '10.0.0.0/33': prefix length 33 \
         exceeds 32"
    );
    assert_eq!(
        o("  option forwardfor header"),
        "t.cfg:3: 'option forwardfor': missing value after 'header'"
    );
    assert_eq!(
        o("  option forwardfor header \"X Y\""),
        "t.cfg:3: 'option forwardfor': invalid header name 'X Y': not a valid HTTP header name"
    );
    assert_eq!(
        o("  option forwardfor always"),
        "t.cfg:3: 'option forwardfor': unexpected argument 'always'"
    );
    assert_eq!(
        o("  option httpclose x"),
        "t.cfg:3: 'option httpclose': unexpected argument 'x'"
    );
    assert_eq!(
        o("  option allbackups x"),
        "t.cfg:3: 'option allbackups': unexpected argument 'x'"
    );
    assert_eq!(
        err(&fe_http("  option httplog clf")),
        "t.cfg:4: 'option httplog': 'option httplog clf' is not supported yet (use log-format)"
    );
    assert_eq!(
        err(&fe_http("  option tcplog x")),
        "t.cfg:4: 'option tcplog': unexpected argument 'x'"
    );
    assert_eq!(
        err(&fe_http("  option dontlognull x")),
        "t.cfg:4: 'option dontlognull': unexpected argument 'x'"
    );
    assert_eq!(
        o("  option httpchk get /"),
        "t.cfg:3: 'option httpchk': invalid method 'get': expected an upper-case HTTP method \
         such as GET"
    );
    assert_eq!(
        o("  option httpchk GET \"/a b\""),
        "t.cfg:3: 'option httpchk': invalid URI '/a b': expected a request target such as \
         /health"
    );
    assert_eq!(
        o("  option httpchk GET / HTTP/2"),
        "t.cfg:3: 'option httpchk': unknown version 'HTTP/2' (expected HTTP/1.0 or HTTP/1.1)"
    );
    assert_eq!(
        o("  option httpchk GET / HTTP/1.1\\r\\nHost:\\ www"),
        "t.cfg:3: 'option httpchk': invalid version 'HTTP/1.1\\r\\nHost: www': give the Host \
         header as a fourth argument instead of appending it to the version"
    );
    assert_eq!(
        o("  option httpchk GET / HTTP/1.1 h x"),
        "t.cfg:3: 'option httpchk': unexpected argument 'x'"
    );
}

#[test]
fn options_ignored_in_tcp_mode_warn() {
    let c = parse(
        "defaults\n  option httplog\n  option forwardfor\nlisten l\n  bind :80\n\
         timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n",
    );
    assert_eq!(
        c.frontend("l").unwrap().log_format,
        Some(LogFormat::tcplog())
    );
    assert!(c.frontend("l").unwrap().forwardfor.is_none());
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            "t.cfg:2: 'option httplog': listen 'l' is in mode tcp: using 'option tcplog' \
             instead",
            "t.cfg:3: 'option forwardfor': ignored: listen 'l' is in mode tcp",
        ]
    );
}

#[test]
fn missing_timeouts_warn() {
    let c = parse("frontend f\n  bind :80\nbackend b\n  timeout connect 1s\n");
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            "t.cfg:1: frontend 'f' has no 'timeout client': connections may hang forever",
            "t.cfg:3: backend 'b' has no 'timeout server': connections may hang forever",
        ]
    );
    let c = parse("listen l\n  bind :80\n");
    assert_eq!(
        c.warnings[0].to_string(),
        "t.cfg:1: listen 'l' has no 'timeout client', 'timeout connect', 'timeout server': \
         connections may hang forever"
    );
}

#[test]
fn routing() {
    let c = parse(
        "frontend f\n  bind :80\n  mode http\n  acl api path_beg /api\n\
         use_backend api if api\n  use_backend other unless api\n  use_backend web\n\
         default_backend web\n\
         backend api\n  mode http\nbackend web\n  mode http\nbackend other\n  mode http\n",
    );
    let f = frontend(&c);
    assert_eq!(f.use_backends.len(), 3);
    assert_eq!(&*f.use_backends[0].backend, "api");
    assert_eq!(f.use_backends[0].span.line, 5);
    let cond = f.use_backends[0].cond.as_ref().unwrap();
    assert!(!cond.unless);
    assert!(f.use_backends[1].cond.as_ref().unwrap().unless);
    assert!(f.use_backends[2].cond.is_none());
    let d = f.default_backend.as_ref().unwrap();
    assert_eq!((&*d.name, d.span.line), ("web", 8));
}

#[test]
fn routing_errors() {
    assert_eq!(
        err(&fe("  default_backend nope")),
        "t.cfg:3: 'default_backend': unknown backend 'nope'"
    );
    assert_eq!(
        err(&format!("{}backend web\n", fe("  default_backend wbe"))),
        "t.cfg:3: 'default_backend': unknown backend 'wbe' (did you mean 'web'?)"
    );
    assert_eq!(
        err("frontend f\n  bind :80\n  default_backend g\nfrontend g\n  bind :81\n"),
        "t.cfg:3: 'default_backend': 'g' is a frontend, not a backend"
    );
    assert_eq!(
        err(&fe("  default_backend")),
        "t.cfg:3: 'default_backend': missing backend name"
    );
    assert_eq!(
        err(&format!("{}backend b\n", fe("  default_backend b x"))),
        "t.cfg:3: 'default_backend': unexpected argument 'x'"
    );
    assert_eq!(
        err(&fe("  use_backend %[req.hdr(host)]")),
        "t.cfg:3: 'use_backend': dynamic backend name '%[req.hdr(host)]' is not supported yet"
    );
    assert_eq!(
        err(&fe("  use_backend")),
        "t.cfg:3: 'use_backend': missing backend name"
    );
    assert_eq!(
        err(&format!("{}backend b\n", fe("  use_backend b when x"))),
        "t.cfg:3: 'use_backend': unexpected argument 'when'"
    );
    assert_eq!(
        err(&format!("{}backend b\n", fe("  use_backend b if"))),
        "t.cfg:3: 'use_backend': missing condition after 'if'"
    );
    assert_eq!(
        err(&format!("{}backend b\n", fe("  use_backend b unless"))),
        "t.cfg:3: 'use_backend': missing condition after 'unless'"
    );
    assert_eq!(
        err(&format!("{}backend b\n", fe("  use_backend b if nope"))),
        "t.cfg:3: 'use_backend': unknown ACL 'nope'"
    );
    assert_eq!(
        err(&format!(
            "{}backend b\n",
            fe("  acl local src 127.0.0.1\n  use_backend b if locl")
        )),
        "t.cfg:4: 'use_backend': unknown ACL 'locl' (did you mean 'local'?)"
    );
    // Mode mismatches, both ways.
    assert_eq!(
        err("frontend f\n  bind :80\n  default_backend b\nbackend b\n  mode http\n"),
        "t.cfg:3: 'default_backend': frontend 'f' is in mode tcp but backend 'b' is in mode \
         http"
    );
    assert_eq!(
        err("frontend f\n  bind :80\n  mode http\n  use_backend b\nbackend b\n"),
        "t.cfg:4: 'use_backend': frontend 'f' is in mode http but backend 'b' is in mode tcp"
    );
    // A backend whose header failed is not reported again as unknown.
    assert_eq!(
        errors("frontend f\n  bind :80\n  default_backend b\nbackend b extra\n"),
        ["t.cfg:4: 'backend': unexpected argument 'extra'"]
    );
    assert_eq!(
        errors("frontend f\n  bind :80\n  default_backend b\nbackend b\nbackend b\n"),
        ["t.cfg:5: 'backend': backend 'b' has the same name as backend 'b' declared at t.cfg:4"]
    );
}

#[test]
fn acls() {
    let c = parse(&fe_http(
        "  acl api path_beg /api/ /v2/\n  acl api path_end .json\n\
         acl host hdr(host) -i example.com\n  acl hb hdr_beg(host) www.\n\
         acl he hdr_end(host) .com\n  acl hs hdr_sub(x-a) b\n  acl hd hdr_dom(host) example\n\
         acl pd path_dir img\n  acl ps path_sub min\n  acl pl path_len 3\n  acl ub url_beg /x\n\
         acl u url /exact\n  acl p path -m beg /p\n  acl m method GET POST\n\
         acl lan src 10.0.0.0/8 192.168.0.0/16 ::1\n  acl port dst_port 80 443 8000:8080 :10 \
         20: gt 5 ge 6 lt 7 le 8 eq 9\n  acl sni req.ssl_sni -i -m end .example.com\n\
         acl old req_ssl_sni www.a.com\n  acl http req.proto_http\n  acl tls ssl_fc\n\
         acl hello req.ssl_hello_type 1\n  acl t always_true\n  acl f always_false\n\
         acl found hdr(x-id) -m found\n  acl neg dst_port -- -1\n  acl n2 src -n 1.2.3.4\n\
         acl b dst_port -m bool\n  acl rh req.hdr(host) a\n  acl ssl_int ssl_fc -m int 1\n\
         acl sl path -m len 4\n  acl sd path -m dom x -m sub",
    ));
    let f = frontend(&c);
    let acl = |name: &str| f.acls.iter().find(|a| &*a.name == name).unwrap();
    let api = acl("api");
    assert_eq!(api.tests.len(), 2, "same-name declarations are ORed");
    assert_eq!(api.span.line, 4);
    assert_eq!(api.tests[1].span.line, 5);
    assert_eq!(api.tests[0].fetch, Fetch::Path);
    assert_eq!(
        api.tests[0].matcher,
        Match::Str {
            patterns: vec![StrMatch::Beg("/api/".into()), StrMatch::Beg("/v2/".into())],
            ignore_case: false
        }
    );
    assert_eq!(
        acl("host").tests[0].matcher,
        Match::Str {
            patterns: vec![StrMatch::Str("example.com".into())],
            ignore_case: true
        }
    );
    assert_eq!(
        acl("host").tests[0].fetch,
        Fetch::Hdr(HeaderName::from_static("host"))
    );
    let m = |name: &str| acl(name).tests[0].matcher.clone();
    let s = |p: StrMatch| Match::Str {
        patterns: vec![p],
        ignore_case: false,
    };
    assert_eq!(m("hb"), s(StrMatch::Beg("www.".into())));
    assert_eq!(m("he"), s(StrMatch::End(".com".into())));
    assert_eq!(m("hs"), s(StrMatch::Sub("b".into())));
    assert_eq!(m("hd"), s(StrMatch::Dom("example".into())));
    assert_eq!(m("pd"), s(StrMatch::Dir("img".into())));
    assert_eq!(m("ps"), s(StrMatch::Sub("min".into())));
    assert_eq!(m("pl"), s(StrMatch::Len(3)));
    assert_eq!(m("ub"), s(StrMatch::Beg("/x".into())));
    assert_eq!(acl("ub").tests[0].fetch, Fetch::Url);
    assert_eq!(m("u"), s(StrMatch::Str("/exact".into())));
    assert_eq!(m("p"), s(StrMatch::Beg("/p".into())));
    assert_eq!(acl("m").tests[0].fetch, Fetch::Method);
    assert_eq!(
        m("lan"),
        Match::Ip(
            ["10.0.0.0/8", "192.168.0.0/16", "::1"]
                .iter()
                .map(|n| n.parse().unwrap())
                .collect()
        )
    );
    assert_eq!(
        m("port"),
        Match::Int(vec![
            IntMatch::Eq(80),
            IntMatch::Eq(443),
            IntMatch::Range(8000, 8080),
            IntMatch::Range(i64::MIN, 10),
            IntMatch::Range(20, i64::MAX),
            IntMatch::Gt(5),
            IntMatch::Ge(6),
            IntMatch::Lt(7),
            IntMatch::Le(8),
            IntMatch::Eq(9),
        ])
    );
    assert_eq!(acl("sni").tests[0].fetch, Fetch::ReqSslSni);
    assert_eq!(
        m("sni"),
        Match::Str {
            patterns: vec![StrMatch::End(".example.com".into())],
            ignore_case: true
        }
    );
    assert_eq!(acl("old").tests[0].fetch, Fetch::ReqSslSni);
    assert_eq!(m("http"), Match::Bool);
    assert_eq!(acl("http").tests[0].fetch, Fetch::ReqProtoHttp);
    assert_eq!(acl("tls").tests[0].fetch, Fetch::SslFc);
    assert_eq!(m("hello"), Match::Int(vec![IntMatch::Eq(1)]));
    assert_eq!(acl("t").tests[0].fetch, Fetch::AlwaysTrue);
    assert_eq!(acl("f").tests[0].fetch, Fetch::AlwaysFalse);
    assert_eq!(m("found"), Match::Found);
    assert_eq!(m("neg"), Match::Int(vec![IntMatch::Eq(-1)]));
    assert_eq!(m("n2"), Match::Ip(vec!["1.2.3.4".parse().unwrap()]));
    assert_eq!(m("b"), Match::Bool);
    assert_eq!(
        acl("rh").tests[0].fetch,
        Fetch::Hdr(HeaderName::from_static("host"))
    );
    assert_eq!(m("ssl_int"), Match::Int(vec![IntMatch::Eq(1)]));
    assert_eq!(m("sl"), s(StrMatch::Len(4)));
    // Flags end at the first pattern: `-m sub` is a pattern here.
    assert_eq!(
        m("sd"),
        Match::Str {
            patterns: vec![
                StrMatch::Dom("x".into()),
                StrMatch::Dom("-m".into()),
                StrMatch::Dom("sub".into())
            ],
            ignore_case: false
        }
    );
}

#[test]
fn acl_errors() {
    let a = |line: &str| err(&fe_http(&format!("  acl {line}")));
    assert_eq!(err(&fe_http("  acl")), "t.cfg:4: 'acl': missing ACL name");
    assert_eq!(a("x"), "t.cfg:4: 'acl': missing fetch (e.g. path_beg)");
    assert_eq!(
        a("x! path /"),
        "t.cfg:4: 'acl': invalid ACL name 'x!': only letters, digits, '-', '_', '.' and ':' \
         are allowed"
    );
    assert_eq!(
        a("x path_reg ^/a"),
        "t.cfg:4: 'acl': 'path_reg' is not supported yet (lb has no regular expression engine; \
         use _beg, _end, _sub, _dir or _dom)"
    );
    assert_eq!(
        a("x hdr_reg(host) ^a"),
        "t.cfg:4: 'acl': 'hdr_reg' is not supported yet (lb has no regular expression engine; \
         use _beg, _end, _sub, _dir or _dom)"
    );
    assert_eq!(
        a("x path -m reg ^/a"),
        "t.cfg:4: 'acl': '-m reg' is not supported yet (lb has no regular expression engine; \
         use _beg, _end, _sub, _dir or _dom)"
    );
    assert_eq!(
        a("x path -m bin 00"),
        "t.cfg:4: 'acl': '-m bin' is not supported yet (binary samples are not supported)"
    );
    assert_eq!(
        a("x path -m fuzzy a"),
        "t.cfg:4: 'acl': unknown match method 'fuzzy' (expected found, bool, int, ip, len, \
         str, sub, beg, end, dir or dom)"
    );
    assert_eq!(a("x path -m"), "t.cfg:4: 'acl': missing value after '-m'");
    assert_eq!(
        a("x path_beg -m str /a"),
        "t.cfg:4: 'acl': invalid flag '-m': 'path_beg' already implies a match method"
    );
    assert_eq!(
        a("x path -f /etc/paths.lst"),
        "t.cfg:4: 'acl': ACL flag '-f' is not supported yet"
    );
    assert_eq!(
        a("x path -x /"),
        "t.cfg:4: 'acl': unknown ACL flag '-x' (expected -i, -m, -n or --)"
    );
    assert_eq!(
        a("x path"),
        "t.cfg:4: 'acl': missing pattern to match (or '-m found' to test presence)"
    );
    assert_eq!(
        a("x src"),
        "t.cfg:4: 'acl': missing IP address or network to match"
    );
    assert_eq!(
        a("x dst_port"),
        "t.cfg:4: 'acl': missing integer or range to match"
    );
    assert_eq!(
        a("x src 10.0.0.0/40"),
        "t.cfg:4: 'acl': invalid IP network '10.0.0.0/40': prefix length 40 exceeds 32"
    );
    assert_eq!(
        a("x src -i 10.0.0.1"),
        "t.cfg:4: 'acl': invalid flag '-i': it only applies to string matches"
    );
    assert_eq!(
        a("x src -m str a"),
        "t.cfg:4: 'acl': invalid match method 'str': 'src' gives an IP address"
    );
    assert_eq!(
        a("x path -m ip 1.2.3.4"),
        "t.cfg:4: 'acl': invalid match method 'ip': 'path' gives a string"
    );
    assert_eq!(
        a("x dst_port -m beg 8"),
        "t.cfg:4: 'acl': invalid match method 'beg': 'dst_port' gives an integer"
    );
    assert_eq!(
        a("x ssl_fc -m str 1"),
        "t.cfg:4: 'acl': invalid match method 'str': 'ssl_fc' gives a boolean"
    );
    assert_eq!(a("x ssl_fc 1"), "t.cfg:4: 'acl': unexpected argument '1'");
    assert_eq!(
        a("x path -m found /"),
        "t.cfg:4: 'acl': unexpected argument '/'"
    );
    assert_eq!(
        a("x dst_port http"),
        "t.cfg:4: 'acl': invalid integer pattern 'http': expected an integer, an operator (eq, \
         ge, gt, le, lt) then an integer, or a range such as 1024:65535"
    );
    assert_eq!(
        a("x dst_port 9:1"),
        "t.cfg:4: 'acl': invalid integer range '9:1': the lower bound is above the upper bound"
    );
    assert_eq!(
        a("x dst_port :"),
        "t.cfg:4: 'acl': invalid integer pattern ':': expected an integer, an operator (eq, \
         ge, gt, le, lt) then an integer, or a range such as 1024:65535"
    );
    assert_eq!(
        a("x dst_port gt"),
        "t.cfg:4: 'acl': missing value after 'gt'"
    );
    assert_eq!(
        a("x path_len x"),
        "t.cfg:4: 'acl': invalid length 'x': expected an integer from 0 to 4294967295"
    );
    assert_eq!(
        a("x path,lower /a"),
        "t.cfg:4: 'acl': converters ('path,lower') is not supported yet (use a plain fetch)"
    );
    assert_eq!(
        a("x hdr(host),lower a"),
        "t.cfg:4: 'acl': converters ('hdr(host),lower') is not supported yet (use a plain \
         fetch)"
    );
    assert_eq!(
        a("x hdr(host,1) a"),
        "t.cfg:4: 'acl': header occurrences ('hdr(host,1)') is not supported yet"
    );
    assert_eq!(
        a("x hdr a"),
        "t.cfg:4: 'acl': invalid fetch 'hdr': needs a header name, e.g. hdr(host)"
    );
    assert_eq!(
        a("x hdr() a"),
        "t.cfg:4: 'acl': invalid fetch 'hdr()': needs a header name, e.g. hdr(host)"
    );
    assert_eq!(
        a("x path(1) a"),
        "t.cfg:4: 'acl': invalid fetch 'path(1)': 'path' takes no argument"
    );
    assert_eq!(
        a("x hdr_cnt(host) 1"),
        "t.cfg:4: 'acl': fetch 'hdr_cnt' is not supported yet (supported: path, url, \
         hdr(<name>), method, src, dst, dst_port, req.ssl_sni, req.ssl_hello_type, \
         req.proto_http, ssl_fc, ssl_fc_sni, ssl_fc_alpn, ssl_fc_protocol, ssl_fc_cipher, \
         ssl_c_used, ssl_c_verify, ssl_c_s_dn, ssl_c_i_dn, ssl_c_sha1, nbsrv(<backend>), \
         always_true, always_false; path, url and hdr also with _beg, _end, _sub, _dir, _dom, \
         _len)"
    );
    assert_eq!(
        a("x query a"),
        "t.cfg:4: 'acl': fetch 'query' is not supported yet (supported: path, url, \
         hdr(<name>), method, src, dst, dst_port, req.ssl_sni, req.ssl_hello_type, \
         req.proto_http, ssl_fc, ssl_fc_sni, ssl_fc_alpn, ssl_fc_protocol, ssl_fc_cipher, \
         ssl_c_used, ssl_c_verify, ssl_c_s_dn, ssl_c_i_dn, ssl_c_sha1, nbsrv(<backend>), \
         always_true, always_false; path, url and hdr also with _beg, _end, _sub, _dir, _dom, \
         _len)"
    );
    assert_eq!(
        a("x hdr(a(b)) a"),
        "t.cfg:4: 'acl': invalid fetch 'hdr(a(b))': expected 'name(argument)'"
    );
    // HTTP fetches need mode http.
    assert_eq!(
        err(&fe("  acl x path /")),
        "t.cfg:3: 'acl': fetch 'path' needs 'mode http' (frontend 'f' is in mode tcp)"
    );
    assert_eq!(
        err(&format!(
            "{}backend b\n",
            fe("  use_backend b if { hdr(host) a }")
        )),
        "t.cfg:3: 'use_backend': fetch 'hdr(host)' needs 'mode http' (frontend 'f' is in \
         mode tcp)"
    );
    // TCP inspection fetches do not.
    parse(&format!(
        "{}backend b\n",
        fe("  use_backend b if { req.ssl_sni -i a.com } HTTP")
    ));
}

#[test]
fn conditions() {
    let c = parse(&format!(
        "{}backend b\n  mode http\n",
        fe_http(
            "  acl a path /a\n  acl b path /b\n  acl c path /c\n\
             use_backend b if a !b or c || ! a { path_beg /x } !{ method GET }\n\
             use_backend b if !!a\n  use_backend b if ! !a"
        )
    ));
    let f = frontend(&c);
    let cond = f.use_backends[0].cond.as_ref().unwrap();
    assert_eq!(cond.any_of.len(), 3);
    assert_eq!(cond.any_of[0].len(), 2);
    assert!(!cond.any_of[0][0].negate && cond.any_of[0][1].negate);
    assert_eq!(cond.any_of[2].len(), 3);
    assert!(cond.any_of[2][0].negate);
    let AclRef::Anonymous(anon) = &cond.any_of[2][1].acl else {
        panic!("anonymous ACL expected");
    };
    assert_eq!(&*anon.name, "{ path_beg /x }");
    assert_eq!(anon.tests[0].fetch, Fetch::Path);
    assert!(cond.any_of[2][2].negate);
    // Double negations cancel, as separate words or not.
    for rule in &f.use_backends[1..] {
        assert!(!rule.cond.as_ref().unwrap().any_of[0][0].negate);
    }
    let truth = |on: &'static [&str]| {
        move |r: &AclRef| match r {
            AclRef::Named(n) => on.contains(&&**n),
            AclRef::Anonymous(_) => false,
        }
    };
    assert!(cond.eval(truth(&["a"])));
    assert!(!cond.eval(truth(&["a", "b"])));
    assert!(cond.eval(truth(&["b", "c"])));
    assert_eq!(cond.acls().count(), 6);
}

#[test]
fn condition_errors() {
    let c = |cond: &str| {
        err(&format!(
            "{}backend b\n",
            fe(&format!("  acl a src 1.2.3.4\n  use_backend b if {cond}"))
        ))
    };
    assert_eq!(c("or a"), "t.cfg:4: 'use_backend': 'or' must follow an ACL");
    assert_eq!(
        c("a || || a"),
        "t.cfg:4: 'use_backend': '||' must follow an ACL"
    );
    assert_eq!(
        c("a or"),
        "t.cfg:4: 'use_backend': 'or' must be followed by an ACL"
    );
    assert_eq!(
        c("a !"),
        "t.cfg:4: 'use_backend': '!' must be followed by an ACL"
    );
    assert_eq!(
        c("! or a"),
        "t.cfg:4: 'use_backend': '!' must be followed by an ACL"
    );
    assert_eq!(
        c("{ src 1.2.3.4"),
        "t.cfg:4: 'use_backend': missing '}' to close '{'"
    );
    assert_eq!(
        c("{ }"),
        "t.cfg:4: 'use_backend': empty anonymous ACL '{ }'"
    );
    assert_eq!(c("a }"), "t.cfg:4: 'use_backend': unexpected '}'");
    assert_eq!(
        c("{src 1.2.3.4 }"),
        "t.cfg:4: 'use_backend': '{' and '}' must be separate words in '{src'"
    );
    assert_eq!(
        c("a/b"),
        "t.cfg:4: 'use_backend': invalid ACL name 'a/b': only letters, digits, '-', '_', '.' \
         and ':' are allowed"
    );
    assert_eq!(
        c("{ src }"),
        "t.cfg:4: 'use_backend': missing IP address or network to match"
    );
}

#[test]
fn predefined_acls() {
    let c = parse(&format!(
        "{}backend b\n",
        fe("  use_backend b if HTTP TRUE !FALSE LOCALHOST")
    ));
    assert!(c.frontend("f").is_some());
    let c = parse(&format!(
        "{}backend b\n  mode http\n",
        fe_http(
            "  use_backend b if METH_GET or METH_POST or METH_PUT or METH_HEAD or \
             METH_OPTIONS or METH_DELETE or METH_CONNECT or METH_TRACE"
        )
    ));
    let f = frontend(&c);
    let names: Vec<&str> = f.acls.iter().map(|a| &*a.name).collect();
    assert_eq!(
        names,
        [
            "METH_GET",
            "METH_POST",
            "METH_PUT",
            "METH_HEAD",
            "METH_OPTIONS",
            "METH_DELETE",
            "METH_CONNECT",
            "METH_TRACE"
        ]
    );
    assert_eq!(
        f.acls[0].tests[0].matcher,
        Match::Str {
            patterns: vec![StrMatch::Str("GET".into()), StrMatch::Str("HEAD".into())],
            ignore_case: false
        }
    );
    // A user ACL of the same name wins.
    let c = parse(&format!(
        "{}backend b\n",
        fe("  acl HTTP dst_port 80\n  use_backend b if HTTP")
    ));
    assert_eq!(frontend(&c).acls[0].tests[0].fetch, Fetch::DstPort);
    // METH_* reads the method: mode http only.
    assert_eq!(
        err(&format!("{}backend b\n", fe("  use_backend b if METH_GET"))),
        "t.cfg:3: 'acl': fetch 'method' needs 'mode http' (frontend 'f' is in mode tcp)"
    );
}

#[test]
fn logging_keywords() {
    let c = parse(
        "global\n  log stdout local0\ndefaults\n  log global\n  mode http\n\
         frontend f\n  bind :80\n  log 127.0.0.1:514 local1\n  log-format \"%ci:%cp %ST\"\n\
         unique-id-format %{+X}o\\ %ci:%cp_%Ts\n  unique-id-header X-Request-ID\n\
         frontend g\n  bind :81\n  no log\n",
    );
    let f = c.frontend("f").unwrap();
    assert_eq!(f.logs.len(), 2);
    assert_eq!(f.logs[0], ProxyLog::Global);
    let ProxyLog::Target(t) = &f.logs[1] else {
        panic!("target expected")
    };
    assert_eq!(
        t.destination,
        LogDestination::Udp("127.0.0.1:514".parse::<SocketAddr>().unwrap())
    );
    assert_eq!(f.log_format, Some(LogFormat::parse("%ci:%cp %ST").unwrap()));
    assert_eq!(
        f.unique_id_format,
        Some(LogFormat::parse("%{+X}o %ci:%cp_%Ts").unwrap())
    );
    assert_eq!(
        f.unique_id_header,
        Some(HeaderName::from_static("x-request-id"))
    );
    assert!(c.frontend("g").unwrap().logs.is_empty());

    let e = |line: &str| err(&fe_http(line));
    assert_eq!(
        e("  log global x"),
        "t.cfg:4: 'log': unexpected argument 'x'"
    );
    assert_eq!(
        e("  no log x"),
        "t.cfg:4: 'no log': unexpected argument 'x'"
    );
    assert_eq!(
        e("  log-format"),
        "t.cfg:4: 'log-format': missing format string"
    );
    assert_eq!(
        e("  log-format %ci %ST"),
        "t.cfg:4: 'log-format': expects a single argument: quote the format or escape its \
         spaces with '\\ '"
    );
    assert_eq!(
        e("  log-format \"%ci %[src]\""),
        "t.cfg:4: 'log-format': invalid format: sample expressions not supported yet (`%[` at \
         column 5)"
    );
    assert_eq!(
        e("  unique-id-format %zz"),
        "t.cfg:4: 'unique-id-format': invalid format: no such format alias 'zz' at column 1; \
         write '%%' for a literal '%'"
    );
    assert_eq!(
        e("  unique-id-header"),
        "t.cfg:4: 'unique-id-header': missing header name"
    );
    assert_eq!(
        e("  unique-id-header \"a b\""),
        "t.cfg:4: 'unique-id-header': invalid header name 'a b': not a valid HTTP header name"
    );
    assert_eq!(
        e("  unique-id-header a b"),
        "t.cfg:4: 'unique-id-header': unexpected argument 'b'"
    );
}

#[test]
fn errorfile_and_monitor_uri() {
    let dir = std::env::temp_dir().join(format!("lb-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("503.http"),
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad.http"), "oops").unwrap();
    let name = dir.join("lb.cfg").display().to_string();
    let text = "frontend f\n  bind :80\n  mode http\n  errorfile 503 503.http\n\
                errorfile 503 503.http\n  monitor-uri /alive\n";
    let c = Config::parse_str(&name, text, &env).unwrap();
    let f = c.frontend("f").unwrap();
    assert_eq!(f.errorfiles.len(), 1, "the last one per status wins");
    assert_eq!(f.errorfiles[0].status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(f.errorfiles[0].path, dir.join("503.http"));
    assert_eq!(f.errorfiles[0].span.line, 5);
    assert!(f.errorfiles[0].response.starts_with(b"HTTP/1.1 503"));
    assert!(format!("{:?}", f.errorfiles[0]).contains("response_len"));
    assert_eq!(f.monitor_uri.as_deref(), Some("/alive"));

    let e = |line: &str| {
        Config::parse_str(&name, &format!("backend b\n{line}\n"), &env)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        e("  errorfile 503 missing.http"),
        format!(
            "{name}:2: 'errorfile': cannot read '{}': No such file or directory (os error 2)",
            dir.join("missing.http").display()
        )
    );
    assert_eq!(
        e("  errorfile 503 bad.http"),
        format!(
            "{name}:2: 'errorfile': invalid error file '{}': must hold a complete HTTP \
             response, starting with a status line such as 'HTTP/1.1 503 Service Unavailable'",
            dir.join("bad.http").display()
        )
    );
    assert_eq!(
        e("  errorfile 999 503.http"),
        format!(
            "{name}:2: 'errorfile': invalid status code '999': expected one of 200, 400, 401, \
             403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504"
        )
    );
    assert_eq!(
        e("  errorfile"),
        format!("{name}:2: 'errorfile': missing status code")
    );
    assert_eq!(
        e("  errorfile 503"),
        format!("{name}:2: 'errorfile': missing file name")
    );
    assert_eq!(
        e("  errorfile 503 a b"),
        format!("{name}:2: 'errorfile': unexpected argument 'b'")
    );
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(
        err(&fe("  monitor-uri")),
        "t.cfg:3: 'monitor-uri': missing URI"
    );
    assert_eq!(
        err(&fe("  monitor-uri /a /b")),
        "t.cfg:3: 'monitor-uri': unexpected argument '/b'"
    );
}

#[test]
fn stats_keywords() {
    let c = parse(&be_http(
        "  stats enable\n  stats uri /stats\n  stats refresh 10s\n  stats realm Stats\n\
         stats auth admin:s3cret:x\n  stats auth ro:\n  acl local src 127.0.0.1\n\
         stats admin if local",
    ));
    let s = backend(&c).stats.as_ref().unwrap();
    assert_eq!(s.span.line, 3);
    assert_eq!(s.uri, "/stats");
    assert_eq!(s.refresh, Some(Duration::from_secs(10)));
    assert_eq!(s.realm.as_deref(), Some("Stats"));
    assert_eq!(s.auth.len(), 2);
    assert_eq!(
        (s.auth[0].user.as_str(), s.auth[0].password.as_str()),
        ("admin", "s3cret:x")
    );
    assert_eq!(s.auth[1].password, "");
    assert!(s.admin.is_some());
    // Any stats keyword enables the page; defaults are inherited.
    let c = parse("defaults\n  stats uri /s\nbackend b\n");
    assert_eq!(backend(&c).stats.as_ref().unwrap().uri, "/s");
    let c = parse(&be("  stats enable"));
    assert_eq!(backend(&c).stats.as_ref().unwrap().uri, Stats::DEFAULT_URI);

    let s = |line: &str| err(&be(line));
    assert_eq!(
        s("  stats"),
        "t.cfg:2: 'stats': missing stats keyword (enable, uri, refresh, auth, admin or realm)"
    );
    assert_eq!(
        s("  stats hide-version"),
        "t.cfg:2: 'stats hide-version': not supported yet"
    );
    assert_eq!(
        s("  stats enable x"),
        "t.cfg:2: 'stats enable': unexpected argument 'x'"
    );
    assert_eq!(s("  stats uri"), "t.cfg:2: 'stats uri': missing URI");
    assert_eq!(
        s("  stats uri /a /b"),
        "t.cfg:2: 'stats uri': unexpected argument '/b'"
    );
    assert_eq!(
        s("  stats refresh"),
        "t.cfg:2: 'stats refresh': missing time"
    );
    assert_eq!(
        s("  stats refresh 0"),
        "t.cfg:2: 'stats refresh': invalid refresh '0': must be greater than zero"
    );
    assert_eq!(
        s("  stats refresh 1s x"),
        "t.cfg:2: 'stats refresh': unexpected argument 'x'"
    );
    assert_eq!(s("  stats realm"), "t.cfg:2: 'stats realm': missing realm");
    assert_eq!(
        s("  stats realm a b"),
        "t.cfg:2: 'stats realm': unexpected argument 'b'"
    );
    assert_eq!(
        s("  stats auth"),
        "t.cfg:2: 'stats auth': missing user:password"
    );
    assert_eq!(
        s("  stats auth admin"),
        "t.cfg:2: 'stats auth': invalid credentials 'admin:...': expected user:password"
    );
    assert_eq!(
        s("  stats auth :pw"),
        "t.cfg:2: 'stats auth': invalid credentials ':...': expected user:password"
    );
    assert_eq!(
        s("  stats auth a:b c"),
        "t.cfg:2: 'stats auth': unexpected argument 'c'"
    );
    assert_eq!(
        s("  stats admin"),
        "t.cfg:2: 'stats admin': missing condition ('if' or 'unless')"
    );
    assert_eq!(
        s("  stats admin always"),
        "t.cfg:2: 'stats admin': unexpected argument 'always'"
    );
    assert_eq!(
        s("  stats admin if"),
        "t.cfg:2: 'stats admin': missing condition after 'if'"
    );
    assert_eq!(
        s("  stats admin if nope"),
        "t.cfg:2: 'stats admin': unknown ACL 'nope'"
    );
}

#[test]
fn http_request_rules() {
    let c = parse(&fe_http(
        "  http-request use-service prometheus-exporter if { path /metrics }\n\
         http-request use-service prometheus-exporter",
    ));
    let f = frontend(&c);
    assert_eq!(f.http_request.len(), 2);
    assert_eq!(
        f.http_request[0].action,
        HttpRequestAction::UseService(Service::PrometheusExporter)
    );
    assert!(f.http_request[0].cond.is_some());
    assert!(f.http_request[1].cond.is_none());
    assert_eq!(f.http_request[0].span.line, 4);

    let h = |line: &str| err(&fe_http(line));
    assert_eq!(
        h("  http-request"),
        "t.cfg:4: 'http-request': missing action"
    );
    assert_eq!(
        h("  http-request replace-header X-A b c"),
        "t.cfg:4: 'http-request replace-header': not supported yet"
    );
    assert_eq!(
        h("  http-request use-service"),
        "t.cfg:4: 'http-request use-service': missing service name"
    );
    assert_eq!(
        h("  http-request use-service lua.hello"),
        "t.cfg:4: 'http-request use-service': unknown service 'lua.hello' (expected \
         prometheus-exporter)"
    );
    assert_eq!(
        h("  http-request use-service prometheus-exporter x"),
        "t.cfg:4: 'http-request use-service': unexpected argument 'x'"
    );
    assert_eq!(
        h("  http-request use-service prometheus-exporter if nope"),
        "t.cfg:4: 'http-request use-service': unknown ACL 'nope'"
    );
    assert_eq!(
        err("defaults\n  http-request use-service prometheus-exporter\n"),
        "t.cfg:2: 'http-request': not allowed in a 'defaults' section (use it in a frontend, \
         backend or listen section)"
    );
}

#[test]
fn send_proxy_v2_ssl_keywords() {
    use lb_tcp::proxy_protocol::SslOptions;
    let c = parse(&be("  server a 1.2.3.4:80 send-proxy-v2-ssl\n\
         server b 1.2.3.4:81 send-proxy-v2-ssl-cn\n\
         server c 1.2.3.4:82 send-proxy-v2 proxy-v2-options ssl,ssl-cipher\n\
         server d 1.2.3.4:83 send-proxy-v2-ssl-cn no-send-proxy-v2-ssl-cn\n\
         server e 1.2.3.4:84 send-proxy-v2"));
    let b = backend(&c);
    let got: Vec<_> = b
        .servers
        .iter()
        .map(|s| (s.send_proxy, s.send_proxy_ssl))
        .collect();
    let v2 = Some(ProxyVersion::V2);
    assert_eq!(
        got,
        [
            (v2, Some(SslOptions::default())),
            (
                v2,
                Some(SslOptions {
                    cn: true,
                    cipher: false
                })
            ),
            (
                v2,
                Some(SslOptions {
                    cn: false,
                    cipher: true
                })
            ),
            (None, None),
            (v2, None),
        ]
    );
}

#[test]
fn http_request_header_and_deny_rules() {
    let c = parse(&format!(
        "{}backend b\n  mode http\n  http-request del-header X-Internal\n",
        fe_http(
            "  http-request set-header X-SSL-Client-DN %[ssl_c_s_dn]\n\
             http-request set-header X-SSL %[ssl_fc]\n\
             http-request set-header X-Forwarded-Proto https if { ssl_fc }\n\
             http-request add-header X-Via \"lb %[src]:%cp %[ssl_c_sha1,hex]\"\n\
             http-request del-header Proxy\n\
             http-request deny if !{ ssl_c_verify 0 }\n\
             http-request deny deny_status 429 unless { ssl_c_used }\n\
             http-request deny status 503\n\
             use_backend b if { ssl_fc_sni -m end .example.com } { ssl_c_s_dn(CN) alice }\n\
             acl modern ssl_fc_protocol TLSv1.3\n\
             acl h2 ssl_fc_alpn h2\n\
             acl strong ssl_fc_cipher -m beg TLS_\n\
             acl ca ssl_c_i_dn -m sub Example\n\
             acl local dst 127.0.0.0/8",
        )
    ));
    let f = frontend(&c);
    let actions: Vec<&HttpRequestAction> = f.http_request.iter().map(|r| &r.action).collect();
    assert_eq!(actions.len(), 8);
    match actions[0] {
        HttpRequestAction::SetHeader(name, v) => {
            assert_eq!(name, "x-ssl-client-dn");
            assert_eq!(v.samples, [Fetch::SslCSDn(DnPart::Full)]);
        }
        other => panic!("{other:?}"),
    }
    match actions[3] {
        HttpRequestAction::AddHeader(_, v) => {
            assert_eq!(v.samples, [Fetch::Src, Fetch::SslCSha1]);
        }
        other => panic!("{other:?}"),
    }
    assert!(f.http_request[2].cond.is_some());
    assert_eq!(
        actions[4],
        &HttpRequestAction::DelHeader("proxy".parse().unwrap())
    );
    assert_eq!(actions[5], &HttpRequestAction::Deny(403));
    assert_eq!(actions[6], &HttpRequestAction::Deny(429));
    assert_eq!(actions[7], &HttpRequestAction::Deny(503));
    let fetches: Vec<&Fetch> = f
        .acls
        .iter()
        .flat_map(|a| &a.tests)
        .map(|t| &t.fetch)
        .collect();
    assert_eq!(
        fetches,
        [
            &Fetch::SslFcProtocol,
            &Fetch::SslFcAlpn,
            &Fetch::SslFcCipher,
            &Fetch::SslCIDn,
            &Fetch::Dst
        ]
    );
    let b = backend(&c);
    assert_eq!(b.http_request.len(), 1);

    // A listen section keeps its rules on the frontend half.
    let c = parse(
        "listen l\n  bind :80\n  mode http\n  http-request set-header X-A 1\n  \
         server s 127.0.0.1:80\n",
    );
    assert_eq!(c.frontend("l").map(|f| f.http_request.len()), Some(1));

    let h = |line: &str| err(&fe_http(line));
    assert_eq!(
        h("  http-request set-header X-A"),
        "t.cfg:4: 'http-request set-header': missing header value (a log-format string such \
         as %[ssl_c_s_dn])"
    );
    assert_eq!(
        h("  http-request add-header X-A if { ssl_fc }"),
        "t.cfg:4: 'http-request add-header': missing header value (a log-format string such \
         as %[ssl_c_s_dn])"
    );
    assert_eq!(
        h("  http-request set-header X-A %[ssl_c_nope]"),
        "t.cfg:4: 'http-request set-header': fetch 'ssl_c_nope' is not supported yet \
         (supported: path, url, hdr(<name>), method, src, dst, dst_port, req.ssl_sni, \
         req.ssl_hello_type, req.proto_http, ssl_fc, ssl_fc_sni, ssl_fc_alpn, \
         ssl_fc_protocol, ssl_fc_cipher, ssl_c_used, ssl_c_verify, ssl_c_s_dn, ssl_c_i_dn, \
         ssl_c_sha1, nbsrv(<backend>), always_true, always_false; path, url and hdr also \
         with _beg, _end, _sub, _dir, _dom, _len)"
    );
    assert_eq!(
        h("  http-request set-header X-A %[path_beg]"),
        "t.cfg:4: 'http-request set-header': invalid sample 'path_beg': a suffixed fetch is \
         an ACL match, not a sample; write the plain fetch (path, url, hdr(<name>))"
    );
    assert_eq!(
        h("  http-request set-header X-A %[src"),
        "t.cfg:4: 'http-request set-header': invalid format: truncated format after '%' at \
         column 1"
    );
    assert_eq!(
        h("  http-request set-header X:A b"),
        "t.cfg:4: 'http-request set-header': invalid header name 'X:A': not a valid HTTP \
         header name"
    );
    assert_eq!(
        h("  http-request del-header"),
        "t.cfg:4: 'http-request del-header': missing header name"
    );
    assert_eq!(
        h("  http-request deny deny_status 299"),
        "t.cfg:4: 'http-request deny': invalid deny_status '299': expected one of 200, 400, \
         403, 404, 405, 408, 410, 413, 414, 425, 429, 431, 500, 501, 502, 503, 504"
    );
    assert_eq!(
        h("  http-request deny deny_status"),
        "t.cfg:4: 'http-request deny': missing status code"
    );
    assert_eq!(
        h("  http-request deny if { ssl_c_s_dn(OU) x }"),
        "t.cfg:4: 'http-request deny': ssl_c_s_dn entry 'OU' is not supported yet \
         (supported: ssl_c_s_dn (the whole subject) or ssl_c_s_dn(CN))"
    );
    assert_eq!(
        h("  http-request deny if { ssl_c_verify abc }"),
        "t.cfg:4: 'http-request deny': invalid integer pattern 'abc': expected an integer, an \
         operator (eq, ge, gt, le, lt) then an integer, or a range such as 1024:65535"
    );
    assert_eq!(
        err(&fe("  http-request deny")),
        "t.cfg:3: 'http-request': 'http-request deny' needs 'mode http' (frontend 'f' is in \
         mode tcp)"
    );
}

#[test]
fn tcp_request_rules() {
    let c = parse(&format!(
        "{}backend tls\nbackend web\n",
        fe("  tcp-request inspect-delay 5s\n\
            tcp-request content accept if { req.ssl_hello_type 1 }\n\
            tcp-request content reject if !HTTP\n  tcp-request content accept\n\
            use_backend tls if { req.ssl_sni -m end .example.com }\n\
            use_backend web if HTTP")
    ));
    let f = frontend(&c);
    assert_eq!(f.tcp_inspect_delay, Some(Duration::from_secs(5)));
    assert_eq!(f.tcp_content.len(), 3);
    assert_eq!(f.tcp_content[0].action, TcpContentAction::Accept);
    assert_eq!(f.tcp_content[1].action, TcpContentAction::Reject);
    assert!(f.tcp_content[2].cond.is_none());
    assert_eq!(f.use_backends.len(), 2);
    let c = parse("defaults\n  tcp-request inspect-delay 1s\nbackend b\n");
    assert_eq!(backend(&c).tcp_inspect_delay, Some(Duration::from_secs(1)));

    let t = |line: &str| err(&fe(line));
    assert_eq!(
        t("  tcp-request"),
        "t.cfg:3: 'tcp-request': missing rule type (inspect-delay or content)"
    );
    assert_eq!(
        t("  tcp-request connection reject"),
        "t.cfg:3: 'tcp-request connection': not supported yet"
    );
    assert_eq!(
        t("  tcp-request inspect-delay"),
        "t.cfg:3: 'tcp-request inspect-delay': missing time"
    );
    assert_eq!(
        t("  tcp-request inspect-delay 5s x"),
        "t.cfg:3: 'tcp-request inspect-delay': unexpected argument 'x'"
    );
    assert_eq!(
        t("  tcp-request content"),
        "t.cfg:3: 'tcp-request content': missing action (accept or reject)"
    );
    assert_eq!(
        t("  tcp-request content use_backend b"),
        "t.cfg:3: 'tcp-request content': action 'use_backend' is not supported yet \
         (supported: accept, reject; route with 'use_backend')"
    );
    assert_eq!(
        t("  tcp-request content accept if nope"),
        "t.cfg:3: 'tcp-request content': unknown ACL 'nope'"
    );
}

#[test]
fn listen_splits_into_frontend_and_backend() {
    let c = parse(
        "listen l\n  bind :80\n  mode http\n  maxconn 50\n  acl a path /a\n\
         http-request use-service prometheus-exporter if a\n  balance leastconn\n\
         server s 1.2.3.4:80\n  stats enable\n  stats admin if a\n  default_backend other\n\
         backend other\n  mode http\n",
    );
    let f = c.frontend("l").unwrap();
    let b = c.backend("l").unwrap();
    assert_eq!(f.maxconn, Some(50));
    assert_eq!(f.http_request.len(), 1);
    assert!(b.http_request.is_empty(), "rules stay on the frontend half");
    assert_eq!(f.acls, b.acls);
    assert_eq!(b.servers.len(), 1);
    assert_eq!(b.balance.algorithm, Algorithm::LeastConn);
    assert!(b.stats.as_ref().unwrap().admin.is_some());
    assert_eq!(&*f.default_backend.as_ref().unwrap().name, "other");
}

// ---------------------------------------------------------------------------------------
// all errors at once, in line order

#[test]
fn every_error_is_reported() {
    let e = errors(
        "global\n  daemon\nbackend b\n  balance roundrobbin\n  server s 1.2.3.4\n\
         frontend f\n  default_backend nope\nbogus\n",
    );
    assert_eq!(
        e,
        [
            "t.cfg:2: 'daemon': not supported: lb runs in the foreground (use a service \
             manager to daemonize it)",
            "t.cfg:4: 'balance': unknown algorithm 'roundrobbin' (expected one of roundrobin, \
             static-rr, leastconn, first, source, random[(<draws>)], uri, url_param, \
             hdr(<name>), rdp-cookie[(<name>)], hash <expr>)",
            "t.cfg:5: 'server': invalid server address '1.2.3.4': missing ':port' (lb needs \
             an explicit port)",
            "t.cfg:6: frontend 'f' has no 'bind' line",
            "t.cfg:7: 'default_backend': unknown backend 'nope'",
            "t.cfg:8: 'bogus': not supported yet",
        ]
    );
}

#[test]
fn error_accessors() {
    let errs = Config::parse_str("t.cfg", "backend b\n  timeout client 5x\n", &env).unwrap_err();
    let e = &errs.errors()[0];
    assert_eq!(e.file(), "t.cfg");
    assert_eq!(e.line(), Some(2));
    assert_eq!(e.keyword(), Some("timeout client"));
    assert!(matches!(e.kind(), ErrorKind::Unit(_)));
}

#[test]
fn load_errors() {
    let e = Config::load(&[]).unwrap_err();
    assert_eq!(e.to_string(), "lb: no configuration file given");
    let e = Config::load(&["/nonexistent/lb.cfg".into()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/nonexistent/lb.cfg: cannot read '/nonexistent/lb.cfg': No such file or directory \
         (os error 2)"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(text in "\\PC{0,200}") {
        let _ = Config::parse_str("p.cfg", &text, &env);
    }

    #[test]
    fn parse_never_panics_on_keyword_soup(
        lines in proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![
                    Just("global"), Just("defaults"), Just("frontend"), Just("backend"),
                    Just("listen"), Just("bind"), Just(":80"), Just("server"), Just("s"),
                    Just("1.2.3.4:80"), Just("balance"), Just("uri"), Just("mode"),
                    Just("http"), Just("tcp"), Just("acl"), Just("a"), Just("path_beg"),
                    Just("/"), Just("use_backend"), Just("b"), Just("if"), Just("unless"),
                    Just("!"), Just("or"), Just("{"), Just("}"), Just("option"),
                    Just("forwardfor"), Just("httpchk"), Just("no"), Just("timeout"),
                    Just("client"), Just("5s"), Just("track"), Just("check"),
                    Just("default_backend"), Just("from"), Just("stats"), Just("admin"),
                    Just("log"), Just("global"), Just("\"${X-1}\""), Just("hash-type"),
                    Just("consistent"), Just("-i"), Just("-m"), Just("tcp-request"),
                    Just("content"), Just("accept"), Just("http-request"),
                    Just("use-service"), Just("prometheus-exporter"), Just("weight"),
                    Just("300"), Just("hdr(host)"), Just("default-server"),
                ],
                0..8,
            ),
            0..12,
        )
    ) {
        let text: String = lines.iter().map(|l| l.join(" ") + "\n").collect();
        let _ = Config::parse_str("p.cfg", &text, &env);
    }
}

#[test]
fn check_kind_options() {
    use super::model::CheckKindConfig as K;
    let kind = |lines: &str| parse(&be(lines)).backends[0].check_kind.clone();
    assert_eq!(kind("  server s 127.0.0.1:80"), None);
    assert_eq!(kind("  option httpchk"), Some(K::Http));
    assert_eq!(kind("  option tcp-check"), Some(K::TcpCheck));
    assert_eq!(kind("  option redis-check"), Some(K::Redis));
    assert_eq!(kind("  option ldap-check"), Some(K::Ldap));
    assert_eq!(
        kind("  option smtpchk"),
        Some(K::Smtp {
            ehlo: false,
            domain: "localhost".into()
        })
    );
    assert_eq!(
        kind("  option smtpchk EHLO mail.example.com"),
        Some(K::Smtp {
            ehlo: true,
            domain: "mail.example.com".into()
        })
    );
    assert_eq!(
        kind("  option smtpchk HELO example.com"),
        Some(K::Smtp {
            ehlo: false,
            domain: "example.com".into()
        })
    );
    assert_eq!(kind("  option mysql-check"), Some(K::Mysql { user: None }));
    assert_eq!(
        kind("  option mysql-check user haproxy post-41"),
        Some(K::Mysql {
            user: Some("haproxy".into())
        })
    );
    assert_eq!(
        kind("  option pgsql-check user lb"),
        Some(K::Pgsql { user: "lb".into() })
    );
    // The last check option wins; `no option` clears only its own kind.
    let c = parse(&be("  option httpchk GET /\n  option redis-check"));
    assert_eq!(c.backends[0].check_kind, Some(K::Redis));
    assert!(c.backends[0].httpchk.is_none());
    assert_eq!(kind("  option redis-check\n  no option redis-check"), None);
    assert_eq!(
        kind("  option redis-check\n  no option ldap-check"),
        Some(K::Redis)
    );
    assert_eq!(kind("  option httpchk\n  no option httpchk"), None);
    // Inherited from defaults.
    let c = parse("defaults\n  option ldap-check\nbackend b\n  server s 127.0.0.1:389 check\n");
    assert_eq!(c.backends[0].check_kind, Some(K::Ldap));
}

#[test]
fn http_check_keywords() {
    use super::model::{HttpCheckExpect, HttpCheckMatch, HttpCheckSend};
    let c = parse(&be_http(
        "  option httpchk\n  http-check send meth GET uri /health ver HTTP/1.1 hdr Host \
         example.com hdr X-A \"a b\" body ping\n  http-check expect status 200,300-310\n  \
         http-check expect ! string maintenance\n  http-check disable-on-404\n  \
         http-check send-state",
    ));
    let b = &c.backends[0];
    assert_eq!(
        b.http_check_send,
        vec![HttpCheckSend {
            span: Span {
                file: "t.cfg".into(),
                line: 4
            },
            method: Some(Method::GET),
            uri: Some("/health".into()),
            version: Some(Version::HTTP_11),
            headers: vec![
                (HeaderName::from_static("host"), "example.com".into()),
                (HeaderName::from_static("x-a"), "a b".into())
            ],
            body: Some("ping".into()),
        }]
    );
    assert_eq!(
        b.http_check_expect,
        vec![
            HttpCheckExpect {
                span: Span {
                    file: "t.cfg".into(),
                    line: 5
                },
                negate: false,
                matcher: HttpCheckMatch::Status("200,300-310".into()),
            },
            HttpCheckExpect {
                span: Span {
                    file: "t.cfg".into(),
                    line: 6
                },
                negate: true,
                matcher: HttpCheckMatch::String("maintenance".into()),
            }
        ]
    );
    assert!(b.disable_on_404);
    assert!(b.send_state);
    let h = parse(&be_http("  option httpchk"));
    assert!(!h.backends[0].disable_on_404 && !h.backends[0].send_state);
    assert!(h.backends[0].http_check_send.is_empty());
}

#[test]
fn http_check_builds_the_health_check() {
    let c = parse(&be_http(
        "  option httpchk GET /a HTTP/1.1 www\n  http-check send uri /b hdr X-A 1 body hi\n  \
         http-check expect status 204\n  http-check send-state",
    ));
    let check = c.backends[0].health_check().unwrap();
    let lb_health::CheckKind::Http(h) = check.kind() else {
        panic!("{check:?}")
    };
    assert_eq!(
        String::from_utf8(h.request(None)).unwrap(),
        "GET /b HTTP/1.1\r\nHost: www\r\nx-a: 1\r\nContent-Length: 2\r\nConnection: \
         close\r\n\r\nhi"
    );
    assert!(h.sends_state());
    let c = parse(&be(
        "  option tcp-check\n  tcp-check connect port 6379\n  tcp-check send PING\\r\\n\n  \
         tcp-check expect string +PONG",
    ));
    let check = c.backends[0].health_check().unwrap();
    let lb_health::CheckKind::Script(s) = check.kind() else {
        panic!("{check:?}")
    };
    assert_eq!(s.rules().len(), 3);
    for (cfg, ok) in [
        ("  option redis-check", true),
        ("  option ldap-check", true),
        ("  option smtpchk EHLO x", true),
        ("  option mysql-check user u", true),
        ("  option pgsql-check user u", true),
        ("  server s 127.0.0.1:80", true),
    ] {
        assert_eq!(parse(&be(cfg)).backends[0].health_check().is_ok(), ok);
    }
}

#[test]
fn check_regexes_and_check_proto() {
    use super::model::{CheckProto, HttpCheckMatch, TcpCheckRuleConfig as R};
    // Regexes are kept as written; `\d`, `\s` reach the regex engine as in HAProxy.
    let c = parse(&be_http(
        "  option httpchk\n  http-check expect rstatus ^2[0-9]{2}$\n  \
         http-check expect ! rstring (?i)maint\n  http-check expect rstring '\"up\":\\s*true'\n  \
         server s1 10.0.0.1:80 check check-proto h2\n  server s2 10.0.0.2:80 check \
         check-proto h1",
    ));
    let b = &c.backends[0];
    let m: Vec<_> = b
        .http_check_expect
        .iter()
        .map(|e| (e.negate, e.matcher.clone()))
        .collect();
    assert_eq!(
        m,
        [
            (false, HttpCheckMatch::Rstatus("^2[0-9]{2}$".into())),
            (true, HttpCheckMatch::Rstring("(?i)maint".into())),
            (false, HttpCheckMatch::Rstring("\"up\":\\s*true".into())),
        ]
    );
    assert_eq!(b.server("s1").unwrap().check.proto, CheckProto::H2);
    assert_eq!(b.server("s2").unwrap().check.proto, CheckProto::H1);
    let check = b.health_check().unwrap();
    let lb_health::CheckKind::Http(h) = check.kind() else {
        panic!("{check:?}")
    };
    assert_eq!(
        h.clone(),
        lb_health::HttpCheck::new()
            .expect(lb_health::HttpExpect::rstatus("^2[0-9]{2}$").unwrap())
            .expect(
                lb_health::HttpExpect::rstring("(?i)maint")
                    .unwrap()
                    .negate()
            )
            .expect(lb_health::HttpExpect::rstring("\"up\":\\s*true").unwrap())
    );
    // `default-server` carries check-proto.
    let c = parse(&be_http(
        "  option httpchk\n  default-server check-proto h2\n  server s1 10.0.0.1:80 check",
    ));
    assert_eq!(c.backends[0].servers[0].check.proto, CheckProto::H2);

    let c = parse(&be(
        "  option tcp-check\n  tcp-check send \"INFO\\r\\n\"\n  \
         tcp-check expect rstring role:(master|primary)\n  tcp-check expect ! rstring ^-ERR",
    ));
    assert_eq!(
        c.backends[0].tcp_check[1..],
        [
            R::ExpectRegex {
                negate: false,
                regex: "role:(master|primary)".into()
            },
            R::ExpectRegex {
                negate: true,
                regex: "^-ERR".into()
            },
        ]
    );
    let check = c.backends[0].health_check().unwrap();
    let lb_health::CheckKind::Script(s) = check.kind() else {
        panic!("{check:?}")
    };
    assert_eq!(
        s.rules()[1..],
        [
            lb_health::TcpCheckRule::expect(
                lb_health::TcpExpect::rstring("role:(master|primary)").unwrap()
            ),
            lb_health::TcpCheckRule::expect(
                lb_health::TcpExpect::rstring("^-ERR").unwrap().negate()
            ),
        ]
    );

    assert_eq!(
        err(&be_http("  server s1 10.0.0.1:80 check check-proto h3")),
        "t.cfg:3: 'server': unknown check-proto 'h3' (expected h1 or h2)"
    );
    assert_eq!(
        err(&be_http("  server s1 10.0.0.1:80 check check-proto")),
        "t.cfg:3: 'server': missing value after 'check-proto'"
    );
    // h2 checks are HTTP checks; without `check` the setting is idle.
    assert_eq!(
        err(&be(
            "  option redis-check\n  server s1 10.0.0.1:80 check check-proto h2"
        )),
        "t.cfg:3: 'server': 'check-proto h2' needs 'option httpchk'"
    );
    assert_eq!(
        err(&be("  server s1 10.0.0.1:80 check check-proto h2")),
        "t.cfg:2: 'server': 'check-proto h2' needs 'option httpchk'"
    );
    parse(&be("  server s1 10.0.0.1:80 check-proto h2"));
    parse("defaults\n  option httpchk\nbackend b\n  server s 10.0.0.1:80 check check-proto h2\n");
}

#[test]
fn tcp_check_keywords() {
    use super::model::TcpCheckRuleConfig as R;
    let c = parse(&be(
        "  option tcp-check\n  tcp-check connect\n  tcp-check connect port 8080\n  \
         tcp-check send \"PING\\r\\n\"\n  tcp-check send-binary 0a0B\n  \
         tcp-check expect string +PONG\n  tcp-check expect ! binary ff00",
    ));
    assert_eq!(
        c.backends[0].tcp_check,
        vec![
            R::Connect { port: None },
            R::Connect { port: Some(8080) },
            R::Send("PING\r\n".into()),
            R::SendBinary(vec![0x0a, 0x0b]),
            R::Expect {
                negate: false,
                pattern: b"+PONG".to_vec(),
                binary: false
            },
            R::Expect {
                negate: true,
                pattern: vec![0xff, 0],
                binary: true
            },
        ]
    );
}

#[test]
fn health_check_keyword_errors() {
    let o = |line: &str| err(&be_http(line));
    assert_eq!(
        o("  http-check"),
        "t.cfg:3: 'http-check': missing http-check action (send, expect, disable-on-404 or \
         send-state)"
    );
    assert_eq!(
        o("  http-check connect"),
        "t.cfg:3: 'http-check': unknown http-check action 'connect' (expected send, expect, \
         disable-on-404 or send-state)"
    );
    assert_eq!(
        o("  http-check send meth"),
        "t.cfg:3: 'http-check send': missing value after 'meth'"
    );
    assert_eq!(
        o("  http-check send meth get"),
        "t.cfg:3: 'http-check send': invalid method 'get': expected an upper-case HTTP method \
         such as GET"
    );
    assert_eq!(
        o("  http-check send ver HTTP/2"),
        "t.cfg:3: 'http-check send': unknown version 'HTTP/2' (expected HTTP/1.0 or HTTP/1.1)"
    );
    assert_eq!(
        o("  http-check send hdr Host"),
        "t.cfg:3: 'http-check send': missing value after 'hdr'"
    );
    assert_eq!(
        o("  http-check send hdr \"a b\" c"),
        "t.cfg:3: 'http-check send': invalid header name 'a b': not a valid HTTP header name"
    );
    assert_eq!(
        o("  http-check send path /"),
        "t.cfg:3: 'http-check send': unknown http-check send option 'path' (expected meth, \
         uri, ver, hdr or body)"
    );
    assert_eq!(
        o("  http-check send body-lf x"),
        "t.cfg:3: 'http-check send': 'body-lf' is not supported yet (log-format strings are \
         not available in checks)"
    );
    assert_eq!(
        o("  http-check expect"),
        "t.cfg:3: 'http-check expect': missing match (status <codes>, rstatus <regex>, string \
         <text> or rstring <regex>)"
    );
    assert_eq!(
        o("  http-check expect status"),
        "t.cfg:3: 'http-check expect': missing value after 'status'"
    );
    assert_eq!(
        o("  http-check expect ! string"),
        "t.cfg:3: 'http-check expect': missing value after 'string'"
    );
    assert_eq!(
        o("  http-check expect status 2xx"),
        "t.cfg:3: 'http-check expect': invalid status list '2xx': expected codes and ranges \
         such as 200,300-310"
    );
    assert_eq!(
        o("  http-check expect status 300-200"),
        "t.cfg:3: 'http-check expect': invalid status list '300-200': expected codes and \
         ranges such as 200,300-310"
    );
    assert_eq!(
        o("  http-check expect rstatus ^(2"),
        "t.cfg:3: 'http-check expect': invalid regex '^(2': unclosed group"
    );
    assert_eq!(
        o("  http-check expect ! rstring [z-a]"),
        "t.cfg:3: 'http-check expect': invalid regex '[z-a]': invalid character class range, \
         the start must be <= the end"
    );
    assert_eq!(
        o("  http-check expect rstring"),
        "t.cfg:3: 'http-check expect': missing value after 'rstring'"
    );
    assert_eq!(
        o("  http-check expect rstatus ^2 x"),
        "t.cfg:3: 'http-check expect': unexpected argument 'x'"
    );
    assert_eq!(
        o("  http-check expect hdr name x"),
        "t.cfg:3: 'http-check expect': unknown http-check expect match 'hdr' (expected status, \
         rstatus, string or rstring)"
    );
    assert_eq!(
        o("  http-check expect status 200 min-recv"),
        "t.cfg:3: 'http-check expect': unexpected argument 'min-recv'"
    );
    assert_eq!(
        o("  http-check disable-on-404 x"),
        "t.cfg:3: 'http-check disable-on-404': unexpected argument 'x'"
    );
    assert_eq!(
        o("  http-check send-state x"),
        "t.cfg:3: 'http-check send-state': unexpected argument 'x'"
    );
    assert_eq!(
        err(&fe("  http-check send-state")),
        "t.cfg:3: 'http-check': not allowed in a 'frontend' section (use it in a defaults, \
         backend or listen section)"
    );

    assert_eq!(
        o("  tcp-check"),
        "t.cfg:3: 'tcp-check': missing tcp-check action (connect, send, send-binary or expect)"
    );
    assert_eq!(
        o("  tcp-check comment x"),
        "t.cfg:3: 'tcp-check': unknown tcp-check action 'comment' (expected connect, send, \
         send-binary or expect)"
    );
    assert_eq!(
        o("  tcp-check connect port"),
        "t.cfg:3: 'tcp-check connect': missing value after 'port'"
    );
    assert_eq!(
        o("  tcp-check connect port 0"),
        "t.cfg:3: 'tcp-check connect': invalid port '0': expected an integer from 1 to 65535"
    );
    assert_eq!(
        o("  tcp-check connect ssl"),
        "t.cfg:3: 'tcp-check connect': unknown tcp-check connect option 'ssl' (expected port)"
    );
    assert_eq!(
        o("  tcp-check send"),
        "t.cfg:3: 'tcp-check send': missing string to send"
    );
    assert_eq!(
        o("  tcp-check send a b"),
        "t.cfg:3: 'tcp-check send': unexpected argument 'b'"
    );
    assert_eq!(
        o("  tcp-check send-binary"),
        "t.cfg:3: 'tcp-check send-binary': missing hexadecimal string to send"
    );
    assert_eq!(
        o("  tcp-check send-binary abc"),
        "t.cfg:3: 'tcp-check send-binary': invalid hexadecimal string 'abc': expected an even \
         number of hexadecimal digits"
    );
    assert_eq!(
        o("  tcp-check expect"),
        "t.cfg:3: 'tcp-check expect': missing match (string <text>, rstring <regex> or binary \
         <hex>)"
    );
    assert_eq!(
        o("  tcp-check expect ! binary zz"),
        "t.cfg:3: 'tcp-check expect': invalid hexadecimal string 'zz': expected an even \
         number of hexadecimal digits"
    );
    assert_eq!(
        o("  tcp-check expect string"),
        "t.cfg:3: 'tcp-check expect': missing value after 'string'"
    );
    assert_eq!(
        o("  tcp-check expect ! rstring +OK"),
        "t.cfg:3: 'tcp-check expect': invalid regex '+OK': repetition operator missing \
         expression"
    );
    assert_eq!(
        o("  tcp-check expect rstring"),
        "t.cfg:3: 'tcp-check expect': missing value after 'rstring'"
    );
    assert_eq!(
        o("  tcp-check expect rbinary 2b"),
        "t.cfg:3: 'tcp-check expect': 'rbinary' is not supported yet (use 'binary <hex>' or \
         'rstring <regex>')"
    );
    assert_eq!(
        o("  tcp-check expect status 200"),
        "t.cfg:3: 'tcp-check expect': unknown tcp-check expect match 'status' (expected \
         string, rstring or binary)"
    );

    assert_eq!(
        o("  option tcp-check x"),
        "t.cfg:3: 'option tcp-check': unexpected argument 'x'"
    );
    assert_eq!(
        o("  option redis-check x"),
        "t.cfg:3: 'option redis-check': unexpected argument 'x'"
    );
    assert_eq!(
        o("  option ldap-check x"),
        "t.cfg:3: 'option ldap-check': unexpected argument 'x'"
    );
    assert_eq!(
        o("  option smtpchk HI x"),
        "t.cfg:3: 'option smtpchk': unknown smtpchk verb 'HI' (expected HELO or EHLO)"
    );
    assert_eq!(
        o("  option smtpchk EHLO"),
        "t.cfg:3: 'option smtpchk': missing domain after HELO or EHLO"
    );
    assert_eq!(
        o("  option smtpchk EHLO a b"),
        "t.cfg:3: 'option smtpchk': unexpected argument 'b'"
    );
    assert_eq!(
        o("  option mysql-check user"),
        "t.cfg:3: 'option mysql-check': missing value after 'user'"
    );
    assert_eq!(
        o("  option mysql-check user u pre-41"),
        "t.cfg:3: 'option mysql-check': 'pre-41' is not supported yet (only the post-41 login \
         is implemented)"
    );
    assert_eq!(
        o("  option mysql-check name u"),
        "t.cfg:3: 'option mysql-check': unexpected argument 'name'"
    );
    assert_eq!(
        o("  option pgsql-check"),
        "t.cfg:3: 'option pgsql-check': missing 'user <name>'"
    );
    assert_eq!(
        o("  option pgsql-check user"),
        "t.cfg:3: 'option pgsql-check': missing value after 'user'"
    );
    assert_eq!(
        o("  option pgsql-check user a b"),
        "t.cfg:3: 'option pgsql-check': unexpected argument 'b'"
    );
    assert_eq!(
        o("  option pgsql-chek user a"),
        "t.cfg:3: 'option pgsql-chek': not supported yet (did you mean 'pgsql-check'?)"
    );
    assert_eq!(
        err(&fe("  option redis-check")),
        "t.cfg:3: 'option redis-check': not allowed in a 'frontend' section (use it in a \
         defaults, backend or listen section)"
    );
}

#[test]
fn monitor_fail_parses_and_checks_its_condition() {
    let text = "frontend f\n  bind :80\n  mode http\n  monitor-uri /alive\n  \
                acl down nbsrv(app) lt 1\n  monitor fail if down\n  default_backend app\n\
                backend app\n  mode http\n  server s 127.0.0.1:1\n";
    let c = Config::parse_str("m.cfg", text, &env).unwrap();
    let f = c.frontend("f").unwrap();
    assert!(f.monitor_fail.is_some());
    // A condition is required; `monitor` knows only `fail`; nbsrv needs a backend.
    let err = |extra: &str| {
        let t = format!("frontend f\n  bind :80\n  mode http\n  {extra}\n");
        Config::parse_str("m.cfg", &t, &env)
            .unwrap_err()
            .to_string()
    };
    assert!(
        err("monitor fail").contains("needs a condition"),
        "{}",
        err("monitor fail")
    );
    assert!(err("monitor net 10.0.0.0/8").contains("'monitor net'"));
    assert!(err("monitor fail if { nbsrv() lt 1 }").contains("needs a backend name"));
    assert!(err("monitor fail if undefined_acl").contains("undefined_acl"));
}

#[test]
fn ssl_hello_chk_is_a_check_kind() {
    let text = "backend b\n  option ssl-hello-chk\n  server s 127.0.0.1:443 check\n";
    let c = Config::parse_str("s.cfg", text, &env).unwrap();
    assert_eq!(
        c.backend("b").unwrap().check_kind,
        Some(crate::config::CheckKindConfig::SslHello)
    );
    let err = Config::parse_str("s.cfg", "backend b\n  option ssl-hello-chk x\n", &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("s.cfg:2"), "{err}");
}

#[test]
fn server_ssl_options() {
    let c = parse(&be(
        "  default-server ca-file ca.pem ssl-min-ver TLSv1.3\n  \
         server s1 10.0.0.1:443 ssl verify required sni str(api.test) verifyhost api.test \
         crt client.pem alpn h2,http/1.1 ssl-max-ver TLSv1.3 no-ssl-reuse\n  \
         server s2 10.0.0.2:443 ssl verify none\n  \
         server s3 10.0.0.3:80",
    ));
    let b = c.backend("b").unwrap();
    let t = b.servers[0].tls.as_ref().unwrap();
    assert_eq!(t.verify, ServerVerify::Required);
    assert_eq!(t.ca_file.as_deref(), Some(std::path::Path::new("ca.pem")));
    assert_eq!(t.crt.as_deref(), Some(std::path::Path::new("client.pem")));
    assert_eq!(t.sni.as_deref(), Some("api.test"));
    assert_eq!(t.verifyhost.as_deref(), Some("api.test"));
    assert_eq!(t.alpn, ["h2", "http/1.1"]);
    assert_eq!(t.min_version, Some(TlsVersion::Tls13));
    assert_eq!(t.max_version, Some(TlsVersion::Tls13));
    assert!(t.no_ssl_reuse);
    let t2 = b.servers[1].tls.as_ref().unwrap();
    assert_eq!(t2.verify, ServerVerify::None);
    assert!(!t2.no_ssl_reuse);
    // TLS options without `ssl` are inert, as in HAProxy.
    assert_eq!(b.servers[2].tls, None);
}

#[test]
fn server_ssl_verify_defaults_follow_ssl_server_verify() {
    let c = parse(&format!(
        "global\n  ssl-server-verify none\n{}",
        be("  server s1 10.0.0.1:443 ssl")
    ));
    let t = c.backend("b").unwrap().servers[0].tls.as_ref().unwrap();
    assert_eq!(t.verify, ServerVerify::None);
    assert_eq!(c.global.ssl_server_verify, ServerVerify::None);
    // Without it, `ssl` alone verifies, and so needs a ca-file.
    assert_eq!(
        err(&be("  server s1 10.0.0.1:443 ssl")),
        "t.cfg:2: 'server': 'ssl' verifies the server's certificate by default but no \
         'ca-file' is given: add 'ca-file <file>', or 'verify none' on the line (or \
         'ssl-server-verify none' in global) for a server you trust without it"
    );
}

#[test]
fn server_ssl_errors() {
    let cases = [
        (
            "  server s1 10.0.0.1:443 ssl verify required",
            "t.cfg:2: 'server': 'verify required' needs 'ca-file'",
        ),
        (
            "  server s1 10.0.0.1:443 ssl verify optional ca-file ca.pem",
            "t.cfg:2: 'server': unknown verify 'optional' (expected none or required)",
        ),
        (
            "  server s1 10.0.0.1:443 ssl verify none sni req.hdr(host)",
            "t.cfg:2: 'server': sni expression 'req.hdr(host)' is not supported yet \
             (a per-request SNI; use sni str(<name>))",
        ),
        (
            "  server s1 10.0.0.1:443 ssl verify none sni var(txn.x)",
            "t.cfg:2: 'server': sni expression 'var(txn.x)' is not supported yet \
             (supported: str(<name>))",
        ),
        (
            "  server s1 10.0.0.1:443 ssl verify none sni str()",
            "t.cfg:2: 'server': invalid sni 'str()': expected str(<server name>)",
        ),
        (
            "  server s1 10.0.0.1:443 ssl verify none alpn h2,",
            "t.cfg:2: 'server': invalid alpn 'h2,': expected a comma-separated list such as \
             h2,http/1.1",
        ),
        (
            "  server s1 10.0.0.1:443 ssl verify none ssl-min-ver TLSv1.0",
            "t.cfg:2: 'server': unknown TLS version 'TLSv1.0' (expected TLSv1.2 or TLSv1.3)",
        ),
        (
            "  server s1 10.0.0.1:443 ssl verify none ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.2",
            "t.cfg:2: 'server': 'ssl-min-ver TLSv1.3' is above 'ssl-max-ver TLSv1.2'",
        ),
        (
            "  server s1 10.0.0.1:443 ssl verify none ca-file",
            "t.cfg:2: 'server': missing value after 'ca-file'",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(err(&be(body)), want, "{body}");
    }
    assert_eq!(
        err("global\n  ssl-server-verify maybe\n"),
        "t.cfg:2: 'ssl-server-verify': unknown ssl-server-verify 'maybe' (expected none or \
         required)"
    );
}

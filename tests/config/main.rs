//! Integration tests of the configuration parser over the files in `tests/configs/`: the
//! benchmark configurations, a "full" configuration with every supported keyword, a
//! directory of files, and broken configurations whose expected errors are written on the
//! offending lines (`# ERROR: <message>`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, Method, StatusCode, Version};
use lb::config::{
    AclRef, ClientVerify, Config, ConfigErrors, Facility, Fetch, HttpConnMode, HttpRequestAction,
    LogDestination, LogLevel, Match, Mode, Observe, OnError, ProxyLog, ServerAddress, Service,
    StatsLevel, SyslogFormat, TcpContentAction, TlsVersion,
};
use lb::core::matcher::{IntMatch, StrMatch};
use lb::core::{Address, Algorithm, HashFunction, HashMethod, Redispatch, UriOptions};
use lb::http::client::ReuseMode;
use lb::http::log::LogFormat;
use lb::tcp::listen::BindAddr;
use lb::tcp::proxy_protocol::Version as ProxyVersion;

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs")
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn load(files: &[&str]) -> Result<Config, ConfigErrors> {
    let paths: Vec<PathBuf> = files.iter().map(|f| configs().join(f)).collect();
    Config::load_with_env(&paths, &no_env)
}

fn load_ok(files: &[&str]) -> Config {
    load(files).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn config_bench_parses() {
    // The benchmark configuration, shared with HAProxy: it must load as is, with no warning.
    let c = Config::load(&[configs().join("bench.cfg")]).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.global.nbthread, Some(1));
    assert_eq!(c.global.maxconn, Some(5000));
    let fronts: Vec<&str> = c.frontends.iter().map(|f| &*f.name).collect();
    assert_eq!(fronts, ["http_in", "tcp_in"]);
    let backs: Vec<&str> = c.backends.iter().map(|b| &*b.name).collect();
    assert_eq!(backs, ["http_back", "tcp_back"]);

    let fe = c.frontend("http_in").unwrap();
    assert_eq!(fe.mode, Mode::Http);
    assert_eq!(fe.maxconn, Some(5000));
    let addrs: Vec<String> = fe.binds[0]
        .spec
        .addresses()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(addrs, ["127.0.0.1:8080"]);
    assert_eq!(&*fe.default_backend.as_ref().unwrap().name, "http_back");
    let t = fe.timeouts;
    assert_eq!(t.connect, Some(Duration::from_secs(5)));
    assert_eq!(t.client, Some(Duration::from_secs(30)));
    assert_eq!(t.server, Some(Duration::from_secs(30)));
    assert_eq!(t.http_request, Some(Duration::from_secs(10)));
    assert_eq!(t.http_keep_alive, Some(Duration::from_secs(30)));
    assert_eq!(fe.log_format, None, "no logging in the benchmark");
    assert!(fe.logs.is_empty());

    let be = c.backend("http_back").unwrap();
    assert_eq!(be.mode, Mode::Http);
    assert_eq!(be.balance.algorithm, Algorithm::RoundRobin);
    assert_eq!(be.http_reuse, ReuseMode::Safe);
    let servers: Vec<String> = be
        .servers
        .iter()
        .map(|s| format!("{} {}", s.name, s.address))
        .collect();
    assert_eq!(
        servers,
        [
            "s1 127.0.0.1:9001",
            "s2 127.0.0.1:9002",
            "s3 127.0.0.1:9003"
        ]
    );
    assert_eq!(be.retries, 3);
    assert_eq!(be.balance.queue_timeout, Some(Duration::from_secs(5)));

    let tcp = c.frontend("tcp_in").unwrap();
    assert_eq!(tcp.mode, Mode::Tcp);
    assert_eq!(c.backend("tcp_back").unwrap().mode, Mode::Tcp);
    // The lb-core view of a server.
    let s = &be.servers[0];
    let ServerAddress::Addr(addr) = &s.address else {
        panic!("an IP address")
    };
    let core = s.core_config(addr.clone());
    assert_eq!(&*core.name, "s1");
    assert_eq!(core.weight.get(), 1);
}

#[test]
fn config_bench_tls_parses() {
    let c = load_ok(&["bench-tls.cfg"]);
    let fe = c.frontend("https_rsa").unwrap();
    let tls = fe.binds[0].tls.as_ref().unwrap();
    // Relative to the file's directory (tls.sh replaces the placeholder by an absolute path).
    assert_eq!(tls.certificates, [configs().join("@@RSA_PEM@@")]);
    assert_eq!(tls.alpn, ["h2", "http/1.1"]);
    assert!(c.frontend("https_ecdsa").unwrap().binds[0].tls.is_some());
}

#[test]
fn config_full_has_every_keyword() {
    let c = load_ok(&["full.cfg"]);
    let file = configs().join("full.cfg").display().to_string();

    // global
    let g = &c.global;
    assert_eq!(
        (g.maxconn, g.nbthread, g.hard_stop_after),
        (Some(10000), Some(2), Some(Duration::from_secs(30)))
    );
    assert_eq!(g.logs.len(), 3);
    assert_eq!(g.logs[0].destination, LogDestination::Stdout);
    assert_eq!(g.logs[0].format, SyslogFormat::Raw);
    assert_eq!(g.logs[0].facility, Facility::Local0);
    assert_eq!(g.logs[0].max_level, Some(LogLevel::Info));
    assert_eq!(g.logs[1].max_len, Some(1024));
    assert_eq!(
        (g.logs[1].max_level, g.logs[1].min_level),
        (Some(LogLevel::Notice), Some(LogLevel::Err))
    );
    assert_eq!(
        g.logs[2].destination,
        LogDestination::Unix("/dev/log".into())
    );
    assert_eq!(&*g.logs[2].span.file, file);
    assert_eq!(g.logs[2].span.line, 10);
    let sock = &g.stats_sockets[0];
    assert_eq!(sock.address, BindAddr::Unix("/run/lb/admin.sock".into()));
    assert_eq!((sock.level, sock.mode), (StatsLevel::Admin, Some(0o600)));

    // frontend www, from the named defaults `base`
    let www = c.frontend("www").unwrap();
    assert_eq!(www.mode, Mode::Http);
    assert_eq!(www.maxconn, Some(2000));
    assert_eq!(www.logs, [ProxyLog::Global]);
    assert_eq!(
        www.log_format,
        Some(LogFormat::parse("%ci:%cp [%tr] %ft %b/%s %ST %B %{+Q}r").unwrap())
    );
    assert!(www.dontlognull);
    assert_eq!(www.http_conn_mode, HttpConnMode::ServerClose);
    let xff = www.forwardfor.as_ref().unwrap();
    assert_eq!(xff.header_name(), "x-real-client");
    assert!(xff.is_if_none());
    assert_eq!(
        www.unique_id_header,
        Some(HeaderName::from_static("x-request-id"))
    );
    assert!(www.unique_id_format.is_some());
    assert_eq!(www.monitor_uri.as_deref(), Some("/alive"));
    assert_eq!(www.tcp_inspect_delay, Some(Duration::from_secs(2)));
    assert_eq!(www.errorfiles.len(), 1);
    assert_eq!(www.errorfiles[0].status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(www.errorfiles[0].response.ends_with(b"maintenance\n"));
    assert_eq!(
        www.errorfiles[0].path,
        configs().join("errors/503.http"),
        "relative to the configuration file"
    );
    let t = www.timeouts;
    assert_eq!(t.queue, Some(Duration::from_secs(20)));
    assert_eq!(t.tunnel, Some(Duration::from_secs(3600)));
    assert_eq!(t.client_fin, Some(Duration::from_secs(1)));
    assert_eq!(t.server_fin, Some(Duration::from_secs(1)));
    assert_eq!(t.check, Some(Duration::from_secs(3)));
    assert_eq!(t.http_keep_alive, Some(Duration::from_secs(2)));

    assert_eq!(www.binds.len(), 3);
    let b0 = &www.binds[0];
    assert_eq!(b0.name.as_deref(), Some("http"));
    assert_eq!(b0.maxconn, Some(5000));
    assert_eq!(b0.spec.options().backlog, Some(512));
    assert!(b0.spec.options().reuseport);
    assert_eq!(b0.spec.addresses().count(), 2);
    let tls = www.binds[1].tls.as_ref().unwrap();
    assert_eq!(tls.certificates, [PathBuf::from("/etc/lb/site.pem")]);
    assert_eq!(tls.alpn, ["h2", "http/1.1"]);
    assert!(www.binds[2].accept_proxy);
    assert_eq!(www.binds[2].spec.options().mode, Some(0o660));

    let acl_names: Vec<&str> = www.acls.iter().map(|a| &*a.name).collect();
    assert_eq!(
        acl_names,
        ["is_api", "is_static", "is_admin", "internal", "metrics"]
    );
    assert_eq!(
        www.acls[2].tests[0].matcher,
        Match::Str {
            patterns: vec![StrMatch::Str("admin.example.com".into())],
            ignore_case: true
        }
    );
    assert_eq!(www.http_request.len(), 1);
    assert_eq!(
        www.http_request[0].action,
        HttpRequestAction::UseService(Service::PrometheusExporter)
    );
    let routes: Vec<&str> = www.use_backends.iter().map(|u| &*u.backend).collect();
    assert_eq!(routes, ["api", "static", "admin"]);
    let cond = www.use_backends[0].cond.as_ref().unwrap();
    assert_eq!(cond.any_of.len(), 2);
    assert!(cond.any_of[0][1].negate);
    assert!(matches!(&cond.any_of[1][0].acl, AclRef::Anonymous(a)
        if a.tests[0].fetch == Fetch::Hdr(HeaderName::from_static("host"))));
    assert_eq!(&*www.default_backend.as_ref().unwrap().name, "app");

    // backend api
    let api = c.backend("api").unwrap();
    assert_eq!(
        api.balance.algorithm,
        Algorithm::Uri(UriOptions {
            len: Some(64),
            depth: Some(3),
            whole: true,
            path_only: true
        })
    );
    assert_eq!(api.balance.hash_type.method, HashMethod::Consistent);
    assert!(api.balance.hash_type.avalanche);
    assert_eq!(api.balance.hash_balance_factor, 150);
    assert!(api.balance.allbackups);
    assert!(api.balance.validate().is_ok());
    assert_eq!(api.retries, 2);
    assert_eq!(api.redispatch, Redispatch::Last);
    assert_eq!(api.http_reuse, ReuseMode::Aggressive);
    let chk = api.httpchk.as_ref().unwrap();
    assert_eq!(
        (
            &chk.method,
            chk.uri.as_str(),
            chk.version,
            chk.host.as_deref()
        ),
        (
            &Method::GET,
            "/health",
            Version::HTTP_11,
            Some("api.example.com")
        )
    );
    let api1 = api.server("api1").unwrap();
    assert_eq!(
        (api1.weight.get(), api1.maxconn, api1.maxqueue, api1.id),
        (10, 100, 50, Some(1))
    );
    assert_eq!(
        api1.slowstart,
        Duration::from_secs(10),
        "from default-server"
    );
    let ck = &api1.check;
    assert!(ck.enabled);
    assert_eq!(
        (ck.inter, ck.fastinter, ck.downinter, ck.rise, ck.fall),
        (
            Duration::from_secs(2),
            Some(Duration::from_millis(500)),
            Some(Duration::from_secs(5)),
            3,
            2
        )
    );
    let api2 = api.server("api2").unwrap();
    assert_eq!(api2.check.observe, Some(Observe::Layer7));
    assert_eq!(api2.check.error_limit, 5);
    assert_eq!(api2.check.on_error, OnError::MarkDown);
    let api3 = api.server("api3").unwrap();
    assert_eq!(
        api3.address,
        ServerAddress::Host {
            name: "api3.internal".into(),
            port: 8000
        }
    );
    assert_eq!(api3.track.as_ref().unwrap().to_string(), "api/api1");
    let spare = api.server("spare").unwrap();
    assert!(spare.backup);
    let agent = &spare.check.agent;
    assert!(agent.enabled);
    assert_eq!(agent.port, Some(9999));
    assert_eq!(agent.inter, Duration::from_secs(5));
    assert_eq!(agent.send.as_deref(), Some("ping\n"));

    // backend static
    let st = c.backend("static").unwrap();
    assert_eq!(
        st.balance.algorithm,
        Algorithm::Hdr {
            name: HeaderName::from_static("host"),
            use_domain_only: true
        }
    );
    assert_eq!(st.redispatch, Redispatch::Off);
    assert_eq!(st.http_conn_mode, HttpConnMode::KeepAlive);
    let s1 = st.server("s1").unwrap();
    assert_eq!(s1.check.port, Some(8080));
    assert_eq!(s1.check.addr, Some("10.0.2.100".parse().unwrap()));
    assert_eq!(s1.send_proxy, Some(ProxyVersion::V2));
    assert_eq!(s1.source, Some("10.0.2.254:0".parse().unwrap()));
    let s2 = st.server("s2").unwrap();
    assert_eq!(s2.address.to_string(), "[2001:db8::2]:80");
    assert!(s2.check.ssl && s2.disabled);
    assert_eq!(s2.check.sni.as_deref(), Some("static.example.com"));

    // backend app
    let app = c.backend("app").unwrap();
    assert_eq!(
        app.balance.algorithm,
        Algorithm::UrlParam {
            name: "session".into(),
            check_post: true
        }
    );
    assert_eq!(app.http_reuse, ReuseMode::Safe);
    assert_eq!(app.http_conn_mode, HttpConnMode::Close);
    assert_eq!(
        app.servers[0].address,
        ServerAddress::Addr(Address::Unix("/run/app.sock".into()))
    );
    assert_eq!(
        app.servers[1].address,
        ServerAddress::Addr(Address::Mem("app2".into()))
    );
    assert_eq!(app.servers[1].send_proxy, Some(ProxyVersion::V1));

    // backend admin
    let admin = c.backend("admin").unwrap();
    assert_eq!(
        admin.balance.algorithm,
        Algorithm::RdpCookie {
            name: "user".into()
        }
    );
    let stats = admin.stats.as_ref().unwrap();
    assert_eq!(stats.uri, "/stats");
    assert_eq!(stats.refresh, Some(Duration::from_secs(5)));
    assert_eq!(stats.realm.as_deref(), Some("Admin"));
    assert_eq!(stats.auth[0].user, "admin");
    assert!(stats.admin.is_some());
    assert_eq!(
        admin.servers[0].track.as_ref().unwrap().to_string(),
        "api/api1"
    );

    // TLS pass-through, from the last defaults section (`tcp`).
    let tls = c.frontend("tls_in").unwrap();
    assert_eq!(tls.mode, Mode::Tcp);
    assert_eq!(tls.log_format, Some(LogFormat::tcplog()));
    assert!(tls.logs.is_empty());
    assert_eq!(tls.timeouts.client, Some(Duration::from_secs(60)));
    assert_eq!(tls.tcp_inspect_delay, Some(Duration::from_secs(5)));
    let actions: Vec<_> = tls.tcp_content.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [TcpContentAction::Accept, TcpContentAction::Reject]
    );
    assert_eq!(
        tls.acls.iter().map(|a| &*a.name).collect::<Vec<_>>(),
        ["HTTP"],
        "the predefined ACL is added when used"
    );
    let AclRef::Anonymous(sni) = &tls.use_backends[0].cond.as_ref().unwrap().any_of[0][0].acl
    else {
        panic!("anonymous ACL expected")
    };
    assert_eq!(sni.tests[0].fetch, Fetch::ReqSslSni);
    assert_eq!(
        sni.tests[0].matcher,
        Match::Str {
            patterns: vec![StrMatch::End(".a.example.com".into())],
            ignore_case: true
        }
    );
    let AclRef::Anonymous(port) = &tls.use_backends[1].cond.as_ref().unwrap().any_of[1][0].acl
    else {
        panic!("anonymous ACL expected")
    };
    assert_eq!(port.tests[0].matcher, Match::Int(vec![IntMatch::Eq(8443)]));
    let tls_a = c.backend("tls_a").unwrap();
    assert_eq!(tls_a.balance.algorithm, Algorithm::Source);
    assert_eq!(tls_a.balance.hash_type.method, HashMethod::MapBased);
    assert_eq!(tls_a.balance.hash_type.function, HashFunction::Crc32);
    let tls_b = c.backend("tls_b").unwrap();
    assert_eq!(tls_b.balance.algorithm, Algorithm::Hash);
    assert_eq!(tls_b.hash_key, Some(Fetch::Src));

    // listen sections
    let mysql = c.backend("mysql").unwrap();
    assert!(mysql.listen);
    assert_eq!(mysql.balance.algorithm, Algorithm::LeastConn);
    assert_eq!(mysql.redispatch, Redispatch::Every(2));
    assert_eq!(mysql.servers[0].check.inter, Duration::from_secs(1));
    assert_eq!(
        &*c.frontend("mysql")
            .unwrap()
            .default_backend
            .as_ref()
            .unwrap()
            .name,
        "mysql"
    );
    assert_eq!(
        c.backend("first_free").unwrap().balance.algorithm,
        Algorithm::First
    );
    let rnd = c.backend("rnd").unwrap();
    assert_eq!(rnd.balance.algorithm, Algorithm::Random { draws: 3 });
    assert_eq!(rnd.balance.hash_balance_factor, 125);
    assert_eq!(
        c.backend("srr").unwrap().balance.algorithm,
        Algorithm::StaticRr
    );
    assert!(c.frontend("srr").unwrap().logs.is_empty());

    // Every proxy has its timeouts: no warnings.
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.frontends.len(), 6);
    assert_eq!(c.backends.len(), 10);
}

#[test]
fn config_directory_loads_in_lexical_order() {
    let c = load_ok(&["conf.d"]);
    assert_eq!(c.global.maxconn, Some(1000));
    let fe = c.frontend("www").unwrap();
    let be = c.backend("app").unwrap();
    // The defaults of 10-global.cfg apply to the sections of the later files.
    assert_eq!(fe.mode, Mode::Http);
    assert_eq!(be.mode, Mode::Http);
    assert_eq!(be.timeouts.server, Some(Duration::from_secs(10)));
    assert!(be.servers[0].span.file.ends_with("30-backend.cfg"));
    // README.txt is not read.
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn config_files_load_in_the_order_given() {
    // `-f bench.cfg -f conf.d`: one configuration.
    let c = load_ok(&["bench.cfg", "conf.d"]);
    assert_eq!(c.frontends.len(), 3);
    // conf.d/10-global.cfg comes later: its global maxconn wins.
    assert_eq!(c.global.maxconn, Some(1000));
    // Names are shared across files.
    let e = load(&["conf.d", "conf.d/30-backend.cfg"]).unwrap_err();
    let dup = configs()
        .join("conf.d/30-backend.cfg")
        .display()
        .to_string();
    assert_eq!(
        e.to_string(),
        format!("{dup}:1: 'backend': backend 'app' has the same name as backend 'app' declared at {dup}:1")
    );
}

#[test]
fn config_unreadable_paths_are_errors() {
    let e = load(&["nope.cfg", "bench.cfg"]).unwrap_err();
    let nope = configs().join("nope.cfg");
    assert_eq!(
        e.to_string(),
        format!(
            "{0}: cannot read '{0}': No such file or directory (os error 2)",
            nope.display()
        )
    );
    assert_eq!(e.len(), 1);
    assert_eq!(e.errors()[0].line(), None);
}

/// The errors a broken file declares: a line ending in `# ERROR: <message>` expects that
/// error on itself; a comment line `# NEXT LINE ERROR: <message>` expects it on the next
/// line (for lines whose own comment would be swallowed by an open quote).
fn expected_errors(file: &str) -> Vec<String> {
    let path = configs().join(file);
    let name = path.display().to_string();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut expected = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let (line_no, msg) =
            if let Some(msg) = line.trim_start().strip_prefix("# NEXT LINE ERROR: ") {
                (i + 2, msg)
            } else if line.trim_start().starts_with('#') {
                continue;
            } else if let Some((_, msg)) = line.split_once("# ERROR: ") {
                (i + 1, msg)
            } else {
                continue;
            };
        expected.push(format!(
            "{name}:{line_no}: {}",
            msg.replace("{file}", &name)
        ));
    }
    expected
}

fn check_broken(file: &str) {
    let expected = expected_errors(file);
    assert!(!expected.is_empty());
    let actual: Vec<String> = load(&[file])
        .expect_err("the file is broken")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn config_broken_keywords_report_every_error() {
    check_broken("broken-keywords.cfg");
}

#[test]
fn config_broken_tls_reports_every_error() {
    check_broken("broken-tls.cfg");
}

#[test]
fn config_tls_options_parse() {
    let c = load_ok(&["tls-options.cfg"]);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let dir = configs();

    let mtls = c.frontend("mtls").unwrap();
    let t = mtls.binds[0].tls.as_ref().unwrap();
    assert_eq!(
        t.certificates,
        [dir.join("certs/site.pem"), PathBuf::from("/etc/lb/certs/")]
    );
    assert_eq!(t.crt_lists, [dir.join("certs/list.txt")]);
    assert_eq!(t.crt_base.as_deref(), Some(dir.as_path()));
    assert_eq!(t.alpn, ["h2", "http/1.1"]);
    assert_eq!(t.min_version, Some(TlsVersion::Tls12));
    assert_eq!(t.max_version, Some(TlsVersion::Tls13));
    assert_eq!(
        t.ciphers.as_deref(),
        Some("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    );
    assert_eq!(
        t.ciphersuites.as_deref(),
        Some("TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256")
    );
    assert!(t.prefer_client_ciphers);
    assert_eq!(t.verify, ClientVerify::Required);
    assert_eq!(t.ca_file, Some(dir.join("ca.pem")));
    assert_eq!(t.crl_file, Some(dir.join("crl.pem")));
    assert!(!t.no_tls_tickets);
    assert_eq!(t.tls_ticket_keys, Some(dir.join("tls-ticket.keys")));

    let strict = c.frontend("strict").unwrap();
    assert_eq!(strict.binds.len(), 2);
    let t = strict.binds[0].tls.as_ref().unwrap();
    assert!(t.certificates.is_empty());
    assert_eq!(t.crt_lists, [PathBuf::from("/etc/lb/list.txt")]);
    assert!(t.alpn.is_empty());
    assert_eq!(t.min_version, Some(TlsVersion::Tls13));
    assert_eq!(t.max_version, None);
    assert_eq!(t.ciphers, None);
    assert_eq!(t.ciphersuites, None);
    assert!(!t.prefer_client_ciphers);
    assert_eq!(t.verify, ClientVerify::Optional);
    assert_eq!(t.ca_file, Some(PathBuf::from("/etc/lb/ca.pem")));
    assert_eq!(t.crl_file, None);
    assert!(t.no_tls_tickets);
    assert_eq!(t.tls_ticket_keys, None);
    assert!(strict.binds[1].tls.is_none());
}

#[test]
fn config_broken_references_report_every_error() {
    check_broken("broken-references.cfg");
}

#[test]
fn config_broken_syntax_reports_every_error() {
    check_broken("broken-syntax.cfg");
}

#[test]
fn config_errors_across_files_are_in_load_order() {
    let e = load(&["broken-syntax.cfg", "broken-keywords.cfg"]).unwrap_err();
    let mut expected = expected_errors("broken-syntax.cfg");
    expected.extend(expected_errors("broken-keywords.cfg"));
    let actual: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert_eq!(actual, expected);
}

#[test]
fn config_health_checks_parse() {
    let c = load_ok(&["health-checks.cfg"]);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let be = |name: &str| c.backend(name).unwrap();
    let kind = |name: &str| format!("{:?}", be(name).check_kind);

    let web = be("web");
    assert_eq!(kind("web"), "Some(Http)");
    assert!(web.httpchk.is_some());
    assert_eq!(web.http_check_send.len(), 1);
    let send = &web.http_check_send[0];
    assert_eq!(send.method, Some(Method::GET));
    assert_eq!(send.uri.as_deref(), Some("/health"));
    assert_eq!(send.version, Some(Version::HTTP_11));
    assert_eq!(
        send.headers,
        vec![(HeaderName::from_static("host"), "www.example.com".into())]
    );
    assert_eq!(web.http_check_expect.len(), 2);
    assert!(!web.http_check_expect[0].negate && web.http_check_expect[1].negate);
    assert!(web.disable_on_404);
    // `send-state` comes from the defaults section.
    assert!(web.send_state);
    let check = web.health_check().unwrap();
    let lb::health::CheckKind::Http(h) = check.kind() else {
        panic!("{check:?}")
    };
    assert!(h.disables_on_404() && h.sends_state());
    assert_eq!(
        String::from_utf8(h.request(None)).unwrap(),
        "GET /health HTTP/1.1\r\nhost: www.example.com\r\nConnection: close\r\n\r\n"
    );

    let api = be("api").health_check().unwrap();
    let lb::health::CheckKind::Http(h) = api.kind() else {
        panic!("{api:?}")
    };
    assert_eq!(
        String::from_utf8(h.request(None)).unwrap(),
        "HEAD /ping HTTP/1.1\r\nHost: api.example.com\r\nx-check: lb\r\nContent-Length: \
         2\r\nConnection: close\r\n\r\n{}"
    );

    assert_eq!(kind("cache"), "Some(TcpCheck)");
    assert_eq!(be("cache").tcp_check.len(), 5);
    let cache = be("cache").health_check().unwrap();
    let lb::health::CheckKind::Script(s) = cache.kind() else {
        panic!("{cache:?}")
    };
    assert_eq!(s.rules().len(), 5);

    assert_eq!(kind("redis"), "Some(Redis)");
    assert_eq!(
        kind("smtp"),
        "Some(Smtp { ehlo: true, domain: \"lb.example.com\" })"
    );
    assert_eq!(kind("mysql"), "Some(Mysql { user: Some(\"haproxy\") })");
    assert_eq!(kind("pgsql"), "Some(Pgsql { user: \"lb\" })");
    assert_eq!(kind("ldap"), "Some(Ldap)");
    for name in ["redis", "smtp", "mysql", "pgsql", "ldap"] {
        assert!(be(name).httpchk.is_none(), "{name}");
        let check = be(name).health_check().unwrap();
        assert!(check.kind().is_layer7(), "{name}");
    }
}

#[test]
fn config_broken_health_checks_report_every_error() {
    check_broken("broken-health-checks.cfg");
}

#[test]
fn config_broken_http_request_reports_every_error() {
    check_broken("broken-http-request.cfg");
}

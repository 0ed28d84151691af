//! The reference binary `lb`: runs an HAProxy-style configuration.
//!
//! ```text
//! lb                      # built-in demo: http://127.0.0.1:8080/ and stats on :8404
//! lb -f haproxy.cfg [-f more.cfg|dir ...]
//! lb -c -f haproxy.cfg    # check the configuration and exit (like haproxy -c)
//! ```
//! Signals: SIGTERM/SIGINT stop gracefully (bounded by `hard-stop-after`), SIGUSR1 stops
//! accepting and exits when the last connection ends, SIGHUP reloads the files (a broken
//! new configuration is rejected and the running one stays).

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use lb::config::Config;
use lb::runtime::Runtime;

const USAGE: &str = "usage: lb [-c] [-f FILE|DIR]...\n  with no -f: run the built-in demo";

struct Args {
    files: Vec<PathBuf>,
    check: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        files: Vec::new(),
        check: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-f" => args.files.push(it.next().ok_or("-f needs a file")?.into()),
            "-c" => args.check = true,
            "-h" | "--help" => return Err(USAGE.into()),
            "-d" | "-db" => {} // foreground and debug: lb always runs in the foreground
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if args.files.is_empty() && !args.check {
        let _ = init_logs(&[]);
        return run_runtime(
            None,
            || Err("the demo builds its own configuration".into()),
            Vec::new(),
        );
    }
    let config = match Config::load(&args.files) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("[ALERT] Fatal errors found in configuration.");
            return ExitCode::from(1);
        }
    };
    for w in &config.warnings {
        eprintln!("[WARNING] {w}");
    }
    if args.check {
        println!("Configuration file is valid");
        return ExitCode::SUCCESS;
    }
    if let Err(e) = init_logs(&config.global.logs) {
        eprintln!("[ALERT] {e}");
        return ExitCode::from(1);
    }
    let threads = config.global.nbthread;
    run_runtime(threads, move || Ok(config), args.files)
}

/// Logs go to stdout (filtered by `RUST_LOG`, default info) and, when the configuration has
/// global `log` lines, to those syslog targets too.
fn init_logs(targets: &[lb::config::LogTarget]) -> std::io::Result<()> {
    use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
    use tracing_subscriber::util::SubscriberInitExt as _;
    let syslog = lb::runtime::syslog::SyslogLayer::from_config(targets)?;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(true)
                .with_filter(filter),
        )
        .with(syslog)
        .init();
    Ok(())
}

fn run_runtime(
    threads: Option<u32>,
    first: impl FnOnce() -> Result<Config, String>,
    files: Vec<PathBuf>,
) -> ExitCode {
    let rt = match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n as usize)
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        let demo = files.is_empty();
        let config = if demo {
            match start_demo_origins().await {
                Ok(ports) => match Config::parse_str("<demo>", &demo_text(&ports), &|k| {
                    std::env::var(k).ok()
                }) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(1);
                    }
                },
                Err(e) => {
                    eprintln!("cannot start the demo origins: {e}");
                    return ExitCode::from(1);
                }
            }
        } else {
            match first() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(1);
                }
            }
        };
        // hard-stop-after bounds every stop; without it, SIGTERM gives live connections 10 s
        // and a soft stop (SIGUSR1) waits for them as long as they last (24 h at most).
        let hard_stop = config.global.hard_stop_after;
        let mut runtime = match Runtime::start(config, None).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("[ALERT] {e}");
                return ExitCode::from(1);
            }
        };
        if demo {
            println!("lb demo running:");
            println!(
                "  load balancer  http://127.0.0.1:8080/   (three in-process origins, round robin)"
            );
            println!("  stats page     http://127.0.0.1:8404/");
            println!("  CSV            http://127.0.0.1:8404/;csv");
            println!("  Prometheus     http://127.0.0.1:8404/metrics");
            println!("Ctrl-C stops it.");
        }
        serve_signals(&mut runtime, &files, hard_stop).await
    })
}

#[cfg(unix)]
async fn serve_signals(
    runtime: &mut Runtime,
    files: &[PathBuf],
    hard_stop_after: Option<Duration>,
) -> ExitCode {
    let hard_stop = hard_stop_after.unwrap_or(Duration::from_secs(10));
    let soft_stop = hard_stop_after.unwrap_or(Duration::from_secs(24 * 3600));
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut usr1), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::user_defined1()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("cannot install signal handlers");
        return ExitCode::from(1);
    };
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
            _ = usr1.recv() => {
                tracing::info!("SIGUSR1: soft stop, waiting for live connections");
                let rt = take(runtime);
                let report = rt.stop(soft_stop).await;
                tracing::info!(?report, "stopped");
                return ExitCode::SUCCESS;
            }
            _ = hup.recv() => {
                if files.is_empty() {
                    tracing::warn!("SIGHUP: the demo has no files to reload");
                    continue;
                }
                tracing::info!("SIGHUP: reloading");
                match Config::load(files) {
                    Err(errors) => tracing::error!("reload rejected, the running configuration stays:\n{errors}"),
                    Ok(cfg) => match Runtime::start(cfg, Some(&mut *runtime)).await {
                        Err(e) => tracing::error!("reload rejected, the running configuration stays: {e}"),
                        Ok(new) => {
                            let old = std::mem::replace(runtime, new);
                            tokio::spawn(async move {
                                let report = old.stop(hard_stop).await;
                                tracing::info!(?report, "previous configuration finished");
                            });
                            tracing::info!("reload done");
                        }
                    },
                }
            }
        }
    }
    let rt = take(runtime);
    let report = rt.stop(hard_stop).await;
    tracing::info!(?report, "stopped");
    ExitCode::SUCCESS
}

/// Moves the runtime out, leaving an empty one (never served) behind.
fn take(runtime: &mut Runtime) -> Runtime {
    std::mem::replace(runtime, Runtime::empty())
}

fn demo_text(ports: &[u16]) -> String {
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("    server origin{} 127.0.0.1:{p} check inter 2s\n", i + 1))
        .collect();
    format!(
        "global\n    maxconn 1000\n\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n    timeout http-request 10s\n    option httplog\n    log global\n\nfrontend web\n    bind 127.0.0.1:8080\n    default_backend demo\n\nbackend demo\n    balance roundrobin\n    option redispatch\n{servers}\nlisten stats\n    bind 127.0.0.1:8404\n    stats enable\n    stats uri /\n    stats refresh 5s\n    stats admin if TRUE\n    http-request use-service prometheus-exporter if {{ path /metrics }}\n"
    )
}

/// Three tiny origins on ephemeral ports, answering with their name.
async fn start_demo_origins() -> std::io::Result<Vec<u16>> {
    let mut ports = Vec::new();
    for i in 1..=3 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        ports.push(l.local_addr()?.port());
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| async move {
                            let body = format!(
                                "hello from demo origin {i}: {} {}\n",
                                req.method(),
                                req.uri()
                            );
                            let mut r = http::Response::new(Full::new(Bytes::from(body)));
                            r.headers_mut()
                                .insert("x-origin", http::HeaderValue::from(i));
                            Ok::<_, Infallible>(r)
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
                });
            }
        });
    }
    Ok(ports)
}

/// Elsewhere than Unix: Ctrl-C stops gracefully; there is no reload signal.
#[cfg(not(unix))]
async fn serve_signals(
    runtime: &mut Runtime,
    _files: &[PathBuf],
    hard_stop_after: Option<Duration>,
) -> ExitCode {
    let _ = tokio::signal::ctrl_c().await;
    let rt = take(runtime);
    let report = rt
        .stop(hard_stop_after.unwrap_or(Duration::from_secs(10)))
        .await;
    tracing::info!(?report, "stopped");
    ExitCode::SUCCESS
}

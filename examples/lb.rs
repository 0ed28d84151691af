//! The reference binary `lb`.
//!
//! For now it runs a built-in demo: it balances in-memory requests over three in-process
//! servers and prints which server got each, then shows a runtime change (a server going
//! down, a weight change) and a leastconn farm under concurrency. Later it runs
//! HAProxy-style configuration files (`lb -f haproxy.cfg`).
//!
//! ```text
//! cargo run --release --example lb
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use lb::core::{
    Algorithm, Backend, Balance, BalanceConfig, BoxError, NoKey, OpState, RequestKey, Server,
    ServerConfig, Weight,
};
use tower::{service_fn, Service, ServiceExt};

/// An in-process "origin": answers with its name after a short, load-dependent delay.
fn origin(server: &Arc<Server>) -> tower::util::BoxCloneSyncService<String, String, Infallible> {
    let name = server.name().to_owned();
    tower::util::BoxCloneSyncService::new(service_fn(move |req: String| {
        let name = name.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok::<_, Infallible>(format!("{name} answered {req}"))
        }
    }))
}

fn farm(algorithm: Algorithm) -> Result<Backend, BoxError> {
    Ok(Backend::new(
        "demo",
        BalanceConfig::new(algorithm),
        [("alpha", 3), ("beta", 2), ("gamma", 1)].map(|(name, weight)| {
            ServerConfig::new(name, format!("mem@{name}").parse().expect("valid")).weight(weight)
        }),
    )?)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if std::env::args().len() > 1 {
        eprintln!(
            "lb: configuration files are not supported yet; run without arguments for the demo"
        );
        std::process::exit(2);
    }

    println!("== roundrobin over alpha (weight 3), beta (2), gamma (1)");
    let backend = farm(Algorithm::RoundRobin)?;
    let mut lb = Balance::new(backend.clone(), origin, NoKey);
    for i in 1..=12 {
        println!(
            "request {i:2} -> {}",
            lb.ready().await?.call(format!("#{i}")).await?
        );
    }

    println!("\n== beta goes down (events are logged), gamma's weight becomes 3");
    backend.set_op_state("beta", OpState::Down, "demo: Layer4 connection problem")?;
    backend.set_weight("gamma", Weight::new(3)?, "demo: runtime API")?;
    for i in 13..=18 {
        println!(
            "request {i:2} -> {}",
            lb.ready().await?.call(format!("#{i}")).await?
        );
    }

    println!("\n== source hashing: a client always lands on the same server");
    let hashed = farm(Algorithm::Source)?;
    for client in ["192.0.2.10", "192.0.2.11", "198.51.100.7"] {
        let key = RequestKey::new().source(client.parse()?);
        let now = tokio::time::Instant::now();
        let picks: Vec<_> = (0..3)
            .map(|_| hashed.pick(&key, now).map(|s| s.name().to_owned()))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{e:?}"))?;
        println!("client {client:>13} -> {}", picks.join(", "));
    }

    println!("\n== leastconn, 60 concurrent requests");
    let backend = farm(Algorithm::LeastConn)?;
    let lb = Balance::new(backend.clone(), origin, NoKey);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60 {
        let mut lb = lb.clone();
        tasks.spawn(async move { lb.ready().await?.call(format!("#{i}")).await });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    for s in backend.snapshot().servers() {
        println!(
            "{:>6}: weight {}, served {}, peak in flight {}",
            s.name(),
            s.weight().get(),
            s.stats().total(),
            s.stats()
                .max_inflight
                .load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    Ok(())
}

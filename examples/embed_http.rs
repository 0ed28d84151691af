//! An HTTP load balancer embedded in a few lines: round robin over the servers given on
//! the command line, HTTP/1.1 and HTTP/2 (h2c) on the listening side, pooled keep-alive
//! connections to the servers.
//!
//! ```text
//! cargo run --release --example embed_http -- 127.0.0.1:8080 127.0.0.1:9001 127.0.0.1:9002
//! ```

use std::sync::Arc;

use lb::core::{Algorithm, Backend, BalanceConfig, ServerConfig};
use lb::http::client::{PoolConfig, Pools};
use lb::http::proxy::{HttpProxy, ProxyConfig};
use lb::http::server::FrontendConfig;
use lb::tcp::connect::TcpConnect;
use lb::tcp::listen::{Acceptor, BindSpec, Shutdown};

async fn run(listen: String, servers: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let servers = servers
        .iter()
        .enumerate()
        .map(|(i, a)| Ok(ServerConfig::new(format!("s{i}"), a.parse()?)));
    let backend = Backend::new(
        "app",
        BalanceConfig::new(Algorithm::RoundRobin),
        servers.collect::<Result<Vec<_>, lb::core::Error>>()?,
    )?;
    let pools = Arc::new(Pools::new(TcpConnect::new(), PoolConfig::default()));
    let proxy = HttpProxy::new(backend, pools, ProxyConfig::default());
    let acceptor = Acceptor::new("web", BindSpec::parse(&listen)?.bind()?);
    let shutdown = Shutdown::new();
    println!(
        "balancing http://{listen}/ over {} servers",
        proxy.backend().snapshot().servers().len()
    );
    lb::http::serve(
        acceptor,
        FrontendConfig::new("web"),
        proxy,
        shutdown.signal(),
    )
    .await;
    Ok(())
}

/// One thread, as HAProxy's `nbthread 1`, which the benchmarks compare with.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let mut servers: Vec<String> = args.collect();
    if servers.is_empty() {
        servers = (9001..=9003).map(|p| format!("127.0.0.1:{p}")).collect();
    }
    run(listen, servers).await
}

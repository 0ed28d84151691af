//! A TCP load balancer in a few lines: round robin over the servers given on the command
//! line, half-close and timeouts handled by lb-tcp.
//!
//! ```text
//! cargo run --release --example tcp_lb -- 127.0.0.1:8081 127.0.0.1:9001 127.0.0.1:9002
//! ```

use lb::core::{Algorithm, Backend, BalanceConfig, ServerConfig};
use lb::tcp::connect::TcpConnect;
use lb::tcp::listen::{Acceptor, BindSpec, Shutdown};
use lb::tcp::proxy::{TcpProxy, TcpProxyConfig};

async fn run(listen: String, servers: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let servers = servers
        .iter()
        .enumerate()
        .map(|(i, a)| Ok(ServerConfig::new(format!("s{i}"), a.parse()?)));
    let backend = Backend::new(
        "tcp",
        BalanceConfig::new(Algorithm::RoundRobin),
        servers.collect::<Result<Vec<_>, lb::core::Error>>()?,
    )?;
    let proxy = TcpProxy::new(backend, TcpConnect::new(), TcpProxyConfig::default());
    let shutdown = Shutdown::new();
    println!("balancing tcp {listen}");
    Acceptor::new("tcp", BindSpec::parse(&listen)?.bind()?)
        .serve(proxy.into_handler(), shutdown.signal())
        .await;
    Ok(())
}

/// One thread, as HAProxy's `nbthread 1`, which the benchmarks compare with.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8081".into());
    let mut servers: Vec<String> = args.collect();
    if servers.is_empty() {
        servers = (9001..=9003).map(|p| format!("127.0.0.1:{p}")).collect();
    }
    run(listen, servers).await
}

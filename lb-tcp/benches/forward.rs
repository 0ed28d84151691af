//! 100 MB over loopback TCP: straight from client to server, through `forward` (with and
//! without timeouts, two buffer sizes), and through tokio's `copy_bidirectional`.
//!
//! Every variant runs the same writer and reader tasks on a 2-worker runtime; the proxied
//! ones add a task that owns the two proxy-side sockets.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lb_tcp::forward::{forward, Counters, ForwardConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

const SIZE: u64 = 100 * 1000 * 1000;
const CHUNK: usize = 64 * 1024;

async fn pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (a, b) = tokio::try_join!(TcpStream::connect(addr), async {
        listener.accept().await.map(|(s, _)| s)
    })?;
    a.set_nodelay(true)?;
    b.set_nodelay(true)?;
    Ok((a, b))
}

async fn write_all(mut w: TcpStream) -> io::Result<TcpStream> {
    let buf = vec![0x5a_u8; CHUNK];
    let mut left = SIZE;
    while left > 0 {
        let n = CHUNK.min(left as usize);
        w.write_all(&buf[..n]).await?;
        left -= n as u64;
    }
    w.shutdown().await?;
    Ok(w)
}

async fn read_all(mut r: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

#[derive(Clone, Copy)]
enum Via {
    Direct,
    Forward(ForwardConfig),
    CopyBidirectional,
}

async fn run(via: Via) -> io::Result<u64> {
    let (client, server) = match via {
        Via::Direct => pair().await?,
        Via::Forward(_) | Via::CopyBidirectional => {
            let (client, mut accepted) = pair().await?;
            let (mut connected, server) = pair().await?;
            tokio::spawn(async move {
                match via {
                    Via::Forward(cfg) => {
                        let counters = Counters::new();
                        let outcome = forward(&mut accepted, &mut connected, &cfg, &counters).await;
                        black_box(outcome);
                    }
                    _ => {
                        let _ = tokio::io::copy_bidirectional(&mut accepted, &mut connected).await;
                    }
                }
            });
            (client, server)
        }
    };
    let writer = tokio::spawn(write_all(client));
    let reader = tokio::spawn(read_all(server));
    let got = reader.await.map_err(io::Error::other)??;
    // Keep the client open until the server saw everything, then close it.
    drop(writer.await.map_err(io::Error::other)??);
    assert_eq!(got, SIZE);
    Ok(got)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let timeouts = ForwardConfig::new()
        .timeout_client(Duration::from_secs(30))
        .timeout_server(Duration::from_secs(30));
    let variants = [
        ("direct", Via::Direct),
        ("forward_16k", Via::Forward(ForwardConfig::new())),
        ("forward_16k_timeouts", Via::Forward(timeouts)),
        (
            "forward_64k",
            Via::Forward(ForwardConfig::new().buffer_size(64 * 1024)),
        ),
        (
            "forward_1m",
            Via::Forward(ForwardConfig::new().buffer_size(1 << 20)),
        ),
        ("copy_bidirectional_8k", Via::CopyBidirectional),
    ];
    let mut group = c.benchmark_group("loopback_100MB");
    group.throughput(Throughput::Bytes(SIZE));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for (name, via) in variants {
        group.bench_function(name, |b| b.iter(|| once(&rt, via)));
    }
    group.finish();
}

fn once(rt: &Runtime, via: Via) -> u64 {
    rt.block_on(run(via)).expect("transfer")
}

criterion_group!(benches, bench);
criterion_main!(benches);

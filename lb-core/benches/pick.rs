//! One pick per algorithm at 3, 100 and 1000 servers, and pick + release under 2 threads.
//!
//! `cargo bench -p lb-core --bench pick`
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use lb_core::{Algorithm, Backend, BalanceConfig, HashType, RequestKey, ServerConfig, UriOptions};
use tokio::time::Instant;

fn backend(cfg: BalanceConfig, n: usize) -> Backend {
    Backend::new(
        "bench",
        cfg,
        (0..n).map(|i| {
            ServerConfig::new(format!("s{i}"), format!("mem@s{i}").parse().unwrap())
                .weight(1 + (i % 4) as u32)
        }),
    )
    .unwrap()
}

fn algorithms() -> Vec<(&'static str, BalanceConfig)> {
    vec![
        ("roundrobin", BalanceConfig::new(Algorithm::RoundRobin)),
        ("static-rr", BalanceConfig::new(Algorithm::StaticRr)),
        ("leastconn", BalanceConfig::new(Algorithm::LeastConn)),
        ("first", BalanceConfig::new(Algorithm::First)),
        ("random(2)", BalanceConfig::new(Algorithm::random())),
        ("source/map", BalanceConfig::new(Algorithm::Source)),
        (
            "uri/map",
            BalanceConfig::new(Algorithm::Uri(UriOptions::default())),
        ),
        (
            "uri/consistent",
            BalanceConfig::new(Algorithm::Uri(UriOptions::default()))
                .hash_type(HashType::consistent()),
        ),
        (
            "uri/consistent+bounded",
            BalanceConfig::new(Algorithm::Uri(UriOptions::default()))
                .hash_type(HashType::consistent())
                .hash_balance_factor(150),
        ),
    ]
}

fn pick(c: &mut Criterion) {
    let uris: Vec<String> = (0..1024)
        .map(|i| format!("/static/img/{i}.png?v=3"))
        .collect();
    let ips: Vec<IpAddr> = (0..1024u32)
        .map(|i| IpAddr::from((0x0a00_0000 | i).to_be_bytes()))
        .collect();
    let now = Instant::now();
    for n in [3usize, 100, 1000] {
        let mut g = c.benchmark_group(format!("pick/{n}"));
        g.measurement_time(Duration::from_secs(2))
            .warm_up_time(Duration::from_millis(500));
        for (name, cfg) in algorithms() {
            let be = backend(cfg, n);
            let mut i = 0usize;
            g.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| {
                    i = i.wrapping_add(1);
                    let key = RequestKey::new().uri(&uris[i & 1023]).source(ips[i & 1023]);
                    let s = be.pick(black_box(&key), now).unwrap();
                    black_box(s.id())
                })
            });
        }
        g.finish();
    }
}

fn pick_release_two_threads(c: &mut Criterion) {
    let now = Instant::now();
    let mut g = c.benchmark_group("acquire+release/1000/2 threads");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for (name, cfg) in algorithms() {
        let be = backend(cfg, 1000);
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(2);
                let start = std::time::Instant::now();
                let threads: Vec<_> = (0..2)
                    .map(|t| {
                        let be = be.clone();
                        let uris: Arc<Vec<String>> =
                            Arc::new((0..256).map(|i| format!("/t{t}/{i}")).collect());
                        std::thread::spawn(move || {
                            for i in 0..per as usize {
                                let key = RequestKey::new().uri(&uris[i & 255]);
                                let g = be.try_acquire(&key, now).unwrap();
                                black_box(&g);
                            }
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().unwrap();
                }
                // Wall time for `iters` operations spread over two threads.
                start.elapsed()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, pick, pick_release_two_threads);
criterion_main!(benches);

//! Checks per second on one core, against 1000 in-memory servers.
//!
//! - `run/tcp` and `run/http`: 1000 checks run concurrently (one task each) per
//!   iteration, to servers on the in-memory network.
//! - `scheduler/tcp`: a [`Checker`] over a 1000-server backend with `inter 1s` under a
//!   paused clock; one iteration advances one interval and waits for the 1000 checks it
//!   fires: the scheduler's overhead (timers, wake-ups, state updates) included.
//!
//! Every runtime is current-thread, so elements/s is checks per second per core.
// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lb_core::{Address, Algorithm, Backend, BalanceConfig, ServerConfig};
use lb_health::{Check, CheckConfig, CheckContext, CheckStatus, Checker, HealthState, HttpCheck};
use lb_tcp::mem::MemNetwork;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

const SERVERS: usize = 1000;

fn runtime(paused: bool) -> Runtime {
    let mut b = tokio::runtime::Builder::new_current_thread();
    b.enable_all();
    if paused {
        b.start_paused(true);
    }
    b.build().expect("runtime")
}

/// 1000 servers: TCP ones accept and close, HTTP ones answer 200.
fn farm(rt: &Runtime, http: bool) -> (MemNetwork, Vec<Address>) {
    let net = MemNetwork::new();
    let mut addrs = Vec::with_capacity(SERVERS);
    rt.block_on(async {
        for i in 0..SERVERS {
            let name = format!("s{i}");
            let listener = net.bind(name.as_str()).expect("bind");
            addrs.push(format!("mem@{name}").parse().expect("address"));
            tokio::spawn(async move {
                while let Ok((mut s, _)) = listener.accept().await {
                    if http {
                        tokio::spawn(async move {
                            let mut buf = [0u8; 512];
                            let _ = s.read(&mut buf).await;
                            let _ = s
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                                .await;
                        });
                    }
                }
            });
        }
    });
    (net, addrs)
}

fn run_checks(c: &mut Criterion) {
    let mut group = c.benchmark_group("run");
    group.throughput(Throughput::Elements(SERVERS as u64));
    group.sample_size(20);
    for (name, http) in [("tcp", false), ("http", true)] {
        let rt = runtime(false);
        let (net, addrs) = farm(&rt, http);
        let addrs = Arc::new(addrs);
        let check = Arc::new(if http {
            Check::http(HttpCheck::new())
        } else {
            Check::tcp()
        });
        let connect = net.connector();
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut tasks = Vec::with_capacity(SERVERS);
                    for i in 0..SERVERS {
                        let (check, addrs, connect) =
                            (check.clone(), addrs.clone(), connect.clone());
                        tasks.push(tokio::spawn(async move {
                            check
                                .run(
                                    &connect,
                                    &addrs[i],
                                    Duration::from_secs(2),
                                    &CheckContext::default(),
                                )
                                .await
                                .status
                        }));
                    }
                    for t in tasks {
                        let status = t.await.expect("check task");
                        assert!(status.is_pass(), "{status}");
                    }
                })
            })
        });
    }
    group.finish();
}

fn scheduler(c: &mut Criterion) {
    let mut group = c.benchmark_group("scheduler");
    group.throughput(Throughput::Elements(SERVERS as u64));
    group.sample_size(20);
    let rt = runtime(true);
    let (net, _) = farm(&rt, false);
    let backend = Backend::new(
        "farm",
        BalanceConfig::new(Algorithm::RoundRobin),
        (0..SERVERS).map(|i| {
            ServerConfig::new(
                format!("s{i}"),
                format!("mem@s{i}").parse().expect("address"),
            )
        }),
    )
    .expect("backend");
    let inter = Duration::from_secs(1);
    let handle = rt.block_on(async {
        Checker::new(net.connector())
            .start(
                &backend,
                (0..SERVERS).map(|i| (format!("s{i}"), CheckConfig::tcp().inter(inter).fall(1))),
            )
            .expect("start")
    });
    let states: Vec<Arc<HealthState>> = handle.states();
    let total = |states: &[Arc<HealthState>]| states.iter().map(|s| s.checks()).sum::<u64>();
    group.bench_function("tcp", |b| {
        b.iter(|| {
            rt.block_on(async {
                let target = total(&states) + SERVERS as u64;
                tokio::time::sleep(inter).await;
                // Bounded: each yield lets the due checks progress.
                for _ in 0..100_000 {
                    if total(&states) >= target {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                assert!(total(&states) >= target, "checks did not complete");
            })
        })
    });
    assert!(states.iter().all(|s| s.status() == CheckStatus::L4Ok));
    drop(handle);
    group.finish();
}

criterion_group!(benches, run_checks, scheduler);
criterion_main!(benches);

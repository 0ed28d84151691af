use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;
use tower::{service_fn, Service, ServiceExt};

use super::*;
use crate::{Algorithm, BalanceConfig, NoServerAvailable, OpState, QueueTimeout, ServerConfig};

fn backend(algo: Algorithm, n: usize, maxconn: u32) -> Backend {
    Backend::new(
        "be",
        BalanceConfig::new(algo).queue_timeout(Duration::from_secs(2)),
        (1..=n).map(|i| {
            ServerConfig::new(format!("s{i}"), format!("mem@s{i}").parse().unwrap())
                .maxconn(maxconn)
        }),
    )
    .unwrap()
}

type Echo = tower::util::BoxCloneSyncService<String, String, Infallible>;

fn echo(server: &Arc<Server>) -> Echo {
    let name = server.name().to_owned();
    tower::util::BoxCloneSyncService::new(service_fn(move |req: String| {
        let name = name.clone();
        async move { Ok::<_, Infallible>(format!("{name}:{req}")) }
    }))
}

#[tokio::test]
async fn routes_to_the_picked_servers_endpoint() {
    let mut lb = Balance::new(backend(Algorithm::RoundRobin, 3, 0), echo, NoKey);
    let mut got = Vec::new();
    for i in 0..6 {
        got.push(
            lb.ready()
                .await
                .unwrap()
                .call(format!("r{i}"))
                .await
                .unwrap(),
        );
    }
    assert_eq!(got, ["s1:r0", "s2:r1", "s3:r2", "s1:r3", "s2:r4", "s3:r5"]);
}

#[tokio::test]
async fn endpoints_are_built_once_per_server() {
    let built = Arc::new(AtomicUsize::new(0));
    let b = built.clone();
    let new_endpoint = move |s: &Arc<Server>| {
        b.fetch_add(1, Ordering::Relaxed);
        echo(s)
    };
    let be = backend(Algorithm::RoundRobin, 2, 0);
    let mut lb = Balance::new(be.clone(), new_endpoint, NoKey);
    for _ in 0..10 {
        lb.ready().await.unwrap().call("x".into()).await.unwrap();
    }
    assert_eq!(built.load(Ordering::Relaxed), 2);
    // A server replaced under the same name gets a fresh endpoint.
    be.remove_server("s2", "t").unwrap();
    be.add_server(
        ServerConfig::new("s2", "mem@s2b".parse().unwrap()).id(2),
        "t",
    )
    .unwrap();
    for _ in 0..4 {
        lb.ready().await.unwrap().call("x".into()).await.unwrap();
    }
    assert_eq!(built.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn key_extraction_drives_hashing() {
    #[allow(clippy::ptr_arg)] // the request type is String
    fn key(req: &String) -> RequestKey<'_> {
        RequestKey::new().uri(req)
    }
    let be = backend(Algorithm::Uri(Default::default()), 4, 0);
    let mut lb = Balance::new(be, echo, key as for<'a> fn(&'a String) -> RequestKey<'a>);
    // balance-uri.vtc vectors through the service.
    for (uri, srv) in [
        ("/url1", "s2"),
        ("/url2", "s3"),
        ("/url3", "s4"),
        ("/url4", "s1"),
    ] {
        let r = lb.ready().await.unwrap().call(uri.into()).await.unwrap();
        assert_eq!(r, format!("{srv}:{uri}"));
    }
}

#[tokio::test]
async fn no_server_is_a_typed_error() {
    let be = backend(Algorithm::RoundRobin, 1, 0);
    be.set_op_state("s1", OpState::Down, "t").unwrap();
    let mut lb = Balance::new(be, echo, NoKey);
    let e = lb
        .ready()
        .await
        .unwrap()
        .call("x".into())
        .await
        .unwrap_err();
    let e = e.downcast_ref::<NoServerAvailable>().expect("typed error");
    assert_eq!(e.backend(), "be");
}

/// Holds the slot inside the response, released when the response is dropped (as a body
/// tracker does).
#[derive(Clone, Debug)]
struct KeepGuard;

impl TrackCompletion<InFlight, String> for KeepGuard {
    type Output = (String, InFlight);
    fn track_completion(&self, guard: InFlight, v: String) -> Self::Output {
        (v, guard)
    }
}

#[tokio::test(start_paused = true)]
async fn maxconn_queues_until_a_response_completes() {
    let be = backend(Algorithm::RoundRobin, 1, 1);
    let mut lb = Balance::new(be.clone(), echo, NoKey).with_completion(KeepGuard);
    let (first, guard) = lb.ready().await.unwrap().call("a".into()).await.unwrap();
    assert_eq!(first, "s1:a");
    assert_eq!(be.server("s1").unwrap().stats().inflight(), 1);
    let second = tokio::spawn(lb.ready().await.unwrap().call("b".into()));
    tokio::task::yield_now().await;
    assert_eq!(be.queued(), 1);
    assert!(!second.is_finished());
    drop(guard);
    let (r, g) = second.await.unwrap().unwrap();
    assert_eq!(r, "s1:b");
    drop(g);
    assert_eq!(be.server("s1").unwrap().stats().inflight(), 0);
    // And a request that waits too long gets QueueTimeout.
    let (_, g) = lb.ready().await.unwrap().call("c".into()).await.unwrap();
    let e = lb
        .ready()
        .await
        .unwrap()
        .call("d".into())
        .await
        .unwrap_err();
    assert!(e.is::<QueueTimeout>(), "{e}");
    drop(g);
}

#[tokio::test]
async fn slots_are_released_when_the_response_future_is_dropped() {
    let be = backend(Algorithm::LeastConn, 2, 0);
    let (tx, rx) = oneshot::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(Some(rx)));
    let new_endpoint = move |_: &Arc<Server>| {
        let rx = rx.clone();
        service_fn(move |_: ()| {
            let rx = rx.lock().unwrap().take();
            async move {
                if let Some(rx) = rx {
                    let _ = rx.await;
                }
                Ok::<_, Infallible>(())
            }
        })
    };
    let mut lb = Balance::new(be.clone(), new_endpoint, NoKey);
    let fut = lb.ready().await.unwrap().call(());
    let pending = tokio::spawn(fut);
    tokio::task::yield_now().await;
    assert_eq!(be.stats().inflight(), 1);
    pending.abort();
    let _ = pending.await;
    assert_eq!(be.stats().inflight(), 0);
    drop(tx);
}

#[tokio::test]
async fn endpoint_errors_pass_through_and_release() {
    let be = backend(Algorithm::RoundRobin, 1, 0);
    let failing = |_: &Arc<Server>| {
        service_fn(|_: ()| async { Err::<(), _>(std::io::Error::other("refused")) })
    };
    let mut lb = Balance::new(be.clone(), failing, NoKey);
    let e = lb.ready().await.unwrap().call(()).await.unwrap_err();
    assert_eq!(e.to_string(), "refused");
    assert_eq!(be.stats().inflight(), 0);
}

#[tokio::test]
async fn layer_builds_the_service() {
    use tower::Layer;
    let layer = BalanceLayer::new(backend(Algorithm::StaticRr, 2, 0), NoKey);
    let mut lb = layer.layer(echo);
    assert_eq!(
        lb.ready().await.unwrap().call("z".into()).await.unwrap(),
        "s1:z"
    );
}

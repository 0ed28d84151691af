//! The balancing tower [`Service`]: route each request to the endpoint of a picked server.
//!
//! [`Balance`] extracts a [`RequestKey`] from the request ([`ExtractKey`]), takes a slot on a
//! server through [`Backend::admit`] (which queues while every server is at maxconn), and
//! calls that server's endpoint service. Endpoints come from a [`NewEndpoint`] factory and
//! are cached per server, so tests use plain `service_fn` endpoints and no sockets. The
//! slot ([`InFlight`]) is released when the response completes, as decided by a
//! [`TrackCompletion`] policy: at once by default ([`CompleteOnResponse`]), or when a
//! streamed body ends (lb-http attaches it to the body).
//!
//! ```
//! use std::sync::Arc;
//! use lb_core::{Algorithm, Backend, BalanceConfig, Balance, NoKey, Server, ServerConfig};
//! use tower::{service_fn, Service, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let backend = Backend::new(
//!     "app",
//!     BalanceConfig::new(Algorithm::RoundRobin),
//!     ["a", "b"].map(|n| ServerConfig::new(n, format!("mem@{n}").parse().unwrap())),
//! )
//! .unwrap();
//! // Each server's endpoint answers with its name.
//! let new_endpoint = |server: &Arc<Server>| {
//!     let name = server.name().to_owned();
//!     service_fn(move |req: &'static str| {
//!         let name = name.clone();
//!         async move { Ok::<_, std::convert::Infallible>(format!("{name}: {req}")) }
//!     })
//! };
//! let mut lb = Balance::new(backend, new_endpoint, NoKey);
//! assert_eq!(lb.ready().await.unwrap().call("hi").await.unwrap(), "a: hi");
//! assert_eq!(lb.ready().await.unwrap().call("hi").await.unwrap(), "b: hi");
//! # });
//! ```

mod layer;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower::load::{CompleteOnResponse, TrackCompletion};
use tower::{Service, ServiceExt};

pub use layer::BalanceLayer;

use crate::backend::{Backend, InFlight};
use crate::select::RequestKey;
use crate::server::{Server, ServerId};
use crate::BoxError;

/// Builds the endpoint service of a server (synchronously: connecting happens inside the
/// endpoint when it is called, so a factory is cheap).
pub trait NewEndpoint {
    /// The endpoint service.
    type Service;

    /// The endpoint for `server`.
    fn new_endpoint(&self, server: &Arc<Server>) -> Self::Service;
}

impl<F, S> NewEndpoint for F
where
    F: Fn(&Arc<Server>) -> S,
{
    type Service = S;

    fn new_endpoint(&self, server: &Arc<Server>) -> S {
        self(server)
    }
}

/// Extracts the balancing key material from a request.
pub trait ExtractKey<Req> {
    /// The key of `req`; it borrows from the request.
    fn extract<'a>(&self, req: &'a Req) -> RequestKey<'a>;
}

/// No key material: for round robin, leastconn, first and random.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoKey;

impl<Req> ExtractKey<Req> for NoKey {
    fn extract<'a>(&self, _: &'a Req) -> RequestKey<'a> {
        RequestKey::default()
    }
}

impl<Req> ExtractKey<Req> for for<'a> fn(&'a Req) -> RequestKey<'a> {
    fn extract<'a>(&self, req: &'a Req) -> RequestKey<'a> {
        self(req)
    }
}

/// Routes each request to the endpoint of the server the backend picks.
///
/// Always ready: backpressure comes from the backend queue (maxconn, maxqueue, timeout
/// queue), which the response future waits in. Errors are boxed; downcast to
/// [`NoServerAvailable`](crate::NoServerAvailable), [`QueueFull`](crate::QueueFull) or
/// [`QueueTimeout`](crate::QueueTimeout) to answer them (HTTP: 503).
pub struct Balance<N: NewEndpoint, K, C = CompleteOnResponse> {
    backend: Backend,
    new_endpoint: N,
    key: K,
    completion: C,
    endpoints: HashMap<ServerId, (Arc<Server>, N::Service)>,
    generation: u64,
}

impl<N: NewEndpoint, K: fmt::Debug, C> fmt::Debug for Balance<N, K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Balance")
            .field("backend", &self.backend)
            .field("new_endpoint", &std::any::type_name::<N>())
            .field("key", &self.key)
            .field("endpoints", &self.endpoints.len())
            .finish()
    }
}

impl<N, K, C> Clone for Balance<N, K, C>
where
    N: NewEndpoint + Clone,
    N::Service: Clone,
    K: Clone,
    C: Clone,
{
    fn clone(&self) -> Self {
        Balance {
            backend: self.backend.clone(),
            new_endpoint: self.new_endpoint.clone(),
            key: self.key.clone(),
            completion: self.completion.clone(),
            endpoints: self.endpoints.clone(),
            generation: self.generation,
        }
    }
}

impl<N: NewEndpoint, K> Balance<N, K, CompleteOnResponse> {
    /// A balancer over `backend`, building endpoints with `new_endpoint` and keys with
    /// `key`; slots are released when the response future resolves.
    pub fn new(backend: Backend, new_endpoint: N, key: K) -> Self {
        Balance {
            backend,
            new_endpoint,
            key,
            completion: CompleteOnResponse::default(),
            endpoints: HashMap::new(),
            generation: 0,
        }
    }
}

impl<N: NewEndpoint, K, C> Balance<N, K, C> {
    /// Uses `completion` to attach the slot to the response (for example to its body).
    pub fn with_completion<C2>(self, completion: C2) -> Balance<N, K, C2> {
        Balance {
            backend: self.backend,
            new_endpoint: self.new_endpoint,
            key: self.key,
            completion,
            endpoints: self.endpoints,
            generation: self.generation,
        }
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    fn endpoint(&mut self, server: &Arc<Server>) -> N::Service
    where
        N::Service: Clone,
    {
        let generation = self.backend.snapshot().generation();
        if generation != self.generation {
            // Forget endpoints of servers that left (or were replaced under the same id).
            let snap = self.backend.snapshot();
            self.endpoints.retain(|id, (s, _)| {
                snap.server_by_id(*id)
                    .is_some_and(|cur| Arc::ptr_eq(cur, s))
            });
            self.generation = generation;
        }
        match self.endpoints.get(&server.id()) {
            Some((s, svc)) if Arc::ptr_eq(s, server) => svc.clone(),
            _ => {
                let svc = self.new_endpoint.new_endpoint(server);
                self.endpoints
                    .insert(server.id(), (server.clone(), svc.clone()));
                svc
            }
        }
    }
}

impl<N, K, C, Req> Service<Req> for Balance<N, K, C>
where
    Req: Send + 'static,
    K: ExtractKey<Req>,
    N: NewEndpoint + Clone + Send + 'static,
    N::Service: Service<Req> + Clone + Send + 'static,
    <N::Service as Service<Req>>::Error: Into<BoxError>,
    <N::Service as Service<Req>>::Future: Send,
    C: TrackCompletion<InFlight, <N::Service as Service<Req>>::Response> + Clone + Send + 'static,
{
    type Response = C::Output;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Output, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let admit = {
            let key = self.key.extract(&req);
            self.backend.admit(&key, Instant::now())
        };
        let new_endpoint = self.new_endpoint.clone();
        let completion = self.completion.clone();
        let cached = admit.server().cloned().map(|s| self.endpoint(&s));
        Box::pin(async move {
            let guard = admit.await?;
            let svc = match cached {
                Some(svc) => svc,
                None => new_endpoint.new_endpoint(guard.server()),
            };
            let resp = svc.oneshot(req).await.map_err(Into::into)?;
            Ok(completion.track_completion(guard, resp))
        })
    }
}

#[cfg(test)]
mod tests;

//! Serving an HTTP frontend on lb-tcp listeners: the accept loop (maxconn, graceful
//! shutdown) from lb-tcp, each connection served by [`serve_connection`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use http::{Request, Response};
use hyper::body::Incoming;
use lb_core::BoxError;
use lb_tcp::listen::{Acceptor, ServeReport, ShutdownSignal};
use lb_tcp::net::{Peer, Stream};
use tower::Service;

use crate::body::ProxyBody;
use crate::server::{serve_connection, ConnInfo, FrontendConfig, NewConnService};

/// A connection handler for [`Acceptor::serve`]: serves HTTP on each accepted stream with
/// `service`, until the connection ends or `shutdown` fires (then gracefully).
pub fn http_handler<M, S>(
    cfg: Arc<FrontendConfig>,
    make: M,
    shutdown: ShutdownSignal,
) -> impl Service<(Stream, Peer), Response = (), Error = BoxError, Future = ConnFuture>
       + Clone
       + Send
       + 'static
where
    M: NewConnService<Service = S> + Clone + Send + Sync + 'static,
    S: Service<Request<Incoming>, Response = Response<ProxyBody>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    tower::service_fn(move |(io, peer): (Stream, Peer)| {
        let cfg = cfg.clone();
        let make = make.clone();
        let shutdown = shutdown.clone();
        Box::pin(async move {
            let info = ConnInfo {
                client: peer.socket_addr(),
                local: peer.local_socket_addr(),
                frontend: cfg.name.clone(),
                accepted: SystemTime::now(),
                tls: false,
                ssl_version: None,
                ssl_cipher: None,
            };
            let stop = async move {
                shutdown.triggered().await;
            };
            if let Err(e) = serve_connection(io, info, &cfg, &make, stop).await {
                tracing::debug!(frontend = %cfg.name, error = %e, "client connection ended with an error");
            }
            Ok::<(), BoxError>(())
        }) as ConnFuture
    })
}

/// The future of one served connection.
pub type ConnFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// Serves `service` as HTTP frontend `cfg` on `acceptor`'s listeners until `shutdown`.
///
/// # Examples
/// ```no_run
/// use std::sync::Arc;
/// use lb_core::{Algorithm, Backend, BalanceConfig, ServerConfig};
/// use lb_http::client::{PoolConfig, Pools};
/// use lb_http::proxy::{HttpProxy, ProxyConfig};
/// use lb_http::server::FrontendConfig;
/// use lb_tcp::connect::TcpConnect;
/// use lb_tcp::listen::{Acceptor, BindSpec, Shutdown};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = Backend::new("app", BalanceConfig::new(Algorithm::RoundRobin),
///     [ServerConfig::new("a", "127.0.0.1:9001".parse()?)])?;
/// let pools = Arc::new(Pools::new(TcpConnect::new(), PoolConfig::default()));
/// let proxy = HttpProxy::new(backend, pools, ProxyConfig::default());
/// let acceptor = Acceptor::new("web", BindSpec::parse("127.0.0.1:8080")?.bind()?);
/// let shutdown = Shutdown::new();
/// lb_http::serve(acceptor, FrontendConfig::new("web"), proxy, shutdown.signal()).await;
/// # Ok(()) }
/// ```
pub async fn serve<M, S>(
    acceptor: Acceptor,
    cfg: FrontendConfig,
    make: M,
    shutdown: ShutdownSignal,
) -> ServeReport
where
    M: NewConnService<Service = S> + Clone + Send + Sync + 'static,
    S: Service<Request<Incoming>, Response = Response<ProxyBody>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let handler = http_handler(Arc::new(cfg), make, shutdown.clone());
    acceptor.serve(handler, shutdown).await
}

//! [`TlsAccept`]: TLS termination as a middleware over an accept-loop handler.

use std::task::{Context, Poll};

use lb_tcp::net::Peer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tower::{BoxError, Layer, Service, ServiceExt};

use super::{AcceptFuture, TlsAcceptor};

/// Runs the TLS handshake on each accepted `(IO, Peer)`, then hands `(TlsStream<IO>, Peer)`
/// to the inner handler (which reads [`TlsInfo::of`](super::TlsInfo::of) when it needs the
/// facts). A failed handshake is logged by [`TlsAcceptor::accept`] and returned as the
/// error; the inner handler never sees that connection.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use lb_tcp::net::{Peer, Stream};
/// use lb_tls::{CertStore, TlsAccept, TlsAcceptor};
/// use tokio_rustls::server::TlsStream;
///
/// let acceptor = TlsAcceptor::builder(Arc::new(CertStore::new())).build()?;
/// let handler = tower::service_fn(|(_tls, _peer): (TlsStream<Stream>, Peer)| async {
///     Ok::<_, std::io::Error>(())
/// });
/// let svc = TlsAccept::new(handler, acceptor);
/// fn assert_service<S: tower::Service<(Stream, Peer)>>(_: &S) {}
/// assert_service(&svc);
/// # Ok::<(), lb_tls::TlsError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TlsAccept<S> {
    inner: S,
    acceptor: TlsAcceptor,
}

impl<S> TlsAccept<S> {
    /// Wraps `inner`.
    pub const fn new(inner: S, acceptor: TlsAcceptor) -> Self {
        Self { inner, acceptor }
    }

    /// The inner handler.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner handler, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner handler.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl TlsAccept<()> {
    /// A layer that wraps handlers with `acceptor`.
    pub fn layer(acceptor: TlsAcceptor) -> TlsAcceptLayer {
        TlsAcceptLayer::new(acceptor)
    }
}

impl<S, IO> Service<(IO, Peer)> for TlsAccept<S>
where
    S: Service<(TlsStream<IO>, Peer)> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, (io, peer): (IO, Peer)) -> Self::Future {
        // The ready inner service is taken for this call; a clone stays for the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let handshake: AcceptFuture<IO> = {
            let acceptor = self.acceptor.clone();
            Box::pin(async move { acceptor.accept(io).await })
        };
        Box::pin(async move {
            let tls = handshake.await?;
            inner.oneshot((tls, peer)).await.map_err(Into::into)
        })
    }
}

/// Wraps handlers in [`TlsAccept`].
#[derive(Clone, Debug)]
pub struct TlsAcceptLayer {
    acceptor: TlsAcceptor,
}

impl TlsAcceptLayer {
    /// A layer with `acceptor`.
    pub const fn new(acceptor: TlsAcceptor) -> Self {
        Self { acceptor }
    }
}

impl<S> Layer<S> for TlsAcceptLayer {
    type Service = TlsAccept<S>;

    fn layer(&self, inner: S) -> TlsAccept<S> {
        TlsAccept::new(inner, self.acceptor.clone())
    }
}

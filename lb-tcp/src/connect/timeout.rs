//! [`ConnectTimeout`]: fails a connect that takes too long with `io::ErrorKind::TimedOut`
//! (HAProxy's `timeout connect`).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use lb_core::Address;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::{Layer, Service};

/// The error inside the `io::Error` (kind `TimedOut`) of a connect that timed out; reach it
/// with `err.get_ref().and_then(|e| e.downcast_ref::<ConnectTimedOut>())`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTimedOut {
    addr: Address,
    after: Duration,
}

impl ConnectTimedOut {
    /// The address being connected to.
    pub fn addr(&self) -> &Address {
        &self.addr
    }

    /// The timeout that expired.
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connect to {} timed out after {:?} (timeout connect)",
            self.addr, self.after
        )
    }
}

impl std::error::Error for ConnectTimedOut {}

/// The `TimedOut` error for a connect to `addr` that took longer than `after`.
pub(crate) fn timed_out(addr: Address, after: Duration) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, ConnectTimedOut { addr, after })
}

/// Bounds the time a connector may take; see the [module docs](self).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use lb_tcp::connect::ConnectTimeout;
/// use lb_tcp::mem::{Faults, MemNetwork};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let net = MemNetwork::new();
/// let _l = net.bind("slow").unwrap();
/// net.set_faults("slow", Faults::new().blackhole());
/// let connect = ConnectTimeout::new(net.connector(), Duration::from_secs(2));
/// let err = connect.oneshot("mem@slow".parse().unwrap()).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ConnectTimeout<C> {
    inner: C,
    after: Duration,
}

impl<C> ConnectTimeout<C> {
    /// Wraps `inner`, failing connects that take longer than `after`.
    pub const fn new(inner: C, after: Duration) -> Self {
        Self { inner, after }
    }

    /// A layer that wraps connectors with this timeout.
    pub const fn layer(after: Duration) -> ConnectTimeoutLayer {
        ConnectTimeoutLayer::new(after)
    }

    /// The inner connector.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The inner connector, mutably.
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// The inner connector.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C> Service<Address> for ConnectTimeout<C>
where
    C: Service<Address, Error = io::Error>,
{
    type Response = C::Response;
    type Error = io::Error;
    type Future = ResponseFuture<C::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, addr: Address) -> Self::Future {
        ResponseFuture {
            addr: Some(addr.clone()),
            after: self.after,
            inner: self.inner.call(addr),
            sleep: tokio::time::sleep(self.after),
        }
    }
}

/// Wraps connectors in [`ConnectTimeout`].
#[derive(Clone, Copy, Debug)]
pub struct ConnectTimeoutLayer {
    after: Duration,
}

impl ConnectTimeoutLayer {
    /// A layer failing connects that take longer than `after`.
    pub const fn new(after: Duration) -> Self {
        Self { after }
    }
}

impl<C> Layer<C> for ConnectTimeoutLayer {
    type Service = ConnectTimeout<C>;

    fn layer(&self, inner: C) -> ConnectTimeout<C> {
        ConnectTimeout::new(inner, self.after)
    }
}

pin_project! {
    /// Response future of [`ConnectTimeout`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        addr: Option<Address>,
        after: Duration,
    }
}

impl<F, T> Future for ResponseFuture<F>
where
    F: Future<Output = io::Result<T>>,
{
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(r) = this.inner.poll(cx) {
            return Poll::Ready(r);
        }
        if this.sleep.poll(cx).is_pending() {
            return Poll::Pending;
        }
        let addr = this.addr.take().unwrap_or_else(|| Address::Mem("?".into()));
        Poll::Ready(Err(timed_out(addr, *this.after)))
    }
}

//! [`ProxyBody`]: the one body type of the proxy, for requests and responses alike.
//!
//! It streams a hyper body (never buffered whole), or carries a small generated one, and
//! counts the bytes that pass. An optional completion hook runs exactly once, when the body
//! ends (`eos = true`) or fails or is dropped early (`eos = false`): it releases the server
//! slot, returns a pooled connection only after a clean end, and writes the access log.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use std::sync::Arc;

use crate::client::h1::H1Body;
use crate::server::ConnState;

use lb_core::BoxError;

/// How a body ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyEnd {
    /// True when the whole body was read; false on error or when dropped early.
    pub eos: bool,
    /// Data bytes that passed.
    pub bytes: u64,
}

/// Runs once when a [`ProxyBody`] ends.
pub trait OnComplete: Send + 'static {
    /// Called with how the body ended.
    fn complete(self: Box<Self>, end: BodyEnd);
}

impl<F: FnOnce(BodyEnd) + Send + 'static> OnComplete for F {
    fn complete(self: Box<Self>, end: BodyEnd) {
        (*self)(end)
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind {
        Empty,
        Full { data: Option<Bytes> },
        Incoming { #[pin] body: Incoming },
        H1 { body: H1Body },
        Boxed { #[pin] body: http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError> },
    }
}

pin_project! {
    /// A streamed or generated body with byte counting and a completion hook.
    pub struct ProxyBody {
        #[pin]
        kind: Kind,
        bytes: u64,
        done: Option<Box<dyn OnComplete>>,
        conn: Option<Arc<ConnState>>,
    }

    impl PinnedDrop for ProxyBody {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(conn) = this.conn.take() {
                conn.request_finished(*this.bytes);
            }
            if let Some(done) = this.done.take() {
                // hyper stops polling once a body reports its end (a Content-Length body
                // after its last byte): that is a clean end too.
                let eos = kind_is_end(&this.kind);
                done.complete(BodyEnd { eos, bytes: *this.bytes });
            }
        }
    }
}

fn kind_is_end(kind: &Pin<&mut Kind>) -> bool {
    match &**kind {
        Kind::Empty => true,
        Kind::Full { data } => data.is_none(),
        Kind::Incoming { body } => body.is_end_stream(),
        Kind::H1 { body } => body.is_end_stream(),
        Kind::Boxed { body } => body.is_end_stream(),
    }
}

impl fmt::Debug for ProxyBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "empty",
            Kind::Full { .. } => "full",
            Kind::Incoming { .. } => "incoming",
            Kind::H1 { .. } => "h1",
            Kind::Boxed { .. } => "boxed",
        };
        f.debug_struct("ProxyBody")
            .field("kind", &kind)
            .field("bytes", &self.bytes)
            .field("hooked", &self.done.is_some())
            .finish()
    }
}

impl Default for ProxyBody {
    fn default() -> Self {
        ProxyBody::empty()
    }
}

impl ProxyBody {
    fn with(kind: Kind) -> Self {
        ProxyBody {
            kind,
            bytes: 0,
            done: None,
            conn: None,
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        ProxyBody::with(Kind::Empty)
    }

    /// A body of one chunk.
    pub fn full(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        ProxyBody::with(Kind::Full {
            data: (!data.is_empty()).then_some(data),
        })
    }

    /// Streams a hyper body.
    pub fn incoming(body: Incoming) -> Self {
        ProxyBody::with(Kind::Incoming { body })
    }

    /// Streams a response body from a pooled HTTP/1 server connection.
    pub(crate) fn h1(body: H1Body) -> Self {
        ProxyBody::with(Kind::H1 { body })
    }

    /// Streams any body.
    pub fn boxed<B>(body: B) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        use http_body_util::BodyExt;
        ProxyBody::with(Kind::Boxed {
            body: body.map_err(Into::into).boxed_unsync(),
        })
    }

    /// Adds a completion hook, run after any hook already set.
    pub fn on_complete(mut self, hook: impl OnComplete) -> Self {
        self.done = Some(match self.done.take() {
            None => Box::new(hook),
            Some(prev) => Box::new(move |end: BodyEnd| {
                prev.complete(end);
                Box::new(hook).complete(end);
            }),
        });
        self
    }

    /// Marks the end of this response on its client connection's state (no allocation:
    /// the frontend uses it for every response).
    pub(crate) fn finish_on(mut self, conn: Arc<ConnState>) -> Self {
        self.conn = Some(conn);
        self
    }

    /// Bytes of data that passed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let r = match this.kind.project() {
            KindProj::Empty => None,
            KindProj::Full { data } => data.take().map(|d| Ok(Frame::data(d))),
            KindProj::Incoming { body } => {
                ready!(body.poll_frame(cx)).map(|r| r.map_err(Into::into))
            }
            KindProj::H1 { body } => ready!(Pin::new(body).poll_frame(cx)),
            KindProj::Boxed { body } => ready!(body.poll_frame(cx)),
        };
        match &r {
            Some(Ok(frame)) => {
                if let Some(d) = frame.data_ref() {
                    *this.bytes += d.len() as u64;
                }
            }
            Some(Err(_)) => {
                if let Some(done) = this.done.take() {
                    done.complete(BodyEnd {
                        eos: false,
                        bytes: *this.bytes,
                    });
                }
            }
            None => {
                if let Some(done) = this.done.take() {
                    done.complete(BodyEnd {
                        eos: true,
                        bytes: *this.bytes,
                    });
                }
            }
        }
        Poll::Ready(r)
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full { data } => data.is_none(),
            Kind::Incoming { body } => body.is_end_stream(),
            Kind::H1 { body } => body.is_end_stream(),
            Kind::Boxed { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Incoming { body } => body.size_hint(),
            Kind::H1 { body } => body.size_hint(),
            Kind::Boxed { body } => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::{Arc, Mutex};

    fn hook() -> (Arc<Mutex<Vec<BodyEnd>>>, impl OnComplete) {
        let ends = Arc::new(Mutex::new(Vec::new()));
        let e = ends.clone();
        (ends, move |end: BodyEnd| e.lock().unwrap().push(end))
    }

    #[tokio::test]
    async fn completion_runs_once_at_end_of_stream() {
        let (ends, h) = hook();
        let body = ProxyBody::full("hello").on_complete(h);
        let data = body.collect().await.unwrap().to_bytes();
        assert_eq!(&data[..], b"hello");
        assert_eq!(
            *ends.lock().unwrap(),
            vec![BodyEnd {
                eos: true,
                bytes: 5
            }]
        );
    }

    /// A body yielding the given chunks.
    struct Chunks(std::collections::VecDeque<&'static [u8]>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|c| Ok(Frame::data(Bytes::from_static(c)))),
            )
        }
    }

    #[tokio::test]
    async fn dropping_early_reports_an_unclean_end() {
        let (ends, h) = hook();
        let chunks = Chunks([&b"abc"[..], b"defg"].into_iter().collect());
        let mut body = ProxyBody::boxed(chunks).on_complete(h);
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.data_ref().unwrap().len(), 3);
        drop(body);
        assert_eq!(
            *ends.lock().unwrap(),
            vec![BodyEnd {
                eos: false,
                bytes: 3
            }]
        );
    }

    #[tokio::test]
    async fn hooks_chain_in_order() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let (a, b) = (order.clone(), order.clone());
        let body = ProxyBody::empty()
            .on_complete(move |_: BodyEnd| a.lock().unwrap().push(1))
            .on_complete(move |_: BodyEnd| b.lock().unwrap().push(2));
        body.collect().await.unwrap();
        assert_eq!(*order.lock().unwrap(), vec![1, 2]);
    }
}

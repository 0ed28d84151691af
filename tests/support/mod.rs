//! Shared helpers for the integration tests: origins, a proxy harness, clients.
#![allow(dead_code, missing_docs, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};

/// Logs to the test writer when RUST_LOG is set.
pub fn trace_init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .with_test_writer()
        .try_init();
}

/// FNV-1a, 64 bits: compares large bodies without keeping them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// Deterministic pseudo-random bytes: chunk `i` of a body of `len` bytes.
pub fn pattern(len: usize) -> impl Iterator<Item = Bytes> {
    const CHUNK: usize = 64 * 1024;
    let mut x: u32 = 0x1234_5678;
    (0..len.div_ceil(CHUNK)).map(move |i| {
        let n = CHUNK.min(len - i * CHUNK);
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            v.push(x as u8);
        }
        Bytes::from(v)
    })
}

pub fn pattern_hash(len: usize) -> Fnv {
    let mut h = Fnv::default();
    for c in pattern(len) {
        h.update(&c);
    }
    h
}

/// A body streaming chunks from an iterator, with optional trailers.
pub struct IterBody {
    chunks: Box<dyn Iterator<Item = Bytes> + Send>,
    trailers: Option<http::HeaderMap>,
}

impl IterBody {
    pub fn new(chunks: impl Iterator<Item = Bytes> + Send + 'static) -> Self {
        IterBody {
            chunks: Box::new(chunks),
            trailers: None,
        }
    }

    pub fn with_trailers(mut self, t: http::HeaderMap) -> Self {
        self.trailers = Some(t);
        self
    }
}

impl http_body::Body for IterBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(c) = self.chunks.next() {
            return Poll::Ready(Some(Ok(Frame::data(c))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }
}

/// An origin server on 127.0.0.1 speaking HTTP/1.1 and HTTP/2 (prior knowledge).
pub struct Origin {
    pub addr: SocketAddr,
    pub name: String,
    /// TCP connections accepted.
    pub conns: Arc<AtomicUsize>,
    /// Requests served.
    pub requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Origin {
    pub fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

type OriginBody =
    http_body_util::combinators::UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

fn boxed<B>(b: B) -> OriginBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    b.map_err(Into::into).boxed_unsync()
}

/// A body that sends `n` bytes then fails (the connection is aborted mid-response).
struct Broken(usize);

impl http_body::Body for Broken {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.0 > 0 {
            let n = self.0;
            self.0 = 0;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; n])))))
        } else {
            Poll::Ready(Some(Err(std::io::Error::other("origin aborts"))))
        }
    }
}

async fn handle(
    name: Arc<str>,
    mut req: Request<Incoming>,
) -> Result<Response<OriginBody>, Infallible> {
    let path = req.uri().path().to_owned();
    let mut resp = match path.as_str() {
        "/echo" => Response::new(boxed(req.into_body())),
        "/hash" => {
            let mut h = Fnv::default();
            let mut len = 0u64;
            let mut body = req.into_body();
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(d) = frame.data_ref() {
                    h.update(d);
                    len += d.len() as u64;
                }
            }
            Response::new(boxed(Full::new(Bytes::from(format!("{len}:{:016x}", h.0)))))
        }
        "/trailers" => {
            let mut t = http::HeaderMap::new();
            t.insert("x-checksum", "abc123".parse().unwrap());
            let mut r = Response::new(boxed(
                IterBody::new([Bytes::from_static(b"body")].into_iter()).with_trailers(t),
            ));
            r.headers_mut()
                .insert("trailer", "x-checksum".parse().unwrap());
            r
        }
        "/ws" => {
            let on = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(up) = on.await {
                    let mut io = TokioIo::new(up);
                    let (mut r, mut w) = tokio::io::split(&mut io);
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                }
            });
            let mut r = Response::new(boxed(http_body_util::Empty::new()));
            *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            r.headers_mut()
                .insert("upgrade", "websocket".parse().unwrap());
            r.headers_mut()
                .insert("connection", "upgrade".parse().unwrap());
            return Ok(r);
        }
        "/reset" => {
            let mut r = Response::new(boxed(Broken(100)));
            r.headers_mut()
                .insert("content-length", "100000".parse().unwrap());
            r
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Response::new(boxed(Full::new(Bytes::from_static(b"slow"))))
        }
        p if p.starts_with("/size/") => {
            let n: usize = p[6..].parse().unwrap_or(0);
            let chunked = req.uri().query() == Some("chunked");
            let mut r = Response::new(boxed(IterBody::new(pattern(n))));
            if !chunked {
                r.headers_mut().insert("content-length", n.into());
            }
            r
        }
        _ => {
            let mut r = Response::new(boxed(Full::new(Bytes::from(format!("hello from {name}")))));
            r.headers_mut()
                .insert("content-type", "text/plain".parse().unwrap());
            r
        }
    };
    resp.headers_mut().insert("x-origin", name.parse().unwrap());
    Ok(resp)
}

/// Starts an origin named `name`.
pub async fn origin(name: &str) -> Origin {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let name_arc: Arc<str> = name.into();
    let (c, r) = (conns.clone(), requests.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let name = name_arc.clone();
            let r = r.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    r.fetch_add(1, Ordering::SeqCst);
                    let version = req.version();
                    let name = name.clone();
                    async move {
                        let mut resp = handle(name, req).await?;
                        resp.headers_mut()
                            .insert("x-seen-version", format!("{version:?}").parse().unwrap());
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Origin {
        addr,
        name: name.to_owned(),
        conns,
        requests,
        task,
    }
}

/// An HTTP/1.1 client connection.
pub async fn h1(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let io = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    send
}

/// An HTTP/2 (prior knowledge) client connection.
pub async fn h2(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let io = TcpStream::connect(addr).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .unwrap();
    tokio::spawn(conn);
    send
}

pub fn get(uri: &str) -> Request<Full<Bytes>> {
    Request::get(uri).body(Full::default()).unwrap()
}

pub async fn body_string(resp: Response<Incoming>) -> String {
    let b = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&b).into_owned()
}

/// Bounded wait for a condition.
pub async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

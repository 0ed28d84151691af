//! Fake servers on the in-memory network, written from the protocols' bytes.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lb_core::{Algorithm, Backend, BalanceConfig, EventKind, OpState, ServerConfig, ServerEvent};
use lb_tcp::mem::{MemNetwork, MemStream};
use lb_tcp::net::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Serves every connection to `mem@name` with `handler`.
pub(crate) fn serve<F, Fut>(net: &MemNetwork, name: &str, handler: F) -> JoinHandle<()>
where
    F: Fn(Stream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = net.bind(name).expect("bind");
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let h = handler.clone();
            tokio::spawn(async move { h(stream).await });
        }
    })
}

/// Reads until `end` is seen (or EOF, or 64 KiB); returns what was read.
pub(crate) async fn read_until(s: &mut Stream, end: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while buf.len() < 65536 {
        if buf.windows(end.len()).any(|w| w == end) {
            break;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf
}

/// An HTTP server answering every request with `response`; requests are recorded.
pub(crate) fn http_server(
    net: &MemNetwork,
    name: &str,
    response: &'static str,
) -> (JoinHandle<()>, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let task = serve(net, name, move |mut s| {
        let l = l.clone();
        async move {
            let req = read_until(&mut s, b"\r\n\r\n").await;
            l.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&req).into_owned());
            let _ = s.write_all(response.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    (task, log)
}

/// A server that sends `greeting` at once, then answers each read with the next reply
/// (if any), recording what it received.
pub(crate) fn scripted_server(
    net: &MemNetwork,
    name: &str,
    greeting: Vec<u8>,
    replies: Vec<Vec<u8>>,
) -> Arc<Mutex<Vec<Vec<u8>>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    serve(net, name, move |mut s| {
        let (greeting, replies, l) = (greeting.clone(), replies.clone(), l.clone());
        async move {
            if !greeting.is_empty() && s.write_all(&greeting).await.is_err() {
                return;
            }
            let mut buf = [0u8; 4096];
            for reply in replies {
                let n = match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                l.lock().unwrap().push(buf[..n].to_vec());
                if s.write_all(&reply).await.is_err() {
                    return;
                }
            }
            // Keep reading until the client goes away, recording the rest.
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => l.lock().unwrap().push(buf[..n].to_vec()),
                }
            }
        }
    });
    log
}

/// A server that accepts and never says anything.
pub(crate) fn silent_server(net: &MemNetwork, name: &str) -> JoinHandle<()> {
    serve(net, name, |mut s| async move {
        let mut buf = [0u8; 1024];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
}

/// A round-robin backend of `mem@<name>` servers.
pub(crate) fn backend(name: &str, servers: &[&str]) -> Backend {
    backend_with(
        name,
        Algorithm::RoundRobin,
        servers.iter().map(|s| server(s)),
    )
}

/// A server config at `mem@<name>`.
pub(crate) fn server(name: &str) -> ServerConfig {
    ServerConfig::new(name, format!("mem@{name}").parse().unwrap())
}

/// A backend of these servers.
pub(crate) fn backend_with(
    name: &str,
    algorithm: Algorithm,
    servers: impl IntoIterator<Item = ServerConfig>,
) -> Backend {
    Backend::new(name, BalanceConfig::new(algorithm), servers).unwrap()
}

/// Operational-state events received so far, with the time they were seen.
pub(crate) fn op_events(
    rx: &mut broadcast::Receiver<ServerEvent>,
) -> Vec<(OpState, OpState, String)> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let EventKind::Op { from, to } = ev.kind {
            out.push((from, to, ev.reason.to_string()));
        }
    }
    out
}

/// Sleeps until `t0 + secs` (paused clock: instant).
pub(crate) async fn at(t0: Instant, secs: f64) {
    tokio::time::sleep_until(t0 + Duration::from_secs_f64(secs)).await;
}

/// A connector whose connects succeed or fail by a script: `true` connects (to a fresh
/// in-memory pair whose far end is dropped), `false` is refused. Repeats the last entry.
#[derive(Clone)]
pub(crate) struct ScriptedConnect {
    pub(crate) plan: Arc<Mutex<(Vec<bool>, usize)>>,
    pub(crate) log: Arc<Mutex<Vec<(lb_core::Address, Instant)>>>,
}

impl ScriptedConnect {
    pub(crate) fn new(plan: Vec<bool>) -> Self {
        ScriptedConnect {
            plan: Arc::new(Mutex::new((plan, 0))),
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub(crate) fn attempts(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

impl tower::Service<lb_core::Address> for ScriptedConnect {
    type Response = MemStream;
    type Error = io::Error;
    type Future = std::future::Ready<io::Result<MemStream>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, addr: lb_core::Address) -> Self::Future {
        self.log.lock().unwrap().push((addr, Instant::now()));
        let mut plan = self.plan.lock().unwrap();
        let (steps, i) = &mut *plan;
        let ok = steps.get(*i).or(steps.last()).copied().unwrap_or(true);
        *i += 1;
        std::future::ready(if ok {
            Ok(MemStream::pair(1024).0)
        } else {
            Err(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"))
        })
    }
}

/// A request as an h2 fake server saw it: method, URI, headers, body.
#[derive(Clone, Debug)]
pub(crate) struct SeenRequest {
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// Serves HTTP/2 with prior knowledge (h2c, hyper's server) on `stream`, answering every
/// request with `status` and `answer`; `delay` holds each answer (the paused clock skips
/// it). Requests are recorded in `log`.
pub(crate) async fn serve_h2<Io>(
    stream: Io,
    status: u16,
    answer: &'static str,
    delay: Duration,
    log: Arc<Mutex<Vec<SeenRequest>>>,
) where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let log = log.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await?.to_bytes().to_vec();
            log.lock().unwrap().push(SeenRequest {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
                    .collect(),
                body,
            });
            tokio::time::sleep(delay).await;
            let resp = hyper::Response::builder()
                .status(status)
                .body(Full::new(bytes::Bytes::from_static(answer.as_bytes())))
                .expect("valid response");
            Ok::<_, hyper::Error>(resp)
        }
    });
    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

/// An h2c server on `mem@name` (see [`serve_h2`]).
pub(crate) fn h2_server(
    net: &MemNetwork,
    name: &str,
    status: u16,
    body: &'static str,
    delay: Duration,
) -> (JoinHandle<()>, Arc<Mutex<Vec<SeenRequest>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let task = serve(net, name, move |s| {
        serve_h2(s, status, body, delay, l.clone())
    });
    (task, log)
}

//! [`Acceptor`]: the accept loop, with per-frontend and global maxconn, accept-error
//! back-off, a task and tracing span per connection, and graceful shutdown.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use lb_core::BoxError;
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Instant, Sleep};
use tower::{Service, ServiceExt};
use tracing::Instrument;

use super::limit::{ConnLimit, ConnPermit};
use super::shutdown::{ServeReport, ShutdownSignal};
use super::Listener;
use crate::net::{Peer, Stream};

/// First pause after an accept error such as `EMFILE`; doubles up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(5);
/// Longest pause after repeated accept errors.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A frontend's accept loop over its listeners.
///
/// It calls `accept` only while the frontend's limit and the global one both have room, so
/// at either limit it stops accepting and the kernel queues new connections in the listen
/// backlog; it resumes as connections end. Each connection holds a permit of both limits for
/// its life. (When several acceptors race for the last global permit, a loser holds the one
/// connection it accepted until a permit frees.) Each connection runs the handler (a tower
/// `Service<(Stream, Peer)>`; wrap a closure with [`tower::service_fn`]) in its own task,
/// inside `debug_span!("conn", peer, fe)`. Accept errors that concern one connection are
/// skipped; others (`EMFILE`, `ENFILE`, `ENOBUFS`) pause accepting from [`MIN_BACKOFF`] up
/// to [`MAX_BACKOFF`] rather than spin.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use lb_tcp::listen::{Acceptor, Listener, Shutdown};
/// use lb_tcp::mem::MemNetwork;
/// use lb_tcp::net::{Peer, Stream};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> std::io::Result<()> {
/// let net = MemNetwork::new();
/// let listener = Listener::Mem(net.bind("echo")?);
/// let echo = tower::service_fn(|(mut stream, _peer): (Stream, Peer)| async move {
///     let (mut r, mut w) = tokio::io::split(&mut stream);
///     tokio::io::copy(&mut r, &mut w).await
/// });
/// let shutdown = Shutdown::new();
/// let acceptor = Acceptor::new("fe_echo", [listener]).maxconn(100);
/// tokio::spawn(acceptor.serve(echo, shutdown.signal()));
///
/// let mut client = net.connect("echo").await?;
/// client.write_all(b"hello").await?;
/// let mut buf = [0; 5];
/// client.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hello");
///
/// // The live connection is cut once the grace period is over.
/// let report = shutdown.shutdown(Duration::from_secs(1)).await;
/// assert_eq!((report.accepted, report.cut), (1, 1));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Acceptor {
    name: Arc<str>,
    listeners: Vec<Listener>,
    limit: Option<ConnLimit>,
    global: Option<ConnLimit>,
}

impl Acceptor {
    /// An accept loop for frontend `name` over `listeners`, without limits.
    pub fn new(name: impl Into<Arc<str>>, listeners: impl IntoIterator<Item = Listener>) -> Self {
        Self {
            name: name.into(),
            listeners: listeners.into_iter().collect(),
            limit: None,
            global: None,
        }
    }

    /// Limits the frontend to `n` live connections (HAProxy frontend `maxconn`). Default is
    /// no limit.
    pub fn maxconn(self, n: usize) -> Self {
        self.limit(ConnLimit::new(n))
    }

    /// Uses `limit` as the frontend's limit (keep a clone to read its `in_use` count).
    pub fn limit(mut self, limit: ConnLimit) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Also counts connections against `limit`, shared with other frontends (HAProxy global
    /// `maxconn`). Default is none.
    pub fn global(mut self, limit: ConnLimit) -> Self {
        self.global = Some(limit);
        self
    }

    /// The frontend name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The listeners.
    pub fn listeners(&self) -> &[Listener] {
        &self.listeners
    }

    /// The frontend's limit, if any.
    pub fn conn_limit(&self) -> Option<&ConnLimit> {
        self.limit.as_ref()
    }

    /// Accepts connections and runs `handler` on each until `shutdown` fires; then closes
    /// the listeners, waits for live connections up to the shutdown's deadline, aborts the
    /// rest and returns what happened. Handler errors are logged at `debug`, panics at
    /// `error`; neither stops the loop.
    pub async fn serve<S>(self, handler: S, shutdown: ShutdownSignal) -> ServeReport
    where
        S: Service<(Stream, Peer)> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
    {
        let mut guard = shutdown.serving();
        let Acceptor {
            name,
            listeners,
            limit,
            global,
        } = self;
        let limits = Limits {
            frontend: limit,
            global,
        };
        let mut tasks: JoinSet<()> = JoinSet::new();
        // Waits for room in the limits (reserving nothing).
        let mut room: Option<Pin<Box<dyn Future<Output = ()> + Send>>> = None;
        // A connection accepted when another acceptor took the last permit first.
        let mut admitting: Option<Admitting> = None;
        let mut pause: Option<Pin<Box<Sleep>>> = None;
        let mut backoff = Backoff::new();
        let mut next = 0;
        let stop = shutdown.triggered();
        tokio::pin!(stop);
        tracing::debug!(fe = %name, listeners = listeners.len(), "accepting");

        let deadline = loop {
            let event = poll_fn(|cx| {
                if let Poll::Ready(deadline) = stop.as_mut().poll(cx) {
                    return Poll::Ready(Event::Stop(deadline));
                }
                if let Poll::Ready(Some(ended)) = tasks.poll_join_next(cx) {
                    return Poll::Ready(Event::Ended(ended));
                }
                if let Some(sleep) = pause.as_mut() {
                    ready!(sleep.as_mut().poll(cx));
                    return Poll::Ready(Event::Resume);
                }
                if let Some(a) = admitting.as_mut() {
                    let permits = ready!(a.permits.as_mut().poll(cx));
                    return Poll::Ready(Event::Admitted(permits));
                }
                if !limits.has_room() {
                    let wait = room.get_or_insert_with(|| Box::pin(limits.clone().room()));
                    ready!(wait.as_mut().poll(cx));
                }
                room = None;
                poll_any(&listeners, &mut next, cx).map(Event::Accepted)
            })
            .await;
            let (conn, permits) = match event {
                Event::Stop(deadline) => break deadline,
                Event::Ended(ended) => {
                    guard.report.completed += 1;
                    log_ended(ended);
                    continue;
                }
                Event::Resume => {
                    pause = None;
                    continue;
                }
                Event::Admitted(permits) => match admitting.take() {
                    Some(a) => (a.conn, permits),
                    None => continue,
                },
                Event::Accepted(Ok(conn)) => {
                    backoff.reset();
                    guard.report.accepted += 1;
                    match limits.try_acquire() {
                        Some(permits) => (conn, permits),
                        None => {
                            tracing::trace!(fe = %name, "limit reached after accept, waiting");
                            let permits = Box::pin(limits.clone().acquire());
                            admitting = Some(Admitting { conn, permits });
                            continue;
                        }
                    }
                }
                Event::Accepted(Err(e)) if is_connection_error(&e) => {
                    tracing::debug!(fe = %name, error = %e, "accept: connection failed");
                    continue;
                }
                Event::Accepted(Err(e)) => {
                    let wait = backoff.next();
                    tracing::warn!(fe = %name, error = %e, ?wait, "accept failed, pausing");
                    pause = Some(Box::pin(tokio::time::sleep(wait)));
                    continue;
                }
            };
            let (stream, peer) = conn;
            let svc = handler.clone();
            // Debug level: an enabled span formats the peer and costs an enter/exit per poll.
            let span = tracing::debug_span!("conn", peer = %peer, fe = %name);
            let task = async move {
                let _permits = permits;
                tracing::debug!("connection accepted");
                match svc.oneshot((stream, peer)).await {
                    Ok(_) => tracing::debug!("connection closed"),
                    Err(e) => {
                        let e: BoxError = e.into();
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
            };
            tasks.spawn(task.instrument(span));
        };

        drop((listeners, room, admitting, pause));
        tracing::info!(fe = %name, live = tasks.len(), "stopped accepting; draining");
        let report = &mut guard.report;
        let drained = tokio::time::timeout_at(deadline, async {
            while let Some(ended) = tasks.join_next().await {
                report.completed += 1;
                log_ended(ended);
            }
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
            while let Some(ended) = tasks.join_next().await {
                match ended {
                    Err(e) if e.is_cancelled() => report.cut += 1,
                    ended => {
                        report.completed += 1;
                        log_ended(ended);
                    }
                }
            }
            tracing::warn!(fe = %name, cut = report.cut, "grace period over: connections cut");
        }
        tracing::info!(fe = %name, accepted = report.accepted, cut = report.cut, "stopped");
        *report
    }
}

enum Event {
    Stop(Instant),
    Ended(Result<(), JoinError>),
    Resume,
    Accepted(io::Result<(Stream, Peer)>),
    Admitted(Permits),
}

/// An accepted connection waiting for its permits.
struct Admitting {
    conn: (Stream, Peer),
    permits: Pin<Box<dyn Future<Output = Permits> + Send>>,
}

/// Polls the listeners from `next` on, round robin, so a busy one cannot starve the others.
fn poll_any(
    listeners: &[Listener],
    next: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<(Stream, Peer)>> {
    let n = listeners.len();
    for i in 0..n {
        let at = (*next + i) % n;
        if let Poll::Ready(r) = listeners[at].poll_accept(cx) {
            *next = (at + 1) % n;
            return Poll::Ready(r);
        }
    }
    Poll::Pending
}

fn log_ended(ended: Result<(), JoinError>) {
    if let Err(e) = ended {
        if e.is_panic() {
            tracing::error!("connection handler panicked");
        }
    }
}

/// Errors about one connection (it went away before `accept` returned it): skip it.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// The frontend's and the global limit.
#[derive(Clone)]
struct Limits {
    frontend: Option<ConnLimit>,
    global: Option<ConnLimit>,
}

impl Limits {
    fn each(&self) -> impl Iterator<Item = &ConnLimit> {
        self.frontend.iter().chain(self.global.as_ref())
    }

    fn has_room(&self) -> bool {
        self.each().all(|l| l.available() > 0)
    }

    /// Resolves when both limits have room at once.
    async fn room(self) {
        while !self.has_room() {
            for l in self.each() {
                l.ready().await;
            }
        }
    }

    fn try_acquire(&self) -> Option<Permits> {
        let frontend = match &self.frontend {
            Some(l) => Some(l.try_acquire()?),
            None => None,
        };
        let global = match &self.global {
            Some(l) => Some(l.try_acquire()?),
            None => None,
        };
        Some(Permits {
            _frontend: frontend,
            _global: global,
        })
    }

    async fn acquire(self) -> Permits {
        let frontend = match &self.frontend {
            Some(l) => Some(l.acquire().await),
            None => None,
        };
        let global = match &self.global {
            Some(l) => Some(l.acquire().await),
            None => None,
        };
        Permits {
            _frontend: frontend,
            _global: global,
        }
    }
}

/// The permits one connection holds: frontend and global.
struct Permits {
    _frontend: Option<ConnPermit>,
    _global: Option<ConnPermit>,
}

struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self { next: MIN_BACKOFF }
    }

    fn next(&mut self) -> Duration {
        let now = self.next;
        self.next = (now * 2).min(MAX_BACKOFF);
        now
    }

    fn reset(&mut self) {
        self.next = MIN_BACKOFF;
    }
}

#[cfg(all(test, feature = "mem"))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::timeout;

    use super::*;
    use crate::listen::Shutdown;
    use crate::mem::{MemNetwork, MemStream};

    async fn echo((stream, _peer): (Stream, Peer)) -> io::Result<u64> {
        let (mut r, mut w) = tokio::io::split(stream);
        tokio::io::copy(&mut r, &mut w).await
    }

    /// Writes `msg` and reads it back within `within`; `false` on timeout.
    async fn echoes(client: &mut MemStream, msg: &[u8], within: Duration) -> bool {
        let io = async {
            client.write_all(msg).await?;
            let mut buf = vec![0; msg.len()];
            client.read_exact(&mut buf).await?;
            assert_eq!(buf, msg);
            Ok::<_, io::Error>(())
        };
        match timeout(within, io).await {
            Ok(r) => {
                r.unwrap();
                true
            }
            Err(_) => false,
        }
    }

    const SOON: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn maxconn_holds_until_a_connection_ends() {
        let net = MemNetwork::new();
        let limit = ConnLimit::new(2);
        let acceptor =
            Acceptor::new("fe", [Listener::Mem(net.bind("fe").unwrap())]).limit(limit.clone());
        let shutdown = Shutdown::new();
        tokio::spawn(acceptor.serve(tower::service_fn(echo), shutdown.signal()));

        let mut c1 = net.connect("fe").await.unwrap();
        let mut c2 = net.connect("fe").await.unwrap();
        assert!(echoes(&mut c1, b"one", SOON).await);
        assert!(echoes(&mut c2, b"two", SOON).await);
        assert_eq!(limit.in_use(), 2);

        // The third connects (the backlog queues it) but is not served.
        let mut c3 = net.connect("fe").await.unwrap();
        assert!(!echoes(&mut c3, b"three", Duration::from_secs(30)).await);

        drop(c1);
        let mut rest = [0; 5];
        timeout(SOON, c3.read_exact(&mut rest))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&rest, b"three");
        assert_eq!(limit.in_use(), 2);
        drop((c2, c3));
        let report = shutdown.shutdown(SOON).await;
        assert_eq!((report.accepted, report.completed, report.cut), (3, 3, 0));
        assert_eq!(limit.in_use(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn global_limit_spans_frontends() {
        let net = MemNetwork::new();
        let global = ConnLimit::new(1);
        let shutdown = Shutdown::new();
        for name in ["a", "b"] {
            let acceptor = Acceptor::new(name, [Listener::Mem(net.bind(name).unwrap())])
                .maxconn(10)
                .global(global.clone());
            tokio::spawn(acceptor.serve(tower::service_fn(echo), shutdown.signal()));
        }
        let mut a = net.connect("a").await.unwrap();
        assert!(echoes(&mut a, b"a", SOON).await);
        let mut b = net.connect("b").await.unwrap();
        assert!(!echoes(&mut b, b"b", Duration::from_secs(30)).await);
        drop(a);
        let mut got = [0; 1];
        timeout(SOON, b.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(global.in_use(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_live_connections_then_cuts_them() {
        let net = MemNetwork::new();
        let acceptor = Acceptor::new("fe", [Listener::Mem(net.bind("fe").unwrap())]);
        let shutdown = Shutdown::new();
        let signal = shutdown.signal();
        let served = tokio::spawn(acceptor.serve(tower::service_fn(echo), signal.clone()));
        let mut live = net.connect("fe").await.unwrap();
        assert!(echoes(&mut live, b"hi", SOON).await);

        let start = tokio::time::Instant::now();
        let stopping = tokio::spawn(shutdown.shutdown(Duration::from_secs(10)));
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(signal.is_triggered());
        // New connections are refused: the listener is closed.
        let err = net.connect("fe").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        // The live one is still served during the grace period...
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(echoes(&mut live, b"still", SOON).await);
        // ...and cut when it ends.
        let mut buf = [0; 1];
        assert_eq!(live.read(&mut buf).await.unwrap(), 0);
        assert_eq!(start.elapsed(), Duration::from_secs(10));

        let report = stopping.await.unwrap();
        assert_eq!((report.accepted, report.completed, report.cut), (1, 0, 1));
        assert_eq!(served.await.unwrap(), report);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_early_when_connections_finish() {
        let net = MemNetwork::new();
        let acceptor = Acceptor::new("fe", [Listener::Mem(net.bind("fe").unwrap())]);
        let shutdown = Shutdown::new();
        tokio::spawn(acceptor.serve(tower::service_fn(echo), shutdown.signal()));
        let mut client = net.connect("fe").await.unwrap();
        assert!(echoes(&mut client, b"x", SOON).await);

        let start = tokio::time::Instant::now();
        let stopping = tokio::spawn(shutdown.shutdown(Duration::from_secs(60)));
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(client);
        let report = stopping.await.unwrap();
        assert!(start.elapsed() < Duration::from_secs(3));
        assert_eq!((report.accepted, report.completed, report.cut), (1, 1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn accept_errors_back_off_instead_of_spinning() {
        let net = MemNetwork::new();
        let listener = net.bind("fe").unwrap();
        listener.fail_accepts(5);
        let acceptor = Acceptor::new("fe", [Listener::Mem(listener)]);
        tokio::spawn(acceptor.serve(tower::service_fn(echo), ShutdownSignal::never()));
        let start = tokio::time::Instant::now();
        let mut client = net.connect("fe").await.unwrap();
        assert!(echoes(&mut client, b"x", Duration::from_secs(5)).await);
        // Pauses of 5, 10, 20, 40 and 80 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(155),
            "{:?}",
            start.elapsed()
        );
        assert!(
            start.elapsed() < Duration::from_millis(400),
            "{:?}",
            start.elapsed()
        );

        let mut b = Backoff::new();
        let waits: Vec<_> = (0..10).map(|_| b.next()).collect();
        assert_eq!(waits[0], MIN_BACKOFF);
        assert_eq!(waits[9], MAX_BACKOFF);
        b.reset();
        assert_eq!(b.next(), MIN_BACKOFF);
    }

    #[tokio::test(start_paused = true)]
    async fn failing_and_panicking_handlers_do_not_stop_the_loop() {
        let net = MemNetwork::new();
        let acceptor = Acceptor::new("fe", [Listener::Mem(net.bind("fe").unwrap())]);
        let calls = Arc::new(AtomicUsize::new(0));
        let handler = tower::service_fn({
            let calls = Arc::clone(&calls);
            move |conn: (Stream, Peer)| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    match n {
                        0 => Err(io::Error::other("handler failed")),
                        1 => panic!("handler panicked (expected by this test)"),
                        _ => echo(conn).await,
                    }
                }
            }
        });
        let shutdown = Shutdown::new();
        tokio::spawn(acceptor.serve(handler, shutdown.signal()));
        let _c0 = net.connect("fe").await.unwrap();
        let _c1 = net.connect("fe").await.unwrap();
        let mut c2 = net.connect("fe").await.unwrap();
        assert!(echoes(&mut c2, b"ok", SOON).await);
        drop(c2);
        let report = shutdown.shutdown(SOON).await;
        assert_eq!((report.accepted, report.completed, report.cut), (3, 3, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn serves_every_listener() {
        let net = MemNetwork::new();
        let listeners = ["x", "y", "z"].map(|n| Listener::Mem(net.bind(n).unwrap()));
        let acceptor = Acceptor::new("fe", listeners);
        assert_eq!(acceptor.listeners().len(), 3);
        assert_eq!(acceptor.name(), "fe");
        tokio::spawn(acceptor.serve(tower::service_fn(echo), ShutdownSignal::never()));
        for _ in 0..3 {
            for n in ["x", "y", "z"] {
                let mut c = net.connect(n).await.unwrap();
                assert!(echoes(&mut c, n.as_bytes(), SOON).await);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn maxconn_zero_pauses_the_frontend() {
        let net = MemNetwork::new();
        let acceptor = Acceptor::new("fe", [Listener::Mem(net.bind("fe").unwrap())]).maxconn(0);
        let shutdown = Shutdown::new();
        tokio::spawn(acceptor.serve(tower::service_fn(echo), shutdown.signal()));
        let mut c = net.connect("fe").await.unwrap();
        assert!(!echoes(&mut c, b"x", Duration::from_secs(30)).await);
        let report = shutdown.shutdown(SOON).await;
        assert_eq!(report.accepted, 0);
    }
}

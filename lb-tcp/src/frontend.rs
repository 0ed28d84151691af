//! [`TcpFrontend`]: a `mode tcp` frontend: connection rules on the source address, PROXY
//! protocol on accept, content inspection and switching to one of several backends.
//!
//! Processing order, as HAProxy: `tcp-request connection` (source rules) -> `accept-proxy`
//! (the PROXY header's addresses replace the connection's for everything after) ->
//! `tcp-request content` (inspection up to `inspect-delay`, first matching rule wins) ->
//! `use_backend` / `default_backend` -> the backend's [`TcpProxy`].

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use lb_core::matcher::IpNet;
use lb_core::{Address, BoxError};
use tower::Service;

use crate::inspect::{inspect, ContentRules, InspectAction, InspectOptions, PrefixedIo};
use crate::net::{Peer, Stream};
use crate::proxy::{Connection, TcpProxy, TcpSession};
use crate::proxy_protocol::read_header;

/// What a source rule does (`tcp-request connection accept|reject if { src ... }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceAction {
    /// Keep the connection and stop evaluating source rules.
    Accept,
    /// Close the connection at once.
    Reject,
}

/// Frontend counters (HAProxy stats: `stot`, `ereq`, denied connections).
#[derive(Debug, Default)]
pub struct FrontendCounters {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections rejected by a rule.
    pub denied: AtomicU64,
    /// Connections dropped for a bad PROXY header or no backend.
    pub errors: AtomicU64,
}

/// Why a connection ended before reaching a backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrontendError {
    /// A source or content rule rejected it.
    #[error("connection from {0:?} rejected by a rule")]
    Rejected(Option<SocketAddr>),
    /// The PROXY protocol header was missing or invalid.
    #[error("bad PROXY protocol header: {0}")]
    ProxyProtocol(#[from] crate::proxy_protocol::ProxyProtocolError),
    /// No rule chose a backend and there is no default backend.
    #[error("no backend for this connection")]
    NoBackend,
    /// Reading from the client failed during inspection.
    #[error("inspection failed: {0}")]
    Inspect(#[from] crate::inspect::InspectError),
}

/// A TCP frontend. See the [module docs](self).
pub struct TcpFrontend<C> {
    name: Arc<str>,
    source_rules: Arc<[(IpNet, SourceAction)]>,
    accept_proxy: Option<Duration>,
    inspect: Option<InspectOptions>,
    rules: Arc<ContentRules<usize>>,
    backends: Arc<[TcpProxy<C>]>,
    default_backend: Option<usize>,
    counters: Arc<FrontendCounters>,
}

impl<C: Clone> Clone for TcpFrontend<C> {
    fn clone(&self) -> Self {
        TcpFrontend {
            name: self.name.clone(),
            source_rules: self.source_rules.clone(),
            accept_proxy: self.accept_proxy,
            inspect: self.inspect,
            rules: self.rules.clone(),
            backends: self.backends.clone(),
            default_backend: self.default_backend,
            counters: self.counters.clone(),
        }
    }
}

impl<C> fmt::Debug for TcpFrontend<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpFrontend")
            .field("name", &self.name)
            .field("source_rules", &self.source_rules.len())
            .field("accept_proxy", &self.accept_proxy)
            .field("inspect", &self.inspect)
            .field("rules", &self.rules.len())
            .field("backends", &self.backends.len())
            .field("default_backend", &self.default_backend)
            .finish()
    }
}

impl<C> TcpFrontend<C>
where
    C: Service<Address, Response = Stream, Error = io::Error> + Clone + Send + Sync + 'static,
    C::Future: Send,
{
    /// A frontend sending everything to `default_backend`.
    pub fn new(name: impl Into<Arc<str>>, default_backend: TcpProxy<C>) -> Self {
        TcpFrontend {
            name: name.into(),
            source_rules: Arc::from(Vec::new()),
            accept_proxy: None,
            inspect: None,
            rules: Arc::new(ContentRules::new()),
            backends: Arc::from(vec![default_backend]),
            default_backend: Some(0),
            counters: Arc::new(FrontendCounters::default()),
        }
    }

    /// A frontend over several backends (indexes used by rules); `default_backend` is an
    /// index or `None` (connections no rule routes are closed).
    pub fn with_backends(
        name: impl Into<Arc<str>>,
        backends: Vec<TcpProxy<C>>,
        default_backend: Option<usize>,
    ) -> Self {
        TcpFrontend {
            name: name.into(),
            source_rules: Arc::from(Vec::new()),
            accept_proxy: None,
            inspect: None,
            rules: Arc::new(ContentRules::new()),
            backends: Arc::from(backends),
            default_backend,
            counters: Arc::new(FrontendCounters::default()),
        }
    }

    /// Source rules, first match wins; a source no rule matches is accepted.
    pub fn source_rules(mut self, rules: Vec<(IpNet, SourceAction)>) -> Self {
        self.source_rules = Arc::from(rules);
        self
    }

    /// Expects a PROXY protocol header (v1 or v2) within `timeout` (`accept-proxy`).
    pub fn accept_proxy(mut self, timeout: Duration) -> Self {
        self.accept_proxy = Some(timeout);
        self
    }

    /// Inspects the first bytes and applies `rules` (`tcp-request content`).
    pub fn content_rules(mut self, opts: InspectOptions, rules: ContentRules<usize>) -> Self {
        self.inspect = Some(opts);
        self.rules = Arc::new(rules);
        self
    }

    /// The frontend's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The frontend's counters.
    pub fn counters(&self) -> &Arc<FrontendCounters> {
        &self.counters
    }

    /// The backends, in index order.
    pub fn backends(&self) -> &[TcpProxy<C>] {
        &self.backends
    }

    /// Handles one accepted connection to its end.
    ///
    /// # Errors
    /// [`FrontendError`] when the connection never reached a backend.
    pub async fn handle(&self, mut io: Stream, peer: Peer) -> Result<TcpSession, FrontendError> {
        self.counters.accepted.fetch_add(1, Relaxed);
        let mut client = peer.socket_addr();
        let mut local = peer.local_socket_addr();
        if let Some(src) = client {
            let action = self
                .source_rules
                .iter()
                .find(|(net, _)| net.contains(src.ip()))
                .map(|(_, a)| *a);
            if action == Some(SourceAction::Reject) {
                self.counters.denied.fetch_add(1, Relaxed);
                return Err(FrontendError::Rejected(client));
            }
        }
        let mut prefix = Bytes::new();
        if let Some(timeout) = self.accept_proxy {
            match read_header(&mut io, timeout).await {
                Ok((header, leftover)) => {
                    if let (Some(s), Some(d)) = (header.source(), header.destination()) {
                        client = Some(s);
                        local = Some(d);
                    }
                    prefix = leftover;
                }
                Err(e) => {
                    self.counters.errors.fetch_add(1, Relaxed);
                    return Err(e.into());
                }
            }
        }
        let mut sni = None;
        let mut chosen = self.default_backend;
        if let Some(opts) = &self.inspect {
            let (facts, seen) = inspect(PrefixedIo::new(prefix.clone(), &mut io), opts).await?;
            let (inspected, inner) = seen.into_parts();
            let (rest, _) = inner.into_parts();
            prefix = if rest.is_empty() {
                inspected
            } else {
                let mut all = BytesMut::with_capacity(inspected.len() + rest.len());
                all.extend_from_slice(&inspected);
                all.extend_from_slice(&rest);
                all.freeze()
            };
            sni = facts.sni().map(str::to_owned);
            match self.rules.evaluate(&facts) {
                Some(InspectAction::Reject) => {
                    self.counters.denied.fetch_add(1, Relaxed);
                    return Err(FrontendError::Rejected(client));
                }
                Some(InspectAction::UseBackend(i)) => chosen = Some(*i),
                Some(InspectAction::Accept) | None => {}
            }
        }
        let Some(backend) = chosen.and_then(|i| self.backends.get(i)) else {
            self.counters.errors.fetch_add(1, Relaxed);
            return Err(FrontendError::NoBackend);
        };
        Ok(backend
            .proxy(Connection {
                io,
                prefix,
                client,
                local,
                sni,
                ssl: None,
            })
            .await)
    }
}

impl<C> Service<(Stream, Peer)> for TcpFrontend<C>
where
    C: Service<Address, Response = Stream, Error = io::Error> + Clone + Send + Sync + 'static,
    C::Future: Send,
{
    type Response = ();
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (io, peer): (Stream, Peer)) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            match this.handle(io, peer).await {
                Ok(s) => {
                    s.log(&this.name);
                    Ok(())
                }
                Err(e) => {
                    tracing::debug!(target: "lb::access", frontend = %this.name, error = %e, "connection dropped");
                    Ok(())
                }
            }
        })
    }
}

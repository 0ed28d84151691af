//! A TCP frontend of the running configuration: lb-tcp's [`TcpFrontend`] for clear
//! listeners, [`TlsTcpFrontend`] for `bind ... ssl` ones.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use lb_core::BoxError;
use lb_tcp::inspect::{inspect, Facts, PrefixedIo};
use lb_tcp::net::{Layered, Peer, Stream};
use lb_tcp::proxy::{Connection, TcpSession};
use lb_tcp::proxy_protocol::read_header;
use lb_tls::TlsInfo;

use lb_tcp::frontend::TcpFrontend;
use lb_tcp::inspect::{Condition, ContentRules, InspectAction, InspectOptions};
use lb_tcp::proxy::TcpProxy;

use super::acl::{Acls, TcpSamples};
use super::server_io::StreamConnector;
use super::{BackendProxy, StartError};
use crate::config::{self, TcpContentAction};

pub(super) fn build(
    fe: &config::Frontend,
    index: &[Arc<str>],
    proxies: &HashMap<Arc<str>, Arc<BackendProxy>>,
    acls: Acls,
) -> Result<TcpFrontend<StreamConnector>, StartError> {
    let mut backends: Vec<TcpProxy<StreamConnector>> = Vec::new();
    for n in index {
        match proxies.get(n).map(|p| &**p) {
            Some(BackendProxy::Tcp(p)) => backends.push(p.clone()),
            _ => {
                return Err(StartError::Unsupported {
                    file: fe.span.file.clone(),
                    line: fe.span.line,
                    what: format!("tcp frontend '{}' using non-tcp backend '{n}'", fe.name),
                })
            }
        }
    }
    let default = fe
        .default_backend
        .as_ref()
        .and_then(|d| index.iter().position(|n| *n == d.name));
    let mut frontend = TcpFrontend::with_backends(fe.name.clone(), backends, default);
    let conditional =
        fe.use_backends.iter().any(|u| u.cond.is_some()) || !fe.tcp_content.is_empty();
    if conditional {
        let cond = |c: Option<config::Condition>| {
            let acls = acls.clone();
            Condition::from_fn(move |facts| {
                let samples = TcpSamples {
                    facts,
                    addrs: (None, None),
                    tls: None,
                };
                acls.check(c.as_ref(), &samples)
            })
        };
        let mut rules = ContentRules::new();
        for r in &fe.tcp_content {
            let action = match r.action {
                TcpContentAction::Accept => InspectAction::Accept,
                TcpContentAction::Reject => InspectAction::Reject,
            };
            rules.push(cond(r.cond.clone()), action);
        }
        for u in &fe.use_backends {
            if let Some(i) = index.iter().position(|n| *n == u.backend) {
                rules.push(cond(u.cond.clone()), InspectAction::UseBackend(i));
            }
        }
        // Without inspect-delay HAProxy evaluates the rules at once, on what is there.
        let delay = fe.tcp_inspect_delay.unwrap_or(Duration::ZERO);
        frontend = frontend.content_rules(InspectOptions::new(delay), rules);
    }
    Ok(frontend)
}

/// A TCP frontend whose `bind` terminates TLS (`bind ... ssl crt ...` in `mode tcp`): the
/// handshake, then the `tcp-request content` and `use_backend` rules with the TLS facts
/// (`ssl_fc_sni`, `ssl_c_used`, ...), then the chosen backend, which gets the facts for the
/// PROXY v2 SSL TLV (`send-proxy-v2-ssl`, `send-proxy-v2-ssl-cn`).
#[derive(Clone)]
pub(super) struct TlsTcpFrontend {
    inner: Arc<TlsTcpInner>,
}

struct TlsTcpInner {
    name: Arc<str>,
    acceptor: Arc<lb_tls::TlsAcceptor>,
    accept_proxy: bool,
    acls: Acls,
    inspect: Option<InspectOptions>,
    content: Vec<(Option<config::Condition>, TcpContentAction)>,
    routes: Vec<(Option<config::Condition>, usize)>,
    backends: Vec<TcpProxy<StreamConnector>>,
    default: Option<usize>,
}

impl TlsTcpFrontend {
    /// The frontend `fe` over the backends of `plain` (built by [`build`]), terminating TLS
    /// with `acceptor`.
    pub(super) fn new(
        fe: &config::Frontend,
        index: &[Arc<str>],
        plain: &TcpFrontend<StreamConnector>,
        acls: Acls,
        acceptor: Arc<lb_tls::TlsAcceptor>,
        accept_proxy: bool,
    ) -> Self {
        let default = fe
            .default_backend
            .as_ref()
            .and_then(|d| index.iter().position(|n| *n == d.name));
        TlsTcpFrontend {
            inner: Arc::new(TlsTcpInner {
                name: fe.name.clone(),
                acceptor,
                accept_proxy,
                acls,
                inspect: fe.tcp_inspect_delay.map(InspectOptions::new),
                content: fe
                    .tcp_content
                    .iter()
                    .map(|r| (r.cond.clone(), r.action))
                    .collect(),
                routes: fe
                    .use_backends
                    .iter()
                    .filter_map(|u| {
                        Some((u.cond.clone(), index.iter().position(|n| *n == u.backend)?))
                    })
                    .collect(),
                backends: plain.backends().to_vec(),
                default,
            }),
        }
    }
}

impl TlsTcpInner {
    async fn handle(&self, mut io: Stream, peer: Peer) -> Result<Option<TcpSession>, BoxError> {
        let mut client = peer.socket_addr();
        let mut local = peer.local_socket_addr();
        let mut leftover = Bytes::new();
        if self.accept_proxy {
            let (header, rest) = read_header(&mut io, Duration::from_secs(5)).await?;
            if let (Some(s), Some(d)) = (header.source(), header.destination()) {
                client = Some(s);
                local = Some(d);
            }
            leftover = rest;
        }
        let mut tls = self.acceptor.accept(PrefixedIo::new(leftover, io)).await?;
        let info = TlsInfo::of(&tls);
        // With `tcp-request inspect-delay`, rules see the decrypted payload too.
        let (facts, prefix) = match &self.inspect {
            Some(opts) => {
                let (facts, seen) = inspect(&mut tls, opts).await?;
                (facts, seen.into_parts().0)
            }
            None => (Facts::default(), Bytes::new()),
        };
        let samples = TcpSamples {
            facts: &facts,
            addrs: (client, local),
            tls: Some(&info),
        };
        let verdict = self
            .content
            .iter()
            .find(|(c, _)| self.acls.check(c.as_ref(), &samples))
            .map(|(_, a)| *a);
        if verdict == Some(TcpContentAction::Reject) {
            return Ok(None);
        }
        let chosen = self
            .routes
            .iter()
            .find(|(c, _)| self.acls.check(c.as_ref(), &samples))
            .map(|(_, i)| *i)
            .or(self.default);
        let Some(backend) = chosen.and_then(|i| self.backends.get(i)) else {
            return Err("no backend for this connection".into());
        };
        // The proxy forwards the clear text of the TLS session as a stream of its own.
        let io = Stream::Layered(Layered::new(tls, peer.addr().clone(), peer.local().clone()));
        let session = backend
            .proxy(Connection {
                io,
                prefix,
                client,
                local,
                sni: info.sni().map(str::to_owned),
                ssl: Some(Box::new(info.to_proxy_ssl(false))),
            })
            .await;
        Ok(Some(session))
    }
}

impl tower::Service<(Stream, Peer)> for TlsTcpFrontend {
    type Response = ();
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (io, peer): (Stream, Peer)) -> Self::Future {
        let this = self.inner.clone();
        Box::pin(async move {
            match this.handle(io, peer).await {
                Ok(Some(s)) => s.log(&this.name),
                Ok(None) => {
                    tracing::debug!(target: "lb::access", frontend = %this.name, "connection rejected")
                }
                Err(e) => {
                    tracing::debug!(target: "lb::access", frontend = %this.name, error = %e, "connection dropped")
                }
            }
            Ok(())
        })
    }
}

//! A TCP frontend of the running configuration.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lb_tcp::connect::TcpConnect;
use lb_tcp::frontend::TcpFrontend;
use lb_tcp::inspect::{Condition, ContentRules, InspectAction, InspectOptions};
use lb_tcp::proxy::TcpProxy;

use super::acl::{Acls, TcpSamples};
use super::{BackendProxy, StartError};
use crate::config::{self, TcpContentAction};

pub(super) fn build(
    fe: &config::Frontend,
    index: &[Arc<str>],
    proxies: &HashMap<Arc<str>, Arc<BackendProxy>>,
    acls: Acls,
) -> Result<TcpFrontend<TcpConnect>, StartError> {
    let mut backends: Vec<TcpProxy<TcpConnect>> = Vec::new();
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
            Condition::from_fn(move |facts| acls.check(c.as_ref(), &TcpSamples { facts }))
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

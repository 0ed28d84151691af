//! The connector of health checks: plain TCP, or TLS for servers with `check-ssl` (server
//! certificates are not verified, as HAProxy's checks with `verify none`; `check-sni` sets
//! the name sent).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use lb_core::Address;
use lb_tcp::connect::TcpConnect;
use lb_tls::TlsConnect;
use tower::{Service, ServiceExt};

use super::server_io::ServerIo;

/// Connects checks, with TLS towards the check targets that asked for it.
#[derive(Clone)]
pub(crate) struct CheckConnector {
    plain: TcpConnect,
    tls: Arc<HashMap<Address, TlsConnect<TcpConnect>>>,
}

impl CheckConnector {
    pub(crate) fn new(tls: HashMap<Address, TlsConnect<TcpConnect>>) -> Self {
        CheckConnector {
            plain: TcpConnect::new(),
            tls: Arc::new(tls),
        }
    }

    /// A TLS connector for checks: no verification, optional SNI; ALPN `h2` for HTTP/2
    /// checks (`check-proto h2`), none otherwise.
    pub(crate) fn tls(
        sni: Option<&str>,
        h2: bool,
    ) -> Result<TlsConnect<TcpConnect>, lb_tls::TlsError> {
        let mut b = TlsConnect::builder().verify(lb_tls::Verify::None);
        if let Some(sni) = sni {
            b = b.sni(sni);
        }
        if h2 {
            b = b.alpn("h2")?;
        }
        b.build(TcpConnect::new())
    }

    /// The TLS connector of checks that inherit a server's `ssl` settings: HAProxy's
    /// checks verify as the traffic does, but send `check-sni` (not `sni`) and no ALPN
    /// (`h2` for `check-proto h2`).
    pub(crate) fn server_tls(
        backend: &str,
        s: &crate::config::Server,
        t: &crate::config::ServerTls,
    ) -> Result<TlsConnect<TcpConnect>, lb_tls::TlsError> {
        let mut t = t.clone();
        t.sni.clone_from(&s.check.sni);
        t.alpn.clear();
        if s.check.proto == crate::config::CheckProto::H2 {
            t.alpn.push("h2".to_owned());
        }
        super::server_io::server_tls(&format!("{backend}/{} (check)", s.name), &t)
    }
}

impl Service<Address> for CheckConnector {
    type Response = ServerIo;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<ServerIo>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, addr: Address) -> Self::Future {
        match self.tls.get(&addr) {
            Some(tls) => {
                let tls = tls.clone();
                Box::pin(async move {
                    tls.oneshot(addr)
                        .await
                        .map(|s| ServerIo::Tls(Box::new(s)))
                        .map_err(io::Error::from)
                })
            }
            None => {
                let plain = self.plain.clone();
                Box::pin(async move { plain.oneshot(addr).await.map(ServerIo::Plain) })
            }
        }
    }
}

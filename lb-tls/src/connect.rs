//! TLS origination (`server ... ssl ...`): [`TlsConnect`] wraps an lb-tcp
//! [`Connect`](lb_tcp::connect::Connect) and runs the client handshake on each connection.
//!
//! Verification follows HAProxy: `verify required` with a `ca-file` checks the chain, and
//! the name against `verifyhost` if set, else against the SNI sent; with neither (no
//! SNI, no verifyhost) only the chain is checked. `verify none` checks nothing (see
//! [`TlsConnectBuilder::verify`]).
//!
//! The SNI is fixed ([`TlsConnectBuilder::sni`]) or given per connection with a
//! [`TlsTarget`] (HAProxy `sni req.hdr(host)`).

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lb_core::Address;
use lb_tcp::net::Stream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{
    verify_server_cert_signed_by_trust_anchor, verify_server_name, ResolvesClientCert,
};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::client::TlsStream;
use tower::Service;

use crate::cert_store::Cert;
use crate::client_auth::{load_ca_file, roots, Verify};
use crate::error::TlsError;
use crate::options::{parse_alpn, Protocols, TlsVersion};

/// Default handshake timeout towards servers.
pub const DEFAULT_CONNECT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default number of sessions remembered for resumption towards servers.
pub const DEFAULT_CLIENT_SESSIONS: usize = 256;

/// Where to connect, and the SNI for this connection (overrides the fixed one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsTarget {
    /// The server address.
    pub addr: Address,
    /// The server name to send (and, without `verifyhost`, to verify).
    pub sni: Option<String>,
}

impl TlsTarget {
    /// A target with a per-connection SNI.
    pub fn new(addr: Address, sni: impl Into<String>) -> Self {
        Self {
            addr,
            sni: Some(sni.into()),
        }
    }
}

impl From<Address> for TlsTarget {
    fn from(addr: Address) -> Self {
        Self { addr, sni: None }
    }
}

/// Builds a [`TlsConnect`] from HAProxy `server ... ssl` options.
///
/// Default: `verify required` against an empty CA set, so a server certificate is
/// accepted only once [`ca_file`](Self::ca_file)/[`ca_certs`](Self::ca_certs) is set or
/// [`verify(Verify::None)`](Self::verify) is chosen.
#[derive(Debug)]
#[must_use]
pub struct TlsConnectBuilder {
    verify: Verify,
    cas: Vec<CertificateDer<'static>>,
    verifyhost: Option<String>,
    sni: Option<String>,
    client_cert: Option<Cert>,
    alpn: Vec<Vec<u8>>,
    protocols: Protocols,
    sessions: usize,
    handshake_timeout: Duration,
    name: Option<String>,
}

impl TlsConnectBuilder {
    /// How the log line of a failed handshake names the server (HAProxy's
    /// `backend/server`). Default is the address connected to.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// `verify required|none` (`optional` means `required` here).
    ///
    /// `Verify::None` is **insecure**: any certificate, from anyone, is accepted, so a
    /// man in the middle can read and change the traffic. Only the handshake signature is
    /// still checked (proof the server holds the key of the certificate it sent).
    pub fn verify(mut self, verify: Verify) -> Self {
        self.verify = verify;
        self
    }

    /// `ca-file`: the CAs the server's chain must lead to. Reads the file now.
    ///
    /// # Errors
    /// [`TlsError::Read`], [`TlsError::Pem`], [`TlsError::NoCertificate`].
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        self.cas = load_ca_file(path)?;
        Ok(self)
    }

    /// The CAs, DER.
    pub fn ca_certs(mut self, cas: Vec<CertificateDer<'static>>) -> Self {
        self.cas = cas;
        self
    }

    /// `verifyhost`: the name the server certificate must carry, whatever SNI is sent.
    pub fn verifyhost(mut self, name: impl Into<String>) -> Self {
        self.verifyhost = Some(name.into());
        self
    }

    /// `sni <name>`: the server name sent on every connection (a [`TlsTarget`] overrides
    /// it). Default is none: no SNI is sent.
    pub fn sni(mut self, name: impl Into<String>) -> Self {
        self.sni = Some(name.into());
        self
    }

    /// `crt`: the client certificate to present when the server asks for one.
    pub fn client_cert(mut self, cert: Cert) -> Self {
        self.client_cert = Some(cert);
        self
    }

    /// `alpn h2,http/1.1`: the protocols offered to the server.
    ///
    /// # Errors
    /// [`TlsError::Config`] for a malformed list.
    pub fn alpn(mut self, list: &str) -> Result<Self, TlsError> {
        self.alpn = parse_alpn(list)?;
        Ok(self)
    }

    /// `ssl-min-ver`. Default is TLSv1.2.
    pub fn min_version(mut self, v: TlsVersion) -> Self {
        self.protocols.min = Some(v);
        self
    }

    /// `ssl-max-ver`. Default is TLSv1.3.
    pub fn max_version(mut self, v: TlsVersion) -> Self {
        self.protocols.max = Some(v);
        self
    }

    /// `ciphers` (TLS 1.2), OpenSSL syntax; see
    /// [`TlsAcceptorBuilder::ciphers`](crate::TlsAcceptorBuilder::ciphers).
    pub fn ciphers(mut self, list: &str) -> Self {
        self.protocols.ciphers = Some(list.into());
        self
    }

    /// `ciphersuites` (TLS 1.3).
    pub fn ciphersuites(mut self, list: &str) -> Self {
        self.protocols.ciphersuites = Some(list.into());
        self
    }

    /// Sessions remembered for resumption (`no-ssl-reuse` is 0). Default is 256.
    pub fn session_cache(mut self, sessions: usize) -> Self {
        self.sessions = sessions;
        self
    }

    /// How long a handshake may take. Default is 10 s.
    pub fn handshake_timeout(mut self, after: Duration) -> Self {
        self.handshake_timeout = after;
        self
    }

    /// Builds the connector over `inner`.
    ///
    /// # Errors
    /// [`TlsError::Config`] for bad options (versions, ciphers, an unusable CA, a bad SNI
    /// or verifyhost name), [`TlsError::Rustls`] when rustls refuses the result.
    pub fn build<C>(self, inner: C) -> Result<TlsConnect<C>, TlsError> {
        let (provider, versions) = self.protocols.resolve()?;
        let verifyhost = self
            .verifyhost
            .as_deref()
            .map(|n| server_name(n, "verifyhost"))
            .transpose()?;
        let sni = self
            .sni
            .as_deref()
            .map(|n| server_name(n, "sni"))
            .transpose()?;
        let verifier = Arc::new(ServerVerifier {
            roots: Arc::new(roots(&self.cas, "ca-file")?),
            verifyhost,
            verify: self.verify,
            provider: Arc::clone(&provider),
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(TlsError::Rustls)?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match self.client_cert {
            Some(cert) => builder.with_client_cert_resolver(Arc::new(ClientCertResolver(
                Arc::clone(cert.certified_key()),
            ))),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn;
        config.resumption = if self.sessions == 0 {
            rustls::client::Resumption::disabled()
        } else {
            rustls::client::Resumption::in_memory_sessions(self.sessions)
        };
        Ok(TlsConnect {
            inner,
            shared: Arc::new(Shared {
                config: Arc::new(config),
                sni,
                timeout: self.handshake_timeout,
                name: self.name,
            }),
        })
    }
}

/// A name for SNI or verification: a DNS name or an IP address.
fn server_name(name: &str, option: &'static str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(name.to_owned()).map_err(|e| TlsError::Config {
        option,
        reason: format!("{name:?}: {e}"),
    })
}

/// Configuration shared by clones.
#[derive(Debug)]
struct Shared {
    config: Arc<ClientConfig>,
    sni: Option<ServerName<'static>>,
    timeout: Duration,
    name: Option<String>,
}

/// A connector that adds TLS to an lb-tcp connector; see the [module docs](self).
///
/// A `Service<Address>` (fixed SNI) and a `Service<TlsTarget>` (SNI per connection), with
/// `TlsStream<Stream>` as the response. Cheap to clone; clones share the session cache.
///
/// # Examples
/// ```
/// use lb_tls::{TlsConnect, Verify};
/// use lb_tcp::connect::TcpConnect;
///
/// let connect = TlsConnect::builder()
///     .verify(Verify::None)
///     .sni("api.internal")
///     .alpn("h2,http/1.1")?
///     .build(TcpConnect::new())?;
/// assert_eq!(connect.config().alpn_protocols.len(), 2);
/// # Ok::<(), lb_tls::TlsError>(())
/// ```
#[derive(Clone)]
pub struct TlsConnect<C> {
    inner: C,
    shared: Arc<Shared>,
}

impl<C: fmt::Debug> fmt::Debug for TlsConnect<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnect")
            .field("inner", &self.inner)
            .field("sni", &self.shared.sni)
            .field("alpn", &self.shared.config.alpn_protocols)
            .field("timeout", &self.shared.timeout)
            .finish_non_exhaustive()
    }
}

impl TlsConnect<()> {
    /// A builder.
    pub fn builder() -> TlsConnectBuilder {
        TlsConnectBuilder {
            verify: Verify::Required,
            cas: Vec::new(),
            verifyhost: None,
            sni: None,
            client_cert: None,
            alpn: Vec::new(),
            protocols: Protocols::default(),
            sessions: DEFAULT_CLIENT_SESSIONS,
            handshake_timeout: DEFAULT_CONNECT_HANDSHAKE_TIMEOUT,
            name: None,
        }
    }
}

impl<C> TlsConnect<C> {
    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.shared.config
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

/// The future of [`TlsConnect`].
pub type TlsConnectFuture =
    Pin<Box<dyn Future<Output = Result<TlsStream<Stream>, TlsError>> + Send>>;

impl<C, R> Service<R> for TlsConnect<C>
where
    C: Service<Address, Response = Stream, Error = std::io::Error> + Send + 'static,
    C::Future: Send + 'static,
    R: Into<TlsTarget>,
{
    type Response = TlsStream<Stream>;
    type Error = TlsError;
    type Future = TlsConnectFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TlsError>> {
        self.inner.poll_ready(cx).map_err(TlsError::Io)
    }

    fn call(&mut self, target: R) -> Self::Future {
        let target = target.into();
        let shared = Arc::clone(&self.shared);
        let sni = match target
            .sni
            .as_deref()
            .map(|n| server_name(n, "sni"))
            .transpose()
        {
            Ok(sni) => sni.or_else(|| shared.sni.clone()),
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let addr = target.addr.clone();
        let connecting = self.inner.call(target.addr);
        Box::pin(async move {
            let stream = connecting.await.map_err(TlsError::Io)?;
            // Without SNI, rustls needs a name anyway: an IP address sends none.
            let name = sni.clone().unwrap_or_else(|| {
                let ip = addr
                    .as_inet()
                    .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.ip());
                ServerName::IpAddress(ip.into())
            });
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(&shared.config));
            let handshake = connector.connect(name, stream);
            let result = match tokio::time::timeout(shared.timeout, handshake).await {
                Ok(r) => r.map_err(TlsError::from_handshake_io),
                Err(_) => Err(TlsError::HandshakeTimeout(shared.timeout)),
            };
            if let Err(e) = &result {
                // One line per failure, with rustls' reason ("invalid peer certificate:
                // UnknownIssuer") rather than our wrapper's prefix.
                let reason = match e {
                    TlsError::Handshake(tls) => tls.to_string(),
                    TlsError::Io(io) => io.to_string(),
                    other => other.to_string(),
                };
                let name = shared.name.clone().unwrap_or_else(|| addr.to_string());
                tracing::warn!(
                    target: "lb_tls::handshake",
                    server = %addr,
                    sni = sni.as_ref().map_or("-".into(), |n| n.to_str()).as_ref(),
                    "TLS handshake with server {name} failed: {reason}"
                );
            }
            result
        })
    }
}

/// Presents one client certificate.
#[derive(Debug)]
struct ClientCertResolver(Arc<CertifiedKey>);

impl ResolvesClientCert for ClientCertResolver {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// HAProxy's server certificate verification; see the [module docs](self).
#[derive(Debug)]
struct ServerVerifier {
    roots: Arc<RootCertStore>,
    verifyhost: Option<ServerName<'static>>,
    verify: Verify,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.verify == Verify::None {
            // Insecure by request (`verify none`): see TlsConnectBuilder::verify.
            return Ok(ServerCertVerified::assertion());
        }
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        match (&self.verifyhost, server_name) {
            (Some(host), _) => verify_server_name(&cert, host)?,
            // A DNS name was sent as SNI: check it.
            (None, ServerName::DnsName(_)) => verify_server_name(&cert, server_name)?,
            // No SNI and no verifyhost: chain only, as HAProxy.
            (None, _) => {}
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

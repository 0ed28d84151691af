//! TLS termination: [`TlsAcceptor`] (built from HAProxy `bind ... ssl` options by
//! [`TlsAcceptorBuilder`]), the [`TlsAccept`] middleware over lb-tcp's accept loop, and
//! [`TlsInfo`], the facts of an accepted connection.
//!
//! # Organization
//! - [`TlsAcceptorBuilder`]: `crt` (a [`CertStore`]), `alpn`, `ssl-min-ver`/`ssl-max-ver`,
//!   `ciphers`/`ciphersuites`, `ca-file`/`verify`/`crl-file`, `tls-ticket-keys`, session
//!   cache, handshake timeout.
//! - [`TlsAcceptor::accept`]: one handshake, with a log line when it fails.
//! - [`TlsAccept`]/[`TlsAcceptLayer`]: the same as a tower middleware over `(IO, Peer)`.
//! - [`TlsInfo`], [`ClientCert`]: `ssl_fc_*` and `ssl_c_*`, PROXY v2 SSL TLVs.

mod info;
mod service;

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use rustls::server::{
    ClientHello, NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache,
    StoresServerSessions,
};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;

pub use self::info::{ClientCert, TlsInfo};
pub use self::service::{TlsAccept, TlsAcceptLayer};
use crate::cert_store::{CertStore, LineOptions};
use crate::client_auth::{load_ca_file, load_crl_file, ClientAuth, Verify};
use crate::error::TlsError;
use crate::options::{parse_alpn, Protocols, TlsVersion};
use crate::tickets::TicketKeys;

/// Default handshake timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default size of the server session cache, in sessions (HAProxy `tune.ssl.cachesize`).
pub const DEFAULT_SESSION_CACHE: usize = 20_000;

/// Builds a [`TlsAcceptor`] from HAProxy `bind ... ssl` options.
///
/// Defaults are secure: TLS 1.2 and 1.3, rustls's AEAD-only ECDHE suites in server order,
/// no client certificate, session tickets with a random key, a session cache of 20,000.
#[derive(Debug)]
#[must_use]
pub struct TlsAcceptorBuilder {
    store: Arc<CertStore>,
    alpn: Vec<Vec<u8>>,
    protocols: Protocols,
    client_auth: ClientAuth,
    handshake_timeout: Duration,
    tickets: Option<Arc<TicketKeys>>,
    no_tickets: bool,
    session_cache: usize,
    prefer_client_ciphers: bool,
}

impl TlsAcceptorBuilder {
    /// `alpn h2,http/1.1`: the protocols offered, most preferred first. Default is none.
    ///
    /// # Errors
    /// [`TlsError::Config`] for a malformed list.
    pub fn alpn(mut self, list: &str) -> Result<Self, TlsError> {
        self.alpn = parse_alpn(list)?;
        Ok(self)
    }

    /// The ALPN protocol ids, most preferred first.
    pub fn alpn_protocols(mut self, protocols: Vec<Vec<u8>>) -> Self {
        self.alpn = protocols;
        self
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

    /// `ciphers`: the TLS 1.2 cipher list, OpenSSL syntax, server preference order. Only
    /// the ECDHE AEAD suites exist in rustls; other names are skipped, and a list that
    /// leaves none fails at [`build`](Self::build). Default is all of them.
    pub fn ciphers(mut self, list: &str) -> Self {
        self.protocols.ciphers = Some(list.into());
        self
    }

    /// `ciphersuites`: the TLS 1.3 suites, `:`-separated. Default is all three.
    pub fn ciphersuites(mut self, list: &str) -> Self {
        self.protocols.ciphersuites = Some(list.into());
        self
    }

    /// `prefer-client-ciphers`: follow the client's suite order rather than ours. Default
    /// is off (server order, as HAProxy).
    pub fn prefer_client_ciphers(mut self, yes: bool) -> Self {
        self.prefer_client_ciphers = yes;
        self
    }

    /// `verify none|optional|required`. Default is none; the others need a CA
    /// ([`ca_file`](Self::ca_file) or [`client_cas`](Self::client_cas)).
    pub fn verify(mut self, verify: Verify) -> Self {
        self.client_auth.verify = verify;
        self
    }

    /// `ca-file`: the CAs client certificates must chain to (PEM, one or more). Reads the
    /// file now.
    ///
    /// # Errors
    /// [`TlsError::Read`], [`TlsError::Pem`], [`TlsError::NoCertificate`].
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        self.client_auth.cas = load_ca_file(path)?;
        Ok(self)
    }

    /// The client CAs, DER.
    pub fn client_cas(mut self, cas: Vec<CertificateDer<'static>>) -> Self {
        self.client_auth.cas = cas;
        self
    }

    /// `crl-file`: revoked client certificates (PEM or DER). Reads the file now.
    ///
    /// # Errors
    /// [`TlsError::Read`], [`TlsError::BadCrl`].
    pub fn crl_file(mut self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        self.client_auth.crls = load_crl_file(path)?;
        Ok(self)
    }

    /// The CRLs, DER.
    pub fn crls(mut self, crls: Vec<CertificateRevocationListDer<'static>>) -> Self {
        self.client_auth.crls = crls;
        self
    }

    /// How long a handshake may take. Default is 10 s.
    pub fn handshake_timeout(mut self, after: Duration) -> Self {
        self.handshake_timeout = after;
        self
    }

    /// `tls-ticket-keys`: the session ticket keys (keep a clone of the `Arc` to rotate
    /// them). Default is one random key.
    pub fn tickets(mut self, keys: Arc<TicketKeys>) -> Self {
        self.tickets = Some(keys);
        self.no_tickets = false;
        self
    }

    /// `no-tls-tickets`: no stateless resumption (the session cache still works).
    pub fn no_tls_tickets(mut self) -> Self {
        self.no_tickets = true;
        self.tickets = None;
        self
    }

    /// Server session cache size in sessions (session-id resumption, and TLS 1.3
    /// resumption when tickets are off); 0 turns it off. Default is 20,000.
    pub fn session_cache(mut self, sessions: usize) -> Self {
        self.session_cache = sessions;
        self
    }

    /// Builds the acceptor.
    ///
    /// The SSL options of the store's `crt-list` lines (`[alpn h2 ssl-min-ver TLSv1.3
    /// verify required ca-file ca.pem]`) override these for handshakes whose SNI selects
    /// the line: one rustls configuration per line, built here for the lines already in
    /// the store (lines added later get theirs on their first handshake).
    ///
    /// # Errors
    /// [`TlsError::Config`] for inconsistent options (versions, ciphers, `verify` without
    /// a CA), [`TlsError::Rustls`] when rustls refuses the result, [`TlsError::CrtList`]
    /// naming the crt-list line whose options cannot be combined with these.
    pub fn build(self) -> Result<TlsAcceptor, TlsError> {
        let session_storage: Arc<dyn StoresServerSessions> = if self.session_cache == 0 {
            Arc::new(NoServerSessionStorage {})
        } else {
            ServerSessionMemoryCache::new(self.session_cache)
        };
        let ticketer: Option<Arc<dyn ProducesTickets>> = match (self.no_tickets, self.tickets) {
            (true, _) => None,
            (false, Some(keys)) => Some(keys),
            (false, None) => Some(Arc::new(TicketKeys::random()?)),
        };
        let base = Base {
            store: self.store,
            alpn: self.alpn,
            protocols: self.protocols,
            client_auth: self.client_auth,
            prefer_client_ciphers: self.prefer_client_ciphers,
            session_storage,
            ticketer,
        };
        let config = Arc::new(base.config(None)?);
        let lines = Lines {
            configs: Mutex::new(HashMap::new()),
            base,
        };
        for line in lines.base.store.line_options() {
            lines.config(&line)?;
        }
        Ok(TlsAcceptor {
            config,
            timeout: self.handshake_timeout,
            verify: lines.base.client_auth.verify,
            lines: Some(Arc::new(lines)),
        })
    }
}

/// What the configurations of an acceptor are made from.
struct Base {
    store: Arc<CertStore>,
    alpn: Vec<Vec<u8>>,
    protocols: Protocols,
    client_auth: ClientAuth,
    prefer_client_ciphers: bool,
    session_storage: Arc<dyn StoresServerSessions>,
    ticketer: Option<Arc<dyn ProducesTickets>>,
}

impl Base {
    /// The rustls configuration of the bind line, with a crt-list line's options over it.
    fn config(&self, line: Option<&LineOptions>) -> Result<ServerConfig, TlsError> {
        let mut protocols = self.protocols.clone();
        let mut client_auth = self.client_auth.clone();
        let mut alpn = &self.alpn;
        if let Some(o) = line {
            protocols.min = o.min.or(protocols.min);
            protocols.max = o.max.or(protocols.max);
            if let Some(c) = &o.ciphers {
                protocols.ciphers = Some(c.clone());
            }
            if let Some(c) = &o.ciphersuites {
                protocols.ciphersuites = Some(c.clone());
            }
            client_auth.verify = o.verify.unwrap_or(client_auth.verify);
            if let Some(cas) = &o.cas {
                client_auth.cas.clone_from(cas);
            }
            if let Some(crls) = &o.crls {
                client_auth.crls.clone_from(crls);
            }
            alpn = o.alpn.as_ref().unwrap_or(alpn);
        }
        let (provider, versions) = protocols.resolve()?;
        let verifier = client_auth.verifier()?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(TlsError::Rustls)?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::clone(&self.store) as _);
        config.alpn_protocols.clone_from(alpn);
        config.ignore_client_order = !self.prefer_client_ciphers;
        config.session_storage = Arc::clone(&self.session_storage);
        if let Some(t) = &self.ticketer {
            config.ticketer = Arc::clone(t);
        }
        Ok(config)
    }
}

/// The configurations of the crt-list lines with SSL options, by line.
struct Lines {
    base: Base,
    configs: Mutex<HashMap<u64, Arc<ServerConfig>>>,
}

impl Lines {
    /// The configuration of `line`, built on first use.
    fn config(&self, line: &LineOptions) -> Result<Arc<ServerConfig>, TlsError> {
        let mut configs = self.configs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = configs.get(&line.id) {
            return Ok(Arc::clone(c));
        }
        let config = Arc::new(self.base.config(Some(line)).map_err(|e| line.error(e))?);
        configs.insert(line.id, Arc::clone(&config));
        Ok(config)
    }

    /// The configuration for a ClientHello: its line's, if the certificate it gets comes
    /// from a crt-list line with options.
    fn for_hello(&self, hello: &ClientHello<'_>) -> Result<Option<Arc<ServerConfig>>, TlsError> {
        match self
            .base
            .store
            .lookup_options(hello.server_name(), hello.signature_schemes())
        {
            Some(line) => self.config(&line).map(Some),
            None => Ok(None),
        }
    }
}

/// Accepts TLS connections; see [`TlsAcceptorBuilder`]. Cheap to clone.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use lb_tls::{CertStore, TlsAcceptor, TlsVersion, Verify};
///
/// let acceptor = TlsAcceptor::builder(Arc::new(CertStore::new()))
///     .alpn("h2,http/1.1")?
///     .min_version(TlsVersion::Tls12)
///     .ciphersuites("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")
///     .verify(Verify::None)
///     .build()?;
/// assert_eq!(acceptor.config().alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
/// # Ok::<(), lb_tls::TlsError>(())
/// ```
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
    timeout: Duration,
    verify: Verify,
    /// Per crt-list line configurations (`None` for [`TlsAcceptor::from_config`]).
    lines: Option<Arc<Lines>>,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("config", &self.config)
            .field("timeout", &self.timeout)
            .field("verify", &self.verify)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// A builder serving the certificates of `store`.
    pub fn builder(store: Arc<CertStore>) -> TlsAcceptorBuilder {
        TlsAcceptorBuilder {
            store,
            alpn: Vec::new(),
            protocols: Protocols::default(),
            client_auth: ClientAuth::default(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            tickets: None,
            no_tickets: false,
            session_cache: DEFAULT_SESSION_CACHE,
            prefer_client_ciphers: false,
        }
    }

    /// An acceptor over a rustls configuration built elsewhere.
    pub fn from_config(config: Arc<ServerConfig>, handshake_timeout: Duration) -> Self {
        Self {
            config,
            timeout: handshake_timeout,
            verify: Verify::None,
            lines: None,
        }
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The handshake timeout.
    pub fn handshake_timeout(&self) -> Duration {
        self.timeout
    }

    /// The client certificate policy.
    pub fn verify(&self) -> Verify {
        self.verify
    }

    /// Runs the server handshake on `io`.
    ///
    /// A failure is logged at `info` on target `lb_tls::handshake`, with the server name
    /// when the ClientHello got that far and the reason from rustls; spans of the caller
    /// (peer address, frontend) apply.
    ///
    /// # Errors
    /// [`TlsError::HandshakeTimeout`], [`TlsError::Handshake`] (the rustls reason: no
    /// certificate for the name, bad client certificate, no common protocol or suite, an
    /// alert from the client), [`TlsError::Io`] (the client went away).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future drops `io`.
    pub async fn accept<IO>(&self, io: IO) -> Result<TlsStream<IO>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let mut sni: Option<String> = None;
        let handshake = async {
            let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io)
                .await
                .map_err(TlsError::from_handshake_io)?;
            let hello = start.client_hello();
            sni = hello.server_name().map(str::to_owned);
            let line = match &self.lines {
                Some(lines) => lines.for_hello(&hello)?,
                None => None,
            };
            let config = line.unwrap_or_else(|| Arc::clone(&self.config));
            start
                .into_stream(config)
                .await
                .map_err(TlsError::from_handshake_io)
        };
        let result = match tokio::time::timeout(self.timeout, handshake).await {
            Ok(result) => result,
            Err(_) => Err(TlsError::HandshakeTimeout(self.timeout)),
        };
        if let Err(e) = &result {
            tracing::info!(target: "lb_tls::handshake", sni = sni.as_deref().unwrap_or("-"), error = %e, "TLS handshake failed");
        }
        result
    }
}

/// The boxed future of [`TlsAcceptor`] as a service.
pub type AcceptFuture<IO> = Pin<Box<dyn Future<Output = Result<TlsStream<IO>, TlsError>> + Send>>;

impl<IO> tower::Service<IO> for TlsAcceptor
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Response = TlsStream<IO>;
    type Error = TlsError;
    type Future = AcceptFuture<IO>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), TlsError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, io: IO) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.accept(io).await })
    }
}

//! TLS termination and origination for lb, on rustls with the aws-lc-rs provider:
//! HAProxy's `bind ... ssl crt ...` and `server ... ssl ...`.
//!
//! # Examples
//! A certificate store, an acceptor and a connector, one handshake over the in-memory
//! network, and the TLS facts of the accepted connection:
//! ```
//! use std::sync::Arc;
//! use lb_tcp::mem::MemNetwork;
//! use lb_tls::{Cert, CertStore, TlsAcceptor, TlsConnect, TlsInfo, TlsTarget};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A CA and a certificate for www.example.com (rcgen stands in for real files).
//! let ca_key = rcgen::KeyPair::generate()?;
//! let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
//! ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
//! let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key)?;
//! let key = rcgen::KeyPair::generate()?;
//! let leaf = rcgen::CertificateParams::new(vec!["www.example.com".into()])?.signed_by(&key, &ca)?;
//!
//! // bind :443 ssl crt site.pem alpn h2,http/1.1
//! let store = Arc::new(CertStore::new());
//! store.add("site.pem", Cert::from_pem_parts(leaf.pem().as_bytes(), key.serialize_pem().as_bytes())?)?;
//! let acceptor = TlsAcceptor::builder(Arc::clone(&store)).alpn("h2,http/1.1")?.build()?;
//!
//! // server www 10.0.0.1:443 ssl ca-file ca.pem alpn h2 (on the in-memory network)
//! let net = MemNetwork::new();
//! let listener = net.bind("www")?;
//! let connect = TlsConnect::builder()
//!     .ca_certs(vec![ca.der().clone()])
//!     .alpn("h2")?
//!     .build(net.connector())?;
//!
//! let target = TlsTarget::new("mem@www".parse()?, "www.example.com");
//! let (client, server) = tokio::join!(connect.oneshot(target), async {
//!     let (stream, _peer) = listener.accept().await?;
//!     Ok::<_, Box<dyn std::error::Error>>(acceptor.accept(stream).await?)
//! });
//! let (client, server) = (client?, server?);
//! let info = TlsInfo::of(&server);
//! assert_eq!(info.sni(), Some("www.example.com"));
//! assert_eq!(info.alpn(), Some(&b"h2"[..]));
//! assert_eq!(info.version(), "TLSv1.3");
//! assert!(!info.client_cert_used());
//! assert_eq!(client.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
//! # Ok(())
//! # }
//! ```
//!
//! # Organization
//! - [`cert_store`]: [`CertStore`] (SNI, wildcards, RSA+ECDSA, default certificate, hot
//!   updates, `set/commit/abort ssl cert`), [`Cert`], `crt-list` parsing.
//! - [`accept`]: [`TlsAcceptor`] and its builder (ALPN, versions, ciphers, client
//!   certificates, tickets, session cache, handshake timeout), the [`TlsAccept`]
//!   middleware, [`TlsInfo`] (`ssl_fc_*`, `ssl_c_*`, PROXY v2 SSL TLVs).
//! - [`tickets`]: [`TicketKeys`] (`tls-ticket-keys`, rotation).
//! - [`connect`]: [`TlsConnect`] (verification, verifyhost, SNI, client certificate, ALPN,
//!   resumption towards servers).
//!
//! # Crypto provider
//! aws-lc-rs. Its `aws-lc-sys` builds from C with the `cc` crate and pregenerated
//! bindings on Linux x86_64/aarch64: a C compiler is all it needs (no cmake, clang or NASM).

pub mod accept;
pub mod cert_store;
mod client_auth;
pub mod connect;
mod error;
mod options;
pub mod tickets;
mod x509;

pub use accept::{ClientCert, TlsAccept, TlsAcceptLayer, TlsAcceptor, TlsAcceptorBuilder, TlsInfo};
pub use cert_store::{
    parse_crt_list, Binding, Cert, CertBatch, CertStore, CrtListLine, SniFilters,
};
pub use client_auth::{load_ca_file, load_crl_file, Verify};
pub use connect::{TlsConnect, TlsConnectBuilder, TlsTarget};
pub use error::TlsError;
pub use options::{parse_alpn, TlsVersion};
/// The rustls version this crate is built on, for types in its API.
pub use rustls;
pub use tickets::TicketKeys;
/// The tokio-rustls version this crate is built on (its `TlsStream`s are in the API).
pub use tokio_rustls;

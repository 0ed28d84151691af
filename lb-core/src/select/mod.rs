//! Balancing algorithms and the pure selection API.
//!
//! An [`Algorithm`] plus a [`Snapshot`](crate::Snapshot) of a backend decide which server
//! takes a request, given the request's [`RequestKey`]: the key material a protocol layer
//! extracts (source address, URI, headers, payload, SNI). Selection needs no runtime:
//!
//! ```
//! use lb_core::{Algorithm, Backend, BalanceConfig, RequestKey, ServerConfig};
//! use tokio::time::Instant;
//!
//! let backend = Backend::new(
//!     "app",
//!     BalanceConfig::new(Algorithm::Source),
//!     ["127.0.0.1:8001", "127.0.0.1:8002"]
//!         .iter()
//!         .enumerate()
//!         .map(|(i, a)| ServerConfig::new(format!("s{i}"), a.parse().unwrap())),
//! )
//! .unwrap();
//! let key = RequestKey::new().source("192.0.2.7".parse().unwrap());
//! let snap = backend.snapshot();
//! let first = snap.pick(&key, Instant::now()).unwrap().name().to_owned();
//! // The same client always lands on the same server.
//! for _ in 0..10 {
//!     assert_eq!(snap.pick(&key, Instant::now()).unwrap().name(), first);
//! }
//! ```

pub mod hash;
pub(crate) mod least_conn;
pub(crate) mod map;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::server::ServerId;
use hash::{HashMethod, HashType, UriOptions};

/// A balancing algorithm (`balance` keyword) with its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// Smooth weighted round robin; dynamic weights and slow start.
    RoundRobin,
    /// Static weighted round robin over a precomputed map; no slow start.
    StaticRr,
    /// Fewest in-flight per weight; ties rotate; idle servers first.
    LeastConn,
    /// The first server by id with a free connection slot.
    First,
    /// `random(draws)`: the least loaded of `draws` weighted random picks (2 = P2C).
    Random {
        /// Number of draws, at least 1.
        draws: u32,
    },
    /// Hash of the client address.
    Source,
    /// Hash of the request URI.
    Uri(UriOptions),
    /// Hash of a query-string parameter.
    UrlParam {
        /// The parameter name (case sensitive).
        name: Arc<str>,
        /// With `check_post`: look in a form body when the query lacks the parameter.
        check_post: bool,
    },
    /// Hash of a request header value.
    Hdr {
        /// The header name (case insensitive).
        name: http::HeaderName,
        /// Hash only the domain label before the TLD (`use_domain_only`).
        use_domain_only: bool,
    },
    /// Hash of an RDP cookie (`mstshash` by default) from the connection payload.
    RdpCookie {
        /// Cookie name.
        name: Arc<str>,
    },
    /// Hash of an arbitrary key the protocol layer computes (`balance hash <expr>`).
    Hash,
}

impl Algorithm {
    /// The algorithm's HAProxy keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            Algorithm::RoundRobin => "roundrobin",
            Algorithm::StaticRr => "static-rr",
            Algorithm::LeastConn => "leastconn",
            Algorithm::First => "first",
            Algorithm::Random { .. } => "random",
            Algorithm::Source => "source",
            Algorithm::Uri(_) => "uri",
            Algorithm::UrlParam { .. } => "url_param",
            Algorithm::Hdr { .. } => "hdr",
            Algorithm::RdpCookie { .. } => "rdp-cookie",
            Algorithm::Hash => "hash",
        }
    }

    /// `random` with the default two draws (power of two choices).
    pub const fn random() -> Self {
        Algorithm::Random { draws: 2 }
    }

    /// `rdp-cookie` with the default cookie name `mstshash`.
    pub fn rdp_cookie() -> Self {
        Algorithm::RdpCookie {
            name: "mstshash".into(),
        }
    }

    /// Whether this algorithm hashes a key.
    pub fn is_hash(&self) -> bool {
        matches!(
            self,
            Algorithm::Source
                | Algorithm::Uri(_)
                | Algorithm::UrlParam { .. }
                | Algorithm::Hdr { .. }
                | Algorithm::RdpCookie { .. }
                | Algorithm::Hash
        )
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// How a backend balances: the algorithm and its tuning.
///
/// # Examples
/// ```
/// use lb_core::{Algorithm, BalanceConfig, HashType};
/// let cfg = BalanceConfig::new(Algorithm::Source)
///     .hash_type(HashType::consistent())
///     .hash_balance_factor(150);
/// assert!(cfg.is_dynamic());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceConfig {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Map-based or consistent hashing, and the hash function (hash algorithms only).
    pub hash_type: HashType,
    /// Bounded-load factor in percent (`hash-balance-factor`); 0 = off. Applies to
    /// consistent hashing and random.
    pub hash_balance_factor: u32,
    /// With no usable active server, balance over all usable backups instead of only the
    /// first one (`option allbackups`).
    pub allbackups: bool,
    /// Most requests waiting in the backend queue; 0 = unlimited.
    pub maxqueue: usize,
    /// How long a request may wait in the queue (`timeout queue`); `None` = forever.
    pub queue_timeout: Option<Duration>,
}

impl BalanceConfig {
    /// A configuration with HAProxy's defaults for everything but the algorithm.
    pub fn new(algorithm: Algorithm) -> Self {
        BalanceConfig {
            algorithm,
            hash_type: HashType::default(),
            hash_balance_factor: 0,
            allbackups: false,
            maxqueue: 0,
            queue_timeout: None,
        }
    }

    /// Sets the hash type.
    pub fn hash_type(mut self, t: HashType) -> Self {
        self.hash_type = t;
        self
    }

    /// Sets the bounded-load factor (percent, > 100; 0 = off).
    pub fn hash_balance_factor(mut self, f: u32) -> Self {
        self.hash_balance_factor = f;
        self
    }

    /// Sets `option allbackups`.
    pub fn allbackups(mut self, on: bool) -> Self {
        self.allbackups = on;
        self
    }

    /// Sets the backend queue limit (0 = unlimited).
    pub fn maxqueue(mut self, n: usize) -> Self {
        self.maxqueue = n;
        self
    }

    /// Sets the queue timeout.
    pub fn queue_timeout(mut self, t: Duration) -> Self {
        self.queue_timeout = Some(t);
        self
    }

    /// Whether weights may change at runtime freely and slow start applies (roundrobin,
    /// leastconn, first, random and consistent hashing), as opposed to static-rr and
    /// map-based hashing.
    pub fn is_dynamic(&self) -> bool {
        match self.algorithm {
            Algorithm::StaticRr => false,
            ref a if a.is_hash() => self.hash_type.method == HashMethod::Consistent,
            _ => true,
        }
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a zero `random` draw count or a
    /// balance factor between 1 and 100.
    pub fn validate(&self) -> Result<(), crate::Error> {
        if let Algorithm::Random { draws: 0 } = self.algorithm {
            return Err(crate::Error::InvalidConfig(
                "random needs at least one draw".into(),
            ));
        }
        if self.hash_balance_factor != 0 && self.hash_balance_factor <= 100 {
            return Err(crate::Error::InvalidConfig(format!(
                "hash-balance-factor {} must be 0 (off) or above 100",
                self.hash_balance_factor
            )));
        }
        Ok(())
    }
}

impl Default for BalanceConfig {
    /// `random`, HAProxy's default algorithm since 3.3.
    fn default() -> Self {
        BalanceConfig::new(Algorithm::random())
    }
}

/// Looks up request header values for `hdr(name)` balancing.
pub trait HeaderSource {
    /// The first value of header `name` (case-insensitive), if any.
    fn header(&self, name: &http::HeaderName) -> Option<&[u8]>;
}

impl HeaderSource for http::HeaderMap {
    fn header(&self, name: &http::HeaderName) -> Option<&[u8]> {
        self.get(name).map(|v| v.as_bytes())
    }
}

impl HeaderSource for [(&str, &str)] {
    fn header(&self, name: &http::HeaderName) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            .map(|(_, v)| v.as_bytes())
    }
}

/// The key material of one request or connection, filled by the protocol layer.
///
/// Every field is optional; an algorithm whose key is missing falls back to round robin,
/// as HAProxy does.
#[derive(Clone, Copy, Default)]
pub struct RequestKey<'a> {
    /// The client address (after PROXY protocol, if any).
    pub source: Option<IpAddr>,
    /// The request target (origin-form or absolute-form URI).
    pub uri: Option<&'a str>,
    /// The request headers.
    pub headers: Option<&'a (dyn HeaderSource + Sync)>,
    /// The first bytes of a request body (url_param check_post), already buffered.
    pub body: Option<&'a [u8]>,
    /// The first bytes of a TCP payload (rdp-cookie).
    pub payload: Option<&'a [u8]>,
    /// The TLS server name.
    pub sni: Option<&'a str>,
    /// A precomputed key for `balance hash`.
    pub hash_key: Option<&'a [u8]>,
    /// A server to avoid if any other is usable (redispatch after a failure).
    pub avoid: Option<ServerId>,
}

impl fmt::Debug for RequestKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestKey")
            .field("source", &self.source)
            .field("uri", &self.uri)
            .field("headers", &self.headers.map(|_| ".."))
            .field("body", &self.body.map(<[u8]>::len))
            .field("payload", &self.payload.map(<[u8]>::len))
            .field("sni", &self.sni)
            .field("hash_key", &self.hash_key)
            .field("avoid", &self.avoid)
            .finish()
    }
}

impl<'a> RequestKey<'a> {
    /// An empty key.
    pub fn new() -> Self {
        RequestKey::default()
    }

    /// Sets the client address.
    pub fn source(mut self, ip: IpAddr) -> Self {
        self.source = Some(ip);
        self
    }

    /// Sets the request target.
    pub fn uri(mut self, uri: &'a str) -> Self {
        self.uri = Some(uri);
        self
    }

    /// Sets the headers.
    pub fn headers(mut self, h: &'a (dyn HeaderSource + Sync)) -> Self {
        self.headers = Some(h);
        self
    }

    /// Sets the buffered start of the body.
    pub fn body(mut self, b: &'a [u8]) -> Self {
        self.body = Some(b);
        self
    }

    /// Sets the buffered start of a TCP payload.
    pub fn payload(mut self, p: &'a [u8]) -> Self {
        self.payload = Some(p);
        self
    }

    /// Sets the TLS server name.
    pub fn sni(mut self, sni: &'a str) -> Self {
        self.sni = Some(sni);
        self
    }

    /// Sets a precomputed hash key.
    pub fn hash_key(mut self, k: &'a [u8]) -> Self {
        self.hash_key = Some(k);
        self
    }

    /// Sets a server to avoid.
    pub fn avoid(mut self, id: ServerId) -> Self {
        self.avoid = Some(id);
        self
    }

    /// The hash of this key under `algorithm`, or `None` when the key material is absent
    /// (the caller then falls back to round robin).
    pub fn hash(&self, algorithm: &Algorithm, hash_type: &HashType) -> Option<u32> {
        match algorithm {
            Algorithm::Source => {
                let h = hash::source_hash(self.source?);
                Some(if hash_type.avalanche {
                    hash::avalanche(h)
                } else {
                    h
                })
            }
            Algorithm::Uri(opts) => {
                let k = hash::uri_key(self.uri?, opts);
                Some(hash_type.hash(k.as_bytes()))
            }
            Algorithm::UrlParam { name, check_post } => {
                let v = self
                    .uri
                    .and_then(|u| hash::url_param(u, name))
                    .map(str::as_bytes)
                    .or_else(|| {
                        if *check_post {
                            self.body.and_then(|b| hash::url_param_in_body(b, name))
                        } else {
                            None
                        }
                    })?;
                Some(hash_type.hash(v))
            }
            Algorithm::Hdr {
                name,
                use_domain_only,
            } => {
                let v = self.headers?.header(name)?;
                if v.is_empty() {
                    return None;
                }
                if *use_domain_only {
                    let s = std::str::from_utf8(v).ok()?;
                    Some(hash_type.hash(hash::domain_only(s).as_bytes()))
                } else {
                    Some(hash_type.hash(v))
                }
            }
            Algorithm::RdpCookie { name } => {
                let v = hash::rdp_cookie(self.payload?, name)?;
                Some(hash_type.hash(v))
            }
            Algorithm::Hash => Some(hash_type.hash(self.hash_key?)),
            _ => None,
        }
    }
}

/// Why no server was picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// No server is usable at all.
    NoServer,
    /// Usable servers exist but all are at maxconn: the request should queue.
    Saturated,
}

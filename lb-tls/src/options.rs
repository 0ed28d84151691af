//! HAProxy SSL options shared by both sides: protocol versions (`ssl-min-ver`,
//! `ssl-max-ver`), cipher lists (`ciphers` for TLS 1.2, `ciphersuites` for TLS 1.3) and
//! ALPN lists, parsed into what rustls takes, plus the OpenSSL names HAProxy prints.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, ProtocolVersion, SupportedCipherSuite, SupportedProtocolVersion};

use crate::cert_store::provider;
use crate::error::TlsError;

/// A TLS protocol version rustls speaks.
///
/// Parses HAProxy's names; older versions are refused with a clear error.
///
/// # Examples
/// ```
/// use lb_tls::TlsVersion;
/// assert_eq!("TLSv1.3".parse::<TlsVersion>()?, TlsVersion::Tls13);
/// assert!("TLSv1.1".parse::<TlsVersion>().is_err());
/// assert_eq!(TlsVersion::Tls12.to_string(), "TLSv1.2");
/// # Ok::<(), lb_tls::TlsError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// HAProxy's name (`TLSv1.2`, `TLSv1.3`), also what `ssl_fc_protocol` returns.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        }
    }

    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            Self::Tls12 => &rustls::version::TLS12,
            Self::Tls13 => &rustls::version::TLS13,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TlsVersion {
    type Err = TlsError;

    fn from_str(s: &str) -> Result<Self, TlsError> {
        match s {
            "TLSv1.2" => Ok(Self::Tls12),
            "TLSv1.3" => Ok(Self::Tls13),
            "SSLv3" | "TLSv1.0" | "TLSv1.1" => Err(TlsError::Config {
                option: "ssl-min-ver/ssl-max-ver",
                reason: format!("{s} is not supported (rustls speaks TLSv1.2 and TLSv1.3)"),
            }),
            _ => Err(TlsError::Config {
                option: "ssl-min-ver/ssl-max-ver",
                reason: format!("unknown version {s:?} (expected TLSv1.2 or TLSv1.3)"),
            }),
        }
    }
}

/// The versions between `min` and `max` (both default to the full range).
pub(crate) fn versions(
    min: Option<TlsVersion>,
    max: Option<TlsVersion>,
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let min = min.unwrap_or(TlsVersion::Tls12);
    let max = max.unwrap_or(TlsVersion::Tls13);
    if min > max {
        return Err(TlsError::Config {
            option: "ssl-min-ver/ssl-max-ver",
            reason: format!("ssl-min-ver {min} is above ssl-max-ver {max}"),
        });
    }
    Ok([TlsVersion::Tls12, TlsVersion::Tls13]
        .into_iter()
        .filter(|v| (min..=max).contains(v))
        .map(TlsVersion::rustls)
        .collect())
}

/// Parses an HAProxy `alpn` value (`h2,http/1.1`) into protocol ids, in order.
///
/// # Examples
/// ```
/// assert_eq!(lb_tls::parse_alpn("h2,http/1.1")?, [b"h2".to_vec(), b"http/1.1".to_vec()]);
/// assert!(lb_tls::parse_alpn("h2,,x").is_err());
/// # Ok::<(), lb_tls::TlsError>(())
/// ```
///
/// # Errors
/// [`TlsError::Config`] for an empty or over-long (> 255 bytes) protocol.
pub fn parse_alpn(list: &str) -> Result<Vec<Vec<u8>>, TlsError> {
    list.split(',')
        .map(|p| {
            let p = p.trim();
            if p.is_empty() || p.len() > 255 {
                Err(TlsError::Config {
                    option: "alpn",
                    reason: format!("bad protocol {p:?} in {list:?}"),
                })
            } else {
                Ok(p.as_bytes().to_vec())
            }
        })
        .collect()
}

/// The OpenSSL name of a cipher suite, what HAProxy's `ssl_fc_cipher` returns.
pub(crate) fn suite_name(suite: CipherSuite) -> &'static str {
    SUITES
        .iter()
        .find(|(s, _)| *s == suite)
        .map_or("UNKNOWN", |(_, name)| name)
}

/// HAProxy's name of a protocol version.
pub(crate) fn version_name(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::TLSv1_3 => "TLSv1.3",
        ProtocolVersion::TLSv1_2 => "TLSv1.2",
        ProtocolVersion::TLSv1_1 => "TLSv1.1",
        ProtocolVersion::TLSv1_0 => "TLSv1",
        _ => "UNKNOWN",
    }
}

/// The suites rustls (aws-lc-rs) has, with their OpenSSL names.
const SUITES: [(CipherSuite, &str); 9] = [
    (
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS13_AES_256_GCM_SHA384,
        "TLS_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
];

/// OpenSSL cipher-list words that stand for every TLS 1.2 suite rustls has (all of them are
/// ECDHE with an AEAD, so these classes hold them all).
const ALL_WORDS: [&str; 8] = [
    "ALL", "HIGH", "DEFAULT", "ECDHE", "EECDH", "kECDHE", "AEAD", "SECURE",
];

/// Protocol and cipher options, resolved into a provider and versions for a config builder.
#[derive(Clone, Debug, Default)]
pub(crate) struct Protocols {
    pub(crate) min: Option<TlsVersion>,
    pub(crate) max: Option<TlsVersion>,
    /// `ciphers`: the TLS 1.2 list, OpenSSL syntax.
    pub(crate) ciphers: Option<String>,
    /// `ciphersuites`: the TLS 1.3 list.
    pub(crate) ciphersuites: Option<String>,
}

impl Protocols {
    /// The provider (with the chosen suites, in preference order) and the versions.
    pub(crate) fn resolve(
        &self,
    ) -> Result<(Arc<CryptoProvider>, Vec<&'static SupportedProtocolVersion>), TlsError> {
        let versions = versions(self.min, self.max)?;
        let base = provider();
        let tls12 = match &self.ciphers {
            Some(list) => tls12_suites(list, &base.cipher_suites)?,
            None => base
                .cipher_suites
                .iter()
                .filter(|s| s.tls13().is_none())
                .copied()
                .collect(),
        };
        let tls13 = match &self.ciphersuites {
            Some(list) => tls13_suites(list, &base.cipher_suites)?,
            None => base
                .cipher_suites
                .iter()
                .filter(|s| s.tls13().is_some())
                .copied()
                .collect(),
        };
        let mut suites = tls13;
        suites.extend(tls12);
        let p = CryptoProvider {
            cipher_suites: suites,
            ..CryptoProvider::clone(base)
        };
        Ok((Arc::new(p), versions))
    }
}

fn by_name(name: &str, have: &[SupportedCipherSuite]) -> Option<SupportedCipherSuite> {
    let (suite, _) = SUITES.iter().find(|(_, n)| *n == name)?;
    have.iter().find(|s| s.suite() == *suite).copied()
}

/// Parses a TLS 1.2 `ciphers` list (OpenSSL syntax): exact names in order, the classes of
/// [`ALL_WORDS`], `!name`/`-name` removals; words naming ciphers rustls does not have
/// (CBC, RSA key exchange, DHE, ...) are skipped.
fn tls12_suites(
    list: &str,
    have: &[SupportedCipherSuite],
) -> Result<Vec<SupportedCipherSuite>, TlsError> {
    let mut out: Vec<SupportedCipherSuite> = Vec::new();
    let mut removed = Vec::new();
    for word in list.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
        if let Some(name) = word.strip_prefix(['!', '-']) {
            removed.extend(by_name(name, have));
            continue;
        }
        let word = word.strip_prefix('+').unwrap_or(word);
        if ALL_WORDS.contains(&word) {
            for s in have.iter().filter(|s| s.tls13().is_none()) {
                if !out.contains(s) {
                    out.push(*s);
                }
            }
        } else if let Some(s) = by_name(word, have).filter(|s| s.tls13().is_none()) {
            if !out.contains(&s) {
                out.push(s);
            }
        } else {
            tracing::debug!(cipher = word, "cipher not available in rustls; skipped");
        }
    }
    out.retain(|s| !removed.contains(s));
    if out.is_empty() {
        return Err(TlsError::Config {
            option: "ciphers",
            reason: format!("no TLS 1.2 cipher rustls supports in {list:?}"),
        });
    }
    Ok(out)
}

/// Parses a TLS 1.3 `ciphersuites` list: `:`-separated names.
fn tls13_suites(
    list: &str,
    have: &[SupportedCipherSuite],
) -> Result<Vec<SupportedCipherSuite>, TlsError> {
    let mut out = Vec::new();
    for word in list.split(':').filter(|w| !w.is_empty()) {
        match by_name(word, have).filter(|s| s.tls13().is_some()) {
            Some(s) if !out.contains(&s) => out.push(s),
            Some(_) => {}
            None if word.starts_with("TLS_") => {
                tracing::debug!(
                    ciphersuite = word,
                    "TLS 1.3 suite not available in rustls; skipped"
                );
            }
            None => {
                return Err(TlsError::Config {
                    option: "ciphersuites",
                    reason: format!("unknown TLS 1.3 suite {word:?}"),
                })
            }
        }
    }
    if out.is_empty() {
        return Err(TlsError::Config {
            option: "ciphersuites",
            reason: format!("no TLS 1.3 suite rustls supports in {list:?}"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &Protocols) -> Vec<&'static str> {
        p.resolve()
            .unwrap()
            .0
            .cipher_suites
            .iter()
            .map(|s| suite_name(s.suite()))
            .collect()
    }

    #[test]
    fn cipher_lists() {
        let p = Protocols {
            ciphers: Some(
                "ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA:ECDHE-ECDSA-AES128-GCM-SHA256:!aNULL"
                    .into(),
            ),
            ciphersuites: Some("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256".into()),
            ..Protocols::default()
        };
        assert_eq!(
            names(&p),
            [
                "TLS_CHACHA20_POLY1305_SHA256",
                "ECDHE-RSA-AES256-GCM-SHA384",
                "ECDHE-ECDSA-AES128-GCM-SHA256"
            ]
        );
        let p = Protocols {
            ciphers: Some(
                "HIGH:!ECDHE-RSA-CHACHA20-POLY1305:!ECDHE-ECDSA-CHACHA20-POLY1305".into(),
            ),
            ..Protocols::default()
        };
        assert_eq!(names(&p).len(), 3 + 4);
        assert!(!names(&p)
            .iter()
            .any(|n| n.contains("CHACHA20") && n.starts_with("ECDHE")));
    }

    #[test]
    fn cipher_errors() {
        let p = Protocols {
            ciphers: Some("AES128-SHA:DHE-RSA-AES256-SHA".into()),
            ..Protocols::default()
        };
        let err = p.resolve().unwrap_err();
        assert!(
            err.to_string().starts_with("ciphers: no TLS 1.2 cipher"),
            "{err}"
        );
        let p = Protocols {
            ciphersuites: Some("TLS_AES_128_GCM_SHA256:bogus".into()),
            ..Protocols::default()
        };
        assert!(p
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("unknown TLS 1.3 suite \"bogus\""));
    }

    #[test]
    fn version_ranges() {
        assert_eq!(versions(None, None).unwrap().len(), 2);
        let only13 = versions(Some(TlsVersion::Tls13), None).unwrap();
        assert_eq!(only13.len(), 1);
        assert_eq!(only13[0].version, ProtocolVersion::TLSv1_3);
        assert!(versions(Some(TlsVersion::Tls13), Some(TlsVersion::Tls12)).is_err());
        assert_eq!(version_name(ProtocolVersion::TLSv1_2), "TLSv1.2");
    }
}

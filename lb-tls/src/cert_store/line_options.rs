//! The SSL options of one `crt-list` line (`site.pem [alpn h2 ssl-min-ver TLSv1.3 verify
//! required ca-file ca.pem] www.example.com`), parsed and checked when the list is
//! loaded, applied by the acceptor to handshakes whose SNI selects that line.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};

use super::crt_list::resolve;
use crate::client_auth::{load_ca_file, load_crl_file, Verify};
use crate::error::TlsError;
use crate::options::{parse_alpn, TlsVersion};

/// The options a crt-list line may carry; the others are refused when the list loads.
pub(crate) const SUPPORTED: &str = "alpn, no-alpn, ssl-min-ver, ssl-max-ver, ciphers, \
                                    ciphersuites, verify, ca-file, crl-file";

/// The parsed options of one crt-list line: each `Some` overrides the bind line's setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LineOptions {
    /// Unique per parsed line: the acceptor caches one rustls configuration per id.
    pub(crate) id: u64,
    /// The crt-list file and line, for errors.
    pub(crate) origin: String,
    pub(crate) line: usize,
    pub(crate) alpn: Option<Vec<Vec<u8>>>,
    pub(crate) min: Option<TlsVersion>,
    pub(crate) max: Option<TlsVersion>,
    pub(crate) ciphers: Option<String>,
    pub(crate) ciphersuites: Option<String>,
    pub(crate) verify: Option<Verify>,
    pub(crate) cas: Option<Vec<CertificateDer<'static>>>,
    pub(crate) crls: Option<Vec<CertificateRevocationListDer<'static>>>,
}

impl LineOptions {
    /// Parses the words inside `[...]`; relative `ca-file`/`crl-file` paths are resolved
    /// against `base` (the `crt-base`). Reads those files. `None` for an empty list.
    ///
    /// # Errors
    /// [`TlsError::CrtList`] naming `origin:line`: an unknown or unsupported option, a
    /// missing or bad value, an unreadable file.
    pub(crate) fn parse(
        words: &[String],
        base: Option<&Path>,
        origin: &str,
        line: usize,
    ) -> Result<Option<LineOptions>, TlsError> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        if words.is_empty() {
            return Ok(None);
        }
        let err = |reason: String| TlsError::CrtList {
            origin: origin.into(),
            line,
            reason,
        };
        let mut o = LineOptions {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            origin: origin.into(),
            line,
            alpn: None,
            min: None,
            max: None,
            ciphers: None,
            ciphersuites: None,
            verify: None,
            cas: None,
            crls: None,
        };
        let mut i = 0;
        while let Some(word) = words.get(i) {
            let value = || {
                words
                    .get(i + 1)
                    .map(String::as_str)
                    .ok_or_else(|| err(format!("missing value after '{word}'")))
            };
            let mut takes_value = true;
            match word.as_str() {
                "alpn" => o.alpn = Some(parse_alpn(value()?).map_err(|e| err(e.to_string()))?),
                "no-alpn" => {
                    o.alpn = Some(Vec::new());
                    takes_value = false;
                }
                "ssl-min-ver" => {
                    o.min = Some(value()?.parse().map_err(|e: TlsError| err(e.to_string()))?);
                }
                "ssl-max-ver" => {
                    o.max = Some(value()?.parse().map_err(|e: TlsError| err(e.to_string()))?);
                }
                "ciphers" => o.ciphers = Some(value()?.to_owned()),
                "ciphersuites" => o.ciphersuites = Some(value()?.to_owned()),
                "verify" => {
                    o.verify = Some(value()?.parse().map_err(|e: TlsError| err(e.to_string()))?);
                }
                "ca-file" => {
                    let path = resolve(Path::new(value()?), base);
                    o.cas = Some(load_ca_file(&path).map_err(|e| err(e.to_string()))?);
                }
                "crl-file" => {
                    let path = resolve(Path::new(value()?), base);
                    o.crls = Some(load_crl_file(&path).map_err(|e| err(e.to_string()))?);
                }
                other => {
                    return Err(err(format!(
                        "ssl option '{other}' is not supported in a crt-list line \
                         (supported: {SUPPORTED})"
                    )))
                }
            }
            i += if takes_value { 2 } else { 1 };
        }
        if let (Some(min), Some(max)) = (o.min, o.max) {
            if min > max {
                return Err(err(format!(
                    "'ssl-min-ver {min}' is above 'ssl-max-ver {max}'"
                )));
            }
        }
        Ok(Some(o))
    }

    /// An error about this line.
    pub(crate) fn error(&self, reason: impl std::fmt::Display) -> TlsError {
        TlsError::CrtList {
            origin: self.origin.clone(),
            line: self.line,
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_and_refuses_with_the_line() {
        let o = LineOptions::parse(
            &words("alpn h2,http/1.1 ssl-min-ver TLSv1.3 verify optional ciphersuites X"),
            None,
            "l.txt",
            3,
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.alpn, Some(vec![b"h2".to_vec(), b"http/1.1".to_vec()]));
        assert_eq!(o.min, Some(TlsVersion::Tls13));
        assert_eq!(o.verify, Some(Verify::Optional));
        assert_eq!(o.ciphersuites.as_deref(), Some("X"));
        assert_eq!(LineOptions::parse(&[], None, "l.txt", 1).unwrap(), None);
        let e = |s: &str| {
            LineOptions::parse(&words(s), None, "l.txt", 7)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("ocsp-update on"),
            format!(
                "l.txt:7: ssl option 'ocsp-update' is not supported in a crt-list line \
                 (supported: {SUPPORTED})"
            )
        );
        assert_eq!(e("alpn"), "l.txt:7: missing value after 'alpn'");
        assert!(e("ssl-min-ver TLSv1.1").starts_with("l.txt:7: ssl-min-ver"));
        assert_eq!(
            e("ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.2"),
            "l.txt:7: 'ssl-min-ver TLSv1.3' is above 'ssl-max-ver TLSv1.2'"
        );
        assert!(e("verify sometimes").starts_with("l.txt:7: verify"));
        assert!(e("ca-file /nonexistent/ca.pem").starts_with("l.txt:7: /nonexistent/ca.pem"));
    }
}

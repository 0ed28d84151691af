//! HAProxy `crt-list` files and SNI filters.
//!
//! One certificate per line: `<crtfile> [<ssl options>] [[!]<snifilter> ...]`, `#` starts a
//! comment. Without positive filters the certificate serves the names in it; `!name`
//! filters exclude names that one of its wildcards would otherwise match.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::line_options::LineOptions;
use crate::error::TlsError;

/// Which server names a certificate is used for, when not the names in the certificate:
/// HAProxy's `crt-list` SNI filters.
///
/// Positive filters replace the certificate's own names (exact names or `*.domain`
/// wildcards); negative filters (`!name`) stop the certificate's wildcards from matching
/// those names, so a more specific certificate, or the default one, serves them.
///
/// # Examples
/// ```
/// use lb_tls::SniFilters;
///
/// let f = SniFilters::parse(["*.example.com", "!secret.example.com"])?;
/// assert_eq!(f.names(), ["*.example.com"]);
/// assert_eq!(f.excluded(), ["secret.example.com"]);
/// assert!(SniFilters::parse(["w*.example.com"]).is_err());
/// # Ok::<(), lb_tls::TlsError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SniFilters {
    names: Vec<String>,
    excluded: Vec<String>,
}

impl SniFilters {
    /// No filter: the certificate serves its own names.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a name (exact or `*.domain`) the certificate serves instead of its own.
    ///
    /// # Errors
    /// [`TlsError::Config`] for an empty name or a wildcard that is not a whole leftmost
    /// label (`w*.example.com`, `a.*.example.com`).
    pub fn name(mut self, name: &str) -> Result<Self, TlsError> {
        self.names.push(check_name(name)?);
        Ok(self)
    }

    /// Adds a name this certificate's wildcards must not match.
    ///
    /// # Errors
    /// As [`SniFilters::name`].
    pub fn exclude(mut self, name: &str) -> Result<Self, TlsError> {
        self.excluded.push(check_name(name)?);
        Ok(self)
    }

    /// Parses HAProxy filter words: `name`, `*.domain`, `!name`.
    ///
    /// # Errors
    /// As [`SniFilters::name`].
    pub fn parse<I, S>(words: I) -> Result<Self, TlsError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        words.into_iter().try_fold(Self::new(), |f, w| {
            let w = w.as_ref();
            match w.strip_prefix('!') {
                Some(neg) => f.exclude(neg),
                None => f.name(w),
            }
        })
    }

    /// The positive filters (empty: the certificate's own names).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The negative filters.
    pub fn excluded(&self) -> &[String] {
        &self.excluded
    }

    /// Whether there is no filter at all.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.excluded.is_empty()
    }
}

/// Lowercases and checks an SNI filter name.
pub(crate) fn check_name(name: &str) -> Result<String, TlsError> {
    let bad = |reason: &str| TlsError::Config {
        option: "sni filter",
        reason: format!("{name:?}: {reason}"),
    };
    let name = name.trim_end_matches('.');
    if name.is_empty() {
        return Err(bad("empty name"));
    }
    let rest = name.strip_prefix("*.").unwrap_or(name);
    if rest.contains('*') {
        return Err(bad(
            "a wildcard must be the whole leftmost label (*.domain)",
        ));
    }
    if rest.is_empty() {
        return Err(bad("a wildcard needs a domain (*.domain)"));
    }
    Ok(name.to_ascii_lowercase())
}

/// One line of a `crt-list` file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrtListLine {
    /// The certificate file (or directory), as written.
    pub path: PathBuf,
    /// The words inside `[...]`: per-certificate SSL bind options (`alpn h2`, `verify
    /// required`, ...), as written. [`CertStore::load_crt_list`](super::CertStore::load_crt_list)
    /// checks them and the acceptor applies them to handshakes whose SNI selects the line.
    pub options: Vec<String>,
    /// The SNI filters.
    pub filters: SniFilters,
    /// 1-based line number.
    pub line: usize,
}

/// Parses a `crt-list` document; `origin` names it in errors.
///
/// # Examples
/// ```
/// let lines = lb_tls::parse_crt_list(
///     "# comment\n\
///      site.pem\n\
///      wild.pem [alpn h2,http/1.1 ssl-min-ver TLSv1.2] *.example.com !secret.example.com\n",
///     "list.txt",
/// )?;
/// assert_eq!(lines.len(), 2);
/// assert_eq!(lines[1].options, ["alpn", "h2,http/1.1", "ssl-min-ver", "TLSv1.2"]);
/// assert_eq!(lines[1].filters.excluded(), ["secret.example.com"]);
/// assert_eq!(lines[1].line, 3);
/// # Ok::<(), lb_tls::TlsError>(())
/// ```
///
/// # Errors
/// [`TlsError::CrtList`] with the line number: an unterminated `[`, options not right
/// after the path, a bad filter.
pub fn parse_crt_list(text: &str, origin: &str) -> Result<Vec<CrtListLine>, TlsError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split_once('#').map_or(raw, |(before, _)| before).trim();
        if content.is_empty() {
            continue;
        }
        let err = |reason: String| TlsError::CrtList {
            origin: origin.into(),
            line,
            reason,
        };
        let (path, rest) = content
            .split_once(char::is_whitespace)
            .unwrap_or((content, ""));
        if path.starts_with('[') {
            return Err(err("the line must start with a certificate path".into()));
        }
        let mut rest = rest.trim_start();
        let mut options = Vec::new();
        if let Some(after) = rest.strip_prefix('[') {
            let Some((inside, tail)) = after.split_once(']') else {
                return Err(err("unterminated '[' (ssl options)".into()));
            };
            options = inside.split_whitespace().map(str::to_owned).collect();
            rest = tail;
        }
        if rest.contains(['[', ']']) {
            return Err(err(
                "ssl options ([...]) must come right after the certificate path".into(),
            ));
        }
        let filters = SniFilters::parse(rest.split_whitespace()).map_err(|e| err(e.to_string()))?;
        out.push(CrtListLine {
            path: PathBuf::from(path),
            options,
            filters,
            line,
        });
    }
    Ok(out)
}

/// A certificate's use on one `crt` or `crt-list` line: its SNI filters and per-line SSL
/// options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    /// The SNI filters (empty: the certificate's own names).
    pub filters: SniFilters,
    /// Per-line SSL options, as written in the crt-list.
    pub options: Arc<[String]>,
    /// The options parsed (files read), as handshakes apply them.
    pub(crate) ssl: Option<Arc<LineOptions>>,
}

impl Binding {
    /// A binding with these filters and no options.
    pub fn with_filters(filters: SniFilters) -> Self {
        Self {
            filters,
            options: Arc::new([]),
            ssl: None,
        }
    }
}

/// Resolves a crt-list path against `crt-base`.
pub(crate) fn resolve(path: &Path, base: Option<&Path>) -> PathBuf {
    match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line() {
        let err = parse_crt_list("a.pem\nb.pem [alpn h2\n", "l").unwrap_err();
        assert_eq!(err.to_string(), "l:2: unterminated '[' (ssl options)");
        let err = parse_crt_list("a.pem *.x.com [alpn h2]", "l").unwrap_err();
        assert!(err.to_string().starts_with("l:1: ssl options"), "{err}");
        let err = parse_crt_list("\n\na.pem f*.x.com", "l").unwrap_err();
        assert!(err.to_string().starts_with("l:3: sni filter"), "{err}");
        let err = parse_crt_list("[x] a.pem", "l").unwrap_err();
        assert!(err.to_string().contains("must start with"), "{err}");
    }

    #[test]
    fn comments_blank_lines_and_case() {
        let lines = parse_crt_list("  # c\n\n a.pem WWW.Example.COM # trailing\n", "l").unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].path, Path::new("a.pem"));
        assert_eq!(lines[0].filters.names(), ["www.example.com"]);
        assert!(lines[0].options.is_empty());
    }

    #[test]
    fn wildcard_rules() {
        assert!(check_name("*.example.com").is_ok());
        assert!(check_name("*").is_err());
        assert!(check_name("*.").is_err());
        assert!(check_name("a.*.com").is_err());
        assert!(check_name("").is_err());
        assert_eq!(check_name("Example.COM.").unwrap(), "example.com");
    }

    #[test]
    fn resolve_against_base() {
        let base = Path::new("/etc/certs");
        assert_eq!(resolve(Path::new("a.pem"), Some(base)), base.join("a.pem"));
        assert_eq!(
            resolve(Path::new("/x/a.pem"), Some(base)),
            Path::new("/x/a.pem")
        );
        assert_eq!(resolve(Path::new("a.pem"), None), Path::new("a.pem"));
    }
}

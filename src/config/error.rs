//! Configuration errors ([`ConfigError`], collected in [`ConfigErrors`]) and warnings.
//!
//! Every error names its file and, when it comes from a line, the line number and the
//! keyword, HAProxy style:
//!
//! ```text
//! haproxy.cfg:12: 'balance': unknown algorithm 'roundrobbin' (expected one of roundrobin, ...)
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use lb_http::log::LogFormatError;

use super::lexer::LexError;
use super::model::{Mode, SectionKind, Span};
use super::units::UnitError;

/// What is wrong, without where (that is in [`ConfigError`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file or directory that cannot be read.
    #[error("cannot read '{}': {message}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A line that cannot be split into words (quotes, escapes, variables).
    #[error("{0}")]
    Syntax(#[from] LexError),
    /// A section name HAProxy does not know either.
    #[error("unknown section '{name}' (expected global, defaults, frontend, backend or listen)")]
    UnknownSection {
        /// The name.
        name: String,
    },
    /// An HAProxy section lb does not implement (`resolvers`, `peers`, ...).
    #[error("section not supported yet (supported: global, defaults, frontend, backend, listen)")]
    UnsupportedSection,
    /// A keyword before the first section header of a file.
    #[error(
        "keyword outside of any section (sections are global, defaults, frontend, backend and \
         listen)"
    )]
    OutsideSection,
    /// A keyword lb does not implement (or does not know).
    #[error("not supported yet{}", suggest(.suggestion))]
    UnsupportedKeyword {
        /// A supported keyword with a similar spelling.
        suggestion: Option<&'static str>,
    },
    /// A keyword or value lb will not implement, and why.
    #[error("not supported: {reason}")]
    NotSupported {
        /// Why.
        reason: &'static str,
    },
    /// A value or form lb does not implement yet, and what to do instead.
    #[error("{what} is not supported yet{}", paren(.note))]
    UnsupportedValue {
        /// What, quoted as written.
        what: String,
        /// A note, such as an alternative.
        note: Option<&'static str>,
    },
    /// A keyword in a section type where it has no meaning.
    #[error("not allowed in a '{section}' section{}", paren(.note))]
    NotAllowed {
        /// The section type.
        section: SectionKind,
        /// Where the keyword belongs, or why not.
        note: Option<&'static str>,
    },
    /// An argument that is missing.
    #[error("missing {expected}")]
    MissingArgument {
        /// What was expected.
        expected: &'static str,
    },
    /// A value that is not one of a fixed set.
    #[error("unknown {what} '{value}' (expected {expected})")]
    UnknownValue {
        /// What kind of value.
        what: &'static str,
        /// The value as written.
        value: String,
        /// The choices.
        expected: &'static str,
    },
    /// A value that does not parse or is out of range.
    #[error("invalid {what} '{value}': {reason}")]
    InvalidValue {
        /// What kind of value.
        what: &'static str,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An option given without its value.
    #[error("missing value after '{option}'")]
    MissingValue {
        /// The option.
        option: &'static str,
    },
    /// A time or size that does not parse.
    #[error("{0}")]
    Unit(#[from] UnitError),
    /// A `log-format` or `unique-id-format` string that does not parse.
    #[error("invalid format: {0}")]
    LogFormat(#[from] LogFormatError),
    /// An option that only works with another one.
    #[error("'{what}' needs '{needs}'")]
    Requires {
        /// The option.
        what: &'static str,
        /// What it needs.
        needs: &'static str,
    },
    /// A word after the last expected argument.
    #[error("unexpected argument '{arg}'")]
    UnexpectedArgument {
        /// The word.
        arg: String,
    },
    /// A name defined twice.
    #[error("{what} '{name}' is already defined at {first}")]
    Duplicate {
        /// What kind of item (`server`, `defaults section`, `frontend`...).
        what: &'static str,
        /// The name.
        name: String,
        /// Where the first definition is.
        first: Span,
    },
    /// A proxy name already used by a proxy of the same side.
    #[error("{kind} '{name}' has the same name as {other} '{name}' declared at {first}")]
    DuplicateProxy {
        /// The section type.
        kind: SectionKind,
        /// The name.
        name: String,
        /// The section type of the first one.
        other: SectionKind,
        /// Where the first one is.
        first: Span,
    },
    /// A reference to something that does not exist.
    #[error("unknown {what} '{name}'{}", suggest_owned(.suggestion))]
    UnknownReference {
        /// What kind of item (`backend`, `ACL`, `server`...).
        what: &'static str,
        /// The name.
        name: String,
        /// An existing name with a similar spelling.
        suggestion: Option<String>,
    },
    /// A reference to a frontend where a backend is needed.
    #[error("'{name}' is a frontend, not a backend")]
    NotABackend {
        /// The name.
        name: String,
    },
    /// A frontend that routes to a backend of another mode.
    #[error(
        "frontend '{frontend}' is in mode {frontend_mode} but backend '{backend}' is in mode \
         {backend_mode}"
    )]
    ModeMismatch {
        /// The frontend.
        frontend: String,
        /// Its mode.
        frontend_mode: Mode,
        /// The backend.
        backend: String,
        /// Its mode.
        backend_mode: Mode,
    },
    /// Something that only works in `mode http`.
    #[error("{what} needs 'mode http' ({section} '{name}' is in mode tcp)")]
    NeedsHttp {
        /// What, quoted as written.
        what: String,
        /// The section type.
        section: SectionKind,
        /// The proxy name.
        name: String,
    },
    /// A proxy section that lacks a required keyword.
    #[error("{section} '{name}' has no '{keyword}' line")]
    MissingKeyword {
        /// The section type.
        section: SectionKind,
        /// The proxy name.
        name: String,
        /// The missing keyword.
        keyword: &'static str,
    },
    /// Any other inconsistency, described in full.
    #[error("{0}")]
    Invalid(String),
}

fn suggest(s: &Option<&'static str>) -> String {
    s.map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default()
}

fn suggest_owned(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default()
}

fn paren(s: &Option<&'static str>) -> String {
    s.map(|s| format!(" ({s})")).unwrap_or_default()
}

/// One configuration error: where (file, line, keyword) and what ([`ErrorKind`]).
///
/// Displays as `file:line: 'keyword': message`, or `file:line: message` for section-level
/// problems, or `file: message` for a file that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    file: Arc<str>,
    line: Option<u32>,
    keyword: Option<String>,
    kind: ErrorKind,
}

impl ConfigError {
    /// An error on a line, about `keyword` (if any).
    pub fn new(span: &Span, keyword: Option<&str>, kind: ErrorKind) -> Self {
        Self {
            file: span.file.clone(),
            line: Some(span.line),
            keyword: keyword.map(str::to_owned),
            kind,
        }
    }

    /// An error about a whole file.
    pub fn file_error(file: impl Into<Arc<str>>, kind: ErrorKind) -> Self {
        Self {
            file: file.into(),
            line: None,
            keyword: None,
            kind,
        }
    }

    /// The file, as given to the loader.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line number (1-based), unless the error is about a whole file.
    pub fn line(&self) -> Option<u32> {
        self.line
    }

    /// The file and line, unless the error is about a whole file.
    pub fn span(&self) -> Option<Span> {
        self.line.map(|line| Span {
            file: self.file.clone(),
            line,
        })
    }

    /// The keyword the error is about (`balance`, `timeout client`, `option forwardfor`).
    pub fn keyword(&self) -> Option<&str> {
        self.keyword.as_deref()
    }

    /// What is wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(kw) = &self.keyword {
            write!(f, ": '{kw}'")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Syntax(e) => Some(e),
            _ => None,
        }
    }
}

/// Every error found in a configuration, in file and line order, so that `lb -c` reports
/// them all at once. Displays one error per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
}

impl ConfigErrors {
    pub(crate) fn new(errors: Vec<ConfigError>) -> Self {
        Self { errors }
    }

    /// The errors.
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }

    /// An iterator over the errors.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }

    /// How many errors there are (at least one).
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false: a `ConfigErrors` holds at least one error.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        Self { errors: vec![e] }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            e.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Something legal but probably not what was meant (HAProxy prints these at start-up and
/// runs anyway). Displays as an error does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub span: Span,
    /// The keyword, if the warning is about one.
    pub keyword: Option<String>,
    /// What.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.span)?;
        if let Some(kw) = &self.keyword {
            write!(f, ": '{kw}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span() -> Span {
        Span {
            file: "haproxy.cfg".into(),
            line: 12,
        }
    }

    #[test]
    fn display_forms() {
        let e = ConfigError::new(
            &span(),
            Some("balance"),
            ErrorKind::UnknownValue {
                what: "algorithm",
                value: "roundrobbin".into(),
                expected: "roundrobin or leastconn",
            },
        );
        assert_eq!(
            e.to_string(),
            "haproxy.cfg:12: 'balance': unknown algorithm 'roundrobbin' (expected roundrobin or \
             leastconn)"
        );
        assert_eq!(e.file(), "haproxy.cfg");
        assert_eq!(e.line(), Some(12));
        assert_eq!(e.span(), Some(span()));
        assert_eq!(e.keyword(), Some("balance"));
        assert!(matches!(e.kind(), ErrorKind::UnknownValue { .. }));
        assert!(std::error::Error::source(&e).is_none());

        let e = ConfigError::new(&span(), None, ErrorKind::Syntax(LexError::TooManyWords));
        assert_eq!(
            e.to_string(),
            "haproxy.cfg:12: too many words (at most 64 per line)"
        );
        assert!(std::error::Error::source(&e).is_some());

        let e = ConfigError::file_error(
            "conf.d",
            ErrorKind::Read {
                path: "conf.d".into(),
                message: "denied".into(),
            },
        );
        assert_eq!(e.to_string(), "conf.d: cannot read 'conf.d': denied");
        assert_eq!(e.line(), None);
        assert_eq!(e.span(), None);

        let all = ConfigErrors::new(vec![e.clone(), e]);
        assert_eq!(all.len(), 2);
        assert!(!all.is_empty());
        assert_eq!(
            all.to_string(),
            "conf.d: cannot read 'conf.d': denied\nconf.d: cannot read 'conf.d': denied"
        );
        assert_eq!(all.iter().count(), 2);
        assert_eq!((&all).into_iter().count(), 2);
        assert_eq!(all.errors().len(), 2);
        assert_eq!(all.into_iter().count(), 2);

        let w = Warning {
            span: span(),
            keyword: Some("option httplog".into()),
            message: "ignored".into(),
        };
        assert_eq!(w.to_string(), "haproxy.cfg:12: 'option httplog': ignored");
        let w = Warning { keyword: None, ..w };
        assert_eq!(w.to_string(), "haproxy.cfg:12: ignored");
    }

    #[test]
    fn kind_messages() {
        let k = |k: ErrorKind| k.to_string();
        assert_eq!(
            k(ErrorKind::UnsupportedKeyword {
                suggestion: Some("balance")
            }),
            "not supported yet (did you mean 'balance'?)"
        );
        assert_eq!(
            k(ErrorKind::UnsupportedKeyword { suggestion: None }),
            "not supported yet"
        );
        assert_eq!(
            k(ErrorKind::UnknownReference {
                what: "backend",
                name: "ap".into(),
                suggestion: Some("app".into())
            }),
            "unknown backend 'ap' (did you mean 'app'?)"
        );
        assert_eq!(
            k(ErrorKind::NotAllowed {
                section: SectionKind::Frontend,
                note: None
            }),
            "not allowed in a 'frontend' section"
        );
        assert_eq!(
            k(ErrorKind::UnsupportedValue {
                what: "'x'".into(),
                note: None
            }),
            "'x' is not supported yet"
        );
    }
}

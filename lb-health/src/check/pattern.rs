//! [`ExpectRegex`]: the regular expression of `rstatus` and `rstring` expect rules.

use std::fmt;

use regex::bytes::{Regex, RegexBuilder};

use crate::error::ConfigError;

/// Largest compiled program of one expect regex (a bound on memory per rule).
const SIZE_LIMIT: usize = 1 << 20;

/// A regular expression of an `rstatus` or `rstring` expect rule.
///
/// Patterns match bytes, as HAProxy's PCRE without UTF mode: response bodies need not be
/// UTF-8, `.` matches any byte but `\n`, `\w`, `\d`, `\s` and `(?i)` are ASCII. A match
/// may be anywhere in the subject (anchor with `^` and `$`). Two rules are equal when
/// their patterns are written the same.
///
/// # Examples
/// ```
/// use lb_health::check::ExpectRegex;
///
/// let re = ExpectRegex::new("http-check expect rstring", r"(?i)status:\s*ok")?;
/// assert!(re.is_match(b"Status:  OK"));
/// assert!(re.is_match(b"\xff\xfe binary, then status: ok"));
/// assert!(!re.is_match(b"status: degraded"));
/// assert!(ExpectRegex::new("http-check expect rstring", "(unclosed").is_err());
/// # Ok::<(), lb_health::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ExpectRegex {
    re: Regex,
}

impl ExpectRegex {
    /// Compiles `pattern`; `keyword` names the rule in errors (`http-check expect
    /// rstatus`, ...).
    ///
    /// # Errors
    /// [`ConfigError::InvalidRegex`] when the pattern does not compile (syntax error, or a
    /// program larger than 1 MiB), with the regex engine's reason on one line.
    pub fn new(keyword: &'static str, pattern: &str) -> Result<Self, ConfigError> {
        RegexBuilder::new(pattern)
            .unicode(false)
            .size_limit(SIZE_LIMIT)
            .build()
            .map(|re| ExpectRegex { re })
            .map_err(|e| ConfigError::InvalidRegex {
                keyword,
                pattern: pattern.to_owned(),
                error: one_line(&e),
            })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.re.as_str()
    }

    /// Whether the pattern matches somewhere in `subject`.
    pub fn is_match(&self, subject: &[u8]) -> bool {
        self.re.is_match(subject)
    }
}

impl PartialEq for ExpectRegex {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ExpectRegex {}

impl fmt::Debug for ExpectRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ExpectRegex").field(&self.as_str()).finish()
    }
}

impl fmt::Display for ExpectRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The regex engine's error on one line: its syntax errors span several (the pattern, a
/// caret under the problem, then `error: <what>`); keep the `<what>`.
fn one_line(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .map(str::to_owned)
            .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" ")),
        regex::Error::CompiledTooBig(limit) => {
            format!("the compiled pattern exceeds the size limit of {limit} bytes")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KW: &str = "http-check expect rstring";

    #[test]
    fn matches_bytes_anywhere() {
        let re = ExpectRegex::new(KW, "^2[0-9]{2}$").unwrap();
        assert!(re.is_match(b"204"));
        assert!(!re.is_match(b"2045"));
        assert!(!re.is_match(b"500"));
        let re = ExpectRegex::new(KW, "ok").unwrap();
        assert!(re.is_match(b"\x00\xffall ok\xc3"));
        // ASCII classes and case folding, no Unicode tables needed.
        let re = ExpectRegex::new(KW, r"(?i)^\w+\s\d$").unwrap();
        assert!(re.is_match(b"UP 1"));
        assert!(!re.is_match("été 1".as_bytes()));
        // Non-ASCII literals match their UTF-8 bytes.
        assert!(ExpectRegex::new(KW, "été")
            .unwrap()
            .is_match("l'été".as_bytes()));
    }

    #[test]
    fn equality_and_debug_by_pattern() {
        let a = ExpectRegex::new(KW, "^OK").unwrap();
        assert_eq!(
            a,
            ExpectRegex::new("tcp-check expect rstring", "^OK").unwrap()
        );
        assert_ne!(a, ExpectRegex::new(KW, "^OK$").unwrap());
        assert_eq!(format!("{a:?}"), "ExpectRegex(\"^OK\")");
        assert_eq!(a.to_string(), "^OK");
    }

    #[test]
    fn invalid_patterns_explain_on_one_line() {
        let e = ExpectRegex::new(KW, "(unclosed").unwrap_err();
        assert_eq!(
            e,
            ConfigError::InvalidRegex {
                keyword: KW,
                pattern: "(unclosed".into(),
                error: "unclosed group".into(),
            }
        );
        assert_eq!(
            e.to_string(),
            "invalid regex '(unclosed' for 'http-check expect rstring': unclosed group"
        );
        for bad in ["[z-a]", "a{2,1}", "*", r"\p{Greek}", "x{1000}{1000}"] {
            let e = ExpectRegex::new(KW, bad).unwrap_err().to_string();
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
    }
}

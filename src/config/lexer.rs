//! Splits one configuration line into words, with HAProxy's quoting rules (`parse_line` in
//! HAProxy's `src/tools.c`):
//!
//! - words are separated by spaces and tabs; leading and trailing blanks are ignored;
//! - `#` outside quotes starts a comment (also in the middle of a word);
//! - `"double quotes"` group words; inside them, `$NAME`, `${NAME}`, `${NAME-default}` and
//!   `${NAME[*]}` (split the value into several words) expand environment variables, and
//!   `${.LINE}`, `${.FILE}`, `${.SECTION}` expand to the current position;
//! - `'single quotes'` are literal: no escapes, no variables;
//! - outside single quotes, a backslash escapes a space, `\`, `#`, `'`, `"` and (inside
//!   double quotes) `$`; `\t`, `\n`, `\r` and `\xHH` produce those bytes; before any other
//!   character the backslash is kept (`\.` stays `\.`, as regular expressions need);
//! - there is no line continuation: a trailing backslash is kept as is.
//!
//! One deviation from HAProxy: a variable that is not set and has no default is an error,
//! not an empty string (write `${NAME-}` for an empty default).

use std::fmt;

/// HAProxy's limit on the number of words on a line (`MAX_LINE_ARGS`).
pub(crate) const MAX_WORDS: usize = 64;

/// Why a line cannot be split into words. Columns are 1-based, in characters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LexError {
    /// A quote that is never closed.
    UnmatchedQuote {
        /// `'` or `"`.
        quote: char,
        /// Column of the opening quote.
        column: usize,
    },
    /// `\x` not followed by two hexadecimal digits.
    BadHexEscape {
        /// Column of the backslash.
        column: usize,
    },
    /// `$` not followed by a valid variable name.
    BadVariableName {
        /// Column where the name should start.
        column: usize,
    },
    /// `${` without its closing `}`.
    UnmatchedBrace {
        /// Column of the `{`.
        column: usize,
    },
    /// `${NAME[` not followed by `*]`.
    BadWordExpansion {
        /// Column of the `[`.
        column: usize,
    },
    /// A `${.NAME}` pseudo-variable other than `.LINE`, `.FILE` and `.SECTION`.
    UnknownPseudoVariable {
        /// The name, with its dot.
        name: String,
    },
    /// An environment variable that is not set and has no default.
    UnsetVariable {
        /// The variable name.
        name: String,
    },
    /// `\xHH` escapes that do not form valid UTF-8.
    InvalidUtf8,
    /// More than 64 words.
    TooManyWords,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexError::UnmatchedQuote { quote, column } => {
                write!(f, "unmatched quote ({quote}) opened at column {column}")
            }
            LexError::BadHexEscape { column } => write!(
                f,
                "invalid '\\x' escape at column {column}: expected two hexadecimal digits"
            ),
            LexError::BadVariableName { column } => write!(
                f,
                "invalid variable name at column {column}: names start with a letter or '_'"
            ),
            LexError::UnmatchedBrace { column } => {
                write!(f, "missing '}}' for the '{{' at column {column}")
            }
            LexError::BadWordExpansion { column } => {
                write!(f, "expected '[*]' at column {column}")
            }
            LexError::UnknownPseudoVariable { name } => write!(
                f,
                "unknown variable '{name}' (expected .LINE, .FILE or .SECTION)"
            ),
            LexError::UnsetVariable { name } => write!(
                f,
                "environment variable '{name}' is not set (write \"${{{name}-default}}\" to \
                 give a default)"
            ),
            LexError::InvalidUtf8 => f.write_str("'\\x' escapes produce invalid UTF-8"),
            LexError::TooManyWords => write!(f, "too many words (at most {MAX_WORDS} per line)"),
        }
    }
}

impl std::error::Error for LexError {}

/// Where a line is, for the `${.FILE}`, `${.LINE}` and `${.SECTION}` pseudo-variables, and
/// how to look environment variables up.
pub(crate) struct Vars<'a> {
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
    pub(crate) file: &'a str,
    pub(crate) line: u32,
    pub(crate) section: &'a str,
}

impl Vars<'_> {
    fn lookup(&self, name: &str) -> Result<Option<String>, LexError> {
        match name {
            ".LINE" => Ok(Some(self.line.to_string())),
            ".FILE" => Ok(Some(self.file.to_owned())),
            ".SECTION" => Ok(Some(self.section.to_owned())),
            _ if name.starts_with('.') => Err(LexError::UnknownPseudoVariable {
                name: name.to_owned(),
            }),
            _ => Ok((self.env)(name)),
        }
    }
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x0b' | b'\x0c')
}

struct Words {
    words: Vec<Vec<u8>>,
    cur: Vec<u8>,
    /// Whether the current word exists (it may be empty: `""`).
    started: bool,
}

impl Words {
    fn push(&mut self, b: u8) {
        self.cur.push(b);
        self.started = true;
    }

    fn extend(&mut self, s: &[u8]) {
        self.cur.extend_from_slice(s);
        self.started = true;
    }

    fn finish(&mut self) -> Result<(), LexError> {
        if self.started {
            if self.words.len() == MAX_WORDS {
                return Err(LexError::TooManyWords);
            }
            self.words.push(std::mem::take(&mut self.cur));
            self.started = false;
        }
        Ok(())
    }
}

/// The 1-based character column of byte offset `at` in `line`.
fn column(line: &str, at: usize) -> usize {
    line.get(..at).map_or(at, |s| s.chars().count()) + 1
}

/// Splits `line` into words; an empty or comment-only line gives no words.
pub(crate) fn split(line: &str, vars: &Vars<'_>) -> Result<Vec<String>, LexError> {
    let b = line.as_bytes();
    let mut w = Words {
        words: Vec::new(),
        cur: Vec::new(),
        started: false,
    };
    let (mut squote, mut dquote) = (false, false);
    let mut quote_at = 0;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'\0' | b'\n' | b'\r' => break,
            b'#' if !squote && !dquote => break,
            b'"' if !squote => {
                dquote = !dquote;
                quote_at = i;
                w.started = true;
                i += 1;
            }
            b'\'' if !dquote => {
                squote = !squote;
                quote_at = i;
                w.started = true;
                i += 1;
            }
            b'\\' if !squote => {
                let next = b.get(i + 1).copied();
                match next {
                    Some(n @ (b' ' | b'\\' | b'#' | b'\'' | b'"')) => {
                        w.push(n);
                        i += 2;
                    }
                    Some(b't') => {
                        w.push(b'\t');
                        i += 2;
                    }
                    Some(b'n') => {
                        w.push(b'\n');
                        i += 2;
                    }
                    Some(b'r') => {
                        w.push(b'\r');
                        i += 2;
                    }
                    Some(b'$') if dquote => {
                        w.push(b'$');
                        i += 2;
                    }
                    Some(b'x') => {
                        let hex = |k: usize| {
                            b.get(i + k)
                                .and_then(|&h| (h as char).to_digit(16))
                                .map(|d| d as u8)
                        };
                        match (hex(2), hex(3)) {
                            (Some(h), Some(l)) => {
                                w.push(h << 4 | l);
                                i += 4;
                            }
                            _ => {
                                return Err(LexError::BadHexEscape {
                                    column: column(line, i),
                                })
                            }
                        }
                    }
                    _ => {
                        w.push(b'\\');
                        i += 1;
                    }
                }
            }
            _ if is_blank(c) && !squote && !dquote => {
                w.finish()?;
                while b.get(i).is_some_and(|&c| is_blank(c)) {
                    i += 1;
                }
            }
            b'$' if dquote => i = expand(line, i, vars, &mut w)?,
            _ => {
                w.push(c);
                i += 1;
            }
        }
    }
    if squote || dquote {
        return Err(LexError::UnmatchedQuote {
            quote: if squote { '\'' } else { '"' },
            column: column(line, quote_at),
        });
    }
    w.finish()?;
    w.words
        .into_iter()
        .map(|word| String::from_utf8(word).map_err(|_| LexError::InvalidUtf8))
        .collect()
}

/// Expands the variable whose `$` is at byte `at`; returns the offset after it.
fn expand(line: &str, at: usize, vars: &Vars<'_>, w: &mut Words) -> Result<usize, LexError> {
    let b = line.as_bytes();
    let mut i = at + 1;
    let brace = (b.get(i) == Some(&b'{')).then_some(i);
    if brace.is_some() {
        i += 1;
    }
    let start = i;
    match b.get(i) {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b'.' => {}
        _ => {
            return Err(LexError::BadVariableName {
                column: column(line, i),
            })
        }
    }
    if b[i] == b'.' {
        i += 1;
    }
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        i += 1;
    }
    let name = &line[start..i];
    let mut value = vars.lookup(name)?;
    let mut split_words = false;
    if let Some(open) = brace {
        if b.get(i) == Some(&b'[') {
            if b.get(i + 1..i + 3) != Some(b"*]".as_slice()) {
                return Err(LexError::BadWordExpansion {
                    column: column(line, i),
                });
            }
            split_words = true;
            i += 3;
        }
        if b.get(i) == Some(&b'-') {
            let close = line[i..]
                .find('}')
                .map(|k| i + k)
                .ok_or(LexError::UnmatchedBrace {
                    column: column(line, open),
                })?;
            if value.is_none() {
                value = Some(line[i + 1..close].to_owned());
            }
            i = close;
        }
        if b.get(i) != Some(&b'}') {
            return Err(LexError::UnmatchedBrace {
                column: column(line, open),
            });
        }
        i += 1;
    }
    let value = value.ok_or_else(|| LexError::UnsetVariable {
        name: name.to_owned(),
    })?;
    if split_words {
        for (k, piece) in value.split_ascii_whitespace().enumerate() {
            if k > 0 {
                w.finish()?;
                // The next piece starts a word even if the value ends here.
                w.started = true;
            }
            w.extend(piece.as_bytes());
        }
    } else {
        w.extend(value.as_bytes());
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("10.0.0.1".into()),
            "PORT" => Some("8080".into()),
            "EMPTY" => Some(String::new()),
            "OPTS" => Some("check  inter 2s".into()),
            _ => None,
        }
    }

    fn words(line: &str) -> Vec<String> {
        try_words(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    fn try_words(line: &str) -> Result<Vec<String>, LexError> {
        let vars = Vars {
            env: &env,
            file: "test.cfg",
            line: 7,
            section: "backend",
        };
        split(line, &vars)
    }

    fn err(line: &str) -> String {
        try_words(line).unwrap_err().to_string()
    }

    #[test]
    fn blanks_and_comments() {
        assert!(words("").is_empty());
        assert!(words("   \t ").is_empty());
        assert!(words("# a comment").is_empty());
        assert!(words("   # indented comment").is_empty());
        assert_eq!(
            words("  server  s1\t10.0.0.1:80  "),
            ["server", "s1", "10.0.0.1:80"]
        );
        assert_eq!(words("mode http # trailing"), ["mode", "http"]);
        // As HAProxy: `#` ends the line even inside a word.
        assert_eq!(words("acl a path_beg /x#y"), ["acl", "a", "path_beg", "/x"]);
        assert_eq!(words("a\rb"), ["a"]);
        assert_eq!(words("a\0b"), ["a"]);
        assert_eq!(words("a\x0bb\x0cc"), ["a", "b", "c"]);
    }

    #[test]
    fn quotes() {
        assert_eq!(words(r#"log-format "%ci %ST""#), ["log-format", "%ci %ST"]);
        assert_eq!(words("x 'a b' c"), ["x", "a b", "c"]);
        assert_eq!(words(r#"x "a 'b' c""#), ["x", "a 'b' c"]);
        assert_eq!(words(r#"x 'a "b" c'"#), ["x", "a \"b\" c"]);
        // Quotes join with adjacent text.
        assert_eq!(words(r#"x pre"mid dle"post"#), ["x", "premid dlepost"]);
        assert_eq!(words(r#"x "a"'b'c"#), ["x", "abc"]);
        // Empty quoted words are words.
        assert_eq!(words(r#"x "" y"#), ["x", "", "y"]);
        assert_eq!(words("x ''"), ["x", ""]);
        // No comments inside quotes.
        assert_eq!(words(r#"x "a # b" # c"#), ["x", "a # b"]);
        assert_eq!(words("x 'a # b'"), ["x", "a # b"]);
        // Single quotes are literal.
        assert_eq!(words(r"x 'a\tb ${HOST}'"), ["x", r"a\tb ${HOST}"]);
    }

    #[test]
    fn escapes() {
        assert_eq!(words(r"x a\ b"), ["x", "a b"]);
        assert_eq!(words(r"x a\\b"), ["x", r"a\b"]);
        assert_eq!(words(r"x \#not-a-comment"), ["x", "#not-a-comment"]);
        assert_eq!(words(r#"x \"q\" \'s\'"#), ["x", "\"q\"", "'s'"]);
        assert_eq!(words(r"x a\tb\nc\rd"), ["x", "a\tb\nc\rd"]);
        assert_eq!(words(r"x \x41\x62"), ["x", "Ab"]);
        assert_eq!(words(r#"x "in \"quotes\"""#), ["x", "in \"quotes\""]);
        // Unknown escapes keep their backslash (regular expressions).
        assert_eq!(words(r"x ^/a\.b\d"), ["x", r"^/a\.b\d"]);
        // `\$` escapes only inside double quotes.
        assert_eq!(words(r#"x "\${HOST}" \$y"#), ["x", "${HOST}", r"\$y"]);
        // No line continuation: a trailing backslash stays.
        assert_eq!(words(r"x y\"), ["x", r"y\"]);
        // Multi-byte characters pass through.
        assert_eq!(words("x héllo \"wörld\""), ["x", "héllo", "wörld"]);
    }

    #[test]
    fn environment_variables() {
        assert_eq!(
            words(r#"server s1 "${HOST}:${PORT}""#),
            ["server", "s1", "10.0.0.1:8080"]
        );
        assert_eq!(words(r#"x "$HOST:$PORT""#), ["x", "10.0.0.1:8080"]);
        assert_eq!(words(r#"x "${NOPE-1.2.3.4}:80""#), ["x", "1.2.3.4:80"]);
        assert_eq!(words(r#"x "${HOST-unused}""#), ["x", "10.0.0.1"]);
        assert_eq!(words(r#"x "${NOPE-}""#), ["x", ""]);
        assert_eq!(words(r#"x "${EMPTY}""#), ["x", ""]);
        // Word expansion splits the value on blanks.
        assert_eq!(
            words(r#"server s1 a:1 "${OPTS[*]}" weight 2"#),
            ["server", "s1", "a:1", "check", "inter", "2s", "weight", "2"]
        );
        assert_eq!(words(r#"x "${EMPTY[*]}""#), ["x", ""]);
        // Unquoted: no expansion.
        assert_eq!(words("x ${HOST}"), ["x", "${HOST}"]);
        assert_eq!(words("x '${HOST}'"), ["x", "${HOST}"]);
        // Pseudo-variables.
        assert_eq!(
            words(r#"x "${.FILE}:${.LINE} in ${.SECTION}""#),
            ["x", "test.cfg:7 in backend"]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(err(r#"x "abc"#), "unmatched quote (\") opened at column 3");
        assert_eq!(err("x 'a' 'b"), "unmatched quote (') opened at column 7");
        assert_eq!(
            err(r"x \x4"),
            "invalid '\\x' escape at column 3: expected two hexadecimal digits"
        );
        assert_eq!(
            err(r"é \xzz"),
            "invalid '\\x' escape at column 3: expected two hexadecimal digits"
        );
        assert_eq!(err(r"x \xff"), "'\\x' escapes produce invalid UTF-8");
        assert_eq!(
            err(r#"x "$1""#),
            "invalid variable name at column 5: names start with a letter or '_'"
        );
        assert_eq!(
            err(r#"x "${}""#),
            "invalid variable name at column 6: names start with a letter or '_'"
        );
        assert_eq!(err(r#"x "${HOST""#), "missing '}' for the '{' at column 5");
        assert_eq!(
            err(r#"x "${NOPE-abc""#),
            "missing '}' for the '{' at column 5"
        );
        assert_eq!(err(r#"x "${HOST[1]}""#), "expected '[*]' at column 10");
        assert_eq!(
            err(r#"x "${.NOPE}""#),
            "unknown variable '.NOPE' (expected .LINE, .FILE or .SECTION)"
        );
        assert_eq!(
            err(r#"x "${NOPE}""#),
            "environment variable 'NOPE' is not set (write \"${NOPE-default}\" to give a \
             default)"
        );
        assert_eq!(
            err(r#"x "$NOPE""#),
            "environment variable 'NOPE' is not set (write \"${NOPE-default}\" to give a \
             default)"
        );
        let many = vec!["w"; MAX_WORDS + 1].join(" ");
        assert_eq!(err(&many), "too many words (at most 64 per line)");
        assert_eq!(words(&vec!["w"; MAX_WORDS].join(" ")).len(), MAX_WORDS);
        // 1 + 3 expanded + 61 = 65 words.
        let expanded = format!(r#"x "${{OPTS[*]}}" {}"#, vec!["w"; 61].join(" "));
        assert_eq!(err(&expanded), "too many words (at most 64 per line)");
    }

    proptest! {
        #[test]
        fn never_panics(line in "\\PC{0,60}") {
            let _ = try_words(&line);
        }

        #[test]
        fn never_panics_on_special_characters(line in "[ \"'\\\\#${}\\[\\]*.a-z0-9x-]{0,40}") {
            let _ = try_words(&line);
        }

        #[test]
        fn plain_words_round_trip(ws in proptest::collection::vec("[a-z0-9:/._-]{1,8}", 0..10)) {
            prop_assert_eq!(words(&ws.join(" ")), ws);
        }
    }
}

//! Matching (ACL) primitives as pure predicates: what HAProxy's `acl` lines match with.
//!
//! Protocol layers fetch a sample (an address, a path, a header value) and test it with
//! these matchers; conditions combine them.
//!
//! ```
//! use lb_core::matcher::{IpNet, StrMatch};
//! let lan: IpNet = "10.0.0.0/8".parse().unwrap();
//! assert!(lan.contains("10.1.2.3".parse().unwrap()));
//! assert!(StrMatch::Beg("/api/".into()).matches("/api/v1/users", false));
//! assert!(StrMatch::Dom("example.com".into()).matches("www.EXAMPLE.com", true));
//! ```

mod ipnet;

pub use ipnet::{IpNet, IpNetError};

/// String matching methods of HAProxy ACLs (`-m str|beg|end|sub|dir|dom|len|found`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StrMatch {
    /// Exact match.
    Str(String),
    /// Prefix.
    Beg(String),
    /// Suffix.
    End(String),
    /// Substring.
    Sub(String),
    /// A slash-delimited segment equal to the pattern.
    Dir(String),
    /// A dot-delimited label sequence equal to the pattern (domain match).
    Dom(String),
    /// Length equal to.
    Len(usize),
    /// The sample exists (any value).
    Found,
}

impl StrMatch {
    /// Whether `sample` matches; `ignore_case` is HAProxy's `-i`.
    pub fn matches(&self, sample: &str, ignore_case: bool) -> bool {
        let eq = |a: &str, b: &str| {
            if ignore_case {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        match self {
            StrMatch::Str(p) => eq(sample, p),
            StrMatch::Beg(p) => {
                sample.len() >= p.len()
                    && sample.is_char_boundary(p.len())
                    && eq(&sample[..p.len()], p)
            }
            StrMatch::End(p) => {
                sample.len() >= p.len()
                    && sample.is_char_boundary(sample.len() - p.len())
                    && eq(&sample[sample.len() - p.len()..], p)
            }
            StrMatch::Sub(p) => {
                if ignore_case {
                    sample
                        .to_ascii_lowercase()
                        .contains(&p.to_ascii_lowercase())
                } else {
                    sample.contains(p.as_str())
                }
            }
            StrMatch::Dir(p) => delimited(sample, p, '/', ignore_case),
            StrMatch::Dom(p) => delimited(sample, p, '.', ignore_case),
            StrMatch::Len(n) => sample.len() == *n,
            StrMatch::Found => true,
        }
    }
}

/// Whether `pattern` (itself possibly made of several segments) appears in `sample` as a
/// run of whole `sep`-delimited segments.
fn delimited(sample: &str, pattern: &str, sep: char, ignore_case: bool) -> bool {
    let pat: Vec<&str> = pattern.split(sep).filter(|s| !s.is_empty()).collect();
    if pat.is_empty() {
        return false;
    }
    let segs: Vec<&str> = sample.split(sep).filter(|s| !s.is_empty()).collect();
    segs.windows(pat.len()).any(|w| {
        w.iter().zip(&pat).all(|(a, b)| {
            if ignore_case {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        })
    })
}

/// Integer comparisons of HAProxy ACLs (`eq ge gt le lt`, ranges `a:b`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntMatch {
    /// Equal.
    Eq(i64),
    /// Greater or equal.
    Ge(i64),
    /// Greater than.
    Gt(i64),
    /// Less or equal.
    Le(i64),
    /// Less than.
    Lt(i64),
    /// In an inclusive range.
    Range(i64, i64),
}

impl IntMatch {
    /// Whether `v` matches.
    pub fn matches(&self, v: i64) -> bool {
        match *self {
            IntMatch::Eq(x) => v == x,
            IntMatch::Ge(x) => v >= x,
            IntMatch::Gt(x) => v > x,
            IntMatch::Le(x) => v <= x,
            IntMatch::Lt(x) => v < x,
            IntMatch::Range(a, b) => a <= v && v <= b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn string_methods() {
        assert!(StrMatch::Str("GET".into()).matches("get", true));
        assert!(!StrMatch::Str("GET".into()).matches("get", false));
        assert!(StrMatch::End(".png".into()).matches("/a/b.png", false));
        assert!(StrMatch::Sub("min".into()).matches("/ADMIN/x", true));
        assert!(StrMatch::Dir("api/v1".into()).matches("/x/api/v1/users", false));
        assert!(!StrMatch::Dir("api".into()).matches("/apis/v1", false));
        assert!(StrMatch::Dom("example.com".into()).matches("a.example.com", false));
        assert!(!StrMatch::Dom("example.com".into()).matches("badexample.com", false));
        assert!(StrMatch::Len(3).matches("abc", false));
        assert!(!StrMatch::Beg("/é".into()).matches("/e", false));
    }

    #[test]
    fn int_methods() {
        assert!(IntMatch::Range(200, 299).matches(204));
        assert!(IntMatch::Gt(5).matches(6) && !IntMatch::Gt(5).matches(5));
    }

    proptest! {
        #[test]
        fn matchers_never_panic(s in ".*", p in ".*", i in any::<bool>()) {
            for m in [StrMatch::Str(p.clone()), StrMatch::Beg(p.clone()), StrMatch::End(p.clone()),
                      StrMatch::Sub(p.clone()), StrMatch::Dir(p.clone()), StrMatch::Dom(p.clone())] {
                let _ = m.matches(&s, i);
            }
            prop_assert!(StrMatch::Beg(String::new()).matches(&s, i));
        }
    }
}

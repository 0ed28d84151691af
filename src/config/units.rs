//! HAProxy's number formats: times (`5s`, `100ms`, `2m`; milliseconds when no unit is
//! given) and sizes (`16k`, `1m`; bytes when no unit is given, powers of 1024).
//!
//! # Examples
//! ```
//! use std::time::Duration;
//! use lb::config::units::{parse_size, parse_time};
//!
//! assert_eq!(parse_time("5s"), Ok(Duration::from_secs(5)));
//! assert_eq!(parse_time("250"), Ok(Duration::from_millis(250)));
//! assert_eq!(parse_size("16k"), Ok(16 * 1024));
//! assert_eq!(
//!     parse_time("5x").unwrap_err().to_string(),
//!     "invalid time '5x': unknown unit 'x' (expected us, ms, s, m, h or d; default ms)"
//! );
//! ```

use std::fmt;
use std::time::Duration;

/// The longest time HAProxy accepts for a timer: 2^31 - 1 milliseconds (about 24.8 days).
pub const MAX_TIME: Duration = Duration::from_millis(i32::MAX as u64);

/// A time or size that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnitError {
    /// Empty text.
    Empty {
        /// `"time"` or `"size"`.
        what: &'static str,
    },
    /// A minus sign: times and sizes are never negative.
    Negative {
        /// `"time"` or `"size"`.
        what: &'static str,
        /// The text.
        text: String,
    },
    /// No digits before the unit.
    NotANumber {
        /// `"time"` or `"size"`.
        what: &'static str,
        /// The text.
        text: String,
    },
    /// An unknown unit after the digits.
    UnknownUnit {
        /// `"time"` or `"size"`.
        what: &'static str,
        /// The text.
        text: String,
        /// The unit as written.
        unit: String,
    },
    /// A value too large.
    Overflow {
        /// `"time"` or `"size"`.
        what: &'static str,
        /// The text.
        text: String,
    },
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = |what: &str| {
            if what == "time" {
                "us, ms, s, m, h or d; default ms"
            } else {
                "k, m or g; default bytes"
            }
        };
        match self {
            UnitError::Empty { what } => write!(f, "empty {what}"),
            UnitError::Negative { what, text } => {
                write!(f, "invalid {what} '{text}': must not be negative")
            }
            UnitError::NotANumber { what, text } => write!(
                f,
                "invalid {what} '{text}': expected a number with an optional unit ({})",
                units(what)
            ),
            UnitError::UnknownUnit { what, text, unit } => write!(
                f,
                "invalid {what} '{text}': unknown unit '{unit}' (expected {})",
                units(what)
            ),
            UnitError::Overflow { what, text } if *what == "time" => write!(
                f,
                "invalid time '{text}': too large (at most 2147483647 ms, about 24.8 days)"
            ),
            UnitError::Overflow { what, text } => write!(f, "invalid {what} '{text}': too large"),
        }
    }
}

impl std::error::Error for UnitError {}

/// Splits `text` into its leading decimal digits and the rest.
fn split_number<'a>(what: &'static str, text: &'a str) -> Result<(u64, &'a str), UnitError> {
    if text.is_empty() {
        return Err(UnitError::Empty { what });
    }
    if text.starts_with('-') {
        return Err(UnitError::Negative {
            what,
            text: text.to_owned(),
        });
    }
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(end);
    if digits.is_empty() {
        return Err(UnitError::NotANumber {
            what,
            text: text.to_owned(),
        });
    }
    let n = digits.parse::<u64>().map_err(|_| UnitError::Overflow {
        what,
        text: text.to_owned(),
    })?;
    Ok((n, unit))
}

/// Parses an HAProxy time: digits and an optional unit `us`, `ms` (the default), `s`, `m`,
/// `h` or `d`.
///
/// # Errors
/// A [`UnitError`] for empty or negative text, a missing number, an unknown unit, or a
/// value above [`MAX_TIME`] (HAProxy's timer limit).
pub fn parse_time(text: &str) -> Result<Duration, UnitError> {
    let (n, unit) = split_number("time", text)?;
    let overflow = || UnitError::Overflow {
        what: "time",
        text: text.to_owned(),
    };
    let d = match unit {
        "us" => Duration::from_micros(n),
        "" | "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(overflow)?),
        "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(overflow)?),
        "d" => Duration::from_secs(n.checked_mul(86_400).ok_or_else(overflow)?),
        _ => {
            return Err(UnitError::UnknownUnit {
                what: "time",
                text: text.to_owned(),
                unit: unit.to_owned(),
            })
        }
    };
    if d > MAX_TIME {
        return Err(overflow());
    }
    Ok(d)
}

/// Parses an HAProxy size: digits and an optional unit `k`, `m` or `g` (powers of 1024,
/// either case).
///
/// # Errors
/// A [`UnitError`] for empty or negative text, a missing number, an unknown unit, or a
/// value that does not fit in 64 bits.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let (n, unit) = split_number("size", text)?;
    let mult: u64 = match unit {
        "" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        _ => {
            return Err(UnitError::UnknownUnit {
                what: "size",
                text: text.to_owned(),
                unit: unit.to_owned(),
            })
        }
    };
    n.checked_mul(mult).ok_or_else(|| UnitError::Overflow {
        what: "size",
        text: text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("0"), Ok(Duration::ZERO));
        assert_eq!(parse_time("10"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_time("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_time("7us"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_time("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_time("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_time("3h"), Ok(Duration::from_secs(3 * 3600)));
        assert_eq!(parse_time("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_time("2147483647"), Ok(MAX_TIME));
        assert_eq!(parse_time("24d"), Ok(Duration::from_secs(24 * 86_400)));
    }

    #[test]
    fn time_errors() {
        let e = |s: &str| parse_time(s).unwrap_err().to_string();
        assert_eq!(e(""), "empty time");
        assert_eq!(e("-5s"), "invalid time '-5s': must not be negative");
        assert_eq!(
            e("s"),
            "invalid time 's': expected a number with an optional unit (us, ms, s, m, h or d; \
             default ms)"
        );
        assert_eq!(
            e("5x"),
            "invalid time '5x': unknown unit 'x' (expected us, ms, s, m, h or d; default ms)"
        );
        assert_eq!(
            e("5 s"),
            "invalid time '5 s': unknown unit ' s' (expected us, ms, s, m, h or d; default ms)"
        );
        assert_eq!(
            e("25d"),
            "invalid time '25d': too large (at most 2147483647 ms, about 24.8 days)"
        );
        assert_eq!(
            e("2147483648"),
            "invalid time '2147483648': too large (at most 2147483647 ms, about 24.8 days)"
        );
        assert_eq!(
            e("99999999999999999999"),
            "invalid time '99999999999999999999': too large (at most 2147483647 ms, about 24.8 \
             days)"
        );
        assert_eq!(
            e("999999999999999999d"),
            "invalid time '999999999999999999d': too large (at most 2147483647 ms, about 24.8 \
             days)"
        );
        assert_eq!(
            e("1.5s"),
            "invalid time '1.5s': unknown unit '.5s' (expected us, ms, s, m, h or d; default ms)"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("16k"), Ok(16 << 10));
        assert_eq!(parse_size("16K"), Ok(16 << 10));
        assert_eq!(parse_size("2m"), Ok(2 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        let e = |s: &str| parse_size(s).unwrap_err().to_string();
        assert_eq!(e(""), "empty size");
        assert_eq!(e("-1"), "invalid size '-1': must not be negative");
        assert_eq!(
            e("k"),
            "invalid size 'k': expected a number with an optional unit (k, m or g; default bytes)"
        );
        assert_eq!(
            e("1t"),
            "invalid size '1t': unknown unit 't' (expected k, m or g; default bytes)"
        );
        assert_eq!(
            e("99999999999999g"),
            "invalid size '99999999999999g': too large"
        );
        assert_eq!(
            e("99999999999999999999"),
            "invalid size '99999999999999999999': too large"
        );
    }

    proptest! {
        #[test]
        fn never_panic(s in "\\PC{0,12}") {
            let _ = parse_time(&s);
            let _ = parse_size(&s);
        }

        #[test]
        fn millis_round_trip(n in 0u64..=i32::MAX as u64) {
            prop_assert_eq!(parse_time(&n.to_string()), Ok(Duration::from_millis(n)));
            prop_assert_eq!(parse_time(&format!("{n}ms")), Ok(Duration::from_millis(n)));
        }
    }
}

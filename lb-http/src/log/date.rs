//! Civil (proleptic Gregorian, UTC) dates from [`SystemTime`], without a date crate.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    /// 1..=12
    pub(crate) month: u32,
    /// 1..=31
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) millis: u32,
}

/// Milliseconds since the Unix epoch, negative before it (saturating).
pub(crate) fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => {
            // Round towards negative infinity: -0.5 ms is -1 ms.
            let d = e.duration();
            let millis = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
            i64::try_from(millis).map_or(i64::MIN, |m| -m)
        }
    }
}

/// `t + ms`, saturating at the far future.
pub(crate) fn add_millis(t: SystemTime, ms: u64) -> SystemTime {
    t.checked_add(Duration::from_millis(ms)).unwrap_or(t)
}

/// Days since 1970-01-01 -> (year, month, day), Howard Hinnant's `civil_from_days`.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day and month are in small ranges, as annotated.
    (year, month as u32, day as u32)
}

/// (year, month, day) -> days since 1970-01-01, Howard Hinnant's `days_from_civil`.
#[cfg(test)]
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Civil {
    /// Breaks `t` down in UTC.
    pub(crate) fn from_system_time(t: SystemTime) -> Self {
        let ms = unix_millis(t);
        let secs = ms.div_euclid(1000);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        // All in range by construction (sod < 86400, ms % 1000 < 1000).
        Self {
            year,
            month,
            day,
            hour: (sod / 3600) as u32,
            minute: (sod % 3600 / 60) as u32,
            second: (sod % 60) as u32,
            millis: ms.rem_euclid(1000) as u32,
        }
    }

    fn month_name(&self) -> &'static str {
        MONTHS[(self.month.clamp(1, 12) - 1) as usize]
    }

    /// HAProxy's `%t` / `%tr`: `25/Nov/2026:22:18:28.123`.
    pub(crate) fn write_log(&self, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = write!(
            out,
            "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:03}",
            self.day,
            self.month_name(),
            self.year,
            self.hour,
            self.minute,
            self.second,
            self.millis
        );
    }

    /// HAProxy's `%T`: `25/Nov/2026:22:18:28 +0000`.
    pub(crate) fn write_gmt(&self, out: &mut String) {
        let _ = write!(
            out,
            "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
            self.day,
            self.month_name(),
            self.year,
            self.hour,
            self.minute,
            self.second
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    fn log(t: SystemTime) -> String {
        let mut s = String::new();
        Civil::from_system_time(t).write_log(&mut s);
        s
    }

    #[test]
    fn vectors() {
        assert_eq!(log(UNIX_EPOCH), "01/Jan/1970:00:00:00.000");
        // 2024-02-29T12:34:56.789Z
        assert_eq!(log(at(1_709_210_096, 789)), "29/Feb/2024:12:34:56.789");
        // 2026-11-25T22:18:28.123Z
        assert_eq!(log(at(1_795_645_108, 123)), "25/Nov/2026:22:18:28.123");
        assert_eq!(log(at(951_782_400, 0)), "29/Feb/2000:00:00:00.000");
        assert_eq!(log(at(4_107_542_399, 999)), "28/Feb/2100:23:59:59.999");
        assert_eq!(log(at(4_107_542_400, 0)), "01/Mar/2100:00:00:00.000");
    }

    #[test]
    fn gmt_vector() {
        let mut s = String::new();
        Civil::from_system_time(at(1_795_645_108, 123)).write_gmt(&mut s);
        assert_eq!(s, "25/Nov/2026:22:18:28 +0000");
    }

    #[test]
    fn before_epoch() {
        let t = UNIX_EPOCH - Duration::from_millis(1);
        assert_eq!(log(t), "31/Dec/1969:23:59:59.999");
        let t = UNIX_EPOCH - Duration::from_micros(500);
        assert_eq!(unix_millis(t), -1);
        assert_eq!(log(t), "31/Dec/1969:23:59:59.999");
    }

    #[test]
    fn days_round_trip_known() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    }

    proptest! {
        #[test]
        fn days_round_trip(days in -100_000_000i64..100_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m));
            prop_assert!((1..=31).contains(&d));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}

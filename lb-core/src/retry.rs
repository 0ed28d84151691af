//! Retry policy shared by the protocol layers: `retries` and `option redispatch`.

use std::time::Duration;

/// `option redispatch [interval]`: which retries go to another server.
///
/// # Examples
/// ```
/// use lb_core::Redispatch;
/// // `option redispatch` (interval -1): only the last of 3 retries moves.
/// assert!(!Redispatch::Last.applies(1, 3));
/// assert!(Redispatch::Last.applies(3, 3));
/// assert!(Redispatch::Every(1).applies(1, 3));
/// assert!(!Redispatch::Off.applies(3, 3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Redispatch {
    /// Never: every retry goes to the same server (HAProxy without `option redispatch`).
    #[default]
    Off,
    /// On the last retry only (`option redispatch`, interval -1).
    Last,
    /// On the N-th retry before the last (`option redispatch -N`, N >= 2).
    BeforeLast(u32),
    /// Every n-th retry (positive interval).
    Every(u32),
}

impl Redispatch {
    /// From HAProxy's interval argument: 0 disables, P > 0 every P-th retry, N < 0 the
    /// |N|-th retry before the last (-1 = the last).
    pub fn from_interval(interval: i32) -> Self {
        match interval {
            0 => Redispatch::Off,
            -1 => Redispatch::Last,
            n if n < 0 => Redispatch::BeforeLast(n.unsigned_abs()),
            n => Redispatch::Every(n as u32),
        }
    }

    /// Whether retry number `attempt` (1-based) of `retries` goes to another server.
    pub fn applies(self, attempt: u32, retries: u32) -> bool {
        match self {
            Redispatch::Off => false,
            Redispatch::Last => attempt == retries,
            Redispatch::BeforeLast(n) => retries >= n - 1 && attempt == retries + 1 - n,
            Redispatch::Every(n) => n > 0 && attempt.is_multiple_of(n),
        }
    }
}

/// How long HAProxy waits before retrying the same server: min(timeout connect, 1 s).
pub fn retry_delay(connect_timeout: Option<Duration>) -> Duration {
    connect_timeout.map_or(Duration::from_secs(1), |t| t.min(Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(Redispatch::from_interval(0), Redispatch::Off);
        assert_eq!(Redispatch::from_interval(-1), Redispatch::Last);
        assert_eq!(Redispatch::from_interval(2), Redispatch::Every(2));
        let r = Redispatch::from_interval(-2);
        // -2: the retry before the last.
        assert!(r.applies(2, 3) && !r.applies(3, 3) && !r.applies(1, 3));
        let every2 = Redispatch::Every(2);
        assert_eq!((1..=4).filter(|&a| every2.applies(a, 4)).count(), 2);
        assert_eq!(
            retry_delay(Some(Duration::from_millis(200))),
            Duration::from_millis(200)
        );
        assert_eq!(retry_delay(None), Duration::from_secs(1));
    }
}

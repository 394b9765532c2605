//! When to try again. Plain domain code: time and randomness come in as arguments.
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{DEFAULT_DELIVERY_MAX_AGE, DEFAULT_RETRY_SCHEDULE};

pub const DEFAULT_JITTER: f64 = 0.2;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub schedule: Vec<Duration>,
    /// No attempt after first attempt + this; one last attempt is made at that moment.
    pub max_age: Duration,
    /// ±fraction applied to each wait.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            schedule: DEFAULT_RETRY_SCHEDULE.to_vec(),
            max_age: DEFAULT_DELIVERY_MAX_AGE,
            jitter: DEFAULT_JITTER,
        }
    }
}

/// What one attempt's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Never try again (410 Gone).
    Final,
    Retry,
}

/// 2xx is delivered, 410 is final, everything else (other statuses, timeouts, refused
/// connections) is worth another try.
pub fn verdict(status: Option<u16>) -> Verdict {
    match status {
        Some(s) if (200..300).contains(&s) => Verdict::Delivered,
        Some(410) => Verdict::Final,
        _ => Verdict::Retry,
    }
}

/// Parses `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let at: DateTime<Utc> = date.into();
    (at - now).to_std().ok()
}

impl RetryPolicy {
    pub fn deadline(&self, first_attempt: DateTime<Utc>) -> DateTime<Utc> {
        first_attempt + chrono::Duration::from_std(self.max_age).unwrap_or(chrono::Duration::MAX)
    }

    /// The wait after the `failures`-th failure (1-based), before jitter.
    pub fn base_wait(&self, failures: u32) -> Duration {
        let index = (failures.max(1) as usize - 1).min(self.schedule.len().saturating_sub(1));
        self.schedule.get(index).copied().unwrap_or(Duration::from_secs(60))
    }

    /// When to try next after the `failures`-th failed attempt (counted since the first attempt
    /// or the last replay) at `now`, or `None` when the deadline has passed. `unit` in `[0, 1)`
    /// draws the jitter; `retry_after` is the receiver's wish, honoured within the deadline.
    ///
    /// The attempt that failed began at `started` and ended at `now`. One that began before the
    /// deadline is always followed by one at the deadline — at once, if it ended after it — so
    /// an attempt that straddles the deadline does not cost the last try.
    pub fn next_attempt(
        &self,
        failures: u32,
        deadline: DateTime<Utc>,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Option<DateTime<Utc>> {
        if started >= deadline {
            return None;
        }
        let base = self.base_wait(failures).as_secs_f64();
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let mut wait = Duration::from_secs_f64((base * factor).max(0.0));
        if let Some(after) = retry_after {
            wait = wait.max(after);
        }
        let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        Some(next.min(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap()
    }

    /// Attempt times of a receiver that always fails, with a fixed jitter draw.
    fn attempt_times(policy: &RetryPolicy, unit: f64) -> Vec<DateTime<Utc>> {
        let first = t0();
        let mut times = vec![first];
        let mut now = first;
        let mut failures = 0;
        while let Some(next) = policy.next_attempt(failures + 1, policy.deadline(first), now, now, None, unit) {
            failures += 1;
            times.push(next);
            now = next;
            assert!(times.len() < 100, "the schedule ends");
        }
        times
    }

    #[test]
    fn the_default_schedule_without_jitter() {
        let times = attempt_times(&RetryPolicy::default(), 0.5);
        let offsets: Vec<i64> = times.iter().map(|t| (*t - t0()).num_seconds()).collect();
        // 0, +5s, +30s, +2m, +10m, +30m, +1h, +2h, +4h, +6h, +6h, then the deadline.
        assert_eq!(
            offsets,
            vec![
                0, 5, 35, 155, 755, 2555, 6155, 13355, 27755, 49355, 70955, 92555, 114155, 129600
            ]
        );
    }

    #[test]
    fn the_last_attempt_is_at_the_deadline_and_none_after_it_whatever_the_jitter() {
        for unit in [0.0, 0.25, 0.5, 0.75, 0.999] {
            let times = attempt_times(&RetryPolicy::default(), unit);
            let last = *times.last().unwrap();
            let since_first = last - t0();
            assert!(since_first >= chrono::Duration::hours(35), "{since_first}");
            assert!(since_first <= chrono::Duration::hours(36), "{since_first}");
            assert_eq!(last, t0() + chrono::Duration::hours(36));
            assert!(times.windows(2).all(|w| w[0] < w[1]), "strictly later each time");
        }
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let p = RetryPolicy::default();
        for (failures, base) in [(1u32, 5.0), (3, 120.0), (9, 21600.0), (20, 21600.0)] {
            let low = p
                .next_attempt(failures, p.deadline(t0()), t0(), t0(), None, 0.0)
                .unwrap()
                - t0();
            let high = p
                .next_attempt(failures, p.deadline(t0()), t0(), t0(), None, 0.99999)
                .unwrap()
                - t0();
            assert!(
                (low.as_seconds_f64() - base * 0.8).abs() < base * 1e-4,
                "{failures}: {low}"
            );
            assert!(
                (high.as_seconds_f64() - base * 1.2).abs() < base * 1e-4,
                "{failures}: {high}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_within_the_deadline() {
        let p = RetryPolicy::default();
        let deadline = p.deadline(t0());
        let next = p
            .next_attempt(1, deadline, t0(), t0(), Some(Duration::from_secs(600)), 0.5)
            .unwrap();
        assert_eq!(next - t0(), chrono::Duration::seconds(600));
        let late = t0() + chrono::Duration::hours(35);
        let capped = p
            .next_attempt(5, deadline, late, late, Some(Duration::from_secs(7200)), 0.5)
            .unwrap();
        assert_eq!(capped, deadline);
        assert_eq!(p.next_attempt(5, deadline, deadline, deadline, None, 0.5), None);
        // An attempt that began before the deadline and ended after it still gets the last try,
        // due at once; the one after that does not.
        let after = deadline + chrono::Duration::seconds(3);
        let straddling = p.next_attempt(5, deadline, deadline - chrono::Duration::seconds(2), after, None, 0.5);
        assert_eq!(straddling, Some(deadline));
        assert_eq!(p.next_attempt(6, deadline, after, after, None, 0.5), None);
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(Some(200)), Verdict::Delivered);
        assert_eq!(verdict(Some(204)), Verdict::Delivered);
        assert_eq!(verdict(Some(410)), Verdict::Final);
        for s in [
            Some(301),
            Some(400),
            Some(401),
            Some(404),
            Some(429),
            Some(500),
            Some(503),
            None,
        ] {
            assert_eq!(verdict(s), Verdict::Retry, "{s:?}");
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120", t0()), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", t0()),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", t0()), None);
    }
}

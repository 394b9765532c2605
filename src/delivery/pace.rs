//! How far ahead the worker claims: as many rows as it can send well within their lease.
//!
//! Claiming many rows at once makes each row's share of a claim (and of the recording that
//! follows) small: draining on a 2-core machine, 4 / 8 / 16 rows per attempt slot gave
//! 17.4–17.7k / 19.7–20.6k / 21.9–23.4k deliveries per second on SQLite and 17.6–17.9k /
//! 20.3–20.4k / 21.1–22.7k on PostgreSQL (bench/README.md). But a claimed row
//! waits, leased, until a slot is free, and each slot sends its rows one after another: with
//! `ahead` rows per slot the last waits about `ahead` attempts. A row whose lease could run out
//! during its attempt is not sent (another instance may take it) and waits for its lease
//! instead, so the worker claims far ahead only while attempts are quick: `ahead` attempts must
//! fit in a quarter of the lease, judged by the recent mean attempt time.
use std::time::Duration;

/// Rows per attempt slot at least: what a slow receiver gets (4 × the 10 s timeout is well
/// within the 60 s lease).
pub const MIN_AHEAD: usize = 4;
/// Rows per attempt slot at most: beyond this the drain did not get faster.
pub const MAX_AHEAD: usize = 16;

/// The recent mean attempt time, and the claim size it allows.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    mean: Duration,
}

impl Pace {
    /// Starts cautious: as if every attempt took `assume` (the attempt timeout).
    pub fn new(assume: Duration) -> Self {
        Self { mean: assume }
    }

    /// Takes one attempt's time into the mean (each attempt weighs 1/16).
    pub fn observe(&mut self, attempt: Duration) {
        self.mean = self.mean.mul_f64(15.0 / 16.0) + attempt.mul_f64(1.0 / 16.0);
    }

    pub fn mean(&self) -> Duration {
        self.mean
    }

    /// Rows per attempt slot to hold: as many as are sent, one after another, within a quarter
    /// of `lease` at the recent pace, between [`MIN_AHEAD`] and [`MAX_AHEAD`].
    pub fn ahead(&self, lease: Duration) -> usize {
        let fits = lease.as_secs_f64() / 4.0 / self.mean.as_secs_f64().max(1e-6);
        (fits.floor() as usize).clamp(MIN_AHEAD, MAX_AHEAD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(60);

    #[test]
    fn quick_attempts_claim_far_ahead_and_slow_ones_no_further_than_the_minimum() {
        let ms = Duration::from_millis;
        assert_eq!(Pace::new(ms(2)).ahead(LEASE), MAX_AHEAD);
        assert_eq!(
            Pace::new(ms(1_000)).ahead(LEASE),
            15,
            "15 one-second attempts fit in 15 s"
        );
        assert_eq!(Pace::new(ms(2_500)).ahead(LEASE), 6);
        assert_eq!(Pace::new(Duration::from_secs(10)).ahead(LEASE), MIN_AHEAD);
        assert_eq!(Pace::new(Duration::ZERO).ahead(LEASE), MAX_AHEAD);
    }

    #[test]
    fn the_pace_follows_recent_attempts() {
        // Starts from the timeout, so the first claims are the smallest.
        let mut pace = Pace::new(Duration::from_secs(10));
        assert_eq!(pace.ahead(LEASE), MIN_AHEAD);
        for _ in 0..100 {
            pace.observe(Duration::from_millis(2));
        }
        assert!(pace.mean() < Duration::from_millis(20), "{:?}", pace.mean());
        assert_eq!(pace.ahead(LEASE), MAX_AHEAD);
        // A receiver turning slow brings the claims back down within a few dozen attempts.
        for _ in 0..40 {
            pace.observe(Duration::from_secs(10));
        }
        assert_eq!(pace.ahead(LEASE), MIN_AHEAD);
    }
}

//! What an attempt means for its row: the new state, when to try next, the outcome logged and
//! counted. Plain domain code: the clock's readings and the jitter's draw come in as arguments.
use chrono::{DateTime, Utc};

use crate::delivery::due::Due;
use crate::delivery::outbox::DeliveryState;
use crate::delivery::policy::{RetryPolicy, Verdict};
use crate::delivery::report::AttemptReport;

/// The judgement on one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// This attempt's number (1-based, over the row's life).
    pub attempt_no: i32,
    /// When the row's first attempt began (this one, if it is the first).
    pub first: DateTime<Utc>,
    /// After this no attempt begins: the row's own (a replay sets one) or the policy's.
    pub deadline: DateTime<Utc>,
    pub state: DeliveryState,
    /// When the row is due next; unchanged when it is final.
    pub next: DateTime<Utc>,
    /// `delivered`, `dead` or `retry`.
    pub outcome: &'static str,
}

/// Judges the attempt of `row` that began at `started_at` and whose report came at `finished`.
/// `unit` in `[0, 1)` draws the retry's jitter.
pub fn judge(
    policy: &RetryPolicy,
    row: &Due,
    started_at: DateTime<Utc>,
    report: &AttemptReport,
    finished: DateTime<Utc>,
    unit: f64,
) -> Judged {
    let attempt_no = row.attempts + 1;
    let first = row.first_attempt_at.unwrap_or(started_at);
    let deadline = row.deadline_at.unwrap_or_else(|| policy.deadline(first));
    // Failures since the first attempt or the last replay: a replayed row starts the schedule
    // again.
    let failures = u32::try_from(attempt_no - row.replay_base).unwrap_or(1);
    let (state, next, outcome) = match report.verdict {
        Verdict::Delivered => (DeliveryState::Delivered, row.next_attempt_at, "delivered"),
        Verdict::Final => (DeliveryState::Dead, row.next_attempt_at, "dead"),
        Verdict::Retry => match policy.next_attempt(failures, deadline, started_at, finished, report.retry_after, unit)
        {
            Some(at) => (DeliveryState::Pending, at, "retry"),
            None => (DeliveryState::Dead, row.next_attempt_at, "dead"),
        },
    };
    Judged {
        attempt_no,
        first,
        deadline,
        state,
        next,
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use uuid::Uuid;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
    }

    fn row(attempts: i32) -> Due {
        Due {
            id: Uuid::nil(),
            kind: crate::delivery::outbox::Kind::Result,
            organization_id: None,
            assessment_id: None,
            ordering_key: "k".into(),
            target: "http://127.0.0.1:9/".into(),
            payload: "{}".into(),
            attempts,
            replay_base: 0,
            next_attempt_at: at(0),
            first_attempt_at: (attempts > 0).then(|| at(0)),
            deadline_at: None,
            lease_expires_at: None,
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            schedule: vec![Duration::from_secs(5), Duration::from_secs(60)],
            max_age: Duration::from_secs(3_600),
            jitter: 0.0,
        }
    }

    #[test]
    fn a_delivered_first_attempt_starts_the_clock_and_is_final() {
        let j = judge(
            &policy(),
            &row(0),
            at(10),
            &AttemptReport::answered(204, None, None),
            at(11),
            0.5,
        );
        assert_eq!(j.attempt_no, 1);
        assert_eq!(j.first, at(10));
        assert_eq!(j.deadline, at(10 + 3_600));
        assert_eq!((j.state, j.outcome), (DeliveryState::Delivered, "delivered"));
    }

    #[test]
    fn gone_is_final_at_once() {
        let j = judge(
            &policy(),
            &row(0),
            at(10),
            &AttemptReport::answered(410, None, None),
            at(11),
            0.5,
        );
        assert_eq!((j.state, j.outcome), (DeliveryState::Dead, "dead"));
        assert_eq!(j.next, at(0), "a final row keeps its due time");
    }

    #[test]
    fn failures_follow_the_schedule_and_honour_retry_after() {
        let p = policy();
        let first = judge(&p, &row(0), at(0), &AttemptReport::failed("refused"), at(1), 0.5);
        assert_eq!((first.state, first.next), (DeliveryState::Pending, at(1 + 5)));
        let second = judge(
            &p,
            &row(1),
            at(100),
            &AttemptReport::answered(503, None, None),
            at(100),
            0.5,
        );
        assert_eq!(second.attempt_no, 2);
        assert_eq!(second.first, at(0), "the first attempt's time is kept");
        assert_eq!(second.next, at(100 + 60));
        let asked = AttemptReport::answered(429, None, Some(Duration::from_secs(600)));
        let third = judge(&p, &row(2), at(200), &asked, at(200), 0.5);
        assert_eq!(third.next, at(200 + 600));
    }

    #[test]
    fn a_failure_after_the_deadline_is_dead_and_one_before_it_gets_a_last_try_at_it() {
        let p = policy();
        let late = judge(
            &p,
            &row(5),
            at(3_600),
            &AttemptReport::failed("timeout"),
            at(3_601),
            0.5,
        );
        assert_eq!((late.state, late.outcome), (DeliveryState::Dead, "dead"));
        let close = judge(
            &p,
            &row(5),
            at(3_590),
            &AttemptReport::failed("timeout"),
            at(3_595),
            0.5,
        );
        assert_eq!((close.state, close.next), (DeliveryState::Pending, at(3_600)));
    }

    #[test]
    fn a_replayed_row_has_its_own_deadline_and_starts_the_schedule_again() {
        let mut replayed = row(7);
        replayed.replay_base = 7;
        replayed.deadline_at = Some(at(10_000));
        let j = judge(
            &policy(),
            &replayed,
            at(9_000),
            &AttemptReport::failed("refused"),
            at(9_000),
            0.5,
        );
        assert_eq!(j.deadline, at(10_000));
        assert_eq!((j.state, j.next), (DeliveryState::Pending, at(9_000 + 5)));
    }
}

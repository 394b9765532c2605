//! Why a dead delivery is dead, in words, from its row and its attempts: the receiver refused it
//! for good, the deadline came first (with what the receiver answered, or that it did not), it
//! was never attempted, or it was erased with its candidate's data.
use crate::delivery::outbox::{DeliveryState, ERASED};
use crate::delivery::policy::{Verdict, verdict};
use crate::entity::{delivery, delivery_attempt};

/// `410 Gone`: a status with its canonical reason phrase.
fn status_text(status: i32) -> String {
    let phrase = u16::try_from(status)
        .ok()
        .and_then(|s| reqwest::StatusCode::from_u16(s).ok())
        .and_then(|s| s.canonical_reason());
    match phrase {
        Some(p) => format!("{status} {p}"),
        None => status.to_string(),
    }
}

fn attempts_text(n: usize) -> String {
    if n == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{n} attempts")
    }
}

/// Why `row` is dead, in words; `None` when it is not dead. `attempts` is its attempt log (all
/// of it, or none when not read: the row's own figures are used then).
pub fn reason(row: &delivery::Model, attempts: &[delivery_attempt::Model]) -> Option<String> {
    if row.state != DeliveryState::Dead {
        return None;
    }
    if row.target == ERASED {
        return Some("erased".to_owned());
    }
    // The attempts since the last replay (all of them when there was none).
    let round: Vec<&delivery_attempt::Model> = attempts.iter().filter(|a| a.attempt_no > row.replay_base).collect();
    let count = if attempts.is_empty() {
        usize::try_from(row.attempts - row.replay_base).unwrap_or(0)
    } else {
        round.len()
    };
    if count == 0 {
        return Some(match &row.last_error {
            Some(e) => format!("no attempt was made ({e})"),
            None => "no attempt was made".to_owned(),
        });
    }
    let last_status = round.last().map_or(row.last_status, |a| a.status_code);
    if let Some(s) = last_status
        && verdict(u16::try_from(s).ok()) == Verdict::Final
    {
        return Some(format!("the receiver answered {}", status_text(s)));
    }
    let n = attempts_text(count);
    if !round.is_empty() {
        let first = round[0].status_code;
        if round.iter().all(|a| a.status_code == first) {
            return Some(match first {
                None => format!("no answer before the deadline after {n}"),
                Some(s) if count == 1 => {
                    format!(
                        "the receiver answered {} at the only attempt before the deadline",
                        status_text(s)
                    )
                }
                Some(s) => format!(
                    "the receiver answered {} at each of {n} until the deadline",
                    status_text(s)
                ),
            });
        }
    }
    Some(match last_status {
        Some(s) => format!(
            "not delivered before the deadline after {n}; the receiver answered {} at the last",
            status_text(s)
        ),
        None => format!("not delivered before the deadline after {n}; the last got no answer"),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::delivery::outbox::Kind;

    fn t() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn row(statuses: &[Option<i32>], replay_base: i32) -> (delivery::Model, Vec<delivery_attempt::Model>) {
        let id = Uuid::now_v7();
        let attempts: Vec<_> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| delivery_attempt::Model {
                id: Uuid::now_v7(),
                delivery_id: id,
                attempt_no: i as i32 + 1,
                started_at: t(),
                duration_ms: 1,
                status_code: *s,
                outcome: "retry".into(),
                error: None,
                response_excerpt: None,
            })
            .collect();
        let d = delivery::Model {
            id,
            kind: Kind::Result,
            organization_id: None,
            assessment_id: None,
            ordering_key: String::new(),
            target: "http://127.0.0.1/x".into(),
            payload: serde_json::json!({}),
            state: DeliveryState::Dead,
            attempts: statuses.len() as i32,
            replay_base,
            next_attempt_at: t(),
            first_attempt_at: None,
            deadline_at: None,
            lease_owner: None,
            lease_expires_at: None,
            last_status: statuses.last().copied().flatten(),
            last_error: None,
            delivered_at: None,
            created_at: t(),
            updated_at: t(),
        };
        (d, attempts)
    }

    #[test]
    fn the_reason_is_told_from_the_data() {
        let (d, a) = row(&[Some(410)], 0);
        assert_eq!(reason(&d, &a).unwrap(), "the receiver answered 410 Gone");
        let (d, a) = row(&[None; 9], 0);
        assert_eq!(
            reason(&d, &a).unwrap(),
            "no answer before the deadline after 9 attempts"
        );
        let (d, a) = row(&[Some(500); 3], 0);
        assert_eq!(
            reason(&d, &a).unwrap(),
            "the receiver answered 500 Internal Server Error at each of 3 attempts until the deadline"
        );
        let (d, a) = row(&[None, Some(503)], 0);
        assert_eq!(
            reason(&d, &a).unwrap(),
            "not delivered before the deadline after 2 attempts; the receiver answered 503 Service Unavailable at the last"
        );
        // Only the attempts since the replay count.
        let (d, a) = row(&[Some(500), Some(500), None, None], 2);
        assert_eq!(
            reason(&d, &a).unwrap(),
            "no answer before the deadline after 2 attempts"
        );
        let (mut d, a) = row(&[Some(500)], 0);
        d.target = ERASED.into();
        assert_eq!(reason(&d, &a).unwrap(), "erased");
        let (mut d, _) = row(&[Some(500)], 0);
        d.state = DeliveryState::Delivered;
        assert_eq!(reason(&d, &[]), None);
    }
}

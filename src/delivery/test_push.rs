//! A test push, made while its caller waits: the row is written like any result push (leased to
//! this instance's worker and handed to it, or left for any worker when its queue is full), the
//! worker makes its one attempt with the `test_push` sender, and the caller reads what the
//! attempt found from the attempt log. Nothing is sent from the request's own task, so a test
//! push has every property of a real one: the outbox row, the signature, the callback auth, the
//! SSRF guard, the `Idempotency-Key`.
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::delivery::handoff::{Handoff, hand_over};
use crate::delivery::outbox::{self, DeliveryState, Kind, NewDelivery};
use crate::entity::{delivery, delivery_attempt};
use crate::types::OrganizationId;

/// What a receiver's answer shows the integrator at most.
pub const EXCERPT_SHOWN: usize = 1024;

/// What the one attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    pub delivered: bool,
    pub status: Option<u16>,
    pub duration_ms: u32,
    pub error: Option<String>,
    /// At most [`EXCERPT_SHOWN`] bytes of the answer.
    pub response_excerpt: Option<String>,
}

/// What the row says when no worker got to it in time.
const NOT_ATTEMPTED: &str = "test push not attempted in time; withdrawn";

/// A test push to make.
pub struct TestPush {
    pub organization_id: OrganizationId,
    pub url: String,
    pub payload: serde_json::Value,
}

/// Writes the test push and waits (at most `wait`) for its attempt. `None` when no worker made
/// it in time: the row is then withdrawn (dead) so that it is never sent later.
pub async fn send_and_wait(
    db: &DatabaseConnection,
    handoff: &Handoff,
    wake: &Notify,
    push: TestPush,
    now: DateTime<Utc>,
    wait: Duration,
) -> Result<Option<Tried>, DbErr> {
    let new = NewDelivery {
        kind: Kind::TestPush,
        organization_id: Some(push.organization_id),
        assessment_id: None,
        target: push.url,
        payload: push.payload,
    };
    let id = match handoff.reserve(1, now) {
        Some((lease, places)) => {
            let mut written = outbox::enqueue_many(db, vec![new], now, Some(&lease)).await?;
            let row = written.pop().ok_or_else(|| DbErr::RecordNotInserted)?;
            let id = row.id;
            hand_over(row, &mut Some(places));
            id
        }
        None => {
            let id = outbox::enqueue(db, new, now).await?;
            wake.notify_one();
            id
        }
    };
    let deadline = tokio::time::Instant::now() + wait;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(tried) = attempted(db, id).await? {
            return Ok(Some(tried));
        }
        if tokio::time::Instant::now() >= deadline {
            let withdrawn = delivery::Entity::update_many()
                .col_expr(delivery::Column::State, Expr::value(DeliveryState::Dead.as_str()))
                .col_expr(delivery::Column::LastError, Expr::value(NOT_ATTEMPTED))
                .filter(delivery::Column::Id.eq(id))
                .filter(delivery::Column::State.eq(DeliveryState::Pending))
                .filter(delivery::Column::Attempts.eq(0))
                .exec(db)
                .await?;
            if withdrawn.rows_affected == 1 {
                return Ok(None);
            }
            // Attempted meanwhile: recorded by now, or in a moment.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return attempted(db, id).await;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The row's attempt once it is recorded (the row is no longer pending).
async fn attempted(db: &DatabaseConnection, id: Uuid) -> Result<Option<Tried>, DbErr> {
    let row = delivery::Entity::find_by_id(id).one(db).await?;
    if row.is_none_or(|r| r.state == DeliveryState::Pending) {
        return Ok(None);
    }
    let attempt = delivery_attempt::Entity::find()
        .filter(delivery_attempt::Column::DeliveryId.eq(id))
        .order_by_desc(delivery_attempt::Column::AttemptNo)
        .one(db)
        .await?;
    Ok(attempt.map(|a| Tried {
        delivered: a.outcome == "delivered",
        status: a.status_code.and_then(|s| u16::try_from(s).ok()),
        duration_ms: u32::try_from(a.duration_ms).unwrap_or(0),
        error: a.error,
        response_excerpt: a.response_excerpt.map(|e| shorten(e, EXCERPT_SHOWN)),
    }))
}

/// `text` cut to at most `limit` bytes at a character boundary.
fn shorten(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_cut_at_a_character_boundary() {
        assert_eq!(shorten("abc".into(), 1024), "abc");
        let long = "å".repeat(600); // 1,200 bytes
        let cut = shorten(long, EXCERPT_SHOWN);
        assert_eq!(cut.len(), 1024);
        assert!(cut.chars().all(|c| c == 'å'));
        assert_eq!(shorten("aå".into(), 2), "a");
    }
}

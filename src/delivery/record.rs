//! Writing a batch of attempts: one attempt-log row each, and each row's new state, in the
//! caller's transaction.
//!
//! The two databases get different statements because their costs differ (measured, see
//! bench/README.md "Deliveries"): on SQLite every statement is a round trip to sqlx's one
//! database thread, so the batch goes in as one JSON parameter and two statements of fixed
//! text (prepared once); on PostgreSQL one row-per-statement update measured faster than a
//! single joined update, whose plan depends on fresh statistics.
//!
//! Either way the writer learns which rows it updated (a row leased elsewhere or cancelled
//! meanwhile is left alone) and whether a row that reached a final state had later pending
//! rows with its ordering key, now free to go (the worker is woken only then).
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect, Statement,
};
use serde_json::json;
use uuid::Uuid;

use crate::delivery::outbox::DeliveryState;
use crate::entity::{delivery, delivery_attempt};

/// One attempt and what it means for its row.
pub struct Outcome<'a> {
    pub delivery_id: Uuid,
    pub ordering_key: &'a str,
    pub attempt_no: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub status: Option<i32>,
    /// `delivered`, `dead` or `retry`: the attempt log's outcome.
    pub outcome: &'static str,
    pub error: Option<&'a str>,
    pub excerpt: Option<&'a str>,
    /// The row's new state and schedule.
    pub state: DeliveryState,
    pub next_attempt_at: DateTime<Utc>,
    pub first_attempt_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
}

/// What writing a batch found.
#[derive(Debug, Default)]
pub struct Written {
    /// Rows not updated: their lease was no longer this worker's, or they were cancelled.
    pub left_alone: Vec<Uuid>,
    /// A row that reached a final state has a later pending row with the same ordering key.
    pub unblocked: bool,
}

/// Writes the attempts and the rows' new states; rows are updated only while still pending
/// and leased to `owner`. Call inside a transaction.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    finished: DateTime<Utc>,
    batch: &[Outcome<'_>],
) -> Result<Written, DbErr> {
    if batch.is_empty() {
        return Ok(Written::default());
    }
    match db.get_database_backend() {
        DbBackend::Sqlite => write_sqlite(db, owner, finished, batch).await,
        _ => write_per_row(db, owner, finished, batch).await,
    }
}

/// A timestamp as sqlx writes `DateTime<Utc>` to SQLite (TEXT, compared as text by the claim),
/// so that values written through JSON equal values bound as parameters.
fn sqlite_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A UUID as sqlx writes it to SQLite (a 16-byte BLOB), in hex for `unhex()`.
fn sqlite_uuid(id: Uuid) -> String {
    id.simple().to_string()
}

const SQLITE_INSERT_ATTEMPTS: &str = "INSERT INTO delivery_attempts \
    (id, delivery_id, attempt_no, started_at, duration_ms, status_code, outcome, error, response_excerpt) \
    SELECT unhex(value ->> 'id'), unhex(value ->> 'delivery'), value ->> 'attempt', value ->> 'started', \
        value ->> 'ms', value ->> 'status', value ->> 'outcome', value ->> 'error', value ->> 'excerpt' \
    FROM json_each(?1)";

// The `+` keeps SQLite from driving the update from an index on pending rows, which
// would visit every pending row per batch; the plan is then the JSON rows, each looked up by
// primary key.
const SQLITE_UPDATE_ROWS: &str = "UPDATE deliveries SET \
        state = r.value ->> 'state', attempts = r.value ->> 'attempt', \
        next_attempt_at = r.value ->> 'next', first_attempt_at = r.value ->> 'first', \
        deadline_at = r.value ->> 'deadline', lease_owner = NULL, lease_expires_at = NULL, \
        last_status = r.value ->> 'status', last_error = r.value ->> 'error', \
        delivered_at = CASE WHEN r.value ->> 'state' = 'delivered' THEN ?2 END, updated_at = ?2 \
    FROM json_each(?1) AS r \
    WHERE deliveries.id = unhex(r.value ->> 'id') AND deliveries.lease_owner = ?3 \
        AND +deliveries.state = 'pending' \
    RETURNING deliveries.id AS id, deliveries.state AS state, \
        EXISTS (SELECT 1 FROM deliveries e WHERE e.ordering_key = deliveries.ordering_key \
            AND e.state NOT IN ('delivered', 'dead') AND e.id <> deliveries.id) AS followers";

/// "Pending" as the ordering index's predicate says it (migration 5), so that PostgreSQL can
/// only use that index for ordering-key lookups.
const PENDING_FOR_ORDERING: &str = "state NOT IN ('delivered', 'dead')";

async fn write_sqlite<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    finished: DateTime<Utc>,
    batch: &[Outcome<'_>],
) -> Result<Written, DbErr> {
    let attempts: Vec<serde_json::Value> = batch
        .iter()
        .map(|o| {
            json!({
                "id": sqlite_uuid(Uuid::now_v7()),
                "delivery": sqlite_uuid(o.delivery_id),
                "attempt": o.attempt_no,
                "started": sqlite_time(o.started_at),
                "ms": o.duration_ms,
                "status": o.status,
                "outcome": o.outcome,
                "error": o.error,
                "excerpt": o.excerpt,
            })
        })
        .collect();
    let rows: Vec<serde_json::Value> = batch
        .iter()
        .map(|o| {
            json!({
                "id": sqlite_uuid(o.delivery_id),
                "state": o.state.as_str(),
                "attempt": o.attempt_no,
                "next": sqlite_time(o.next_attempt_at),
                "first": sqlite_time(o.first_attempt_at),
                "deadline": sqlite_time(o.deadline_at),
                "status": o.status,
                "error": o.error,
            })
        })
        .collect();
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        SQLITE_INSERT_ATTEMPTS,
        [serde_json::Value::Array(attempts).to_string().into()],
    ))
    .await?;
    let updated = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            SQLITE_UPDATE_ROWS,
            [
                serde_json::Value::Array(rows).to_string().into(),
                sqlite_time(finished).into(),
                owner.into(),
            ],
        ))
        .await?;
    let mut written = Written::default();
    let mut done = std::collections::HashSet::with_capacity(updated.len());
    for row in updated {
        done.insert(row.try_get::<Uuid>("", "id")?);
        let state: String = row.try_get("", "state")?;
        let followers: bool = row.try_get("", "followers")?;
        written.unblocked |= followers && state != DeliveryState::Pending.as_str();
    }
    written.left_alone = batch
        .iter()
        .map(|o| o.delivery_id)
        .filter(|id| !done.contains(id))
        .collect();
    Ok(written)
}

async fn write_per_row<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    finished: DateTime<Utc>,
    batch: &[Outcome<'_>],
) -> Result<Written, DbErr> {
    let attempts = batch.iter().map(|o| delivery_attempt::ActiveModel {
        id: Set(Uuid::now_v7()),
        delivery_id: Set(o.delivery_id),
        attempt_no: Set(o.attempt_no),
        started_at: Set(o.started_at),
        duration_ms: Set(o.duration_ms),
        status_code: Set(o.status),
        outcome: Set(o.outcome.to_owned()),
        error: Set(o.error.map(str::to_owned)),
        response_excerpt: Set(o.excerpt.map(str::to_owned)),
    });
    delivery_attempt::Entity::insert_many(attempts)
        .exec_without_returning(db)
        .await?;
    let mut written = Written::default();
    let mut finished_keys = Vec::new();
    for o in batch {
        let updated = delivery::Entity::update_many()
            .col_expr(delivery::Column::State, Expr::value(o.state.as_str()))
            .col_expr(delivery::Column::Attempts, Expr::value(o.attempt_no))
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(o.next_attempt_at))
            .col_expr(delivery::Column::FirstAttemptAt, Expr::value(Some(o.first_attempt_at)))
            .col_expr(delivery::Column::DeadlineAt, Expr::value(Some(o.deadline_at)))
            .col_expr(delivery::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(
                delivery::Column::LeaseExpiresAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(delivery::Column::LastStatus, Expr::value(o.status))
            .col_expr(delivery::Column::LastError, Expr::value(o.error.map(str::to_owned)))
            .col_expr(
                delivery::Column::DeliveredAt,
                Expr::value((o.state == DeliveryState::Delivered).then_some(finished)),
            )
            .col_expr(delivery::Column::UpdatedAt, Expr::value(finished))
            .filter(delivery::Column::Id.eq(o.delivery_id))
            .filter(delivery::Column::LeaseOwner.eq(owner))
            // A row cancelled while in flight (Ashby cancelled the assessment) stays cancelled.
            .filter(delivery::Column::State.eq(DeliveryState::Pending.as_str()))
            .exec(db)
            .await?;
        if updated.rows_affected == 0 {
            written.left_alone.push(o.delivery_id);
        } else if o.state != DeliveryState::Pending {
            finished_keys.push(o.ordering_key);
        }
    }
    if !finished_keys.is_empty() {
        // Their rows are final now, so a pending row with one of their keys is a later one.
        let follower: Option<Uuid> = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::Id)
            .filter(Expr::cust(PENDING_FOR_ORDERING))
            .filter(delivery::Column::OrderingKey.is_in(finished_keys))
            .into_tuple()
            .one(db)
            .await?;
        written.unblocked = follower.is_some();
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::outbox::{self, Kind, NewDelivery};
    use sea_orm::{Database, DatabaseConnection, TransactionTrait, Value};

    async fn pending_rows(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<[Uuid; 3], DbErr> {
        let assessment = Uuid::now_v7();
        let new = |assessment_id| NewDelivery {
            kind: Kind::Result,
            organization_id: None,
            assessment_id,
            target: "http://receiver.test/results".into(),
            payload: json!({}),
        };
        let first = outbox::enqueue(db, new(Some(assessment)), now).await?;
        let later = outbox::enqueue(db, new(Some(assessment)), now).await?;
        let other = outbox::enqueue(db, new(None), now).await?;
        Ok([first, later, other])
    }

    fn delivered(id: Uuid, ordering_key: &str, at: DateTime<Utc>) -> Outcome<'_> {
        Outcome {
            delivery_id: id,
            ordering_key,
            attempt_no: 1,
            started_at: at,
            duration_ms: 3,
            status: Some(200),
            outcome: "delivered",
            error: None,
            excerpt: Some("ok"),
            state: DeliveryState::Delivered,
            next_attempt_at: at,
            first_attempt_at: at,
            deadline_at: at + chrono::Duration::hours(36),
        }
    }

    /// On SQLite (PostgreSQL's per-row path runs under the API suite's delivery tests on
    /// PostgreSQL, which this does not report on): only rows leased to the writer change, the attempt log gets every
    /// attempt, and a delivered row with a later pending row of its ordering key says so.
    #[tokio::test]
    async fn a_batch_updates_only_own_leases_and_reports_freed_rows() -> Result<(), DbErr> {
        let db = Database::connect("sqlite::memory:").await?;
        crate::db::migrate(&db)
            .await
            .map_err(|e| DbErr::Migration(e.to_string()))?;
        let now = Utc::now();
        let [first, later, other] = pending_rows(&db, now).await?;
        delivery::Entity::update_many()
            .col_expr(delivery::Column::LeaseOwner, Expr::value("me"))
            .filter(delivery::Column::Id.is_in([first, later]))
            .exec(&db)
            .await?;
        delivery::Entity::update_many()
            .col_expr(delivery::Column::LeaseOwner, Expr::value("someone else"))
            .filter(delivery::Column::Id.eq(other))
            .exec(&db)
            .await?;

        let rows = delivery::Entity::find().all(&db).await?;
        let key = |id: Uuid| {
            let row = rows.iter().find(|r| r.id == id);
            row.map(|r| r.ordering_key.clone())
                .ok_or(DbErr::RecordNotFound(id.to_string()))
        };
        let (first_key, later_key, other_key) = (key(first)?, key(later)?, key(other)?);
        let txn = db.begin().await?;
        let batch = [delivered(first, &first_key, now), delivered(other, &other_key, now)];
        let written = write(&txn, "me", now, &batch).await?;
        txn.commit().await?;
        assert!(written.unblocked, "the later row of the first's key is free now");
        assert_eq!(written.left_alone, vec![other]);
        let rows = delivery::Entity::find().all(&db).await?;
        let state = |id| {
            rows.iter()
                .find(|r| r.id == id)
                .map(|r| (r.state.clone(), r.lease_owner.clone()))
        };
        assert_eq!(state(first), Some(("delivered".into(), None)));
        assert_eq!(state(later), Some(("pending".into(), Some("me".into()))));
        assert_eq!(state(other), Some(("pending".into(), Some("someone else".into()))));
        let first_row = rows
            .iter()
            .find(|r| r.id == first)
            .ok_or(DbErr::RecordNotFound("first".into()))?;
        assert_eq!(
            (first_row.attempts, first_row.last_status, first_row.delivered_at),
            (1, Some(200), Some(now))
        );
        assert_eq!(first_row.next_attempt_at, now);
        assert_eq!(delivery_attempt::Entity::find().all(&db).await?.len(), 2);

        // The later row delivered too: nothing left behind it.
        let txn = db.begin().await?;
        let written = write(&txn, "me", now, &[delivered(later, &later_key, now)]).await?;
        txn.commit().await?;
        assert!(!written.unblocked && written.left_alone.is_empty());
        Ok(())
    }

    /// The JSON path writes timestamps and ids exactly as sqlx binds them, so that the claim's
    /// text comparisons and the primary-key lookups see the same values.
    #[tokio::test]
    async fn sqlite_literals_match_what_sqlx_binds() -> Result<(), DbErr> {
        let db = Database::connect("sqlite::memory:").await?;
        let times = [
            DateTime::parse_from_rfc3339("2026-11-30T13:59:33.010398372Z").map(|t| t.with_timezone(&Utc)),
            DateTime::parse_from_rfc3339("2026-11-30T13:59:33Z").map(|t| t.with_timezone(&Utc)),
            DateTime::parse_from_rfc3339("2026-11-30T13:59:33.5Z").map(|t| t.with_timezone(&Utc)),
        ];
        for t in times {
            let t = t.map_err(|e| DbErr::Custom(e.to_string()))?;
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "SELECT CAST(?1 AS TEXT) AS t",
                    [Value::from(t)],
                ))
                .await?
                .ok_or_else(|| DbErr::Custom("no row".into()))?;
            assert_eq!(row.try_get::<String>("", "t")?, sqlite_time(t));
        }
        let id = Uuid::now_v7();
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT ?1 = unhex(?2) AS same",
                [Value::from(id), sqlite_uuid(id).into()],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("no row".into()))?;
        assert!(row.try_get::<bool>("", "same")?);
        Ok(())
    }
}

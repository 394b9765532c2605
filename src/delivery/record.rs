//! Writing a batch of attempts: one attempt-log row each, and each row's new state.
//!
//! The two databases get different statements because their costs differ (measured, see
//! bench/README.md "Deliveries"): on SQLite every statement is a round
//! trip to sqlx's one database thread, so the batch goes in as one JSON text parameter,
//! serialized straight from the batch, and two statements in one fixed text (prepared once, run
//! in one call) read it with `jsonb_each`, which hands each element over as JSONB for `->>` to
//! read in place (`json_each` turned every element back into text, parsed again by each `->>`).
//! On SQLite the batch is usually written in the order writer's transaction ([`Job`]). On
//! PostgreSQL the batch is one statement over typed arrays, in a transaction of its own
//! ([`POSTGRES_RECORD`]).
//!
//! Either way the writer learns which rows it updated (a row leased elsewhere or cancelled
//! meanwhile is left alone) and whether a row that reached a final state had later pending
//! rows with its ordering key, now free to go (the worker is woken only then).
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sqlx::{self, PgPool};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::delivery::outbox::{self, DeliveryState};

/// One attempt and what it means for its row.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub delivery_id: Uuid,
    pub ordering_key: String,
    pub attempt_no: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub status: Option<i32>,
    /// `delivered`, `dead` or `retry`: the attempt log's outcome.
    pub outcome: &'static str,
    pub error: Option<String>,
    pub excerpt: Option<String>,
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

/// A batch of attempts written by another task in a transaction of its own, beside its own
/// writes: on SQLite the order writer (`recruitment::writer`) takes the worker's batches into
/// its next order batch, so that the one connection commits once for both instead of
/// alternating between two kinds of transaction (bench/README.md). `reply`
/// gets what the write found once that transaction has committed, or the error.
pub struct Job {
    pub owner: String,
    pub finished: DateTime<Utc>,
    pub batch: Vec<Outcome>,
    pub reply: oneshot::Sender<Result<Written, RecordError>>,
}

/// Why a batch handed to the order writer was not recorded; nothing of it was committed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The writer's transaction that carried the batch (with others) failed.
    #[error("the order writer's transaction failed: {0}")]
    Writer(Arc<DbErr>),
    /// The writer stopped, or failed, before it wrote the batch.
    #[error("the order writer stopped before writing the attempts")]
    WriterStopped,
}

impl Job {
    /// Writes the job into `txn` (which the caller commits before answering); rows are updated
    /// only while still pending and leased to the job's owner. SQLite's statements: jobs exist
    /// only on SQLite (start-up gives the worker a `record_via` queue there alone). PostgreSQL
    /// records its batches with [`write_alone`], whose statement binds typed arrays with NULLs
    /// in them, which sea-orm's values cannot carry (sea-query's binding panics on a NULL element).
    pub async fn write_into<C: ConnectionTrait>(&self, txn: &C) -> Result<Written, DbErr> {
        if self.batch.is_empty() {
            return Ok(Written::default());
        }
        write_sqlite(txn, &self.owner, self.finished, &self.batch).await
    }
}

/// Hands a batch to the task behind `queue` and waits until it has been written and committed.
/// When that task has stopped, the batch comes back (`Err`) for the caller to write itself.
pub async fn hand_to(
    queue: &mpsc::Sender<Job>,
    owner: &str,
    finished: DateTime<Utc>,
    batch: Vec<Outcome>,
) -> Result<Result<Written, RecordError>, Vec<Outcome>> {
    let (reply, written) = oneshot::channel();
    let job = Job {
        owner: owner.to_owned(),
        finished,
        batch,
        reply,
    };
    if let Err(mpsc::error::SendError(job)) = queue.send(job).await {
        return Err(job.batch);
    }
    // Dropped unanswered: the task stopped while the job waited, or panicked while writing it
    // (its transaction then rolled back). Either way nothing was committed.
    Ok(written.await.unwrap_or(Err(RecordError::WriterStopped)))
}

/// Writes a batch in a transaction of its own: on SQLite the statements of `SQLITE_RECORD`; on
/// PostgreSQL one statement for the whole batch (see [`POSTGRES_RECORD`]). Rows are updated
/// only while still pending and leased to `owner`.
pub async fn write_alone(
    db: &DatabaseConnection,
    owner: &str,
    finished: DateTime<Utc>,
    batch: &[Outcome],
) -> Result<Written, DbErr> {
    if batch.is_empty() {
        return Ok(Written::default());
    }
    if db.get_database_backend() == DbBackend::Postgres {
        return write_postgres(db.get_postgres_connection_pool(), owner, finished, batch).await;
    }
    let txn = crate::db::begin_write(db).await?;
    let written = write_sqlite(&txn, owner, finished, batch).await?;
    txn.commit().await?;
    Ok(written)
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

// The attempts' `INSERT` (`?4`) and the rows' `UPDATE` (`?1` to `?3`) are one text: sqlx runs
// the statements of one text in one call to its database thread, a round trip less per batch.
//
// In the `UPDATE`, the `+` keeps SQLite from driving it from an index on pending rows, which
// would visit every pending row per batch; the plan is then the JSON rows, each looked up by
// primary key. `followers`: a later row with the same ordering key is pending (said as the
// ordering checks say it, `outbox::NOT_PENDING_SQL`).
static SQLITE_RECORD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO delivery_attempts \
            (id, delivery_id, attempt_no, started_at, duration_ms, status_code, outcome, error, response_excerpt) \
        SELECT unhex(value ->> 'id'), unhex(value ->> 'delivery'), value ->> 'attempt', value ->> 'started', \
            value ->> 'ms', value ->> 'status', value ->> 'outcome', value ->> 'error', value ->> 'excerpt' \
        FROM jsonb_each(?4); \
        UPDATE deliveries SET \
            state = r.value ->> 'state', attempts = r.value ->> 'attempt', \
            next_attempt_at = r.value ->> 'next', first_attempt_at = r.value ->> 'first', \
            deadline_at = r.value ->> 'deadline', lease_owner = NULL, lease_expires_at = NULL, \
            last_status = r.value ->> 'status', last_error = r.value ->> 'error', \
            delivered_at = CASE WHEN r.value ->> 'state' = 'delivered' THEN ?2 END, updated_at = ?2 \
        FROM jsonb_each(?1) AS r \
        WHERE deliveries.id = unhex(r.value ->> 'id') AND deliveries.lease_owner = ?3 \
            AND +deliveries.state = 'pending' \
        RETURNING deliveries.id AS id, \
            EXISTS (SELECT 1 FROM deliveries e WHERE e.ordering_key = deliveries.ordering_key \
                AND e.state NOT IN {not_pending} AND e.id <> deliveries.id) AS followers",
        not_pending = outbox::NOT_PENDING_SQL
    )
});

/// An attempt-log row as `SQLITE_RECORD`'s `INSERT` reads it (`value ->> 'key'`).
#[derive(Serialize)]
struct AttemptRow<'a> {
    id: String,
    delivery: String,
    attempt: i32,
    started: String,
    ms: i32,
    status: Option<i32>,
    outcome: &'a str,
    error: Option<&'a str>,
    excerpt: Option<&'a str>,
}

fn attempt_rows(batch: &[Outcome]) -> Vec<AttemptRow<'_>> {
    batch
        .iter()
        .map(|o| AttemptRow {
            id: sqlite_uuid(Uuid::now_v7()),
            delivery: sqlite_uuid(o.delivery_id),
            attempt: o.attempt_no,
            started: sqlite_time(o.started_at),
            ms: o.duration_ms,
            status: o.status,
            outcome: o.outcome,
            error: o.error.as_deref(),
            excerpt: o.excerpt.as_deref(),
        })
        .collect()
}

/// A row's new state as `SQLITE_RECORD`'s `UPDATE` reads it.
#[derive(Serialize)]
struct RowState<'a> {
    id: String,
    state: &'static str,
    attempt: i32,
    next: String,
    first: String,
    deadline: String,
    status: Option<i32>,
    error: Option<&'a str>,
}

fn row_states(batch: &[Outcome]) -> Vec<RowState<'_>> {
    batch
        .iter()
        .map(|o| RowState {
            id: sqlite_uuid(o.delivery_id),
            state: o.state.as_str(),
            attempt: o.attempt_no,
            next: sqlite_time(o.next_attempt_at),
            first: sqlite_time(o.first_attempt_at),
            deadline: sqlite_time(o.deadline_at),
            status: o.status,
            error: o.error.as_deref(),
        })
        .collect()
}

/// A batch as one JSON text parameter, serialized straight from its rows (building a
/// `serde_json::Value` per row first cost a map and an allocation per key).
fn json_text<T: Serialize>(rows: &[T]) -> Result<String, DbErr> {
    serde_json::to_string(rows).map_err(|e| DbErr::Json(format!("serializing a batch of attempts: {e}")))
}

async fn write_sqlite<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    finished: DateTime<Utc>,
    batch: &[Outcome],
) -> Result<Written, DbErr> {
    let attempts = attempt_rows(batch);
    let rows = row_states(batch);
    let updated = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            SQLITE_RECORD.as_str(),
            [
                json_text(&rows)?.into(),
                sqlite_time(finished).into(),
                owner.into(),
                json_text(&attempts)?.into(),
            ],
        ))
        .await?;
    // Each updated row, and whether a later row of its ordering key is pending.
    let mut updated_rows = HashMap::with_capacity(updated.len());
    for row in updated {
        updated_rows.insert(row.try_get::<Uuid>("", "id")?, row.try_get::<bool>("", "followers")?);
    }
    Ok(written(batch, &updated_rows))
}

/// The recording of a batch on PostgreSQL: one statement, prepared once per connection, its
/// columns bound as typed arrays (binary, one parameter per column) and read with `unnest`.
///
/// - The attempt log's `INSERT` is a data-modifying `WITH`, run in full with the `UPDATE`.
/// - The `UPDATE` finds each row of the batch by primary key. Its lease and state conditions
///   sit inside a `CASE` so that the planner cannot use them to pick a plan: on a table whose
///   statistics say little is pending it otherwise drives the update from the pending index
///   and scans every pending row for each batch (880 ms for 256 rows among 10,000 pending,
///   against 6 ms).
/// - `followers`, for a row that reached a final state: a later row of its ordering key is
///   pending (said as the ordering index says "pending", so that the index serves it). The
///   subquery sees the table as the statement began, so the row itself still looks pending
///   there (`e.id <> d.id`); no other row of its key can be in the batch, since a later row is
///   only claimed once the earlier one is final.
///
/// It replaced a multi-row `INSERT` (its text, so its prepared statement, changed with the
/// batch's size), an `UPDATE` joined to `jsonb_to_recordset` of one JSON parameter (parsed, its
/// timestamps parsed from text) and a query for followers (its text changed with the number of
/// keys): three to five round trips more per batch (bench/README.md).
pub const POSTGRES_RECORD: &str = "WITH attempts AS ( \
        INSERT INTO delivery_attempts \
            (id, delivery_id, attempt_no, started_at, duration_ms, status_code, outcome, error, response_excerpt) \
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int4[], $4::timestamptz[], $5::int4[], \
            $6::int4[], $7::text[], $8::text[], $9::text[])) \
    UPDATE deliveries d SET \
        state = r.state, attempts = r.attempt, next_attempt_at = r.next, first_attempt_at = r.first, \
        deadline_at = r.deadline, lease_owner = NULL, lease_expires_at = NULL, \
        last_status = r.status, last_error = r.error, \
        delivered_at = CASE WHEN r.state = 'delivered' THEN $13::timestamptz END, updated_at = $13::timestamptz \
    FROM unnest($2::uuid[], $10::text[], $3::int4[], $11::timestamptz[], $12::timestamptz[], \
        $14::timestamptz[], $6::int4[], $8::text[]) AS r(id, state, attempt, next, first, deadline, status, error) \
    WHERE d.id = r.id AND CASE WHEN d.lease_owner = $15 AND d.state = 'pending' THEN true END \
    RETURNING d.id, r.state <> 'pending' AND (SELECT e.id FROM deliveries e \
        WHERE e.ordering_key = d.ordering_key AND e.state NOT IN ('delivered', 'dead') AND e.id <> d.id \
        LIMIT 1) IS NOT NULL AS followers";

/// `BEGIN` and the worker's planner settings (`outbox::use_index_plans`), in one round trip.
static POSTGRES_BEGIN: LazyLock<String> = LazyLock::new(|| format!("BEGIN; {}", outbox::INDEX_PLANS));

async fn write_postgres(
    pool: &PgPool,
    owner: &str,
    finished: DateTime<Utc>,
    batch: &[Outcome],
) -> Result<Written, DbErr> {
    // One array per column, `$1` to `$15` in order.
    let record = sqlx::query_as::<_, (Uuid, Option<bool>)>(POSTGRES_RECORD)
        .bind(column(batch, |_| Uuid::now_v7()))
        .bind(column(batch, |o| o.delivery_id))
        .bind(column(batch, |o| o.attempt_no))
        .bind(column(batch, |o| o.started_at))
        .bind(column(batch, |o| o.duration_ms))
        .bind(column(batch, |o| o.status))
        .bind(column(batch, |o| o.outcome))
        .bind(column(batch, |o| o.error.as_deref()))
        .bind(column(batch, |o| o.excerpt.as_deref()))
        .bind(column(batch, |o| o.state.as_str()))
        .bind(column(batch, |o| o.next_attempt_at))
        .bind(column(batch, |o| o.first_attempt_at))
        .bind(finished)
        .bind(column(batch, |o| o.deadline_at))
        .bind(owner);
    let mut txn = pool.begin_with(POSTGRES_BEGIN.as_str()).await.map_err(query_err)?;
    let updated = record.fetch_all(&mut *txn).await.map_err(query_err)?;
    txn.commit().await.map_err(query_err)?;
    let updated: HashMap<Uuid, bool> = updated.into_iter().map(|(id, f)| (id, f.unwrap_or(false))).collect();
    Ok(written(batch, &updated))
}

/// One column of a batch, as an array parameter.
fn column<'a, T>(batch: &'a [Outcome], value: impl Fn(&'a Outcome) -> T) -> Vec<T> {
    batch.iter().map(value).collect()
}

/// What a batch's write found, from the rows it updated (each with its `followers`).
fn written(batch: &[Outcome], updated: &HashMap<Uuid, bool>) -> Written {
    let mut written = Written::default();
    for o in batch {
        match updated.get(&o.delivery_id) {
            None => written.left_alone.push(o.delivery_id),
            Some(followers) => written.unblocked |= *followers && o.state != DeliveryState::Pending,
        }
    }
    written
}

fn query_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::outbox::{self, Kind, NewDelivery};
    use sea_orm::{Database, Value};
    use serde_json::json;

    /// The JSON path writes timestamps and ids exactly as sqlx binds them, so that the claim's
    /// text comparisons and the primary-key lookups see the same values.
    #[tokio::test]
    async fn sqlite_literals_match_what_sqlx_binds() -> anyhow::Result<()> {
        let db = Database::connect("sqlite::memory:").await?;
        let times = [
            DateTime::parse_from_rfc3339("2026-11-30T13:59:33.010398372Z").map(|t| t.with_timezone(&Utc)),
            DateTime::parse_from_rfc3339("2026-11-30T13:59:33Z").map(|t| t.with_timezone(&Utc)),
            DateTime::parse_from_rfc3339("2026-11-30T13:59:33.5Z").map(|t| t.with_timezone(&Utc)),
        ];
        for t in times {
            let t = t?;
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "SELECT CAST(?1 AS TEXT) AS t",
                    [Value::from(t)],
                ))
                .await?
                .ok_or_else(|| anyhow::anyhow!("no row"))?;
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
            .ok_or_else(|| anyhow::anyhow!("no row"))?;
        assert!(row.try_get::<bool>("", "same")?);
        Ok(())
    }

    /// Recording a batch of attempts (`delivery::record`, on SQLite and, in CI, PostgreSQL): only
    /// rows leased to the writer change, the attempt log gets every attempt, and a delivered row
    /// with a later pending row of its ordering key says so (the worker is woken only then).
    #[tokio::test]
    async fn a_record_batch_updates_only_own_leases_and_reports_freed_rows() {
        use crate::delivery::outbox::DeliveryState;
        use crate::delivery::record::{Outcome, write_alone};
        use crate::entity::{delivery, delivery_attempt};
        use sea_orm::sea_query::Expr;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

        fn delivered(id: uuid::Uuid, ordering_key: &str, at: chrono::DateTime<chrono::Utc>) -> Outcome {
            Outcome {
                delivery_id: id,
                ordering_key: ordering_key.to_owned(),
                attempt_no: 1,
                started_at: at,
                duration_ms: 3,
                status: Some(200),
                outcome: "delivered",
                error: None,
                excerpt: Some("ok".to_owned()),
                state: DeliveryState::Delivered,
                next_attempt_at: at,
                first_attempt_at: at,
                deadline_at: at + chrono::Duration::hours(36),
            }
        }

        let dir = tempfile::tempdir().unwrap();
        let db = &crate::testing::migrated_database(dir.path()).await;
        // Microseconds: what PostgreSQL keeps.
        let now = chrono::DateTime::from_timestamp_micros(chrono::Utc::now().timestamp_micros()).unwrap();
        let assessment = uuid::Uuid::now_v7();
        let new = |assessment_id| NewDelivery {
            kind: Kind::Result,
            organization_id: None,
            assessment_id,
            target: "http://receiver.test/results".into(),
            payload: json!({}),
        };
        let first = outbox::enqueue(db, new(Some(assessment.into())), now).await.unwrap();
        let later = outbox::enqueue(db, new(Some(assessment.into())), now).await.unwrap();
        let other = outbox::enqueue(db, new(None), now).await.unwrap();
        delivery::Entity::update_many()
            .col_expr(delivery::Column::LeaseOwner, Expr::value("me"))
            .filter(delivery::Column::Id.is_in([first, later]))
            .exec(db)
            .await
            .unwrap();
        delivery::Entity::update_many()
            .col_expr(delivery::Column::LeaseOwner, Expr::value("someone else"))
            .filter(delivery::Column::Id.eq(other))
            .exec(db)
            .await
            .unwrap();

        let rows = delivery::Entity::find().all(db).await.unwrap();
        let key = |id| rows.iter().find(|r| r.id == id).unwrap().ordering_key.clone();
        let (first_key, later_key, other_key) = (key(first), key(later), key(other));
        let batch = [delivered(first, &first_key, now), delivered(other, &other_key, now)];
        let written = write_alone(db, "me", now, &batch).await.unwrap();
        assert!(written.unblocked, "the later row of the first's key is free now");
        assert_eq!(written.left_alone, vec![other]);
        let rows = delivery::Entity::find().all(db).await.unwrap();
        let state = |id| {
            rows.iter()
                .find(|r| r.id == id)
                .map(|r| (r.state.as_str().to_owned(), r.lease_owner.clone()))
        };
        assert_eq!(state(first), Some(("delivered".into(), None)));
        assert_eq!(state(later), Some(("pending".into(), Some("me".into()))));
        assert_eq!(state(other), Some(("pending".into(), Some("someone else".into()))));
        let first_row = rows.iter().find(|r| r.id == first).unwrap();
        assert_eq!(
            (first_row.attempts, first_row.last_status, first_row.delivered_at),
            (1, Some(200), Some(now))
        );
        assert_eq!(first_row.next_attempt_at, now);
        assert_eq!(delivery_attempt::Entity::find().all(db).await.unwrap().len(), 2);

        // The later row delivered too: nothing left behind it.
        let written = write_alone(db, "me", now, &[delivered(later, &later_key, now)])
            .await
            .unwrap();
        assert!(!written.unblocked && written.left_alone.is_empty());
    }
}

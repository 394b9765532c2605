//! Writing outgoing calls: one row per call, in the transaction of the change that causes it.
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbBackend, DbErr, EntityTrait};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entity::delivery;
use crate::types::{AssessmentId, OrganizationId};

/// The PostgreSQL channel that tells other instances a row was added.
pub const NOTIFY_CHANNEL: &str = "ap_deliveries";

/// What a row that carried contact data keeps once its candidate is erased: its target and
/// last error read this (`assessment::personal_data`), and such a row is never sent again.
pub const ERASED: &str = "erased";

/// Call at the start of the worker's transactions on PostgreSQL (the claim, recording attempts);
/// on SQLite it does nothing. Their statements are index lookups that stop early, and the only
/// good plans walk the outbox's indexes; but when the statistics say few rows are pending (a
/// table never analysed, or analysed while quiet before a receiver went down for a day) the
/// planner prefers plans whose cost grows with the backlog: the claim fetched every due row,
/// checked each one's ordering and sorted them (28–50 ms per claim with 30,000 pending rows,
/// against 2 ms), and the recorder's "is a later row pending?" read the whole table (5.8 ms,
/// against 0.2). For the transaction only (`LOCAL`), the planner is told not to sort or scan
/// otherwise. Measured with EXPLAIN ANALYZE; see bench/README.md.
///
/// The plans are also generic (`plan_cache_mode`): sqlx prepares each statement once per
/// connection, and PostgreSQL, left to choose, kept planning the claim afresh at every run once
/// the table held 10,000 pending rows or more (its estimate for the plan built for the actual
/// `LIMIT` and time beat the generic plan's), about 0.4 ms per claim that a small table did not
/// pay. With the plan shapes fixed by the settings above, the generic plan is the same plan;
/// claims of one row then cost the same from 10^3 to 10^6 pending rows, and a drain of 30,000
/// ran 13–15k/s against 11–13k/s (bench/README.md).
pub async fn use_index_plans<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(INDEX_PLANS).await?;
    }
    Ok(())
}

/// The settings of [`use_index_plans`].
pub const INDEX_PLANS: &str = "SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off; \
    SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan";

/// [`use_index_plans`] for a claim, whose commit also does not wait for the WAL flush (in the
/// same round trip). A lease is not worth a disk flush: if PostgreSQL crashes and loses a claim
/// that had committed, the row is merely claimable again, and the attempt made under the lost
/// lease is not recorded (the recorder only updates rows still leased to it), so the row is
/// sent again with the same `Idempotency-Key` — at least once, as always. The next synchronous
/// commit flushes the claim with it (the WAL is one sequence). Measured on PostgreSQL with a
/// slow disk: see bench/README.md.
pub async fn begin_claim<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("{INDEX_PLANS}; SET LOCAL synchronous_commit = off"))
            .await?;
    }
    Ok(())
}

/// What a row sends.
pub use crate::entity::enums::DeliveryKind as Kind;
/// Where a row is.
pub use crate::entity::enums::DeliveryState;

/// Every state but pending, as an SQL list. The ordering checks (the claim in
/// `delivery::claim`, `delivery::record`) say "pending" as `state NOT IN` this list, as the
/// ordering index does (migration 5, which spells it out), so that PostgreSQL's due index
/// (`state = 'pending'`) can never serve them. A test keeps it equal to [`DeliveryState::ALL`].
pub const NOT_PENDING_SQL: &str = "('delivered', 'dead')";

/// An e-mail as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailPayload {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// The same message in HTML, sent beside the text (multipart/alternative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// A call to add to the outbox.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub kind: Kind,
    pub organization_id: Option<OrganizationId>,
    pub assessment_id: Option<AssessmentId>,
    pub target: String,
    pub payload: serde_json::Value,
}

/// Adds the row; call inside the transaction of the change that causes it. On PostgreSQL the
/// NOTIFY is sent when that transaction commits, waking every instance's worker.
pub async fn enqueue<C: ConnectionTrait>(db: &C, new: NewDelivery, now: DateTime<Utc>) -> Result<Uuid, DbErr> {
    let (id, row) = row(new, now);
    delivery::Entity::insert(row).exec_without_returning(db).await?;
    notify(db).await?;
    Ok(id)
}

/// A lease to write with new rows: they are born claimed by this instance's worker, which gets
/// them handed over in memory after the commit (see `recruitment::writer`), so nobody has to
/// claim them from the table. If the instance dies first, the lease runs out and any worker
/// claims them as usual.
#[derive(Debug, Clone)]
pub struct Lease {
    pub owner: String,
    pub until: DateTime<Utc>,
}

/// Adds several rows with one statement; see [`enqueue`]. Rows written with a `lease` wake no
/// one (their owner gets them in memory); others send one NOTIFY. Returns the rows written.
pub async fn enqueue_many<C: ConnectionTrait>(
    db: &C,
    news: Vec<NewDelivery>,
    now: DateTime<Utc>,
    lease: Option<&Lease>,
) -> Result<Vec<delivery::Model>, DbErr> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<delivery::ActiveModel> = news
        .into_iter()
        .map(|n| {
            let (_, mut row) = row(n, now);
            if let Some(lease) = lease {
                row.lease_owner = Set(Some(lease.owner.clone()));
                row.lease_expires_at = Set(Some(lease.until));
            }
            row
        })
        .collect();
    let written = delivery::Entity::insert_many(rows).exec_with_returning(db).await?;
    if lease.is_none() {
        notify(db).await?;
    }
    Ok(written)
}

/// What a sandbox organisation's invitation row says instead of an answer.
pub const SANDBOX_NOTE: &str = "sandbox organization: rendered and logged, not sent";

/// Writes rows that are settled at once, never sent: a sandbox organisation's invitations. Each
/// is `delivered` with no attempt and [`SANDBOX_NOTE`] as its last error, so the delivery log
/// shows what would have gone out. No worker is woken.
pub async fn write_sandboxed<C: ConnectionTrait>(
    db: &C,
    news: Vec<NewDelivery>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if news.is_empty() {
        return Ok(());
    }
    let rows = news.into_iter().map(|n| {
        let (_, mut row) = row(n, now);
        row.state = Set(DeliveryState::Delivered);
        row.delivered_at = Set(Some(now));
        row.last_error = Set(Some(SANDBOX_NOTE.to_owned()));
        row
    });
    delivery::Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// Deletes up to `batch` delivered or dead rows last changed before `cutoff`, with their
/// attempts, in one transaction; how many rows went. Call again while it returns `batch`.
pub async fn delete_settled_before(
    db: &sea_orm::DatabaseConnection,
    cutoff: DateTime<Utc>,
    batch: u64,
) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let txn = crate::db::begin_write(db).await?;
    let ids: Vec<Uuid> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .filter(delivery::Column::State.ne(DeliveryState::Pending))
        .filter(delivery::Column::UpdatedAt.lt(cutoff))
        .limit(batch)
        .into_tuple()
        .all(&txn)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    crate::entity::delivery_attempt::Entity::delete_many()
        .filter(crate::entity::delivery_attempt::Column::DeliveryId.is_in(ids.iter().copied()))
        .exec(&txn)
        .await?;
    let deleted = delivery::Entity::delete_many()
        .filter(delivery::Column::Id.is_in(ids))
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(deleted)
}

/// Rows [`defer`] moves per statement at most.
const DEFER_CHUNK: usize = 200;

/// Gives rows leased to `owner` back to the table, each due again at its own time, without an
/// attempt (`delivery::gate` held them back). A row no longer pending or leased to `owner` is
/// left alone. Returns how many moved.
pub async fn defer<C: ConnectionTrait>(db: &C, owner: &str, rows: &[(Uuid, DateTime<Utc>)]) -> Result<u64, DbErr> {
    use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait};
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut moved = 0;
    for chunk in rows.chunks(DEFER_CHUNK) {
        let mut due = CaseStatement::new();
        for (id, at) in chunk {
            due = due.case(Expr::col(delivery::Column::Id).eq(Expr::value(*id)), Expr::value(*at));
        }
        moved += delivery::Entity::update_many()
            .col_expr(delivery::Column::NextAttemptAt, due.into())
            .col_expr(delivery::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(
                delivery::Column::LeaseExpiresAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(delivery::Column::Id.is_in(chunk.iter().map(|(id, _)| *id)))
            .filter(delivery::Column::LeaseOwner.eq(owner))
            .filter(delivery::Column::State.eq(DeliveryState::Pending))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(moved)
}

/// Tells the other instances' workers (PostgreSQL) that a row is due; nothing on SQLite.
pub(super) async fn notify<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(&format!("NOTIFY {NOTIFY_CHANNEL}")).await?;
    }
    Ok(())
}

fn row(new: NewDelivery, now: DateTime<Utc>) -> (Uuid, delivery::ActiveModel) {
    let id = Uuid::now_v7();
    let ordering_key = match new.assessment_id {
        Some(assessment) => format!("{assessment}:{}", new.target),
        None => id.to_string(),
    };
    let row = delivery::ActiveModel {
        id: Set(id),
        kind: Set(new.kind),
        organization_id: Set(new.organization_id),
        assessment_id: Set(new.assessment_id),
        ordering_key: Set(ordering_key),
        target: Set(new.target),
        payload: Set(new.payload),
        state: Set(DeliveryState::Pending),
        attempts: Set(0),
        replay_base: Set(0),
        next_attempt_at: Set(now),
        first_attempt_at: Set(None),
        deadline_at: Set(None),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        last_status: Set(None),
        last_error: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    (id, row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_not_pending_list_names_every_other_state() {
        let others: Vec<String> = DeliveryState::ALL
            .into_iter()
            .filter(|s| *s != DeliveryState::Pending)
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(NOT_PENDING_SQL, format!("({})", others.join(", ")));
    }
}

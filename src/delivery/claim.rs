//! Leasing the outbox's due rows to a worker, and giving them back.
//!
//! Claiming is one `UPDATE … RETURNING`: on PostgreSQL its row selection takes
//! `FOR UPDATE SKIP LOCKED`, so several instances share the rows without taking the same one;
//! on SQLite the single writer makes it atomic. A row is only claimable when no earlier pending
//! row has the same ordering key (assessment + target), which keeps those calls in order. A
//! crashed instance's leases run out and another instance takes the rows.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
    Statement,
};

use crate::delivery::due::Due;
use crate::delivery::outbox::{self, DeliveryState};
use crate::entity::delivery;

/// The claim: up to `limit` due, unleased rows whose ordering key has no earlier pending row,
/// oldest due first, leased to `owner` until `until`.
///
/// The ordering check is a scalar subquery, not `NOT EXISTS`, and says "pending" as the ordering
/// index does (migration 5): PostgreSQL turns `NOT EXISTS` into an anti join and, when its
/// statistics say nothing is pending, scans every pending row per candidate.
pub fn claim_statement(
    backend: DbBackend,
    owner: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: usize,
) -> Statement {
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let mut sql = format!(
        "UPDATE deliveries SET lease_owner = $1, lease_expires_at = $2 \
         WHERE id IN (SELECT d.id FROM deliveries d \
           WHERE d.state = 'pending' AND d.next_attempt_at <= $3 \
             AND (d.lease_expires_at IS NULL OR d.lease_expires_at < $3) \
             AND (SELECT e.id FROM deliveries e WHERE e.ordering_key = d.ordering_key \
               AND e.state NOT IN {not_pending} AND e.id < d.id LIMIT 1) IS NULL \
           ORDER BY d.next_attempt_at LIMIT $4 {lock}) \
         RETURNING {columns}",
        not_pending = outbox::NOT_PENDING_SQL,
        columns = Due::COLUMNS,
    );
    if backend == DbBackend::Sqlite {
        sql = sql.replace('$', "?");
    }
    let values: Vec<sea_orm::Value> = vec![owner.into(), until.into(), now.into(), (limit as i64).into()];
    Statement::from_sql_and_values(backend, sql, values)
}

/// Leases up to `limit` due rows to `owner` until `until`.
pub async fn claim(
    db: &DatabaseConnection,
    owner: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Due>, DbErr> {
    let backend = db.get_database_backend();
    let claim = claim_statement(backend, owner, until, now, limit);
    // On PostgreSQL the claim's plan is pinned for its transaction, whose commit does not
    // wait for the disk (`outbox::begin_claim`); SQLite needs no transaction around one
    // statement.
    let rows = if backend == DbBackend::Postgres {
        let txn = crate::db::begin_write(db).await?;
        outbox::begin_claim(&txn).await?;
        let rows = txn.query_all_raw(claim).await?;
        txn.commit().await?;
        rows
    } else {
        db.query_all_raw(claim).await?
    };
    rows.iter().map(|r| Due::read(r, backend)).collect()
}

/// When the next pending row falls due, if any.
pub async fn next_due(db: &DatabaseConnection) -> Result<Option<DateTime<Utc>>, DbErr> {
    let due: Option<Option<DateTime<Utc>>> = delivery::Entity::find()
        .select_only()
        .column_as(delivery::Column::NextAttemptAt.min(), "due")
        .filter(delivery::Column::State.eq(DeliveryState::Pending))
        .into_tuple()
        .one(db)
        .await?;
    Ok(due.flatten())
}

/// Makes the rows `owner` leased and did not finish claimable again at once.
pub async fn release_leases(db: &DatabaseConnection, owner: &str) -> Result<u64, DbErr> {
    let result = delivery::Entity::update_many()
        .col_expr(delivery::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            delivery::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(delivery::Column::LeaseOwner.eq(owner))
        .filter(delivery::Column::State.eq(DeliveryState::Pending))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

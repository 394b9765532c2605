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

use crate::delivery::due::{Due, KNOWN_KINDS_SQL};
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
             AND (d.lease_expires_at IS NULL OR d.lease_expires_at < $3) AND d.kind IN {known} \
             AND (SELECT e.id FROM deliveries e WHERE e.ordering_key = d.ordering_key \
               AND e.state NOT IN {not_pending} AND e.id < d.id LIMIT 1) IS NULL \
           ORDER BY d.next_attempt_at LIMIT $4 {lock}) \
         RETURNING {columns}",
        not_pending = outbox::NOT_PENDING_SQL,
        columns = Due::COLUMNS,
        known = KNOWN_KINDS_SQL.as_str(),
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

/// When the next pending row of a kind this build sends falls due, if any.
pub async fn next_due(db: &DatabaseConnection) -> Result<Option<DateTime<Utc>>, DbErr> {
    let due: Option<Option<DateTime<Utc>>> = delivery::Entity::find()
        .select_only()
        .column_as(delivery::Column::NextAttemptAt.min(), "due")
        .filter(delivery::Column::State.eq(DeliveryState::Pending))
        .filter(delivery::Column::Kind.is_in(outbox::Kind::ALL))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::outbox::{Kind, NewDelivery};
    use serde_json::{Value, json};

    /// The worker's statements walk the outbox's indexes whatever the statistics say. The table
    /// here was never analysed, and PostgreSQL then believes few rows are pending: left to itself
    /// it answers a claim by fetching every due row, checking each one's ordering and sorting them,
    /// and the recorder's question by reading the whole table (costs that grow with the backlog).
    /// `outbox::use_index_plans` rules those plans out.
    #[tokio::test]
    async fn the_worker_statements_use_the_outbox_indexes_on_a_table_never_analysed() {
        use sea_orm::TransactionTrait;

        let dir = tempfile::tempdir().unwrap();
        let db = &crate::testing::migrated_database(dir.path()).await;
        let now = chrono::Utc::now();
        let txn = db.begin().await.unwrap();
        enqueue_result_pushes(&txn, 2_000, now, || json!({})).await;
        txn.commit().await.unwrap();
        let backend = db.get_database_backend();

        let claim = claim_statement(backend, "me", now + chrono::Duration::minutes(1), now, 64);
        let plan = explain(db, claim).await;
        assert!(
            plan.contains("ix_deliveries_pending_due"),
            "the claim does not use the due index:\n{plan}"
        );
        for (bad, why) in [
            ("Sort", "sorts the due rows"),
            ("Bitmap", "fetches every due row"),
            ("Seq Scan", "reads the whole table"),
            ("TEMP B-TREE", "sorts the due rows"),
            ("SCAN d", "reads the whole table"),
        ] {
            assert!(!plan.contains(bad), "the claim {why}:\n{plan}");
        }

        // PostgreSQL records a batch with one statement: each row is found by primary key, not by
        // walking the pending rows (880 ms for a batch among 10,000 pending, against 6 ms), and the
        // question "is a later row of its key pending?" is answered by the ordering index. (SQLite's
        // recording text holds two statements, which EXPLAIN cannot take as one; not checked here.)
        if backend == sea_orm::DbBackend::Postgres {
            let plan = explain_postgres_record(db.get_postgres_connection_pool()).await;
            assert!(
                plan.contains("deliveries_pkey"),
                "the batch's rows are not found by key:\n{plan}"
            );
            assert!(
                plan.contains("ix_deliveries_pending_order"),
                "the ordering index does not answer for followers:\n{plan}"
            );
            assert!(
                !plan.contains("ix_deliveries_pending_due"),
                "the update walks the pending rows:\n{plan}"
            );
            assert!(!plan.contains("Seq Scan"), "reads the whole table:\n{plan}");
        }
    }

    /// A row of a kind this build does not send (a newer release's, during a rolling upgrade)
    /// is left pending for an instance that sends it: not claimed, and not "due" to this worker.
    #[tokio::test]
    async fn rows_of_a_kind_this_build_does_not_know_are_left_pending() {
        use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

        let dir = tempfile::tempdir().unwrap();
        let db = &crate::testing::migrated_database(dir.path()).await;
        let backend = db.get_database_backend();
        let now = chrono::Utc::now();
        let later = now + chrono::Duration::minutes(1);
        let txn = db.begin().await.unwrap();
        enqueue_result_pushes(&txn, 1, now - chrono::Duration::seconds(1), || json!({})).await;
        txn.commit().await.unwrap();
        db.execute_raw(Statement::from_string(
            backend,
            "UPDATE deliveries SET kind = 'from_a_newer_release'",
        ))
        .await
        .unwrap();
        assert_eq!(next_due(db).await.unwrap(), None);
        assert!(claim(db, "me", later, now, 64).await.unwrap().is_empty());

        let txn = db.begin().await.unwrap();
        enqueue_result_pushes(&txn, 1, now - chrono::Duration::seconds(1), || json!({})).await;
        txn.commit().await.unwrap();
        assert!(next_due(db).await.unwrap().is_some());
        let claimed = claim(db, "me", later, now, 64).await.unwrap();
        assert_eq!(claimed.iter().map(|d| d.kind).collect::<Vec<_>>(), [Kind::Result]);
    }

    /// The plan of `record::POSTGRES_RECORD` as the worker runs it (after the planner settings of
    /// `outbox::use_index_plans`), with an empty batch.
    async fn explain_postgres_record(pool: &sea_orm::sqlx::PgPool) -> String {
        use crate::delivery::record::POSTGRES_RECORD;
        use chrono::{DateTime, Utc};
        use sea_orm::sqlx::{self, Row};

        let mut txn = pool.begin().await.unwrap();
        sqlx::raw_sql(outbox::INDEX_PLANS).execute(&mut *txn).await.unwrap();
        let explain = format!("EXPLAIN {POSTGRES_RECORD}");
        let (ids, ints, times, texts) = (
            Vec::<uuid::Uuid>::new(),
            Vec::<i32>::new(),
            Vec::<DateTime<Utc>>::new(),
            Vec::<String>::new(),
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(explain))
            .bind(&ids)
            .bind(&ids)
            .bind(&ints)
            .bind(&times)
            .bind(&ints)
            .bind(&ints)
            .bind(&texts)
            .bind(&texts)
            .bind(&texts)
            .bind(&texts)
            .bind(&times)
            .bind(&times)
            .bind(Utc::now())
            .bind(&times)
            .bind("me")
            .fetch_all(&mut *txn)
            .await
            .unwrap();
        txn.rollback().await.unwrap();
        rows.iter()
            .map(|row| row.get::<String, _>(0))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// On PostgreSQL a claim rewrites each claimed row in place (a "HOT" update: no new index
    /// entries), because the outbox's pages keep room for it (migration 6, fill factor 50, which
    /// says why and what it gained). SQLite has no such setting; see `testing::postgres_database`.
    #[tokio::test]
    #[ignore = "PostgreSQL only: .ci/run runs it with AP_TEST_DATABASE_URL"]
    async fn a_claim_updates_the_claimed_rows_in_place_on_postgres() {
        use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

        let db = &crate::testing::postgres_database().await;
        let now = chrono::Utc::now();
        let txn = db.begin().await.unwrap();
        // A burst of rows the size of a result push, enough to fill many pages.
        enqueue_result_pushes(
            &txn,
            1_000,
            now,
            || json!({ "resultId": uuid::Uuid::now_v7(), "score": 71, "padding": "x".repeat(300) }),
        )
        .await;
        let claim = claim_statement(DbBackend::Postgres, "me", now + chrono::Duration::minutes(1), now, 64);
        let claimed = txn.query_all_raw(claim).await.unwrap().len();
        assert_eq!(claimed, 64);
        let counts = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'deliveries'",
            ))
            .await
            .unwrap()
            .unwrap();
        let updated: i64 = counts.try_get("", "n_tup_upd").unwrap();
        let in_place: i64 = counts.try_get("", "n_tup_hot_upd").unwrap();
        txn.rollback().await.unwrap();
        assert_eq!(updated, 64);
        assert_eq!(in_place, 64, "claimed rows moved to other pages (new index entries)");
    }

    /// `n` pending result pushes, due at `now`, each with its own assessment (so its own ordering
    /// key), written 100 per statement (SQLite's limit on bound values).
    async fn enqueue_result_pushes(
        txn: &sea_orm::DatabaseTransaction,
        n: usize,
        now: chrono::DateTime<chrono::Utc>,
        payload: impl Fn() -> Value,
    ) {
        for start in (0..n).step_by(100) {
            let news = (start..n.min(start + 100))
                .map(|_| NewDelivery {
                    kind: Kind::Result,
                    organization_id: None,
                    assessment_id: Some(crate::types::AssessmentId::generate()),
                    target: "http://receiver.test/results".into(),
                    payload: payload(),
                })
                .collect();
            outbox::enqueue_many(txn, news, now, None).await.unwrap();
        }
    }

    /// The plan of a worker statement as the worker runs it (after `outbox::use_index_plans`), one
    /// line per node.
    async fn explain(db: &sea_orm::DatabaseConnection, statement: sea_orm::Statement) -> String {
        use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

        let backend = db.get_database_backend();
        let (prefix, column) = match backend {
            DbBackend::Postgres => ("EXPLAIN ", "QUERY PLAN"),
            _ => ("EXPLAIN QUERY PLAN ", "detail"),
        };
        let explain = Statement::from_sql_and_values(
            backend,
            format!("{prefix}{}", statement.sql),
            statement.values.map(|v| v.0).unwrap_or_default(),
        );
        let txn = db.begin().await.unwrap();
        outbox::use_index_plans(&txn).await.unwrap();
        let plan: Vec<String> = txn
            .query_all_raw(explain)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String>("", column).unwrap())
            .collect();
        txn.rollback().await.unwrap();
        plan.join("\n")
    }
}

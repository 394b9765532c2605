//! The outbox's hot indexes cover pending rows only.
//!
//! Before: (state, next_attempt_at) and (ordering_key, state, id) over every row. Delivered
//! rows, the vast majority, were indexed for nothing, each update wrote two index entries, and
//! PostgreSQL's planner, whenever its statistics said few rows were pending (a young table, or
//! one last analysed when it was quiet), picked the (state, …) index for lookups by ordering
//! key and walked every pending row per lookup (measured: 0.65 ms per row with 10,000 pending).
//! Partial indexes on pending rows are small and take no entry when a row is delivered.
//!
//! The ordering index says "pending" as `state NOT IN ('delivered', 'dead')` (the same rows:
//! there are three states) and the ordering checks say it the same way, so that the due index
//! (`state = 'pending'`) cannot serve them: when PostgreSQL's statistics say no row is pending
//! (the usual state of a healthy outbox, analysed while quiet), every index on pending rows looks
//! free, and with both applicable it walked the due index — every pending row — per check
//! (133 ms per claim with 10,000 pending rows, against 1.1 ms; `EXPLAIN ANALYZE` on a table
//! analysed with none pending). A new state must be added to this index's list (in a new
//! migration) and to `DeliveryState::NOT_PENDING_SQL`, which a test keeps equal to the states.
//! Dead rows, rare and listed by the admin API, get their own small index.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: [&str; 5] = [
    "DROP INDEX ix_deliveries_state_next",
    "DROP INDEX ix_deliveries_ordering",
    "CREATE INDEX ix_deliveries_pending_due ON deliveries (next_attempt_at) WHERE state = 'pending'",
    "CREATE INDEX ix_deliveries_pending_order ON deliveries (ordering_key, id) \
     WHERE state NOT IN ('delivered', 'dead')",
    "CREATE INDEX ix_deliveries_dead ON deliveries (id) WHERE state = 'dead'",
];

const DOWN: [&str; 5] = [
    "DROP INDEX ix_deliveries_dead",
    "DROP INDEX ix_deliveries_pending_order",
    "DROP INDEX ix_deliveries_pending_due",
    "CREATE INDEX ix_deliveries_ordering ON deliveries (ordering_key, state, id)",
    "CREATE INDEX ix_deliveries_state_next ON deliveries (state, next_attempt_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The same SQL on SQLite and PostgreSQL (both have partial indexes).
        for sql in UP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in DOWN {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}

//! Room on the outbox's pages for the claim's updates (PostgreSQL; SQLite has no such setting).
//!
//! A claim sets a row's lease, columns no index covers (nor any index's condition), so
//! PostgreSQL can write the new row version beside the old one without touching an index (a
//! "HOT" update) — but only when the page has room. Rows arrive in bursts and fill their pages,
//! so at the default fill factor of 100 every claimed row moved to another page and took a new
//! entry in each of the outbox's indexes. Pages filled to half leave that room: draining 30,000
//! rows went from 11.2–11.6k/s to 13.2–13.5k/s (three runs each, bench/README.md). Recording an
//! attempt changes `state`, which the partial indexes' conditions read, so that update is never
//! HOT; the room is for the claim (and releasing leases). The price is disk, up to twice that of
//! packed pages. The setting applies to pages written from now on; existing pages are not
//! rewritten.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, "ALTER TABLE deliveries SET (fillfactor = 50)").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, "ALTER TABLE deliveries RESET (fillfactor)").await
    }
}

async fn on_postgres(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

//! Rate limits. Per integrator, an optional rate (`rate_limit_per_second`, `rate_limit_burst`;
//! both null: the server's default). On PostgreSQL, the shared state of the limits in
//! `rate_limits`: one row per limited key holding its GCRA "theoretical arrival time" in
//! microseconds since the epoch, and how many requests the last statement let through. The table is UNLOGGED: it is written on every limited request
//! and is not worth a WAL record; after a crash PostgreSQL empties it, which only refills every
//! bucket. SQLite (one instance) keeps its limits in memory and has no such table.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::integer_null;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Integrators {
    Table,
    RateLimitPerSecond,
    RateLimitBurst,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Integrators::RateLimitPerSecond, Integrators::RateLimitBurst] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Integrators::Table)
                        .add_column(integer_null(column))
                        .to_owned(),
                )
                .await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE UNLOGGED TABLE rate_limits \
                     (key text PRIMARY KEY, tat bigint NOT NULL, taken bigint NOT NULL) WITH (fillfactor = 50)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP TABLE rate_limits")
                .await?;
        }
        for column in [Integrators::RateLimitPerSecond, Integrators::RateLimitBurst] {
            manager
                .alter_table(Table::alter().table(Integrators::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

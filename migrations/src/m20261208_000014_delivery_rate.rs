//! Per integrator: at most this many delivery attempts per second to its targets
//! (`max_deliveries_per_second`; null: only the per-target limits apply).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::integer_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Integrators {
    Table,
    MaxDeliveriesPerSecond,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Integrators::Table)
                    .add_column(integer_null(Integrators::MaxDeliveriesPerSecond))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Integrators::Table)
                    .drop_column(Integrators::MaxDeliveriesPerSecond)
                    .to_owned(),
            )
            .await
    }
}

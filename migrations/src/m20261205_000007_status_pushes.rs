//! Per integrator: are `declined` and `expired` pushed to `resultUpdateUrl` too (`statusPushes`)?
//! Off for every integrator, existing and new, unless an admin turns it on.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::boolean;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Integrators {
    Table,
    StatusPushes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Integrators::Table)
                    .add_column(boolean(Integrators::StatusPushes).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Integrators::Table)
                    .drop_column(Integrators::StatusPushes)
                    .to_owned(),
            )
            .await
    }
}

//! Assessments by candidate: an erasure, an export, the retention sweep ("has this candidate an
//! assessment left?") and the console's search by address all ask for a candidate's assessments.
//! Without an index each of them read the whole table (84 ms at a million assessments on
//! PostgreSQL, inside the erasure's write transaction); with it, one lookup.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assessments {
    Table,
    CandidateId,
}

const INDEX: &str = "ix_assessments_candidate";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Assessments::Table)
                    .col(Assessments::CandidateId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Assessments::Table).to_owned())
            .await
    }
}

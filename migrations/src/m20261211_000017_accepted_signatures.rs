//! Signed requests that must be accepted once (the test push, sandbox results): each accepted
//! one is a row keyed by the SHA-256 of its organisation, signature timestamp and body, kept
//! until the signature window has passed. A second request with the same key is a replay; the
//! primary key makes instances sharing one database agree.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AcceptedSignatures {
    Table,
    Id,
    ExpiresAt,
}

const INDEX: &str = "ix_accepted_signatures_expires_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AcceptedSignatures::Table)
                    .col(string(AcceptedSignatures::Id).primary_key())
                    .col(timestamp_with_time_zone(AcceptedSignatures::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(AcceptedSignatures::Table)
                    .col(AcceptedSignatures::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AcceptedSignatures::Table).to_owned())
            .await
    }
}

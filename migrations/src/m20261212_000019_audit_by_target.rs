//! Audit events by target: an assessment's timeline asks the audit log when each of its
//! outgoing calls was replayed. Without an index that reads the whole log, which only grows;
//! with it, one lookup per call.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    TargetType,
    TargetId,
    Action,
}

const INDEX: &str = "ix_audit_events_target";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TargetType)
                    .col(AuditEvents::TargetId)
                    .col(AuditEvents::Action)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(AuditEvents::Table).to_owned())
            .await
    }
}

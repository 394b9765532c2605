//! Personal data: when a candidate and an assessment were erased (`erased_at`: their contact
//! data, answers and Ashby ids are gone, the row stays for statistics), and the audit log of
//! admin writes. `audit_events` is append-only: a trigger on each database refuses any UPDATE or
//! DELETE of it (and TRUNCATE on PostgreSQL), so no code path can change history.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer, string, string_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Candidates {
    Table,
    ErasedAt,
}

#[derive(DeriveIden)]
enum Assessments {
    Table,
    ErasedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    At,
    Actor,
    Action,
    TargetType,
    TargetId,
    RequestId,
    Outcome,
    Status,
}

const AUDIT_TIME_INDEX: &str = "ix_audit_events_at_id";

const POSTGRES_APPEND_ONLY: &[&str] = &[
    "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS \
     $$ BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$",
    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events \
     FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events \
     FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
];

const SQLITE_APPEND_ONLY: &[&str] = &[
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events \
     BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events \
     BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Candidates::Table)
                    .add_column(timestamp_with_time_zone_null(Candidates::ErasedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Assessments::Table)
                    .add_column(timestamp_with_time_zone_null(Assessments::ErasedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(uuid(AuditEvents::Id).primary_key())
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .col(string(AuditEvents::Actor))
                    .col(string(AuditEvents::Action))
                    .col(string_null(AuditEvents::TargetType))
                    .col(string_null(AuditEvents::TargetId))
                    .col(string_null(AuditEvents::RequestId))
                    .col(string(AuditEvents::Outcome))
                    .col(integer(AuditEvents::Status))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(AUDIT_TIME_INDEX)
                    .table(AuditEvents::Table)
                    .col(AuditEvents::At)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await?;
        let statements = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES_APPEND_ONLY,
            _ => SQLITE_APPEND_ONLY,
        };
        for sql in statements {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION audit_events_append_only()")
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Assessments::Table)
                    .drop_column(Assessments::ErasedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Candidates::Table)
                    .drop_column(Candidates::ErasedAt)
                    .to_owned(),
            )
            .await
    }
}

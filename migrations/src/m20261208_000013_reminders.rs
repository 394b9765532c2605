//! Reminders: when an assessment's candidate is next reminded of their invitation
//! (`next_reminder_at`; null: never again). Set when the invitation e-mail is written, moved on
//! by the reminder sweep, which finds due rows by a partial index on it.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::timestamp_with_time_zone_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assessments {
    Table,
    NextReminderAt,
}

const INDEX: &str = "ix_assessments_next_reminder_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Assessments::Table)
                    .add_column(timestamp_with_time_zone_null(Assessments::NextReminderAt))
                    .to_owned(),
            )
            .await?;
        // Partial (both databases have them): most rows never have a reminder due.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {INDEX} ON assessments (next_reminder_at) WHERE next_reminder_at IS NOT NULL"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Assessments::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Assessments::Table)
                    .drop_column(Assessments::NextReminderAt)
                    .to_owned(),
            )
            .await
    }
}

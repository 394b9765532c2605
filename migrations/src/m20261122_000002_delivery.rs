use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    Kind,
    OrganizationId,
    AssessmentId,
    OrderingKey,
    Target,
    Payload,
    State,
    Attempts,
    ReplayBase,
    NextAttemptAt,
    FirstAttemptAt,
    DeadlineAt,
    LeaseOwner,
    LeaseExpiresAt,
    LastStatus,
    LastError,
    DeliveredAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    Id,
    DeliveryId,
    AttemptNo,
    StartedAt,
    DurationMs,
    StatusCode,
    Outcome,
    Error,
    ResponseExcerpt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(uuid(Deliveries::Id).primary_key())
                    .col(string(Deliveries::Kind))
                    .col(uuid_null(Deliveries::OrganizationId))
                    .col(uuid_null(Deliveries::AssessmentId))
                    .col(string(Deliveries::OrderingKey))
                    .col(text(Deliveries::Target))
                    .col(json(Deliveries::Payload))
                    .col(string(Deliveries::State))
                    .col(integer(Deliveries::Attempts))
                    .col(integer(Deliveries::ReplayBase))
                    .col(timestamp_with_time_zone(Deliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Deliveries::FirstAttemptAt))
                    .col(timestamp_with_time_zone_null(Deliveries::DeadlineAt))
                    .col(string_null(Deliveries::LeaseOwner))
                    .col(timestamp_with_time_zone_null(Deliveries::LeaseExpiresAt))
                    .col(integer_null(Deliveries::LastStatus))
                    .col(text_null(Deliveries::LastError))
                    .col(timestamp_with_time_zone_null(Deliveries::DeliveredAt))
                    .col(timestamp_with_time_zone(Deliveries::CreatedAt))
                    .col(timestamp_with_time_zone(Deliveries::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The claim: due pending rows, oldest due first.
        manager
            .create_index(
                Index::create()
                    .name("ix_deliveries_state_next")
                    .table(Deliveries::Table)
                    .col(Deliveries::State)
                    .col(Deliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        // Ordering per assessment and target: is there an earlier pending row with this key?
        manager
            .create_index(
                Index::create()
                    .name("ix_deliveries_ordering")
                    .table(Deliveries::Table)
                    .col(Deliveries::OrderingKey)
                    .col(Deliveries::State)
                    .col(Deliveries::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_deliveries_assessment")
                    .table(Deliveries::Table)
                    .col(Deliveries::AssessmentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DeliveryAttempts::Table)
                    .col(uuid(DeliveryAttempts::Id).primary_key())
                    .col(uuid(DeliveryAttempts::DeliveryId))
                    .col(integer(DeliveryAttempts::AttemptNo))
                    .col(timestamp_with_time_zone(DeliveryAttempts::StartedAt))
                    .col(integer(DeliveryAttempts::DurationMs))
                    .col(integer_null(DeliveryAttempts::StatusCode))
                    .col(string(DeliveryAttempts::Outcome))
                    .col(text_null(DeliveryAttempts::Error))
                    .col(text_null(DeliveryAttempts::ResponseExcerpt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeliveryAttempts::Table, DeliveryAttempts::DeliveryId)
                            .to(Deliveries::Table, Deliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_delivery_attempts_delivery")
                    .table(DeliveryAttempts::Table)
                    .col(DeliveryAttempts::DeliveryId)
                    .col(DeliveryAttempts::AttemptNo)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeliveryAttempts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Deliveries::Table).to_owned())
            .await?;
        Ok(())
    }
}

//! Operators of the console: one row per person, signed in with an e-mail address and a password
//! stored as an argon2id hash only (PHC string), with the admin API's scopes; a disabled
//! operator cannot sign in. Their sessions (`console_sessions`, found by the SHA-256 of the
//! cookie's token, never the token) and failed sign-ins per address (`sign_in_failures`, by the
//! SHA-256 of the lower-case address typed, so that unknown addresses lock the same way).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, json, string, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Operators {
    Table,
    Id,
    Email,
    PasswordHash,
    Scopes,
    DisabledAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ConsoleSessions {
    Table,
    Id,
    OperatorId,
    CreatedAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum SignInFailures {
    Table,
    Address,
    Failures,
    LockedUntil,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Operators::Table)
                    .col(uuid(Operators::Id).primary_key())
                    .col(string(Operators::Email).unique_key())
                    .col(string(Operators::PasswordHash))
                    .col(json(Operators::Scopes))
                    .col(timestamp_with_time_zone_null(Operators::DisabledAt))
                    .col(timestamp_with_time_zone(Operators::CreatedAt))
                    .col(timestamp_with_time_zone(Operators::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConsoleSessions::Table)
                    .col(string(ConsoleSessions::Id).primary_key())
                    .col(uuid(ConsoleSessions::OperatorId))
                    .col(timestamp_with_time_zone(ConsoleSessions::CreatedAt))
                    .col(timestamp_with_time_zone(ConsoleSessions::LastSeenAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConsoleSessions::Table, ConsoleSessions::OperatorId)
                            .to(Operators::Table, Operators::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SignInFailures::Table)
                    .col(string(SignInFailures::Address).primary_key())
                    .col(integer(SignInFailures::Failures))
                    .col(timestamp_with_time_zone_null(SignInFailures::LockedUntil))
                    .col(timestamp_with_time_zone(SignInFailures::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SignInFailures::Table.into_iden(),
            ConsoleSessions::Table.into_iden(),
            Operators::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

//! Key rotation with an overlap: each key someone else holds (the integrator's signing secret,
//! the organisation's provider key and Ashby partner key) may have one previous value that
//! still works until its expiry. Rotating again during an overlap replaces the previous value,
//! so at most two are ever live. The previous keys are looked up by hash, so they are indexed.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_null, text_null, timestamp_with_time_zone_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Integrators {
    Table,
    PreviousSecretEnc,
    PreviousSecretExpiresAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    PreviousProviderKeyHash,
    PreviousProviderKeyExpiresAt,
    PreviousAshbyPartnerKeyHash,
    PreviousAshbyPartnerKeyExpiresAt,
}

const PREVIOUS_PROVIDER_KEY_INDEX: &str = "ix_organizations_previous_provider_key_hash";
const PREVIOUS_PARTNER_KEY_INDEX: &str = "ix_organizations_previous_ashby_partner_key_hash";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            (
                Integrators::Table.into_iden(),
                text_null(Integrators::PreviousSecretEnc),
            ),
            (
                Integrators::Table.into_iden(),
                timestamp_with_time_zone_null(Integrators::PreviousSecretExpiresAt),
            ),
            (
                Organizations::Table.into_iden(),
                string_null(Organizations::PreviousProviderKeyHash),
            ),
            (
                Organizations::Table.into_iden(),
                timestamp_with_time_zone_null(Organizations::PreviousProviderKeyExpiresAt),
            ),
            (
                Organizations::Table.into_iden(),
                string_null(Organizations::PreviousAshbyPartnerKeyHash),
            ),
            (
                Organizations::Table.into_iden(),
                timestamp_with_time_zone_null(Organizations::PreviousAshbyPartnerKeyExpiresAt),
            ),
        ];
        for (table, mut column) in columns {
            manager
                .alter_table(Table::alter().table(table).add_column(&mut column).to_owned())
                .await?;
        }
        for (name, column) in [
            (PREVIOUS_PROVIDER_KEY_INDEX, Organizations::PreviousProviderKeyHash),
            (PREVIOUS_PARTNER_KEY_INDEX, Organizations::PreviousAshbyPartnerKeyHash),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Organizations::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [PREVIOUS_PROVIDER_KEY_INDEX, PREVIOUS_PARTNER_KEY_INDEX] {
            manager
                .drop_index(Index::drop().name(name).table(Organizations::Table).to_owned())
                .await?;
        }
        let columns = [
            (
                Integrators::Table.into_iden(),
                Integrators::PreviousSecretEnc.into_iden(),
            ),
            (
                Integrators::Table.into_iden(),
                Integrators::PreviousSecretExpiresAt.into_iden(),
            ),
            (
                Organizations::Table.into_iden(),
                Organizations::PreviousProviderKeyHash.into_iden(),
            ),
            (
                Organizations::Table.into_iden(),
                Organizations::PreviousProviderKeyExpiresAt.into_iden(),
            ),
            (
                Organizations::Table.into_iden(),
                Organizations::PreviousAshbyPartnerKeyHash.into_iden(),
            ),
            (
                Organizations::Table.into_iden(),
                Organizations::PreviousAshbyPartnerKeyExpiresAt.into_iden(),
            ),
        ];
        for (table, column) in columns {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

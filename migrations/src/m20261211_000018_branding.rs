//! What an employer shows its candidates: a display name, an accent colour, a privacy policy
//! link and a support address per organisation (all optional; without them, the pages look as
//! before), and its logo, uploaded and served by us (never fetched from elsewhere), one per
//! organisation with its checked content type and the SHA-256 that names its version (also on
//! the organisation's row, so that whoever reads the organisation knows of its logo).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{binary, string, string_null, timestamp_with_time_zone, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    BrandingDisplayName,
    BrandingAccentColor,
    BrandingPrivacyPolicyUrl,
    BrandingSupportEmail,
    BrandingLogoSha256,
}

#[derive(DeriveIden)]
enum OrganizationLogos {
    Table,
    OrganizationId,
    ContentType,
    Bytes,
    Sha256,
    UpdatedAt,
}

/// The organisation's branding columns, each optional.
const COLUMNS: [Organizations; 5] = [
    Organizations::BrandingDisplayName,
    Organizations::BrandingAccentColor,
    Organizations::BrandingPrivacyPolicyUrl,
    Organizations::BrandingSupportEmail,
    Organizations::BrandingLogoSha256,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Organizations::Table)
                        .add_column(string_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(OrganizationLogos::Table)
                    .col(uuid(OrganizationLogos::OrganizationId).primary_key())
                    .col(string(OrganizationLogos::ContentType))
                    .col(binary(OrganizationLogos::Bytes))
                    .col(string(OrganizationLogos::Sha256))
                    .col(timestamp_with_time_zone(OrganizationLogos::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrganizationLogos::Table).to_owned())
            .await?;
        for column in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Organizations::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

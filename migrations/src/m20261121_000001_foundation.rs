use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Locales {
    Table,
    Code,
}

#[derive(DeriveIden)]
enum Lenses {
    Table,
    Id,
    Name,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LensCompetencies {
    Table,
    LensId,
    Key,
    Name,
    Weight,
    Position,
}

#[derive(DeriveIden)]
enum Integrators {
    Table,
    Id,
    Name,
    SecretEnc,
    RequireSignature,
    LinkOrdersAllowed,
    CallbackAuthType,
    CallbackAuthEnc,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    IntegratorId,
    ProviderKeyHash,
    AshbyPartnerKeyHash,
    AshbyApiKeyEnc,
    AshbyBaseUrl,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrganizationLenses {
    Table,
    OrganizationId,
    LensId,
}

#[derive(DeriveIden)]
enum Recruitments {
    Table,
    Id,
    OrganizationId,
    ExternalId,
    LensId,
    Title,
    Description,
    CollaboratorEmails,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Candidates {
    Table,
    Id,
    OrganizationId,
    Email,
    FirstName,
    LastName,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Assessments {
    Table,
    Id,
    OrganizationId,
    RecruitmentId,
    CandidateId,
    LensId,
    Locale,
    Source,
    State,
    ResultId,
    ResultUpdateUrl,
    RequestHash,
    Score,
    Subscores,
    InvitedAt,
    StartedAt,
    CompletedAt,
    FinishedAt,
    ExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Locales::Table)
                    .col(string(Locales::Code).primary_key())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Lenses::Table)
                    .col(uuid(Lenses::Id).primary_key())
                    .col(string(Lenses::Name))
                    .col(text(Lenses::Description))
                    .col(timestamp_with_time_zone(Lenses::CreatedAt))
                    .col(timestamp_with_time_zone(Lenses::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LensCompetencies::Table)
                    .col(uuid(LensCompetencies::LensId))
                    .col(string(LensCompetencies::Key))
                    .col(string_null(LensCompetencies::Name))
                    .col(integer(LensCompetencies::Weight))
                    .col(integer(LensCompetencies::Position))
                    .primary_key(Index::create().col(LensCompetencies::LensId).col(LensCompetencies::Key))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LensCompetencies::Table, LensCompetencies::LensId)
                            .to(Lenses::Table, Lenses::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Integrators::Table)
                    .col(uuid(Integrators::Id).primary_key())
                    .col(string(Integrators::Name))
                    .col(text(Integrators::SecretEnc))
                    .col(boolean(Integrators::RequireSignature))
                    .col(boolean(Integrators::LinkOrdersAllowed))
                    .col(string(Integrators::CallbackAuthType))
                    .col(text_null(Integrators::CallbackAuthEnc))
                    .col(timestamp_with_time_zone(Integrators::CreatedAt))
                    .col(timestamp_with_time_zone(Integrators::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(uuid(Organizations::Id).primary_key())
                    .col(string(Organizations::Name))
                    .col(uuid(Organizations::IntegratorId))
                    .col(string(Organizations::ProviderKeyHash).unique_key())
                    .col(string_null(Organizations::AshbyPartnerKeyHash).unique_key())
                    .col(text_null(Organizations::AshbyApiKeyEnc))
                    .col(string_null(Organizations::AshbyBaseUrl))
                    .col(timestamp_with_time_zone(Organizations::CreatedAt))
                    .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Organizations::Table, Organizations::IntegratorId)
                            .to(Integrators::Table, Integrators::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrganizationLenses::Table)
                    .col(uuid(OrganizationLenses::OrganizationId))
                    .col(uuid(OrganizationLenses::LensId))
                    .primary_key(
                        Index::create()
                            .col(OrganizationLenses::OrganizationId)
                            .col(OrganizationLenses::LensId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrganizationLenses::Table, OrganizationLenses::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrganizationLenses::Table, OrganizationLenses::LensId)
                            .to(Lenses::Table, Lenses::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Recruitments::Table)
                    .col(uuid(Recruitments::Id).primary_key())
                    .col(uuid(Recruitments::OrganizationId))
                    .col(string(Recruitments::ExternalId))
                    .col(uuid(Recruitments::LensId))
                    .col(string(Recruitments::Title))
                    .col(text(Recruitments::Description))
                    .col(json(Recruitments::CollaboratorEmails))
                    .col(timestamp_with_time_zone(Recruitments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Recruitments::Table, Recruitments::OrganizationId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Recruitments::Table, Recruitments::LensId)
                            .to(Lenses::Table, Lenses::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_recruitments_org_external_lens")
                    .table(Recruitments::Table)
                    .col(Recruitments::OrganizationId)
                    .col(Recruitments::ExternalId)
                    .col(Recruitments::LensId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Candidates::Table)
                    .col(uuid(Candidates::Id).primary_key())
                    .col(uuid(Candidates::OrganizationId))
                    .col(string(Candidates::Email))
                    .col(string_null(Candidates::FirstName))
                    .col(string_null(Candidates::LastName))
                    .col(timestamp_with_time_zone(Candidates::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Candidates::Table, Candidates::OrganizationId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_candidates_org_email")
                    .table(Candidates::Table)
                    .col(Candidates::OrganizationId)
                    .col(Candidates::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Assessments::Table)
                    .col(uuid(Assessments::Id).primary_key())
                    .col(uuid(Assessments::OrganizationId))
                    .col(uuid_null(Assessments::RecruitmentId))
                    .col(uuid(Assessments::CandidateId))
                    .col(uuid(Assessments::LensId))
                    .col(string(Assessments::Locale))
                    .col(string(Assessments::Source))
                    .col(string(Assessments::State))
                    .col(string_null(Assessments::ResultId))
                    .col(text_null(Assessments::ResultUpdateUrl))
                    .col(string(Assessments::RequestHash))
                    .col(integer_null(Assessments::Score))
                    .col(json_null(Assessments::Subscores))
                    .col(timestamp_with_time_zone(Assessments::InvitedAt))
                    .col(timestamp_with_time_zone_null(Assessments::StartedAt))
                    .col(timestamp_with_time_zone_null(Assessments::CompletedAt))
                    .col(timestamp_with_time_zone_null(Assessments::FinishedAt))
                    .col(timestamp_with_time_zone(Assessments::ExpiresAt))
                    .col(timestamp_with_time_zone(Assessments::CreatedAt))
                    .col(timestamp_with_time_zone(Assessments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assessments::Table, Assessments::OrganizationId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assessments::Table, Assessments::RecruitmentId)
                            .to(Recruitments::Table, Recruitments::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assessments::Table, Assessments::CandidateId)
                            .to(Candidates::Table, Candidates::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assessments::Table, Assessments::LensId)
                            .to(Lenses::Table, Lenses::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // resultId is the integrator's idempotency key, per organisation.
        manager
            .create_index(
                Index::create()
                    .name("ux_assessments_org_result_id")
                    .table(Assessments::Table)
                    .col(Assessments::OrganizationId)
                    .col(Assessments::ResultId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A candidate has at most one assessment per recruitment.
        manager
            .create_index(
                Index::create()
                    .name("ux_assessments_recruitment_candidate")
                    .table(Assessments::Table)
                    .col(Assessments::RecruitmentId)
                    .col(Assessments::CandidateId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_assessments_org_created")
                    .table(Assessments::Table)
                    .col(Assessments::OrganizationId)
                    .col(Assessments::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_assessments_state_expires")
                    .table(Assessments::Table)
                    .col(Assessments::State)
                    .col(Assessments::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Assessments::Table.into_iden(),
            Candidates::Table.into_iden(),
            Recruitments::Table.into_iden(),
            OrganizationLenses::Table.into_iden(),
            Organizations::Table.into_iden(),
            Integrators::Table.into_iden(),
            LensCompetencies::Table.into_iden(),
            Lenses::Table.into_iden(),
            Locales::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assessments {
    Table,
    AshbyCandidateId,
    AshbyApplicationId,
    AshbyJobId,
    AshbyJobName,
    AdditionalFields,
    AshbyLastUpdateMs,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    AshbyCustomFields,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            string_null(Assessments::AshbyCandidateId),
            string_null(Assessments::AshbyApplicationId),
            string_null(Assessments::AshbyJobId),
            string_null(Assessments::AshbyJobName),
            json_null(Assessments::AdditionalFields),
            big_integer_null(Assessments::AshbyLastUpdateMs),
        ] {
            manager
                .alter_table(Table::alter().table(Assessments::Table).add_column(column).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(json_null(Organizations::AshbyCustomFields))
                    .to_owned(),
            )
            .await?;
        // One open assessment per (organisation, Ashby application, type) and per (organisation,
        // Ashby candidate, type): concurrent identical starts cannot both insert. Partial unique
        // indexes, which SQLite and PostgreSQL both have.
        for (name, column) in [
            ("ux_assessments_open_ashby_application", "ashby_application_id"),
            ("ux_assessments_open_ashby_candidate", "ashby_candidate_id"),
        ] {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE UNIQUE INDEX {name} ON assessments (organization_id, {column}, lens_id) \
                     WHERE {column} IS NOT NULL AND state IN ('invited', 'started')"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "ux_assessments_open_ashby_candidate",
            "ux_assessments_open_ashby_application",
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Assessments::Table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::AshbyCustomFields)
                    .to_owned(),
            )
            .await?;
        for column in [
            Assessments::AshbyLastUpdateMs,
            Assessments::AdditionalFields,
            Assessments::AshbyJobName,
            Assessments::AshbyJobId,
            Assessments::AshbyApplicationId,
            Assessments::AshbyCandidateId,
        ] {
            manager
                .alter_table(Table::alter().table(Assessments::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

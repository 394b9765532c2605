use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Answers {
    Table,
    AssessmentId,
    ItemId,
    Value,
    AnsweredAt,
}

#[derive(DeriveIden)]
enum Assessments {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Answers::Table)
                    .col(uuid(Answers::AssessmentId))
                    .col(string(Answers::ItemId))
                    .col(integer(Answers::Value))
                    .col(timestamp_with_time_zone(Answers::AnsweredAt))
                    .primary_key(Index::create().col(Answers::AssessmentId).col(Answers::ItemId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Answers::Table, Answers::AssessmentId)
                            .to(Assessments::Table, Assessments::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Answers::Table).to_owned()).await
    }
}

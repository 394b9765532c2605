use sea_orm::entity::prelude::*;

use crate::types::AssessmentId;

/// One answer of a candidate: a catalogue item rated 1..5, as given (not reversed).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "answers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub assessment_id: AssessmentId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub item_id: String,
    pub value: i32,
    pub answered_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

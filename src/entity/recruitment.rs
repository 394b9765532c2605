use sea_orm::entity::prelude::*;

use crate::types::OrganizationId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recruitments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: OrganizationId,
    /// The integrator's `recruitment.id`.
    pub external_id: String,
    pub lens_id: Uuid,
    pub title: String,
    pub description: String,
    pub collaborator_emails: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A signed request accepted once (see `auth::replay`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accepted_signatures")]
pub struct Model {
    /// SHA-256 (hex) of the organisation, the signature's timestamp and the body.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// When the signature stops being accepted anyway; the row may go then.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// One admin write (or export), as it happened; append-only (the database refuses changes).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// UUIDv7: ordered by time, which the listing's cursor relies on.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub at: DateTimeUtc,
    /// The admin token's `sub` (or the console operator's e-mail).
    pub actor: String,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    /// `succeeded`, `refused` (4xx) or `failed` (5xx).
    pub outcome: String,
    /// The HTTP status answered.
    pub status: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

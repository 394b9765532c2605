use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_in_failures")]
pub struct Model {
    /// SHA-256 (hex) of the lower-case address typed.
    #[sea_orm(primary_key, auto_increment = false)]
    pub address: String,
    /// Failed sign-ins in a row since the last success or lockout.
    pub failures: i32,
    /// Refused until then, even with the right password.
    pub locked_until: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

use crate::types::OrganizationId;

/// An organisation's logo, uploaded through the admin API and served at
/// `/branding/{organizationId}/logo`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organization_logos")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: OrganizationId,
    /// `image/png` or `image/svg+xml`, as the bytes were checked to be.
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// SHA-256 (hex) of the bytes: the version in the logo's URL, for caching.
    pub sha256: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

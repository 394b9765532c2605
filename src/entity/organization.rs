use sea_orm::entity::prelude::*;

use crate::types::OrganizationId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OrganizationId,
    pub name: String,
    pub integrator_id: Uuid,
    /// SHA-256 (hex) of the provider-key.
    #[sea_orm(unique)]
    pub provider_key_hash: String,
    /// SHA-256 (hex) of the key Ashby sends us.
    #[sea_orm(unique)]
    pub ashby_partner_key_hash: Option<String>,
    /// The provider key a rotation replaced, accepted until its expiry (SHA-256, hex).
    pub previous_provider_key_hash: Option<String>,
    pub previous_provider_key_expires_at: Option<DateTimeUtc>,
    /// The Ashby partner key a rotation replaced, accepted until its expiry (SHA-256, hex).
    pub previous_ashby_partner_key_hash: Option<String>,
    pub previous_ashby_partner_key_expires_at: Option<DateTimeUtc>,
    /// The customer's Ashby API key, encrypted.
    pub ashby_api_key_enc: Option<String>,
    pub ashby_base_url: Option<String>,
    /// The custom fields offered to Ashby (`assessment.customField.list`), as JSON.
    pub ashby_custom_fields: Option<Json>,
    /// A sandbox: invitations are rendered and logged, not sent, and its integrator may drive
    /// assessments to an outcome (`POST /recruitment/v1/sandbox/results`).
    /// The language of invitations for Ashby starts (which carry no locale): an offered locale.
    pub default_locale: String,
    pub sandbox: bool,
    /// Branding (`tenancy::spec::BrandingSpec`): the name candidates see instead of `name`.
    pub branding_display_name: Option<String>,
    /// `#rrggbb`, lower-case.
    pub branding_accent_color: Option<String>,
    pub branding_privacy_policy_url: Option<String>,
    pub branding_support_email: Option<String>,
    /// SHA-256 (hex) of the logo in `organization_logos`, when there is one.
    pub branding_logo_sha256: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

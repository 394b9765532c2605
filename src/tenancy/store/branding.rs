//! Organisations' branding: its fields checked and written with the organisation, and its logo
//! uploaded apart (checked against its declared type) and read back.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use crate::entity::{organization, organization_logo};
use crate::error::FieldError;
use crate::extract::Problems;
use crate::tenancy::branding::{LogoType, MAX_LOGO_BYTES, logo_path};
use crate::tenancy::spec::{BrandingSpec, BrandingView};
use crate::tenancy::store::StoreError;
use crate::types::{Email, HexColor, HttpUrl, OrganizationId};

/// The branding's fields as stored (lower-case colour and address), or their problems.
pub(super) fn check_branding(p: &mut Problems, spec: &BrandingSpec) -> BrandingSpec {
    let display_name = spec.display_name.as_deref().map(str::trim).map(str::to_owned);
    // Blank but not empty (which the document's own rule refuses): nothing to show.
    if display_name.as_deref().is_some_and(str::is_empty) && spec.display_name.as_deref().is_some_and(|n| !n.is_empty())
    {
        p.push("branding.displayName", "must be 1 to 200 characters");
    }
    BrandingSpec {
        display_name,
        accent_color: spec
            .accent_color
            .as_deref()
            .and_then(|c| p.check("branding.accentColor", HexColor::parse(c)))
            .map(|c| c.as_str().to_owned()),
        privacy_policy_url: spec
            .privacy_policy_url
            .as_deref()
            .and_then(|u| p.check("branding.privacyPolicyUrl", HttpUrl::parse(u)))
            .map(|u| u.as_str().to_owned()),
        support_email: spec
            .support_email
            .as_deref()
            .and_then(|e| p.check("branding.supportEmail", Email::parse(e)))
            .map(|e| e.as_str().to_owned()),
    }
}

/// Writes checked branding into the organisation's row.
pub(super) fn set_branding(row: &mut organization::ActiveModel, branding: BrandingSpec) {
    row.branding_display_name = Set(branding.display_name);
    row.branding_accent_color = Set(branding.accent_color);
    row.branding_privacy_policy_url = Set(branding.privacy_policy_url);
    row.branding_support_email = Set(branding.support_email);
}

/// The branding of `o`, with its logo's path.
pub(super) fn branding_view(o: &organization::Model) -> BrandingView {
    BrandingView {
        display_name: o.branding_display_name.clone(),
        accent_color: o.branding_accent_color.clone(),
        privacy_policy_url: o.branding_privacy_policy_url.clone(),
        support_email: o.branding_support_email.clone(),
        logo_url: o.branding_logo_sha256.as_deref().map(|sha| logo_path(o.id, sha)),
    }
}

/// Why a logo was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogoError {
    #[error("no such organisation")]
    NotFound,
    #[error("a logo is at most {MAX_LOGO_BYTES} bytes")]
    TooLarge,
    #[error("the Content-Type must be image/png or image/svg+xml")]
    UnsupportedType,
    #[error("the bytes are not {0}")]
    Mismatch(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores `bytes` as organisation `id`'s logo after checking them against `content_type`;
/// answers the organisation's branding as it now is.
pub async fn put_logo<C: ConnectionTrait>(
    db: &C,
    id: OrganizationId,
    content_type: &str,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<BrandingView, LogoError> {
    let kind = LogoType::declared(content_type).ok_or(LogoError::UnsupportedType)?;
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(LogoError::TooLarge);
    }
    if !kind.matches(bytes) {
        return Err(LogoError::Mismatch(match kind {
            LogoType::Png => "a PNG image",
            LogoType::Svg => "an SVG document (well-formed XML whose root element is svg)",
        }));
    }
    let org = organization::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(StoreError::from)?
        .ok_or(LogoError::NotFound)?;
    let sha256 = crate::crypto::sha256_hex(bytes);
    organization_logo::Entity::insert(organization_logo::ActiveModel {
        organization_id: Set(id),
        content_type: Set(kind.content_type().to_owned()),
        bytes: Set(bytes.to_vec()),
        sha256: Set(sha256.clone()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(organization_logo::Column::OrganizationId)
            .update_columns([
                organization_logo::Column::ContentType,
                organization_logo::Column::Bytes,
                organization_logo::Column::Sha256,
                organization_logo::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map_err(StoreError::from)?;
    let mut row: organization::ActiveModel = org.into();
    row.branding_logo_sha256 = Set(Some(sha256));
    row.updated_at = Set(now);
    let org = sea_orm::ActiveModelTrait::update(row, db)
        .await
        .map_err(StoreError::from)?;
    Ok(branding_view(&org))
}

/// Organisation `id`'s logo: its content type and bytes.
pub async fn logo<C: ConnectionTrait>(db: &C, id: OrganizationId) -> Result<Option<(String, Vec<u8>)>, DbErr> {
    Ok(organization_logo::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|l| (l.content_type, l.bytes)))
}

/// A refusal as a field error, for the surfaces that word it.
impl LogoError {
    pub fn field_error(&self) -> FieldError {
        FieldError::new("body", self.to_string())
    }
}

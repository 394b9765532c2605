//! Rotating the keys someone else holds, with an overlap: the new value becomes current and the
//! one it replaces keeps working until the overlap ends (`0s`: at once). Rotating again during
//! an overlap ends the older one at once, so at most two are ever live.
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter,
};
use uuid::Uuid;
use validator::Validate;

use crate::config::random_token;
use crate::crypto::{Vault, sha256_hex};
use crate::entity::{integrator, organization};
use crate::extract::Problems;
use crate::secrets;
use crate::tenancy::spec::RotationRequest;
use crate::tenancy::store::{StoreError, problems_into};
use crate::types::OrganizationId;

/// The longest overlap a rotation may ask for.
pub const MAX_OVERLAP: Duration = crate::config::MAX_KEY_ROTATION_OVERLAP;

/// A rotation done: the new value (shown once) and when the one it replaced stops working.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub value: String,
    pub previous_expires_at: DateTime<Utc>,
}

/// A rotation request checked: the overlap (the deployment's default when left out) and the
/// new value when the caller chose it.
struct Checked<'a> {
    overlap: chrono::Duration,
    value: Option<&'a str>,
}

fn check(request: &RotationRequest, default_overlap: Duration) -> Result<Checked<'_>, StoreError> {
    let mut p = Problems::from_validator(request.validate());
    let overlap = match request.overlap.as_deref() {
        None => Some(default_overlap),
        Some(text) => match parse_overlap(text) {
            Some(d) if d <= MAX_OVERLAP => Some(d),
            Some(_) => {
                p.push("overlap", "must be at most 30d");
                None
            }
            None => {
                p.push(
                    "overlap",
                    "must be a whole number of ms, s, m, h or d, like 24h, 90m or 0s",
                );
                None
            }
        },
    };
    problems_into(p)?;
    Ok(Checked {
        overlap: overlap
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .unwrap_or_else(chrono::Duration::zero),
        value: request.secret.as_deref(),
    })
}

/// `24h`, `90m`, `0s`: up to nine digits and one unit (`ms`, `s`, `m`, `h`, `d`), as the
/// document's pattern for `overlap` says.
fn parse_overlap(text: &str) -> Option<Duration> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    if !(1..=9).contains(&number.len()) {
        return None;
    }
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n * seconds))
}

/// When the replaced value stops working, and whether it is kept at all (`0s`: it is not).
fn previous_until(checked: &Checked<'_>, now: DateTime<Utc>) -> (DateTime<Utc>, bool) {
    (now + checked.overlap, checked.overlap > chrono::Duration::zero())
}

/// A new integrator signing secret; `None` when there is no such integrator.
pub async fn rotate_integrator_secret<C: ConnectionTrait>(
    db: &C,
    vault: &Vault,
    id: Uuid,
    request: &RotationRequest,
    default_overlap: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Rotated>, StoreError> {
    let checked = check(request, default_overlap)?;
    let Some(model) = integrator::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let current = secrets::open_integrator_secret(vault, &model)?;
    let value = checked.value.map_or_else(|| random_token(32), str::to_owned);
    if value.as_bytes() == current.as_slice() {
        return Err(StoreError::Invalid(vec![crate::error::FieldError::new(
            "secret",
            "must differ from the current secret",
        )]));
    }
    let (until, keep) = previous_until(&checked, now);
    let mut active = model.into_active_model();
    active.secret_enc = Set(secrets::seal_integrator_secret(vault, id, &value));
    active.previous_secret_enc = Set(keep.then(|| secrets::seal_previous_integrator_secret(vault, id, &current)));
    active.previous_secret_expires_at = Set(keep.then_some(until));
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(Some(Rotated {
        value,
        previous_expires_at: until,
    }))
}

/// What a rotation replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotatedKey {
    Organization(OrganizationKey),
    IntegratorSecret,
}

/// 16 hex characters of a SHA-256 over what is stored of a key (its hash, or its ciphertext),
/// which tell nothing of the key but change with every rotation.
fn fingerprint(stored: &str) -> String {
    let mut hex = sha256_hex(format!("rotation-form\0{stored}").as_bytes());
    hex.truncate(16);
    hex
}

/// The fingerprint of an organisation's key as it is now; `None` when it has no such key.
pub fn organization_fingerprint(model: &organization::Model, key: OrganizationKey) -> Option<String> {
    match key {
        OrganizationKey::Provider => Some(fingerprint(&model.provider_key_hash)),
        OrganizationKey::AshbyPartner => model.ashby_partner_key_hash.as_deref().map(fingerprint),
    }
}

/// The fingerprint of an integrator's signing secret as it is now.
pub fn integrator_fingerprint(model: &integrator::Model) -> String {
    fingerprint(&model.secret_enc)
}

/// Claims the key for a rotation asked for from a page that showed it with the fingerprint
/// `seen`; false when it has been rotated since (or is not there). A form sent twice (a double
/// click, a reload) would otherwise rotate twice, and the second rotation ends at once the key
/// that partners still use. The row is locked first (a no-op UPDATE: on PostgreSQL a second
/// form sent at the same moment waits, then sees the new key; SQLite's write transactions run
/// one at a time); it is called in the rotation's transaction.
async fn claim_unchanged<C: ConnectionTrait>(
    db: &C,
    key: RotatedKey,
    id: Uuid,
    seen: &str,
) -> Result<bool, sea_orm::DbErr> {
    use sea_orm::sea_query::Expr;
    let current = match key {
        RotatedKey::Organization(which) => {
            organization::Entity::update_many()
                .col_expr(
                    organization::Column::UpdatedAt,
                    Expr::col(organization::Column::UpdatedAt),
                )
                .filter(organization::Column::Id.eq(id))
                .exec(db)
                .await?;
            organization::Entity::find_by_id(OrganizationId(id))
                .one(db)
                .await?
                .and_then(|m| organization_fingerprint(&m, which))
        }
        RotatedKey::IntegratorSecret => {
            integrator::Entity::update_many()
                .col_expr(integrator::Column::UpdatedAt, Expr::col(integrator::Column::UpdatedAt))
                .filter(integrator::Column::Id.eq(id))
                .exec(db)
                .await?;
            integrator::Entity::find_by_id(id)
                .one(db)
                .await?
                .map(|m| integrator_fingerprint(&m))
        }
    };
    Ok(current.is_some_and(|f| f == seen))
}

/// A rotation asked for from a page that showed the key with the fingerprint `seen`, in its
/// own transaction: refused (`Conflict`) when the key has been rotated since, so that a form
/// sent twice rotates once; `None` when there is no such organisation or integrator.
#[allow(clippy::too_many_arguments)]
pub async fn rotate_unless_changed(
    db: &sea_orm::DatabaseConnection,
    vault: &Vault,
    key: RotatedKey,
    id: Uuid,
    seen: &str,
    request: &RotationRequest,
    default_overlap: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Rotated>, StoreError> {
    let txn = crate::db::begin_write(db).await?;
    if !claim_unchanged(&txn, key, id, seen).await? {
        let what = match key {
            RotatedKey::Organization(OrganizationKey::Provider) => "provider key",
            RotatedKey::Organization(OrganizationKey::AshbyPartner) => "Ashby partner key",
            RotatedKey::IntegratorSecret => "signing secret",
        };
        return Err(StoreError::Conflict(format!(
            "This {what} has been rotated since the page was shown (was the form sent twice?), so nothing was rotated now. Open the page again to see the keys as they are"
        )));
    }
    let rotated = match key {
        RotatedKey::Organization(which) => {
            rotate_organization_key(&txn, OrganizationId(id), which, request, default_overlap, now).await?
        }
        RotatedKey::IntegratorSecret => {
            rotate_integrator_secret(&txn, vault, id, request, default_overlap, now).await?
        }
    };
    txn.commit().await?;
    Ok(rotated)
}

/// Which of an organisation's keys is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrganizationKey {
    /// The `provider-key` the integrator sends.
    Provider,
    /// The key Ashby sends us.
    AshbyPartner,
}

impl OrganizationKey {
    fn field(self) -> &'static str {
        match self {
            OrganizationKey::Provider => "providerKey",
            OrganizationKey::AshbyPartner => "ashby.partnerApiKey",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            OrganizationKey::Provider => "pk_",
            OrganizationKey::AshbyPartner => "ashby_",
        }
    }

    fn columns(self) -> (organization::Column, organization::Column, organization::Column) {
        match self {
            OrganizationKey::Provider => (
                organization::Column::ProviderKeyHash,
                organization::Column::PreviousProviderKeyHash,
                organization::Column::PreviousProviderKeyExpiresAt,
            ),
            OrganizationKey::AshbyPartner => (
                organization::Column::AshbyPartnerKeyHash,
                organization::Column::PreviousAshbyPartnerKeyHash,
                organization::Column::PreviousAshbyPartnerKeyExpiresAt,
            ),
        }
    }
}

/// A key names one organisation: 409 when another has it, as its current key or as one still
/// in its overlap.
pub(super) async fn ensure_key_free<C: ConnectionTrait>(
    db: &C,
    id: OrganizationId,
    key: OrganizationKey,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (column, previous_column, previous_expires_column) = key.columns();
    let clash = organization::Entity::find()
        .filter(organization::Column::Id.ne(id))
        .filter(
            Condition::any().add(column.eq(hash)).add(
                Condition::all()
                    .add(previous_column.eq(hash))
                    .add(previous_expires_column.gt(now)),
            ),
        )
        .one(db)
        .await?;
    match clash {
        Some(_) => Err(StoreError::Conflict(format!(
            "That {} belongs to another organization.",
            key.field()
        ))),
        None => Ok(()),
    }
}

/// A new provider key or Ashby partner key for the organisation; `None` when there is no such
/// organisation. A key chosen by the caller must belong to no other organisation (as its
/// current key or one still in its overlap) and differ from the current one.
pub async fn rotate_organization_key<C: ConnectionTrait>(
    db: &C,
    id: OrganizationId,
    key: OrganizationKey,
    request: &RotationRequest,
    default_overlap: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Rotated>, StoreError> {
    let checked = check(request, default_overlap)?;
    let Some(model) = organization::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let value = checked
        .value
        .map_or_else(|| format!("{}{}", key.prefix(), random_token(24)), str::to_owned);
    let hash = sha256_hex(value.as_bytes());
    let current = match key {
        OrganizationKey::Provider => Some(model.provider_key_hash.clone()),
        OrganizationKey::AshbyPartner => model.ashby_partner_key_hash.clone(),
    };
    if current.as_deref() == Some(hash.as_str()) {
        return Err(StoreError::Invalid(vec![crate::error::FieldError::new(
            "secret",
            "must differ from the current key",
        )]));
    }
    ensure_key_free(db, id, key, &hash, now).await?;
    let (until, keep) = previous_until(&checked, now);
    let previous = current.filter(|_| keep);
    let mut active = model.into_active_model();
    match key {
        OrganizationKey::Provider => {
            active.provider_key_hash = Set(hash);
            active.previous_provider_key_expires_at = Set(previous.as_ref().map(|_| until));
            active.previous_provider_key_hash = Set(previous);
        }
        OrganizationKey::AshbyPartner => {
            active.ashby_partner_key_hash = Set(Some(hash));
            active.previous_ashby_partner_key_expires_at = Set(previous.as_ref().map(|_| until));
            active.previous_ashby_partner_key_hash = Set(previous);
        }
    }
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(Some(Rotated {
        value,
        previous_expires_at: until,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_are_a_number_and_a_unit() {
        assert_eq!(parse_overlap("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_overlap("0s"), Some(Duration::ZERO));
        assert_eq!(parse_overlap("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_overlap("30d"), Some(MAX_OVERLAP));
        for bad in ["", "h", "24", "24 h", "1h30m", "-1h", "24H", "1234567890s"] {
            assert_eq!(parse_overlap(bad), None, "{bad}");
        }
    }
}

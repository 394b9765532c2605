//! Upserts and views of lenses, integrators, organisations and locales, shared by the seed
//! command and the admin API. Plain keys come in; hashes and ciphertexts are stored.
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;
use validator::Validate;

use crate::admin::spec::*;
use crate::config::random_token;
use crate::crypto::{Vault, sha256_hex};
use crate::delivery::guard::Targets;
use crate::entity::{integrator, lens, lens_competency, locale, organization, organization_lens};
use crate::error::{ApiError, FieldError};
use crate::extract::Problems;
use crate::secrets;
use crate::types::{HttpUrl, Locale};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Vault(#[from] crate::crypto::VaultError),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(errors) => ApiError::Validation(errors),
            StoreError::Conflict(detail) => ApiError::Conflict(detail),
            StoreError::Db(e) => ApiError::internal(e),
            StoreError::Vault(e) => ApiError::internal(e),
        }
    }
}

/// What this deployment lets an operator store (from the settings; the same for `seed` and the
/// admin API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// A new integrator may order assessment links unless it says otherwise (development).
    pub link_orders_default: bool,
    /// Where the URLs we will call (OAuth token URLs, Ashby base URLs) may point.
    pub targets: Targets,
}

impl Rules {
    /// Development's rules: link orders allowed, any target.
    pub fn development() -> Self {
        Self {
            link_orders_default: true,
            targets: Targets::Any,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
}

fn problems_into(p: Problems) -> Result<(), StoreError> {
    if p.0.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(p.0))
    }
}

fn check_id(p: &mut Problems, body_id: Option<Uuid>, id: Uuid) {
    if body_id.is_some_and(|b| b != id) {
        p.push("id", "does not match the id in the path");
    }
}

// ---------------------------------------------------------------- locales

pub async fn ensure_locales<C: ConnectionTrait>(db: &C, codes: &[String]) -> Result<(), StoreError> {
    let mut p = Problems::default();
    for (i, code) in codes.iter().enumerate() {
        if p.check(&format!("locales[{i}]"), Locale::parse(code)).is_some()
            && let Err(e) = crate::catalog::Catalog::get().check_locale(code)
        {
            p.push(format!("locales[{i}]"), e);
        }
    }
    problems_into(p)?;
    for code in codes {
        locale::Entity::insert(locale::ActiveModel {
            code: Set(code.clone()),
        })
        .on_conflict(OnConflict::column(locale::Column::Code).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Makes the offered locales exactly `codes`: at least one (with none, nothing could be ordered).
pub async fn replace_locales<C: ConnectionTrait>(db: &C, codes: &[String]) -> Result<(), StoreError> {
    if codes.is_empty() {
        return Err(StoreError::Invalid(vec![FieldError::new(
            "locales",
            "must name at least one locale",
        )]));
    }
    ensure_locales(db, codes).await?;
    locale::Entity::delete_many()
        .filter(locale::Column::Code.is_not_in(codes.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn list_locales<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    Ok(locale::Entity::find()
        .order_by_asc(locale::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.code)
        .collect())
}

// ---------------------------------------------------------------- lenses

pub async fn upsert_lens<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    spec: &LensSpec,
    now: DateTime<Utc>,
) -> Result<Upserted, StoreError> {
    let mut p = Problems::from_validator(spec.validate());
    check_id(&mut p, spec.id, id);
    let mut seen = HashSet::new();
    let catalog = crate::catalog::Catalog::get();
    let locales = list_locales(db).await?;
    for (i, c) in spec.competencies.iter().enumerate() {
        if !seen.insert(c.key.as_str()) {
            p.push(format!("competencies[{i}].key"), "appears twice");
        } else if let Err(e) = catalog.check_lens(&spec.name, [c.key.as_str()], &locales) {
            let field = format!("competencies[{i}].key");
            if !p.0.iter().any(|f| f.field == field) {
                p.push(field, e);
            }
        }
    }
    problems_into(p)?;

    let existing = lens::Entity::find_by_id(id).one(db).await?;
    let outcome = match existing {
        Some(model) => {
            let mut active = model.into_active_model();
            active.name = Set(spec.name.clone());
            active.description = Set(spec.description.clone());
            active.updated_at = Set(now);
            active.update(db).await?;
            Upserted::Updated
        }
        None => {
            lens::ActiveModel {
                id: Set(id),
                name: Set(spec.name.clone()),
                description: Set(spec.description.clone()),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await?;
            Upserted::Created
        }
    };
    lens_competency::Entity::delete_many()
        .filter(lens_competency::Column::LensId.eq(id))
        .exec(db)
        .await?;
    let rows = spec
        .competencies
        .iter()
        .enumerate()
        .map(|(i, c)| lens_competency::ActiveModel {
            lens_id: Set(id),
            key: Set(c.key.clone()),
            name: Set(c.name.clone()),
            weight: Set(c.weight),
            position: Set(i as i32),
        });
    lens_competency::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(outcome)
}

fn lens_view_of(model: lens::Model, competencies: Vec<lens_competency::Model>) -> LensView {
    LensView {
        id: model.id,
        name: model.name,
        description: model.description,
        competencies: competencies
            .into_iter()
            .map(|c| CompetencyView {
                name: crate::catalog::display_name(&c.key, c.name.as_deref(), crate::catalog::FALLBACK_LOCALE),
                key: c.key,
                weight: c.weight,
            })
            .collect(),
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

pub async fn list_lenses<C: ConnectionTrait>(db: &C, only: Option<Uuid>) -> Result<Vec<LensView>, DbErr> {
    let mut query = lens::Entity::find().order_by_asc(lens::Column::Name);
    let mut competencies = lens_competency::Entity::find().order_by_asc(lens_competency::Column::Position);
    if let Some(id) = only {
        query = query.filter(lens::Column::Id.eq(id));
        competencies = competencies.filter(lens_competency::Column::LensId.eq(id));
    }
    let mut by_lens: BTreeMap<Uuid, Vec<lens_competency::Model>> = BTreeMap::new();
    for c in competencies.all(db).await? {
        by_lens.entry(c.lens_id).or_default().push(c);
    }
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .map(|l| {
            let cs = by_lens.remove(&l.id).unwrap_or_default();
            lens_view_of(l, cs)
        })
        .collect())
}

// ---------------------------------------------------------------- integrators

fn check_callback_auth(p: &mut Problems, auth: &CallbackAuth, targets: Targets) {
    let nonempty = |p: &mut Problems, field: &str, v: &str| {
        if v.is_empty() || v.chars().count() > 1024 {
            p.push(format!("callbackAuth.{field}"), "must be 1 to 1024 characters");
        }
    };
    match auth {
        CallbackAuth::None => {}
        CallbackAuth::ApiKey { api_key } => nonempty(p, "apiKey", api_key),
        CallbackAuth::Basic { username, password } => {
            nonempty(p, "username", username);
            nonempty(p, "password", password);
            if username.contains(':') {
                p.push("callbackAuth.username", "must not contain ':'");
            }
        }
        CallbackAuth::OAuth2ClientCredentials {
            token_url,
            client_id,
            client_secret,
            ..
        } => {
            if p.check("callbackAuth.tokenUrl", HttpUrl::parse(token_url)).is_some() {
                p.check("callbackAuth.tokenUrl", targets.check(token_url));
            }
            nonempty(p, "clientId", client_id);
            nonempty(p, "clientSecret", client_secret);
        }
    }
}

pub async fn upsert_integrator<C: ConnectionTrait>(
    db: &C,
    vault: &Vault,
    id: Uuid,
    spec: &IntegratorSpec,
    now: DateTime<Utc>,
    rules: Rules,
) -> Result<Upserted, StoreError> {
    let mut p = Problems::from_validator(spec.validate());
    check_id(&mut p, spec.id, id);
    if let Some(auth) = &spec.callback_auth {
        check_callback_auth(&mut p, auth, rules.targets);
    }
    let existing = integrator::Entity::find_by_id(id).one(db).await?;
    if existing.is_none() && spec.secret.is_none() {
        p.push("secret", "is required when the integrator is created");
    }
    problems_into(p)?;

    let encrypt_auth = |auth: &CallbackAuth| -> (String, Option<String>) {
        (
            auth.type_name().to_owned(),
            secrets::seal_callback_auth(vault, id, auth),
        )
    };
    match existing {
        Some(model) => {
            let mut active = model.into_active_model();
            active.name = Set(spec.name.clone());
            if let Some(secret) = &spec.secret {
                active.secret_enc = Set(secrets::seal_integrator_secret(vault, id, secret));
            }
            if let Some(v) = spec.require_signature {
                active.require_signature = Set(v);
            }
            if let Some(v) = spec.link_orders_allowed {
                active.link_orders_allowed = Set(v);
            }
            if let Some(v) = spec.status_pushes {
                active.status_pushes = Set(v);
            }
            if let Some(auth) = &spec.callback_auth {
                let (kind, enc) = encrypt_auth(auth);
                active.callback_auth_type = Set(kind);
                active.callback_auth_enc = Set(enc);
            }
            active.updated_at = Set(now);
            active.update(db).await?;
            Ok(Upserted::Updated)
        }
        None => {
            let secret = spec.secret.as_deref().unwrap_or_default();
            let (kind, enc) = encrypt_auth(spec.callback_auth.as_ref().unwrap_or(&CallbackAuth::None));
            integrator::ActiveModel {
                id: Set(id),
                name: Set(spec.name.clone()),
                secret_enc: Set(secrets::seal_integrator_secret(vault, id, secret)),
                require_signature: Set(spec.require_signature.unwrap_or(true)),
                link_orders_allowed: Set(spec.link_orders_allowed.unwrap_or(rules.link_orders_default)),
                status_pushes: Set(spec.status_pushes.unwrap_or(false)),
                callback_auth_type: Set(kind),
                callback_auth_enc: Set(enc),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await?;
            Ok(Upserted::Created)
        }
    }
}

/// The callback credentials of an integrator, decrypted.
pub fn integrator_view(vault: &Vault, model: integrator::Model) -> Result<IntegratorView, StoreError> {
    let auth = secrets::open_callback_auth(vault, &model)?;
    Ok(IntegratorView {
        id: model.id,
        name: model.name,
        require_signature: model.require_signature,
        link_orders_allowed: model.link_orders_allowed,
        status_pushes: model.status_pushes,
        callback_auth: auth.view(),
        created_at: model.created_at,
        updated_at: model.updated_at,
    })
}

// ---------------------------------------------------------------- organizations

/// Keys generated by an upsert: shown once, stored hashed.
#[derive(Debug, Default, Clone)]
pub struct GeneratedKeys {
    pub provider_key: Option<String>,
    pub partner_api_key: Option<String>,
}

pub async fn upsert_organization<C: ConnectionTrait>(
    db: &C,
    vault: &Vault,
    id: Uuid,
    spec: &OrganizationSpec,
    now: DateTime<Utc>,
    rules: Rules,
) -> Result<(Upserted, GeneratedKeys), StoreError> {
    let mut p = Problems::from_validator(spec.validate());
    check_id(&mut p, spec.id, id);
    if integrator::Entity::find_by_id(spec.integrator_id)
        .one(db)
        .await?
        .is_none()
    {
        p.push("integratorId", "no integrator has this id");
    }
    let known_lenses: HashSet<Uuid> = lens::Entity::find()
        .filter(lens::Column::Id.is_in(spec.lens_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.id)
        .collect();
    for (i, lens_id) in spec.lens_ids.iter().enumerate() {
        if !known_lenses.contains(lens_id) {
            p.push(format!("lensIds[{i}]"), "no lens has this id");
        }
    }
    let offered_fields = spec
        .ashby
        .as_ref()
        .and_then(|a| a.custom_fields.as_deref())
        .unwrap_or_default();
    for (i, field) in offered_fields.iter().enumerate() {
        if !CUSTOM_FIELD_TYPES.contains(&field.kind.as_str()) {
            p.push(
                format!("ashby.customFields[{i}].type"),
                format!("must be one of {}", CUSTOM_FIELD_TYPES.join(", ")),
            );
        }
    }
    if let Some(url) = spec.ashby.as_ref().and_then(|a| a.base_url.as_deref())
        && p.check("ashby.baseUrl", HttpUrl::parse(url)).is_some()
    {
        p.check("ashby.baseUrl", rules.targets.check(url));
    }
    problems_into(p)?;

    let existing = organization::Entity::find_by_id(id).one(db).await?;
    let mut generated = GeneratedKeys::default();

    let provider_key_hash = match (&spec.provider_key, &existing) {
        (Some(key), _) => sha256_hex(key.as_bytes()),
        (None, Some(model)) => model.provider_key_hash.clone(),
        (None, None) => {
            let key = format!("pk_{}", random_token(24));
            let hash = sha256_hex(key.as_bytes());
            generated.provider_key = Some(key);
            hash
        }
    };
    let clash = organization::Entity::find()
        .filter(organization::Column::ProviderKeyHash.eq(provider_key_hash.as_str()))
        .filter(organization::Column::Id.ne(id))
        .one(db)
        .await?;
    if clash.is_some() {
        return Err(StoreError::Conflict(
            "That providerKey belongs to another organization.".into(),
        ));
    }

    let (partner_hash, ashby_key_enc, ashby_base_url, custom_fields) = match &spec.ashby {
        None => (None, None, None, None),
        Some(ashby) => {
            let partner = match (
                &ashby.partner_api_key,
                existing.as_ref().and_then(|m| m.ashby_partner_key_hash.clone()),
            ) {
                (Some(key), _) => sha256_hex(key.as_bytes()),
                (None, Some(hash)) => hash,
                (None, None) => {
                    let key = format!("ashby_{}", random_token(24));
                    let hash = sha256_hex(key.as_bytes());
                    generated.partner_api_key = Some(key);
                    hash
                }
            };
            let api_key = match (
                &ashby.api_key,
                existing.as_ref().and_then(|m| m.ashby_api_key_enc.clone()),
            ) {
                (Some(key), _) => Some(secrets::seal_ashby_key(vault, id, key)),
                (None, kept) => kept,
            };
            let fields = match (
                &ashby.custom_fields,
                existing.as_ref().and_then(|m| m.ashby_custom_fields.clone()),
            ) {
                (Some(fields), _) => Some(serde_json::to_value(fields).unwrap_or_default()),
                (None, kept) => kept,
            };
            (Some(partner), api_key, ashby.base_url.clone(), fields)
        }
    };
    if let Some(hash) = &partner_hash {
        let clash = organization::Entity::find()
            .filter(organization::Column::AshbyPartnerKeyHash.eq(hash.as_str()))
            .filter(organization::Column::Id.ne(id))
            .one(db)
            .await?;
        if clash.is_some() {
            return Err(StoreError::Conflict(
                "That ashby.partnerApiKey belongs to another organization.".into(),
            ));
        }
    }

    let outcome = match existing {
        Some(model) => {
            let mut active = model.into_active_model();
            active.name = Set(spec.name.clone());
            active.integrator_id = Set(spec.integrator_id);
            active.provider_key_hash = Set(provider_key_hash);
            active.ashby_partner_key_hash = Set(partner_hash);
            active.ashby_api_key_enc = Set(ashby_key_enc);
            active.ashby_base_url = Set(ashby_base_url);
            active.ashby_custom_fields = Set(custom_fields);
            active.updated_at = Set(now);
            active.update(db).await?;
            Upserted::Updated
        }
        None => {
            organization::ActiveModel {
                id: Set(id),
                name: Set(spec.name.clone()),
                integrator_id: Set(spec.integrator_id),
                provider_key_hash: Set(provider_key_hash),
                ashby_partner_key_hash: Set(partner_hash),
                ashby_api_key_enc: Set(ashby_key_enc),
                ashby_base_url: Set(ashby_base_url),
                ashby_custom_fields: Set(custom_fields),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await?;
            Upserted::Created
        }
    };
    organization_lens::Entity::delete_many()
        .filter(organization_lens::Column::OrganizationId.eq(id))
        .exec(db)
        .await?;
    let unique: Vec<Uuid> = {
        let mut seen = HashSet::new();
        spec.lens_ids.iter().copied().filter(|l| seen.insert(*l)).collect()
    };
    if !unique.is_empty() {
        let rows = unique.into_iter().map(|lens_id| organization_lens::ActiveModel {
            organization_id: Set(id),
            lens_id: Set(lens_id),
        });
        organization_lens::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok((outcome, generated))
}

/// A new random Ashby partner key for the organisation; `None` if there is no such organisation.
pub async fn rotate_partner_key<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbErr> {
    let Some(model) = organization::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let key = format!("ashby_{}", random_token(24));
    let mut active = model.into_active_model();
    active.ashby_partner_key_hash = Set(Some(sha256_hex(key.as_bytes())));
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(Some(key))
}

pub async fn list_organizations<C: ConnectionTrait>(
    db: &C,
    only: Option<Uuid>,
) -> Result<Vec<OrganizationView>, DbErr> {
    let mut query = organization::Entity::find().order_by_asc(organization::Column::Name);
    let mut links = organization_lens::Entity::find();
    if let Some(id) = only {
        query = query.filter(organization::Column::Id.eq(id));
        links = links.filter(organization_lens::Column::OrganizationId.eq(id));
    }
    let mut lenses: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for l in links.all(db).await? {
        lenses.entry(l.organization_id).or_default().push(l.lens_id);
    }
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .map(|o| OrganizationView {
            lens_ids: lenses.remove(&o.id).unwrap_or_default(),
            ashby: o.ashby_partner_key_hash.as_ref().map(|_| AshbyView {
                has_partner_api_key: true,
                has_api_key: o.ashby_api_key_enc.is_some(),
                base_url: o.ashby_base_url.clone(),
                custom_fields: o
                    .ashby_custom_fields
                    .clone()
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default(),
            }),
            id: o.id,
            name: o.name,
            integrator_id: o.integrator_id,
            created_at: o.created_at,
            updated_at: o.updated_at,
            generated_provider_key: None,
            generated_partner_api_key: None,
        })
        .collect())
}

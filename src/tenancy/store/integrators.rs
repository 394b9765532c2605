//! Integrators: their signing secret (sealed), callback auth (sealed) and what they may order.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, IntoActiveModel};
use uuid::Uuid;
use validator::Validate;

use crate::crypto::Vault;
use crate::delivery::guard::Targets;
use crate::entity::integrator;
use crate::extract::Problems;
use crate::ratelimit::{MAX_RATE, Rate};
use crate::tenancy::spec::*;
use crate::tenancy::store::{Rules, StoreError, Upserted, check_id, problems_into};

/// The highest `maxDeliveriesPerSecond`.
const MAX_DELIVERIES_PER_SECOND: u32 = 10_000;
use crate::secrets;
use crate::types::HttpUrl;

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
    let rate_limit = spec.rate_limit.map(|limit| {
        limit.map(|l| {
            if Rate::per_second(l.per_second, l.burst).is_none() {
                p.push("rateLimit", format!("perSecond and burst must each be 1 to {MAX_RATE}"));
            }
            (i32::try_from(l.per_second).ok(), i32::try_from(l.burst).ok())
        })
    });
    let max_deliveries = spec.max_deliveries_per_second.map(|cap| {
        cap.and_then(|n| {
            if !(1..=MAX_DELIVERIES_PER_SECOND).contains(&n) {
                p.push(
                    "maxDeliveriesPerSecond",
                    format!("must be 1 to {MAX_DELIVERIES_PER_SECOND}"),
                );
            }
            i32::try_from(n).ok()
        })
    });
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
            if let Some(limit) = rate_limit {
                let (per_second, burst) = limit.unwrap_or_default();
                active.rate_limit_per_second = Set(per_second);
                active.rate_limit_burst = Set(burst);
            }
            if let Some(cap) = max_deliveries {
                active.max_deliveries_per_second = Set(cap);
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
                previous_secret_enc: Set(None),
                previous_secret_expires_at: Set(None),
                require_signature: Set(spec.require_signature.unwrap_or(true)),
                link_orders_allowed: Set(spec.link_orders_allowed.unwrap_or(rules.link_orders_default)),
                status_pushes: Set(spec.status_pushes.unwrap_or(false)),
                callback_auth_type: Set(kind),
                callback_auth_enc: Set(enc),
                rate_limit_per_second: Set(rate_limit.flatten().and_then(|l| l.0)),
                rate_limit_burst: Set(rate_limit.flatten().and_then(|l| l.1)),
                max_deliveries_per_second: Set(max_deliveries.flatten()),
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
        rate_limit: Rate::stored(model.rate_limit_per_second, model.rate_limit_burst).map(|rate| {
            let (per_second, burst) = rate.per_second_and_burst();
            RateLimitSpec { per_second, burst }
        }),
        max_deliveries_per_second: model.max_deliveries_per_second.and_then(|n| u32::try_from(n).ok()),
        previous_secret_expires_at: model
            .previous_secret_expires_at
            .filter(|_| model.previous_secret_enc.is_some()),
        created_at: model.created_at,
        updated_at: model.updated_at,
    })
}

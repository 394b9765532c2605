//! Ashby calls us with HTTP Basic; the partner key we issued may be the user name or the
//! password. The key names the organisation; after a rotation the key it replaced works too
//! until the overlap ends.
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, web};
use base64::Engine;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::ashby::error::AshbyError;
use crate::crypto::sha256_hex;
use crate::entity::{integrator, organization};
use crate::ratelimit::{self, Bucket, Rate, RateLimits};
use crate::state::AppState;

/// The user name and password of a Basic header.
pub fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':').unwrap_or((&text, ""));
    Some((user.to_owned(), password.to_owned()))
}

/// Takes the call from the partner key's rate limit, at its integrator's rate or the default.
async fn admit(state: &AppState, req: &HttpRequest, org: &organization::Model) -> Result<(), AshbyError> {
    let Some(limits) = req.app_data::<web::Data<RateLimits>>() else {
        return Ok(());
    };
    let own = integrator::Entity::find_by_id(org.integrator_id)
        .one(&state.db)
        .await?
        .and_then(|i| Rate::stored(i.rate_limit_per_second, i.rate_limit_burst));
    let verdict = limits
        .admit(Bucket::Ashby(org.id), own)
        .await
        .map_err(AshbyError::internal)?;
    ratelimit::admitted(req, verdict.clone());
    match verdict.filter(|v| !v.is_allowed()) {
        Some(refused) => Err(AshbyError::rate_limited(&refused)),
        None => Ok(()),
    }
}

/// The organisation whose partner key the call carries, once its rate limit lets it through
/// (429 otherwise, before anything is done).
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<organization::Model, AshbyError> {
    let (user, password) = basic_credentials(req).ok_or(AshbyError::Unauthorized)?;
    let now = state.clock.now();
    for candidate in [user, password].into_iter().filter(|k| !k.is_empty()) {
        let hash = sha256_hex(candidate.as_bytes());
        // The current key, or the one a rotation replaced while its overlap lasts.
        let found = organization::Entity::find()
            .filter(
                Condition::any()
                    .add(organization::Column::AshbyPartnerKeyHash.eq(hash.as_str()))
                    .add(
                        Condition::all()
                            .add(organization::Column::PreviousAshbyPartnerKeyHash.eq(hash.as_str()))
                            .add(organization::Column::PreviousAshbyPartnerKeyExpiresAt.gt(now)),
                    ),
            )
            .one(&state.db)
            .await?;
        if let Some(org) = found {
            tracing::Span::current().record("organization_id", tracing::field::display(org.id));
            admit(state, req, &org).await?;
            return Ok(org);
        }
    }
    Err(AshbyError::Unauthorized)
}

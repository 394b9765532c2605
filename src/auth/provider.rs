//! Recruitment API callers: the `provider-key` names the organisation; its integrator's secret
//! signs the request.
use std::sync::Arc;

use actix_web::{HttpRequest, web};

use crate::auth::directory::{Directory, DirectoryError, Tenant};
use crate::error::ApiError;
use crate::ratelimit::{self, Bucket, Rate, RateLimits};
use crate::signature::{self, SignatureError};
use crate::state::AppState;

pub const PROVIDER_KEY_HEADER: &str = "provider-key";
pub const SIGNATURE_HEADER: &str = "signature";

/// An authenticated caller of the Recruitment API (shared with the directory's cache).
pub type Caller = Arc<Tenant>;

/// Checks the provider-key and, when the integrator requires it (or sends one anyway), the
/// signature over the raw body, then takes the request from the organisation's rate limit.
/// Every refusal to authenticate is 401 with a detail that says what is wrong; over the limit,
/// 429 (nothing has been done yet).
pub async fn authenticate(state: &AppState, req: &HttpRequest, body: &[u8]) -> Result<Caller, ApiError> {
    let key = req
        .headers()
        .get(PROVIDER_KEY_HEADER)
        .ok_or_else(|| ApiError::Unauthorized("The provider-key header is missing.".into()))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("The provider-key header is not valid text.".into()))?
        .trim();
    if key.is_empty() {
        return Err(ApiError::Unauthorized("The provider-key header is empty.".into()));
    }
    let directory = req
        .app_data::<web::Data<Directory>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the provider-key directory is not registered")))?;
    let tenant = directory
        .tenant(&state.db, &state.vault, key, state.clock.now())
        .await
        .map_err(|e| match e {
            DirectoryError::Db(e) => ApiError::from(e),
            other => ApiError::internal(other),
        })?
        .ok_or_else(|| ApiError::Unauthorized("The provider-key is not known.".into()))?;

    let header = req.headers().get(SIGNATURE_HEADER);
    if tenant.integrator.require_signature || header.is_some() {
        let header = header
            .ok_or(SignatureError::Missing)
            .and_then(|h| h.to_str().map_err(|_| SignatureError::NotText))
            .map_err(|e| ApiError::Unauthorized(format!("Signature: {e}.")))?;
        signature::verify_any(
            &tenant.secrets(state.clock.now()),
            header,
            body,
            state.clock.now(),
            state.signature_tolerance,
        )
        .map_err(|e| ApiError::Unauthorized(format!("Signature: {e}.")))?;
    }
    tracing::Span::current().record("organization_id", tracing::field::display(tenant.organization.id));
    if let Some(limits) = req.app_data::<web::Data<RateLimits>>() {
        let own = Rate::stored(
            tenant.integrator.rate_limit_per_second,
            tenant.integrator.rate_limit_burst,
        );
        let verdict = limits
            .admit(Bucket::Recruitment(tenant.organization.id), own)
            .await
            .map_err(ApiError::internal)?;
        ratelimit::admitted(req, verdict.clone());
        if let Some(refused) = verdict.filter(|v| !v.is_allowed()) {
            return Err(ApiError::rate_limited(&refused));
        }
    }
    Ok(tenant)
}

//! Recruitment API callers: the `provider-key` names the organisation; its integrator's secret
//! signs the request.
use std::sync::Arc;

use actix_web::{HttpRequest, web};

use crate::auth::directory::{Directory, DirectoryError, Tenant};
use crate::error::ApiError;
use crate::signature::{self, SignatureError};
use crate::state::AppState;

pub const PROVIDER_KEY_HEADER: &str = "provider-key";
pub const SIGNATURE_HEADER: &str = "signature";

/// An authenticated caller of the Recruitment API (shared with the directory's cache).
pub type Caller = Arc<Tenant>;

/// Checks the provider-key and, when the integrator requires it (or sends one anyway), the
/// signature over the raw body. Every refusal is 401 with a detail that says what is wrong.
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
    Ok(tenant)
}

//! Recruitment API callers: the `provider-key` names the organisation; its integrator's secret
//! signs the request.
use actix_web::HttpRequest;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::auth::signature::{self, SignatureError};
use crate::crypto::sha256_hex;
use crate::entity::{integrator, organization};
use crate::error::ApiError;
use crate::state::AppState;

pub const PROVIDER_KEY_HEADER: &str = "provider-key";
pub const SIGNATURE_HEADER: &str = "signature";

/// An authenticated caller of the Recruitment API.
#[derive(Debug, Clone)]
pub struct Caller {
    pub organization: organization::Model,
    pub integrator: integrator::Model,
}

pub fn integrator_secret_context(integrator_id: uuid::Uuid) -> String {
    format!("integrator.secret:{integrator_id}")
}

async fn organization_by_key(
    db: &DatabaseConnection,
    key: &str,
) -> Result<Option<(organization::Model, integrator::Model)>, ApiError> {
    let Some(org) = organization::Entity::find()
        .filter(organization::Column::ProviderKeyHash.eq(sha256_hex(key.as_bytes())))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let integrator = integrator::Entity::find_by_id(org.integrator_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("organization {} has no integrator", org.id)))?;
    Ok(Some((org, integrator)))
}

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
    let (organization, integrator) = organization_by_key(&state.db, key)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("The provider-key is not known.".into()))?;

    let header = req.headers().get(SIGNATURE_HEADER);
    if integrator.require_signature || header.is_some() {
        let header = header
            .ok_or(SignatureError::Missing)
            .and_then(|h| h.to_str().map_err(|_| SignatureError::NotText))
            .map_err(|e| ApiError::Unauthorized(format!("Signature: {e}.")))?;
        let secret = state
            .vault
            .decrypt(&integrator_secret_context(integrator.id), &integrator.secret_enc)
            .map_err(ApiError::internal)?;
        signature::verify(&secret, header, body, state.clock.now(), state.signature_tolerance)
            .map_err(|e| ApiError::Unauthorized(format!("Signature: {e}.")))?;
    }
    tracing::Span::current().record("organization_id", tracing::field::display(organization.id));
    Ok(Caller {
        organization,
        integrator,
    })
}

//! Upserts and views of lenses, integrators, organisations and locales, shared by the seed
//! command and the admin API. Plain keys come in; hashes and ciphertexts are stored.
mod branding;
mod catalogue;
mod integrators;
mod organizations;
mod rotations;

pub use branding::{LogoError, logo, put_logo};
pub use catalogue::*;
pub use integrators::*;
pub use organizations::*;
pub use rotations::*;

use sea_orm::DbErr;
use uuid::Uuid;

use crate::delivery::guard::Targets;
use crate::error::{ApiError, FieldError};
use crate::extract::Problems;

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

pub(super) fn problems_into(p: Problems) -> Result<(), StoreError> {
    if p.0.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(p.0))
    }
}

pub(super) fn check_id(p: &mut Problems, body_id: Option<Uuid>, id: Uuid) {
    if body_id.is_some_and(|b| b != id) {
        p.push("id", "does not match the id in the path");
    }
}

//! Secrets at rest: each kind of stored secret, its encryption context, and the one way to seal
//! and open it. The master key's vault encrypts; the context binds each ciphertext to its kind
//! and row, so a ciphertext copied into another row or column does not open.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::crypto::{Vault, VaultError};
use crate::entity::{integrator, organization};
use crate::types::OrganizationId;

/// How result pushes authenticate to the integrator.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(tag = "type")]
pub enum CallbackAuth {
    #[serde(rename = "none")]
    None,
    /// Header `integrator-api-key`.
    #[serde(rename = "apiKey", rename_all = "camelCase")]
    ApiKey {
        #[schema(min_length = 1, max_length = 1024)]
        api_key: String,
    },
    #[serde(rename = "basic")]
    Basic {
        #[schema(min_length = 1, max_length = 1024, pattern = "^[^:]*$")]
        username: String,
        #[schema(min_length = 1, max_length = 1024)]
        password: String,
    },
    #[serde(rename = "oauth2ClientCredentials", rename_all = "camelCase")]
    OAuth2ClientCredentials {
        /// An absolute http(s) URL.
        #[schema(pattern = "^[Hh][Tt][Tt][Pp][Ss]?://", max_length = 2048)]
        token_url: String,
        #[schema(min_length = 1, max_length = 1024)]
        client_id: String,
        #[schema(min_length = 1, max_length = 1024)]
        client_secret: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
}

impl CallbackAuth {
    pub fn type_name(&self) -> &'static str {
        match self {
            CallbackAuth::None => "none",
            CallbackAuth::ApiKey { .. } => "apiKey",
            CallbackAuth::Basic { .. } => "basic",
            CallbackAuth::OAuth2ClientCredentials { .. } => "oauth2ClientCredentials",
        }
    }
}

fn integrator_secret_context(integrator_id: Uuid) -> String {
    format!("integrator.secret:{integrator_id}")
}

fn previous_integrator_secret_context(integrator_id: Uuid) -> String {
    format!("integrator.previousSecret:{integrator_id}")
}

fn callback_context(integrator_id: Uuid) -> String {
    format!("integrator.callbackAuth:{integrator_id}")
}

fn ashby_key_context(organization_id: OrganizationId) -> String {
    format!("organization.ashbyApiKey:{organization_id}")
}

/// The integrator's signing secret (`integrator-secret`), sealed for its row.
pub fn seal_integrator_secret(vault: &Vault, integrator_id: Uuid, secret: &str) -> String {
    vault.encrypt(&integrator_secret_context(integrator_id), secret.as_bytes())
}

pub fn open_integrator_secret(vault: &Vault, integrator: &integrator::Model) -> Result<Vec<u8>, VaultError> {
    vault.decrypt(&integrator_secret_context(integrator.id), &integrator.secret_enc)
}

/// A secret a rotation replaced, sealed for the row's `previous_secret_enc`.
pub fn seal_previous_integrator_secret(vault: &Vault, integrator_id: Uuid, secret: &[u8]) -> String {
    vault.encrypt(&previous_integrator_secret_context(integrator_id), secret)
}

/// A signing secret and the end of its life: `None` for the current secret, the overlap's end
/// for one a rotation replaced.
#[derive(Clone)]
pub struct DatedSecret {
    pub secret: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl DatedSecret {
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        live_at(self.expires_at, now)
    }
}

/// Whether a secret or key whose life ends at `expires_at` (`None`: never) still works at `now`.
pub fn live_at(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires_at.is_none_or(|at| now < at)
}

/// The integrator's signing secrets, newest first: the current one and, during a rotation's
/// overlap, the one it replaced.
pub fn open_integrator_secrets(vault: &Vault, integrator: &integrator::Model) -> Result<Vec<DatedSecret>, VaultError> {
    let mut secrets = vec![DatedSecret {
        secret: open_integrator_secret(vault, integrator)?,
        expires_at: None,
    }];
    if let (Some(enc), Some(expires_at)) = (&integrator.previous_secret_enc, integrator.previous_secret_expires_at) {
        secrets.push(DatedSecret {
            secret: vault.decrypt(&previous_integrator_secret_context(integrator.id), enc)?,
            expires_at: Some(expires_at),
        });
    }
    Ok(secrets)
}

/// The integrator's callback credentials: `None` (nothing to seal) or the sealed JSON.
pub fn seal_callback_auth(vault: &Vault, integrator_id: Uuid, auth: &CallbackAuth) -> Option<String> {
    match auth {
        CallbackAuth::None => None,
        other => {
            let json = serde_json::to_vec(other).unwrap_or_default();
            Some(vault.encrypt(&callback_context(integrator_id), &json))
        }
    }
}

pub fn open_callback_auth(vault: &Vault, integrator: &integrator::Model) -> Result<CallbackAuth, VaultError> {
    match &integrator.callback_auth_enc {
        None => Ok(CallbackAuth::None),
        Some(enc) => {
            let json = vault.decrypt(&callback_context(integrator.id), enc)?;
            serde_json::from_slice(&json).map_err(|_| VaultError::Format)
        }
    }
}

/// The customer's Ashby API key (for `assessment.update`), sealed for its organisation.
pub fn seal_ashby_key(vault: &Vault, organization_id: OrganizationId, key: &str) -> String {
    vault.encrypt(&ashby_key_context(organization_id), key.as_bytes())
}

/// The organisation's Ashby API key, `None` when it has none.
pub fn open_ashby_key(vault: &Vault, organization: &organization::Model) -> Result<Option<String>, VaultError> {
    organization
        .ashby_api_key_enc
        .as_deref()
        .map(|enc| vault.decrypt_string(&ashby_key_context(organization.id), enc))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::new(&secrecy::SecretBox::new(Box::new([7; 32])))
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_own_kind_and_row() {
        let vault = vault();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = seal_integrator_secret(&vault, a, "s3cret");
        assert_eq!(
            vault.decrypt(&integrator_secret_context(a), &sealed).unwrap(),
            b"s3cret"
        );
        assert!(
            vault.decrypt(&integrator_secret_context(b), &sealed).is_err(),
            "another row"
        );
        assert!(vault.decrypt(&callback_context(a), &sealed).is_err(), "another kind");
        assert_eq!(seal_callback_auth(&vault, a, &CallbackAuth::None), None);
    }
}

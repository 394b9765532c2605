//! What every handler shares.
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use url::Url;

use crate::auth::admin::AdminTokens;
use crate::clock::SharedClock;
use crate::crypto::Vault;
use crate::links::LinkSigner;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub vault: Vault,
    pub clock: SharedClock,
    pub admin_tokens: Arc<AdminTokens>,
    pub links: Arc<LinkSigner>,
    pub env: crate::config::Environment,
    pub public_url: Url,
    pub signature_tolerance: Duration,
    pub invitation_ttl: Duration,
    pub max_body_bytes: usize,
}

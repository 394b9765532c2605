//! What every handler shares. A surface's own parts (the admin token keys, the provider-key
//! directory, the order writer, the CSRF key) are registered beside it at start-up, each as its
//! own `web::Data`, so that this module names no surface.
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use url::Url;

use crate::clock::SharedClock;
use crate::crypto::Vault;
use crate::links::LinkSigner;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub vault: Vault,
    pub clock: SharedClock,
    pub links: Arc<LinkSigner>,
    pub env: crate::config::Environment,
    pub public_url: Url,
    pub signature_tolerance: Duration,
    /// `AP_INVITATION_TTL` and `AP_INVITATION_REMINDERS`.
    pub invitations: crate::config::InvitationTiming,
    pub max_body_bytes: usize,
    /// Callback URLs may point at loopback/private networks (development).
    pub allow_private_callbacks: bool,
    /// `AP_ASHBY_BASE_URL`: where `assessment.update` goes unless the organisation overrides it.
    pub ashby_base_url: String,
    /// Wakes this instance's delivery worker after a commit that added outbox rows.
    pub wake: Arc<Notify>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// How deliveries are retried, and for how long (a replay's new deadline).
    pub retry: crate::delivery::policy::RetryPolicy,
    /// Result-push credentials this instance's worker has read; cleared when an admin changes an
    /// integrator here.
    pub push_credentials: Arc<crate::delivery::senders::CredentialCache>,
    /// `AP_KEY_ROTATION_OVERLAP`: how long a rotated key keeps working unless the rotation says.
    pub key_rotation_overlap: Duration,
    /// This instance's worker, when it runs one: rows written leased to it go here.
    pub handoff: Option<crate::delivery::handoff::Handoff>,
    /// `AP_DELIVERY_TIMEOUT`: the longest one attempt takes (what a test push waits for).
    pub delivery_timeout: Duration,
    /// `AP_MAIL_OUTBOX_DIR`: where `.eml` files are written (an erasure deletes its person's).
    pub mail_outbox_dir: std::path::PathBuf,
    /// What this instance's worker shows of its delivery targets (pauses, places in use).
    pub delivery_targets: Arc<crate::delivery::gate::TargetBoard>,
    /// Integrators' caps on delivery attempts per second, shared with this instance's worker.
    pub delivery_caps: Arc<crate::delivery::caps::IntegratorCaps>,
}

impl AppState {
    /// Call after committing a transaction that enqueued deliveries.
    pub fn wake_worker(&self) {
        self.wake.notify_one();
    }

    /// Where this deployment lets outgoing calls go.
    pub fn targets(&self) -> crate::delivery::guard::Targets {
        crate::delivery::guard::Targets::new(self.allow_private_callbacks)
    }

    /// What completing an assessment needs of this instance.
    pub fn completion(&self) -> crate::assessment::completion::Outlets<'_> {
        crate::assessment::completion::Outlets {
            links: &self.links,
            ashby_base_url: &self.ashby_base_url,
            handoff: self.handoff.as_ref(),
            clock_skew: chrono::Duration::from_std(self.signature_tolerance).unwrap_or(chrono::Duration::MAX),
        }
    }
}

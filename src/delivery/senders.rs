//! One sender per delivery kind: the worker hands each claimed row to its kind's sender and
//! records what it reports. A new kind of outgoing call is a new `DeliveryKind` variant, a new
//! [`Sender`] and its field in [`Senders`] (the compiler lists each place a kind is matched),
//! with no change to the worker's loop.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sea_orm::{DatabaseConnection, EntityTrait};

use crate::cache::ExpiringCache;
use crate::crypto::Vault;
use crate::delivery::due::Due;
use crate::delivery::mail::Mailer;
use crate::delivery::outbox::{EmailPayload, Kind};
use crate::delivery::policy::Verdict;
use crate::delivery::push::{HttpSender, Post};
use crate::delivery::report::AttemptReport;
use crate::entity::{integrator, organization};
use crate::metrics::Metrics;
use crate::secrets::{self, CallbackAuth};
use crate::types::OrganizationId;

/// Sends one row of its kind; never fails otherwise than by its report.
pub trait Sender: Send + Sync {
    /// One attempt at `now`. The future is boxed: the worker keeps one per attempt in flight,
    /// and a sending future (reqwest's and hyper's state) is several kilobytes.
    fn send<'a>(&'a self, row: &'a Due, now: DateTime<Utc>) -> BoxFuture<'a, AttemptReport>;
}

/// The senders, one per kind: [`Senders::of`] matches on the kind, so a kind without a sender
/// does not compile.
#[derive(Clone)]
pub struct Senders {
    result: Arc<dyn Sender>,
    test_push: Arc<dyn Sender>,
    ashby_update: Arc<dyn Sender>,
    invitation_email: Arc<dyn Sender>,
    reminder_email: Arc<dyn Sender>,
    recruiter_notice: Arc<dyn Sender>,
}

impl Senders {
    /// The senders of every kind the outbox holds: result pushes (real and test), Ashby
    /// updates, invitations, reminders and recruiters' notices.
    pub fn standard(
        db: DatabaseConnection,
        vault: Vault,
        http: HttpSender,
        mailer: Mailer,
        metrics: Arc<Metrics>,
        credentials: Arc<CredentialCache>,
    ) -> Self {
        let result_push = |test_delivery| ResultPush {
            db: db.clone(),
            vault: vault.clone(),
            http: http.clone(),
            credentials: credentials.clone(),
            test_delivery,
        };
        Self {
            result: Arc::new(result_push(false)),
            test_push: Arc::new(result_push(true)),
            ashby_update: Arc::new(AshbyUpdate {
                db: db.clone(),
                vault: vault.clone(),
                http: http.clone(),
                metrics,
            }),
            invitation_email: Arc::new(StoredMail { mailer: mailer.clone() }),
            recruiter_notice: Arc::new(StoredMail { mailer: mailer.clone() }),
            reminder_email: Arc::new(ReminderMail {
                db: db.clone(),
                mail: StoredMail { mailer },
            }),
        }
    }

    /// The sender of `kind`'s rows.
    fn of(&self, kind: Kind) -> &dyn Sender {
        match kind {
            Kind::Result => &*self.result,
            Kind::TestPush => &*self.test_push,
            Kind::AshbyUpdate => &*self.ashby_update,
            Kind::InvitationEmail => &*self.invitation_email,
            Kind::ReminderEmail => &*self.reminder_email,
            Kind::RecruiterNotice => &*self.recruiter_notice,
        }
    }

    /// One attempt of `row` by its kind's sender.
    pub fn send<'a>(&'a self, row: &'a Due, now: DateTime<Utc>) -> BoxFuture<'a, AttemptReport> {
        self.of(row.kind).send(row, now)
    }
}

/// A failure that no retry can mend.
pub fn final_failure(message: String) -> AttemptReport {
    let mut report = AttemptReport::failed(message);
    report.verdict = Verdict::Final;
    report
}

/// How long decrypted integrator credentials are reused: a changed secret or callback auth
/// applies to pushes within this time.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(30);

/// What a result push needs of its integrator.
pub struct Credentials {
    /// Newest first (the previous one too during an overlap).
    secrets: Vec<secrets::DatedSecret>,
    auth: CallbackAuth,
}

impl Credentials {
    /// The secrets still live at `now`, newest first.
    fn live_secrets(&self, now: DateTime<Utc>) -> Vec<&[u8]> {
        self.secrets
            .iter()
            .filter(|s| s.live(now))
            .map(|s| s.secret.as_slice())
            .collect()
    }
}

/// Result pushes to the order's `resultUpdateUrl`, signed with the integrator's secret and
/// carrying its callback auth. A test push is the same call with `Test-Delivery: true`, made
/// once: whatever it finds is final.
pub struct ResultPush {
    db: DatabaseConnection,
    vault: Vault,
    http: HttpSender,
    credentials: Arc<CredentialCache>,
    test_delivery: bool,
}

/// Integrator credentials by organisation, kept for [`CREDENTIAL_TTL`]. An admin change on this
/// instance clears it at once; other instances read the change within `CREDENTIAL_TTL`.
pub struct CredentialCache(ExpiringCache<OrganizationId, Credentials>);

impl Default for CredentialCache {
    fn default() -> Self {
        Self(ExpiringCache::new(CREDENTIAL_TTL, 10_000))
    }
}

impl CredentialCache {
    pub fn invalidate(&self) {
        self.0.clear();
    }
}

impl ResultPush {
    /// The integrator's signing secret and callback auth for a row's organisation, from the
    /// cache when fresh (`CREDENTIAL_TTL`), else from the database.
    async fn credentials(&self, row: &Due) -> Result<Arc<Credentials>, String> {
        let org_id = row.organization_id.ok_or("the delivery names no organization")?;
        if let Some(creds) = self.credentials.0.get(&org_id) {
            return Ok(creds);
        }
        let ticket = self.credentials.0.ticket();
        let integrator = self.integrator_of(org_id).await?;
        let secrets = secrets::open_integrator_secrets(&self.vault, &integrator)
            .map_err(|e| format!("integrator secret: {e}"))?;
        let auth =
            secrets::open_callback_auth(&self.vault, &integrator).map_err(|e| format!("callback credentials: {e}"))?;
        let creds = Arc::new(Credentials { secrets, auth });
        self.credentials.0.put(ticket, org_id, creds.clone());
        Ok(creds)
    }

    async fn integrator_of(&self, org_id: OrganizationId) -> Result<integrator::Model, String> {
        let org = organization::Entity::find_by_id(org_id)
            .one(&self.db)
            .await
            .map_err(|e| format!("database: {e}"))?
            .ok_or("the organization no longer exists")?;
        integrator::Entity::find_by_id(org.integrator_id)
            .one(&self.db)
            .await
            .map_err(|e| format!("database: {e}"))?
            .ok_or_else(|| "the integrator no longer exists".to_owned())
    }
}

impl Sender for ResultPush {
    fn send<'a>(&'a self, row: &'a Due, now: DateTime<Utc>) -> BoxFuture<'a, AttemptReport> {
        Box::pin(async move {
            let mut report = match self.credentials(row).await {
                Ok(creds) => {
                    self.http
                        .post(Post {
                            url: &row.target,
                            body: row.payload.as_bytes(),
                            idempotency_key: &row.id.to_string(),
                            signing_secrets: &creds.live_secrets(now),
                            auth: &creds.auth,
                            now,
                            test_delivery: self.test_delivery,
                        })
                        .await
                }
                Err(e) => AttemptReport::failed(e),
            };
            if self.test_delivery && report.verdict != Verdict::Delivered {
                report.verdict = Verdict::Final;
            }
            report
        })
    }
}

/// Ashby's `assessment.update`, with the organisation's Ashby API key.
pub struct AshbyUpdate {
    db: DatabaseConnection,
    vault: Vault,
    http: HttpSender,
    metrics: Arc<Metrics>,
}

impl Sender for AshbyUpdate {
    fn send<'a>(&'a self, row: &'a Due, now: DateTime<Utc>) -> BoxFuture<'a, AttemptReport> {
        Box::pin(async move {
            let Some(org_id) = row.organization_id else {
                return final_failure("the delivery names no organization".into());
            };
            let org = match organization::Entity::find_by_id(org_id).one(&self.db).await {
                Ok(Some(org)) => org,
                Ok(None) => return final_failure("the organization no longer exists".into()),
                Err(e) => return AttemptReport::failed(format!("database: {e}")),
            };
            let api_key = match secrets::open_ashby_key(&self.vault, &org) {
                Ok(Some(k)) => k,
                // The customer may still add it: retried until the deadline.
                Ok(None) => return AttemptReport::failed("the organization has no Ashby API key configured"),
                Err(e) => return AttemptReport::failed(format!("Ashby API key: {e}")),
            };
            let report = crate::delivery::ashby_update::client::post_update(
                &self.http,
                &row.target,
                &api_key,
                row.payload.as_bytes(),
                &row.id.to_string(),
                now,
            )
            .await;
            if matches!(report.status, Some(401 | 403)) {
                self.metrics.ashby_auth_failures.inc();
            }
            report
        })
    }
}

/// Invitation e-mails, through the configured mailer.
/// Sends a stored e-mail (invitations, recruiters' notices).
pub struct StoredMail {
    mailer: Mailer,
}

/// Sends a reminder only while its assessment still awaits the candidate; otherwise the row is
/// final without sending (the candidate finished while it waited for a retry).
pub struct ReminderMail {
    db: DatabaseConnection,
    mail: StoredMail,
}

impl Sender for ReminderMail {
    fn send<'a>(&'a self, row: &'a Due, now: DateTime<Utc>) -> BoxFuture<'a, AttemptReport> {
        Box::pin(async move {
            let Some(id) = row.assessment_id else {
                return final_failure("a reminder without its assessment".into());
            };
            match crate::entity::assessment::Entity::find_by_id(id).one(&self.db).await {
                Ok(Some(a)) if a.awaits_candidate(now) => self.mail.send(row, now).await,
                Ok(_) => final_failure(WITHDRAWN_REMINDER.into()),
                Err(e) => AttemptReport::failed(format!("could not read the reminder's assessment: {e}")),
            }
        })
    }
}

/// What a reminder's row says when its assessment no longer awaits the candidate.
pub const WITHDRAWN_REMINDER: &str = "not sent: the assessment no longer awaits the candidate";

impl Sender for StoredMail {
    fn send<'a>(&'a self, row: &'a Due, _now: DateTime<Utc>) -> BoxFuture<'a, AttemptReport> {
        Box::pin(async move {
            match serde_json::from_str::<EmailPayload>(&row.payload) {
                Ok(mail) => self.mailer.send(&mail, &row.id.to_string()).await,
                Err(e) => final_failure(format!("stored e-mail is unreadable: {e}")),
            }
        })
    }
}

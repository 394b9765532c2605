use sea_orm::entity::prelude::*;

use crate::entity::enums::{AssessmentState, Source};
use crate::types::{AssessmentId, OrganizationId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assessments")]
pub struct Model {
    /// UUIDv7: ordered by creation, which the admin listing's cursor relies on.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AssessmentId,
    pub organization_id: OrganizationId,
    pub recruitment_id: Option<Uuid>,
    pub candidate_id: Uuid,
    pub lens_id: Uuid,
    pub locale: String,
    pub source: Source,
    pub state: AssessmentState,
    pub result_id: Option<String>,
    pub result_update_url: Option<String>,
    /// SHA-256 of the order as understood; tells a retry from a conflicting reuse of `resultId`.
    pub request_hash: String,
    pub score: Option<i32>,
    /// Competency key -> 0..100.
    pub subscores: Option<Json>,
    pub invited_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    /// When it reached a finished state other than completed (cancelled, expired, declined).
    pub finished_at: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Ashby's ids, for assessments started through `assessment.start`.
    pub ashby_candidate_id: Option<String>,
    pub ashby_application_id: Option<String>,
    pub ashby_job_id: Option<String>,
    pub ashby_job_name: Option<String>,
    /// `additional_fields` of `assessment.start`, as received.
    pub additional_fields: Option<Json>,
    /// The `timestamp` of the last `assessment.update` enqueued; the next is strictly later.
    pub ashby_last_update_ms: Option<i64>,
    /// When the candidate's data in it was erased (answers, Ashby ids, additional fields; the
    /// scores too when asked). Its links and result answer 410 from then on.
    pub erased_at: Option<DateTimeUtc>,
    /// When the candidate is next reminded of the invitation; null: never again (no e-mail was
    /// sent, reminders are off, or none is left before the expiry).
    pub next_reminder_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Still waiting for its candidate at `now`: invited or started, not past its expiry, not
    /// erased. Only then is the candidate reminded.
    pub fn awaits_candidate(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        matches!(self.state, AssessmentState::Invited | AssessmentState::Started)
            && self.expires_at > now
            && self.erased_at.is_none()
    }
}

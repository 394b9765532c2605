use sea_orm::entity::prelude::*;

use crate::entity::enums::{DeliveryKind, DeliveryState};
use crate::types::{AssessmentId, OrganizationId};

/// One outgoing call in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    /// UUIDv7; also the `Idempotency-Key` of every attempt.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: DeliveryKind,
    pub organization_id: Option<OrganizationId>,
    pub assessment_id: Option<AssessmentId>,
    /// Calls with the same key go out one at a time, in id order.
    pub ordering_key: String,
    /// URL, or e-mail address for e-mails.
    pub target: String,
    pub payload: Json,
    pub state: DeliveryState,
    /// Attempts made in all.
    pub attempts: i32,
    /// `attempts` when the row was last replayed: the retry schedule counts from there.
    pub replay_base: i32,
    pub next_attempt_at: DateTimeUtc,
    pub first_attempt_at: Option<DateTimeUtc>,
    /// First attempt + `AP_DELIVERY_MAX_AGE`; set at the first attempt.
    pub deadline_at: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::delivery_attempt::Entity")]
    Attempts,
}

impl Related<super::delivery_attempt::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Attempts.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

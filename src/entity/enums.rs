//! The stored enums: typed columns, stored as the same lower-case text as ever. The domain
//! re-exports them (`assessment::State`, `assessment::Source`, `delivery::outbox::Kind`,
//! `delivery::outbox::DeliveryState`) and adds its rules to them there. Each `as_str` spells
//! the stored value (raw SQL and metric labels use it); a test keeps it equal to the value the
//! column is written with.
use std::fmt;
use std::str::FromStr;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// Where an assessment is in its life (`assessments.state`); `State` in the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, EnumIter, DeriveActiveEnum)]
#[serde(rename_all = "lowercase")]
#[schema(as = State)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum AssessmentState {
    #[sea_orm(string_value = "invited")]
    Invited,
    #[sea_orm(string_value = "started")]
    Started,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    #[sea_orm(string_value = "expired")]
    Expired,
    #[sea_orm(string_value = "declined")]
    Declined,
}

impl AssessmentState {
    pub const ALL: [AssessmentState; 6] = [
        Self::Invited,
        Self::Started,
        Self::Completed,
        Self::Cancelled,
        Self::Expired,
        Self::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Started => "started",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Declined => "declined",
        }
    }
}

impl fmt::Display for AssessmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no [`AssessmentState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a state (invited, started, completed, cancelled, expired, declined)")]
pub struct UnknownState(pub String);

impl FromStr for AssessmentState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// Which surface ordered an assessment (`assessments.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum Source {
    #[sea_orm(string_value = "recruitment")]
    Recruitment,
    #[sea_orm(string_value = "ashby")]
    Ashby,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recruitment => "recruitment",
            Self::Ashby => "ashby",
        }
    }
}

/// What an outbox row sends (`deliveries.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum DeliveryKind {
    /// A result push to the order's `resultUpdateUrl`.
    #[sea_orm(string_value = "result")]
    Result,
    /// Ashby's `assessment.update`.
    #[sea_orm(string_value = "ashby_update")]
    AshbyUpdate,
    /// The candidate's invitation e-mail.
    #[sea_orm(string_value = "invitation_email")]
    InvitationEmail,
    /// A sample result an integrator asked for (`POST /recruitment/v1/test-result`): one
    /// attempt, never retried.
    #[sea_orm(string_value = "test_push")]
    TestPush,
    /// A reminder to a candidate who has not finished (`AP_INVITATION_REMINDERS`).
    #[sea_orm(string_value = "reminder_email")]
    ReminderEmail,
    /// A recruitment collaborator's notice that a candidate completed.
    #[sea_orm(string_value = "recruiter_notice")]
    RecruiterNotice,
}

impl DeliveryKind {
    pub const ALL: [DeliveryKind; 6] = [
        Self::Result,
        Self::AshbyUpdate,
        Self::InvitationEmail,
        Self::TestPush,
        Self::ReminderEmail,
        Self::RecruiterNotice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Result => "result",
            Self::AshbyUpdate => "ashby_update",
            Self::InvitationEmail => "invitation_email",
            Self::TestPush => "test_push",
            Self::ReminderEmail => "reminder_email",
            Self::RecruiterNotice => "recruiter_notice",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where an outbox row is (`deliveries.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum DeliveryState {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "delivered")]
    Delivered,
    #[sea_orm(string_value = "dead")]
    Dead,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 3] = [Self::Pending, Self::Delivered, Self::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    /// `as_str` is what the column is written with, and `ALL` names every variant.
    fn agrees<E: ActiveEnum<Value = String> + Iterable + Copy + PartialEq + fmt::Debug>(
        as_str: fn(E) -> &'static str,
        all: &[E],
    ) {
        let every: Vec<E> = E::iter().collect();
        assert_eq!(every.as_slice(), all);
        for e in every {
            assert_eq!(as_str(e), e.to_value(), "{e:?}");
            assert_eq!(E::try_from_value(&as_str(e).to_owned()).ok(), Some(e));
        }
    }

    #[test]
    fn stored_values_are_spelled_once() {
        agrees(AssessmentState::as_str, &AssessmentState::ALL);
        agrees(Source::as_str, &[Source::Recruitment, Source::Ashby]);
        agrees(DeliveryKind::as_str, &DeliveryKind::ALL);
        agrees(DeliveryState::as_str, &DeliveryState::ALL);
    }
}

//! A row in the worker's hands: the columns an attempt and its recording read, no more.
//!
//! The claim returns these columns only, read by position, with the payload as JSON text: on
//! SQLite the text as stored, sent as it is, not parsed into a `serde_json::Value` and
//! serialized again (see [`Due::read`] for PostgreSQL). The full model (twenty columns, each
//! looked up by name, seven timestamps parsed, the payload parsed) cost ~6.5 % of a SQLite
//! drain's samples, and sqlx's copies of its columns on SQLite's thread ~4 % more
//! (bench/README.md). Rows handed over in memory (`delivery::handoff`) arrive as
//! full models and are converted.
use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, DbErr, QueryResult};
use uuid::Uuid;

use crate::delivery::outbox::Kind;
use crate::entity::delivery;
use crate::types::{AssessmentId, OrganizationId};

/// A claimed (or handed-over) outbox row, as [`Due::COLUMNS`] selects it.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: Uuid,
    /// What the row sends: decoded once, as the row is read, and matched on from then on.
    pub kind: Kind,
    pub organization_id: Option<OrganizationId>,
    pub assessment_id: Option<AssessmentId>,
    pub ordering_key: String,
    pub target: String,
    /// The payload's JSON text.
    pub payload: String,
    pub attempts: i32,
    pub replay_base: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub lease_expires_at: Option<DateTime<Utc>>,
}

impl Due {
    /// The columns to select (or return) for [`Due::read`], in its order.
    pub const COLUMNS: &str = "id, kind, organization_id, assessment_id, ordering_key, target, payload, attempts, \
         replay_base, next_attempt_at, first_attempt_at, deadline_at, lease_expires_at";

    /// One row of a query that selected [`Due::COLUMNS`]. The claim takes only the kinds this
    /// build knows ([`KNOWN_KINDS_SQL`]), so the kind decodes.
    ///
    /// Every attempt of a row must send the same bytes (the receiver may compare them, and they
    /// are what the `Signature` covers), whether the row came from a claim or was handed over
    /// (`From<delivery::Model>`: `serde_json`'s text of the parsed payload). SQLite keeps the
    /// text `serde_json` wrote, read as it is. PostgreSQL's `jsonb` keeps its own form (keys
    /// reordered, spaces added), so there the payload is parsed and written out as
    /// `serde_json` does, as before.
    pub fn read(row: &QueryResult, backend: DbBackend) -> Result<Self, DbErr> {
        let payload = match backend {
            DbBackend::Postgres => row.try_get_by_index::<serde_json::Value>(6)?.to_string(),
            _ => row.try_get_by_index(6)?,
        };
        Ok(Self {
            id: row.try_get_by_index(0)?,
            kind: row.try_get_by_index(1)?,
            organization_id: row.try_get_by_index(2)?,
            assessment_id: row.try_get_by_index(3)?,
            ordering_key: row.try_get_by_index(4)?,
            target: row.try_get_by_index(5)?,
            payload,
            attempts: row.try_get_by_index(7)?,
            replay_base: row.try_get_by_index(8)?,
            next_attempt_at: row.try_get_by_index(9)?,
            first_attempt_at: row.try_get_by_index(10)?,
            deadline_at: row.try_get_by_index(11)?,
            lease_expires_at: row.try_get_by_index(12)?,
        })
    }
}

/// The kinds this build sends, as an SQL list: `('result', 'ashby_update', …)`. The claim and the
/// worker's "when is the next row due" read only these, so an instance leaves rows of a kind it
/// does not know (a newer release's, during a rolling upgrade) pending for an instance that does.
pub static KNOWN_KINDS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let kinds: Vec<String> = Kind::ALL.iter().map(|k| format!("'{}'", k.as_str())).collect();
    format!("({})", kinds.join(", "))
});

impl From<delivery::Model> for Due {
    fn from(m: delivery::Model) -> Self {
        Self {
            id: m.id,
            payload: m.payload.to_string(),
            kind: m.kind,
            organization_id: m.organization_id,
            assessment_id: m.assessment_id,
            ordering_key: m.ordering_key,
            target: m.target,
            attempts: m.attempts,
            replay_base: m.replay_base,
            next_attempt_at: m.next_attempt_at,
            first_attempt_at: m.first_attempt_at,
            deadline_at: m.deadline_at,
            lease_expires_at: m.lease_expires_at,
        }
    }
}

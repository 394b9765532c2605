//! Ashby's `assessment.update`, the call we make: its wire shape, building its bodies (plain
//! code) and putting them in the outbox; `client` sends them.
pub mod client;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::delivery::outbox::{self, Kind, NewDelivery};
use crate::entity::{assessment, organization};
use crate::types::AssessmentId;

/// A value in an `assessment.update`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DataBlob {
    pub identifier: String,
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// numeric_score, numeric_duration_minutes, url, string or boolean_success
    #[serde(rename = "type")]
    pub kind: String,
    pub value: serde_json::Value,
}

/// The body of Ashby's `assessment.update`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct UpdateRequest {
    pub assessment_id: Uuid,
    /// Milliseconds since the Unix epoch; strictly increasing per assessment.
    pub timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assessment_status: Option<DataBlob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assessment_result: Option<DataBlob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assessment_profile_url: Option<DataBlob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<DataBlob>>,
}

fn blob(identifier: &str, label: &str, kind: &str, value: serde_json::Value) -> DataBlob {
    DataBlob {
        identifier: identifier.into(),
        label: label.into(),
        description: None,
        kind: kind.into(),
        value,
    }
}

pub fn status(value: &str) -> DataBlob {
    blob("status", "Status", "string", json!(value))
}

/// The next timestamp for an assessment: now, but always after the previous one.
pub fn next_timestamp(now: DateTime<Utc>, previous: Option<i64>) -> i64 {
    let now_ms = now.timestamp_millis();
    match previous {
        Some(p) if p >= now_ms => p + 1,
        _ => now_ms,
    }
}

/// A status-only update (`Invited`, `Started`).
pub fn with_status(assessment_id: AssessmentId, timestamp: i64, value: &str) -> UpdateRequest {
    UpdateRequest {
        assessment_id: assessment_id.into(),
        timestamp,
        assessment_status: Some(status(value)),
        assessment_result: None,
        assessment_profile_url: None,
        cancelled_reason: None,
        metadata: None,
    }
}

/// One competency's score for the metadata.
pub struct CompetencyScore {
    pub key: String,
    pub label: String,
    pub score: i32,
}

/// The completion: status, score, report link, and per-competency scores plus time taken.
pub fn completed(
    assessment_id: AssessmentId,
    timestamp: i64,
    score: i32,
    report_url: &str,
    competencies: Vec<CompetencyScore>,
    minutes_taken: Option<f64>,
) -> UpdateRequest {
    let mut metadata: Vec<DataBlob> = competencies
        .into_iter()
        .map(|c| blob(&c.key, &c.label, "numeric_score", json!(c.score)))
        .collect();
    if let Some(minutes) = minutes_taken {
        metadata.push(blob(
            "duration",
            "Time taken",
            "numeric_duration_minutes",
            json!((minutes * 10.0).round() / 10.0),
        ));
    }
    UpdateRequest {
        assessment_id: assessment_id.into(),
        timestamp,
        assessment_status: Some(status("Completed")),
        assessment_result: Some(blob("score", "Score", "numeric_score", json!(score))),
        assessment_profile_url: Some(blob("report", "Report", "url", json!(report_url))),
        cancelled_reason: None,
        metadata: Some(metadata),
    }
}

/// Marks the assessment cancelled in Ashby (expiry, decline); no status is sent with it.
pub fn cancelled(assessment_id: AssessmentId, timestamp: i64, reason: &str) -> UpdateRequest {
    UpdateRequest {
        assessment_id: assessment_id.into(),
        timestamp,
        assessment_status: None,
        assessment_result: None,
        assessment_profile_url: None,
        cancelled_reason: Some(reason.to_owned()),
        metadata: None,
    }
}

/// Where an organisation's `assessment.update` goes.
pub fn update_url(org: &organization::Model, default_base: &str) -> String {
    let base = org
        .ashby_base_url
        .as_deref()
        .unwrap_or(default_base)
        .trim_end_matches('/');
    format!("{base}/assessment.update")
}

/// Puts the update in the outbox (call inside the transaction of the change) and remembers
/// its timestamp on the assessment. `build` gets the timestamp to use.
///
/// `assessment` must be the row as written (or read) in this same transaction — the callers
/// have just updated it, which also holds its row lock — so its last timestamp is current.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    assessment: &assessment::Model,
    default_base: &str,
    now: DateTime<Utc>,
    build: impl FnOnce(i64) -> UpdateRequest,
) -> Result<(), DbErr> {
    let org = organization::Entity::find_by_id(assessment.organization_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("organization of the assessment".into()))?;
    let timestamp = next_timestamp(now, assessment.ashby_last_update_ms);
    let body = build(timestamp);
    let mut active = assessment.clone().into_active_model();
    active.ashby_last_update_ms = Set(Some(timestamp));
    active.update(db).await?;
    outbox::enqueue(
        db,
        NewDelivery {
            kind: Kind::AshbyUpdate,
            organization_id: Some(org.id),
            assessment_id: Some(assessment.id),
            target: update_url(&org, default_base),
            payload: serde_json::to_value(&body).unwrap_or_default(),
        },
        now,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_strictly_increase() {
        let now = Utc::now();
        let ms = now.timestamp_millis();
        assert_eq!(next_timestamp(now, None), ms);
        assert_eq!(next_timestamp(now, Some(ms - 5)), ms);
        assert_eq!(next_timestamp(now, Some(ms)), ms + 1);
        assert_eq!(next_timestamp(now, Some(ms + 100)), ms + 101);
    }

    #[test]
    fn the_completion_matches_the_protocol_example_shape() {
        let id = Uuid::nil();
        let body = completed(
            id.into(),
            1665684000000,
            87,
            "https://ap.example.com/r/x",
            vec![CompetencyScore {
                key: "driving-leadership".into(),
                label: "Driving Leadership".into(),
                score: 73,
            }],
            Some(14.25),
        );
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "assessment_id": "00000000-0000-0000-0000-000000000000",
                "timestamp": 1665684000000i64,
                "assessment_status": { "identifier": "status", "label": "Status", "type": "string", "value": "Completed" },
                "assessment_result": { "identifier": "score", "label": "Score", "type": "numeric_score", "value": 87 },
                "assessment_profile_url": { "identifier": "report", "label": "Report", "type": "url", "value": "https://ap.example.com/r/x" },
                "metadata": [
                    { "identifier": "driving-leadership", "label": "Driving Leadership", "type": "numeric_score", "value": 73 },
                    { "identifier": "duration", "label": "Time taken", "type": "numeric_duration_minutes", "value": 14.3 }
                ]
            })
        );
    }

    #[test]
    fn a_cancellation_has_a_reason_and_no_status() {
        let json = serde_json::to_value(cancelled(AssessmentId(Uuid::nil()), 5, "Invitation expired")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"assessment_id": Uuid::nil(), "timestamp": 5, "cancelled_reason": "Invitation expired"})
        );
    }
}

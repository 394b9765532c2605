//! Ashby's wire shapes, with their exact field names.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `{ "success": true, "results": … }`
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Success<T> {
    pub success: bool,
    pub results: T,
}

impl<T> Success<T> {
    pub fn new(results: T) -> Self {
        Self { success: true, results }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AssessmentType {
    pub assessment_type_id: Uuid,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ListResponse {
    pub success: bool,
    pub results: Vec<AssessmentType>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
pub struct StartCandidate {
    pub ashby_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub ashby_profile_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
pub struct StartApplication {
    pub ashby_id: String,
    /// Hired, Archived, Active, Lead (others accepted).
    pub status: Option<String>,
}

/// A member of the hiring team: camelCase, as Ashby sends it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HiringTeamMember {
    pub user_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
pub struct StartJob {
    pub ashby_id: String,
    pub name: Option<String>,
    pub ashby_job_url: Option<String>,
    pub req_id: Option<String>,
    #[serde(rename = "hiringTeam", default)]
    pub hiring_team: Vec<HiringTeamMember>,
}

/// The body of `assessment.start`. Unknown fields are ignored.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
pub struct StartRequest {
    pub assessment_type_id: String,
    pub candidate: StartCandidate,
    pub application: StartApplication,
    pub job: StartJob,
    /// Chosen custom field values, keyed by field id; stored as received.
    #[serde(default)]
    pub additional_fields: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct StartResults {
    pub assessment_id: Uuid,
    /// The body of an `assessment.update` call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_request: Option<UpdateRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CancelRequest {
    pub assessment_id: String,
}

/// `{ "message": "…" }`: shown to the Ashby user (422, 409).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserMessage {
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
    #[serde(rename = "requestId")]
    pub request_id: String,
}

/// Ashby's error envelope.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ErrorEnvelope {
    pub success: bool,
    pub errors: Vec<String>,
    #[serde(rename = "errorInfo")]
    pub error_info: ErrorInfo,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomFieldListResponse {
    pub success: bool,
    pub fields: Vec<crate::admin::spec::CustomFieldSpec>,
}

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

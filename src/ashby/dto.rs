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
    #[schema(min_length = 1)]
    pub ashby_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub ashby_profile_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq)]
pub struct StartApplication {
    #[schema(min_length = 1)]
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
    #[schema(min_length = 1)]
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

/// The body of `assessment.list` and `assessment.customField.list`: Ashby sends `{}`; an empty
/// body or `null` is the same, and members are ignored. Anything else is refused (400).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({}))]
pub struct ListRequest {}

/// What `assessment.cancel` answers with HTTP 200: success, or (for an id this organisation
/// does not have) the error envelope with code `assessment_not_found`, as Ashby expects.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CancelAnswer {
    Cancelled(Box<CancelSuccess>),
    NotFound(ErrorEnvelope),
}

/// `{ "success": true, "results": … }` for `assessment.cancel`: the same results as start's.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelSuccess {
    pub success: bool,
    pub results: StartResults,
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
    pub fields: Vec<crate::tenancy::spec::CustomFieldSpec>,
}

pub use crate::delivery::ashby_update::{DataBlob, UpdateRequest};

#[cfg(test)]
mod tests {
    //! Every JSON example of the protocol file, parsed into our types and produced again with
    //! exactly the same keys.
    use super::*;
    use serde_json::json;

    fn round_trip<T: serde::de::DeserializeOwned + Serialize>(example: serde_json::Value) {
        let parsed: T = serde_json::from_value(example.clone()).expect("the example parses");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), example);
    }

    #[test]
    fn list_response() {
        round_trip::<ListResponse>(json!({ "success": true,
            "results": [{ "assessment_type_id": "7922dd91-1b44-43e4-a740-7c4d9c2fba41", "name": "General Performance", "description": "…" }] }));
    }

    #[test]
    fn start_request_with_mixed_casing() {
        let example = json!({ "assessment_type_id": "7922dd91-1b44-43e4-a740-7c4d9c2fba41",
            "candidate": { "ashby_id": "c", "first_name": "Ada", "last_name": "Lovelace",
                           "email": "ada@example.com", "ashby_profile_url": "https://…" },
            "application": { "ashby_id": "a", "status": "Active" },
            "job": { "ashby_id": "j", "name": "Backend Engineer", "ashby_job_url": "https://…",
                     "req_id": "ENG-42",
                     "hiringTeam": [{ "userId": "u", "firstName": "Joey", "lastName": "Joe",
                                      "email": "joey@example.com", "role": "Hiring Manager" }] },
            "additional_fields": { "department": "eng" } });
        round_trip::<StartRequest>(example);
        // req_id and hiringTeam are optional; unknown fields are ignored.
        let minimal: StartRequest = serde_json::from_value(json!({ "assessment_type_id": "x",
            "candidate": { "ashby_id": "c" }, "application": { "ashby_id": "a", "status": "Lead" },
            "job": { "ashby_id": "j" }, "surprise": true }))
        .unwrap();
        assert!(minimal.job.hiring_team.is_empty() && minimal.job.req_id.is_none());
    }

    #[test]
    fn update_request() {
        round_trip::<UpdateRequest>(
            json!({ "assessment_id": "7922dd91-1b44-43e4-a740-7c4d9c2fba41", "timestamp": 1665684000000i64,
            "assessment_status": { "identifier": "status", "label": "Status", "type": "string", "value": "Completed" },
            "assessment_result": { "identifier": "score", "label": "Score", "type": "numeric_score", "value": 87 },
            "assessment_profile_url": { "identifier": "report", "label": "Report", "type": "url", "value": "https://…" },
            "metadata": [{ "identifier": "driving-leadership", "label": "Driving Leadership", "type": "numeric_score", "value": 73 }] }),
        );
    }

    #[test]
    fn envelopes_and_messages() {
        round_trip::<ErrorEnvelope>(json!({ "success": false, "errors": ["assessment_not_found"],
            "errorInfo": { "code": "assessment_not_found", "message": "…", "requestId": "r" } }));
        round_trip::<UserMessage>(json!({ "message": "…" }));
        round_trip::<Success<StartResults>>(json!({ "success": true,
            "results": { "assessment_id": "7922dd91-1b44-43e4-a740-7c4d9c2fba41" } }));
    }

    #[test]
    fn custom_field_list() {
        round_trip::<CustomFieldListResponse>(json!({ "success": true,
            "fields": [{ "id": "department", "name": "Department", "type": "ValueSelect",
                         "possible_values": [{ "key": "eng", "value": "Engineering" }], "isRequired": false }] }));
    }
}

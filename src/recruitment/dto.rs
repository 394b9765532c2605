//! Wire shapes of the Recruitment API, and their parsing into an order.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::error::ApiError;
use crate::extract::Problems;
use crate::types::{Email, ExternalId, HttpUrl, Locale};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigResponse {
    pub available_lenses: Vec<LensSummary>,
    #[schema(example = json!(["en-US", "sv-SE", "nl-NL", "nn-NO"]))]
    pub available_locales: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LensSummary {
    #[schema(example = "7922dd91-1b44-43e4-a740-7c4d9c2fba41")]
    pub id: Uuid,
    #[schema(example = "General Performance")]
    pub name: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct RecruitmentDetails {
    /// The integrator's id of the job; with `lensId` it names the recruitment.
    #[schema(example = "82bd4452-bd16-4227-bce9-f1812a9db6ef", min_length = 1, max_length = 255)]
    pub id: String,
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(example = "Developer", min_length = 1, max_length = 500)]
    pub title: String,
    #[validate(length(max = 10000, message = "must be at most 10000 characters"))]
    #[schema(max_length = 10000)]
    pub description: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CandidateDetails {
    #[schema(example = "candidate@example.com", format = Email, max_length = 254)]
    pub email: String,
}

/// The document's schema for `additionalRecruitmentCollaboratorsEmails`: up to 50 addresses.
fn collaborator_emails() -> utoipa::openapi::Array {
    use utoipa::openapi::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, schema::Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
                .max_length(Some(254)),
        )
        .max_items(Some(50))
        .build()
}

/// The body of both order endpoints. All fields are required.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentOrderRequest {
    #[validate(nested)]
    pub recruitment: RecruitmentDetails,
    /// May be empty.
    #[validate(length(max = 50, message = "at most 50 addresses"))]
    #[schema(schema_with = collaborator_emails)]
    pub additional_recruitment_collaborators_emails: Vec<String>,
    /// Where the result is POSTed: an absolute http(s) URL.
    #[schema(
        example = "https://ats.example.com/api/v1/candidate-results/73273ca0-0253-4d5f-8f91-d39e298bd351",
        pattern = "^[Hh][Tt][Tt][Pp][Ss]?://",
        max_length = 2048
    )]
    pub result_update_url: String,
    /// The integrator's id for this result; an order is idempotent on it, per organisation.
    #[schema(example = "73273ca0-0253-4d5f-8f91-d39e298bd351", min_length = 1, max_length = 255)]
    pub result_id: String,
    #[schema(example = "7922dd91-1b44-43e4-a740-7c4d9c2fba41", format = Uuid)]
    pub lens_id: String,
    #[schema(example = "en-US", pattern = "^[a-z]{2,3}-[A-Z]{2}$")]
    pub locale: String,
    pub candidate_details: CandidateDetails,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentLinkResponse {
    #[schema(example = "https://assessments.example.com/a/eyJhbGciOiJIUzI1NiJ9.e30.sig")]
    pub assessment_package_link: String,
}

pub use crate::assessment::results::ResultBody;

/// Where an order stands, served by `GET /recruitment/v1/results/{resultId}`: the status
/// always, the result's fields (as pushed) once the assessment is completed.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResultStatusBody {
    pub result_id: String,
    pub status: crate::assessment::State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recruitment_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assessment_report_url: Option<String>,
    /// 0..100
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 100, example = 71)]
    pub score: Option<i32>,
    /// Competency display name -> 0..100.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!({"Driving Leadership": 73, "Influencing & Inspiring": 68}))]
    pub subscores: Option<std::collections::BTreeMap<String, i32>>,
}

impl ResultStatusBody {
    pub fn new(result_id: String, status: crate::assessment::State, result: Option<ResultBody>) -> Self {
        match result {
            Some(r) => Self {
                result_id,
                status,
                recruitment_url: Some(r.recruitment_url),
                assessment_report_url: Some(r.assessment_report_url),
                score: Some(r.score),
                subscores: Some(r.subscores),
            },
            None => Self {
                result_id,
                status,
                recruitment_url: None,
                assessment_report_url: None,
                score: None,
                subscores: None,
            },
        }
    }
}

/// How the candidate is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderKind {
    /// We e-mail the invitation.
    Email,
    /// The integrator gets the link and passes it on.
    Link,
}

/// An order whose every field has been parsed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrder {
    pub kind: OrderKind,
    pub recruitment_id: ExternalId,
    pub recruitment_title: String,
    pub recruitment_description: String,
    pub collaborator_emails: Vec<Email>,
    pub result_update_url: HttpUrl,
    pub result_id: ExternalId,
    pub lens_id: Uuid,
    pub locale: Locale,
    pub candidate_email: Email,
}

impl NewOrder {
    /// Turns the request into an order, or a 422 that names every field that is wrong.
    pub fn parse(kind: OrderKind, req: AssessmentOrderRequest) -> Result<Self, ApiError> {
        let mut p = Problems::from_validator(req.validate());
        let recruitment_id = p.check("recruitment.id", ExternalId::parse(&req.recruitment.id));
        let collaborators: Vec<Option<Email>> = req
            .additional_recruitment_collaborators_emails
            .iter()
            .enumerate()
            .map(|(i, e)| {
                p.check(
                    &format!("additionalRecruitmentCollaboratorsEmails[{i}]"),
                    Email::parse(e),
                )
            })
            .collect();
        let result_update_url = p.check("resultUpdateUrl", HttpUrl::parse(&req.result_update_url));
        let result_id = p.check("resultId", ExternalId::parse(&req.result_id));
        let lens_id = p.check("lensId", Uuid::parse_str(&req.lens_id).map_err(|_| "must be a UUID"));
        let locale = p.check("locale", Locale::parse(&req.locale));
        let candidate_email = p.check("candidateDetails.email", Email::parse(&req.candidate_details.email));
        p.finish()?;
        let missing = || ApiError::internal(anyhow::anyhow!("parsed field missing after validation"));
        Ok(NewOrder {
            kind,
            recruitment_id: recruitment_id.ok_or_else(missing)?,
            recruitment_title: req.recruitment.title,
            recruitment_description: req.recruitment.description,
            collaborator_emails: collaborators.into_iter().flatten().collect(),
            result_update_url: result_update_url.ok_or_else(missing)?,
            result_id: result_id.ok_or_else(missing)?,
            lens_id: lens_id.ok_or_else(missing)?,
            locale: locale.ok_or_else(missing)?,
            candidate_email: candidate_email.ok_or_else(missing)?,
        })
    }

    /// A fingerprint of the order as understood: the same order sent again has the same one.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        crate::crypto::sha256_hex(&canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AssessmentOrderRequest {
        serde_json::from_value(serde_json::json!({
            "recruitment": {"id": "r-1", "title": "Developer", "description": ""},
            "additionalRecruitmentCollaboratorsEmails": ["Rec@Example.com"],
            "resultUpdateUrl": "https://ats.example.com/results/1",
            "resultId": "res-1",
            "lensId": "7922dd91-1b44-43e4-a740-7c4d9c2fba41",
            "locale": "en-US",
            "candidateDetails": {"email": "Cand@Example.com"}
        }))
        .unwrap()
    }

    #[test]
    fn parses_and_normalises() {
        let order = NewOrder::parse(OrderKind::Email, request()).unwrap();
        assert_eq!(order.candidate_email.as_str(), "cand@example.com");
        assert_eq!(order.collaborator_emails[0].as_str(), "rec@example.com");
    }

    #[test]
    fn names_every_bad_field() {
        let mut r = request();
        r.locale = "english".into();
        r.result_update_url = "ftp://x".into();
        r.candidate_details.email = "nope".into();
        r.recruitment.title = String::new();
        r.additional_recruitment_collaborators_emails = vec!["ok@x.se".into(), "bad".into()];
        match NewOrder::parse(OrderKind::Email, r) {
            Err(ApiError::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(
                    fields,
                    vec![
                        "additionalRecruitmentCollaboratorsEmails[1]",
                        "candidateDetails.email",
                        "locale",
                        "recruitment.title",
                        "resultUpdateUrl"
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fingerprint_tells_kinds_and_bodies_apart() {
        let a = NewOrder::parse(OrderKind::Email, request()).unwrap();
        let b = NewOrder::parse(OrderKind::Link, request()).unwrap();
        let mut c = request();
        c.locale = "sv-SE".into();
        let c = NewOrder::parse(OrderKind::Email, c).unwrap();
        assert_eq!(
            a.fingerprint(),
            NewOrder::parse(OrderKind::Email, request()).unwrap().fingerprint()
        );
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}

/// Moves a sandbox organisation's order to an outcome at once, as if the candidate had finished,
/// declined or let the invitation expire.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SandboxResultRequest {
    /// The order's `resultId`.
    #[schema(min_length = 1, max_length = 200, example = "r-1")]
    pub result_id: String,
    pub outcome: crate::assessment::sandbox::Outcome,
    /// For `completed`: 0..100. Left out: the lens-weighted mean of the subscores.
    #[schema(minimum = 0, maximum = 100, example = 71)]
    pub score: Option<i32>,
    /// For `completed`: competency key -> 0..100, every competency of the lens and nothing else.
    /// Left out: derived from the `resultId`, the same every time.
    #[schema(example = json!({"driving-leadership": 73, "influencing-inspiring": 68}))]
    pub subscores: Option<std::collections::BTreeMap<String, i32>>,
}

/// Where to send a test push.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResultRequest {
    /// Where to POST the sample result: an absolute http(s) URL, as an order's `resultUpdateUrl`.
    #[schema(
        example = "https://ats.example.com/api/v1/candidate-results",
        pattern = "^[Hh][Tt][Tt][Pp][Ss]?://",
        max_length = 2048
    )]
    pub result_update_url: String,
    /// The lens whose competencies the sample result carries: one this organisation may order.
    /// Default: the organisation's first lens by name.
    pub lens_id: Option<Uuid>,
}

/// What the test push's one attempt found.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResultResponse {
    /// The receiver answered 2xx.
    pub delivered: bool,
    /// The receiver's HTTP status; null when it did not answer.
    pub status: Option<u16>,
    pub duration_ms: u32,
    /// What went wrong, in words; null when delivered.
    pub error: Option<String>,
    /// The first KiB of the receiver's answer.
    #[schema(max_length = 1024)]
    pub response_excerpt: Option<String>,
}

impl From<crate::delivery::test_push::Tried> for TestResultResponse {
    fn from(t: crate::delivery::test_push::Tried) -> Self {
        Self {
            delivered: t.delivered,
            status: t.status,
            duration_ms: t.duration_ms,
            error: t.error,
            response_excerpt: t.response_excerpt,
        }
    }
}

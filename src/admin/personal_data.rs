//! Admin endpoints for personal data and accountability: erasure, export (access and
//! portability), and the audit log of admin writes, which a middleware here records.
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::admin::paging::Paging;
use crate::assessment::personal_data::{self, Subject, SubjectExport};
use crate::audit;
use crate::auth::admin::{Actor, AdminAuth, Scope};
use crate::error::{ApiError, Problem};
use crate::extract::json_body;
use crate::state::AppState;
use crate::types::Email;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(post_erasure)
        .service(get_data_subject)
        .service(list_audit_events);
}

/// Whose data to erase: an address in an organisation, or the person who took an assessment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErasureRequest {
    /// With `email`.
    pub organization_id: Option<Uuid>,
    #[schema(max_length = 254, example = "ada@example.com")]
    pub email: Option<String>,
    /// Instead of `organizationId` and `email`: the person who took this assessment (all their
    /// assessments in its organisation are erased).
    pub assessment_id: Option<Uuid>,
    /// Delete the scores too (default: they stay, for statistics, with nothing that names anyone).
    #[serde(default)]
    pub delete_scores: bool,
}

/// What an erasure removed; all zeros when there was nothing (left) to erase.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErasureResponse {
    /// Quote it to the person; the audit log holds it as the event's target.
    pub erasure_id: Uuid,
    pub candidates: u64,
    pub assessments: u64,
    pub answers: u64,
    pub deliveries_scrubbed: u64,
}

/// What the audit log names as an event's target, when the path does not say.
#[derive(Debug, Clone)]
struct AuditTarget(&'static str, String);

fn subject(request: ErasureRequest) -> Result<Subject, ApiError> {
    match (request.organization_id, request.email, request.assessment_id) {
        (Some(organization_id), Some(email), None) => Ok(Subject::Person {
            organization_id: organization_id.into(),
            email: Email::parse(&email).map_err(|e| ApiError::invalid("email", e))?,
        }),
        (None, None, Some(id)) => Ok(Subject::Assessment(id.into())),
        _ => Err(ApiError::invalid(
            "body",
            "give either organizationId and email, or assessmentId",
        )),
    }
}

/// Erases a person's data (scope `candidates.erase`): their address and names, answers, Ashby
/// ids and additional fields, and every copy in the outbox and its attempt log; their `.eml`
/// files; pending invitations are dropped. The assessments stay, marked erased (with their
/// scores unless `deleteScores`), and their links answer 410. Repeating it answers zeros.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), request_body = ErasureRequest,
    responses((status = 200, body = ErasureResponse)))]
#[post("/admin/v1/erasures")]
#[instrument(skip_all)]
async fn post_erasure(
    state: web::Data<AppState>,
    auth: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::CandidatesErase)?;
    let (_, request): (_, ErasureRequest) = json_body(&req, payload, state.max_body_bytes).await?;
    let delete_scores = request.delete_scores;
    let subject = subject(request)?;
    let erasure_id = Uuid::now_v7();
    req.extensions_mut()
        .insert(AuditTarget("erasure", erasure_id.to_string()));
    let erased = personal_data::erase(
        &state.db,
        &state.mail_outbox_dir,
        &subject,
        delete_scores,
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ErasureResponse {
        erasure_id,
        candidates: erased.candidates,
        assessments: erased.assessments,
        answers: erased.answers,
        deliveries_scrubbed: erased.deliveries_scrubbed,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DataSubjectQuery {
    pub organization_id: Uuid,
    #[param(max_length = 254)]
    pub email: String,
}

/// Everything held about a person in one organisation (scope `candidates.read`): the candidate,
/// every assessment with its answers and scores, and the outgoing calls about them. 404 when
/// nothing is held. Each export is in the audit log.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(DataSubjectQuery),
    responses((status = 200, body = SubjectExport),
        (status = 404, description = "Nothing is held about this address here", body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/data-subjects")]
#[instrument(skip_all)]
async fn get_data_subject(
    state: web::Data<AppState>,
    auth: AdminAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::CandidatesRead)?;
    let query = crate::extract::query::<DataSubjectQuery>(&req)?;
    req.extensions_mut()
        .insert(AuditTarget("organization", query.organization_id.to_string()));
    let email = Email::parse(&query.email).map_err(|e| ApiError::invalid("email", e))?;
    let subject = Subject::Person {
        organization_id: query.organization_id.into(),
        email,
    };
    match personal_data::export(&state.db, &subject).await? {
        Some(export) => Ok(HttpResponse::Ok().json(export)),
        None => Err(ApiError::NotFound(
            "Nothing is held about this address in this organization.".into(),
        )),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only this action, e.g. `erasure`, `integrator.put`.
    pub action: Option<String>,
    /// Events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events before this time.
    pub to: Option<DateTime<Utc>>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// One recorded admin write.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// The admin token's `sub`.
    pub actor: String,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    /// `succeeded`, `refused` (4xx) or `failed` (5xx).
    pub outcome: String,
    pub status: i32,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub items: Vec<AuditEventView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The audit log, oldest first (scope `audit.read`). No call changes or deletes an event.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(AuditFilter),
    responses((status = 200, body = AuditPage)))]
#[get("/admin/v1/audit-events")]
#[instrument(skip_all)]
async fn list_audit_events(
    state: web::Data<AppState>,
    auth: AdminAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::AuditRead)?;
    let filter = crate::extract::query::<AuditFilter>(&req)?;
    let paging = Paging::parse(filter.limit, filter.cursor.as_deref())?;
    crate::admin::paging::check_time_bounds(&[("from", filter.from), ("to", filter.to)])?;
    let rows = audit::list(
        &state.db,
        &audit::Filter {
            action: filter.action,
            from: filter.from,
            to: filter.to,
        },
        paging.cursor(),
        paging.fetch(),
    )
    .await?;
    let (rows, next_cursor) = paging.finish(rows, |e| e.id);
    Ok(HttpResponse::Ok().json(AuditPage {
        items: rows
            .into_iter()
            .map(|e| AuditEventView {
                id: e.id,
                at: e.at,
                actor: e.actor,
                action: e.action,
                target_type: e.target_type,
                target_id: e.target_id,
                request_id: e.request_id,
                outcome: e.outcome,
                status: e.status,
            })
            .collect(),
        next_cursor,
    }))
}

/// (method, route pattern, action, target type of the path's `{id}`): what the audit log calls
/// each admin write, and the export that is audited although it is a read.
const AUDITED: &[(&str, &str, &str, &str)] = &[
    ("PUT", "/admin/v1/lenses/{id}", "lens.put", "lens"),
    ("PUT", "/admin/v1/integrators/{id}", "integrator.put", "integrator"),
    (
        "POST",
        "/admin/v1/integrators/{id}/secret-rotations",
        "integrator.secret-rotation",
        "integrator",
    ),
    (
        "PUT",
        "/admin/v1/organizations/{id}",
        "organization.put",
        "organization",
    ),
    (
        "POST",
        "/admin/v1/organizations/{id}/provider-key-rotations",
        "organization.provider-key-rotation",
        "organization",
    ),
    (
        "POST",
        "/admin/v1/organizations/{id}/ashby-partner-key",
        "organization.partner-key-rotation",
        "organization",
    ),
    (
        "PUT",
        "/admin/v1/organizations/{id}/logo",
        "organization.logo",
        "organization",
    ),
    ("PUT", "/admin/v1/locales", "locales.put", ""),
    (
        "POST",
        "/admin/v1/assessments/{id}/result",
        "assessment.result",
        "assessment",
    ),
    (
        "POST",
        "/admin/v1/deliveries/{id}/replay",
        "delivery.replay",
        "delivery",
    ),
    (
        "POST",
        "/admin/v1/deliveries/{id}/reveal",
        "delivery.reveal",
        "delivery",
    ),
    ("POST", "/admin/v1/erasures", "erasure", ""),
    ("GET", "/admin/v1/data-subjects", "data-subject.export", ""),
];

/// Records every authenticated admin write (and export) in the audit log once it is answered,
/// whatever the answer: the actor, the action, the target, the request id and the outcome. A
/// request that does not authenticate has no actor and is not recorded (the log is not a place
/// anyone can fill). Recording follows the write's own commit; if it fails, that is logged.
pub async fn trail(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let audited = req.path().starts_with("/admin/")
        && (req.method() != actix_web::http::Method::GET || req.path() == "/admin/v1/data-subjects");
    let response = next.call(req).await?;
    if !audited {
        return Ok(response);
    }
    let request = response.request();
    let Some(Actor(actor)) = request.extensions().get::<Actor>().cloned() else {
        return Ok(response);
    };
    let method = request.method().as_str().to_owned();
    let pattern = request.match_pattern().unwrap_or_else(|| request.path().to_owned());
    let known = AUDITED.iter().find(|(m, p, ..)| *m == method && *p == pattern);
    let (action, mut target_type) = match known {
        Some((_, _, action, target)) => ((*action).to_owned(), Some(*target).filter(|t| !t.is_empty())),
        None => (format!("{method} {pattern}"), None),
    };
    let mut target_id = target_type.and_then(|_| request.match_info().get("id").map(str::to_owned));
    if let Some(AuditTarget(kind, id)) = request.extensions().get::<AuditTarget>().cloned() {
        target_type = Some(kind);
        target_id = Some(id);
    }
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(response);
    };
    let event = audit::Event {
        actor,
        action,
        target_type,
        target_id,
        request_id: crate::telemetry::current_request_id(),
        status: response.status().as_u16(),
    };
    if let Err(e) = audit::record(&state.db, event, state.clock.now()).await {
        tracing::error!(error = %e, "could not record an audit event");
    }
    Ok(response)
}

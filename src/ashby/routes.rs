//! The endpoints Ashby calls, under `/ashby`. RPC style: every call is a POST with JSON.
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, post, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::de::DeserializeOwned;
use tracing::instrument;

use crate::ashby::auth::authenticate;
use crate::ashby::dto::*;
use crate::ashby::error::AshbyError;
use crate::ashby::start::{CancelError, StartContext, StartError, cancel, start};
use crate::entity::{lens, organization_lens};
use crate::extract::{JsonRefusal, decode_json, read_body};
use crate::ratelimit;
use crate::state::AppState;

/// The Ashby endpoints' rate limits (`ratelimit::guard`), refused in Ashby's error envelope.
pub async fn throttle(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    ratelimit::guard(req, next, "/ashby/", |verdict| {
        AshbyError::rate_limited(verdict).error_response()
    })
    .await
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(start_assessment)
        .service(cancel_assessment)
        .service(custom_fields);
}

impl From<StartError> for AshbyError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Fixable(m) => AshbyError::Fixable(m),
            StartError::Conflict(m) => AshbyError::Conflict(m),
            StartError::Db(e) => AshbyError::internal(e),
        }
    }
}

/// Reads the JSON body; `{}`, `null` and an empty body are the same for the list calls. Broken JSON or
/// a body of the wrong shape is a bad request; a NUL character in a string is 422 naming the
/// field, as on the other surfaces.
async fn body<T: DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, AshbyError> {
    let bytes = read_body(req, payload, state.max_body_bytes)
        .await
        .map_err(|e| AshbyError::BadRequest(e.to_problem().detail))?;
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &bytes
    };
    decode_json(bytes).map_err(|refusal| match refusal {
        JsonRefusal::Syntax(detail) => AshbyError::BadRequest(detail),
        JsonRefusal::Shape { field, message } if field.is_empty() => AshbyError::BadRequest(message),
        JsonRefusal::Shape { field, message } => AshbyError::BadRequest(format!("{field}: {message}")),
        JsonRefusal::Nul { field } => AshbyError::Fixable(format!("{field} {}", JsonRefusal::NUL_MESSAGE)),
    })
}

/// The assessment types (one per lens) this organisation offers.
#[utoipa::path(
    tag = "ashby",
    path = "/ashby/assessment.list",
    operation_id = "ashby_assessment_list",
    security(("ashby_partner_key" = [])),
    request_body = Option<ListRequest>,
    responses((status = 200, body = ListResponse))
)]
#[post("/ashby/assessment.list")]
#[instrument(skip_all)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AshbyError> {
    let org = authenticate(&state, &req).await?;
    let _: Option<serde_json::Map<String, serde_json::Value>> = body(&state, &req, payload).await?;
    let ids: Vec<uuid::Uuid> = organization_lens::Entity::find()
        .filter(organization_lens::Column::OrganizationId.eq(org.id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|l| l.lens_id)
        .collect();
    let lenses = lens::Entity::find()
        .filter(lens::Column::Id.is_in(ids))
        .order_by_asc(lens::Column::Name)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(ListResponse {
        success: true,
        results: lenses
            .into_iter()
            .map(|l| AssessmentType {
                assessment_type_id: l.id,
                name: l.name,
                description: l.description,
            })
            .collect(),
    }))
}

/// Starts an assessment: the candidate is invited by e-mail. A repeat for the same application
/// and type while it is open answers the same `assessment_id`.
#[utoipa::path(
    tag = "ashby",
    path = "/ashby/assessment.start",
    operation_id = "ashby_assessment_start",
    security(("ashby_partner_key" = [])),
    request_body = StartRequest,
    responses(
        (status = 200, body = inline(Success<StartResults>)),
        (status = 409, description = "The candidate is already being assessed with this type from another application", body = UserMessage),
        (status = 422, description = "Something a recruiter can fix; the message is shown in Ashby", body = UserMessage),
    )
)]
#[post("/ashby/assessment.start")]
#[instrument(skip_all)]
pub(crate) async fn start_assessment(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AshbyError> {
    let org = authenticate(&state, &req).await?;
    let request: StartRequest = body(&state, &req, payload).await.map_err(|e| match e {
        AshbyError::BadRequest(e) => AshbyError::Fixable(format!(
            "Ashby's request could not be read ({e}). Try again, or contact support."
        )),
        other => other,
    })?;
    let ctx = StartContext {
        links: &state.links,
        invitations: &state.invitations,
        now: state.clock.now(),
    };
    let started = start(&state.db, &org, &request, &ctx).await?;
    if started.enqueued {
        state.wake_worker();
    }
    tracing::info!(assessment_id = %started.assessment.id, created = started.created, "ashby assessment started");
    Ok(HttpResponse::Ok().json(Success::new(StartResults {
        assessment_id: started.assessment.id.into(),
        update_request: Some(started.update),
    })))
}

/// Cancels an assessment. Idempotent: cancelled or completed already is success too.
#[utoipa::path(
    tag = "ashby",
    path = "/ashby/assessment.cancel",
    operation_id = "ashby_assessment_cancel",
    security(("ashby_partner_key" = [])),
    request_body(content = CancelRequest, example = json!({"assessment_id": "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"})),
    responses((status = 200, description = "Success, or the error envelope with code `assessment_not_found`", body = CancelAnswer))
)]
#[post("/ashby/assessment.cancel")]
#[instrument(skip_all)]
pub(crate) async fn cancel_assessment(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AshbyError> {
    let org = authenticate(&state, &req).await?;
    let request: CancelRequest = body(&state, &req, payload).await?;
    let cancelled = cancel(&state.db, &org, &request.assessment_id, state.clock.now())
        .await
        .map_err(|e| match e {
            CancelError::NotFound => AshbyError::Application {
                code: "assessment_not_found",
                message: format!("No assessment {} for this organization.", request.assessment_id),
            },
            CancelError::Db(e) => AshbyError::internal(e),
        })?;
    tracing::info!(assessment_id = %cancelled.id, state = %cancelled.state, "ashby cancel");
    Ok(HttpResponse::Ok().json(Success::new(StartResults {
        assessment_id: cancelled.id.into(),
        update_request: None,
    })))
}

/// The custom fields this organisation offers (an empty list unless configured).
#[utoipa::path(
    tag = "ashby",
    path = "/ashby/assessment.customField.list",
    operation_id = "ashby_assessment_custom_field_list",
    security(("ashby_partner_key" = [])),
    request_body = Option<ListRequest>,
    responses((status = 200, body = CustomFieldListResponse))
)]
#[post("/ashby/assessment.customField.list")]
#[instrument(skip_all)]
pub(crate) async fn custom_fields(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AshbyError> {
    let org = authenticate(&state, &req).await?;
    let _: Option<serde_json::Map<String, serde_json::Value>> = body(&state, &req, payload).await?;
    let fields = org
        .ashby_custom_fields
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(CustomFieldListResponse { success: true, fields }))
}

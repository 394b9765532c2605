//! HTTP handlers of the Recruitment API. Thin: authenticate, parse, call the domain, map errors.
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;

use crate::assessment::results::result_body;
use crate::assessment::sandbox::{self, Drive, SandboxError};
use crate::auth::provider::{Caller, SIGNATURE_HEADER, authenticate};
use crate::auth::replay::{self, Acceptance};
use crate::delivery::test_push::{self, TestPush};
use crate::entity::{assessment, lens};
use crate::error::{ApiError, FieldError, Problem};
use crate::extract::{parse_json, read_body, require_json_content_type};
use crate::links::LinkKind;
use crate::ratelimit;
use crate::recruitment::dto::{
    AssessmentLinkResponse, AssessmentOrderRequest, ConfigResponse, LensSummary, NewOrder, OrderKind, ResultStatusBody,
    SandboxResultRequest, TestResultRequest, TestResultResponse,
};
use crate::recruitment::orders::{OrderContext, OrderError, Placed, prepare};
use crate::recruitment::writer::OrderWriter;
use crate::signature::SignatureHeader;
use crate::state::AppState;
use crate::types::{ExternalId, HttpUrl};

/// The Recruitment API's rate limits (`ratelimit::guard`), refused in problem+json.
pub async fn throttle(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    ratelimit::guard(req, next, "/recruitment/", |verdict| {
        ApiError::rate_limited(verdict).error_response()
    })
    .await
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_config)
        .service(post_assessment_order)
        .service(post_assessment_link_order)
        .service(get_result)
        .service(post_sandbox_result)
        .service(post_test_result);
}

impl From<SandboxError> for ApiError {
    fn from(e: SandboxError) -> Self {
        match e {
            SandboxError::NotSandbox => ApiError::Forbidden(
                "This organization is not a sandbox; only a sandbox organization's orders can be moved to an outcome."
                    .into(),
            ),
            SandboxError::NotFound => ApiError::NotFound("This organisation has no order with that resultId.".into()),
            SandboxError::Finished(state) => {
                ApiError::Conflict(format!("The assessment is {state} already and cannot change."))
            }
            SandboxError::Completion(e) => e.into(),
            SandboxError::Db(e) => ApiError::internal(e),
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::UnknownLens(id) => {
                ApiError::NotFound(format!("Lens {id} is not available to this organization."))
            }
            OrderError::UnknownLocale(l) => ApiError::Validation(vec![FieldError::new(
                "locale",
                format!("'{l}' is not one of the offered locales (see GET /recruitment/v1/config)"),
            )]),
            OrderError::ResultIdConflict(id) => {
                ApiError::Conflict(format!("resultId '{id}' was already used for a different order."))
            }
            OrderError::CandidateAlreadyInRecruitment(email) => {
                ApiError::Conflict(format!("{email} already has an assessment in this recruitment."))
            }
            stopped @ OrderError::WriterStopped => ApiError::internal(stopped),
            OrderError::Db(e) => ApiError::internal(e),
        }
    }
}

/// An authenticated call that acts each time it is accepted (the test push, sandbox results):
/// its caller and its JSON body. A signed one is accepted once: the same signature again is a
/// replay, 401 (`auth::replay`).
async fn signed_once_json<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Caller, T), ApiError> {
    let body = read_body(req, payload, state.max_body_bytes).await?;
    let caller = authenticate(state, req, &body).await?;
    let timestamp = req
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| SignatureHeader::parse(h).ok())
        .map(|h| h.timestamp);
    if let Some(timestamp) = timestamp {
        let seen = replay::accept_once(
            &state.db,
            caller.organization.id,
            timestamp,
            &body,
            state.signature_tolerance,
        )
        .await?;
        if seen == Acceptance::Replayed {
            return Err(ApiError::Unauthorized(
                "Signature: replayed; this request was accepted before. Sign it again with a new timestamp to repeat it."
                    .into(),
            ));
        }
    }
    require_json_content_type(req)?;
    Ok((caller, parse_json(&body)?))
}

/// Lenses and locales this organisation may order.
#[utoipa::path(
    tag = "recruitment",
    security(("provider_key" = [], "signature" = [])),
    responses(
        (status = 200, description = "What this organisation may order", body = ConfigResponse),
        (status = 401, description = "Missing or unknown provider-key, or a bad signature", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/recruitment/v1/config")]
#[instrument(skip_all)]
async fn get_config(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let caller = authenticate(&state, &req, &body).await?;
    let lenses = lens::Entity::find()
        .filter(lens::Column::Id.is_in(caller.offer.lenses.iter().copied()))
        .order_by_asc(lens::Column::Name)
        .all(&state.db)
        .await?;
    let mut locales: Vec<&String> = caller.offer.locales.iter().collect();
    locales.sort();
    Ok(HttpResponse::Ok().json(ConfigResponse {
        available_lenses: lenses
            .into_iter()
            .map(|l| LensSummary { id: l.id, name: l.name })
            .collect(),
        available_locales: locales.into_iter().cloned().collect(),
    }))
}

async fn order(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    kind: OrderKind,
) -> Result<(Caller, Placed), ApiError> {
    let body = read_body(req, payload, state.max_body_bytes).await?;
    let caller = authenticate(state, req, &body).await?;
    if kind == OrderKind::Link && !caller.integrator.link_orders_allowed {
        return Err(ApiError::Forbidden(
            "This integrator is not authorised to order assessment links.".into(),
        ));
    }
    require_json_content_type(req)?;
    let request: AssessmentOrderRequest = parse_json(&body)?;
    let order = NewOrder::parse(kind, request)?;
    if let Err(reason) = state.targets().check(order.result_update_url.as_str()) {
        return Err(ApiError::invalid("resultUpdateUrl", reason));
    }
    let brand = crate::tenancy::branding::Brand::of(&caller.organization);
    let ctx = OrderContext {
        links: &state.links,
        organization_name: &brand.name,
        logo_path: brand.logo_path.as_deref(),
        offer: &caller.offer,
        sandbox: caller.organization.sandbox,
    };
    let prepared = prepare(
        caller.organization.id,
        &order,
        state.clock.now(),
        &state.invitations,
        &ctx,
    )?;
    // The writer wakes the worker (or hands it the invitation) after the commit.
    let orders = req
        .app_data::<web::Data<OrderWriter>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the order writer is not registered")))?;
    let placed = orders.place(prepared).await?;
    tracing::info!(
        assessment_id = %placed.assessment.id,
        created = placed.created,
        "assessment order placed"
    );
    Ok((caller, placed))
}

fn created_or_ok(placed: &Placed) -> actix_web::HttpResponseBuilder {
    if placed.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
}

/// Orders an assessment; the candidate is invited by e-mail in the order's locale.
///
/// Idempotent on `resultId` per organisation: the same order again answers 200 with the same
/// id and nothing is done twice; the same `resultId` with a different body is 409.
#[utoipa::path(
    tag = "recruitment",
    security(("provider_key" = [], "signature" = [])),
    request_body = AssessmentOrderRequest,
    responses(
        (status = 201, description = "Created; the body is the assessment id (a JSON string)", body = String, content_type = "application/json", example = json!("0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b")),
        (status = 200, description = "The same order was placed before; the body is its assessment id", body = String, content_type = "application/json"),
        (status = 400, description = "The body is not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown provider-key, or a bad signature", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The lens is not available to this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "resultId reused for a different order, or the candidate already has an assessment in this recruitment", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid; `errors` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/recruitment/v1/assessment-order")]
#[instrument(skip_all)]
async fn post_assessment_order(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (_, placed) = order(&state, &req, payload, OrderKind::Email).await?;
    Ok(created_or_ok(&placed).json(placed.assessment.id.to_string()))
}

/// Orders an assessment and returns the candidate's link instead of e-mailing it.
///
/// Same body and idempotency as `assessment-order`. 409 when the candidate's e-mail already has
/// an assessment in that recruitment.
#[utoipa::path(
    tag = "recruitment",
    security(("provider_key" = [], "signature" = [])),
    request_body = AssessmentOrderRequest,
    responses(
        (status = 201, description = "Created", body = AssessmentLinkResponse),
        (status = 200, description = "The same order was placed before; the same link", body = AssessmentLinkResponse),
        (status = 400, description = "The body is not valid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown provider-key, or a bad signature", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "This integrator may not order links", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The lens is not available to this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "resultId reused, or the candidate already has an assessment in this recruitment", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid; `errors` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/recruitment/v1/assessment-link-order")]
#[instrument(skip_all)]
async fn post_assessment_link_order(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (_, placed) = order(&state, &req, payload, OrderKind::Link).await?;
    let a = &placed.assessment;
    let link = state.links.url(LinkKind::Assessment, a.id.into(), a.expires_at);
    Ok(created_or_ok(&placed).json(AssessmentLinkResponse {
        assessment_package_link: link,
    }))
}

/// Where an order stands, for an integrator whose endpoint missed a push: `status` always
/// (`invited`, `started`, `completed`, `declined`, `expired` or `cancelled`), the result's
/// fields once completed. 404 only for a `resultId` this organisation never ordered.
#[utoipa::path(
    tag = "recruitment",
    security(("provider_key" = [], "signature" = [])),
    params(("resultId" = String, Path, description = "The resultId given with the order")),
    responses(
        (status = 200, description = "The order's status, and the result (as pushed) once completed", body = ResultStatusBody),
        (status = 401, description = "Missing or unknown provider-key, or a bad signature", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order for this organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/recruitment/v1/results/{resultId}")]
#[instrument(skip_all)]
async fn get_result(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let caller = authenticate(&state, &req, &body).await?;
    let result_id = path.into_inner();
    let not_found = || ApiError::NotFound(format!("This organisation has no order with resultId '{result_id}'."));
    // An id no order could carry (control characters, NUL among them) is unknown, not an error.
    if ExternalId::parse(&result_id).is_err() {
        return Err(not_found());
    }
    let a = assessment::Entity::find()
        .filter(assessment::Column::OrganizationId.eq(caller.organization.id))
        .filter(assessment::Column::ResultId.eq(result_id.as_str()))
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    if a.erased_at.is_some() {
        return Err(ApiError::Gone(
            "The candidate's data in this order has been erased at their request or by the retention period.".into(),
        ));
    }
    let status = a.state;
    let result = result_body(&state.db, &state.links, &a, state.links.report_ttl()).await?;
    Ok(HttpResponse::Ok().json(ResultStatusBody::new(result_id, status, result)))
}

/// Moves an order of a sandbox organisation to an outcome at once (`completed` with the given or
/// derived scores, `declined` or `expired`); the result push (and status push) follows through
/// the outbox as for a real candidate. For trying an integration before real candidates.
#[utoipa::path(
    tag = "recruitment",
    security(("provider_key" = [], "signature" = [])),
    request_body = SandboxResultRequest,
    responses(
        (status = 202, description = "Done; the push follows. The order's status, and the result once completed", body = ResultStatusBody),
        (status = 401, description = "Missing or unknown provider-key, a bad signature, or a replay of an accepted one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The organisation is not a sandbox; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order for this organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The assessment is finished otherwise, or has another result", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid (the subscores must be the lens's competencies); `errors` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/recruitment/v1/sandbox/results")]
#[instrument(skip_all)]
async fn post_sandbox_result(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (caller, request): (_, SandboxResultRequest) = signed_once_json(&state, &req, payload).await?;
    if ExternalId::parse(&request.result_id).is_err() {
        return Err(SandboxError::NotFound.into());
    }
    let driven = sandbox::drive(
        &state.db,
        &state.completion(),
        &caller.organization,
        Drive {
            result_id: &request.result_id,
            outcome: request.outcome,
            score: request.score,
            subscores: request.subscores,
        },
        state.clock.now(),
    )
    .await?;
    if driven.enqueued {
        state.wake_worker();
    }
    let a = &driven.assessment;
    tracing::info!(assessment_id = %a.id, state = %a.state, "sandbox outcome applied");
    let result = result_body(&state.db, &state.links, a, state.links.report_ttl()).await?;
    Ok(HttpResponse::Accepted().json(ResultStatusBody::new(request.result_id, a.state, result)))
}

/// How much longer than one attempt (`AP_DELIVERY_TIMEOUT`) a test push waits for the worker.
const TEST_PUSH_SLACK: std::time::Duration = std::time::Duration::from_secs(5);

/// Sends a sample result to `resultUpdateUrl` now, exactly as a real push is sent (signature
/// with every live secret, callback auth, `Idempotency-Key`), with `resultId` `test-<uuid>` and
/// `Test-Delivery: true`, and answers what the receiver did. One attempt, never retried; it is
/// in the delivery log as kind `test_push`.
#[utoipa::path(
    tag = "recruitment",
    security(("provider_key" = [], "signature" = [])),
    request_body = TestResultRequest,
    responses(
        (status = 200, description = "The attempt was made; what the receiver answered", body = TestResultResponse),
        (status = 401, description = "Missing or unknown provider-key, a bad signature, or a replay of an accepted one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`lensId` names a lens this organisation may not order; nothing was sent", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`resultUpdateUrl` is not an http(s) URL, or points where pushes may not go (private networks); nothing was sent", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "This instance sends nothing (started with `--no-worker`), or its worker made no attempt in time; nothing was sent", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/recruitment/v1/test-result")]
#[instrument(skip_all)]
async fn post_test_result(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (caller, request): (_, TestResultRequest) = signed_once_json(&state, &req, payload).await?;
    let url = HttpUrl::parse(&request.result_update_url).map_err(|e| ApiError::invalid("resultUpdateUrl", e))?;
    state
        .targets()
        .check(url.as_str())
        .map_err(|reason| ApiError::invalid("resultUpdateUrl", reason))?;
    let Some(handoff) = state.handoff.as_ref() else {
        return Err(ApiError::Unavailable(
            "This instance runs no delivery worker, so it cannot make a test push; send it to one that does.".into(),
        ));
    };
    let now = state.clock.now();
    let lens = match request.lens_id {
        Some(lens) if caller.offer.lenses.contains(&lens) => Some(lens),
        Some(_) => {
            return Err(ApiError::NotFound(
                "lensId: this organisation may not order that lens.".into(),
            ));
        }
        None => sandbox::first_lens_by_name(&state.db, &caller.offer.lenses).await?,
    };
    let sample = sandbox::sample_result(&state.db, &state.links, lens, now).await?;
    let tried = test_push::send_and_wait(
        &state.db,
        handoff,
        &state.wake,
        TestPush {
            organization_id: caller.organization.id,
            url: url.as_str().to_owned(),
            payload: serde_json::to_value(&sample).map_err(ApiError::internal)?,
        },
        now,
        state.delivery_timeout + TEST_PUSH_SLACK,
    )
    .await?
    .ok_or_else(|| {
        ApiError::Unavailable(
            "The delivery worker made no attempt in time (it is busy); nothing was sent. Try again.".into(),
        )
    })?;
    tracing::info!(delivered = tried.delivered, status = tried.status, "test push made");
    Ok(HttpResponse::Ok().json(TestResultResponse::from(tried)))
}

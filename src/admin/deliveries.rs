//! Admin endpoints of the delivery engine: results in, the outbox out (list, one, replay).
use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::admin::paging::Paging;
use crate::assessment::completion::{CompletionError, NewResult, complete};
use crate::auth::admin::{AdminAuth, Scope};
use crate::delivery::gate::TargetBoard;
use crate::delivery::inspect::{self, Inspected, Replay};
use crate::delivery::outbox::{DeliveryState, Kind};
use crate::delivery::{dead, redact};
use crate::entity::{delivery, delivery_attempt};
use crate::error::{ApiError, FieldError, Problem};
use crate::extract::{Problems, json_body};
use crate::schema::string_enum;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(post_result)
        .service(list_deliveries)
        .service(get_delivery)
        .service(replay_delivery)
        .service(reveal_delivery)
        .service(list_targets);
}

/// A result from an external scoring engine.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultInput {
    /// Overall score, 0..100.
    #[validate(range(min = 0, max = 100, message = "must be 0 to 100"))]
    #[schema(example = 71)]
    pub score: i32,
    /// Competency key -> 0..100; exactly the lens's competencies.
    #[schema(example = json!({"driving-leadership": 73, "influencing-inspiring": 68}))]
    pub subscores: BTreeMap<String, i32>,
    /// When the candidate finished; now when left out.
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultRecorded {
    pub assessment_id: Uuid,
    pub state: crate::assessment::State,
    /// False when this exact result had been recorded before.
    pub changed: bool,
}

impl From<CompletionError> for ApiError {
    fn from(e: CompletionError) -> Self {
        match e {
            CompletionError::NotFound => ApiError::NotFound("No such assessment.".into()),
            CompletionError::Invalid(problems) => {
                ApiError::Validation(problems.into_iter().map(|(f, m)| FieldError::new(f, m)).collect())
            }
            CompletionError::Finished(state) => ApiError::Conflict(format!(
                "The assessment is {state}; a finished assessment never changes."
            )),
            CompletionError::DifferentResult => {
                ApiError::Conflict("The assessment already has a different result.".into())
            }
            CompletionError::Db(e) => ApiError::internal(e),
        }
    }
}

/// Records the result of an assessment (scope `results.write`): completes it and enqueues the
/// result push in one transaction. The same result again is a no-op; a different one is 409.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)), request_body = ResultInput,
    responses((status = 200, body = ResultRecorded),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Finished already, or a different result", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/admin/v1/assessments/{id}/result")]
#[instrument(skip_all, fields(assessment_id = %path))]
async fn post_result(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::ResultsWrite)?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::invalid("id", "must be a UUID"))?;
    let (_, input): (_, ResultInput) = json_body(&req, payload, state.max_body_bytes).await?;
    Problems::from_validator(input.validate()).finish()?;
    let result = NewResult {
        score: input.score,
        subscores: input.subscores,
        completed_at: input.completed_at,
    };
    let done = complete(
        &state.db,
        &state.completion(),
        id.into(),
        None,
        &result,
        state.clock.now(),
    )
    .await?;
    if done.enqueued {
        state.wake_worker();
    }
    Ok(HttpResponse::Ok().json(ResultRecorded {
        assessment_id: done.assessment.id.into(),
        state: crate::assessment::State::Completed,
        changed: done.changed,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    #[param(schema_with = delivery_states)]
    pub state: Option<String>,
    #[param(schema_with = delivery_kinds)]
    pub kind: Option<String>,
    pub organization_id: Option<Uuid>,
    pub assessment_id: Option<Uuid>,
    /// Default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// `nextCursor` of the previous page
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

/// `a, b or c`: the message for a value that must be one of `values`.
fn one_of(values: &[&str]) -> String {
    match values.split_last() {
        Some((last, [])) => format!("must be {last}"),
        Some((last, rest)) => format!("must be {} or {last}", rest.join(", ")),
        None => "must not be given".to_owned(),
    }
}

/// The document's schema for `state`: the outbox's states.
fn delivery_states() -> utoipa::openapi::Object {
    string_enum(DeliveryState::ALL.map(DeliveryState::as_str))
}

/// The document's schema for `kind`: the outbox's kinds.
fn delivery_kinds() -> utoipa::openapi::Object {
    string_enum(Kind::ALL.map(Kind::as_str))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// Also the `Idempotency-Key` of every attempt.
    pub id: Uuid,
    pub kind: String,
    pub organization_id: Option<Uuid>,
    pub assessment_id: Option<Uuid>,
    pub target: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the answering instance's worker has paused this row's target (a `Retry-After`, or
    /// its circuit breaker): until when, and why. Each instance keeps its own pauses.
    pub target_paused_until: Option<DateTime<Utc>>,
    pub target_pause_reason: Option<String>,
    /// Why a dead delivery is dead, in words: `the receiver answered 410 Gone`, `no answer
    /// before the deadline after 9 attempts`, `erased`…; absent unless dead.
    #[schema(example = "the receiver answered 410 Gone")]
    pub dead_reason: Option<String>,
}

impl DeliveryView {
    /// With the pause of its target, as this instance's worker knows it.
    fn with_pause(mut self, board: &TargetBoard, now: DateTime<Utc>) -> Self {
        if let Some((until, reason)) = board.pause_of(&self.target, now) {
            self.target_paused_until = Some(until);
            self.target_pause_reason = Some(reason.as_str().to_owned());
        }
        self
    }
}

impl DeliveryView {
    /// The row as shown, with its attempt log (to tell why it is dead).
    fn of(d: delivery::Model, attempts: &[delivery_attempt::Model]) -> Self {
        Self {
            dead_reason: dead::reason(&d, attempts),
            id: d.id,
            kind: d.kind.as_str().to_owned(),
            organization_id: d.organization_id.map(Into::into),
            assessment_id: d.assessment_id.map(Into::into),
            target: d.target,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            first_attempt_at: d.first_attempt_at,
            deadline_at: d.deadline_at,
            last_status: d.last_status,
            last_error: d.last_error,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
            target_paused_until: None,
            target_pause_reason: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt_no: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub status_code: Option<i32>,
    /// delivered, retry or dead
    pub outcome: String,
    pub error: Option<String>,
    /// At most 4 KiB of the response body.
    pub response_excerpt: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryView,
    /// The stored body (for e-mails: recipient, subject and text).
    pub payload: serde_json::Value,
    pub attempt_log: Vec<AttemptView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}

/// The outbox, oldest first (scope `deliveries.read`). Report, candidate and recruitment links
/// in errors are redacted.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(DeliveryFilter),
    responses((status = 200, body = DeliveryPage), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/deliveries")]
#[instrument(skip_all)]
async fn list_deliveries(
    state: web::Data<AppState>,
    auth: AdminAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::DeliveriesRead)?;
    let filter = crate::extract::query::<DeliveryFilter>(&req)?;
    let paging = Paging::parse(filter.limit, filter.cursor.as_deref())?;
    let state_filter = filter
        .state
        .as_deref()
        .map(|s| {
            DeliveryState::parse(s)
                .ok_or_else(|| ApiError::invalid("state", one_of(&DeliveryState::ALL.map(DeliveryState::as_str))))
        })
        .transpose()?;
    let kind = filter
        .kind
        .as_deref()
        .map(|k| Kind::parse(k).ok_or_else(|| ApiError::invalid("kind", one_of(&Kind::ALL.map(Kind::as_str)))))
        .transpose()?;
    let wanted = inspect::Filter {
        state: state_filter,
        kind,
        organization_id: filter.organization_id.map(Into::into),
        assessment_id: filter.assessment_id.map(Into::into),
    };
    let rows = inspect::list(&state.db, &wanted, paging.cursor(), paging.fetch()).await?;
    let (rows, next_cursor) = paging.finish(rows, |d| d.id);
    let dead: Vec<Uuid> = rows
        .iter()
        .filter(|d| d.state == DeliveryState::Dead)
        .map(|d| d.id)
        .collect();
    let mut attempts = inspect::attempts_of(&state.db, &dead).await?;
    Ok(HttpResponse::Ok().json(DeliveryPage {
        items: rows
            .into_iter()
            .map(|row| {
                let found = redact::inspected(
                    Inspected {
                        attempts: attempts.remove(&row.id).unwrap_or_default(),
                        delivery: row,
                    },
                    &state.public_url,
                );
                DeliveryView::of(found.delivery, &found.attempts).with_pause(&state.delivery_targets, state.clock.now())
            })
            .collect(),
        next_cursor,
    }))
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::invalid("id", "must be a UUID"))
}

/// How a row's links are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Links {
    Redacted,
    /// Whole: only the audited reveal.
    Revealed,
}

async fn detail(state: &AppState, id: Uuid, links: Links) -> Result<DeliveryDetail, ApiError> {
    let mut found = inspect::one(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No delivery {id}.")))?;
    if links == Links::Redacted {
        found = redact::inspected(found, &state.public_url);
    }
    Ok(DeliveryDetail {
        payload: found.delivery.payload.clone(),
        delivery: DeliveryView::of(found.delivery, &found.attempts)
            .with_pause(&state.delivery_targets, state.clock.now()),
        attempt_log: found
            .attempts
            .into_iter()
            .map(|a| AttemptView {
                attempt_no: a.attempt_no,
                started_at: a.started_at,
                duration_ms: a.duration_ms,
                status_code: a.status_code,
                outcome: a.outcome,
                error: a.error,
                response_excerpt: a.response_excerpt,
            })
            .collect(),
    })
}

/// One delivery target (scheme, host and port) as the answering instance's worker sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetView {
    #[schema(example = "https://ats.example.com:443")]
    pub target: String,
    /// Attempts in flight to it from this instance (at most `AP_DELIVERY_CONCURRENCY_PER_TARGET`).
    pub in_flight: usize,
    /// Rows waiting in this instance's memory for a place.
    pub waiting: usize,
    /// Paused until then: no attempt begins before, except a row's last one at its deadline.
    pub paused_until: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
    /// `closed`, `open` (paused after attempts in a row without an answer) or `half-open` (one
    /// probe at a time until an answer).
    #[schema(example = "closed")]
    pub breaker: String,
    /// Attempts in a row that got no answer (refused, timed out).
    pub consecutive_failures: u32,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetList {
    /// Targets with something to show: attempts in flight, rows waiting, a pause or failures.
    pub items: Vec<TargetView>,
}

/// The delivery targets this instance's worker is pacing (scope `deliveries.read`): places in
/// use, pauses and circuit breakers. Each instance paces on its own; an instance without a
/// worker shows none.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])),
    responses((status = 200, body = TargetList)))]
#[get("/admin/v1/delivery-targets")]
#[instrument(skip_all)]
async fn list_targets(state: web::Data<AppState>, auth: AdminAuth) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::DeliveriesRead)?;
    let now = state.clock.now();
    let items = state
        .delivery_targets
        .snapshot()
        .into_iter()
        .map(|s| {
            let paused = s.paused_until.filter(|u| *u > now);
            TargetView {
                target: s.target.to_string(),
                in_flight: s.in_flight,
                waiting: s.waiting,
                paused_until: paused,
                pause_reason: paused.and(s.reason).map(|r| r.as_str().to_owned()),
                breaker: s.breaker.to_owned(),
                consecutive_failures: s.consecutive_failures,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(TargetList { items }))
}

/// One delivery with its attempts (scope `deliveries.read`). Report, candidate and recruitment
/// links in its payload, errors and answer excerpts are redacted (`/r/[redacted]`); `reveal`
/// shows them.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/deliveries/{id}")]
#[instrument(skip_all, fields(delivery_id = %path))]
async fn get_delivery(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::DeliveriesRead)?;
    Ok(HttpResponse::Ok().json(detail(&state, parse_id(&path)?, Links::Redacted).await?))
}

/// One delivery with its links whole (scope `deliveries.write`): the bearer links its payload
/// and answers carry, as the worker sends them. Every reveal is recorded in the audit log.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[post("/admin/v1/deliveries/{id}/reveal")]
#[instrument(skip_all, fields(delivery_id = %path))]
async fn reveal_delivery(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::DeliveriesWrite)?;
    let answer = detail(&state, parse_id(&path)?, Links::Revealed).await?;
    tracing::info!("delivery revealed");
    Ok(HttpResponse::Ok().json(answer))
}

/// Replays a dead delivery (scope `deliveries.write`): it becomes pending, due now, with a new
/// deadline (`deadlineAt`, in the answer) the retry window away from now. Only dead rows can be
/// replayed (409 otherwise).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = DeliveryDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The delivery is not dead", body = Problem, content_type = "application/problem+json")))]
#[post("/admin/v1/deliveries/{id}/replay")]
#[instrument(skip_all, fields(delivery_id = %path))]
async fn replay_delivery(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::DeliveriesWrite)?;
    let id = parse_id(&path)?;
    let now = state.clock.now();
    match inspect::replay(&state.db, id, state.retry.deadline(now), now).await? {
        Replay::Replayed => {}
        Replay::Missing => return Err(ApiError::NotFound(format!("No delivery {id}."))),
        Replay::Erased => {
            return Err(ApiError::Conflict(
                "The delivery was erased with its candidate's data; there is nothing to send.".into(),
            ));
        }
        Replay::NotDead(current) => {
            return Err(ApiError::Conflict(format!(
                "The delivery is {}; only dead deliveries can be replayed.",
                current.as_str()
            )));
        }
    }
    state.wake_worker();
    tracing::info!("delivery replayed");
    Ok(HttpResponse::Ok().json(detail(&state, id, Links::Redacted).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_messages_name_every_value_the_code_knows() {
        assert_eq!(
            one_of(&DeliveryState::ALL.map(DeliveryState::as_str)),
            "must be pending, delivered or dead"
        );
        assert_eq!(
            one_of(&Kind::ALL.map(Kind::as_str)),
            "must be result, ashby_update, invitation_email, test_push, reminder_email or recruiter_notice"
        );
        assert_eq!(one_of(&["x"]), "must be x");
    }
}

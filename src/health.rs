//! Operations endpoints: liveness and readiness probes, and the Prometheus metrics.
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(live).service(ready).service(metrics);
}

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, body = Health)))]
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The process can serve: the database answers.
#[utoipa::path(tag = "health", responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json")))]
#[get("/health/ready")]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::Unavailable("The database does not answer.".into())
    })?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}

/// `GET /metrics`: Prometheus (OpenMetrics) text. The outbox gauges are read from the database
/// at scrape time, so they are right whichever instance is scraped.
#[actix_web::get("/metrics")]
async fn metrics(state: actix_web::web::Data<AppState>) -> Result<actix_web::HttpResponse, ApiError> {
    use crate::delivery::outbox::DeliveryState;
    use crate::entity::delivery;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

    let (count, oldest): (i64, Option<chrono::DateTime<chrono::Utc>>) = delivery::Entity::find()
        .select_only()
        .column_as(delivery::Column::Id.count(), "count")
        .column_as(delivery::Column::CreatedAt.min(), "oldest")
        .filter(delivery::Column::State.eq(DeliveryState::Pending))
        .into_tuple()
        .one(&state.db)
        .await?
        .unwrap_or((0, None));
    state.metrics.pending.set(count);
    let age = oldest
        .map(|o| (state.clock.now() - o).as_seconds_f64().max(0.0))
        .unwrap_or(0.0);
    state.metrics.oldest_pending_seconds.set(age);
    Ok(actix_web::HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.encode()))
}

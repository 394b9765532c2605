//! The admin API under `/admin/v1`: bearer JWT with scopes, problem+json errors.
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use sea_orm::{EntityTrait, QueryOrder};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::admin::paging::Paging;
use crate::assessment::{State, search};
use crate::auth::admin::{AdminAuth, Scope};
use crate::entity::enums::UnknownState;
use crate::entity::integrator;
use crate::error::{ApiError, Problem};
use crate::extract::{json_body, optional_json_body};
use crate::state::AppState;
use crate::tenancy::spec::*;
use crate::tenancy::store::{self, OrganizationKey, StoreError, Upserted};
use crate::types::OrganizationId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_lenses)
        .service(get_lens)
        .service(put_lens)
        .service(list_integrators)
        .service(get_integrator)
        .service(put_integrator)
        .service(list_organizations)
        .service(get_organization)
        .service(put_organization)
        .service(rotate_partner_key)
        .service(rotate_provider_key)
        .service(rotate_integrator_secret)
        .service(get_locales)
        .service(put_locales)
        .service(list_assessments);
    crate::admin::branding::configure(cfg);
    crate::admin::deliveries::configure(cfg);
    crate::admin::personal_data::configure(cfg);
}

fn status_for(outcome: Upserted) -> actix_web::HttpResponseBuilder {
    match outcome {
        Upserted::Created => HttpResponse::Created(),
        Upserted::Updated => HttpResponse::Ok(),
    }
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::invalid("id", "must be a UUID"))
}

// ------------------------------------------------------------------ lenses

/// Lists the lenses (scope `lenses.read`).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])),
    responses((status = 200, body = [LensView]), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/lenses")]
#[instrument(skip_all)]
async fn list_lenses(state: web::Data<AppState>, auth: AdminAuth) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::LensesRead)?;
    Ok(HttpResponse::Ok().json(store::list_lenses(&state.db, None).await?))
}

/// One lens (scope `lenses.read`).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = LensView), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/lenses/{id}")]
#[instrument(skip_all)]
async fn get_lens(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::LensesRead)?;
    let id = parse_id(&path)?;
    let lens = store::list_lenses(&state.db, Some(id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("No lens {id}.")))?;
    Ok(HttpResponse::Ok().json(lens))
}

/// Creates or replaces a lens (the seed file's lens shape).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)), request_body = LensSpec,
    responses((status = 201, body = LensView), (status = 200, body = LensView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/admin/v1/lenses/{id}")]
#[instrument(skip_all, fields(lens_id = %path))]
async fn put_lens(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::LensesWrite)?;
    let id = parse_id(&path)?;
    let (_, spec): (_, LensSpec) = json_body(&req, payload, state.max_body_bytes).await?;
    let now = state.clock.now();
    let txn = crate::db::begin_write(&state.db).await?;
    let outcome = store::upsert_lens(&txn, id, &spec, now).await?;
    txn.commit().await?;
    crate::auth::forget_cached_credentials(&state, &req).await;
    let view = store::list_lenses(&state.db, Some(id)).await?.pop();
    Ok(status_for(outcome).json(view))
}

// ------------------------------------------------------------------ integrators

/// Lists the integrators, without their secrets (scope `integrators.read`).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])),
    responses((status = 200, body = [IntegratorView]), (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/integrators")]
#[instrument(skip_all)]
async fn list_integrators(state: web::Data<AppState>, auth: AdminAuth) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::IntegratorsRead)?;
    let rows = integrator::Entity::find()
        .order_by_asc(integrator::Column::Name)
        .all(&state.db)
        .await?;
    let views = rows
        .into_iter()
        .map(|m| store::integrator_view(&state.vault, m))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(HttpResponse::Ok().json(views))
}

/// One integrator, without its secrets (scope `integrators.read`).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = IntegratorView), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/integrators/{id}")]
#[instrument(skip_all)]
async fn get_integrator(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::IntegratorsRead)?;
    let id = parse_id(&path)?;
    let model = integrator::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No integrator {id}.")))?;
    Ok(HttpResponse::Ok().json(store::integrator_view(&state.vault, model)?))
}

/// Creates or updates an integrator. `secret` and the callback credentials are write-only.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)), request_body = IntegratorSpec,
    responses((status = 201, body = IntegratorView), (status = 200, body = IntegratorView),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/admin/v1/integrators/{id}")]
#[instrument(skip_all, fields(integrator_id = %path))]
async fn put_integrator(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::IntegratorsWrite)?;
    let id = parse_id(&path)?;
    let (_, spec): (_, IntegratorSpec) = json_body(&req, payload, state.max_body_bytes).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let outcome =
        store::upsert_integrator(&txn, &state.vault, id, &spec, state.clock.now(), store_rules(&state)).await?;
    txn.commit().await?;
    crate::auth::forget_cached_credentials(&state, &req).await;
    let model = integrator::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("integrator vanished")))?;
    Ok(status_for(outcome).json(store::integrator_view(&state.vault, model)?))
}

/// Replaces the integrator's signing secret (scope `integrators.write`). The previous secret is
/// accepted and signed with for the overlap (`0s`: it stops now); rotating during an overlap
/// ends the older secret at once.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)),
    request_body(content = Option<RotationRequest>, description = "May be left out"),
    responses((status = 201, body = SecretRotated),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/admin/v1/integrators/{id}/secret-rotations")]
#[instrument(skip_all, fields(integrator_id = %path))]
async fn rotate_integrator_secret(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::IntegratorsWrite)?;
    let id = parse_id(&path)?;
    let request = rotation_request(&state, &req, payload).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let rotated = store::rotate_integrator_secret(
        &txn,
        &state.vault,
        id,
        &request,
        state.key_rotation_overlap,
        state.clock.now(),
    )
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("No integrator {id}.")))?;
    txn.commit().await?;
    crate::auth::forget_cached_credentials(&state, &req).await;
    tracing::info!("integrator secret rotated");
    Ok(HttpResponse::Created().json(SecretRotated {
        secret: rotated.value,
        previous_secret_expires_at: rotated.previous_expires_at,
    }))
}

// ------------------------------------------------------------------ organizations

/// Lists the organisations, without their keys (scope `organizations.read`).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])),
    responses((status = 200, body = [OrganizationView]), (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/organizations")]
#[instrument(skip_all)]
async fn list_organizations(state: web::Data<AppState>, auth: AdminAuth) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::OrganizationsRead)?;
    Ok(HttpResponse::Ok().json(store::list_organizations(&state.db, None).await?))
}

/// One organisation, without its keys (scope `organizations.read`).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = OrganizationView), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/organizations/{id}")]
#[instrument(skip_all)]
async fn get_organization(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::OrganizationsRead)?;
    let id = parse_id(&path)?;
    let org = store::list_organizations(&state.db, Some(id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("No organization {id}.")))?;
    Ok(HttpResponse::Ok().json(org))
}

/// Creates or updates an organisation. Keys left out on create are generated and returned once
/// (`generatedProviderKey`, `generatedPartnerApiKey`); left out on update they stay as they are.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)), request_body = OrganizationSpec,
    responses((status = 201, body = OrganizationView), (status = 200, body = OrganizationView),
        (status = 409, description = "A key belongs to another organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/admin/v1/organizations/{id}")]
#[instrument(skip_all, fields(organization_id = %path))]
async fn put_organization(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::OrganizationsWrite)?;
    let id = parse_id(&path)?;
    let (_, spec): (_, OrganizationSpec) = json_body(&req, payload, state.max_body_bytes).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let (outcome, keys) = store::upsert_organization(
        &txn,
        &state.vault,
        id.into(),
        &spec,
        state.clock.now(),
        store_rules(&state),
    )
    .await?;
    txn.commit().await?;
    crate::auth::forget_cached_credentials(&state, &req).await;
    let mut view = store::list_organizations(&state.db, Some(id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("organization vanished")))?;
    view.generated_provider_key = keys.provider_key;
    view.generated_partner_api_key = keys.partner_api_key;
    Ok(status_for(outcome).json(view))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedKey {
    /// The new key to paste into the organisation's Ashby tile. Shown once; it works now.
    pub partner_api_key: String,
    /// Until then the previous key works too.
    pub previous_key_expires_at: DateTime<Utc>,
}

/// A rotation's body, which may be left out.
async fn rotation_request(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<RotationRequest, ApiError> {
    optional_json_body(req, payload, state.max_body_bytes).await
}

/// Replaces the organisation's Ashby partner key (scope `organizations.write`); the previous key
/// keeps working for the overlap (`0s`: it stops now).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)),
    request_body(content = Option<RotationRequest>, description = "May be left out"),
    responses((status = 200, body = RotatedKey),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/admin/v1/organizations/{id}/ashby-partner-key")]
#[instrument(skip_all, fields(organization_id = %path))]
async fn rotate_partner_key(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let rotated = rotate_key_of(&state, &auth, &path, &req, payload, OrganizationKey::AshbyPartner).await?;
    tracing::info!("ashby partner key rotated");
    Ok(HttpResponse::Ok().json(RotatedKey {
        partner_api_key: rotated.value,
        previous_key_expires_at: rotated.previous_expires_at,
    }))
}

/// Replaces the organisation's provider key (scope `organizations.write`); the previous key
/// keeps working for the overlap (`0s`: it stops now).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)),
    request_body(content = Option<RotationRequest>, description = "May be left out"),
    responses((status = 201, body = ProviderKeyRotated),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/admin/v1/organizations/{id}/provider-key-rotations")]
#[instrument(skip_all, fields(organization_id = %path))]
async fn rotate_provider_key(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let rotated = rotate_key_of(&state, &auth, &path, &req, payload, OrganizationKey::Provider).await?;
    crate::auth::forget_cached_credentials(&state, &req).await;
    tracing::info!("provider key rotated");
    Ok(HttpResponse::Created().json(ProviderKeyRotated {
        provider_key: rotated.value,
        previous_key_expires_at: rotated.previous_expires_at,
    }))
}

/// One of the organisation's keys rotated (scope `organizations.write`), for its endpoint.
async fn rotate_key_of(
    state: &AppState,
    auth: &AdminAuth,
    path: &str,
    req: &HttpRequest,
    payload: web::Payload,
    key: OrganizationKey,
) -> Result<store::Rotated, ApiError> {
    auth.require(Scope::OrganizationsWrite)?;
    let id = parse_id(path)?;
    let request = rotation_request(state, req, payload).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let rotated = store::rotate_organization_key(
        &txn,
        OrganizationId(id),
        key,
        &request,
        state.key_rotation_overlap,
        state.clock.now(),
    )
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("No organization {id}.")))?;
    txn.commit().await?;
    Ok(rotated)
}

// ------------------------------------------------------------------ locales

/// The offered locales (scope `organizations.read`).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])),
    responses((status = 200, body = [String], example = json!(["en-US", "sv-SE"])),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/locales")]
#[instrument(skip_all)]
async fn get_locales(state: web::Data<AppState>, auth: AdminAuth) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::OrganizationsRead)?;
    Ok(HttpResponse::Ok().json(store::list_locales(&state.db).await?))
}

/// Sets the offered locales to exactly this list (scope `organizations.write`).
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), request_body = LocaleCodes,
    responses((status = 200, body = [String]), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/admin/v1/locales")]
#[instrument(skip_all)]
async fn put_locales(
    state: web::Data<AppState>,
    auth: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::OrganizationsWrite)?;
    let (_, codes): (_, Vec<String>) = json_body(&req, payload, state.max_body_bytes).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    store::replace_locales(&txn, &codes).await?;
    txn.commit().await?;
    crate::auth::forget_cached_credentials(&state, &req).await;
    Ok(HttpResponse::Ok().json(store::list_locales(&state.db).await?))
}

// ------------------------------------------------------------------ assessments

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AssessmentFilter {
    pub organization_id: Option<Uuid>,
    #[param(value_type = Option<State>)]
    pub state: Option<String>,
    /// Created at or after (RFC 3339)
    pub created_from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339)
    pub created_to: Option<DateTime<Utc>>,
    /// Default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// `nextCursor` of the previous page
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub recruitment_id: Option<Uuid>,
    pub candidate_id: Uuid,
    pub candidate_email: Option<String>,
    pub lens_id: Uuid,
    pub locale: String,
    pub source: String,
    pub state: State,
    pub result_id: Option<String>,
    pub score: Option<i32>,
    pub subscores: Option<serde_json::Value>,
    pub invited_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// When the candidate's data in it was erased (then `candidateEmail` is null).
    pub erased_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentPage {
    pub items: Vec<AssessmentView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Assessments, oldest first, with cursor pagination.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(AssessmentFilter),
    responses((status = 200, body = AssessmentPage), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/admin/v1/assessments")]
#[instrument(skip_all)]
async fn list_assessments(
    state: web::Data<AppState>,
    auth: AdminAuth,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::AssessmentsRead)?;
    let filter = crate::extract::query::<AssessmentFilter>(&req)?;
    let paging = Paging::parse(filter.limit, filter.cursor.as_deref())?;
    let wanted_state = filter
        .state
        .as_deref()
        .map(|s| {
            s.parse()
                .map_err(|e: UnknownState| ApiError::invalid("state", e.to_string()))
        })
        .transpose()?;
    crate::admin::paging::check_time_bounds(&[("createdFrom", filter.created_from), ("createdTo", filter.created_to)])?;
    let wanted = search::Filter {
        organization_id: filter.organization_id.map(Into::into),
        state: wanted_state,
        created_from: filter.created_from,
        created_to: filter.created_to,
        lookup: None,
    };
    let rows = search::find(&state.db, &wanted, paging.cursor(), paging.fetch()).await?;
    let (rows, next_cursor) = paging.finish(rows, |f| f.assessment.id.into());
    let items = rows
        .into_iter()
        .map(|found| {
            let a = found.assessment;
            AssessmentView {
                candidate_email: found.candidate_email,
                state: a.state,
                id: a.id.into(),
                organization_id: a.organization_id.into(),
                recruitment_id: a.recruitment_id,
                candidate_id: a.candidate_id,
                lens_id: a.lens_id,
                locale: a.locale,
                source: a.source.as_str().to_owned(),
                result_id: a.result_id,
                score: a.score,
                subscores: a.subscores,
                invited_at: a.invited_at,
                started_at: a.started_at,
                completed_at: a.completed_at,
                expires_at: a.expires_at,
                created_at: a.created_at,
                erased_at: a.erased_at,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(AssessmentPage { items, next_cursor }))
}

/// What the admin API may store here (the same rules as `seed`).
fn store_rules(state: &AppState) -> store::Rules {
    store::Rules {
        link_orders_default: state.env == crate::config::Environment::Development,
        targets: state.targets(),
    }
}

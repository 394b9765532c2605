//! An organisation's logo: `PUT /admin/v1/organizations/{id}/logo` takes the image's bytes as
//! the body (PNG or SVG, at most 256 KiB, the declared type checked against the bytes).
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, put, web};
use tracing::instrument;
use uuid::Uuid;

use crate::auth::admin::{AdminAuth, Scope};
use crate::error::{ApiError, Problem};
use crate::extract::read_body;
use crate::state::AppState;
use crate::tenancy::branding::MAX_LOGO_BYTES;
use crate::tenancy::spec::BrandingView;
use crate::tenancy::store::{self, LogoError};

const LOGO_TYPES: &str = "a PNG or SVG image (Content-Type: image/png or image/svg+xml)";

/// The image's bytes, as the body (for the document only).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct LogoBytes(#[allow(dead_code)] Vec<u8>);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(put_logo);
}

impl From<LogoError> for ApiError {
    fn from(e: LogoError) -> Self {
        match e {
            LogoError::NotFound => ApiError::NotFound("No such organization.".into()),
            LogoError::TooLarge => ApiError::PayloadTooLarge { limit: MAX_LOGO_BYTES },
            LogoError::UnsupportedType => ApiError::UnsupportedMediaType { expected: LOGO_TYPES },
            e @ LogoError::Mismatch(_) => ApiError::Validation(vec![e.field_error()]),
            LogoError::Store(e) => e.into(),
        }
    }
}

/// Uploads the organisation's logo (scope `organizations.write`), replacing any before: the
/// body is the image, `Content-Type: image/png` or `image/svg+xml`, and the bytes must be what
/// the type says. Candidate pages, e-mails and the report show it from
/// `GET /branding/{id}/logo`, served by this server only.
#[utoipa::path(tag = "admin", security(("admin_bearer" = [])), params(("id" = Uuid, Path)),
    request_body(description = "The PNG or SVG image, at most 256 KiB",
        content((LogoBytes = "image/png"), (LogoBytes = "image/svg+xml"))),
    responses((status = 200, description = "Stored; the organisation's branding with the logo's URL", body = BrandingView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 256 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not image/png or image/svg+xml", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The bytes are not what the Content-Type says", body = Problem, content_type = "application/problem+json")))]
#[put("/admin/v1/organizations/{id}/logo")]
#[instrument(skip_all, fields(organization_id = %path))]
async fn put_logo(
    state: web::Data<AppState>,
    auth: AdminAuth,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::OrganizationsWrite)?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::invalid("id", "must be a UUID"))?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if crate::tenancy::branding::LogoType::declared(&content_type).is_none() {
        return Err(ApiError::UnsupportedMediaType { expected: LOGO_TYPES });
    }
    let bytes = read_body(&req, payload, MAX_LOGO_BYTES).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let view = store::put_logo(&txn, id.into(), &content_type, &bytes, state.clock.now()).await?;
    txn.commit().await?;
    // The provider-key directory caches the organisation (whose e-mails name the logo).
    crate::auth::forget_cached_credentials(&state, &req).await;
    tracing::info!(bytes = bytes.len(), "organization logo stored");
    Ok(HttpResponse::Ok().json(view))
}

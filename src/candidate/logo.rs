//! `GET /branding/{organizationId}/logo`: an employer's logo, as uploaded through the admin API,
//! for the candidate pages, e-mails and the report. Served with its checked type only, never
//! sniffed, and sandboxed: an SVG is shown as a picture (`<img>`), and opened on its own no
//! script in it runs.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use tracing::instrument;
use uuid::Uuid;

use crate::state::AppState;
use crate::tenancy::store;

#[get("/branding/{organization}/logo")]
#[instrument(skip_all)]
pub(super) async fn logo(state: web::Data<AppState>, organization: web::Path<String>) -> HttpResponse {
    let not_found = || {
        HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("No logo.")
    };
    let Ok(id) = Uuid::parse_str(&organization) else {
        return not_found();
    };
    match store::logo(&state.db, id.into()).await {
        Ok(Some((content_type, bytes))) => HttpResponse::build(StatusCode::OK)
            .content_type(content_type)
            .insert_header((
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            ))
            .insert_header(("Cross-Origin-Resource-Policy", "same-site"))
            // The pages ask for `?v=<hash>`: a new upload is a new URL, so this may be kept.
            .insert_header(("Cache-Control", "public, max-age=86400"))
            .body(bytes),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "could not read a logo");
            HttpResponse::InternalServerError().finish()
        }
    }
}

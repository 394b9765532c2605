//! Logging set-up and the per-request span: every response carries `x-request-id`, and every
//! log line written while handling the request carries the same id.
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // Colour only for a person at a terminal: a file, a pipe or a log collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// An incoming `x-request-id` is kept when it is short and plain (so a proxy's id follows the
/// request through); otherwise a new UUIDv7 is made.
fn request_id_for(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// What a log line says of the request's path: the route's template (`/a/{token}`), never the
/// path itself, because candidate, report and recruitment links carry bearer tokens in their
/// path. A path that matches no route keeps only its first segment.
fn loggable_path(req: &ServiceRequest) -> String {
    req.request()
        .match_pattern()
        .unwrap_or_else(|| unmatched_path(req.path()))
}

fn unmatched_path(path: &str) -> String {
    let rest = path.trim_start_matches('/');
    let first = rest.split('/').next().unwrap_or_default();
    // Only a segment that cannot be a random token (no digits, no capitals, short) is kept.
    let plain = !first.is_empty()
        && first.len() <= 24
        && first
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_' || b == b'.');
    match (plain, rest.contains('/')) {
        (true, true) => format!("/{first}/… (unmatched)"),
        (true, false) => format!("/{first} (unmatched)"),
        (false, _) => "/… (unmatched)".to_owned(),
    }
}

pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = request_id_for(&req);
    let span = tracing::info_span!(
        "http_request",
        request_id = %request_id,
        method = %req.method(),
        route = %loggable_path(&req),
        status = tracing::field::Empty,
        organization_id = tracing::field::Empty,
        admin = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let header_value = HeaderValue::from_str(&request_id).ok();
    let result = REQUEST_ID
        .scope(request_id, next.call(req).instrument(span.clone()))
        .await;
    let _entered = span.enter();
    // Handlers and extractors turn their errors into responses inside the scope above; an error
    // that still escapes is logged and left to actix-web.
    let mut response = match result {
        Ok(response) => response.map_into_boxed_body(),
        Err(e) => {
            tracing::warn!(error = %e, "request failed outside the handlers");
            return Err(e);
        }
    };
    let status = response.status();
    span.record("status", status.as_u16());
    if let Some(metrics) = response
        .request()
        .app_data::<actix_web::web::Data<crate::metrics::Metrics>>()
    {
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics.record_http(
            response.request().method().as_str(),
            &route,
            status.as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    if let Some(value) = header_value {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    tracing::info!(
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request finished"
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::unmatched_path;

    #[test]
    fn unmatched_paths_keep_no_token() {
        assert_eq!(unmatched_path("/nope"), "/nope (unmatched)");
        assert_eq!(unmatched_path("/a/Xy3_tokenvalue/extra"), "/a/… (unmatched)");
        assert_eq!(unmatched_path("/Xy3tokenvalue"), "/… (unmatched)");
        assert_eq!(unmatched_path("/"), "/… (unmatched)");
    }
}

//! Error types, one per wire format. The Recruitment API and the admin API answer with
//! RFC 7807 `application/problem+json`; causes go to the log, never to the client.
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::telemetry::current_request_id;

/// One invalid field in a 422 (or a 400 that names where the JSON broke).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request body, e.g. `candidateDetails.email`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// RFC 7807 problem details.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `/problems/validation-failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The `x-request-id` of this request, to quote when asking for help.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed request: {detail}")]
    BadRequest { detail: String, errors: Vec<FieldError> },
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// It existed; its personal data has been erased.
    #[error("gone: {0}")]
    Gone(String),
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body's type is not the one expected (named, with its Content-Type).
    #[error("unsupported media type")]
    UnsupportedMediaType { expected: &'static str },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Over a rate limit; the `Retry-After` and `RateLimit` fields come with the verdict.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The path exists, the method does not: these are the path's methods.
    #[error("method not allowed")]
    MethodNotAllowed(&'static [String]),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The refusal of a request over a limit.
    pub fn rate_limited(verdict: &crate::ratelimit::Verdict) -> Self {
        let wait = verdict.retry_after_secs().unwrap_or(1);
        Self::RateLimited(if verdict.is_failed_auth() {
            format!("Too many requests from this address failed to authenticate; retry after {wait} s.")
        } else {
            format!("Too many requests for this organization; retry after {wait} s (see RateLimit-Policy).")
        })
    }

    fn code_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest { .. } => ("malformed-request", "Malformed request"),
            Self::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            Self::Forbidden(_) => ("forbidden", "Forbidden"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::Conflict(_) => ("conflict", "Conflict"),
            Self::Gone(_) => ("erased", "Erased"),
            Self::PayloadTooLarge { .. } => ("payload-too-large", "Payload too large"),
            Self::UnsupportedMediaType { .. } => ("unsupported-media-type", "Unsupported media type"),
            Self::Validation(_) => ("validation-failed", "Validation failed"),
            Self::Unavailable(_) => ("unavailable", "Service unavailable"),
            Self::RateLimited(_) => ("rate-limited", "Too many requests"),
            Self::MethodNotAllowed(_) => ("method-not-allowed", "Method not allowed"),
            Self::Internal(_) => ("internal", "Internal server error"),
        }
    }

    pub fn to_problem(&self) -> Problem {
        let (code, title) = self.code_and_title();
        let (detail, errors) = match self {
            Self::BadRequest { detail, errors } => (detail.clone(), errors.clone()),
            Self::Unauthorized(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::Gone(d)
            | Self::Unavailable(d)
            | Self::RateLimited(d) => (d.clone(), Vec::new()),
            Self::PayloadTooLarge { limit } => (format!("The request body is larger than {limit} bytes."), Vec::new()),
            Self::UnsupportedMediaType { expected } => (format!("The request body must be {expected}."), Vec::new()),
            Self::MethodNotAllowed(methods) => (
                format!("This path answers {} only (see Allow).", methods.join(", ")),
                Vec::new(),
            ),
            Self::Validation(errors) => (
                format!("{} field(s) failed validation; see errors.", errors.len()),
                errors.clone(),
            ),
            Self::Internal(_) => (
                "Something went wrong on our side. Quote the request id when asking for help.".into(),
                Vec::new(),
            ),
        };
        Problem {
            kind: format!("/problems/{code}"),
            title: title.into(),
            status: self.status_code().as_u16(),
            detail,
            request_id: current_request_id(),
            errors,
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(e.into())
    }
}

impl From<sea_orm::TransactionError<ApiError>> for ApiError {
    fn from(e: sea_orm::TransactionError<ApiError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(api) => api,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed")
            }
            Self::Unavailable(_) => tracing::warn!(error = %self, "request failed"),
            // A refusal's detail may quote what the client sent (a candidate's address in a
            // conflict): it is logged at debug only.
            other => {
                tracing::info!(problem = other.code_and_title().0, "request rejected");
                tracing::debug!(error = %other, "request rejected");
            }
        }
        let problem = self.to_problem();
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if let Self::MethodNotAllowed(methods) = self
            && let Ok(allow) = HeaderValue::from_str(&methods.join(", "))
        {
            response.insert_header((header::ALLOW, allow));
        }
        if matches!(self, Self::Unauthorized(_)) {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("provider-key, Signature, Bearer"),
            ));
        }
        response.body(serde_json::to_vec(&problem).unwrap_or_default())
    }
}

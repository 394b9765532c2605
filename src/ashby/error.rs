//! Errors of the Ashby endpoints, in Ashby's shapes: `{message}` for what a recruiter can fix
//! (422) and conflicts (409); the error envelope otherwise.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::ashby::dto::{ErrorEnvelope, ErrorInfo, UserMessage};
use crate::telemetry::current_request_id;

#[derive(Debug, thiserror::Error)]
pub enum AshbyError {
    #[error("unauthorized")]
    Unauthorized,
    /// Shown to the Ashby user: they can fix it.
    #[error("{0}")]
    Fixable(String),
    #[error("{0}")]
    Conflict(String),
    /// HTTP 200 with the error envelope, as Ashby does for application errors.
    #[error("{code}: {message}")]
    Application { code: &'static str, message: String },
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Over a rate limit; `Retry-After` and the `RateLimit` fields come with the verdict.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The path exists, the method does not: these are the path's methods.
    #[error("method not allowed")]
    MethodNotAllowed(&'static [String]),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AshbyError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The refusal of a call over a limit.
    pub fn rate_limited(verdict: &crate::ratelimit::Verdict) -> Self {
        let wait = verdict.retry_after_secs().unwrap_or(1);
        Self::RateLimited(if verdict.is_failed_auth() {
            format!("Too many calls from this address failed to authenticate; retry after {wait} s.")
        } else {
            format!("Too many calls with this partner API key; retry after {wait} s.")
        })
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Fixable(_) => "fixable",
            Self::Conflict(_) => "conflict",
            Self::Application { code, .. } => code,
            Self::BadRequest(_) => "bad_request",
            Self::RateLimited(_) => "rate_limited",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Internal(_) => "internal",
        }
    }

    fn envelope(code: &str, message: &str) -> ErrorEnvelope {
        ErrorEnvelope {
            success: false,
            errors: vec![code.to_owned()],
            error_info: ErrorInfo {
                code: code.to_owned(),
                message: message.to_owned(),
                request_id: current_request_id().unwrap_or_default(),
            },
        }
    }
}

impl From<sea_orm::DbErr> for AshbyError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(e.into())
    }
}

impl ResponseError for AshbyError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Fixable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Application { .. } => StatusCode::OK,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(error = format!("{cause:#}"), "ashby request failed"),
            // What a recruiter is shown may name the candidate and their address: the message
            // itself is logged at debug only.
            other => {
                tracing::info!(
                    status = self.status_code().as_u16(),
                    kind = other.kind(),
                    "ashby request refused"
                );
                tracing::debug!(error = %other, "ashby request refused");
            }
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Fixable(message) | Self::Conflict(message) => response.json(UserMessage {
                message: message.clone(),
            }),
            Self::Unauthorized => response
                .insert_header(("WWW-Authenticate", "Basic realm=\"assessment-partner\""))
                .json(Self::envelope(
                    "unauthorized",
                    "The partner API key is missing or unknown.",
                )),
            Self::Application { code, message } => response.json(Self::envelope(code, message)),
            Self::BadRequest(message) => response.json(Self::envelope("invalid_request", message)),
            Self::RateLimited(message) => response.json(Self::envelope("rate_limited", message)),
            Self::MethodNotAllowed(methods) => {
                response
                    .insert_header(("Allow", methods.join(", ")))
                    .json(Self::envelope(
                        "method_not_allowed",
                        &format!("This endpoint answers {} only.", methods.join(", ")),
                    ))
            }
            Self::Internal(_) => response.json(Self::envelope("internal_error", "Something went wrong on our side.")),
        }
    }
}

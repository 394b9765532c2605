//! Reading request bodies for the problem+json surfaces: size limit, content type, JSON with
//! the path of the field that broke, and `validator` errors as field errors.
use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut, Payload};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::{ValidationErrors, ValidationErrorsKind};

use crate::error::{ApiError, FieldError};

/// Reads the whole body, refusing more than `limit` bytes (before reading, when the client
/// announces its length). The raw bytes are what signatures are checked over.
pub async fn read_body(req: &HttpRequest, mut payload: Payload, limit: usize) -> Result<Bytes, ApiError> {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// `application/json` or any `+json` type (charset parameters allowed).
pub fn require_json_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match mime.as_deref() {
        Some("application/json") => Ok(()),
        Some(m) if m.starts_with("application/") && m.ends_with("+json") => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// Parses JSON: broken syntax is 400; a well-formed document of the wrong shape (missing
/// field, wrong type) is 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(value) => Ok(value),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    let mut field = if path == "." { String::new() } else { path };
                    // serde names a missing field in its message, not its path: move it to the path.
                    if let Some(name) = message
                        .strip_prefix("missing field `")
                        .and_then(|m| m.split('`').next())
                    {
                        field = if field.is_empty() {
                            name.to_owned()
                        } else {
                            format!("{field}.{name}")
                        };
                    }
                    Err(ApiError::Validation(vec![FieldError::new(field, message)]))
                }
                _ => Err(ApiError::BadRequest {
                    detail: format!("The request body is not valid JSON: {message}"),
                    errors: Vec::new(),
                }),
            }
        }
    }
}

/// The body of a JSON endpoint: content type, size, syntax, shape.
pub async fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<(Bytes, T), ApiError> {
    let body = read_body(req, payload, limit).await?;
    require_json_content_type(req)?;
    let value = parse_json(&body)?;
    Ok((body, value))
}

fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Flattens `validator` errors into `field` paths in the wire's camelCase.
pub fn field_errors(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            camel(field)
        } else {
            format!("{prefix}.{}", camel(field))
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format!("failed the '{}' check", e.code));
                    out.push(FieldError::new(path.clone(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => field_errors(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    field_errors(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// Collects field errors while a DTO is turned into domain values.
#[derive(Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn from_validator(result: Result<(), ValidationErrors>) -> Self {
        let mut out = Vec::new();
        if let Err(e) = result {
            field_errors(&e, "", &mut out);
        }
        Self(out)
    }

    /// Runs a parser on a field; remembers the error and returns `None` if it fails.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                if !self.0.iter().any(|f| f.field == field) {
                    self.0.push(FieldError::new(field, e.to_string()));
                }
                None
            }
        }
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn finish(mut self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            self.0.sort_by(|a, b| a.field.cmp(&b.field));
            Err(ApiError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Doc {
        candidate_details: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        email: String,
    }

    #[test]
    fn syntax_is_400_shape_is_422_with_the_field() {
        assert!(matches!(
            parse_json::<Doc>(b"{not json"),
            Err(ApiError::BadRequest { .. })
        ));
        match parse_json::<Doc>(br#"{"candidateDetails":{"email":5}}"#) {
            Err(ApiError::Validation(errors)) => {
                assert_eq!(errors[0].field, "candidateDetails.email")
            }
            other => panic!("{other:?}"),
        }
        match parse_json::<Doc>(br#"{"candidateDetails":{}}"#) {
            Err(ApiError::Validation(errors)) => {
                assert_eq!(errors[0].field, "candidateDetails.email");
                assert!(errors[0].message.contains("missing field `email`"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn camel_case_paths() {
        assert_eq!(camel("result_update_url"), "resultUpdateUrl");
    }
}

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
        _ => Err(ApiError::UnsupportedMediaType {
            expected: "JSON (Content-Type: application/json)",
        }),
    }
}

/// Why a JSON body was refused, before a surface words it in its own format.
#[derive(Debug, PartialEq, Eq)]
pub enum JsonRefusal {
    /// Not JSON, or more than one JSON value (trailing data).
    Syntax(String),
    /// Well-formed, but not of the expected shape: the field (`""` for the whole body) and why.
    Shape { field: String, message: String },
    /// A string (value or key) holds a NUL character: the field.
    Nul { field: String },
}

impl JsonRefusal {
    pub const NUL_MESSAGE: &str = "must not contain a NUL character (\\u0000)";
}

/// Decodes one JSON document of type `T`: the whole body must be one value (trailing data is a
/// syntax error), no string may hold a NUL character (no database stores one as text), and
/// the messages name JSON's kinds of values, never the server's types.
/// For a field of type `Option<Option<T>>` with `#[serde(default, deserialize_with = ...)]`:
/// left out is `None`, `null` is `Some(None)` (set back to the default), a value `Some(Some(v))`.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

pub fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, JsonRefusal> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let (path, inner) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => match de.end() {
            Ok(()) => {
                return match nul_field(body) {
                    Some(field) => Err(JsonRefusal::Nul { field }),
                    None => Ok(value),
                };
            }
            Err(e) => (".".to_owned(), e),
        },
        Err(e) => (e.path().to_string(), e.into_inner()),
    };
    match inner.classify() {
        serde_json::error::Category::Data => {
            let message = plain_words(&inner.to_string());
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
            if field.is_empty() && message.contains("expected a JSON object") {
                return Err(JsonRefusal::Syntax("The request body must be a JSON object.".into()));
            }
            Err(JsonRefusal::Shape { field, message })
        }
        serde_json::error::Category::Syntax if inner.to_string().starts_with("trailing characters") => {
            Err(JsonRefusal::Syntax(format!(
                "The request body must be one JSON value with nothing after it ({inner})."
            )))
        }
        _ => Err(JsonRefusal::Syntax(format!(
            "The request body is not valid JSON: {inner}"
        ))),
    }
}

/// serde's messages name the Rust type that was expected (`expected struct OrderRequest`);
/// a client knows JSON's kinds of values instead.
fn plain_words(message: &str) -> String {
    let mut out = message.to_owned();
    for (rust, json) in [
        ("expected struct ", "expected a JSON object"),
        ("expected tuple struct ", "expected a JSON array"),
        ("expected enum ", "expected one of the documented values"),
        (
            "expected internally tagged enum ",
            "expected a JSON object with a known type",
        ),
        ("expected unit struct ", "expected null"),
    ] {
        while let Some(at) = out.find(rust) {
            let name_start = at + rust.len();
            let name_end = out[name_start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(out.len(), |n| name_start + n);
            out.replace_range(at..name_end, json);
        }
    }
    out
}

/// The path of the first string (value or key) with a NUL character, if any. A NUL can only
/// arrive as the escape `\u0000` (a raw control character is not valid JSON), so a body
/// without that sequence is passed over at once.
fn nul_field(body: &[u8]) -> Option<String> {
    if !body.windows(6).any(|w| w == br"\u0000") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    fn find(value: &serde_json::Value, path: &str) -> Option<String> {
        let join = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match value {
            serde_json::Value::String(s) if s.contains('\0') => Some(path.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| find(v, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                if k.contains('\0') {
                    Some(join(&k.replace('\0', "\\u0000")))
                } else {
                    find(v, &join(k))
                }
            }),
            _ => None,
        }
    }
    find(&value, "")
}

/// Parses JSON for the problem+json surfaces: broken syntax and trailing data are 400; a
/// well-formed document of the wrong shape (missing field, wrong type, a NUL in a string) is
/// 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    decode_json(body).map_err(|refusal| match refusal {
        JsonRefusal::Syntax(detail) => ApiError::BadRequest {
            detail,
            errors: Vec::new(),
        },
        JsonRefusal::Shape { field, message } => ApiError::Validation(vec![FieldError::new(field, message)]),
        JsonRefusal::Nul { field } => ApiError::Validation(vec![FieldError::new(field, JsonRefusal::NUL_MESSAGE)]),
    })
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

/// [`json_body`] for a body that may be left out: an empty body, or JSON `null`, is
/// `T::default()`.
pub async fn optional_json_body<T: DeserializeOwned + Default>(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<T, ApiError> {
    let body = read_body(req, payload, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    require_json_content_type(req)?;
    match parse_json::<serde_json::Value>(&body)? {
        serde_json::Value::Null => Ok(T::default()),
        serde_json::Value::Object(_) => parse_json(&body),
        // serde reads a struct from an array too; the document allows an object or nothing.
        _ => Err(ApiError::BadRequest {
            detail: "The request body must be a JSON object, or left out.".into(),
            errors: Vec::new(),
        }),
    }
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

/// The query string as `T`: a NUL character in any name or value is 422 naming the parameter
/// (no database stores it as text), any other misfit 422 on `query`.
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    if let Some(field) = crate::http::fields::nul_field(pairs.iter().map(|(k, v)| (k, v))) {
        return Err(ApiError::invalid(field, JsonRefusal::NUL_MESSAGE));
    }
    actix_web::web::Query::<T>::from_query(req.query_string())
        .map(actix_web::web::Query::into_inner)
        .map_err(|e| ApiError::invalid("query", e.to_string()))
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
    fn trailing_data_is_a_syntax_error() {
        for body in [
            &br#"{"candidateDetails":{"email":"a@b.c"}}x"#[..],
            br#"{"candidateDetails":{"email":"a@b.c"}}{}"#,
        ] {
            assert!(
                matches!(parse_json::<Doc>(body), Err(ApiError::BadRequest { .. })),
                "{body:?}"
            );
        }
        assert!(parse_json::<Doc>(b" {\"candidateDetails\":{\"email\":\"a@b.c\"}} \n").is_ok());
    }

    #[test]
    fn a_nul_anywhere_names_its_field() {
        match parse_json::<Doc>(br#"{"candidateDetails":{"email":"a\u0000@b.c"}}"#) {
            Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, "candidateDetails.email"),
            other => panic!("{other:?}"),
        }
        // An escaped backslash before "u0000" is text, not a NUL.
        assert!(parse_json::<Doc>(br#"{"candidateDetails":{"email":"a\\u0000@b.c"}}"#).is_ok());
        assert_eq!(
            nul_field(br#"{"a":[1,{"b\u0000":2}]}"#).as_deref(),
            Some("a[1].b\\u0000")
        );
        assert_eq!(nul_field(br#"{"a":["x","\u0000"]}"#).as_deref(), Some("a[1]"));
    }

    #[test]
    fn messages_name_json_kinds_not_rust_types() {
        for body in [&b"[]"[..], b"5", b"\"x\"", b"null"] {
            match parse_json::<Doc>(body) {
                Err(ApiError::BadRequest { detail, .. }) => {
                    assert_eq!(detail, "The request body must be a JSON object.")
                }
                other => panic!("{other:?}"),
            }
        }
        match parse_json::<Doc>(br#"{"candidateDetails":[]}"#) {
            Err(ApiError::Validation(errors)) => {
                assert!(
                    errors[0].message.contains("expected a JSON object"),
                    "{}",
                    errors[0].message
                );
                assert!(!errors[0].message.contains("Inner"), "{}", errors[0].message);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn camel_case_paths() {
        assert_eq!(camel("result_update_url"), "resultUpdateUrl");
    }
}

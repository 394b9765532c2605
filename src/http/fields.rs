//! Query strings and form fields of the HTML surfaces (candidate pages, console), read as text
//! that every database can store: a NUL character (`%00`) anywhere, in a name or a value, is
//! refused with a 400 page before the handler runs, so that no search, filter or sign-in ever
//! carries one to the database (PostgreSQL cannot store it as text and would answer an error).
use std::collections::HashMap;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::LocalBoxFuture;
use maud::html;

/// Whether `text` holds a character no database stores as text.
pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// The first name, or the name of the first value, that holds a NUL character.
pub fn nul_field<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Option<String> {
    pairs
        .into_iter()
        .find(|(k, v)| has_nul(k) || has_nul(v))
        .map(|(k, _)| k.replace('\0', "\u{FFFD}"))
}

/// A form or query string that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("the field {0} holds a NUL character")]
    Nul(String),
    #[error("the form could not be read: {0}")]
    Unreadable(String),
}

impl ResponseError for Refused {
    fn status_code(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    fn error_response(&self) -> HttpResponse {
        let text = match self {
            Refused::Nul(field) => format!("The field “{field}” holds a NUL character (%00), which no page accepts."),
            Refused::Unreadable(_) => "The form could not be read. Go back and send it again.".to_owned(),
        };
        let markup = html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1"; title { "Bad request" } }
                body { main { h1 { "Bad request" } p { (text) } } }
            }
        };
        crate::http::html::page(StatusCode::BAD_REQUEST).body(markup.into_string())
    }
}

/// The fields of an `application/x-www-form-urlencoded` body, none holding a NUL.
#[derive(Debug)]
pub struct Form(HashMap<String, String>);

/// The fields of the query string, none holding a NUL.
#[derive(Debug)]
pub struct Query(HashMap<String, String>);

macro_rules! text_map {
    ($name:ident) => {
        impl $name {
            pub fn into_inner(self) -> HashMap<String, String> {
                self.0
            }
        }

        impl Deref for $name {
            type Target = HashMap<String, String>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }
    };
}
text_map!(Form);
text_map!(Query);

fn checked(fields: HashMap<String, String>) -> Result<HashMap<String, String>, Refused> {
    match nul_field(&fields) {
        Some(field) => Err(Refused::Nul(field)),
        None => Ok(fields),
    }
}

impl FromRequest for Form {
    type Error = Refused;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = web::Form::<HashMap<String, String>>::from_request(req, payload);
        Box::pin(async move {
            let fields = form.await.map_err(|e| Refused::Unreadable(e.to_string()))?;
            checked(fields.into_inner()).map(Form)
        })
    }
}

impl FromRequest for Query {
    type Error = Refused;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            web::Query::<HashMap<String, String>>::from_query(req.query_string())
                .map_err(|e| Refused::Unreadable(e.to_string()))
                .and_then(|q| checked(q.into_inner()))
                .map(Query),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_in_a_name_or_a_value_is_found() {
        let map = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        assert_eq!(nul_field(&map(&[("q", "plain")])), None);
        assert_eq!(nul_field(&map(&[("q", "a\0b")])), Some("q".to_owned()));
        assert_eq!(nul_field(&map(&[("a\0", "b")])), Some("a\u{FFFD}".to_owned()));
    }
}

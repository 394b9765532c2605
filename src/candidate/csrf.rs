//! CSRF protection for the candidate forms: a random token in a `SameSite=Strict` cookie and the
//! same token in each form (double submit). A cross-site form cannot read or set the cookie.
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

pub const COOKIE: &str = "ap_csrf";

/// The token of this browser, and the cookie to set when it is new.
pub fn token(req: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32)
    {
        return (existing, None);
    }
    let value = crate::config::random_token(24);
    let cookie = Cookie::build(COOKIE, value.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    (value, Some(cookie))
}

/// The form's token matches the cookie's.
pub fn verify(req: &HttpRequest, form_token: Option<&str>) -> bool {
    match (req.cookie(COOKIE), form_token) {
        (Some(cookie), Some(form)) => crate::auth::constant_time_eq(cookie.value().as_bytes(), form.as_bytes()),
        _ => false,
    }
}

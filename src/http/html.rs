//! HTML responses with the security headers every HTML surface (the candidate pages, the report
//! and recruitment pages, the console) sends. `X-Content-Type-Options: nosniff` is on every
//! response of every surface (a default header at the app's edge), so it is not repeated here.
use actix_web::HttpResponseBuilder;
use actix_web::http::StatusCode;

/// The pages' Content-Security-Policy: nothing but our own inline styles, images from this
/// server (an employer's logo, an item's picture), and forms posting back here. No script at all.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// A response builder for an HTML page: its type, never cached, no referrer, never framed, the
/// CSP above.
pub fn page(status: StatusCode) -> HttpResponseBuilder {
    let mut response = HttpResponseBuilder::new(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Content-Security-Policy", CSP));
    response
}

/// The headers a document that is not a page (the report's PDF) still needs: never cached, no
/// referrer, never framed.
pub fn document(status: StatusCode, content_type: &str) -> HttpResponseBuilder {
    let mut response = HttpResponseBuilder::new(status);
    response
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"));
    response
}

//! Who is calling: integrators (provider-key + Signature), admins (bearer JWT); and forgetting
//! the cached credentials when an admin or an operator changes them.
pub mod admin;
pub mod directory;
pub mod provider;
pub mod replay;

/// Constant-time comparison for secrets of any length.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// An admin or console change applies to the next request and the next push on this instance: the
/// provider-key directory, the result-push credentials and the integrators' delivery caps are
/// read again (other instances' within `DIRECTORY_TTL`, `CREDENTIAL_TTL` and `caps::REFRESH`).
pub async fn forget_cached_credentials(state: &crate::state::AppState, req: &actix_web::HttpRequest) {
    if let Some(directory) = req.app_data::<actix_web::web::Data<directory::Directory>>() {
        directory.invalidate();
    }
    state.push_credentials.invalidate();
    if let Err(e) = state.delivery_caps.refresh(&state.db).await {
        tracing::warn!(error = %e, "could not read the delivery caps again; they are read within 30 s");
    }
}

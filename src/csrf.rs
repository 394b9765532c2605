//! CSRF protection for the HTML forms (candidate pages, console): a token in a `SameSite=Strict` cookie and the same
//! token in each form (double submit). A cross-site form cannot read or set the cookie.
//!
//! A token counts only when this server issued it: 16 random bytes and their HMAC-SHA256 under
//! a key derived from the master key (truncated to 16 bytes), base64url without padding. An
//! empty, hand-made or foreign cookie and field never pass, even when they match each other.
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::crypto::MasterKey;

pub const COOKIE: &str = "ap_csrf";

const NONCE: usize = 16;
const TAG: usize = 16;

/// Issues and checks CSRF tokens.
#[derive(Clone)]
pub struct CsrfKey(Hmac<Sha256>);

impl CsrfKey {
    pub fn new(master_key: &MasterKey) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master_key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"assessment-partner/csrf/v1");
        let key = mac.finalize().into_bytes();
        Self(
            <Hmac<Sha256> as Mac>::new_from_slice(&key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
        )
    }

    fn tag(&self, nonce: &[u8]) -> [u8; TAG] {
        let mut mac = self.0.clone();
        mac.update(nonce);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&full[..TAG]);
        tag
    }

    fn issue(&self) -> String {
        let mut raw = [0u8; NONCE + TAG];
        rand::thread_rng().fill_bytes(&mut raw[..NONCE]);
        let tag = self.tag(&raw[..NONCE]);
        raw[NONCE..].copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether this server issued the token (its tag checked in constant time).
    fn issued(&self, token: &str) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        raw.len() == NONCE + TAG && {
            let mut mac = self.0.clone();
            mac.update(&raw[..NONCE]);
            mac.verify_truncated_left(&raw[NONCE..]).is_ok()
        }
    }

    /// The token of this browser, and the cookie to set when it has none this server issued.
    pub fn token(&self, req: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
        if let Some(existing) = req
            .cookie(COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| self.issued(v))
        {
            return (existing, None);
        }
        let value = self.issue();
        let cookie = Cookie::build(COOKIE, value.clone())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .finish();
        (value, Some(cookie))
    }

    /// The form's token is the cookie's (compared in constant time), and this server issued it.
    pub fn verify(&self, req: &HttpRequest, form_token: Option<&str>) -> bool {
        match (req.cookie(COOKIE), form_token) {
            (Some(cookie), Some(form)) => {
                let (a, b) = (cookie.value().as_bytes(), form.as_bytes());
                a.len() == b.len() && bool::from(subtle::ConstantTimeEq::ct_eq(a, b)) && self.issued(form)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn key(byte: u8) -> CsrfKey {
        CsrfKey::new(&secrecy::SecretBox::new(Box::new([byte; 32])))
    }

    fn request_with_cookie(value: &str) -> HttpRequest {
        TestRequest::default()
            .cookie(Cookie::new(COOKIE, value.to_owned()))
            .to_http_request()
    }

    #[test]
    fn only_a_token_this_server_issued_passes() {
        let key = key(1);
        let issued = key.issue();
        assert!(key.verify(&request_with_cookie(&issued), Some(&issued)));
        let foreign = self::key(2).issue();
        let forged = URL_SAFE_NO_PAD.encode([0u8; NONCE + TAG]);
        for (cookie, form) in [
            ("", ""),
            ("x", "x"),
            (foreign.as_str(), foreign.as_str()),
            (forged.as_str(), forged.as_str()),
            (issued.as_str(), ""),
            (issued.as_str(), foreign.as_str()),
        ] {
            assert!(
                !key.verify(&request_with_cookie(cookie), Some(form)),
                "{cookie:?} / {form:?}"
            );
        }
        assert!(!key.verify(&request_with_cookie(&issued), None));
        assert!(!key.verify(&TestRequest::default().to_http_request(), Some(&issued)));
    }

    #[test]
    fn a_valid_cookie_is_kept_and_a_bad_one_replaced() {
        let key = key(1);
        let issued = key.issue();
        let (kept, cookie) = key.token(&request_with_cookie(&issued), true);
        assert_eq!((kept.as_str(), cookie.is_none()), (issued.as_str(), true));
        let (fresh, cookie) = key.token(&request_with_cookie(""), true);
        assert!(key.issued(&fresh) && cookie.is_some());
    }
}

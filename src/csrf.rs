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

/// The cookie's name over plain HTTP (development, tests).
pub const COOKIE: &str = "ap_csrf";
/// The cookie's name over HTTPS: `__Host-` makes the browser refuse one set by another host (a
/// sibling subdomain) or for a narrower path, and one sent without `Secure`.
pub const HOST_COOKIE: &str = "__Host-ap_csrf";

const NONCE: usize = 16;
const TAG: usize = 16;

/// Issues and checks CSRF tokens.
#[derive(Clone)]
pub struct CsrfKey {
    mac: Hmac<Sha256>,
    /// The pages are served over HTTPS: the cookie is `Secure` and named with `__Host-`.
    secure: bool,
}

impl CsrfKey {
    pub fn new(master_key: &MasterKey, secure: bool) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master_key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"assessment-partner/csrf/v1");
        let key = mac.finalize().into_bytes();
        Self {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(&key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
            secure,
        }
    }

    fn cookie_name(&self) -> &'static str {
        if self.secure { HOST_COOKIE } else { COOKIE }
    }

    /// The token of the forms of one console session: an HMAC of the session's cookie value, so
    /// a token from another session (or planted with a cookie of its own) never passes, and the
    /// token says nothing of the session's value.
    pub fn for_session(&self, session: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"session\n");
        mac.update(session.as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..TAG])
    }

    /// The form's token is the one of this session (compared in constant time).
    pub fn verify_session(&self, session: &str, form_token: Option<&str>) -> bool {
        form_token.is_some_and(|form| {
            let expected = self.for_session(session);
            let (a, b) = (expected.as_bytes(), form.as_bytes());
            a.len() == b.len() && bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
        })
    }

    fn tag(&self, nonce: &[u8]) -> [u8; TAG] {
        let mut mac = self.mac.clone();
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
            let mut mac = self.mac.clone();
            mac.update(&raw[..NONCE]);
            mac.verify_truncated_left(&raw[NONCE..]).is_ok()
        }
    }

    /// The token of this browser, and the cookie to set when it has none this server issued.
    pub fn token(&self, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
        if let Some(existing) = req
            .cookie(self.cookie_name())
            .map(|c| c.value().to_owned())
            .filter(|v| self.issued(v))
        {
            return (existing, None);
        }
        let value = self.issue();
        let cookie = Cookie::build(self.cookie_name(), value.clone())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.secure)
            .finish();
        (value, Some(cookie))
    }

    /// The form's token is the cookie's (compared in constant time), and this server issued it.
    pub fn verify(&self, req: &HttpRequest, form_token: Option<&str>) -> bool {
        match (req.cookie(self.cookie_name()), form_token) {
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
        CsrfKey::new(&secrecy::SecretBox::new(Box::new([byte; 32])), false)
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
        let (kept, cookie) = key.token(&request_with_cookie(&issued));
        assert_eq!((kept.as_str(), cookie.is_none()), (issued.as_str(), true));
        let (fresh, cookie) = key.token(&request_with_cookie(""));
        assert!(key.issued(&fresh) && cookie.is_some());
    }

    #[test]
    fn a_session_token_passes_for_its_session_only() {
        let key = key(1);
        let token = key.for_session("session-a");
        assert!(key.verify_session("session-a", Some(&token)));
        assert!(!key.verify_session("session-b", Some(&token)));
        assert!(!key.verify_session("session-a", None));
        assert!(!self::key(2).verify_session("session-a", Some(&token)));
        assert!(
            !key.verify_session("session-a", Some(&key.issue())),
            "a cookie pair's token is not a session's"
        );
    }

    #[test]
    fn over_https_the_cookie_is_host_only_and_secure() {
        let key = CsrfKey::new(&secrecy::SecretBox::new(Box::new([1; 32])), true);
        let (token, cookie) = key.token(&TestRequest::default().to_http_request());
        let cookie = cookie.expect("a new cookie");
        assert_eq!(
            (cookie.name(), cookie.path(), cookie.secure()),
            (HOST_COOKIE, Some("/"), Some(true))
        );
        let plain = TestRequest::default()
            .cookie(Cookie::new(COOKIE, token.clone()))
            .to_http_request();
        assert!(!key.verify(&plain, Some(&token)), "only the __Host- cookie counts");
        let host = TestRequest::default()
            .cookie(Cookie::new(HOST_COOKIE, token.clone()))
            .to_http_request();
        assert!(key.verify(&host, Some(&token)));
    }
}

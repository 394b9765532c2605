//! Links we hand out: the candidate's assessment link, the report and the recruitment page.
//!
//! A link's token is short enough to survive e-mail and copying by hand: 43 characters of
//! base64url over the subject's id (16 bytes), the expiry (4 bytes, Unix seconds, big-endian)
//! and a 96-bit HMAC-SHA256 tag over both and the link's purpose (key derived from the master
//! key). A link therefore cannot be used for another purpose, after its time, or with another
//! key; nothing is stored for it. Tokens of the earlier, longer form (a JWT with an audience
//! per purpose) are still accepted until they expire.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::Sha256;
use url::Url;
use uuid::Uuid;

use crate::config::DEFAULT_REPORT_LINK_TTL;
use crate::crypto::MasterKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// `/a/{token}`: the candidate takes the assessment.
    Assessment,
    /// `/r/{token}`: the result report.
    Report,
    /// `/recruitments/{token}`: a recruitment's candidates.
    Recruitment,
    /// `/r/{token}` of a test push: the sample report of a lens (the subject is the lens id).
    SampleReport,
}

impl LinkKind {
    fn audience(self) -> &'static str {
        match self {
            Self::Assessment => "candidate",
            Self::Report => "report",
            Self::Recruitment => "recruitment",
            Self::SampleReport => "sample-report",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Assessment => "a",
            Self::Report | Self::SampleReport => "r",
            Self::Recruitment => "recruitments",
        }
    }
}

/// The claims of the earlier JWT form.
#[derive(Debug, Deserialize)]
struct LegacyClaims {
    sub: Uuid,
    exp: i64,
}

const SUBJECT: usize = 16;
const EXPIRY: usize = 4;
const TAG: usize = 12;
const TOKEN_BYTES: usize = SUBJECT + EXPIRY + TAG;

pub struct LinkSigner {
    mac: Hmac<Sha256>,
    legacy: DecodingKey,
    public_url: Url,
    report_ttl: chrono::Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("the link is not valid")]
    Invalid,
    #[error("the link has expired")]
    Expired,
}

impl LinkSigner {
    pub fn new(master_key: &MasterKey, public_url: Url) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master_key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"assessment-partner/links/v1");
        let key = mac.finalize().into_bytes();
        Self {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(&key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
            legacy: DecodingKey::from_secret(&key),
            public_url,
            report_ttl: chrono::Duration::from_std(DEFAULT_REPORT_LINK_TTL).unwrap_or(chrono::Duration::days(90)),
        }
    }

    /// How long report and recruitment links last (`AP_REPORT_LINK_TTL`).
    pub fn with_report_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.report_ttl = chrono::Duration::from_std(ttl).unwrap_or(self.report_ttl);
        self
    }

    pub fn report_ttl(&self) -> chrono::Duration {
        self.report_ttl
    }

    fn tag(&self, kind: LinkKind, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(kind.audience().as_bytes());
        mac.update(b"\0");
        mac.update(payload);
        mac
    }

    /// A token for `subject`; the same inputs give the same token, so a repeated order returns the
    /// same link. An expiry past 2106 is cut to the last second a token can carry.
    pub fn token(&self, kind: LinkKind, subject: Uuid, expires: DateTime<Utc>) -> String {
        let mut raw = [0u8; TOKEN_BYTES];
        raw[..SUBJECT].copy_from_slice(subject.as_bytes());
        let exp = u32::try_from(expires.timestamp().max(0)).unwrap_or(u32::MAX);
        raw[SUBJECT..SUBJECT + EXPIRY].copy_from_slice(&exp.to_be_bytes());
        let tag = self.tag(kind, &raw[..SUBJECT + EXPIRY]).finalize().into_bytes();
        raw[SUBJECT + EXPIRY..].copy_from_slice(&tag[..TAG]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// `path` (from `/`) on this server's public URL.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.as_str().trim_end_matches('/'))
    }

    pub fn url(&self, kind: LinkKind, subject: Uuid, expires: DateTime<Utc>) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}/{}/{}", kind.path(), self.token(kind, subject, expires))
    }

    /// The subject of a valid, unexpired token of this kind.
    pub fn verify(&self, kind: LinkKind, token: &str, now: DateTime<Utc>) -> Result<Uuid, LinkError> {
        let (subject, exp) = if token.contains('.') {
            self.verify_legacy(kind, token)?
        } else {
            let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| LinkError::Invalid)?;
            if raw.len() != TOKEN_BYTES {
                return Err(LinkError::Invalid);
            }
            let (payload, tag) = raw.split_at(SUBJECT + EXPIRY);
            self.tag(kind, payload)
                .verify_truncated_left(tag)
                .map_err(|_| LinkError::Invalid)?;
            let subject = Uuid::from_slice(&payload[..SUBJECT]).map_err(|_| LinkError::Invalid)?;
            let mut exp = [0u8; EXPIRY];
            exp.copy_from_slice(&payload[SUBJECT..]);
            (subject, i64::from(u32::from_be_bytes(exp)))
        };
        if exp <= now.timestamp() {
            return Err(LinkError::Expired);
        }
        Ok(subject)
    }

    /// A token of the earlier JWT form.
    fn verify_legacy(&self, kind: LinkKind, token: &str) -> Result<(Uuid, i64), LinkError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[kind.audience()]);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<LegacyClaims>(token, &self.legacy, &validation).map_err(|_| LinkError::Invalid)?;
        Ok((data.claims.sub, data.claims.exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use secrecy::SecretBox;

    fn signer(byte: u8) -> LinkSigner {
        LinkSigner::new(
            &SecretBox::new(Box::new([byte; 32])),
            Url::parse("https://ap.example.com/").unwrap(),
        )
    }

    #[test]
    fn links_round_trip_and_are_bound_to_kind_key_and_time() {
        let s = signer(1);
        let id = Uuid::now_v7();
        let now = Utc::now();
        let exp = now + Duration::days(14);
        let url = s.url(LinkKind::Assessment, id, exp);
        assert!(url.starts_with("https://ap.example.com/a/"));
        let token = url.rsplit('/').next().unwrap();
        assert_eq!(token.len(), 43, "{token}");
        assert_eq!(s.verify(LinkKind::Assessment, token, now), Ok(id));
        assert_eq!(s.token(LinkKind::Assessment, id, exp), token, "deterministic");
        let mut tampered = token.to_owned();
        tampered.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
        assert_eq!(s.verify(LinkKind::Assessment, &tampered, now), Err(LinkError::Invalid));
        assert_eq!(s.verify(LinkKind::Assessment, "", now), Err(LinkError::Invalid));
        assert_eq!(s.verify(LinkKind::Report, token, now), Err(LinkError::Invalid));
        assert_eq!(
            signer(2).verify(LinkKind::Assessment, token, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(s.verify(LinkKind::Assessment, token, exp), Err(LinkError::Expired));
    }
}

#[cfg(test)]
mod legacy_tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    #[test]
    fn links_of_the_earlier_jwt_form_still_open() {
        let master = secrecy::SecretBox::new(Box::new([3u8; 32]));
        let s = LinkSigner::new(&master, Url::parse("https://ap.example.com/").unwrap());
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[3u8; 32]).unwrap();
        mac.update(b"assessment-partner/links/v1");
        let key = mac.finalize().into_bytes();
        let id = Uuid::now_v7();
        let now = Utc::now();
        let claims = serde_json::json!({"sub": id, "aud": "candidate", "iat": now.timestamp(),
            "exp": now.timestamp() + 3600});
        let jwt =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&key)).unwrap();
        assert_eq!(s.verify(LinkKind::Assessment, &jwt, now), Ok(id));
        assert_eq!(s.verify(LinkKind::Report, &jwt, now), Err(LinkError::Invalid));
    }
}

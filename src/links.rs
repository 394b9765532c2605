//! Links we hand out: the candidate's assessment link, the report and the recruitment page.
//! Each is a JWT (HS256, key derived from the master key) with an audience per use and an expiry,
//! so a link cannot be used for another purpose or after its time.
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use url::Url;
use uuid::Uuid;

use crate::config::MasterKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// `/a/{token}`: the candidate takes the assessment.
    Assessment,
    /// `/r/{token}`: the result report.
    Report,
    /// `/recruitments/{token}`: a recruitment's candidates.
    Recruitment,
}

impl LinkKind {
    fn audience(self) -> &'static str {
        match self {
            Self::Assessment => "candidate",
            Self::Report => "report",
            Self::Recruitment => "recruitment",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Assessment => "a",
            Self::Report => "r",
            Self::Recruitment => "recruitments",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct LinkClaims {
    sub: Uuid,
    aud: String,
    iat: i64,
    exp: i64,
}

pub struct LinkSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_url: Url,
    report_ttl: chrono::Duration,
}

/// `AP_REPORT_LINK_TTL`'s default: report and recruitment links last 90 days.
pub const DEFAULT_REPORT_LINK_TTL: std::time::Duration = std::time::Duration::from_secs(90 * 24 * 3600);

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
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
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

    /// A token for `subject`; the same inputs give the same token, so a repeated order returns the
    /// same link.
    pub fn token(&self, kind: LinkKind, subject: Uuid, issued: DateTime<Utc>, expires: DateTime<Utc>) -> String {
        let claims = LinkClaims {
            sub: subject,
            aud: kind.audience().to_owned(),
            iat: issued.timestamp(),
            exp: expires.timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_else(|e| unreachable!("HS256 signing of plain claims cannot fail: {e}"))
    }

    pub fn url(&self, kind: LinkKind, subject: Uuid, issued: DateTime<Utc>, expires: DateTime<Utc>) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}/{}/{}", kind.path(), self.token(kind, subject, issued, expires))
    }

    /// The subject of a valid, unexpired token of this kind.
    pub fn verify(&self, kind: LinkKind, token: &str, now: DateTime<Utc>) -> Result<Uuid, LinkError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[kind.audience()]);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<LinkClaims>(token, &self.decoding, &validation).map_err(|_| LinkError::Invalid)?;
        if data.claims.exp <= now.timestamp() {
            return Err(LinkError::Expired);
        }
        Ok(data.claims.sub)
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
        let url = s.url(LinkKind::Assessment, id, now, exp);
        assert!(url.starts_with("https://ap.example.com/a/"));
        let token = url.rsplit('/').next().unwrap();
        assert_eq!(s.verify(LinkKind::Assessment, token, now), Ok(id));
        assert_eq!(s.token(LinkKind::Assessment, id, now, exp), token, "deterministic");
        assert_eq!(s.verify(LinkKind::Report, token, now), Err(LinkError::Invalid));
        assert_eq!(
            signer(2).verify(LinkKind::Assessment, token, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(s.verify(LinkKind::Assessment, token, exp), Err(LinkError::Expired));
    }
}

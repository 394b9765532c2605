//! Admin API tokens: HS256 JWTs with a required expiry and a space-separated `scope` claim,
//! minted by `assessment-partner token`.
use std::collections::BTreeSet;
use std::fmt;
use std::future::{Ready, ready};
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

const ISSUER: &str = "assessment-partner";
const AUDIENCE: &str = "assessment-partner-admin";

/// What an admin token may do. A `*.write` scope also grants the matching `*.read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    LensesRead,
    LensesWrite,
    IntegratorsRead,
    IntegratorsWrite,
    OrganizationsRead,
    OrganizationsWrite,
    AssessmentsRead,
    ResultsWrite,
    DeliveriesRead,
    DeliveriesWrite,
    /// Export everything held about a person.
    CandidatesRead,
    /// Erase a person's data.
    CandidatesErase,
    /// Read the audit log.
    AuditRead,
}

impl Scope {
    pub const ALL: [Scope; 13] = [
        Scope::LensesRead,
        Scope::LensesWrite,
        Scope::IntegratorsRead,
        Scope::IntegratorsWrite,
        Scope::OrganizationsRead,
        Scope::OrganizationsWrite,
        Scope::AssessmentsRead,
        Scope::ResultsWrite,
        Scope::DeliveriesRead,
        Scope::DeliveriesWrite,
        Scope::CandidatesRead,
        Scope::CandidatesErase,
        Scope::AuditRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::LensesRead => "lenses.read",
            Scope::LensesWrite => "lenses.write",
            Scope::IntegratorsRead => "integrators.read",
            Scope::IntegratorsWrite => "integrators.write",
            Scope::OrganizationsRead => "organizations.read",
            Scope::OrganizationsWrite => "organizations.write",
            Scope::AssessmentsRead => "assessments.read",
            Scope::ResultsWrite => "results.write",
            Scope::DeliveriesRead => "deliveries.read",
            Scope::DeliveriesWrite => "deliveries.write",
            Scope::CandidatesRead => "candidates.read",
            Scope::CandidatesErase => "candidates.erase",
            Scope::AuditRead => "audit.read",
        }
    }

    /// Whether holding `scopes` grants this one (a `*.write` scope grants its `*.read`).
    pub fn granted_by(self, scopes: &BTreeSet<Scope>) -> bool {
        scopes.contains(&self) || self.implied_by().is_some_and(|s| scopes.contains(&s))
    }

    fn implied_by(self) -> Option<Scope> {
        match self {
            Scope::LensesRead => Some(Scope::LensesWrite),
            Scope::IntegratorsRead => Some(Scope::IntegratorsWrite),
            Scope::OrganizationsRead => Some(Scope::OrganizationsWrite),
            Scope::DeliveriesRead => Some(Scope::DeliveriesWrite),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown scope '{s}' (known: {})", known.join(", "))
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    /// Not before: honoured when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    scope: String,
}

pub struct AdminTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    max_ttl: chrono::Duration,
}

/// Why a token cannot be minted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a token may live at most {max} (AP_ADMIN_TOKEN_MAX_TTL)")]
pub struct TooLong {
    pub max: String,
}

impl AdminTokens {
    pub fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            max_ttl: chrono::Duration::from_std(crate::config::DEFAULT_ADMIN_TOKEN_MAX_TTL)
                .unwrap_or(chrono::Duration::days(90)),
        }
    }

    /// Tokens that expire further ahead than `max_ttl` are refused (`AP_ADMIN_TOKEN_MAX_TTL`).
    pub fn with_max_ttl(mut self, max_ttl: std::time::Duration) -> Self {
        self.max_ttl = chrono::Duration::from_std(max_ttl).unwrap_or(self.max_ttl);
        self
    }

    /// Mints a token, refusing a lifetime beyond the maximum (the server would refuse it).
    pub fn mint_checked(
        &self,
        subject: &str,
        scopes: &[Scope],
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<String, TooLong> {
        if ttl > self.max_ttl {
            let max = self.max_ttl.to_std().unwrap_or_default();
            return Err(TooLong {
                max: humantime::format_duration(max).to_string(),
            });
        }
        Ok(self.mint(subject, scopes, now, ttl))
    }

    pub fn mint(&self, subject: &str, scopes: &[Scope], now: DateTime<Utc>, ttl: chrono::Duration) -> String {
        self.mint_not_before(subject, scopes, now, None, ttl)
    }

    /// A token that is valid only from `not_before` on (the `nbf` claim), if given.
    pub fn mint_not_before(
        &self,
        subject: &str,
        scopes: &[Scope],
        now: DateTime<Utc>,
        not_before: Option<DateTime<Utc>>,
        ttl: chrono::Duration,
    ) -> String {
        let scope = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        let claims = Claims {
            sub: subject.to_owned(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            nbf: not_before.map(|t| t.timestamp()),
            scope,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_else(|e| unreachable!("HS256 signing of plain claims cannot fail: {e}"))
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AdminAuth, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.validate_exp = false; // checked below against the injected clock
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| ApiError::Unauthorized(format!("The bearer token is not valid: {e}.")))?;
        if data.claims.exp <= now.timestamp() {
            return Err(ApiError::Unauthorized("The bearer token has expired.".into()));
        }
        if data.claims.exp > (now + self.max_ttl).timestamp() {
            return Err(ApiError::Unauthorized(
                "The bearer token expires too far ahead (beyond AP_ADMIN_TOKEN_MAX_TTL); mint a shorter-lived one."
                    .into(),
            ));
        }
        if data.claims.nbf.is_some_and(|nbf| nbf > now.timestamp()) {
            return Err(ApiError::Unauthorized(
                "The bearer token is not valid yet (nbf).".into(),
            ));
        }
        let scopes = data
            .claims
            .scope
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        Ok(AdminAuth {
            subject: data.claims.sub,
            scopes,
        })
    }
}

/// Who made an authenticated admin request (the token's `sub`), kept in the request's
/// extensions for the audit log.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

/// An authenticated admin; handlers ask it for the scope they need.
#[derive(Debug)]
pub struct AdminAuth {
    pub subject: String,
    scopes: BTreeSet<Scope>,
}

impl AdminAuth {
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if scope.granted_by(&self.scopes) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("This token lacks the '{scope}' scope.")))
        }
    }
}

impl FromRequest for AdminAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState missing")))?;
            let tokens = req
                .app_data::<web::Data<AdminTokens>>()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AdminTokens missing")))?;
            let value = req
                .headers()
                .get(header::AUTHORIZATION)
                .ok_or_else(|| ApiError::Unauthorized("The Authorization header is missing.".into()))?
                .to_str()
                .map_err(|_| ApiError::Unauthorized("The Authorization header is not valid text.".into()))?;
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .ok_or_else(|| ApiError::Unauthorized("The Authorization header must be 'Bearer <token>'.".into()))?;
            let auth = tokens.verify(token.trim(), state.clock.now())?;
            tracing::Span::current().record("admin", tracing::field::display(&auth.subject));
            req.extensions_mut().insert(Actor(auth.subject.clone()));
            Ok(auth)
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &str) -> AdminTokens {
        AdminTokens::new(&SecretString::from(secret.to_owned()))
    }

    #[test]
    fn scopes_expiry_and_key_are_enforced() {
        let t = tokens("a-secret-that-is-long-enough-for-hs256");
        let now = Utc::now();
        let token = t.mint("ops", &[Scope::LensesWrite], now, chrono::Duration::hours(1));
        let auth = t.verify(&token, now).unwrap();
        assert!(auth.require(Scope::LensesWrite).is_ok());
        assert!(auth.require(Scope::LensesRead).is_ok(), "write implies read");
        assert!(matches!(
            auth.require(Scope::AssessmentsRead),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            t.verify(&token, now + chrono::Duration::hours(1)),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            tokens("another-secret-that-is-long-enough").verify(&token, now),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(t.verify("garbage", now), Err(ApiError::Unauthorized(_))));
    }

    #[test]
    fn scope_names_parse() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>().unwrap(), s);
        }
        assert!("root".parse::<Scope>().is_err());
    }
}

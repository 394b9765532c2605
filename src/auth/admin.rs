//! Admin API tokens: HS256 JWTs with a required expiry and a space-separated `scope` claim,
//! minted by `assessment-partner token`.
use std::collections::BTreeSet;
use std::fmt;
use std::future::{Ready, ready};
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
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
}

impl Scope {
    pub const ALL: [Scope; 10] = [
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
        }
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
    scope: String,
}

pub struct AdminTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl AdminTokens {
    pub fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
        }
    }

    pub fn mint(&self, subject: &str, scopes: &[Scope], now: DateTime<Utc>, ttl: chrono::Duration) -> String {
        let scope = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        let claims = Claims {
            sub: subject.to_owned(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
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

/// An authenticated admin; handlers ask it for the scope they need.
#[derive(Debug)]
pub struct AdminAuth {
    pub subject: String,
    scopes: BTreeSet<Scope>,
}

impl AdminAuth {
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        let granted = self.scopes.contains(&scope) || scope.implied_by().is_some_and(|s| self.scopes.contains(&s));
        if granted {
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
            let auth = state.admin_tokens.verify(token.trim(), state.clock.now())?;
            tracing::Span::current().record("admin", tracing::field::display(&auth.subject));
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

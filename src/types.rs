//! Parsed values: once a request's strings become these, the rest of the code can trust them.
use std::fmt;

use serde::Serialize;

/// An e-mail address, trimmed and lower-cased (one person is one candidate per organisation).
/// Internationalised addresses (RFC 6531, `åsa@example.se`) are accepted; a domain must have a dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        if s.len() > 254 {
            return Err("must be at most 254 characters");
        }
        let valid = email_address::EmailAddress::parse_with_options(
            s,
            email_address::Options::default().without_display_text(),
        )
        .is_ok_and(|e| e.domain().contains('.') && !e.domain().starts_with('['));
        if !valid {
            return Err("must be a valid e-mail address");
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A locale tag of the form `ll-CC` (`en-US`, `nn-NO`). Whether it is offered is a separate check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Locale(String);

impl Locale {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let ok = match s.split_once('-') {
            Some((lang, region)) => {
                (2..=3).contains(&lang.len())
                    && lang.bytes().all(|b| b.is_ascii_lowercase())
                    && region.len() == 2
                    && region.bytes().all(|b| b.is_ascii_uppercase())
            }
            None => false,
        };
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err("must be a locale like en-US")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An absolute http(s) URL with a host and no credentials, at most 2048 characters:
/// what a callback target must be. (Whether it may point at a private network is decided
/// when sending.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct HttpUrl(String);

impl HttpUrl {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.len() > 2048 {
            return Err("must be at most 2048 characters");
        }
        // The URL parser would drop these silently; what is stored is what was sent.
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces or control characters");
        }
        let url = url::Url::parse(s).map_err(|_| "must be an absolute URL")?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http or https URL");
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must have a host");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain credentials");
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment");
        }
        Ok(Self(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A colour as `#rrggbb` (hex digits, either case), kept lower-case: safe to put in a style
/// sheet as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct HexColor(String);

impl HexColor {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        match s.strip_prefix('#') {
            Some(hex) if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Self(s.to_ascii_lowercase()))
            }
            _ => Err("must be a colour as #rrggbb"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An identifier chosen by the caller (`resultId`, `recruitment.id`): 1 to 255 characters,
/// no control characters, surrounding white space not allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.is_empty() || s.len() > 255 {
            return Err("must be 1 to 255 characters");
        }
        if s.trim() != s || s.chars().any(char::is_control) {
            return Err("must not contain control characters or surrounding spaces");
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(Email::parse(" Ada@Example.com ").unwrap().as_str(), "ada@example.com");
        assert_eq!(Email::parse("åsa@example.se").unwrap().as_str(), "åsa@example.se");
        for bad in ["", "no-at", "a@", "@b.c", "a b@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locales() {
        for good in ["en-US", "sv-SE", "nn-NO", "fil-PH"] {
            assert!(Locale::parse(good).is_ok(), "{good}");
        }
        for bad in ["en", "EN-us", "en_US", "en-USA", "", "en-"] {
            assert!(Locale::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert!(HttpUrl::parse("https://ats.example.com/r/1?x=1").is_ok());
        for bad in [
            "ftp://x.y/",
            "/relative",
            "https://user:pw@x.y/",
            "javascript:alert(1)",
            "https://x.y/#f",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn external_ids() {
        assert!(ExternalId::parse("73273ca0-0253-4d5f-8f91-d39e298bd351").is_ok());
        for bad in ["", " x", "x\n", &"a".repeat(256)] {
            assert!(ExternalId::parse(bad).is_err(), "{bad:?}");
        }
    }
}

/// Declares a typed id: a UUID naming one kind of row, so that one kind cannot be passed where
/// another is expected. Stored and serialized as the UUID itself.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
            sea_orm::DeriveValueType,
        )]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new id: UUIDv7, ordered by creation.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }
    };
}

uuid_id!(
    /// An assessment's id (`assessments.id`).
    AssessmentId
);
uuid_id!(
    /// An organisation's id (`organizations.id`).
    OrganizationId
);

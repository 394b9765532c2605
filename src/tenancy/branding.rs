//! What an employer shows its candidates: the brand (display name, accent colour, privacy
//! policy link, support address, logo) as the candidate pages, the e-mails and the report read
//! it, and the check of an uploaded logo's bytes against its declared type.
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::entity::organization;
use crate::types::OrganizationId;

/// The largest logo accepted.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// The kinds of logo accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoType {
    Png,
    Svg,
}

impl LogoType {
    /// The declared `Content-Type` (parameters ignored), when it is one we take.
    pub fn declared(content_type: &str) -> Option<Self> {
        match content_type
            .split(';')
            .next()
            .map(|t| t.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("image/png") => Some(Self::Png),
            Some("image/svg+xml") => Some(Self::Svg),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Svg => "image/svg+xml",
        }
    }

    /// Whether `bytes` are what this type says: a PNG's signature and header chunk, or an
    /// XML document (well-formed to its end) whose root element is `svg`.
    pub fn matches(self, bytes: &[u8]) -> bool {
        match self {
            Self::Png => bytes.len() > 16 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
            Self::Svg => is_svg(bytes),
        }
    }
}

fn is_svg(bytes: &[u8]) -> bool {
    use quick_xml::events::Event;
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut root = None;
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Err(_) => return false,
            Ok(Event::Eof) => return root == Some(true) && depth == 0,
            Ok(Event::Start(e)) => {
                if depth == 0 {
                    if root.is_some() {
                        return false; // a second root element
                    }
                    root = Some(e.local_name().as_ref() == b"svg");
                }
                depth += 1;
            }
            Ok(Event::Empty(e)) if depth == 0 => {
                if root.is_some() {
                    return false;
                }
                root = Some(e.local_name().as_ref() == b"svg");
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Text(t)) if depth == 0 => {
                // Only white space may stand outside the root element.
                if !t.iter().all(u8::is_ascii_whitespace) {
                    return false;
                }
            }
            Ok(_) => {}
        }
    }
}

/// What candidates see of an organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Brand {
    /// The display name, else the organisation's name.
    pub name: String,
    /// `#rrggbb`.
    pub accent_color: Option<String>,
    pub privacy_policy_url: Option<String>,
    pub support_email: Option<String>,
    /// The logo's path on this server (`/branding/{id}/logo?v=<sha256>`), when there is one.
    pub logo_path: Option<String>,
}

/// Where an organisation's logo of this version is served.
pub fn logo_path(organization: OrganizationId, sha256: &str) -> String {
    format!("/branding/{organization}/logo?v={}", &sha256[..sha256.len().min(16)])
}

impl Brand {
    /// The brand of `org`.
    pub fn of(org: &organization::Model) -> Self {
        Self {
            name: org.branding_display_name.clone().unwrap_or_else(|| org.name.clone()),
            accent_color: org.branding_accent_color.clone(),
            privacy_policy_url: org.branding_privacy_policy_url.clone(),
            support_email: org.branding_support_email.clone(),
            logo_path: org.branding_logo_sha256.as_deref().map(|sha| logo_path(org.id, sha)),
        }
    }

    /// Whether the organisation set anything of its own (else the pages keep their plain look).
    pub fn is_set(org: &organization::Model) -> bool {
        org.branding_logo_sha256.is_some()
            || org.branding_display_name.is_some()
            || org.branding_accent_color.is_some()
            || org.branding_privacy_policy_url.is_some()
            || org.branding_support_email.is_some()
    }

    /// The brand of organisation `id`: `None` when there is no such organisation or it has no
    /// branding.
    pub async fn load<C: ConnectionTrait>(db: &C, id: OrganizationId) -> Result<Option<Self>, DbErr> {
        let Some(org) = organization::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        Ok(Self::is_set(&org).then(|| Self::of(&org)))
    }

    /// The brand of `org` when it has one.
    pub fn of_branded(org: &organization::Model) -> Option<Self> {
        Self::is_set(org).then(|| Self::of(org))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

    #[test]
    fn the_bytes_must_be_what_the_type_says() {
        assert!(LogoType::Png.matches(PNG));
        assert!(!LogoType::Svg.matches(PNG));
        let svg = br#"<?xml version="1.0"?><!-- a logo --><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect width="1" height="1"/></svg>"#;
        assert!(LogoType::Svg.matches(svg));
        assert!(!LogoType::Png.matches(svg));
        assert!(LogoType::Svg.matches(b"<svg xmlns='http://www.w3.org/2000/svg'/>\n"));
        for not_svg in [
            &b"<html><body>hi</body></html>"[..],
            b"<svg><g></svg>",
            b"<svg></svg><svg></svg>",
            b"text <svg></svg>",
            b"\xff\xfe<svg/>",
            b"",
        ] {
            assert!(!LogoType::Svg.matches(not_svg), "{}", String::from_utf8_lossy(not_svg));
        }
    }

    #[test]
    fn declared_types_ignore_parameters_and_case() {
        assert_eq!(LogoType::declared("image/PNG"), Some(LogoType::Png));
        assert_eq!(LogoType::declared("image/svg+xml; charset=utf-8"), Some(LogoType::Svg));
        assert_eq!(LogoType::declared("text/html"), None);
    }
}

//! The shapes of the seed file, which the admin API's PUT bodies share, and the views the admin
//! API answers with (secrets never included).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::schema::string_enum;

fn competency_key(key: &str) -> Result<(), ValidationError> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !key.starts_with('-')
        && !key.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("key").with_message("must be 1 to 64 of a-z, 0-9 and inner '-'".into()))
    }
}

/// The document's schema for a competency key: one of the catalogue's.
fn catalogue_keys() -> utoipa::openapi::Object {
    string_enum(
        crate::catalog::Catalog::get()
            .competencies
            .iter()
            .map(|c| c.key.clone()),
    )
}

/// The document's schema for a custom field's type.
fn custom_field_types() -> utoipa::openapi::Object {
    string_enum(CUSTOM_FIELD_TYPES)
}

/// The body of `PUT /admin/v1/locales`: at least one locale, each one the competency catalogue
/// has statements in.
pub struct LocaleCodes;

impl utoipa::PartialSchema for LocaleCodes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ArrayBuilder::new()
            .items(string_enum(crate::catalog::Catalog::get().locales.iter().cloned()))
            .min_items(Some(1))
            .examples([serde_json::json!(["en-US", "sv-SE"])])
            .into()
    }
}

impl utoipa::ToSchema for LocaleCodes {}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompetencySpec {
    /// A competency of the catalogue.
    #[validate(custom(function = "competency_key"))]
    #[schema(example = "driving-leadership", schema_with = catalogue_keys)]
    pub key: String,
    /// Relative weight in the overall score.
    #[validate(range(min = 1, max = 100, message = "must be 1 to 100"))]
    #[schema(minimum = 1, maximum = 100)]
    #[schema(example = 2)]
    pub weight: i32,
    /// Display name; the competency catalogue's name when absent.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    #[schema(example = "Driving Leadership")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LensSpec {
    /// Required in the seed file; in a PUT it may be left out (the path names it) or must match.
    pub id: Option<Uuid>,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    #[schema(example = "General Performance")]
    pub name: String,
    #[serde(default)]
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[schema(max_length = 2000)]
    pub description: String,
    #[validate(length(min = 1, max = 32, message = "must have 1 to 32 competencies"), nested)]
    #[schema(min_items = 1, max_items = 32)]
    pub competencies: Vec<CompetencySpec>,
}

pub use crate::secrets::CallbackAuth;

/// The view of stored callback credentials (admin answers).
impl CallbackAuth {
    /// What may be shown: the type and the non-secret fields.
    pub fn view(&self) -> CallbackAuthView {
        let mut view = CallbackAuthView {
            kind: self.type_name().to_owned(),
            username: None,
            token_url: None,
            client_id: None,
            scope: None,
        };
        match self {
            CallbackAuth::Basic { username, .. } => view.username = Some(username.clone()),
            CallbackAuth::OAuth2ClientCredentials {
                token_url,
                client_id,
                scope,
                ..
            } => {
                view.token_url = Some(token_url.clone());
                view.client_id = Some(client_id.clone());
                view.scope = scope.clone();
            }
            CallbackAuth::None | CallbackAuth::ApiKey { .. } => {}
        }
        view
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegratorSpec {
    pub id: Option<Uuid>,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    #[schema(example = "Example ATS")]
    pub name: String,
    /// The integrator-secret that signs requests. Required when the integrator is created;
    /// left out on update it stays as it is. Write-only.
    #[validate(length(min = 16, max = 512, message = "must be 16 to 512 characters"))]
    #[schema(min_length = 16, max_length = 512)]
    pub secret: Option<String>,
    /// Default true. False only for sandboxes.
    pub require_signature: Option<bool>,
    /// May this integrator use `assessment-link-order`? Default: true in development, false in production.
    pub link_orders_allowed: Option<bool>,
    /// Push `declined` and `expired` to `resultUpdateUrl` as `{"resultId", "status"}`, besides
    /// results? Default false (receivers that expect results only see results).
    pub status_pushes: Option<bool>,
    /// Default `{"type": "none"}` on create; left out on update it stays as it is. Write-only secrets.
    pub callback_auth: Option<CallbackAuth>,
    /// Its own request rate limit for each of its organisations (Recruitment API per
    /// organisation, Ashby calls per partner key); `null` or left out on create: the server's
    /// (`AP_RATE_LIMIT_PER_SECOND`, `AP_RATE_LIMIT_BURST`). Left out on update it stays as it is;
    /// `null` goes back to the server's.
    #[serde(
        default,
        deserialize_with = "crate::extract::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<RateLimitSpec>)]
    pub rate_limit: Option<Option<RateLimitSpec>>,
    /// At most this many delivery attempts per second (1 to 10000) to its targets, from each
    /// instance, besides the per-target limits; `null` or left out on create: no such cap. Left
    /// out on update it stays as it is; `null` removes it. Applies within 30 s.
    #[serde(
        default,
        deserialize_with = "crate::extract::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    pub max_deliveries_per_second: Option<Option<u32>>,
}

/// A request rate: `perSecond` on average, up to `burst` at once (a token bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitSpec {
    #[schema(minimum = 1, maximum = 1000000, example = 20)]
    pub per_second: u32,
    #[schema(minimum = 1, maximum = 1000000, example = 50)]
    pub burst: u32,
}

/// One value of a select field, as Ashby shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct CustomFieldValue {
    pub key: String,
    pub value: String,
}

/// A custom field offered to Ashby through `assessment.customField.list`. Casing as Ashby's
/// (`possible_values`, `isRequired`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Validate, ToSchema)]
pub struct CustomFieldSpec {
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(min_length = 1, max_length = 100)]
    #[schema(example = "department")]
    pub id: String,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    #[schema(example = "Department")]
    pub name: String,
    /// String, Date, DateRange, Number, ValueSelect, MultiValueSelect, Boolean, LongText, Email,
    /// Phone, Score, SocialLink, Url, Currency or Location.
    #[serde(rename = "type")]
    #[schema(example = "ValueSelect", schema_with = custom_field_types)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub possible_values: Option<Vec<CustomFieldValue>>,
    #[serde(rename = "isRequired", default)]
    pub is_required: bool,
}

pub const CUSTOM_FIELD_TYPES: [&str; 15] = [
    "String",
    "Date",
    "DateRange",
    "Number",
    "ValueSelect",
    "MultiValueSelect",
    "Boolean",
    "LongText",
    "Email",
    "Phone",
    "Score",
    "SocialLink",
    "Url",
    "Currency",
    "Location",
];

#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AshbySpec {
    /// The key Ashby sends us (HTTP Basic). Generated and returned once when absent on create.
    #[validate(length(min = 16, max = 512, message = "must be 16 to 512 characters"))]
    #[schema(min_length = 16, max_length = 512)]
    pub partner_api_key: Option<String>,
    /// The customer's Ashby API key, used to call `assessment.update`. Write-only.
    #[validate(length(min = 1, max = 512, message = "must be 1 to 512 characters"))]
    #[schema(min_length = 1, max_length = 512)]
    pub api_key: Option<String>,
    /// Overrides `AP_ASHBY_BASE_URL` for this organisation: an absolute http(s) URL.
    #[schema(pattern = "^[Hh][Tt][Tt][Pp][Ss]?://", max_length = 2048)]
    pub base_url: Option<String>,
    /// Offered through `assessment.customField.list`; empty by default. Left out on update: kept.
    #[validate(nested)]
    pub custom_fields: Option<Vec<CustomFieldSpec>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSpec {
    pub id: Option<Uuid>,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    #[schema(example = "Example AB")]
    pub name: String,
    pub integrator_id: Uuid,
    /// Identifies the organisation on the Recruitment API. Generated and returned once when
    /// absent on create; left out on update it stays as it is. Stored hashed.
    #[validate(length(min = 16, max = 512, message = "must be 16 to 512 characters"))]
    #[schema(min_length = 16, max_length = 512)]
    pub provider_key: Option<String>,
    /// The lenses this organisation may order. Replaces the previous list.
    #[serde(default)]
    pub lens_ids: Vec<Uuid>,
    #[validate(nested)]
    pub ashby: Option<AshbySpec>,
    /// A sandbox organisation: invitation e-mails are rendered and logged, never sent, and its
    /// integrator may drive assessments to an outcome (`POST /recruitment/v1/sandbox/results`).
    /// Default false; left out on update it stays as it is.
    pub sandbox: Option<bool>,
    /// The language of invitations for Ashby starts (which carry no locale): one of the offered
    /// locales. Default `en-US`; left out on update it stays as it is.
    #[schema(example = "sv-SE")]
    pub default_locale: Option<String>,
    /// What candidates see of the employer: left out on update it stays as it is; given, it
    /// replaces the whole branding (a field left out is cleared). The logo is uploaded apart
    /// (`PUT /admin/v1/organizations/{id}/logo`).
    #[validate(nested)]
    pub branding: Option<BrandingSpec>,
}

/// An organisation's branding: every field optional; without any, today's look.
#[derive(Debug, Clone, Default, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrandingSpec {
    /// The employer's name as candidates see it (pages, e-mails, the report); default `name`.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "Example", min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
    /// Buttons, links and the page's top rule: `#rrggbb`.
    #[schema(example = "#0b5cad", pattern = "^#[0-9A-Fa-f]{6}$")]
    pub accent_color: Option<String>,
    /// Linked from every candidate page's footer: an absolute http(s) URL.
    #[schema(
        example = "https://example.com/privacy",
        pattern = "^[Hh][Tt][Tt][Pp][Ss]?://",
        max_length = 2048
    )]
    pub privacy_policy_url: Option<String>,
    /// Where candidates ask for help, in every candidate page's footer.
    #[schema(example = "careers@example.com", format = Email, max_length = 254)]
    pub support_email: Option<String>,
}

/// An organisation's branding as stored, with where its logo is served.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrandingView {
    pub display_name: Option<String>,
    pub accent_color: Option<String>,
    pub privacy_policy_url: Option<String>,
    pub support_email: Option<String>,
    /// The uploaded logo, as served (`GET /branding/{organizationId}/logo?v=<sha256>`); null
    /// without one.
    pub logo_url: Option<String>,
}

/// The seed file (`assessment-partner seed --file`).
#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedFile {
    #[serde(default)]
    pub locales: Vec<String>,
    #[serde(default)]
    #[validate(nested)]
    pub lenses: Vec<LensSpec>,
    #[serde(default)]
    #[validate(nested)]
    pub integrators: Vec<IntegratorSpec>,
    #[serde(default)]
    #[validate(nested)]
    pub organizations: Vec<OrganizationSpec>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompetencyView {
    pub key: String,
    pub name: String,
    pub weight: i32,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LensView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub competencies: Vec<CompetencyView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallbackAuthView {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegratorView {
    pub id: Uuid,
    pub name: String,
    pub require_signature: bool,
    pub link_orders_allowed: bool,
    pub status_pushes: bool,
    pub callback_auth: CallbackAuthView,
    /// Its own rate limit; `null`: the server's.
    pub rate_limit: Option<RateLimitSpec>,
    /// Its cap on delivery attempts per second; `null`: none.
    pub max_deliveries_per_second: Option<u32>,
    /// After a rotation: when the secret it replaced stops (or stopped) working.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AshbyView {
    pub has_partner_api_key: bool,
    pub has_api_key: bool,
    pub base_url: Option<String>,
    pub custom_fields: Vec<CustomFieldSpec>,
    /// After a rotation: when the partner key it replaced stops (or stopped) working.
    pub previous_partner_api_key_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
    pub integrator_id: Uuid,
    pub lens_ids: Vec<Uuid>,
    pub ashby: Option<AshbyView>,
    pub sandbox: bool,
    pub default_locale: String,
    pub branding: BrandingView,
    /// After a rotation: when the provider key it replaced stops (or stopped) working.
    pub previous_provider_key_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Present only in the answer to the PUT that generated it: store it now, it is not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_provider_key: Option<String>,
    /// Present only in the answer to the PUT that generated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_partner_api_key: Option<String>,
}

/// A key rotation: the new value takes over now, and the one it replaces keeps working for
/// `overlap`. Every field may be left out, and so may the whole body.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotationRequest {
    /// How long the replaced value keeps working: a whole number of `ms`, `s`, `m`, `h` or `d`
    /// (`24h`, `90m`; `0s` ends it at once), at most `30d`. Default `AP_KEY_ROTATION_OVERLAP`
    /// (24h).
    #[schema(example = "24h", pattern = "^[0-9]{1,9}(ms|s|m|h|d)$")]
    pub overlap: Option<String>,
    /// The new value; generated when left out.
    #[validate(length(min = 16, max = 512, message = "must be 16 to 512 characters"))]
    #[schema(min_length = 16, max_length = 512)]
    pub secret: Option<String>,
}

/// A new integrator signing secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRotated {
    /// The new secret. Shown once; requests may be signed with it now, and result pushes carry
    /// a signature made with it from now on.
    pub secret: String,
    /// Until then the previous secret is accepted too, and pushes carry a signature made with
    /// each (newest first).
    pub previous_secret_expires_at: DateTime<Utc>,
}

/// A new provider key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderKeyRotated {
    /// The new key. Shown once; it works now.
    pub provider_key: String,
    /// Until then the previous key works too.
    pub previous_key_expires_at: DateTime<Utc>,
}

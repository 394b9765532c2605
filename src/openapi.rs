//! The OpenAPI document, generated from the handlers' annotations. `openapi/openapi.json` is
//! this document as printed by `assessment-partner openapi`; a test fails when it is stale.
use actix_web::{HttpResponse, get, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::admin::deliveries;
use crate::admin::personal_data;
use crate::admin::routes as admin;
use crate::ashby::dto as ashby_dto;
use crate::ashby::routes as ashby_routes;
use crate::assessment::personal_data as pd;
use crate::error::{FieldError, Problem};
use crate::recruitment::{dto, routes as recruitment};
use crate::tenancy::spec;
use crate::{assessment, health};

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "provider_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "provider-key",
                "Identifies the organisation.",
            ))),
        );
        components.add_security_scheme(
            "signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Signature",
                "t=<unix seconds>,signature=<hex HMAC-SHA256(integrator-secret, t + \".\" + raw body)>; \
                 several signature= entries allowed; at most 300 s of skew either way.",
            ))),
        );
        components.add_security_scheme(
            "ashby_partner_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The partner key we issued to the organisation, as the Basic user name or the password (either is accepted).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("HS256 JWT minted by `assessment-partner token --scope …`"))
                    .build(),
            ),
        );
    }
}

/// The answers every operation of a surface can give, whatever its handler: missing or wrong
/// credentials, a body that is not JSON or too large, a malformed id or query. Added here once
/// (as shared `components/responses`) so no operation's list can forget one.
struct StandardResponses;

/// (name, status, description, body schema, content type)
const SHARED_RESPONSES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "Unauthorized",
        "401",
        "Missing, malformed or unknown credentials",
        "Problem",
        PROBLEM_JSON,
    ),
    (
        "Forbidden",
        "403",
        "The credentials lack the scope this operation needs",
        "Problem",
        PROBLEM_JSON,
    ),
    (
        "BadRequest",
        "400",
        "The body is not one JSON value of the documented shape",
        "Problem",
        PROBLEM_JSON,
    ),
    (
        "PayloadTooLarge",
        "413",
        "The body is larger than the server accepts (64 KiB; a logo 256 KiB)",
        "Problem",
        PROBLEM_JSON,
    ),
    (
        "UnsupportedMediaType",
        "415",
        "The body is not sent as `application/json`",
        "Problem",
        PROBLEM_JSON,
    ),
    (
        "ValidationFailed",
        "422",
        "A field, query parameter or path id is invalid; `errors` names each",
        "Problem",
        PROBLEM_JSON,
    ),
    (
        "AshbyUnauthorized",
        "401",
        "Missing or unknown partner key",
        "ErrorEnvelope",
        "application/json",
    ),
    (
        "AshbyBadRequest",
        "400",
        "The body is not one JSON object of the documented shape (code `invalid_request`)",
        "ErrorEnvelope",
        "application/json",
    ),
    (
        "RateLimited",
        "429",
        "Over the organisation's rate limit, or too many failed attempts to authenticate from this address (`type` ends `/rate-limited`); wait `Retry-After` seconds. Nothing was done",
        "Problem",
        PROBLEM_JSON,
    ),
    (
        "AshbyRateLimited",
        "429",
        "Over the partner key's rate limit, or too many failed attempts to authenticate from this address (code `rate_limited`); wait `Retry-After` seconds. Nothing was done",
        "ErrorEnvelope",
        "application/json",
    ),
    (
        "AshbyUnprocessable",
        "422",
        "Something a recruiter can fix, such as a NUL character in a string; the message is shown in Ashby",
        "UserMessage",
        "application/json",
    ),
];

const PROBLEM_JSON: &str = "application/problem+json";

/// The fields of draft-ietf-httpapi-ratelimit-headers on a limited surface's answers, and
/// `Retry-After` on a refusal.
fn rate_limit_fields(refusal: bool) -> std::collections::BTreeMap<String, utoipa::openapi::Header> {
    use utoipa::openapi::{HeaderBuilder, ObjectBuilder, schema::Type};
    let header = |description: &str, kind: Type| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(kind))
            .description(Some(description))
            .build()
    };
    let mut fields = std::collections::BTreeMap::from([
        (
            "RateLimit-Policy".to_owned(),
            header(
                "The bucket this answer was counted in: its name (`organization`, `partner-key` or `failed-auth`), its size `q` and the seconds `w` an empty one takes to fill, e.g. `\"organization\";q=50;w=3`",
                Type::String,
            ),
        ),
        (
            "RateLimit".to_owned(),
            header(
                "What is left in that bucket `r` and the seconds `t` until it is full (or, refused, until a request fits), e.g. `\"organization\";r=49;t=1`",
                Type::String,
            ),
        ),
    ]);
    if refusal {
        fields.insert(
            "Retry-After".to_owned(),
            header(
                "Whole seconds to wait before a request fits (at least 1)",
                Type::Integer,
            ),
        );
    }
    fields
}

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, _, description, schema, content_type) in SHARED_RESPONSES {
            let mut response = ResponseBuilder::new()
                .description(*description)
                .content(
                    *content_type,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(*schema)))
                        .build(),
                )
                .build();
            if name.ends_with("RateLimited") {
                response.headers = rate_limit_fields(true);
            }
            components.responses.insert((*name).to_owned(), response.into());
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ashby = path.starts_with("/ashby/");
            let admin = path.starts_with("/admin/");
            for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
            {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = operation.request_body.is_some();
                let params = operation.parameters.as_deref().unwrap_or_default();
                let has_query = params
                    .iter()
                    .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query));
                let has_id = params
                    .iter()
                    .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path));
                let mut wanted: Vec<&str> = Vec::new();
                if ashby || path.starts_with("/recruitment/") {
                    // A limited surface: every answer of its own carries the fields.
                    for response in operation.responses.responses.values_mut() {
                        if let utoipa::openapi::RefOr::T(response) = response {
                            response.headers.extend(rate_limit_fields(false));
                        }
                    }
                    wanted.push(if ashby { "AshbyRateLimited" } else { "RateLimited" });
                }
                if ashby {
                    wanted.push("AshbyUnauthorized");
                    // assessment.start answers an unreadable body with a 422 message Ashby shows.
                    if operation.operation_id.as_deref() != Some("ashby_assessment_start") {
                        wanted.push("AshbyBadRequest");
                    }
                    wanted.push("AshbyUnprocessable");
                } else {
                    if secured {
                        wanted.push("Unauthorized");
                    }
                    if admin {
                        wanted.push("Forbidden");
                    }
                    if has_body {
                        wanted.extend([
                            "BadRequest",
                            "PayloadTooLarge",
                            "UnsupportedMediaType",
                            "ValidationFailed",
                        ]);
                    }
                    // Admin ids are UUIDs; a malformed one is named in a 422.
                    if has_query || (admin && has_id) {
                        wanted.push("ValidationFailed");
                    }
                }
                for name in wanted {
                    let Some((_, status, ..)) = SHARED_RESPONSES.iter().find(|r| r.0 == name) else {
                        continue;
                    };
                    operation
                        .responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| Ref::new(format!("#/components/responses/{name}")).into());
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "assessment-partner",
        description = "Assessment provider server: the Recruitment API for integrators, the Ashby assessments partner endpoints, and the admin API.\n\n\
            Rules for every JSON body: it is one JSON value with nothing after it (else 400), and no string or key holds \
            the NUL character U+0000 (else 422 naming the field). A request to a documented path with another method \
            answers 405 with `Allow`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        recruitment::get_config,
        recruitment::post_assessment_order,
        recruitment::post_assessment_link_order,
        recruitment::get_result,
        recruitment::post_sandbox_result,
        recruitment::post_test_result,
        admin::list_lenses,
        admin::get_lens,
        admin::put_lens,
        admin::list_integrators,
        admin::get_integrator,
        admin::put_integrator,
        admin::rotate_integrator_secret,
        admin::list_organizations,
        admin::get_organization,
        admin::put_organization,
        admin::rotate_partner_key,
        admin::rotate_provider_key,
        crate::admin::branding::put_logo,
        admin::get_locales,
        admin::put_locales,
        admin::list_assessments,
        deliveries::post_result,
        deliveries::list_deliveries,
        deliveries::get_delivery,
        deliveries::replay_delivery,
        deliveries::reveal_delivery,
        deliveries::list_targets,
        personal_data::post_erasure,
        personal_data::get_data_subject,
        personal_data::list_audit_events,
        ashby_routes::list,
        ashby_routes::start_assessment,
        ashby_routes::cancel_assessment,
        ashby_routes::custom_fields,
        health::live,
        health::ready,
    ),
    components(schemas(
        Problem, FieldError,
        dto::ConfigResponse, dto::LensSummary, dto::AssessmentOrderRequest, dto::RecruitmentDetails,
        dto::CandidateDetails, dto::AssessmentLinkResponse, dto::ResultBody, dto::ResultStatusBody,
        dto::SandboxResultRequest, assessment::sandbox::Outcome, dto::TestResultRequest, dto::TestResultResponse,
        spec::LensSpec, spec::CompetencySpec, spec::IntegratorSpec, spec::CallbackAuth, spec::OrganizationSpec,
        spec::AshbySpec, spec::LensView, spec::CompetencyView, spec::IntegratorView, spec::RateLimitSpec,
        spec::CallbackAuthView, spec::OrganizationView, spec::AshbyView, spec::BrandingSpec, spec::BrandingView,
        admin::AssessmentView, admin::AssessmentPage, admin::RotatedKey,
        spec::RotationRequest, spec::SecretRotated, spec::ProviderKeyRotated,
        deliveries::ResultInput, deliveries::ResultRecorded, deliveries::DeliveryView, deliveries::DeliveryDetail, deliveries::TargetView, deliveries::TargetList,
        deliveries::AttemptView, deliveries::DeliveryPage,
        personal_data::ErasureRequest, personal_data::ErasureResponse, personal_data::AuditEventView, personal_data::AuditPage,
        pd::SubjectExport, pd::CandidateExport, pd::AssessmentExport, pd::DeliveryExport,
        ashby_dto::ListResponse, ashby_dto::AssessmentType, ashby_dto::StartRequest, ashby_dto::StartCandidate,
        ashby_dto::StartApplication, ashby_dto::StartJob, ashby_dto::HiringTeamMember,
        ashby_dto::UpdateRequest, ashby_dto::DataBlob, ashby_dto::UserMessage, ashby_dto::ErrorEnvelope,
        ashby_dto::ErrorInfo, ashby_dto::CustomFieldListResponse, ashby_dto::ListRequest, ashby_dto::CancelRequest, ashby_dto::CancelAnswer, ashby_dto::CancelSuccess, ashby_dto::StartResults, spec::CustomFieldSpec, spec::CustomFieldValue, assessment::State, health::Health,
    )),
    modifiers(&SecuritySchemes, &StandardResponses),
    tags(
        (name = "recruitment", description = "For integrators (ATSs): order assessments, fetch results."),
        (name = "admin", description = "For operators: lenses, integrators, organisations, assessments, results, deliveries, personal data and the audit log."),
        (name = "ashby", description = "The Ashby assessments partner protocol (Ashby calls these; base URL `<public url>/ashby`). \
            Field casing is Ashby's: snake_case, with camelCase in `job.hiringTeam[]` and `isRequired`."),
        (name = "health", description = "Probes."),
    )
)]
pub struct ApiDoc;

/// The document as `assessment-partner openapi` prints it.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| unreachable!("the OpenAPI document serializes: {e}"))
}

/// The documented paths, split into segments (`{…}` matches any one segment), with the methods
/// each allows: what a request to a known path with another method is told (`405` + `Allow`).
static ROUTES: std::sync::LazyLock<Vec<(Vec<String>, Vec<String>)>> = std::sync::LazyLock::new(|| {
    ApiDoc::openapi()
        .paths
        .paths
        .iter()
        .map(|(path, item)| {
            let segments = path.trim_start_matches('/').split('/').map(str::to_owned).collect();
            let json = serde_json::to_value(item).unwrap_or_default();
            let methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
                .into_iter()
                .filter(|m| json.get(*m).is_some())
                .map(str::to_ascii_uppercase)
                .collect();
            (segments, methods)
        })
        .collect()
});

/// The methods the document allows at `path`, when it documents the path at all.
pub fn allowed_methods(path: &str) -> Option<&'static [String]> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    ROUTES
        .iter()
        .find(|(segments, _)| {
            segments.len() == parts.len()
                && segments
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| s == p || (s.starts_with('{') && s.ends_with('}') && !p.is_empty()))
        })
        .map(|(_, methods)| methods.as_slice())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(spec_json)
        .service(docs_page)
        .service(redoc_js)
        .service(home);
}

#[get("/openapi.json")]
async fn spec_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}

/// Redoc 2.5.1's standalone bundle (npm `redoc`, MIT), embedded at build time from
/// `vendor/redoc/`: the docs page needs nothing from another host.
const REDOC_JS: &[u8] = include_bytes!("../vendor/redoc/redoc.standalone.js");

/// A reference page over `/openapi.json`, drawn by the embedded Redoc.
#[get("/docs")]
async fn docs_page() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>assessment-partner API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><noscript>The machine-readable document is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<redoc spec-url="/openapi.json"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body></html>"#,
    )
}

#[get("/docs/redoc.standalone.js")]
async fn redoc_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(REDOC_JS)
}

/// What this server is, for someone who opens its address in a browser.
#[get("/")]
async fn home() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>assessment-partner</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5">
<h1>assessment-partner</h1>
<p>An assessment provider's server: applicant tracking systems order assessments through the
Recruitment API or the Ashby partner protocol, candidates take them, and results are pushed back.</p>
<ul>
<li><a href="/docs">API reference</a></li>
<li><a href="/openapi.json">OpenAPI document</a></li>
<li><a href="/health/ready">Readiness</a></li>
</ul>
</body></html>"#,
    )
}
#[cfg(test)]
mod tests {
    use super::allowed_methods;

    #[test]
    fn documented_paths_know_their_methods() {
        assert_eq!(allowed_methods("/recruitment/v1/config"), Some(&["GET".to_owned()][..]));
        assert_eq!(
            allowed_methods("/recruitment/v1/results/r-1"),
            Some(&["GET".to_owned()][..])
        );
        assert_eq!(
            allowed_methods("/ashby/assessment.start"),
            Some(&["POST".to_owned()][..])
        );
        assert!(allowed_methods("/admin/v1/lenses/x").is_some_and(|m| m.contains(&"PUT".to_owned())));
        assert_eq!(allowed_methods("/nope"), None);
        assert_eq!(allowed_methods("/recruitment/v1/results/"), None);
    }
}

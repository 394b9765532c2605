//! `/console/organizations` and `/console/integrators`: their settings without any secret
//! (scopes `organizations.read`, `integrators.read`), and key rotations with an overlap
//! (scopes `organizations.write`, `integrators.write`): the new key or secret is shown once, on
//! the page that answers the rotation, and is never stored in the clear or shown again.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use sea_orm::{EntityTrait, QueryOrder};
use tracing::instrument;
use uuid::Uuid;

use super::deliveries::when;
use super::page::{Console, Form, Visit, internal, message};
use crate::auth::admin::Scope;
use crate::entity::{integrator, organization};
use crate::tenancy::spec::RotationRequest;
use crate::tenancy::store::{self, OrganizationKey, Rotated, RotatedKey, StoreError};
use crate::types::OrganizationId;

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A rotation form: the overlap, and the button. `seen` is the fingerprint of the key the page
/// showed, so that the form rotates once however often it is sent.
fn rotation_form(visit: &Visit, action: String, what: &str, field: &str, seen: Option<String>) -> Markup {
    html! {
        form method="post" action=(action) class="rotation" {
            input type="hidden" name="csrf" value=(visit.token());
            input type="hidden" name="seen" value=(seen.unwrap_or_default());
            label for=(field) { "After the rotation the current " (what) " keeps working for" }
            input id=(field) name="overlap" value="24h" pattern="[0-9]{1,9}(ms|s|m|h|d)" title="A whole number of ms, s, m, h or d, like 24h or 0s" required;
            button type="submit" { "Rotate the " (what) }
        }
    }
}

#[instrument(skip_all)]
pub(super) async fn organizations_page(console: Console) -> HttpResponse {
    let visit = match console.visit(Scope::OrganizationsRead).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let db = &console.state.db;
    let (organizations, models, integrators) = match tokio::try_join!(
        store::list_organizations(db, None),
        organization::Entity::find().all(db),
        integrator::Entity::find()
            .order_by_asc(integrator::Column::Name)
            .all(db)
    ) {
        Ok(all) => all,
        Err(e) => return internal(e),
    };
    let models: HashMap<OrganizationId, organization::Model> = models.into_iter().map(|m| (m.id, m)).collect();
    let seen = |id: Uuid, key: OrganizationKey| {
        models
            .get(&OrganizationId(id))
            .and_then(|m| store::organization_fingerprint(m, key))
    };
    let integrator_names: HashMap<Uuid, String> = integrators.into_iter().map(|i| (i.id, i.name)).collect();
    let writes = visit.may(Scope::OrganizationsWrite);
    let body = html! {
        h1 { "Organisations" }
        @for o in &organizations {
            section aria-labelledby=(format!("org-{}", o.id)) {
                h2 id=(format!("org-{}", o.id)) { (o.name) @if o.sandbox { " " span class="tag" { "sandbox" } } }
                dl {
                    dt { "Id" } dd { (o.id) }
                    dt { "Integrator" } dd { (integrator_names.get(&o.integrator_id).map_or("", String::as_str)) }
                    dt { "Sandbox" } dd { (yes_no(o.sandbox)) }
                    dt { "Default locale" } dd { (o.default_locale) }
                    dt { "Lenses" } dd { (o.lens_ids.len()) }
                    dt { "Ashby" } dd {
                        @match &o.ashby {
                            Some(a) => { "connected" @if a.has_api_key { ", with an API key" } }
                            None => "not connected",
                        }
                    }
                    @if let Some(at) = o.previous_provider_key_expires_at { dt { "Previous provider key works until" } dd { (when(at)) } }
                    @if let Some(at) = o.ashby.as_ref().and_then(|a| a.previous_partner_api_key_expires_at) {
                        dt { "Previous Ashby partner key works until" } dd { (when(at)) }
                    }
                }
                @if writes {
                    (rotation_form(&visit, format!("/console/organizations/{}/provider-key", o.id), "provider key", &format!("provider-overlap-{}", o.id), seen(o.id, OrganizationKey::Provider)))
                    @if o.ashby.is_some() {
                        (rotation_form(&visit, format!("/console/organizations/{}/partner-key", o.id), "Ashby partner key", &format!("partner-overlap-{}", o.id), seen(o.id, OrganizationKey::AshbyPartner)))
                    }
                }
            }
        }
    };
    visit.show(StatusCode::OK, "Organisations", body)
}

#[instrument(skip_all)]
pub(super) async fn integrators_page(console: Console) -> HttpResponse {
    let visit = match console.visit(Scope::IntegratorsRead).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let state = &console.state;
    let rows = match integrator::Entity::find()
        .order_by_asc(integrator::Column::Name)
        .all(&state.db)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return internal(e),
    };
    let fingerprints: HashMap<Uuid, String> = rows.iter().map(|m| (m.id, store::integrator_fingerprint(m))).collect();
    let views = match rows
        .into_iter()
        .map(|m| store::integrator_view(&state.vault, m))
        .collect::<Result<Vec<_>, StoreError>>()
    {
        Ok(views) => views,
        Err(e) => return internal(e),
    };
    let writes = visit.may(Scope::IntegratorsWrite);
    let body = html! {
        h1 { "Integrators" }
        @for i in &views {
            section aria-labelledby=(format!("integrator-{}", i.id)) {
                h2 id=(format!("integrator-{}", i.id)) { (i.name) }
                dl {
                    dt { "Id" } dd { (i.id) }
                    dt { "Requests must be signed" } dd { (yes_no(i.require_signature)) }
                    dt { "May order assessment links" } dd { (yes_no(i.link_orders_allowed)) }
                    dt { "Status pushes" } dd { (yes_no(i.status_pushes)) }
                    dt { "Result push authentication" } dd { (i.callback_auth.kind) }
                    dt { "Rate limit" } dd {
                        @match &i.rate_limit {
                            Some(r) => { (r.per_second) " a second, bursts of " (r.burst) }
                            None => "the server's",
                        }
                    }
                    dt { "Delivery cap" } dd {
                        @match i.max_deliveries_per_second { Some(n) => { (n) " a second" } None => "none" }
                    }
                    @if let Some(at) = i.previous_secret_expires_at { dt { "Previous secret works until" } dd { (when(at)) } }
                }
                @if writes {
                    (rotation_form(&visit, format!("/console/integrators/{}/secret", i.id), "signing secret", &format!("secret-overlap-{}", i.id), fingerprints.get(&i.id).cloned()))
                }
            }
        }
    };
    visit.show(StatusCode::OK, "Integrators", body)
}

/// The page that shows a new key once.
fn shown_once(visit: Visit, what: &str, back: &str, rotated: &Rotated) -> HttpResponse {
    let body = html! {
        h1 { "New " (what) }
        p role="status" { "Store it now: it is shown this once and cannot be shown again." }
        p { code class="secret" { (rotated.value) } }
        p { "The previous one works until " (when(rotated.previous_expires_at)) "." }
        p { a href=(back) { "Back" } }
    };
    visit.show(StatusCode::OK, what, body)
}

/// What is rotated.
#[derive(Debug, Clone, Copy)]
enum Rotation {
    Organization(OrganizationKey),
    IntegratorSecret,
}

impl Rotation {
    fn scope(self) -> Scope {
        match self {
            Rotation::Organization(_) => Scope::OrganizationsWrite,
            Rotation::IntegratorSecret => Scope::IntegratorsWrite,
        }
    }

    /// The audit log's name for it (the admin API's).
    fn action(self) -> &'static str {
        match self {
            Rotation::Organization(OrganizationKey::Provider) => "organization.provider-key-rotation",
            Rotation::Organization(OrganizationKey::AshbyPartner) => "organization.partner-key-rotation",
            Rotation::IntegratorSecret => "integrator.secret-rotation",
        }
    }

    fn key(self) -> RotatedKey {
        match self {
            Rotation::Organization(key) => RotatedKey::Organization(key),
            Rotation::IntegratorSecret => RotatedKey::IntegratorSecret,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Rotation::Organization(OrganizationKey::Provider) => "provider key",
            Rotation::Organization(OrganizationKey::AshbyPartner) => "Ashby partner key",
            Rotation::IntegratorSecret => "signing secret",
        }
    }

    fn back(self) -> &'static str {
        match self {
            Rotation::Organization(_) => "/console/organizations",
            Rotation::IntegratorSecret => "/console/integrators",
        }
    }
}

/// A rotation asked for by a form, recorded in the audit log; the answer shows the new value
/// once, or why nothing changed.
async fn rotate(console: Console, path: &str, form: Form, rotation: Rotation) -> HttpResponse {
    let visit = match console.act(&form, rotation.scope()).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let Ok(id) = Uuid::parse_str(path) else {
        return message(StatusCode::NOT_FOUND, "Not found", "Check the link.");
    };
    let state = &console.state;
    let request = RotationRequest {
        overlap: form.get("overlap").map(|v| v.trim().to_owned()),
        secret: None,
    };
    let (overlap, now) = (state.key_rotation_overlap, state.clock.now());
    let seen = form.get("seen").map(String::as_str).unwrap_or_default();
    let outcome = store::rotate_unless_changed(
        &state.db,
        &state.vault,
        rotation.key(),
        id,
        seen,
        &request,
        overlap,
        now,
    )
    .await;
    let (status, text) = match outcome {
        Ok(Some(rotated)) => {
            crate::auth::forget_cached_credentials(state, &console.req).await;
            tracing::info!(action = rotation.action(), "rotated from the console");
            return shown_once(visit, rotation.what(), rotation.back(), &rotated);
        }
        Ok(None) => return message(StatusCode::NOT_FOUND, "Not found", "Check the link."),
        Err(StoreError::Invalid(problems)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(StoreError::Conflict(detail)) => (StatusCode::CONFLICT, detail),
        Err(e) => return internal(e),
    };
    visit.refused(
        status,
        "Not rotated",
        &format!("{text}. Nothing changed."),
        rotation.back(),
    )
}

#[instrument(skip_all)]
pub(super) async fn rotate_provider_key(console: Console, path: web::Path<String>, form: Form) -> HttpResponse {
    rotate(console, &path, form, Rotation::Organization(OrganizationKey::Provider)).await
}

#[instrument(skip_all)]
pub(super) async fn rotate_partner_key(console: Console, path: web::Path<String>, form: Form) -> HttpResponse {
    rotate(
        console,
        &path,
        form,
        Rotation::Organization(OrganizationKey::AshbyPartner),
    )
    .await
}

#[instrument(skip_all)]
pub(super) async fn rotate_secret(console: Console, path: web::Path<String>, form: Form) -> HttpResponse {
    rotate(console, &path, form, Rotation::IntegratorSecret).await
}

//! What every console page stands on: the layout and its style, the answers (a page, a
//! message, a redirect), the `Console` extractor that finds the signed-in operator with the
//! scope a page needs (`Visit`), the filters' fields, and the audit record of console actions
//! (`trail`, keyed by route as the admin API's). Server-rendered with maud, no script, no
//! external assets; every form carries the CSRF token (a form without a valid one is refused
//! with 403 and changes nothing).
use std::collections::{BTreeSet, HashMap};

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::audit;
use crate::auth::admin::Scope;
use crate::config::ConsoleSettings;
use crate::console::session;
use crate::csrf::CsrfKey;
use crate::entity::operator;
use crate::state::AppState;

/// The session cookie over plain HTTP (development, tests), sent to `/console` only.
const COOKIE: &str = "ap_console";
/// The session cookie over HTTPS: `__Host-` (host-only, `Secure`, path `/`), so no other host
/// (a sibling subdomain) can set or shadow it.
const HOST_COOKIE: &str = "__Host-ap_console";

/// The session cookie's name and path for this server.
pub(super) fn session_cookie(state: &AppState) -> (&'static str, &'static str) {
    if secure(state) {
        (HOST_COOKIE, "/")
    } else {
        (COOKIE, "/console")
    }
}

/// The session cookie holding `value` (empty, with `removal`, to end it).
pub(super) fn session_cookie_with(state: &AppState, value: String, removal: bool) -> Cookie<'static> {
    let (name, path) = session_cookie(state);
    let mut cookie = Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .secure(secure(state))
        .finish();
    if removal {
        cookie.make_removal();
    }
    cookie
}

pub(super) type Form = crate::http::fields::Form;

/// The pages of the console, for its header.
/// The console's pages, each with the scopes that open it (any one of them).
const NAVIGATION: &[(&str, &str, &[Scope])] = &[
    ("/console", "Overview", &[Scope::AssessmentsRead, Scope::DeliveriesRead]),
    ("/console/assessments", "Assessments", &[Scope::AssessmentsRead]),
    ("/console/deliveries", "Deliveries", &[Scope::DeliveriesRead]),
    ("/console/organizations", "Organisations", &[Scope::OrganizationsRead]),
    ("/console/integrators", "Integrators", &[Scope::IntegratorsRead]),
    ("/console/audit", "Audit log", &[Scope::AuditRead]),
];

/// The pages of the navigation that `scopes` open.
fn pages_open_to(scopes: &BTreeSet<Scope>) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    NAVIGATION
        .iter()
        .filter(|(_, _, needs)| needs.iter().any(|s| s.granted_by(scopes)))
        .map(|(href, name, _)| (*href, *name))
}

const STYLE: &str = r#"
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111; background: #fff; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; justify-content: space-between; padding: 0.75rem 1rem; border-bottom: 1px solid #c4c4c4; }
main { max-width: 64rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
.skip { position: absolute; left: -100rem; }
.skip:focus { left: 1rem; top: 0.5rem; background: #fff; padding: 0.5rem; z-index: 1; }
nav a[aria-current] { font-weight: 700; text-decoration-thickness: 3px; }
h1 { font-size: 1.5rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 0.5rem; }
label { display: block; font-weight: 600; margin: 0.75rem 0 0.25rem; }
input { font: inherit; padding: 0.5rem; width: 100%; max-width: 24rem; border: 1px solid #767676; border-radius: 0.3rem; }
button { font: inherit; font-weight: 600; border-radius: 0.4rem; padding: 0.5rem 1rem; min-height: 2.5rem; cursor: pointer; border: 2px solid #0b57d0; background: #0b57d0; color: #fff; margin-top: 1rem; }
header button { margin: 0; background: #fff; color: #0b57d0; }
:focus-visible { outline: 3px solid #b3261e; outline-offset: 2px; }
.error { border-left: 4px solid #b3261e; background: #fdecea; padding: 0.75rem 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.4rem 0.5rem; border-bottom: 1px solid #c4c4c4; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; padding: 0; list-style: none; }
.figures li { border: 1px solid #c4c4c4; border-radius: 0.4rem; padding: 0.75rem 1rem; min-width: 10rem; }
.figures strong { display: block; font-size: 1.5rem; }
select { font: inherit; padding: 0.45rem; border: 1px solid #767676; border-radius: 0.3rem; background: #fff; }
nav a { margin-right: 0.75rem; }
.filters input { width: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font-size: 0.85rem; }
td { overflow-wrap: break-word; }
.notice { border-left: 4px solid #0b57d0; background: #e8f0fe; padding: 0.75rem 1rem; }
.tag { font-size: 0.8rem; border: 1px solid #767676; border-radius: 0.3rem; padding: 0 0.4rem; }
.check { display: flex; gap: 0.5rem; align-items: center; margin-top: 0.75rem; }
.check input { width: auto; }
.check label { margin: 0; font-weight: 400; }
button.danger { border-color: #b3261e; background: #b3261e; }
code.secret { font-size: 1.1rem; padding: 0.5rem; border: 1px solid #767676; display: inline-block; overflow-wrap: anywhere; }
section { border-top: 1px solid #c4c4c4; margin-top: 1.5rem; }
.scroll { overflow-x: auto; }
.rotation, .filters { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: flex-end; margin: 1rem 0; }
.rotation label { flex-basis: 100%; margin: 0; }
.rotation input { max-width: 8rem; }
.rotation button, .filters button { margin-top: 0; }
.who { display: flex; gap: 1rem; align-items: center; }
@media (max-width: 40rem) { dl { grid-template-columns: 1fr; } table { font-size: 0.9rem; } }
@media (max-width: 40rem) {
  table.stack thead { position: absolute; left: -100rem; }
  table.stack, table.stack tbody, table.stack tr, table.stack td, table.stack tbody th { display: block; width: 100%; }
  table.stack tr { border-bottom: 2px solid #767676; padding: 0.35rem 0; }
  table.stack td, table.stack tbody th { border: 0; padding: 0.1rem 0.25rem; text-align: left; }
  table.stack td::before { content: attr(data-label); display: inline-block; min-width: 7.5rem; font-weight: 600; }
  table.stack td[data-label=""]::before { display: none; }
}
"#;

pub(super) fn layout(title: &str, header: Option<Markup>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · Console" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                a class="skip" href="#main" { "Skip to the content" }
                @if let Some(header) = header { header { (header) } }
                main id="main" { (body) }
            }
        }
    }
}

pub(super) fn page(status: StatusCode, markup: Markup, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let mut response = crate::http::html::page(status);
    for cookie in cookies {
        response.cookie(cookie);
    }
    response.body(markup.into_string())
}

pub(super) fn see_other(to: &str, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header(("Location", to))
        .insert_header(("Cache-Control", "no-store"));
    for cookie in cookies {
        response.cookie(cookie);
    }
    response.finish()
}

fn secure(state: &AppState) -> bool {
    state.public_url.scheme() == "https"
}

pub(super) fn message(status: StatusCode, heading: &str, text: &str) -> HttpResponse {
    page(
        status,
        layout(heading, None, html! { h1 { (heading) } p { (text) } }),
        Vec::new(),
    )
}

pub(super) fn internal(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "console page failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Please try again in a moment.",
    )
}

pub(super) fn forbidden_form() -> HttpResponse {
    message(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "Open the page again and send the form from there.",
    )
}

/// The operator a console request acts for, once their session is found.
#[derive(Debug, Clone)]
struct Acting(String);

/// What the audit log names as an action's target when the path does not.
#[derive(Debug, Clone)]
struct ActionTarget(&'static str, String);

/// (route, action, target type of the path's `{id}`): the console's actions, named as the admin
/// API names the same acts. Each is recorded once answered, whatever the answer.
const ACTIONS: &[(&str, &str, &str)] = &[
    ("/console/deliveries/{id}/replay", "delivery.replay", "delivery"),
    (
        "/console/organizations/{id}/provider-key",
        "organization.provider-key-rotation",
        "organization",
    ),
    (
        "/console/organizations/{id}/partner-key",
        "organization.partner-key-rotation",
        "organization",
    ),
    (
        "/console/integrators/{id}/secret",
        "integrator.secret-rotation",
        "integrator",
    ),
    ("/console/candidates/export", "data-subject.export", ""),
    ("/console/candidates/erase", "erasure", ""),
    ("/console/assessments/{id}/report", "assessment.report", "assessment"),
];

/// Records every console action of a signed-in operator in the audit log once it is answered:
/// allowed, refused (a missing scope, an expired form, a wrong confirmation) or failed. A
/// request without a session has no operator and is not recorded; sign-in and sign-out record
/// themselves.
pub async fn trail(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let response = next.call(req).await?;
    let request = response.request();
    let Some(pattern) = request.match_pattern() else {
        return Ok(response);
    };
    let Some((_, action, target_type)) = ACTIONS.iter().find(|(route, ..)| *route == pattern) else {
        return Ok(response);
    };
    let Some(Acting(email)) = request.extensions().get::<Acting>().cloned() else {
        return Ok(response);
    };
    let mut target = Some(*target_type)
        .filter(|t| !t.is_empty())
        .zip(request.match_info().get("id").map(str::to_owned));
    if let Some(ActionTarget(kind, id)) = request.extensions().get::<ActionTarget>().cloned() {
        target = Some((kind, id));
    }
    if let Some(state) = request.app_data::<web::Data<AppState>>() {
        record(state, &email, action, target, response.status().as_u16()).await;
    }
    Ok(response)
}

/// Records a console action in the audit log, the operator's address as the actor.
pub(super) async fn record(
    state: &AppState,
    email: &str,
    action: &str,
    target: Option<(&'static str, String)>,
    status: u16,
) {
    let (target_type, target_id) = target.map_or((None, None), |(kind, id)| (Some(kind), Some(id)));
    let event = audit::Event {
        actor: format!("console:{email}"),
        action: action.to_owned(),
        target_type,
        target_id,
        request_id: crate::telemetry::current_request_id(),
        status,
    };
    if let Err(e) = audit::record(&state.db, event, state.clock.now()).await {
        tracing::error!(error = %e, "could not record a console action in the audit log");
    }
}

/// What every console page needs from the application: its state, the CSRF key and the
/// console's settings, with the request.
pub(super) struct Console {
    pub state: web::Data<AppState>,
    csrf: web::Data<CsrfKey>,
    settings: web::Data<ConsoleSettings>,
    pub req: HttpRequest,
}

impl FromRequest for Console {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let missing = || -> actix_web::Error {
            actix_web::error::InternalError::from_response(
                "the console is not configured",
                internal("the console's application data is missing"),
            )
            .into()
        };
        std::future::ready((|| {
            Ok(Self {
                state: req.app_data::<web::Data<AppState>>().cloned().ok_or_else(missing)?,
                csrf: req.app_data::<web::Data<CsrfKey>>().cloned().ok_or_else(missing)?,
                settings: req
                    .app_data::<web::Data<ConsoleSettings>>()
                    .cloned()
                    .ok_or_else(missing)?,
                req: req.clone(),
            })
        })())
    }
}

/// A signed-in operator on a page: who, with which scopes, and the CSRF token of the page's forms.
pub(super) struct Visit {
    pub operator: operator::Model,
    pub scopes: BTreeSet<Scope>,
    token: String,
    /// The page's path, to mark it in the navigation.
    path: String,
}

impl Visit {
    pub(super) fn may(&self, scope: Scope) -> bool {
        scope.granted_by(&self.scopes)
    }

    /// The CSRF token for the page's forms.
    pub(super) fn token(&self) -> &str {
        &self.token
    }

    /// The page, with the console's header.
    pub(super) fn show(self, status: StatusCode, title: &str, body: Markup) -> HttpResponse {
        let markup = layout(
            title,
            Some(header(&self.operator.email, &self.token, &self.path, &self.scopes)),
            body,
        );
        page(status, markup, Vec::new())
    }

    /// The page that says a scope is missing: with the navigation (the pages this operator may
    /// open) and a way back.
    pub(super) fn not_allowed(self, scope: Scope) -> HttpResponse {
        self.refused_elsewhere(
            StatusCode::FORBIDDEN,
            "Not allowed",
            &format!("This needs the {scope} scope, which your account does not have."),
        )
    }

    /// [`Visit::refused`], back to the first page this operator may open.
    pub(super) fn refused_elsewhere(self, status: StatusCode, heading: &str, text: &str) -> HttpResponse {
        let back = pages_open_to(&self.scopes)
            .next()
            .map_or("/console/login", |(href, _)| href);
        self.refused(status, heading, text, back)
    }

    /// The page that says an action was refused and why, with the way back.
    pub(super) fn refused(self, status: StatusCode, heading: &str, text: &str, back: &str) -> HttpResponse {
        let body = html! {
            h1 { (heading) }
            p class="error" role="alert" { (text) }
            p { a href=(back) { "Back" } }
        };
        self.show(status, heading, body)
    }
}

/// A column of a [`table`]: its heading and whether it holds figures (set right).
pub(super) struct Column<'a> {
    pub name: &'a str,
    pub figures: bool,
}

impl<'a> Column<'a> {
    pub const fn text(name: &'a str) -> Self {
        Self { name, figures: false }
    }

    pub const fn figures(name: &'a str) -> Self {
        Self { name, figures: true }
    }
}

/// One row of a [`table`]: an optional heading cell (`th scope="row"`), then a cell per column.
pub(super) struct Row {
    pub heading: Option<Markup>,
    pub cells: Vec<Markup>,
}

impl Row {
    pub fn of(cells: Vec<Markup>) -> Self {
        Self { heading: None, cells }
    }
}

/// The console's table: every cell carries its column's heading (`data-label`), so that on a
/// narrow screen (at most 40rem, a phone's 390 px) each row is stacked as heading: value pairs
/// and every column stays readable without scrolling sideways. `corner` heads the row-heading
/// column, when rows have one.
pub(super) fn table(caption: Markup, corner: Option<&str>, columns: &[Column<'_>], rows: Vec<Row>) -> Markup {
    html! {
        div class="scroll" { table class="stack" {
            caption { (caption) }
            thead { tr {
                @if let Some(corner) = corner { th scope="col" { (corner) } }
                @for c in columns { th scope="col" { (c.name) } }
            } }
            tbody {
                @for row in rows {
                    tr {
                        @if let Some(heading) = row.heading { th scope="row" { (heading) } }
                        @for (c, cell) in columns.iter().zip(row.cells) {
                            td class=[c.figures.then_some("n")] data-label=(c.name) { (cell) }
                        }
                    }
                }
            }
        } }
    }
}

/// A filter's day field (UTC), as the query string gave it.
pub(super) fn day_field(name: &str, label: &str, query: &HashMap<String, String>) -> Markup {
    let value = query.get(name).map_or("", String::as_str);
    html! { div { label for=(name) { (label) } input id=(name) name=(name) type="date" value=(value); } }
}

/// A filter's list: "Any", then each `(value, label)`; the one the query string gave is chosen.
pub(super) fn choice(name: &str, label: &str, options: &[(String, String)], query: &HashMap<String, String>) -> Markup {
    let chosen = query.get(name).map(|v| v.trim());
    html! {
        div {
            label for=(name) { (label) }
            select id=(name) name=(name) {
                option value="" { "Any" }
                @for (value, text) in options { option value=(value) selected[chosen == Some(value.as_str())] { (text) } }
            }
        }
    }
}

/// The link to a listing's next page: the filter's fields as they were given, and the last id
/// shown (`before`: the console's lists are newest first).
pub(super) fn next_page(
    path: &str,
    query: &HashMap<String, String>,
    fields: &[&str],
    last: impl std::fmt::Display,
) -> String {
    let mut link = url::form_urlencoded::Serializer::new(String::new());
    for name in fields {
        link.append_pair(name, query.get(*name).map_or("", String::as_str));
    }
    link.append_pair("before", &last.to_string());
    format!("{path}?{}", link.finish())
}

impl Console {
    /// The signed-in operator; otherwise the answer to give (to the sign-in page).
    pub(super) async fn visit_any(&self) -> Result<Visit, HttpResponse> {
        let Some(cookie) = self.req.cookie(session_cookie(&self.state).0) else {
            return Err(see_other("/console/login", Vec::new()));
        };
        let found = session::find(&self.state.db, cookie.value(), self.state.clock.now(), &self.settings).await;
        match found {
            Ok(Some(operator)) => {
                self.req.extensions_mut().insert(Acting(operator.email.clone()));
                let names: Vec<String> = serde_json::from_value(operator.scopes.clone()).unwrap_or_default();
                let scopes = names.iter().filter_map(|n| n.parse().ok()).collect();
                Ok(Visit {
                    operator,
                    scopes,
                    token: self.csrf.for_session(cookie.value()),
                    path: self.req.path().to_owned(),
                })
            }
            Ok(None) => Err(see_other("/console/login", Vec::new())),
            Err(e) => Err(internal(e)),
        }
    }

    /// The signed-in operator holding `scope`; otherwise the answer to give (the sign-in page,
    /// or 403).
    pub(super) async fn visit(&self, scope: Scope) -> Result<Visit, HttpResponse> {
        let visit = self.visit_any().await?;
        if !visit.may(scope) {
            return Err(visit.not_allowed(scope));
        }
        Ok(visit)
    }

    /// A form sent by the signed-in operator holding `scope`. Its CSRF token, which is bound to
    /// the session (`CsrfKey::for_session`), is checked (403 and nothing changes otherwise) once
    /// the operator is known, so that the refusal is in the audit log as theirs.
    pub(super) async fn act(&self, form: &HashMap<String, String>, scope: Scope) -> Result<Visit, HttpResponse> {
        let visit = self.visit_any().await?;
        let session = self.req.cookie(session_cookie(&self.state).0);
        let sent = form.get("csrf").map(String::as_str);
        if !session.is_some_and(|s| self.csrf.verify_session(s.value(), sent)) {
            return Err(forbidden_form());
        }
        if !visit.may(scope) {
            return Err(visit.not_allowed(scope));
        }
        Ok(visit)
    }

    /// Names the target of this request's action in the audit log, when its path does not.
    pub(super) fn target(&self, kind: &'static str, id: impl std::fmt::Display) {
        self.req.extensions_mut().insert(ActionTarget(kind, id.to_string()));
    }
}

fn header(email: &str, csrf: &str, path: &str, scopes: &BTreeSet<Scope>) -> Markup {
    let current = |href: &str| {
        let here = if href == "/console" {
            path == href
        } else {
            path.starts_with(href)
        };
        here.then_some("page")
    };
    html! {
        nav aria-label="Console" {
            @for (href, name) in pages_open_to(scopes) { a href=(href) aria-current=[current(href)] { (name) } " " }
        }
        div class="who" {
            span { "Signed in as " (email) }
            form method="post" action="/console/logout" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Sign out" }
            }
        }
    }
}

/// The start of a day written `2026-12-31` (UTC), as a date field sends it.
pub(super) fn day(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::Datelike;
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        // Years 0000 to 9999 only: SQLite orders times as text, PostgreSQL refuses the far past.
        .filter(|d| (0..=9999).contains(&d.year()))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// A query string as the pages' filters read it (for their tests).
#[cfg(test)]
pub(super) fn query_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

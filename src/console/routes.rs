//! The console's pages: sign-in (`/console/login`), sign-out (`/console/logout`) and the overview
//! (`/console`). Server-rendered with maud, no script, no external assets; every form carries
//! the CSRF token (a form without a valid one is refused with 403 and changes nothing).
use std::collections::{BTreeSet, HashMap};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use secrecy::SecretString;
use tracing::instrument;

use crate::assessment::State;
use crate::audit;
use crate::auth::admin::Scope;
use crate::config::ConsoleSettings;
use crate::console::overview;
use crate::console::session::{self, SignIn};
use crate::csrf::CsrfKey;
use crate::entity::operator;
use crate::state::AppState;

/// The session cookie.
const COOKIE: &str = "ap_console";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login_page)
        .service(login)
        .service(logout)
        .service(overview_page)
        .service(super::assessments::search_page)
        .service(super::assessments::timeline_page)
        .service(super::deliveries::deliveries_page)
        .service(super::deliveries::delivery_page)
        .service(super::deliveries::replay)
        .service(super::candidates::candidate)
        .service(super::candidates::export)
        .service(super::candidates::erase)
        .service(super::tenants::organizations_page)
        .service(super::tenants::integrators_page)
        .service(super::tenants::rotate_provider_key)
        .service(super::tenants::rotate_partner_key)
        .service(super::tenants::rotate_secret)
        .service(super::audit_page::audit_page);
}

pub(super) type Form = web::Form<HashMap<String, String>>;

/// The pages of the console, for its header.
const NAVIGATION: &[(&str, &str)] = &[
    ("/console", "Overview"),
    ("/console/assessments", "Assessments"),
    ("/console/deliveries", "Deliveries"),
    ("/console/organizations", "Organisations"),
    ("/console/integrators", "Integrators"),
    ("/console/audit", "Audit log"),
];

const STYLE: &str = r#"
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111; background: #fff; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; justify-content: space-between; padding: 0.75rem 1rem; border-bottom: 1px solid #c4c4c4; }
main { max-width: 64rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
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
                @if let Some(header) = header { header { (header) } }
                main { (body) }
            }
        }
    }
}

pub(super) fn page(status: StatusCode, markup: Markup, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ));
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

pub(super) fn secure(state: &AppState) -> bool {
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

fn forbidden_form() -> HttpResponse {
    message(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "Open the page again and send the form from there.",
    )
}

fn login_form(csrf: &str, email: &str, error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in to the console" }
            @if let Some(error) = error { p class="error" role="alert" { (error) } }
            form method="post" action="/console/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { "E-mail address" }
                input id="email" name="email" type="email" autocomplete="username" required value=(email);
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

#[get("/console/login")]
#[instrument(skip_all)]
async fn login_page(state: web::Data<AppState>, csrf: web::Data<CsrfKey>, req: HttpRequest) -> HttpResponse {
    let (token, cookie) = csrf.token(&req, secure(&state));
    page(
        StatusCode::OK,
        login_form(&token, "", None),
        cookie.into_iter().collect(),
    )
}

#[post("/console/login")]
#[instrument(skip_all)]
async fn login(
    state: web::Data<AppState>,
    csrf: web::Data<CsrfKey>,
    settings: web::Data<ConsoleSettings>,
    req: HttpRequest,
    form: Form,
) -> HttpResponse {
    if !csrf.verify(&req, form.get("csrf").map(String::as_str)) {
        return forbidden_form();
    }
    let email = form.get("email").map(|e| e.trim().to_owned()).unwrap_or_default();
    let password = SecretString::from(form.get("password").cloned().unwrap_or_default());
    let now = state.clock.now();
    let outcome = match session::sign_in(&state.db, &email, password, now, settings.lockout).await {
        Ok(outcome) => outcome,
        Err(e) => return internal(e),
    };
    let (token, _) = csrf.token(&req, secure(&state));
    let refused = |status: StatusCode, text: String| page(status, login_form(&token, &email, Some(&text)), Vec::new());
    let locked_text = |until: chrono::DateTime<chrono::Utc>| {
        format!(
            "Too many failed sign-ins: this address is locked until {}. Even the right password is refused until then.",
            until.format("%H:%M UTC")
        )
    };
    match outcome {
        SignIn::Opened { operator, token } => {
            record(&state, &operator.email, "console.sign_in", None, 303).await;
            let cookie = Cookie::build(COOKIE, token)
                .path("/console")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(secure(&state))
                .finish();
            see_other("/console", vec![cookie])
        }
        SignIn::Refused { locked: Some(until) } => refused(StatusCode::UNAUTHORIZED, locked_text(until)),
        SignIn::Refused { locked: None } => {
            refused(StatusCode::UNAUTHORIZED, "Wrong e-mail address or password.".to_owned())
        }
        SignIn::Locked(until) => refused(StatusCode::TOO_MANY_REQUESTS, locked_text(until)),
    }
}

#[post("/console/logout")]
#[instrument(skip_all)]
async fn logout(
    state: web::Data<AppState>,
    csrf: web::Data<CsrfKey>,
    settings: web::Data<ConsoleSettings>,
    req: HttpRequest,
    form: Form,
) -> HttpResponse {
    if !csrf.verify(&req, form.get("csrf").map(String::as_str)) {
        return forbidden_form();
    }
    if let Some(cookie) = req.cookie(COOKIE) {
        if let Ok(Some(operator)) =
            session::find(&state.db, cookie.value(), state.clock.now(), settings.session_idle).await
        {
            record(&state, &operator.email, "console.sign_out", None, 303).await;
        }
        if let Err(e) = session::close(&state.db, cookie.value()).await {
            return internal(e);
        }
    }
    let mut gone = Cookie::build(COOKIE, "").path("/console").finish();
    gone.make_removal();
    see_other("/console/login", vec![gone])
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
        let missing = || actix_web::error::ErrorInternalServerError("the console is not configured");
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
    cookie: Option<Cookie<'static>>,
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
        let markup = layout(title, Some(header(&self.operator.email, &self.token)), body);
        page(status, markup, self.cookie.into_iter().collect())
    }

    /// Records an action of this operator in the audit log.
    pub(super) async fn record(
        &self,
        state: &AppState,
        action: &str,
        target: Option<(&'static str, String)>,
        status: u16,
    ) {
        record(state, &self.operator.email, action, target, status).await;
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
/// shown (`after`).
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
    link.append_pair("after", &last.to_string());
    format!("{path}?{}", link.finish())
}

/// The page that says a scope is missing.
pub(super) fn not_allowed(scope: Scope) -> HttpResponse {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!("This needs the {scope} scope, which your account does not have."),
    )
}

impl Console {
    /// The signed-in operator; otherwise the answer to give (to the sign-in page).
    pub(super) async fn visit_any(&self) -> Result<Visit, HttpResponse> {
        let Some(cookie) = self.req.cookie(COOKIE) else {
            return Err(see_other("/console/login", Vec::new()));
        };
        let found = session::find(
            &self.state.db,
            cookie.value(),
            self.state.clock.now(),
            self.settings.session_idle,
        )
        .await;
        match found {
            Ok(Some(operator)) => {
                let names: Vec<String> = serde_json::from_value(operator.scopes.clone()).unwrap_or_default();
                let scopes = names.iter().filter_map(|n| n.parse().ok()).collect();
                let (token, cookie) = self.csrf.token(&self.req, secure(&self.state));
                Ok(Visit {
                    operator,
                    scopes,
                    token,
                    cookie,
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
            return Err(not_allowed(scope));
        }
        Ok(visit)
    }

    /// A form sent by the signed-in operator holding `scope`: its CSRF token is checked first
    /// (403 and nothing changes otherwise).
    pub(super) async fn act(&self, form: &HashMap<String, String>, scope: Scope) -> Result<Visit, HttpResponse> {
        if !self.csrf.verify(&self.req, form.get("csrf").map(String::as_str)) {
            return Err(forbidden_form());
        }
        self.visit(scope).await
    }
}

fn header(email: &str, csrf: &str) -> Markup {
    html! {
        nav aria-label="Console" {
            @for (href, name) in NAVIGATION { a href=(href) { (name) } " " }
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

#[get("/console")]
#[instrument(skip_all)]
async fn overview_page(console: Console) -> HttpResponse {
    let visit = match console.visit_any().await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let state = &console.state;
    let sees_assessments = visit.may(Scope::AssessmentsRead);
    let sees_deliveries = visit.may(Scope::DeliveriesRead);
    if !sees_assessments && !sees_deliveries {
        return message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "The overview needs the assessments.read or deliveries.read scope.",
        );
    }
    let now = state.clock.now();
    let assessments = if sees_assessments {
        match overview::assessments(&state.db, now).await {
            Ok(a) => Some(a),
            Err(e) => return internal(e),
        }
    } else {
        None
    };
    let deliveries = if sees_deliveries {
        match overview::deliveries(&state.db).await {
            Ok(d) => Some(d),
            Err(e) => return internal(e),
        }
    } else {
        None
    };
    let states = State::ALL.map(State::as_str);
    let body = html! {
        h1 { "Overview" }
        @if let Some(d) = &deliveries {
            h2 { "Deliveries" }
            ul class="figures" {
                li { strong { (d.pending) } a href="/console/deliveries?state=pending" { "pending" } }
                li { strong { (d.dead) } a href="/console/deliveries?state=dead" { "dead" } }
                li { strong { (d.oldest_pending.map_or_else(|| "–".to_owned(), |t| age(now - t))) } "oldest pending" }
            }
        }
        @if let Some(a) = &assessments {
            h2 { "Assessments" }
            ul class="figures" { li { strong { (a.completed_last_day) } "completed in the last 24 hours" } }
            div class="scroll" { table {
                caption class="hint" { "Assessments by state per organisation" }
                thead { tr { th scope="col" { "Organisation" } @for s in states { th scope="col" { (s) } } } }
                tbody {
                    @for org in &a.organizations {
                        tr {
                            th scope="row" { (org.name) }
                            @for s in states { td class="n" { (org.by_state.get(s).copied().unwrap_or_default()) } }
                        }
                    }
                }
            } }
        }
    };
    visit.show(StatusCode::OK, "Overview", body)
}

/// The start of a day written `2026-12-31` (UTC), as a date field sends it.
pub(super) fn day(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// An age in words: seconds, minutes, hours or days.
fn age(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7_199 => format!("{} min", secs / 60),
        7_200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

/// A query string as the pages' filters read it (for their tests).
#[cfg(test)]
pub(super) fn query_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

//! The console's sign-in (`/console/login`), sign-out (`/console/logout`) and overview
//! (`/console`), and the table of every console route.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use secrecy::SecretString;
use tracing::instrument;

use super::page::{
    Column, Console, Form, Row, forbidden_form, internal, layout, message, page, record, see_other, session_cookie,
    session_cookie_with, table,
};
use crate::assessment::State;
use crate::auth::admin::Scope;
use crate::config::ConsoleSettings;
use crate::console::overview;
use crate::console::session::{self, SignIn};
use crate::csrf::CsrfKey;
use crate::http::client;
use crate::ratelimit::{RateLimits, Verdict};
use crate::state::AppState;

/// Every console page and form: its path and the handlers of its methods. A path here with
/// another method is an HTML 405 naming the methods it has; a path under `/console` that is
/// not here is the HTML 404 of [`not_found`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    use super::{assessments, audit_page, candidates, deliveries, tenants};
    cfg.service(Page::at("/console").get(overview_page).done())
        .service(Page::at("/console/login").get(login_page).post(login).done())
        .service(Page::at("/console/logout").post(logout).done())
        .service(
            Page::at("/console/assessments")
                .get(assessments::search_page)
                .post(assessments::search_form)
                .done(),
        )
        .service(
            Page::at("/console/assessments/{id}")
                .get(assessments::timeline_page)
                .done(),
        )
        .service(
            Page::at("/console/assessments/{id}/report")
                .get(assessments::report)
                .done(),
        )
        .service(Page::at("/console/deliveries").get(deliveries::deliveries_page).done())
        .service(
            Page::at("/console/deliveries/{id}")
                .get(deliveries::delivery_page)
                .done(),
        )
        .service(
            Page::at("/console/deliveries/{id}/replay")
                .post(deliveries::replay)
                .done(),
        )
        .service(Page::at("/console/candidates").get(candidates::candidate).done())
        .service(Page::at("/console/candidates/export").post(candidates::export).done())
        .service(Page::at("/console/candidates/erase").post(candidates::erase).done())
        .service(
            Page::at("/console/organizations")
                .get(tenants::organizations_page)
                .done(),
        )
        .service(Page::at("/console/integrators").get(tenants::integrators_page).done())
        .service(
            Page::at("/console/organizations/{id}/provider-key")
                .post(tenants::rotate_provider_key)
                .done(),
        )
        .service(
            Page::at("/console/organizations/{id}/partner-key")
                .post(tenants::rotate_partner_key)
                .done(),
        )
        .service(
            Page::at("/console/integrators/{id}/secret")
                .post(tenants::rotate_secret)
                .done(),
        )
        .service(Page::at("/console/audit").get(audit_page::audit_page).done());
}

/// One console path with the handlers of its methods; any other method is answered with an
/// HTML 405 whose `Allow` lists these.
struct Page {
    resource: actix_web::Resource,
    allow: Vec<&'static str>,
}

impl Page {
    fn at(path: &str) -> Self {
        Self {
            resource: web::resource(path),
            allow: Vec::new(),
        }
    }

    fn get<F, Args>(mut self, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.resource = self.resource.route(web::get().to(handler));
        self.allow.push("GET");
        self
    }

    fn post<F, Args>(mut self, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.resource = self.resource.route(web::post().to(handler));
        self.allow.push("POST");
        self
    }

    fn done(self) -> actix_web::Resource {
        let allow = self.allow.join(", ");
        self.resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                let mut answer = message(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "This page cannot do that",
                    &format!("This address takes {allow} only. Go back to the console and use its links and forms."),
                );
                if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
                    answer.headers_mut().insert(actix_web::http::header::ALLOW, value);
                }
                answer
            }
        }))
    }
}

/// A path under `/console` that the console does not have: an HTML page, as every console answer.
pub fn not_found() -> HttpResponse {
    message(
        StatusCode::NOT_FOUND,
        "No such page",
        "The console has no page at this address. Check the link, or start again from the overview at /console.",
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

#[instrument(skip_all)]
async fn login_page(csrf: web::Data<CsrfKey>, req: HttpRequest) -> HttpResponse {
    let (token, cookie) = csrf.token(&req);
    page(
        StatusCode::OK,
        login_form(&token, "", None),
        cookie.into_iter().collect(),
    )
}

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
    let (token, _) = csrf.token(&req);
    let refused = |status: StatusCode, text: String| page(status, login_form(&token, &email, Some(&text)), Vec::new());
    // The client's failed sign-ins, like the APIs' failed authentication: once they are used
    // up, no password is checked for that client until its wait is over.
    let limits = req.app_data::<web::Data<RateLimits>>();
    let client = limits.zip(client::address(&req));
    let too_many = |verdict: &Verdict| {
        let wait = verdict.retry_after_secs().unwrap_or(1);
        let mut answer = refused(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed sign-ins from your address: try again in {wait} s."),
        );
        verdict.write_fields(answer.headers_mut());
        answer
    };
    if let Some(verdict) = client.and_then(|(limits, ip)| limits.blocked(ip)) {
        return too_many(&verdict);
    }
    let password = SecretString::from(form.get("password").cloned().unwrap_or_default());
    let now = state.clock.now();
    let outcome = match session::sign_in(&state.db, &email, password, now, settings.lockout).await {
        Ok(outcome) => outcome,
        Err(e) => return internal(e),
    };
    if !matches!(outcome, SignIn::Opened { .. }) {
        let counted = client.and_then(|(limits, ip)| limits.failed(ip));
        if let Some(verdict) = counted.filter(|v| !v.is_allowed()) {
            return too_many(&verdict);
        }
    }
    let locked_text = |until: chrono::DateTime<chrono::Utc>| {
        format!(
            "Too many failed sign-ins: this address is locked until {}. Even the right password is refused until then.",
            until.format("%H:%M UTC")
        )
    };
    match outcome {
        SignIn::Opened { operator, token } => {
            record(&state, &operator.email, "console.sign_in", None, 303).await;
            see_other("/console", vec![session_cookie_with(&state, token, false)])
        }
        SignIn::Refused { locked: Some(until) } => refused(StatusCode::UNAUTHORIZED, locked_text(until)),
        SignIn::Refused { locked: None } => {
            refused(StatusCode::UNAUTHORIZED, "Wrong e-mail address or password.".to_owned())
        }
        SignIn::Locked(until) => refused(StatusCode::TOO_MANY_REQUESTS, locked_text(until)),
    }
}

#[instrument(skip_all)]
async fn logout(
    state: web::Data<AppState>,
    csrf: web::Data<CsrfKey>,
    settings: web::Data<ConsoleSettings>,
    req: HttpRequest,
    form: Form,
) -> HttpResponse {
    // The sign-out form is a signed-in page's: its token is the session's.
    let Some(cookie) = req.cookie(session_cookie(&state).0) else {
        return see_other("/console/login", Vec::new());
    };
    if !csrf.verify_session(cookie.value(), form.get("csrf").map(String::as_str)) {
        return forbidden_form();
    }
    if let Ok(Some(operator)) = session::find(&state.db, cookie.value(), state.clock.now(), &settings).await {
        record(&state, &operator.email, "console.sign_out", None, 303).await;
    }
    if let Err(e) = session::close(&state.db, cookie.value()).await {
        return internal(e);
    }
    see_other("/console/login", vec![session_cookie_with(&state, String::new(), true)])
}

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
        return visit.refused_elsewhere(
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
            (table(
                html! { "Assessments by state per organisation" },
                Some("Organisation"),
                &states.map(Column::figures),
                a.organizations.iter().map(|org| Row {
                    heading: Some(html! { (org.name) }),
                    cells: states.iter().map(|s| html! { (org.by_state.get(*s).copied().unwrap_or_default()) }).collect(),
                }).collect(),
            ))
        }
    };
    visit.show(StatusCode::OK, "Overview", body)
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

//! The console's sign-in (`/console/login`), sign-out (`/console/logout`) and overview
//! (`/console`), and the table of every console route.
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use maud::{Markup, html};
use secrecy::SecretString;
use tracing::instrument;

use super::page::{
    Console, Form, forbidden_form, internal, layout, page, record, see_other, session_cookie, session_cookie_with,
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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login_page)
        .service(login)
        .service(logout)
        .service(overview_page)
        .service(super::assessments::search_page)
        .service(super::assessments::search_form)
        .service(super::assessments::report)
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
async fn login_page(csrf: web::Data<CsrfKey>, req: HttpRequest) -> HttpResponse {
    let (token, cookie) = csrf.token(&req);
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

#[post("/console/logout")]
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

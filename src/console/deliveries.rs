//! `/console/deliveries`: the outbox by state and kind (scope `deliveries.read`), one row with
//! its attempts (`/console/deliveries/{id}`), and the Replay form of a dead row (scope
//! `deliveries.write`), which answers with the row's page, where its new state shows.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use tracing::instrument;
use uuid::Uuid;

use super::page::{Console, Form, Visit, choice, internal, message, next_page, see_other};
use crate::auth::admin::Scope;
use crate::delivery::inspect::{self, Inspected, Replay};
use crate::delivery::outbox::{DeliveryState, Kind};
use crate::delivery::redact;
use crate::entity::delivery;

const PAGE: u64 = 50;

/// What the kind of an outgoing call is called on the pages.
pub(super) fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Result => "Result push",
        Kind::AshbyUpdate => "Ashby update",
        Kind::InvitationEmail => "Invitation e-mail",
        Kind::TestPush => "Test push",
        Kind::ReminderEmail => "Reminder e-mail",
        Kind::RecruiterNotice => "Recruiter notice",
    }
}

pub(super) fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The Replay form of a dead row, for an operator who may replay.
fn replay_form(visit: &Visit, row: &delivery::Model) -> Markup {
    html! {
        @if row.state == DeliveryState::Dead && visit.may(Scope::DeliveriesWrite) && row.target != crate::delivery::outbox::ERASED {
            form method="post" action=(format!("/console/deliveries/{}/replay", row.id)) {
                input type="hidden" name="csrf" value=(visit.token());
                button type="submit" aria-label=(format!("Replay {} {}", kind_name(row.kind), row.id)) { "Replay" }
            }
        }
    }
}

/// One outgoing call with every attempt: status, duration, error and the answer's excerpt, the
/// links in them redacted.
pub(super) fn call(visit: &Visit, public_url: &url::Url, found: &Inspected) -> Markup {
    let found = &redact::inspected(found.clone(), public_url);
    let d = &found.delivery;
    html! {
        section class="call" aria-labelledby=(format!("call-{}", d.id)) {
            h3 id=(format!("call-{}", d.id)) {
                (kind_name(d.kind)) " · " span class=(format!("state {}", d.state.as_str())) { (d.state.as_str()) }
            }
            dl {
                dt { "To" } dd { (d.target) }
                dt { "Id (the Idempotency-Key)" } dd { a href=(format!("/console/deliveries/{}", d.id)) { (d.id) } }
                dt { "Written" } dd { (when(d.created_at)) }
                @if let Some(at) = d.delivered_at { dt { "Delivered" } dd { (when(at)) } }
                @if d.state == DeliveryState::Pending { dt { "Next attempt" } dd { (when(d.next_attempt_at)) } }
                @if let Some(at) = d.deadline_at { dt { "Gives up at" } dd { (when(at)) } }
                @if let Some(e) = &d.last_error { dt { "Last error" } dd { (e) } }
                @if let Some(why) = crate::delivery::dead::reason(d, &found.attempts) { dt { "Why it is dead" } dd { (why) } }
            }
            (replay_form(visit, d))
            @if found.attempts.is_empty() {
                p { "No attempt yet." }
            } @else {
                div class="scroll" { table {
                    caption { (found.attempts.len()) " attempt(s)" }
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { "Started" } th scope="col" { "Status" }
                        th scope="col" { "Duration" } th scope="col" { "Outcome" } th scope="col" { "Error" }
                        th scope="col" { "Answer (excerpt)" }
                    } }
                    tbody {
                        @for a in &found.attempts {
                            tr {
                                td class="n" { (a.attempt_no) }
                                td { (when(a.started_at)) }
                                td class="n" { (a.status_code.map_or_else(|| "–".to_owned(), |s| s.to_string())) }
                                td class="n" { (a.duration_ms) " ms" }
                                td { (a.outcome) }
                                td { (a.error.as_deref().unwrap_or("")) }
                                td { @if let Some(x) = &a.response_excerpt { pre { (x) } } }
                            }
                        }
                    }
                } }
            }
        }
    }
}

/// The filter of the query string; `Err` names the field that is wrong.
fn filter(query: &HashMap<String, String>) -> Result<(inspect::Filter, Option<Uuid>), &'static str> {
    let text = |name: &str| query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    Ok((
        inspect::Filter {
            state: text("state")
                .map(|v| DeliveryState::parse(v).ok_or("state"))
                .transpose()?,
            kind: text("kind").map(|v| Kind::parse(v).ok_or("kind")).transpose()?,
            organization_id: None,
            assessment_id: None,
        },
        text("after")
            .map(|v| Uuid::parse_str(v).map_err(|_| "after"))
            .transpose()?,
    ))
}

#[get("/console/deliveries")]
#[instrument(skip_all)]
pub(super) async fn deliveries_page(console: Console, query: crate::http::fields::Query) -> HttpResponse {
    let visit = match console.visit(Scope::DeliveriesRead).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let (wanted, after) = match filter(&query) {
        Ok(f) => f,
        Err(field) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Check the filter",
                &format!("{field} is not a value this list knows: choose a state and a kind from the lists."),
            );
        }
    };
    let rows = match inspect::list(&console.state.db, &wanted, after, PAGE + 1).await {
        Ok(rows) => rows,
        Err(e) => return internal(e),
    };
    let shown = &rows[..rows.len().min(PAGE as usize)];
    let next = shown
        .last()
        .filter(|_| rows.len() as u64 > PAGE)
        .map(|last| next_page("/console/deliveries", &query, &["state", "kind"], last.id));
    let state_options: Vec<(String, String)> = DeliveryState::ALL
        .map(|s| (s.as_str().to_owned(), s.as_str().to_owned()))
        .to_vec();
    let kind_options: Vec<(String, String)> = Kind::ALL
        .map(|k| (k.as_str().to_owned(), kind_name(k).to_owned()))
        .to_vec();
    let body = html! {
        h1 { "Deliveries" }
        form method="get" action="/console/deliveries" class="filters" {
            (choice("state", "State", &state_options, &query))
            (choice("kind", "Kind", &kind_options, &query))
            button type="submit" { "Filter" }
        }
        div class="scroll" { table {
            caption { (shown.len()) " delivery(ies), oldest first" }
            thead { tr {
                th scope="col" { "Written" } th scope="col" { "Kind" } th scope="col" { "To" } th scope="col" { "State" }
                th scope="col" { "Attempts" } th scope="col" { "Last error" } th scope="col" { "Assessment" } th scope="col" { "" }
            } }
            tbody {
                @for d in shown {
                    tr {
                        td { a href=(format!("/console/deliveries/{}", d.id)) { (when(d.created_at)) } }
                        td { (kind_name(d.kind)) }
                        td { (d.target) }
                        td { (d.state.as_str()) }
                        td class="n" { (d.attempts) }
                        td { (d.last_error.as_deref().map(|e| redact::text(e, &console.state.public_url)).unwrap_or_default()) }
                        td { @if let Some(a) = d.assessment_id { a href=(format!("/console/assessments/{a}")) { "Timeline" } } }
                        td { (replay_form(&visit, d)) }
                    }
                }
            }
        } }
        @if let Some(next) = next { p { a href=(next) { "Next page" } } }
    };
    visit.show(StatusCode::OK, "Deliveries", body)
}

#[get("/console/deliveries/{id}")]
#[instrument(skip_all)]
pub(super) async fn delivery_page(
    console: Console,
    path: web::Path<String>,
    query: crate::http::fields::Query,
) -> HttpResponse {
    let visit = match console.visit(Scope::DeliveriesRead).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let Ok(id) = Uuid::parse_str(&path) else {
        return message(StatusCode::NOT_FOUND, "No such delivery", "Check the link.");
    };
    let found = match inspect::one(&console.state.db, id).await {
        Ok(Some(found)) => found,
        Ok(None) => return message(StatusCode::NOT_FOUND, "No such delivery", "Check the link."),
        Err(e) => return internal(e),
    };
    let replayed = query.get("replayed").is_some();
    let body = html! {
        h1 { (kind_name(found.delivery.kind)) }
        @if replayed {
            p class="notice" role="status" { "Replayed: the delivery is due now. Reload this page to follow it." }
        }
        @if let Some(a) = found.delivery.assessment_id {
            p { a href=(format!("/console/assessments/{a}")) { "The assessment's timeline" } }
        }
        (call(&visit, &console.state.public_url, &found))
    };
    visit.show(StatusCode::OK, "Delivery", body)
}

#[post("/console/deliveries/{id}/replay")]
#[instrument(skip_all)]
pub(super) async fn replay(console: Console, path: web::Path<String>, form: Form) -> HttpResponse {
    let visit = match console.act(&form, Scope::DeliveriesWrite).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let Ok(id) = Uuid::parse_str(&path) else {
        return message(StatusCode::NOT_FOUND, "No such delivery", "Check the link.");
    };
    let state = &console.state;
    let now = state.clock.now();
    let outcome = match inspect::replay(&state.db, id, state.retry.deadline(now), now).await {
        Ok(outcome) => outcome,
        Err(e) => return internal(e),
    };
    let (status, text) = match outcome {
        Replay::Replayed => {
            state.wake_worker();
            tracing::info!("delivery replayed from the console");
            return see_other(&format!("/console/deliveries/{id}?replayed=1"), Vec::new());
        }
        Replay::Missing => return message(StatusCode::NOT_FOUND, "No such delivery", "Check the link."),
        Replay::Erased => (
            StatusCode::CONFLICT,
            "The delivery was erased with its candidate's data; there is nothing to send.".to_owned(),
        ),
        Replay::NotDead(current) => (
            StatusCode::CONFLICT,
            format!(
                "The delivery is {}; only dead deliveries can be replayed.",
                current.as_str()
            ),
        ),
    };
    visit.refused(status, "Not replayed", &text, &format!("/console/deliveries/{id}"))
}

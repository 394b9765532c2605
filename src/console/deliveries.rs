//! `/console/deliveries`: the outbox by state and kind (scope `deliveries.read`), one row with
//! its attempts (`/console/deliveries/{id}`), and the Replay form of a dead row (scope
//! `deliveries.write`), which answers with the row's page, where its new state shows.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use tracing::instrument;
use uuid::Uuid;

use super::page::{Column, Console, Form, Row, Visit, choice, internal, message, next_page, see_other, table};
use crate::auth::admin::Scope;
use crate::db::Cursor;
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
                (table(
                    html! { (found.attempts.len()) " attempt(s)" },
                    None,
                    &[
                        Column::figures("#"), Column::text("Started"), Column::figures("Status"),
                        Column::figures("Duration"), Column::text("Outcome"), Column::text("Error"),
                        Column::text("Answer (excerpt)"),
                    ],
                    found.attempts.iter().map(|a| Row::of(vec![
                        html! { (a.attempt_no) },
                        html! { (when(a.started_at)) },
                        html! { (a.status_code.map_or_else(|| "–".to_owned(), |s| s.to_string())) },
                        html! { (a.duration_ms) " ms" },
                        html! { (a.outcome) },
                        html! { (a.error.as_deref().unwrap_or("")) },
                        html! { @if let Some(x) = &a.response_excerpt { pre { (x) } } },
                    ])).collect(),
                ))
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
        text("before")
            .map(|v| Uuid::parse_str(v).map_err(|_| "before"))
            .transpose()?,
    ))
}

#[instrument(skip_all)]
pub(super) async fn deliveries_page(console: Console, query: crate::http::fields::Query) -> HttpResponse {
    let visit = match console.visit(Scope::DeliveriesRead).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let (wanted, before) = match filter(&query) {
        Ok(f) => f,
        Err(field) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Check the filter",
                &format!("{field} is not a value this list knows: choose a state and a kind from the lists."),
            );
        }
    };
    let rows = match inspect::list(&console.state.db, &wanted, Cursor::newest_first(before), PAGE + 1).await {
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
        (table(
            html! { (shown.len()) " delivery(ies), newest first" },
            None,
            &[
                Column::text("Written"), Column::text("Kind"), Column::text("To"), Column::text("State"),
                Column::figures("Attempts"), Column::text("Last error"), Column::text("Assessment"), Column::text(""),
            ],
            shown.iter().map(|d| Row::of(vec![
                html! { a href=(format!("/console/deliveries/{}", d.id)) { (when(d.created_at)) } },
                html! { (kind_name(d.kind)) },
                html! { (d.target) },
                html! { (d.state.as_str()) },
                html! { (d.attempts) },
                html! { (d.last_error.as_deref().map(|e| redact::text(e, &console.state.public_url)).unwrap_or_default()) },
                html! { @if let Some(a) = d.assessment_id { a href=(format!("/console/assessments/{a}")) { "Timeline" } } },
                replay_form(&visit, d),
            ])).collect(),
        ))
        @if let Some(next) = next { p { a href=(next) { "Next page" } } }
    };
    visit.show(StatusCode::OK, "Deliveries", body)
}

/// What the page after a replay says, from the row as this page read it.
fn replay_notice(d: &delivery::Model) -> String {
    match d.state {
        DeliveryState::Delivered => match d.delivered_at {
            Some(at) => format!("Replayed and delivered at {}.", when(at)),
            None => "Replayed and delivered.".to_owned(),
        },
        DeliveryState::Pending => format!(
            "Replayed: the next attempt is due at {}. Reload this page to follow it.",
            when(d.next_attempt_at)
        ),
        DeliveryState::Dead => "Replayed, and given up again: see why below.".to_owned(),
    }
}

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
            p class="notice" role="status" { (replay_notice(&found.delivery)) }
        }
        @if let Some(a) = found.delivery.assessment_id {
            p { a href=(format!("/console/assessments/{a}")) { "The assessment's timeline" } }
        }
        (call(&visit, &console.state.public_url, &found))
    };
    visit.show(StatusCode::OK, "Delivery", body)
}

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

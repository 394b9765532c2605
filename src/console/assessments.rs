//! `/console/assessments`: the search (a `resultId`, an assessment id or a candidate's e-mail
//! address, with filters by organisation, state and creation day; 50 a page), and one
//! assessment's timeline (`/console/assessments/{id}`), both with scope `assessments.read`.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::html;
use sea_orm::EntityTrait;
use tracing::instrument;
use uuid::Uuid;

use super::deliveries::{call, kind_name, when};
use super::overview::organization_names;
use super::page::{Column, Console, Form, Row, Visit, choice, day, day_field, internal, message, see_other, table};
use crate::assessment::State;
use crate::assessment::search::{self, Lookup};
use crate::assessment::timeline::{self, Step};
use crate::auth::admin::Scope;
use crate::db::Cursor;
use crate::entity::assessment;
use crate::types::{AssessmentId, OrganizationId};

const PAGE: u64 = 50;

/// The search of the query string; `Err` names the field that is wrong.
fn filter(query: &HashMap<String, String>) -> Result<(search::Filter, Option<Uuid>), &'static str> {
    let text = |name: &str| query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let uuid = |name: &'static str| text(name).map(|v| Uuid::parse_str(v).map_err(|_| name)).transpose();
    let day = |name: &'static str| text(name).map(|v| day(v).ok_or(name)).transpose();
    Ok((
        search::Filter {
            organization_id: uuid("organization")?.map(OrganizationId),
            state: text("state")
                .map(|v| v.parse::<State>().map_err(|_| "state"))
                .transpose()?,
            created_from: day("from")?,
            created_to: day("to")?,
            lookup: text("q").and_then(Lookup::parse),
        },
        uuid("before")?,
    ))
}

/// The search's fields, from the query string (links: the overview's, an organisation's) or
/// from the search form. The form is sent as a POST, so that a candidate's address never
/// travels in a URL (proxies' access logs, the browser's history); its next page is a form too.
const FIELDS: [&str; 5] = ["q", "organization", "state", "from", "to"];

#[instrument(skip_all)]
pub(super) async fn search_page(console: Console, query: crate::http::fields::Query) -> HttpResponse {
    match console.visit(Scope::AssessmentsRead).await {
        Ok(visit) => search(&console, visit, &query).await,
        Err(answer) => answer,
    }
}

#[instrument(skip_all)]
pub(super) async fn search_form(console: Console, form: Form) -> HttpResponse {
    match console.act(&form, Scope::AssessmentsRead).await {
        Ok(visit) => search(&console, visit, &form).await,
        Err(answer) => answer,
    }
}

async fn search(console: &Console, visit: Visit, fields: &HashMap<String, String>) -> HttpResponse {
    let (wanted, before) = match filter(fields) {
        Ok(f) => f,
        Err(field) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Check the search",
                &format!("{field} is not a value this search knows (days are written like 2026-12-31)."),
            );
        }
    };
    let query = fields;
    let db = &console.state.db;
    let (found, organizations) = match tokio::try_join!(
        search::find(db, &wanted, Cursor::newest_first(before), PAGE + 1),
        organization_names(db)
    ) {
        Ok(both) => both,
        Err(e) => return internal(e),
    };
    let names: HashMap<OrganizationId, &str> = organizations.iter().map(|(id, n)| (*id, n.as_str())).collect();
    let shown = &found[..found.len().min(PAGE as usize)];
    let value = |name: &str| query.get(name).cloned().unwrap_or_default();
    let next = shown
        .last()
        .filter(|_| found.len() as u64 > PAGE)
        .map(|last| last.assessment.id);
    let organization_options: Vec<(String, String)> = organizations
        .iter()
        .map(|(id, name)| (id.to_string(), name.clone()))
        .collect();
    let state_options: Vec<(String, String)> = State::ALL
        .map(|s| (s.as_str().to_owned(), s.as_str().to_owned()))
        .to_vec();
    let body = html! {
        h1 { "Assessments" }
        form method="post" action="/console/assessments" class="filters" role="search" {
            input type="hidden" name="csrf" value=(visit.token());
            div {
                label for="q" { "resultId, assessment id or candidate e-mail" }
                input id="q" name="q" type="search" value=(value("q"));
            }
            (choice("organization", "Organisation", &organization_options, query))
            (choice("state", "State", &state_options, query))
            (day_field("from", "Created from (day, UTC)", query))
            (day_field("to", "Created before (day, UTC)", query))
            button type="submit" { "Search" }
        }
        @if let Some(lookup) = &wanted.lookup {
            p role="status" { "Assessments matching “" (lookup.text) "”" }
        }
        (table(
            html! { (shown.len()) " assessment(s), newest first" },
            None,
            &[
                Column::text("Created"), Column::text("Organisation"), Column::text("Candidate"),
                Column::text("resultId"), Column::text("State"), Column::figures("Score"),
            ],
            shown.iter().map(|f| {
                let a = &f.assessment;
                Row::of(vec![
                    html! { a href=(format!("/console/assessments/{}", a.id)) { (when(a.created_at)) } },
                    html! { (names.get(&a.organization_id).copied().unwrap_or("")) },
                    html! { (f.candidate_email.as_deref().unwrap_or(if a.erased_at.is_some() { "(erased)" } else { "" })) },
                    html! { (a.result_id.as_deref().unwrap_or("")) },
                    html! { (a.state.as_str()) },
                    html! { (a.score.map(|s| s.to_string()).unwrap_or_default()) },
                ])
            }).collect(),
        ))
        @if let Some(last) = next {
            form method="post" action="/console/assessments" {
                input type="hidden" name="csrf" value=(visit.token());
                @for name in FIELDS { input type="hidden" name=(name) value=(value(name)); }
                input type="hidden" name="before" value=(last);
                button type="submit" { "Next page" }
            }
        }
    };
    visit.show(StatusCode::OK, "Assessments", body)
}

/// What a moment of the timeline says.
fn step_text(step: Step) -> String {
    match step {
        Step::Ordered(source) => format!("Ordered through the {} API", source.as_str()),
        Step::Delivered(kind) => format!("{} delivered", kind_name(kind)),
        Step::GaveUp(kind) => format!("{} given up (dead)", kind_name(kind)),
        Step::Replayed(kind) => format!("{} replayed by an operator", kind_name(kind)),
        Step::Started => "The candidate started".to_owned(),
        Step::Completed(Some(score)) => format!("Completed, overall score {score}"),
        Step::Completed(None) => "Completed".to_owned(),
        Step::Ended(state) => format!("Ended: {}", state.as_str()),
        Step::Erased => "The candidate's personal data was erased".to_owned(),
    }
}

#[instrument(skip_all)]
pub(super) async fn timeline_page(console: Console, path: web::Path<String>) -> HttpResponse {
    let visit = match console.visit(Scope::AssessmentsRead).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let not_found = || message(StatusCode::NOT_FOUND, "No such assessment", "Check the link.");
    let Ok(id) = Uuid::parse_str(&path) else {
        return not_found();
    };
    let state = &console.state;
    let t = match timeline::load(&state.db, AssessmentId(id), &state.links).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(e) => return internal(e),
    };
    let a = &t.assessment;
    let person = t.candidate.as_ref();
    let name = person
        .map(|c| {
            [c.first_name.as_deref(), c.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let body = html! {
        h1 { "Assessment " (a.id) }
        dl {
            dt { "Organisation" } dd { (t.organization_name) }
            dt { "Candidate" }
            dd {
                @match person {
                    Some(c) => { (c.email) @if !name.is_empty() { " (" (name) ")" } }
                    None => "(erased)",
                }
            }
            dt { "State" } dd { (a.state.as_str()) }
            dt { "resultId" } dd { (a.result_id.as_deref().unwrap_or("–")) }
            @if let Some(score) = a.score { dt { "Overall score" } dd { (score) } }
            dt { "Locale" } dd { (a.locale) }
            dt { "Link valid until" } dd { (when(a.expires_at)) }
        }
        @if t.report_url.is_some() {
            @let report_link = format!("/console/assessments/{}/report", a.id);
            p { a href=(report_link) { "Open the report" } " · " a href=(format!("{report_link}?format=pdf")) { "the report as PDF" } }
        }
        @if person.is_some() && (visit.may(Scope::CandidatesRead) || visit.may(Scope::CandidatesErase)) {
            p { a href=(format!("/console/candidates?assessment={}", a.id)) { "This candidate's data: export or erase" } }
        }
        h2 { "Timeline" }
        ol class="timeline" {
            @for m in &t.moments { li { time datetime=(m.at.to_rfc3339()) { (when(m.at)) } " — " (step_text(m.step)) } }
        }
        h2 { "Outgoing calls" }
        @if !visit.may(Scope::DeliveriesRead) {
            p { "Seeing the outgoing calls needs the deliveries.read scope." }
        } @else if t.calls.is_empty() {
            p { "None." }
        } @else {
            @for c in &t.calls { (call(&visit, &state.public_url, c)) }
        }
    };
    visit.show(StatusCode::OK, "Assessment", body)
}

/// The recruiter's report of an assessment: a redirect to its signed link, which no console
/// page shows (the link is a bearer credential); each opening is in the audit log.
#[instrument(skip_all)]
pub(super) async fn report(
    console: Console,
    path: web::Path<String>,
    query: crate::http::fields::Query,
) -> HttpResponse {
    if let Err(answer) = console.visit(Scope::AssessmentsRead).await {
        return answer;
    }
    let none = || {
        message(
            StatusCode::NOT_FOUND,
            "No report",
            "This assessment has no report to show.",
        )
    };
    let Ok(id) = Uuid::parse_str(&path) else {
        return none();
    };
    let state = &console.state;
    // Only the assessment row: the timeline's calls and attempts are not needed here.
    let url = match assessment::Entity::find_by_id(AssessmentId(id)).one(&state.db).await {
        Ok(found) => found.and_then(|a| timeline::report_url(&a, &state.links)),
        Err(e) => return internal(e),
    };
    let Some(url) = url else {
        return none();
    };
    let pdf = query.get("format").is_some_and(|f| f == "pdf");
    let to = if pdf { format!("{url}?format=pdf") } else { url };
    see_other(&to, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::page::query_of as query;

    #[test]
    fn the_search_reads_its_fields_and_names_the_one_that_is_wrong() {
        let (f, before) = filter(&query(&[
            ("q", " r-1 "),
            ("state", "completed"),
            ("from", "2026-12-01"),
            ("organization", ""),
        ]))
        .unwrap();
        assert_eq!(f.lookup.map(|l| l.text).as_deref(), Some("r-1"));
        assert_eq!(f.state, Some(State::Completed));
        assert!(f.created_from.is_some() && f.created_to.is_none() && f.organization_id.is_none());
        assert_eq!(before, None);
        assert_eq!(filter(&query(&[("state", "done")])).err(), Some("state"));
        assert_eq!(filter(&query(&[("organization", "x")])).err(), Some("organization"));
        assert_eq!(filter(&query(&[("to", "31/12/2026")])).err(), Some("to"));
    }
}

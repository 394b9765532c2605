//! `/console/audit`: the audit log (scope `audit.read`), newest first, filtered by action and
//! by day (`from` inclusive, `to` exclusive, UTC), 50 events a page.
use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use maud::html;
use tracing::instrument;
use uuid::Uuid;

use super::page::{Column, Console, Row, day, day_field, internal, message, next_page, table};
use crate::audit;
use crate::auth::admin::Scope;
use crate::db::Cursor;

const PAGE: u64 = 50;

/// The filter of the query string; `Err` names the field that is wrong.
fn filter(query: &HashMap<String, String>) -> Result<(audit::Filter, Cursor), &'static str> {
    let text = |name: &str| query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let day = |name: &'static str| text(name).map(|v| day(v).ok_or(name)).transpose();
    Ok((
        audit::Filter {
            action: text("action").map(str::to_owned),
            from: day("from")?,
            to: day("to")?,
        },
        Cursor::newest_first(
            text("before")
                .map(|v| Uuid::parse_str(v).map_err(|_| "before"))
                .transpose()?,
        ),
    ))
}

#[instrument(skip_all)]
pub(super) async fn audit_page(console: Console, query: crate::http::fields::Query) -> HttpResponse {
    let visit = match console.visit(Scope::AuditRead).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let state = &console.state;
    let (filter, page) = match filter(&query) {
        Ok(f) => f,
        Err(field) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Check the filter",
                &format!("{field} must be a date like 2026-12-31 (before: an event id)."),
            );
        }
    };
    let events = match audit::list(&state.db, &filter, page, PAGE + 1).await {
        Ok(events) => events,
        Err(e) => return internal(e),
    };
    let more = events.len() as u64 > PAGE;
    let shown = &events[..events.len().min(PAGE as usize)];
    let value = |name: &str| query.get(name).cloned().unwrap_or_default();
    let next = shown
        .last()
        .filter(|_| more)
        .map(|last| next_page("/console/audit", &query, &["action", "from", "to"], last.id));
    let body = html! {
        h1 { "Audit log" }
        form method="get" action="/console/audit" class="filters" {
            div {
                label for="action" { "Action" }
                input id="action" name="action" value=(value("action")) placeholder="e.g. delivery.replay";
            }
            (day_field("from", "From (day, UTC)", &query))
            (day_field("to", "Before (day, UTC)", &query))
            button type="submit" { "Filter" }
        }
        (table(
            html! { (shown.len()) " event(s), newest first" },
            None,
            &[
                Column::text("When (UTC)"), Column::text("Actor"), Column::text("Action"),
                Column::text("Target"), Column::text("Outcome"), Column::figures("Status"),
            ],
            shown.iter().map(|e| Row::of(vec![
                html! { (e.at.format("%Y-%m-%d %H:%M:%S")) },
                html! { (e.actor) },
                html! { (e.action) },
                html! { (e.target_type.as_deref().unwrap_or("")) " " (e.target_id.as_deref().unwrap_or("")) },
                html! { (e.outcome) },
                html! { (e.status) },
            ])).collect(),
        ))
        @if let Some(next) = next { p { a href=(next) { "Next page" } } }
    };
    visit.show(StatusCode::OK, "Audit log", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::page::query_of as query;

    #[test]
    fn the_filter_reads_days_and_refuses_what_is_not_one() {
        let (f, page) = filter(&query(&[
            ("action", " console.sign_in "),
            ("from", "2026-12-01"),
            ("to", ""),
        ]))
        .unwrap();
        assert_eq!(f.action.as_deref(), Some("console.sign_in"));
        assert_eq!(
            f.from.map(|d| d.to_rfc3339()).as_deref(),
            Some("2026-12-01T00:00:00+00:00")
        );
        assert_eq!(f.to, None);
        assert_eq!(page, Cursor::newest_first(None));
        assert_eq!(filter(&query(&[("from", "yesterday")])).err(), Some("from"));
        assert_eq!(filter(&query(&[("before", "x")])).err(), Some("before"));
    }
}

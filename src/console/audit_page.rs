//! `/console/audit`: the audit log (scope `audit.read`), oldest first, filtered by action and
//! by day (`from` inclusive, `to` exclusive, UTC), 50 events a page.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get};
use maud::html;
use tracing::instrument;
use uuid::Uuid;

use super::page::{Console, day, day_field, internal, message, next_page};
use crate::audit;
use crate::auth::admin::Scope;

const PAGE: u64 = 50;

/// The filter of the query string; `Err` names the field that is wrong.
fn filter(query: &HashMap<String, String>) -> Result<audit::Filter, &'static str> {
    let text = |name: &str| query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let day = |name: &'static str| text(name).map(|v| day(v).ok_or(name)).transpose();
    Ok(audit::Filter {
        action: text("action").map(str::to_owned),
        from: day("from")?,
        to: day("to")?,
        after: text("after")
            .map(|v| Uuid::parse_str(v).map_err(|_| "after"))
            .transpose()?,
    })
}

#[get("/console/audit")]
#[instrument(skip_all)]
pub(super) async fn audit_page(console: Console, query: crate::http::fields::Query) -> HttpResponse {
    let visit = match console.visit(Scope::AuditRead).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let state = &console.state;
    let filter = match filter(&query) {
        Ok(f) => f,
        Err(field) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Check the filter",
                &format!("{field} must be a date like 2026-12-31 (after: an event id)."),
            );
        }
    };
    let events = match audit::list(&state.db, &filter, PAGE + 1).await {
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
        div class="scroll" { table {
            caption { (shown.len()) " event(s), oldest first" }
            thead { tr {
                th scope="col" { "When (UTC)" } th scope="col" { "Actor" } th scope="col" { "Action" }
                th scope="col" { "Target" } th scope="col" { "Outcome" } th scope="col" { "Status" }
            } }
            tbody {
                @for e in shown {
                    tr {
                        td { (e.at.format("%Y-%m-%d %H:%M:%S")) }
                        td { (e.actor) }
                        td { (e.action) }
                        td { (e.target_type.as_deref().unwrap_or("")) " " (e.target_id.as_deref().unwrap_or("")) }
                        td { (e.outcome) }
                        td class="n" { (e.status) }
                    }
                }
            }
        } }
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
        let f = filter(&query(&[
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
        assert_eq!(filter(&query(&[("from", "yesterday")])).err(), Some("from"));
        assert_eq!(filter(&query(&[("after", "x")])).err(), Some("after"));
    }
}

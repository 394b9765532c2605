//! What the recruiter opens from a result: the report (`/r/{token}`, a page in the
//! organisation's locale, or with `?format=pdf` the same as a PDF document) and the
//! recruitment's candidates (`/recruitments/{token}`). Links are JWTs with their own audience and expiry.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use maud::{Markup, html};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;
use tracing::instrument;
use uuid::Uuid;

use crate::assessment::report::{Loaded, Report, load, sample};
use crate::entity::{assessment, candidate, recruitment};
use crate::links::{LinkError, LinkKind};
use crate::state::AppState;

use super::pages::layout;
use super::report_pdf;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(report).service(recruitment_page);
}

fn page(status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    page_in("en", status, title, body)
}

fn page_in(lang: &str, status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    crate::http::html::page(status).body(layout(lang, title, body).into_string())
}

fn problem(status: StatusCode, heading: &str, text: &str) -> HttpResponse {
    page(status, heading, html! { h1 { (heading) } p { (text) } })
}

fn link_problem(e: LinkError) -> HttpResponse {
    match e {
        LinkError::Expired => problem(
            StatusCode::GONE,
            "This link has expired",
            "Ask for a new link in your applicant tracking system.",
        ),
        LinkError::Invalid => problem(
            StatusCode::NOT_FOUND,
            "This link does not work",
            "Check that you copied the whole link.",
        ),
    }
}

/// What a recruitment link shows.
enum Shown {
    Page(Markup),
    /// Nothing: no such recruitment.
    Nothing,
    /// The candidates' data was erased.
    Erased,
}

/// The page of an erased assessment's report or recruitment.
fn erased() -> HttpResponse {
    problem(
        StatusCode::GONE,
        "No longer available",
        "The candidate's data has been erased.",
    )
}

fn internal(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "report page failed");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Please try again in a moment.",
    )
}

fn bar(label_id: &str, score: i32) -> Markup {
    html! {
        div class="bar" role="img" aria-labelledby=(label_id) { span style={ "width:" (score.clamp(0, 100)) "%" } {} }
    }
}

/// `?format=`: the page (`html`, the default) or the document (`pdf`).
#[derive(Debug, Deserialize)]
struct ReportQuery {
    format: Option<String>,
}

#[get("/r/{token}")]
#[instrument(skip_all)]
async fn report(state: web::Data<AppState>, token: web::Path<String>, query: web::Query<ReportQuery>) -> HttpResponse {
    let pdf = match query.format.as_deref() {
        None | Some("html") => false,
        Some("pdf") => true,
        Some(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Unknown format",
                "The report comes as format=html (the page) or format=pdf (the document).",
            );
        }
    };
    let now = state.clock.now();
    let id = match state.links.verify(LinkKind::Report, &token, now) {
        Ok(id) => id,
        // A test push's link: the lens's sample report.
        Err(LinkError::Invalid) => match state.links.verify(LinkKind::SampleReport, &token, now) {
            Ok(lens) => {
                return match sample(&state.db, lens, now).await {
                    Ok(Some(report)) => show(report, pdf, now).await,
                    Ok(None) => link_problem(LinkError::Invalid),
                    Err(e) => internal(e),
                };
            }
            Err(e) => return link_problem(e),
        },
        Err(e) => return link_problem(e),
    };
    let report = match load(&state.db, id.into()).await {
        Ok(Loaded::Ready(report)) => report,
        Ok(Loaded::Erased) => return erased(),
        Ok(Loaded::Missing) => {
            return problem(
                StatusCode::NOT_FOUND,
                "No report yet",
                "The candidate has not finished this assessment.",
            );
        }
        Err(e) => return internal(e),
    };
    show(*report, pdf, now).await
}

/// The report as a page, or as the PDF document.
async fn show(doc: Report, pdf: bool, now: chrono::DateTime<chrono::Utc>) -> HttpResponse {
    if !pdf {
        let l = doc.labels();
        let markup = super::pages::branded(l.lang, l.title, doc.brand.as_ref(), report_page(&doc));
        return crate::http::html::page(StatusCode::OK).body(markup.into_string());
    }
    // Laying out the document is CPU work: off the server's threads.
    match web::block(move || report_pdf::render(&doc, now)).await {
        Ok(Ok(bytes)) => crate::http::html::document(StatusCode::OK, "application/pdf")
            .insert_header(("Content-Disposition", "inline; filename=\"assessment-report.pdf\""))
            .body(bytes),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

fn report_page(r: &Report) -> Markup {
    let l = r.labels();
    html! {
        h1 { (l.title) }
        @if r.sample { p class="sample" role="note" { strong { (l.sample) } } }
        p class="muted" { (r.organization) " · " (r.lens) @if let Some(role) = &r.role { " · " (role) } " · " (r.candidate) }
        p { (l.completed) " " (r.completed_at.format("%Y-%m-%d %H:%M UTC"))
            @if let Some(m) = r.minutes { " · " (l.took(m)) } }
        p { a href="?format=pdf" { (l.download) } }
        h2 id="overall" { (l.overall) }
        p class="score" { (r.score) span class="muted" { " / 100 · " (l.band(r.band)) } }
        (bar("overall", r.score))
        h2 { (l.competencies) }
        table {
            thead { tr { th scope="col" { (l.competency) } th scope="col" { (l.score) } th scope="col" { (l.band) } } }
            tbody {
                @for (i, c) in r.competencies.iter().enumerate() {
                    @let label_id = format!("c-{i}");
                    tr {
                        td {
                            span id=(label_id) { (c.name) } (bar(&label_id, c.score))
                            @if !c.sentence.is_empty() { p class="muted" { (c.sentence) } }
                        }
                        td { (c.score) }
                        td { (l.band(c.band)) }
                    }
                }
            }
        }
        p class="muted" { (l.legend) }
    }
}

#[get("/recruitments/{token}")]
#[instrument(skip_all)]
async fn recruitment_page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let now = state.clock.now();
    let id = match state.links.verify(LinkKind::Recruitment, &token, now) {
        Ok(id) => id,
        Err(e) => return link_problem(e),
    };
    let result: Result<Shown, sea_orm::DbErr> = async {
        // The subject is a recruitment, or (for assessments without one, as from Ashby) the assessment.
        let (title, rows) = match recruitment::Entity::find_by_id(id).one(&state.db).await? {
            Some(r) => {
                let rows = assessment::Entity::find()
                    .filter(assessment::Column::RecruitmentId.eq(r.id))
                    .order_by_asc(assessment::Column::Id)
                    .all(&state.db)
                    .await?;
                (r.title, rows)
            }
            None => match assessment::Entity::find_by_id(id).one(&state.db).await? {
                Some(a) => (a.ashby_job_name.clone().unwrap_or_else(|| "Assessment".into()), vec![a]),
                None => return Ok(Shown::Nothing),
            },
        };
        // Erased candidates are not shown; when nobody is left, the page is gone.
        let rows: Vec<assessment::Model> = rows.into_iter().filter(|a| a.erased_at.is_none()).collect();
        if rows.is_empty() {
            return Ok(Shown::Erased);
        }
        let candidate_ids: Vec<Uuid> = rows.iter().map(|a| a.candidate_id).collect();
        let emails: std::collections::HashMap<Uuid, String> = candidate::Entity::find()
            .filter(candidate::Column::Id.is_in(candidate_ids))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|c| (c.id, c.email))
            .collect();
        let ttl = state.links.report_ttl();
        Ok(Shown::Page(html! {
            h1 { (title) }
            p class="muted" { (rows.len()) " candidate(s)" }
            table {
                thead { tr { th scope="col" { "Candidate" } th scope="col" { "State" } th scope="col" { "Score" } th scope="col" { "Report" } } }
                tbody {
                    @for a in &rows {
                        tr {
                            td { (emails.get(&a.candidate_id).map(String::as_str).unwrap_or("")) }
                            td { (a.state) }
                            td { @if let Some(s) = a.score { (s) } @else { "–" } }
                            td {
                                @if let Some(done) = a.completed_at {
                                    a href=(state.links.url(LinkKind::Report, a.id.into(), done + ttl)) { "Open report" }
                                } @else { "–" }
                            }
                        }
                    }
                }
            }
        }))
    }
    .await;
    match result {
        Ok(Shown::Erased) => erased(),
        Ok(Shown::Page(markup)) => page(StatusCode::OK, "Recruitment", markup),
        Ok(Shown::Nothing) => problem(
            StatusCode::NOT_FOUND,
            "Nothing here",
            "This recruitment no longer exists.",
        ),
        Err(e) => internal(e),
    }
}

//! What the recruiter opens from a result: the report (`/r/{token}`) and the recruitment's
//! candidates (`/recruitments/{token}`). Links are JWTs with their own audience and expiry.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use maud::{Markup, html};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;
use uuid::Uuid;

use crate::assessment::scoring::{Band, band};
use crate::catalog::{FALLBACK_LOCALE, display_name};
use crate::entity::{assessment, candidate, lens, lens_competency, recruitment};
use crate::links::{LinkError, LinkKind};
use crate::state::AppState;

use super::pages::layout;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(report).service(recruitment_page);
}

fn page(status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .body(layout("en", title, body).into_string())
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

/// What a report or recruitment link shows.
enum Shown {
    Page(Markup),
    /// Nothing (yet): no such report, or not finished.
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

fn internal(e: sea_orm::DbErr) -> HttpResponse {
    tracing::error!(error = %e, "report page failed");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Please try again in a moment.",
    )
}

pub fn band_label(b: Band) -> &'static str {
    match b {
        Band::Low => "Low",
        Band::Average => "Average",
        Band::Strong => "Strong",
        Band::VeryStrong => "Very strong",
    }
}

fn bar(label_id: &str, score: i32) -> Markup {
    html! {
        div class="bar" role="img" aria-labelledby=(label_id) { span style={ "width:" (score.clamp(0, 100)) "%" } {} }
    }
}

#[get("/r/{token}")]
#[instrument(skip_all)]
async fn report(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let id = match state.links.verify(LinkKind::Report, &token, state.clock.now()) {
        Ok(id) => id,
        Err(e) => return link_problem(e),
    };
    match render_report(&state, id).await {
        Ok(Shown::Erased) => erased(),
        Ok(Shown::Page(markup)) => page(StatusCode::OK, "Assessment report", markup),
        Ok(Shown::Nothing) => problem(
            StatusCode::NOT_FOUND,
            "No report yet",
            "The candidate has not finished this assessment.",
        ),
        Err(e) => internal(e),
    }
}

async fn render_report(state: &AppState, id: Uuid) -> Result<Shown, sea_orm::DbErr> {
    let Some(a) = assessment::Entity::find_by_id(id).one(&state.db).await? else {
        return Ok(Shown::Nothing);
    };
    if a.erased_at.is_some() {
        return Ok(Shown::Erased);
    }
    let (Some(score), Some(completed_at)) = (a.score, a.completed_at) else {
        return Ok(Shown::Nothing);
    };
    let lens = lens::Entity::find_by_id(a.lens_id).one(&state.db).await?;
    let email = candidate::Entity::find_by_id(a.candidate_id)
        .one(&state.db)
        .await?
        .map(|c| c.email)
        .unwrap_or_default();
    let subscores: std::collections::BTreeMap<String, i32> = a
        .subscores
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let competencies = lens_competency::Entity::find()
        .filter(lens_competency::Column::LensId.eq(a.lens_id))
        .order_by_asc(lens_competency::Column::Position)
        .all(&state.db)
        .await?;
    let minutes = a
        .started_at
        .map(|s| ((completed_at - s).num_seconds().max(0) + 59) / 60);
    Ok(Shown::Page(html! {
        h1 { "Assessment report" }
        p class="muted" {
            (lens.as_ref().map(|l| l.name.as_str()).unwrap_or("")) " · " (email)
        }
        p { "Completed " (completed_at.format("%Y-%m-%d %H:%M UTC"))
            @if let Some(m) = minutes { " · took " (m) " min" } }
        h2 id="overall" { "Overall score" }
        p class="score" { (score) span class="muted" { " / 100 · " (band_label(band(score))) } }
        (bar("overall", score))
        h2 { "Competencies" }
        table {
            thead { tr { th scope="col" { "Competency" } th scope="col" { "Score" } th scope="col" { "Band" } } }
            tbody {
                @for c in &competencies {
                    @let s = subscores.get(&c.key).copied().unwrap_or_default();
                    @let label_id = format!("c-{}", c.key);
                    tr {
                        td { span id=(label_id) { (display_name(&c.key, c.name.as_deref(), FALLBACK_LOCALE)) } (bar(&label_id, s)) }
                        td { (s) }
                        td { (band_label(band(s))) }
                    }
                }
            }
        }
        p class="muted" { "Bands: Low 0–39, Average 40–59, Strong 60–79, Very strong 80–100." }
    }))
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

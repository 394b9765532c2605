//! The candidate flow: intro → start → one page of statements per competency → review →
//! submit (scored, completed, result and Ashby completion enqueued) — or decline.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use tracing::instrument;

use crate::assessment::completion::complete;
use crate::assessment::lifecycle;
use crate::assessment::questionnaire::{self};
use crate::assessment::{Event, State};
use crate::candidate::pages;
use crate::catalog::{Catalog, Competency};
use crate::state::AppState;

use super::context::{
    Ctx, Failure, Form, check_csrf, csrf_token, html, load, load_started, organization_and_role, respond, see_other,
    with_cookie,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(landing)
        .service(start)
        .service(decline)
        .service(question_page)
        .service(save_page)
        .service(review_page)
        .service(submit);
    crate::candidate::report::configure(cfg);
    cfg.service(crate::candidate::logo::logo);
}

#[get("/a/{token}")]
#[instrument(skip_all)]
async fn landing(state: web::Data<AppState>, req: HttpRequest, token: web::Path<String>) -> HttpResponse {
    respond(
        async {
            let ctx = load(&state, &token).await?;
            if let Some((status, page)) = ctx.closed_page() {
                return Ok(html(status, page));
            }
            if ctx.state() == State::Started {
                let answers = ctx.answers(&state).await?;
                return Ok(see_other(&ctx.resume_target(&answers)));
            }
            let (org, role) = organization_and_role(&state, &ctx.assessment).await?;
            let (csrf_token, cookie) = csrf_token(&req)?;
            let minutes = Catalog::get().estimated_minutes(ctx.questionnaire.parts().map(|c| c.key.as_str()));
            let page = pages::intro(
                ctx.words,
                &pages::Intro {
                    brand: ctx.brand.as_ref(),
                    organization: &org,
                    role: &role,
                    minutes,
                    base: &ctx.base,
                    csrf: &csrf_token,
                },
            );
            Ok(with_cookie(html(StatusCode::OK, page), cookie))
        }
        .await,
    )
}

async fn transition(state: &AppState, ctx: &Ctx, event: Event) -> Result<(), Failure> {
    let moved = lifecycle::apply(
        &state.db,
        ctx.assessment.id,
        event,
        state.clock.now(),
        &state.ashby_base_url,
    )
    .await?;
    if moved.is_some_and(|m| m.enqueued) {
        state.wake_worker();
    }
    Ok(())
}

#[post("/a/{token}/start")]
#[instrument(skip_all)]
async fn start(state: web::Data<AppState>, req: HttpRequest, token: web::Path<String>, form: Form) -> HttpResponse {
    respond(
        async {
            let ctx = load(&state, &token).await?;
            ctx.ensure_open()?;
            check_csrf(&req, &form, &ctx)?;
            transition(&state, &ctx, Event::Start).await?;
            Ok(see_other(&format!("{}/q/1", ctx.base)))
        }
        .await,
    )
}

#[post("/a/{token}/decline")]
#[instrument(skip_all)]
async fn decline(state: web::Data<AppState>, req: HttpRequest, token: web::Path<String>, form: Form) -> HttpResponse {
    respond(
        async {
            let ctx = load(&state, &token).await?;
            ctx.ensure_open()?;
            check_csrf(&req, &form, &ctx)?;
            transition(&state, &ctx, Event::Decline).await?;
            Ok(see_other(&ctx.base))
        }
        .await,
    )
}

/// The competency for a 1-based page number.
fn page_of(ctx: &Ctx, page: usize) -> Result<&'static Competency, Failure> {
    ctx.questionnaire.part(page).ok_or_else(|| {
        Failure::Page(
            StatusCode::NOT_FOUND,
            pages::message(ctx.words, ctx.words.invalid_heading, ctx.words.invalid),
        )
    })
}

/// How a part is shown: opened from the review or not, and after what.
#[derive(Clone, Copy)]
struct View {
    from_review: bool,
    status: StatusCode,
    /// The part was sent with statements unanswered: say so and mark them.
    incomplete: bool,
    /// The form had expired: say so.
    stale: bool,
}

impl View {
    fn new(from_review: bool) -> Self {
        Self {
            from_review,
            status: StatusCode::OK,
            incomplete: false,
            stale: false,
        }
    }
}

/// `from=review` in the query (a link on the review) or in the form (the part's own form).
fn from_review(values: &HashMap<String, String>) -> bool {
    values.get("from").is_some_and(|v| v == "review")
}

async fn render_questions(
    state: &AppState,
    req: &HttpRequest,
    ctx: &Ctx,
    page: usize,
    view: View,
) -> Result<HttpResponse, Failure> {
    let competency = page_of(ctx, page)?;
    let answers = ctx.answers(state).await?;
    let locale = &ctx.assessment.locale;
    let (csrf_token, cookie) = csrf_token(req)?;
    let markup = pages::questions(
        ctx.words,
        &pages::QuestionsPage {
            brand: ctx.brand.as_ref(),
            base: &ctx.base,
            csrf: &csrf_token,
            page,
            pages: ctx.questionnaire.len(),
            heading: competency.name(locale),
            labels: Catalog::get().scale_labels(locale),
            questions: competency
                .items
                .iter()
                .map(|i| pages::Question {
                    id: &i.id,
                    text: i.text(locale),
                    answer: answers.get(&i.id).copied(),
                })
                .collect(),
            notice: if view.stale {
                Some(ctx.words.stale_form)
            } else if view.incomplete {
                Some(ctx.words.unanswered)
            } else {
                None
            },
            mark_missing: view.incomplete,
            from_review: view.from_review,
        },
    );
    Ok(with_cookie(html(view.status, markup), cookie))
}

#[get("/a/{token}/q/{page}")]
#[instrument(skip_all)]
async fn question_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, usize)>,
    query: crate::http::fields::Query,
) -> HttpResponse {
    let (token, page) = path.into_inner();
    respond(
        async {
            let ctx = load_started(&state, &token).await?;
            render_questions(&state, &req, &ctx, page, View::new(from_review(&query))).await
        }
        .await,
    )
}

#[post("/a/{token}/q/{page}")]
#[instrument(skip_all)]
async fn save_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, usize)>,
    form: Form,
) -> HttpResponse {
    let (token, page) = path.into_inner();
    respond(
        async {
            let ctx = load_started(&state, &token).await?;
            let view = View::new(from_review(&form));
            if check_csrf(&req, &form, &ctx).is_err() {
                let view = View {
                    status: StatusCode::FORBIDDEN,
                    stale: true,
                    ..view
                };
                return render_questions(&state, &req, &ctx, page, view).await;
            }
            let competency = page_of(&ctx, page)?;
            let sent = questionnaire::save_part(
                &state.db,
                ctx.assessment.id,
                competency,
                |item| form.get(&format!("item:{item}")).map(String::as_str),
                state.clock.now(),
            )
            .await?;
            // What was answered is kept; a statement left out keeps the candidate on the part.
            if sent < competency.items.len() {
                let answers = ctx.answers(&state).await?;
                if !questionnaire::part_done(competency, &answers) {
                    let view = View {
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        incomplete: true,
                        ..view
                    };
                    return render_questions(&state, &req, &ctx, page, view).await;
                }
            }
            let next = if page < ctx.questionnaire.len() && !view.from_review {
                format!("{}/q/{}", ctx.base, page + 1)
            } else {
                format!("{}/review", ctx.base)
            };
            Ok(see_other(&next))
        }
        .await,
    )
}

async fn render_review(
    state: &AppState,
    req: &HttpRequest,
    ctx: &Ctx,
    status: StatusCode,
) -> Result<HttpResponse, Failure> {
    let answers = ctx.answers(state).await?;
    let locale = &ctx.assessment.locale;
    let q = &ctx.questionnaire;
    let missing = q
        .unfinished(&answers)
        .map(|(page, c)| (page, c.name(locale).to_owned()))
        .collect();
    let answered = q.answered(&answers);
    let (csrf_token, cookie) = csrf_token(req)?;
    let markup = pages::review(
        ctx.words,
        &pages::Review {
            brand: ctx.brand.as_ref(),
            base: &ctx.base,
            csrf: &csrf_token,
            answered,
            total: q.item_count(),
            pages: q.len(),
            missing,
        },
    );
    Ok(with_cookie(html(status, markup), cookie))
}

#[get("/a/{token}/review")]
#[instrument(skip_all)]
async fn review_page(state: web::Data<AppState>, req: HttpRequest, token: web::Path<String>) -> HttpResponse {
    respond(
        async {
            let ctx = load_started(&state, &token).await?;
            render_review(&state, &req, &ctx, StatusCode::OK).await
        }
        .await,
    )
}

#[post("/a/{token}/submit")]
#[instrument(skip_all)]
async fn submit(state: web::Data<AppState>, req: HttpRequest, token: web::Path<String>, form: Form) -> HttpResponse {
    respond(
        async {
            let ctx = load_started(&state, &token).await?;
            check_csrf(&req, &form, &ctx)?;
            let answers = ctx.answers(&state).await?;
            if !ctx.questionnaire.is_complete(&answers) {
                return render_review(&state, &req, &ctx, StatusCode::UNPROCESSABLE_ENTITY).await;
            }
            let now = state.clock.now();
            let result = ctx
                .questionnaire
                .score(&answers, now)
                .map_err(|e| Failure::Internal(e.into()))?;
            let done = complete(&state.db, &state.completion(), ctx.assessment.id, None, &result, now)
                .await
                .map_err(|e| Failure::Internal(e.into()))?;
            if done.enqueued {
                state.wake_worker();
            }
            tracing::info!(assessment_id = %ctx.assessment.id, score = result.score, "candidate submitted");
            Ok(see_other(&ctx.base))
        }
        .await,
    )
}

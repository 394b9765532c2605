//! The candidate flow: intro → start → one page of statements per competency → review →
//! submit (scored, completed, result and Ashby completion enqueued) — or decline.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use maud::Markup;
use sea_orm::EntityTrait;
use tracing::instrument;

use crate::assessment::completion::complete;
use crate::assessment::lifecycle;
use crate::assessment::questionnaire::{self, Answers, Questionnaire};
use crate::assessment::{Event, State};
use crate::candidate::i18n::{Words, words};
use crate::candidate::pages;
use crate::catalog::{Catalog, Competency};
use crate::entity::{assessment, lens, organization, recruitment};
use crate::links::{LinkError, LinkKind};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(landing)
        .service(start)
        .service(decline)
        .service(question_page)
        .service(save_page)
        .service(review_page)
        .service(submit);
    crate::candidate::report::configure(cfg);
}

type Form = web::Form<HashMap<String, String>>;

/// Everything a page needs about the assessment behind the link.
struct Ctx {
    assessment: assessment::Model,
    words: &'static Words,
    base: String,
    questionnaire: Questionnaire,
}

enum Failure {
    Page(StatusCode, Markup),
    /// Not a failure of the page so much as the wrong page: go there (303).
    Redirect(String),
    Internal(anyhow::Error),
}

impl From<sea_orm::DbErr> for Failure {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(e.into())
    }
}

fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .body(markup.into_string())
}

fn respond(result: Result<HttpResponse, Failure>) -> HttpResponse {
    match result {
        Ok(r) => r,
        Err(Failure::Page(status, markup)) => html(status, markup),
        Err(Failure::Redirect(to)) => see_other(&to),
        Err(Failure::Internal(e)) => {
            tracing::error!(error = format!("{e:#}"), "candidate page failed");
            let w = words("en-US");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::message(
                    w,
                    "Something went wrong",
                    "Please try again in a moment. Your saved answers are kept.",
                ),
            )
        }
    }
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to.to_owned()))
        .finish()
}

/// Resolves the link. Invalid → 404 page, expired link → 410 page.
async fn load(state: &AppState, token: &str) -> Result<Ctx, Failure> {
    let en = words("en-US");
    let id = match state.links.verify(LinkKind::Assessment, token, state.clock.now()) {
        Ok(id) => id,
        Err(LinkError::Expired) => {
            return Err(Failure::Page(
                StatusCode::GONE,
                pages::message(en, en.expired_heading, en.expired),
            ));
        }
        Err(LinkError::Invalid) => {
            return Err(Failure::Page(
                StatusCode::NOT_FOUND,
                pages::message(en, en.invalid_heading, en.invalid),
            ));
        }
    };
    let assessment = assessment::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            Failure::Page(
                StatusCode::NOT_FOUND,
                pages::message(en, en.invalid_heading, en.invalid),
            )
        })?;
    tracing::Span::current().record("organization_id", tracing::field::display(assessment.organization_id));
    let questionnaire = Questionnaire::load(&state.db, assessment.lens_id)
        .await
        .map_err(|e| Failure::Internal(e.into()))?;
    Ok(Ctx {
        words: words(&assessment.locale),
        base: format!("/a/{token}"),
        assessment,
        questionnaire,
    })
}

/// The assessment behind the link, for the pages after Start: it must still be open, and one
/// that has not started goes back to its intro.
async fn load_started(state: &AppState, token: &str) -> Result<Ctx, Failure> {
    let ctx = load(state, token).await?;
    ctx.ensure_open()?;
    if ctx.state() == State::Invited {
        return Err(Failure::Redirect(ctx.base));
    }
    Ok(ctx)
}

impl Ctx {
    fn state(&self) -> State {
        self.assessment.state
    }

    /// The page for an assessment that can no longer be taken, if it cannot.
    fn closed_page(&self) -> Option<(StatusCode, Markup)> {
        let w = self.words;
        match self.state() {
            State::Invited | State::Started => None,
            State::Completed => Some((StatusCode::OK, pages::message(w, w.done_heading, w.done))),
            State::Declined => Some((StatusCode::OK, pages::message(w, w.declined_heading, w.declined))),
            State::Expired => Some((StatusCode::GONE, pages::message(w, w.expired_heading, w.expired))),
            State::Cancelled => Some((StatusCode::GONE, pages::message(w, w.withdrawn_heading, w.withdrawn))),
        }
    }

    fn ensure_open(&self) -> Result<(), Failure> {
        match self.closed_page() {
            Some((status, page)) => Err(Failure::Page(status, page)),
            None => Ok(()),
        }
    }

    async fn answers(&self, state: &AppState) -> Result<Answers, Failure> {
        Ok(questionnaire::answers(&state.db, self.assessment.id).await?)
    }

    /// The first page with an unanswered statement, or the review.
    fn resume_target(&self, answers: &Answers) -> String {
        match self.questionnaire.unfinished(answers).next() {
            Some((page, _)) => format!("{}/q/{page}", self.base),
            None => format!("{}/review", self.base),
        }
    }
}

fn with_cookie(mut response: HttpResponse, cookie: Option<actix_web::cookie::Cookie<'static>>) -> HttpResponse {
    if let Some(c) = cookie {
        let _ = response.add_cookie(&c);
    }
    response
}

fn secure(state: &AppState) -> bool {
    state.public_url.scheme() == "https"
}

fn check_csrf(state: &AppState, req: &HttpRequest, form: &HashMap<String, String>, ctx: &Ctx) -> Result<(), Failure> {
    if state.csrf.verify(req, form.get("csrf").map(String::as_str)) {
        Ok(())
    } else {
        let w = ctx.words;
        Err(Failure::Page(
            StatusCode::FORBIDDEN,
            pages::message(w, w.title, w.stale_form),
        ))
    }
}

async fn organization_and_role(state: &AppState, a: &assessment::Model) -> Result<(String, String), Failure> {
    let org = organization::Entity::find_by_id(a.organization_id)
        .one(&state.db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let role = match a.recruitment_id {
        Some(r) => recruitment::Entity::find_by_id(r)
            .one(&state.db)
            .await?
            .map(|r| r.title),
        None => a.ashby_job_name.clone(),
    };
    let role = match role {
        Some(role) => role,
        None => lens::Entity::find_by_id(a.lens_id)
            .one(&state.db)
            .await?
            .map(|l| l.name)
            .unwrap_or_default(),
    };
    Ok((org, role))
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
            let (csrf_token, cookie) = state.csrf.token(&req, secure(&state));
            let minutes = Catalog::get().estimated_minutes(ctx.questionnaire.parts().map(|c| c.key.as_str()));
            let page = pages::intro(
                ctx.words,
                &pages::Intro {
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
            check_csrf(&state, &req, &form, &ctx)?;
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
            check_csrf(&state, &req, &form, &ctx)?;
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
    let (csrf_token, cookie) = state.csrf.token(req, secure(state));
    let markup = pages::questions(
        ctx.words,
        &pages::QuestionsPage {
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
    query: web::Query<HashMap<String, String>>,
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
            if check_csrf(&state, &req, &form, &ctx).is_err() {
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
    let (csrf_token, cookie) = state.csrf.token(req, secure(state));
    let markup = pages::review(
        ctx.words,
        &pages::Review {
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
            check_csrf(&state, &req, &form, &ctx)?;
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

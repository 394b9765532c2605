//! What every candidate page does first: resolve the link to its assessment and questionnaire,
//! check the form's CSRF token, and answer with a page, a redirect or a failure page.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;
use sea_orm::EntityTrait;

use crate::assessment::State;
use crate::assessment::questionnaire::{self, Answers, Questionnaire};
use crate::candidate::i18n::{Words, words};
use crate::candidate::pages;
use crate::csrf::CsrfKey;
use crate::entity::{assessment, lens, organization, recruitment};
use crate::links::{LinkError, LinkKind};
use crate::state::AppState;

pub(super) type Form = crate::http::fields::Form;

/// Everything a page needs about the assessment behind the link.
pub(super) struct Ctx {
    pub assessment: assessment::Model,
    /// The employer's brand, for every page of the assessment.
    pub brand: Option<crate::tenancy::branding::Brand>,
    pub words: &'static Words,
    pub base: String,
    pub questionnaire: Questionnaire,
}

pub(super) enum Failure {
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

pub(super) fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    crate::http::html::page(status).body(markup.into_string())
}

pub(super) fn respond(result: Result<HttpResponse, Failure>) -> HttpResponse {
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

pub(super) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to.to_owned()))
        .finish()
}

/// Resolves the link. Invalid → 404 page, expired link → 410 page.
pub(super) async fn load(state: &AppState, token: &str) -> Result<Ctx, Failure> {
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
    if assessment.erased_at.is_some() {
        let w = words(&assessment.locale);
        return Err(Failure::Page(
            StatusCode::GONE,
            pages::message(w, w.erased_heading, w.erased),
        ));
    }
    let questionnaire = Questionnaire::load(&state.db, assessment.lens_id)
        .await
        .map_err(|e| Failure::Internal(e.into()))?;
    let brand = crate::tenancy::branding::Brand::load(&state.db, assessment.organization_id).await?;
    Ok(Ctx {
        brand,
        words: words(&assessment.locale),
        base: format!("/a/{token}"),
        assessment,
        questionnaire,
    })
}

/// The assessment behind the link, for the pages after Start: it must still be open, and one
/// that has not started goes back to its intro.
pub(super) async fn load_started(state: &AppState, token: &str) -> Result<Ctx, Failure> {
    let ctx = load(state, token).await?;
    ctx.ensure_open()?;
    if ctx.state() == State::Invited {
        return Err(Failure::Redirect(ctx.base));
    }
    Ok(ctx)
}

impl Ctx {
    pub(super) fn state(&self) -> State {
        self.assessment.state
    }

    /// The page for an assessment that can no longer be taken, if it cannot.
    pub(super) fn closed_page(&self) -> Option<(StatusCode, Markup)> {
        let w = self.words;
        let page = |heading, text| pages::message_of(w, self.brand.as_ref(), heading, text);
        match self.state() {
            State::Invited | State::Started => None,
            State::Completed => Some((StatusCode::OK, page(w.done_heading, w.done))),
            State::Declined => Some((StatusCode::OK, page(w.declined_heading, w.declined))),
            State::Expired => Some((StatusCode::GONE, page(w.expired_heading, w.expired))),
            State::Cancelled => Some((StatusCode::GONE, page(w.withdrawn_heading, w.withdrawn))),
        }
    }

    pub(super) fn ensure_open(&self) -> Result<(), Failure> {
        match self.closed_page() {
            Some((status, page)) => Err(Failure::Page(status, page)),
            None => Ok(()),
        }
    }

    pub(super) async fn answers(&self, state: &AppState) -> Result<Answers, Failure> {
        Ok(questionnaire::answers(&state.db, self.assessment.id).await?)
    }

    /// The first page with an unanswered statement, or the review.
    pub(super) fn resume_target(&self, answers: &Answers) -> String {
        match self.questionnaire.unfinished(answers).next() {
            Some((page, _)) => format!("{}/q/{page}", self.base),
            None => format!("{}/review", self.base),
        }
    }
}

pub(super) fn with_cookie(
    mut response: HttpResponse,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    if let Some(c) = cookie {
        let _ = response.add_cookie(&c);
    }
    response
}

/// The CSRF key, registered at start-up beside the app state.
fn csrf_key(req: &HttpRequest) -> Result<&CsrfKey, Failure> {
    req.app_data::<web::Data<CsrfKey>>()
        .map(|key| key.get_ref())
        .ok_or_else(|| Failure::Internal(anyhow::anyhow!("the CSRF key is not registered")))
}

/// A form's CSRF token and, when the browser has none yet, the cookie that pairs with it.
pub(super) fn csrf_token(req: &HttpRequest) -> Result<(String, Option<actix_web::cookie::Cookie<'static>>), Failure> {
    Ok(csrf_key(req)?.token(req))
}

pub(super) fn check_csrf(req: &HttpRequest, form: &HashMap<String, String>, ctx: &Ctx) -> Result<(), Failure> {
    if csrf_key(req)?.verify(req, form.get("csrf").map(String::as_str)) {
        Ok(())
    } else {
        let w = ctx.words;
        Err(Failure::Page(
            StatusCode::FORBIDDEN,
            pages::message(w, w.title, w.stale_form),
        ))
    }
}

pub(super) async fn organization_and_role(
    state: &AppState,
    a: &assessment::Model,
) -> Result<(String, String), Failure> {
    let org = organization::Entity::find_by_id(a.organization_id)
        .one(&state.db)
        .await?
        .map(|o| o.branding_display_name.unwrap_or(o.name))
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

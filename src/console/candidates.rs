//! `/console/candidates?assessment=…`: one candidate's personal data, exported (scope
//! `candidates.read`) or erased (scope `candidates.erase`), each from a page that shows whose
//! data it is first. Erasing asks for the candidate's address to be typed again, so that it is
//! never one careless click. Both are in the audit log, as the admin API's are.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use maud::html;
use tracing::instrument;
use uuid::Uuid;

use super::page::{Console, Form, Visit, internal, message};
use crate::assessment::personal_data::{self, Subject};
use crate::assessment::timeline::{self, Timeline};
use crate::auth::admin::Scope;
use crate::types::AssessmentId;

/// The assessment a form or a link names, with its candidate while not erased.
async fn subject_of(console: &Console, raw: Option<&String>) -> Result<(Timeline, String), HttpResponse> {
    let gone = || {
        message(
            StatusCode::NOT_FOUND,
            "Nothing to show",
            "There is no such assessment, or its candidate's data has been erased.",
        )
    };
    let Some(id) = raw.and_then(|v| Uuid::parse_str(v.trim()).ok()) else {
        return Err(gone());
    };
    let state = &console.state;
    match timeline::load(&state.db, AssessmentId(id), &state.links).await {
        Ok(Some(t)) => match t.candidate.as_ref().map(|c| c.email.clone()) {
            Some(email) => Ok((t, email)),
            None => Err(gone()),
        },
        Ok(None) => Err(gone()),
        Err(e) => Err(internal(e)),
    }
}

/// The page: whose data, and the export and erasure forms the operator's scopes allow.
fn candidate_page(visit: Visit, t: &Timeline, email: &str, error: Option<&str>) -> HttpResponse {
    let id = t.assessment.id;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let body = html! {
        h1 { "A candidate's data" }
        p { "The candidate " strong { (email) } " in " strong { (t.organization_name) } ", who took "
            a href=(format!("/console/assessments/{id}")) { "assessment " (id) } "." }
        @if visit.may(Scope::CandidatesRead) {
            h2 { "Export" }
            p { "Everything held about this person in this organisation, as a JSON file: every assessment with its answers and scores, and the outgoing calls about them. The export is recorded in the audit log." }
            form method="post" action="/console/candidates/export" {
                input type="hidden" name="csrf" value=(visit.token());
                input type="hidden" name="assessment" value=(id);
                button type="submit" { "Download the export" }
            }
        }
        @if visit.may(Scope::CandidatesErase) {
            h2 { "Erase" }
            p { "Erasing removes the address and names, the answers, Ashby's ids and fields, and every copy in the outgoing calls, from all of this person's assessments in this organisation. Their links stop working. It cannot be undone." }
            @if let Some(error) = error { p class="error" role="alert" { (error) } }
            form method="post" action="/console/candidates/erase" {
                input type="hidden" name="csrf" value=(visit.token());
                input type="hidden" name="assessment" value=(id);
                label for="confirm" { "Type the candidate's e-mail address to confirm" }
                input id="confirm" name="confirm" type="email" autocomplete="off" required;
                div class="check" {
                    input id="delete_scores" name="delete_scores" type="checkbox" value="yes";
                    label for="delete_scores" { "Delete the scores too (otherwise they stay, naming no one)" }
                }
                button type="submit" class="danger" { "Erase this candidate's data" }
            }
        }
    };
    visit.show(status, "A candidate's data", body)
}

#[instrument(skip_all)]
pub(super) async fn candidate(console: Console, query: crate::http::fields::Query) -> HttpResponse {
    let visit = match console.visit_any().await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    if !visit.may(Scope::CandidatesRead) && !visit.may(Scope::CandidatesErase) {
        return visit.refused_elsewhere(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "A candidate's data needs the candidates.read or candidates.erase scope.",
        );
    }
    match subject_of(&console, query.get("assessment")).await {
        Ok((t, email)) => candidate_page(visit, &t, &email, None),
        Err(answer) => answer,
    }
}

#[instrument(skip_all)]
pub(super) async fn export(console: Console, form: Form) -> HttpResponse {
    if let Err(answer) = console.act(&form, Scope::CandidatesRead).await {
        return answer;
    }
    let (t, _) = match subject_of(&console, form.get("assessment")).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    console.target("organization", t.assessment.organization_id);
    let state = &console.state;
    let subject = Subject::Assessment(t.assessment.id);
    let document = match personal_data::export(&state.db, &subject).await {
        Ok(Some(document)) => document,
        Ok(None) => return message(StatusCode::NOT_FOUND, "Nothing to show", "Nothing is held any more."),
        Err(e) => return internal(e),
    };
    let body = match serde_json::to_vec_pretty(&document) {
        Ok(body) => body,
        Err(e) => return internal(e),
    };
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"candidate-{}.json\"", t.assessment.id),
        ))
        .body(body)
}

#[instrument(skip_all)]
pub(super) async fn erase(console: Console, form: Form) -> HttpResponse {
    let visit = match console.act(&form, Scope::CandidatesErase).await {
        Ok(visit) => visit,
        Err(answer) => return answer,
    };
    let (t, email) = match subject_of(&console, form.get("assessment")).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    console.target("assessment", t.assessment.id);
    let typed = form.get("confirm").map(|v| v.trim().to_lowercase()).unwrap_or_default();
    if typed != email {
        return candidate_page(
            visit,
            &t,
            &email,
            Some("The address typed is not the candidate's: nothing was erased."),
        );
    }
    let state = &console.state;
    let erasure_id = Uuid::now_v7();
    console.target("erasure", erasure_id);
    let delete_scores = form.get("delete_scores").is_some_and(|v| v == "yes");
    let subject = Subject::Assessment(t.assessment.id);
    let erased = match personal_data::erase(
        &state.db,
        &state.mail_outbox_dir,
        &subject,
        delete_scores,
        state.clock.now(),
    )
    .await
    {
        Ok(erased) => erased,
        Err(e) => return internal(e),
    };
    let body = html! {
        h1 { "Erased" }
        p role="status" { "The candidate's data is erased. Quote erasure " strong { (erasure_id) } " to them; the audit log holds it." }
        ul {
            li { (erased.assessments) " assessment(s)" }
            li { (erased.answers) " answer(s)" }
            li { (erased.deliveries_scrubbed) " outgoing call(s) scrubbed" }
        }
        p { a href=(format!("/console/assessments/{}", t.assessment.id)) { "Back to the assessment" } }
    };
    visit.show(StatusCode::OK, "Erased", body)
}

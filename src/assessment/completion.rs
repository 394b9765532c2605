//! Recording a result: validate it against the lens, move the assessment to `completed`, and
//! enqueue its result push (or Ashby update) and the recruiters' notices, in one transaction.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter,
};

use crate::assessment::notice;
use crate::assessment::questionnaire::lens_competencies;
use crate::assessment::results::result_body;
use crate::assessment::{Event, Source, State, Transition};
use crate::delivery::ashby_update::{self as update, CompetencyScore};
use crate::delivery::handoff::{Handoff, hand_over};
use crate::delivery::outbox::{self, Kind, NewDelivery};
use crate::entity::assessment;
use crate::links::LinkKind;
use crate::links::LinkSigner;
use crate::types::{AssessmentId, OrganizationId};

/// A result as an external scoring engine (or our own scoring) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResult {
    pub score: i32,
    /// Competency key -> 0..100.
    pub subscores: BTreeMap<String, i32>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompletionError {
    #[error("no such assessment")]
    NotFound,
    #[error("the result does not fit the lens ({} problem(s))", .0.len())]
    Invalid(Vec<(String, String)>),
    #[error("the assessment is {0} and cannot be completed")]
    Finished(State),
    #[error("the assessment already has a different result")]
    DifferentResult,
    #[error(transparent)]
    Db(#[from] DbErr),
}

#[derive(Debug)]
pub struct Completed {
    pub assessment: assessment::Model,
    /// False when the same result had been recorded before (nothing was done).
    pub changed: bool,
    /// Rows were added to the table for any worker to claim: wake this instance's worker.
    pub enqueued: bool,
}

/// Checks the result against the lens: every competency scored, nothing else, all 0..100.
pub fn validate(result: &NewResult, competencies: &[String]) -> Result<(), CompletionError> {
    let mut problems = Vec::new();
    if !(0..=100).contains(&result.score) {
        problems.push(("score".to_owned(), "must be 0 to 100".to_owned()));
    }
    for key in competencies {
        match result.subscores.get(key) {
            None => problems.push((
                format!("subscores.{key}"),
                "is missing: the lens assesses this competency".into(),
            )),
            Some(v) if !(0..=100).contains(v) => problems.push((format!("subscores.{key}"), "must be 0 to 100".into())),
            Some(_) => {}
        }
    }
    for key in result.subscores.keys() {
        if !competencies.contains(key) {
            problems.push((
                format!("subscores.{key}"),
                "is not a competency of this assessment's lens".into(),
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CompletionError::Invalid(problems))
    }
}

/// A completion lies between the assessment's creation and now, give or take the clocks' skew:
/// a date outside would keep its report link alive for decades and hide it from retention.
fn check_completed_at(
    completed_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    skew: chrono::Duration,
) -> Result<(), CompletionError> {
    // Both bounds give the clocks' skew: an engine's clock (or its second-precision dates) may
    // put a completion a moment before the order as this server dated it.
    let earliest = created_at.checked_sub_signed(skew).unwrap_or(created_at);
    let message = if completed_at < earliest {
        format!(
            "must not be before the assessment was ordered ({})",
            created_at.to_rfc3339()
        )
    } else if now.checked_add_signed(skew).is_some_and(|latest| completed_at > latest) {
        format!("must not be in the future (now is {})", now.to_rfc3339())
    } else {
        return Ok(());
    };
    Err(CompletionError::Invalid(vec![("completedAt".to_owned(), message)]))
}

fn same_result(a: &assessment::Model, result: &NewResult) -> bool {
    let stored: Option<BTreeMap<String, i32>> = a.subscores.clone().and_then(|v| serde_json::from_value(v).ok());
    a.score == Some(result.score) && stored.as_ref() == Some(&result.subscores)
}

/// What completing an assessment needs of the instance.
pub struct Outlets<'a> {
    pub links: &'a LinkSigner,
    /// `AP_ASHBY_BASE_URL`, for Ashby-sourced assessments.
    pub ashby_base_url: &'a str,
    /// This instance's worker, when it runs one: the result push goes to it leased.
    pub handoff: Option<&'a Handoff>,
    /// How far a reported completion may lie ahead of this server's clock (the clocks of the
    /// engine and this server may differ by `AP_SIGNATURE_TOLERANCE`, as a request's may).
    pub clock_skew: chrono::Duration,
}

/// Completes the assessment. `organization_id` limits the lookup to one tenant when given.
///
/// With a handoff that has room, the result push is written leased to this instance's worker
/// and handed to it after the commit (`delivery::handoff`): it is the only row of its ordering
/// key (one result per assessment, and Ashby updates go elsewhere), so it needs no ordering
/// check. `Completed::enqueued` then only says whether rows went to the table unleased.
pub async fn complete(
    db: &DatabaseConnection,
    outlets: &Outlets<'_>,
    assessment_id: AssessmentId,
    organization_id: Option<OrganizationId>,
    result: &NewResult,
    now: DateTime<Utc>,
) -> Result<Completed, CompletionError> {
    let links = outlets.links;
    let ashby_base_url = outlets.ashby_base_url;
    let txn = crate::db::begin_write(db).await?;
    let mut query = assessment::Entity::find_by_id(assessment_id);
    if let Some(org) = organization_id {
        query = query.filter(assessment::Column::OrganizationId.eq(org));
    }
    let current = query.one(&txn).await?.ok_or(CompletionError::NotFound)?;
    let lens_competencies = lens_competencies(&txn, current.lens_id).await?;
    let competencies: Vec<String> = lens_competencies.iter().map(|c| c.key.clone()).collect();
    validate(result, &competencies)?;
    let state = current.state;
    match state.apply(Event::Complete) {
        Transition::NoOp if same_result(&current, result) => {
            return Ok(Completed {
                assessment: current,
                changed: false,
                enqueued: false,
            });
        }
        Transition::NoOp => return Err(CompletionError::DifferentResult),
        Transition::Refused => return Err(CompletionError::Finished(state)),
        Transition::To(_) => {}
    }
    let completed_at = result.completed_at.unwrap_or(now);
    check_completed_at(completed_at, current.created_at, now, outlets.clock_skew)?;
    let mut active = current.into_active_model();
    active.state = Set(State::Completed);
    active.score = Set(Some(result.score));
    active.subscores = Set(Some(serde_json::to_value(&result.subscores).unwrap_or_default()));
    active.completed_at = Set(Some(completed_at));
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    let mut enqueued = false;
    // The result push written leased, with its place in the worker's queue.
    let mut handed = None;
    if let Some(url) = updated.result_update_url.clone()
        && let Some(body) = result_body(&txn, links, &updated, links.report_ttl()).await?
    {
        let new = NewDelivery {
            kind: Kind::Result,
            organization_id: Some(updated.organization_id),
            assessment_id: Some(updated.id),
            target: url,
            payload: serde_json::to_value(&body).unwrap_or_default(),
        };
        match outlets.handoff.and_then(|h| h.reserve(1, now)) {
            Some((lease, places)) => {
                let row = outbox::enqueue_many(&txn, vec![new], now, Some(&lease)).await?.pop();
                handed = row.map(|row| (row, places));
            }
            None => {
                outbox::enqueue(&txn, new, now).await?;
                enqueued = true;
            }
        }
    }
    let report_expires_at = completed_at + links.report_ttl();
    let report_url = links.url(LinkKind::Report, updated.id.into(), report_expires_at);
    enqueued |= notice::write(&txn, &updated, &report_url, report_expires_at, now).await?;
    if updated.source == Source::Ashby {
        let scores = lens_competencies
            .iter()
            .map(|c| CompetencyScore {
                key: c.key.clone(),
                label: crate::catalog::display_name(&c.key, c.name.as_deref(), crate::catalog::FALLBACK_LOCALE),
                score: result.subscores.get(&c.key).copied().unwrap_or_default(),
            })
            .collect();
        let minutes = updated
            .started_at
            .map(|s| (completed_at - s).as_seconds_f64() / 60.0)
            .filter(|m| *m >= 0.0);
        let (id, score) = (updated.id, result.score);
        update::enqueue(&txn, &updated, ashby_base_url, now, |ts| {
            update::completed(id, ts, score, &report_url, scores, minutes)
        })
        .await?;
        enqueued = true;
    }
    txn.commit().await?;
    if let Some((row, places)) = handed {
        hand_over(row, &mut Some(places));
    }
    Ok(Completed {
        assessment: updated,
        changed: true,
        enqueued,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(score: i32, subs: &[(&str, i32)]) -> NewResult {
        NewResult {
            score,
            subscores: subs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            completed_at: None,
        }
    }

    #[test]
    fn results_must_match_the_lens() {
        let lens = vec!["a".to_owned(), "b".to_owned()];
        assert!(validate(&result(50, &[("a", 1), ("b", 100)]), &lens).is_ok());
        let Err(CompletionError::Invalid(p)) = validate(&result(101, &[("a", -1), ("c", 5)]), &lens) else {
            panic!()
        };
        let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, vec!["score", "subscores.a", "subscores.b", "subscores.c"]);
    }
}

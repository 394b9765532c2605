//! Sandbox outcomes: a sandbox organisation's integrator moves an assessment to `completed`,
//! `declined` or `expired` at once, through the same completion and lifecycle a candidate's
//! answers and the expiry sweep go through, so the usual pushes follow through the outbox.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::assessment::completion::{CompletionError, NewResult, Outlets, complete};
use crate::assessment::questionnaire::lens_competencies;
use crate::assessment::results::ResultBody;
use crate::assessment::{Event, State, lifecycle};
use crate::crypto::sha256_hex;
use crate::entity::{assessment, organization};
use crate::links::{LinkKind, LinkSigner};

/// Where a sandbox assessment is moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Completed,
    Declined,
    Expired,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the organization is not a sandbox")]
    NotSandbox,
    #[error("no order with this resultId")]
    NotFound,
    #[error("the assessment is {0} already")]
    Finished(State),
    #[error(transparent)]
    Completion(#[from] CompletionError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// An outcome to apply: for `completed`, the score and subscores given, or ones derived from
/// the `resultId` (the same every time) for what is left out.
pub struct Drive<'a> {
    pub result_id: &'a str,
    pub outcome: Outcome,
    pub score: Option<i32>,
    pub subscores: Option<BTreeMap<String, i32>>,
}

/// What was done: the assessment as it now is, and whether rows went to the outbox unleased
/// (wake the worker).
pub struct Driven {
    pub assessment: assessment::Model,
    pub enqueued: bool,
}

/// A competency's subscore for `result_id`, 0..=100, the same on every call.
pub fn derived_subscore(result_id: &str, competency: &str) -> i32 {
    let digest = sha256_hex(format!("{result_id}\n{competency}").as_bytes());
    let n = u32::from_str_radix(&digest[..8], 16).unwrap_or(0);
    i32::try_from(n % 101).unwrap_or(0)
}

/// The lens-weighted mean of the subscores, rounded (the scoring rule for the overall score).
fn weighted_score(subscores: &BTreeMap<String, i32>, weights: &[(String, i32)]) -> i32 {
    let (sum, total) = weights.iter().fold((0.0, 0.0), |(sum, total), (key, weight)| {
        let w = f64::from((*weight).max(0));
        let value = subscores.get(key).copied().map_or(0.0, f64::from);
        (sum + w * value, total + w)
    });
    if total > 0.0 { (sum / total).round() as i32 } else { 0 }
}

/// Applies the outcome to the sandbox organisation's order `result_id`.
pub async fn drive(
    db: &DatabaseConnection,
    outlets: &Outlets<'_>,
    organization: &organization::Model,
    request: Drive<'_>,
    now: DateTime<Utc>,
) -> Result<Driven, SandboxError> {
    if !organization.sandbox {
        return Err(SandboxError::NotSandbox);
    }
    let current = assessment::Entity::find()
        .filter(assessment::Column::OrganizationId.eq(organization.id))
        .filter(assessment::Column::ResultId.eq(request.result_id))
        .one(db)
        .await?
        .ok_or(SandboxError::NotFound)?;
    let (event, target) = match request.outcome {
        Outcome::Completed => {
            let weights: Vec<(String, i32)> = lens_competencies(db, current.lens_id)
                .await?
                .into_iter()
                .map(|c| (c.key, c.weight))
                .collect();
            let subscores = request.subscores.unwrap_or_else(|| {
                weights
                    .iter()
                    .map(|(key, _)| (key.clone(), derived_subscore(request.result_id, key)))
                    .collect()
            });
            let result = NewResult {
                score: request.score.unwrap_or_else(|| weighted_score(&subscores, &weights)),
                subscores,
                completed_at: Some(now),
            };
            let done = complete(db, outlets, current.id, Some(organization.id), &result, now).await?;
            return Ok(Driven {
                assessment: done.assessment,
                enqueued: done.enqueued,
            });
        }
        Outcome::Declined => (Event::Decline, State::Declined),
        Outcome::Expired => (Event::Expire, State::Expired),
    };
    let moved = lifecycle::apply(db, current.id, event, now, outlets.ashby_base_url)
        .await?
        .ok_or(SandboxError::NotFound)?;
    if !moved.changed && moved.assessment.state != target {
        return Err(SandboxError::Finished(moved.assessment.state));
    }
    Ok(Driven {
        assessment: moved.assessment,
        enqueued: moved.enqueued,
    })
}

/// A lens's sample scores: its competencies, a subscore each (derived from the lens, the same
/// on every call, so a test push and its sample report agree) and the weighted overall score.
pub async fn sample_scores<C: ConnectionTrait>(
    db: &C,
    lens: Uuid,
) -> Result<(Vec<crate::entity::lens_competency::Model>, BTreeMap<String, i32>, i32), DbErr> {
    let competencies = lens_competencies(db, lens).await?;
    let weights: Vec<(String, i32)> = competencies.iter().map(|c| (c.key.clone(), c.weight)).collect();
    let seed = format!("sample-{lens}");
    let scores: BTreeMap<String, i32> = weights
        .iter()
        .map(|(key, _)| (key.clone(), derived_subscore(&seed, key)))
        .collect();
    let overall = weighted_score(&scores, &weights);
    Ok((competencies, scores, overall))
}

/// The first of `lenses` by name (then by id): the lens a test push samples by default.
pub async fn first_lens_by_name<C: ConnectionTrait>(
    db: &C,
    lenses: &std::collections::HashSet<Uuid>,
) -> Result<Option<Uuid>, DbErr> {
    use crate::entity::lens;
    use sea_orm::QueryOrder;
    Ok(lens::Entity::find()
        .filter(lens::Column::Id.is_in(lenses.iter().copied()))
        .order_by_asc(lens::Column::Name)
        .order_by_asc(lens::Column::Id)
        .one(db)
        .await?
        .map(|l| l.id))
}

/// A sample result for a test push, shaped as every real push is: `resultId` `test-<uuid>`,
/// subscores for `lens`'s competencies (sample scores, [`sample_scores`]), an
/// `assessmentReportUrl` that opens the lens's sample report (marked as such), and a
/// `recruitmentUrl` signed for a recruitment that does not exist.
pub async fn sample_result<C: ConnectionTrait>(
    db: &C,
    links: &LinkSigner,
    lens: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<ResultBody, DbErr> {
    let result_id = format!("test-{}", Uuid::new_v4());
    let (competencies, scores, overall) = match lens {
        Some(lens) => sample_scores(db, lens).await?,
        None => (Vec::new(), BTreeMap::new(), 0),
    };
    let subscores = competencies
        .iter()
        .map(|c| {
            let name = crate::catalog::display_name(&c.key, c.name.as_deref(), crate::catalog::FALLBACK_LOCALE);
            (name, scores.get(&c.key).copied().unwrap_or_default())
        })
        .collect();
    let nowhere = Uuid::new_v4();
    let expires = now + links.report_ttl();
    let report = match lens {
        Some(lens) => links.url(LinkKind::SampleReport, lens, expires),
        None => links.url(LinkKind::Report, nowhere, expires),
    };
    Ok(ResultBody {
        score: overall,
        recruitment_url: links.url(LinkKind::Recruitment, nowhere, expires),
        assessment_report_url: report,
        subscores,
        result_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_scores_are_stable_and_in_range() {
        let a = derived_subscore("r-1", "driving-leadership");
        assert_eq!(a, derived_subscore("r-1", "driving-leadership"));
        assert!((0..=100).contains(&a));
        let spread: std::collections::BTreeSet<i32> =
            (0..50).map(|i| derived_subscore(&format!("r-{i}"), "k")).collect();
        assert!(spread.len() > 10, "different resultIds give different scores");
    }

    #[test]
    fn the_score_is_the_weighted_mean_of_the_subscores() {
        let subscores = BTreeMap::from([("a".to_owned(), 80), ("b".to_owned(), 50)]);
        let weights = vec![("a".to_owned(), 2), ("b".to_owned(), 1)];
        assert_eq!(weighted_score(&subscores, &weights), 70);
        assert_eq!(weighted_score(&subscores, &[]), 0);
    }
}

//! Taking an assessment: the lens's questionnaire (one part per competency, its statements
//! from the catalogue), the candidate's saved answers, and scoring them into a result on
//! submission. No HTTP: the candidate pages call these.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::assessment::completion::NewResult;
use crate::assessment::scoring::{CompetencyAnswers, Scored, ScoringError, score};
use crate::catalog::{Catalog, Competency};
use crate::entity::{answer, lens_competency};
use crate::types::AssessmentId;

/// The lens's competencies in their order. The one query for them.
pub async fn lens_competencies<C: ConnectionTrait>(
    db: &C,
    lens_id: Uuid,
) -> Result<Vec<lens_competency::Model>, DbErr> {
    lens_competency::Entity::find()
        .filter(lens_competency::Column::LensId.eq(lens_id))
        .order_by_asc(lens_competency::Column::Position)
        .all(db)
        .await
}

#[derive(Debug, thiserror::Error)]
pub enum QuestionnaireError {
    /// The stored lens names a competency the catalogue lacks (the catalogue is checked when a
    /// lens is written, so this is a fault of the deployment).
    #[error("competency {0} of the lens is not in the catalogue")]
    NotInCatalogue(String),
    #[error(transparent)]
    Scoring(#[from] ScoringError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The candidate's answers: statement (item) id → 1..=points.
pub type Answers = BTreeMap<String, i32>;

/// A lens's questionnaire: its competencies from the catalogue, in order, with their weights.
#[derive(Debug, Clone)]
pub struct Questionnaire {
    parts: Vec<(&'static Competency, u32)>,
}

impl Questionnaire {
    pub async fn load<C: ConnectionTrait>(db: &C, lens_id: Uuid) -> Result<Self, QuestionnaireError> {
        let catalog = Catalog::get();
        let parts = lens_competencies(db, lens_id)
            .await?
            .into_iter()
            .map(|c| match catalog.competency(&c.key) {
                Some(competency) => Ok((competency, u32::try_from(c.weight).unwrap_or(0))),
                None => Err(QuestionnaireError::NotInCatalogue(c.key)),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { parts })
    }

    /// The competencies, one part (page) each, in order.
    pub fn parts(&self) -> impl ExactSizeIterator<Item = &'static Competency> + '_ {
        self.parts.iter().map(|(c, _)| *c)
    }

    /// The part with this 1-based number.
    pub fn part(&self, number: usize) -> Option<&'static Competency> {
        number.checked_sub(1).and_then(|i| self.parts.get(i)).map(|(c, _)| *c)
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// How many statements there are in all.
    pub fn item_count(&self) -> usize {
        self.parts().map(|c| c.items.len()).sum()
    }

    /// How many of them are answered.
    pub fn answered(&self, answers: &Answers) -> usize {
        self.parts()
            .flat_map(|c| &c.items)
            .filter(|i| answers.contains_key(&i.id))
            .count()
    }

    /// The 1-based numbers of the parts with a statement unanswered, with the parts.
    pub fn unfinished<'a>(&'a self, answers: &'a Answers) -> impl Iterator<Item = (usize, &'static Competency)> + 'a {
        self.parts()
            .enumerate()
            .filter(|(_, c)| !part_done(c, answers))
            .map(|(i, c)| (i + 1, c))
    }

    pub fn is_complete(&self, answers: &Answers) -> bool {
        self.unfinished(answers).next().is_none()
    }

    /// Scores complete answers (see `scoring`): the overall score and one subscore per
    /// competency, as the result to record.
    pub fn score(&self, answers: &Answers, completed_at: DateTime<Utc>) -> Result<NewResult, ScoringError> {
        let catalog = Catalog::get();
        let input: Vec<CompetencyAnswers> = self
            .parts
            .iter()
            .map(|(c, weight)| CompetencyAnswers {
                key: c.key.clone(),
                weight: *weight,
                answers: c
                    .items
                    .iter()
                    .map(|i| Scored {
                        value: answers.get(&i.id).and_then(|v| u8::try_from(*v).ok()).unwrap_or(0),
                        reverse: i.reverse,
                    })
                    .collect(),
            })
            .collect();
        let scores = score(catalog.scale.points, &input)?;
        Ok(NewResult {
            score: scores.overall,
            subscores: scores.subscores,
            completed_at: Some(completed_at),
        })
    }
}

/// Whether every statement of the part is answered.
pub fn part_done(part: &Competency, answers: &Answers) -> bool {
    part.items.iter().all(|i| answers.contains_key(&i.id))
}

/// The answers saved for the assessment.
pub async fn answers<C: ConnectionTrait>(db: &C, assessment_id: AssessmentId) -> Result<Answers, DbErr> {
    Ok(answer::Entity::find()
        .filter(answer::Column::AssessmentId.eq(assessment_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.item_id, a.value))
        .collect())
}

/// Saves the answers given to the part's statements: `value_of(item id)` is what was sent for
/// it, kept when it is a point of the scale (1..=points) and ignored otherwise, as is anything
/// sent for another part's statements. An answer given again replaces the earlier one.
/// Returns how many were saved.
pub async fn save_part<'v, C: ConnectionTrait>(
    db: &C,
    assessment_id: AssessmentId,
    part: &Competency,
    value_of: impl Fn(&str) -> Option<&'v str>,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let points = i32::from(Catalog::get().scale.points);
    let rows: Vec<answer::ActiveModel> = part
        .items
        .iter()
        .filter_map(|item| {
            let value = value_of(&item.id)?
                .parse::<i32>()
                .ok()
                .filter(|v| (1..=points).contains(v))?;
            Some(answer::ActiveModel {
                assessment_id: Set(assessment_id),
                item_id: Set(item.id.clone()),
                value: Set(value),
                answered_at: Set(now),
            })
        })
        .collect();
    let saved = rows.len();
    if !rows.is_empty() {
        answer::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([answer::Column::AssessmentId, answer::Column::ItemId])
                    .update_columns([answer::Column::Value, answer::Column::AnsweredAt])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A questionnaire of the catalogue's first two competencies, weights 1 and 3.
    fn questionnaire() -> Questionnaire {
        let catalog = Catalog::get();
        let mut competencies = catalog.competencies.iter();
        let (Some(a), Some(b)) = (competencies.next(), competencies.next()) else {
            panic!("the catalogue has at least two competencies");
        };
        Questionnaire {
            parts: vec![(a, 1), (b, 3)],
        }
    }

    fn all(q: &Questionnaire, value: i32) -> Answers {
        q.parts()
            .flat_map(|c| &c.items)
            .map(|i| (i.id.clone(), value))
            .collect()
    }

    #[test]
    fn progress_names_the_parts_left() {
        let q = questionnaire();
        let mut answers = all(&q, 3);
        assert!(q.is_complete(&answers));
        assert_eq!(q.answered(&answers), q.item_count());
        let second = q.part(2).expect("two parts");
        answers.remove(&second.items[0].id);
        assert!(!q.is_complete(&answers));
        assert_eq!(q.unfinished(&answers).map(|(n, _)| n).collect::<Vec<_>>(), vec![2]);
        assert_eq!(q.answered(&answers), q.item_count() - 1);
        assert!(q.part(0).is_none() && q.part(3).is_none());
    }

    #[test]
    fn scores_every_competency_of_the_lens() {
        let q = questionnaire();
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let result = q.score(&all(&q, 3), at).expect("complete answers score");
        assert_eq!(result.subscores.len(), 2);
        assert_eq!(result.completed_at, Some(at));
        assert!(result.subscores.values().all(|s| (0..=100).contains(s)));
        // A missing answer is out of the scale's range, never a silent 0.
        let mut partial = all(&q, 3);
        partial.remove(&q.part(1).expect("a part").items[0].id);
        assert!(q.score(&partial, at).is_err());
    }
}

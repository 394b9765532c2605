//! A candidate's personal data: erasure (GDPR art. 17), retention, and access (art. 15 and 20).
//!
//! "Erased" means the bytes are gone from every live row: the candidate's e-mail address and
//! names, their answers, Ashby's candidate and application ids and `additional_fields`, and every
//! copy in the outbox (an invitation's recipient, rendered text, ordering key, errors and
//! attempt excerpts). On SQLite, `secure_delete` (set on every connection, `db.rs`) zeroes what
//! is overwritten or deleted, and [`checkpoint`] empties the WAL after the commit. The
//! assessment rows stay, marked `erased_at`, with their scores unless those are asked to go too;
//! result pushes and Ashby updates still pending go out (they carry no contact data), pending
//! invitations are dropped.
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::delivery::outbox::{DeliveryState, Kind};
use crate::entity::{answer, assessment, candidate, delivery, delivery_attempt};
use crate::types::{AssessmentId, Email, OrganizationId};

/// Whom to erase or export.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A person, by their address, in one organisation.
    Person {
        organization_id: OrganizationId,
        email: Email,
    },
    /// The person who took this assessment.
    Assessment(AssessmentId),
}

/// What an erasure changed. All zeros when there was nothing (left) to erase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    pub candidates: u64,
    pub assessments: u64,
    pub answers: u64,
    pub deliveries_scrubbed: u64,
    /// The scrubbed invitations' ids: their `.eml` copies are to be deleted
    /// (`delivery::mail::forget`).
    pub messages: Vec<Uuid>,
}

/// What is kept of a value erased (the outbox's rows say it too, `outbox::ERASED`).
pub use crate::delivery::outbox::ERASED;

/// Kinds of outgoing call whose rows hold the candidate's contact data (address, name): they
/// are scrubbed, and dropped while pending. The others (result pushes, status pushes, Ashby
/// updates, test pushes) hold scores and ids only.
pub fn carries_contact_data(kind: Kind) -> bool {
    match kind {
        // The candidate's address, or (a recruiter's notice) their name and score.
        Kind::InvitationEmail | Kind::ReminderEmail | Kind::RecruiterNotice => true,
        Kind::Result | Kind::AshbyUpdate | Kind::TestPush => false,
    }
}

fn contact_kinds() -> Vec<Kind> {
    Kind::ALL.into_iter().filter(|k| carries_contact_data(*k)).collect()
}

/// The candidates `subject` names who are not erased yet.
async fn candidates_of<C: ConnectionTrait>(db: &C, subject: &Subject) -> Result<Vec<candidate::Model>, DbErr> {
    let query = candidate::Entity::find().filter(candidate::Column::ErasedAt.is_null());
    match subject {
        Subject::Person { organization_id, email } => {
            query
                .filter(candidate::Column::OrganizationId.eq(*organization_id))
                .filter(candidate::Column::Email.eq(email.as_str()))
                .all(db)
                .await
        }
        Subject::Assessment(id) => {
            let Some(a) = assessment::Entity::find_by_id(*id).one(db).await? else {
                return Ok(Vec::new());
            };
            query.filter(candidate::Column::Id.eq(a.candidate_id)).all(db).await
        }
    }
}

/// Erases everything held about `subject`, in one transaction, and then the `.eml` copies of its
/// invitations in `mail_dir`; see the module's description.
/// With `delete_scores`, the scores go too. Repeating it finds nothing and changes nothing.
pub async fn erase(
    db: &DatabaseConnection,
    mail_dir: &std::path::Path,
    subject: &Subject,
    delete_scores: bool,
    now: DateTime<Utc>,
) -> Result<Erased, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let candidates = candidates_of(&txn, subject).await?;
    let candidate_ids: Vec<Uuid> = candidates.iter().map(|c| c.id).collect();
    let assessment_ids: Vec<AssessmentId> = if candidate_ids.is_empty() {
        Vec::new()
    } else {
        assessment::Entity::find()
            .select_only()
            .column(assessment::Column::Id)
            .filter(assessment::Column::CandidateId.is_in(candidate_ids.iter().copied()))
            .into_tuple()
            .all(&txn)
            .await?
    };
    let mut erased = scrub_assessments(&txn, &assessment_ids, delete_scores, now).await?;
    erased.candidates = scrub_candidates(&txn, &candidate_ids, now).await?;
    txn.commit().await?;
    checkpoint(db).await;
    let mail_files = crate::delivery::mail::forget(mail_dir, &erased.messages).await;
    tracing::info!(
        candidates = erased.candidates,
        assessments = erased.assessments,
        mail_files,
        "personal data erased"
    );
    Ok(erased)
}

/// Removes the personal data of these assessments (answers, Ashby ids, additional fields, the
/// contact data in their outbox rows; scores with `delete_scores`) and marks them erased.
/// Assessments erased before are counted out.
async fn scrub_assessments<C: ConnectionTrait>(
    txn: &C,
    ids: &[AssessmentId],
    delete_scores: bool,
    now: DateTime<Utc>,
) -> Result<Erased, DbErr> {
    let mut erased = Erased::default();
    if ids.is_empty() {
        return Ok(erased);
    }
    erased.answers = answer::Entity::delete_many()
        .filter(answer::Column::AssessmentId.is_in(ids.iter().copied()))
        .exec(txn)
        .await?
        .rows_affected;
    let mut update = assessment::Entity::update_many()
        .col_expr(assessment::Column::ErasedAt, Expr::value(now))
        .col_expr(
            assessment::Column::AshbyCandidateId,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            assessment::Column::AshbyApplicationId,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            assessment::Column::AdditionalFields,
            Expr::value(Option::<serde_json::Value>::None),
        )
        // The order's fingerprint hashes the candidate's address: a hash of personal data is
        // personal data.
        .col_expr(assessment::Column::RequestHash, Expr::value(ERASED))
        .col_expr(assessment::Column::UpdatedAt, Expr::value(now));
    if delete_scores {
        update = update
            .col_expr(assessment::Column::Score, Expr::value(Option::<i32>::None))
            .col_expr(
                assessment::Column::Subscores,
                Expr::value(Option::<serde_json::Value>::None),
            );
    }
    erased.assessments = update
        .filter(assessment::Column::Id.is_in(ids.iter().copied()))
        .filter(assessment::Column::ErasedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected;

    let rows: Vec<(Uuid, DeliveryState)> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .column(delivery::Column::State)
        .filter(delivery::Column::AssessmentId.is_in(ids.iter().copied()))
        .filter(delivery::Column::Kind.is_in(contact_kinds()))
        .filter(delivery::Column::Target.ne(ERASED))
        .into_tuple()
        .all(txn)
        .await?;
    if rows.is_empty() {
        return Ok(erased);
    }
    let row_ids: Vec<Uuid> = rows.iter().map(|(id, _)| *id).collect();
    // Pending ones are dropped: dead, with `erased` as their reason.
    delivery::Entity::update_many()
        .col_expr(delivery::Column::State, Expr::value(DeliveryState::Dead.as_str()))
        .col_expr(delivery::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            delivery::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(delivery::Column::Id.is_in(row_ids.iter().copied()))
        .filter(delivery::Column::State.eq(DeliveryState::Pending))
        .exec(txn)
        .await?;
    let erased_payload = serde_json::json!({ ERASED: true });
    erased.deliveries_scrubbed = delivery::Entity::update_many()
        .col_expr(delivery::Column::Target, Expr::value(ERASED))
        .col_expr(delivery::Column::Payload, Expr::value(erased_payload))
        .col_expr(delivery::Column::LastError, Expr::value(ERASED))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::Id.is_in(row_ids.iter().copied()))
        .exec(txn)
        .await?
        .rows_affected;
    // The ordering key of a row about an assessment ends with its target: the address.
    for id in &row_ids {
        delivery::Entity::update_many()
            .col_expr(delivery::Column::OrderingKey, Expr::value(format!("{id}:{ERASED}")))
            .filter(delivery::Column::Id.eq(*id))
            .exec(txn)
            .await?;
    }
    delivery_attempt::Entity::update_many()
        .col_expr(delivery_attempt::Column::Error, Expr::value(Option::<String>::None))
        .col_expr(
            delivery_attempt::Column::ResponseExcerpt,
            Expr::value(Option::<String>::None),
        )
        .filter(delivery_attempt::Column::DeliveryId.is_in(row_ids.iter().copied()))
        .exec(txn)
        .await?;
    erased.messages = row_ids;
    Ok(erased)
}

/// Replaces the candidates' address by `erased:<id>` (the address is their key, and unique per
/// organisation), removes their names and marks them erased.
async fn scrub_candidates<C: ConnectionTrait>(txn: &C, ids: &[Uuid], now: DateTime<Utc>) -> Result<u64, DbErr> {
    let mut count = 0;
    for id in ids {
        count += candidate::Entity::update_many()
            .col_expr(candidate::Column::Email, Expr::value(format!("{ERASED}:{id}")))
            .col_expr(candidate::Column::FirstName, Expr::value(Option::<String>::None))
            .col_expr(candidate::Column::LastName, Expr::value(Option::<String>::None))
            .col_expr(candidate::Column::ErasedAt, Expr::value(now))
            .filter(candidate::Column::Id.eq(*id))
            .filter(candidate::Column::ErasedAt.is_null())
            .exec(txn)
            .await?
            .rows_affected;
    }
    Ok(count)
}

/// On SQLite, moves the WAL into the database file and truncates it, so that the pages written
/// before an erasure (which still hold the erased bytes) are gone from the WAL too; with
/// `secure_delete`, the database file then holds none of them. A checkpoint that cannot finish
/// now (a reader holds an old snapshot) is retried a few times, then left to SQLite's automatic
/// checkpoints, and logged.
pub async fn checkpoint(db: &DatabaseConnection) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    for _ in 0..20 {
        match db
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA wal_checkpoint(TRUNCATE)",
            ))
            .await
        {
            Ok(Some(row)) if row.try_get_by_index::<i32>(0).ok() == Some(0) => return,
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint after an erasure failed");
                return;
            }
        }
    }
    tracing::warn!("WAL checkpoint after an erasure did not complete; SQLite's next checkpoint will");
}

/// Everything held about a person (GDPR articles 15 and 20).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubjectExport {
    pub candidates: Vec<CandidateExport>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CandidateExport {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub assessments: Vec<AssessmentExport>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentExport {
    pub id: Uuid,
    pub state: crate::assessment::State,
    pub lens_id: Uuid,
    pub locale: String,
    pub result_id: Option<String>,
    pub recruitment_id: Option<Uuid>,
    pub invited_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub score: Option<i32>,
    /// Competency key -> 0..100.
    pub subscores: Option<serde_json::Value>,
    /// Catalogue item id -> the rating given, 1..5.
    pub answers: BTreeMap<String, i32>,
    pub ashby_candidate_id: Option<String>,
    pub ashby_application_id: Option<String>,
    pub additional_fields: Option<serde_json::Value>,
    pub erased_at: Option<DateTime<Utc>>,
    /// The outgoing calls about this assessment.
    pub deliveries: Vec<DeliveryExport>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryExport {
    pub id: Uuid,
    /// `result`, `ashby_update`, `invitation_email`, `test_push`.
    pub kind: String,
    /// `pending`, `delivered`, `dead`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub payload: serde_json::Value,
}

/// What is held about `subject`; `None` when nothing is (left).
pub async fn export<C: ConnectionTrait>(db: &C, subject: &Subject) -> Result<Option<SubjectExport>, DbErr> {
    let candidates = candidates_of(db, subject).await?;
    if candidates.is_empty() {
        return Ok(None);
    }
    // Three queries whatever the number of assessments: theirs, their answers, their deliveries.
    let candidate_ids: Vec<Uuid> = candidates.iter().map(|c| c.id).collect();
    let rows = assessment::Entity::find()
        .filter(assessment::Column::CandidateId.is_in(candidate_ids))
        .order_by_asc(assessment::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<AssessmentId> = rows.iter().map(|a| a.id).collect();
    let mut answers: HashMap<AssessmentId, BTreeMap<String, i32>> = HashMap::new();
    for x in answer::Entity::find()
        .filter(answer::Column::AssessmentId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        answers.entry(x.assessment_id).or_default().insert(x.item_id, x.value);
    }
    let mut deliveries: HashMap<AssessmentId, Vec<DeliveryExport>> = HashMap::new();
    for d in delivery::Entity::find()
        .filter(delivery::Column::AssessmentId.is_in(ids.iter().copied()))
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await?
    {
        let Some(assessment_id) = d.assessment_id else { continue };
        deliveries.entry(assessment_id).or_default().push(DeliveryExport {
            id: d.id,
            kind: d.kind.as_str().to_owned(),
            state: d.state.as_str().to_owned(),
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            attempts: d.attempts,
            payload: d.payload,
        });
    }
    let mut by_candidate: HashMap<Uuid, Vec<AssessmentExport>> = HashMap::new();
    for a in rows {
        let (answers, deliveries) = (
            answers.remove(&a.id).unwrap_or_default(),
            deliveries.remove(&a.id).unwrap_or_default(),
        );
        by_candidate.entry(a.candidate_id).or_default().push(AssessmentExport {
            id: a.id.into(),
            state: a.state,
            lens_id: a.lens_id,
            locale: a.locale,
            result_id: a.result_id,
            recruitment_id: a.recruitment_id,
            invited_at: a.invited_at,
            started_at: a.started_at,
            completed_at: a.completed_at,
            finished_at: a.finished_at,
            expires_at: a.expires_at,
            score: a.score,
            subscores: a.subscores,
            answers,
            ashby_candidate_id: a.ashby_candidate_id,
            ashby_application_id: a.ashby_application_id,
            additional_fields: a.additional_fields,
            erased_at: a.erased_at,
            deliveries,
        });
    }
    let candidates = candidates
        .into_iter()
        .map(|c| CandidateExport {
            assessments: by_candidate.remove(&c.id).unwrap_or_default(),
            id: c.id,
            organization_id: c.organization_id.into(),
            email: c.email,
            first_name: c.first_name,
            last_name: c.last_name,
            created_at: c.created_at,
        })
        .collect();
    Ok(Some(SubjectExport { candidates }))
}

/// Retention: erases (as [`erase`] does, scores kept) up to `batch` assessments that finished
/// before `cutoff`, and the candidates left with nothing but erased assessments. One
/// transaction per call: call again while it returns a full batch.
pub async fn erase_finished_before(
    db: &DatabaseConnection,
    cutoff: DateTime<Utc>,
    batch: u64,
    now: DateTime<Utc>,
) -> Result<Erased, DbErr> {
    use sea_orm::Condition;
    let txn = crate::db::begin_write(db).await?;
    let rows: Vec<(AssessmentId, Uuid)> = assessment::Entity::find()
        .select_only()
        .column(assessment::Column::Id)
        .column(assessment::Column::CandidateId)
        .filter(assessment::Column::ErasedAt.is_null())
        // Finished before the cutoff by its own date, or unchanged since the cutoff by this
        // server's clock: a finished assessment whose reported date lies ahead (an engine's
        // clock, a date accepted before completions were bounded) is still erased in time.
        .filter(
            Condition::any()
                .add(assessment::Column::CompletedAt.lt(cutoff))
                .add(assessment::Column::FinishedAt.lt(cutoff))
                .add(
                    Condition::all()
                        .add(assessment::Column::State.is_in(crate::assessment::State::FINISHED))
                        .add(assessment::Column::UpdatedAt.lt(cutoff)),
                ),
        )
        .limit(batch)
        .into_tuple()
        .all(&txn)
        .await?;
    let ids: Vec<AssessmentId> = rows.iter().map(|(id, _)| *id).collect();
    let mut erased = scrub_assessments(&txn, &ids, false, now).await?;
    let mut candidate_ids: Vec<Uuid> = rows.iter().map(|(_, c)| *c).collect();
    candidate_ids.sort_unstable();
    candidate_ids.dedup();
    // The candidates with an assessment still kept; the others are done with.
    let kept: Vec<Uuid> = assessment::Entity::find()
        .select_only()
        .column(assessment::Column::CandidateId)
        .distinct()
        .filter(assessment::Column::CandidateId.is_in(candidate_ids.iter().copied()))
        .filter(assessment::Column::ErasedAt.is_null())
        .into_tuple()
        .all(&txn)
        .await?;
    let done: Vec<Uuid> = candidate_ids.into_iter().filter(|id| !kept.contains(id)).collect();
    erased.candidates = scrub_candidates(&txn, &done, now).await?;
    txn.commit().await?;
    if erased.assessments > 0 {
        checkpoint(db).await;
    }
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_invitations_carry_contact_data() {
        assert_eq!(
            contact_kinds(),
            [Kind::InvitationEmail, Kind::ReminderEmail, Kind::RecruiterNotice]
        );
    }
}

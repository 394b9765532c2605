//! Placing an order: recruitment, candidate and assessment in one transaction, idempotent on
//! `resultId`. Used by the HTTP handlers and, without HTTP, by the benchmark's ceiling run.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter,
};
use uuid::Uuid;

use std::collections::HashMap;

use crate::assessment::invite::{self, Invite, InviteRequest};
use crate::assessment::{Source, candidates};
use crate::auth::directory::Offer;
use crate::config::InvitationTiming;
use crate::db::RideAlong;
use crate::delivery::outbox::{self, NewDelivery};
use crate::entity::{assessment, delivery, recruitment};
use crate::links::LinkSigner;
use crate::recruitment::dto::{NewOrder, OrderKind};
use crate::types::{AssessmentId, OrganizationId};

/// What placing an order needs besides the order: how to make the candidate's link, the
/// organisation's name for the invitation, and what it may order.
pub struct OrderContext<'a> {
    pub links: &'a LinkSigner,
    pub organization_name: &'a str,
    /// The organisation's logo (its path on this server), for the invitation.
    pub logo_path: Option<&'a str>,
    pub offer: &'a Offer,
    /// A sandbox organisation: invitations are written settled, not sent.
    pub sandbox: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("lens {0} is not available to this organization")]
    UnknownLens(Uuid),
    #[error("locale {0} is not offered")]
    UnknownLocale(String),
    #[error("resultId {0} was already used for a different order")]
    ResultIdConflict(String),
    #[error("{0} already has an assessment in this recruitment")]
    CandidateAlreadyInRecruitment(String),
    /// The order writer has stopped (the server is shutting down): nothing was written.
    #[error("the order writer has stopped")]
    WriterStopped,
    #[error(transparent)]
    Db(#[from] DbErr),
}

#[derive(Debug)]
pub struct Placed {
    pub assessment: assessment::Model,
    /// False when this was a repeat of an order already placed.
    pub created: bool,
    /// True when an invitation was added to the outbox.
    pub enqueued: bool,
    /// That invitation's row when it was written under a lease, for the writer to hand to its
    /// worker (see `recruitment::writer`).
    pub leased: Option<delivery::Model>,
}

/// An order checked against the offer and ready to write: its ids, fingerprint and rendered
/// invitation are made by the request's own task, so the writing holds the lock briefly.
#[derive(Debug, Clone)]
pub struct PreparedOrder {
    pub organization_id: OrganizationId,
    pub order: NewOrder,
    fingerprint: String,
    invite: Invite,
}

/// Checks the order against what the organisation may order and prepares its rows.
pub fn prepare(
    organization_id: OrganizationId,
    order: &NewOrder,
    now: DateTime<Utc>,
    timing: &InvitationTiming,
    ctx: &OrderContext<'_>,
) -> Result<PreparedOrder, OrderError> {
    if !ctx.offer.lenses.contains(&order.lens_id) {
        return Err(OrderError::UnknownLens(order.lens_id));
    }
    if !ctx.offer.locales.contains(order.locale.as_str()) {
        return Err(OrderError::UnknownLocale(order.locale.as_str().to_owned()));
    }
    let invite = invite::prepare(
        &InviteRequest {
            organization_id,
            organization_name: ctx.organization_name,
            logo_path: ctx.logo_path,
            source: Source::Recruitment,
            lens_id: order.lens_id,
            locale: order.locale.as_str(),
            candidate_email: order.candidate_email.as_str(),
            candidate_first_name: None,
            role: &order.recruitment_title,
            minutes: ctx.offer.minutes.get(&order.lens_id).copied().unwrap_or(1),
            send_email: order.kind == OrderKind::Email,
            sandbox: ctx.sandbox,
            now,
            timing,
        },
        ctx.links,
    );
    Ok(PreparedOrder {
        organization_id,
        order: order.clone(),
        fingerprint: order.fingerprint(),
        invite,
    })
}

impl PreparedOrder {
    /// When the order was received.
    pub fn now(&self) -> DateTime<Utc> {
        self.invite.invited_at
    }

    /// Whether placing it writes an invitation e-mail to the outbox to be sent (a sandbox
    /// organisation's is written settled).
    pub fn sends_invitation(&self) -> bool {
        self.invite.mail.is_some() && !self.invite.sandbox
    }

    fn assessment_id(&self) -> AssessmentId {
        self.invite.assessment_id
    }

    fn assessment_row(&self, recruitment_id: Uuid, candidate_id: Uuid) -> assessment::ActiveModel {
        let mut row = self.invite.assessment_row(candidate_id, self.fingerprint.clone());
        row.recruitment_id = Set(Some(recruitment_id));
        row.result_id = Set(Some(self.order.result_id.as_str().to_owned()));
        row.result_update_url = Set(Some(self.order.result_update_url.as_str().to_owned()));
        row
    }

    fn recruitment_key(&self) -> (OrganizationId, &str, Uuid) {
        (
            self.organization_id,
            self.order.recruitment_id.as_str(),
            self.order.lens_id,
        )
    }

    fn candidate_key(&self) -> (OrganizationId, &str) {
        (self.organization_id, self.order.candidate_email.as_str())
    }
}

/// Why an order inserted nothing: the previous order with this `resultId` (the same order
/// again is a repeat, another one a conflict), or, when there is none, the candidate's existing
/// assessment in the recruitment.
async fn explain_conflict<C: ConnectionTrait>(db: &C, prepared: &PreparedOrder) -> Result<Placed, OrderError> {
    let order = &prepared.order;
    let existing = assessment::Entity::find()
        .filter(assessment::Column::OrganizationId.eq(prepared.organization_id))
        .filter(assessment::Column::ResultId.eq(order.result_id.as_str()))
        .one(db)
        .await?;
    match existing {
        Some(a) if a.request_hash == prepared.fingerprint => Ok(Placed {
            assessment: a,
            created: false,
            enqueued: false,
            leased: None,
        }),
        Some(_) => Err(OrderError::ResultIdConflict(order.result_id.as_str().to_owned())),
        None => Err(OrderError::CandidateAlreadyInRecruitment(
            order.candidate_email.to_string(),
        )),
    }
}

/// Places one order: [`prepare`], then [`place_one`].
pub async fn place_order(
    db: &DatabaseConnection,
    organization_id: OrganizationId,
    order: &NewOrder,
    now: DateTime<Utc>,
    timing: &InvitationTiming,
    ctx: &OrderContext<'_>,
) -> Result<Placed, OrderError> {
    let prepared = prepare(organization_id, order, now, timing, ctx)?;
    place_one(db, &prepared, None).await
}

/// Writes one order: [`place_batch`] of one.
pub async fn place_one(
    db: &DatabaseConnection,
    prepared: &PreparedOrder,
    lease: Option<&outbox::Lease>,
) -> Result<Placed, OrderError> {
    place_batch(db, std::slice::from_ref(prepared), lease, &mut ())
        .await?
        .pop()
        .unwrap_or(Err(OrderError::Db(DbErr::RecordNotInserted)))
}

/// Writes several orders in one transaction with one statement per table: the recruitments
/// they name (found or added), their candidates, their assessments (`ON CONFLICT DO NOTHING
/// RETURNING`, no conflict target: an order that meets any unique index — the `resultId` per
/// organisation, one assessment per candidate and recruitment, an identical order earlier in
/// the same batch — inserts nothing), and the invitations of those inserted.
///
/// A refused order must change nothing, yet its recruitment or candidate may already be
/// written: so when any order inserted nothing, the transaction is rolled back and the others
/// are written again without it. Once the rest is committed, [`explain_conflict`] tells each
/// left-out order's repeat (200) from its conflict (409) by the committed rows — which is how
/// concurrent identical orders create one assessment and all answer with it.
///
/// An error of the batch as a whole (for example a deadlock with another instance on
/// PostgreSQL) rolls it back and returns `Err`; the caller may then place the orders one by
/// one, so that one order's fault is never another's. With a `lease`, the invitations' rows are
/// written leased (see [`outbox::Lease`]) and returned in [`Placed::leased`]. `riders` are
/// written into the transaction that commits, just before the commit (none when every order
/// was refused).
pub async fn place_batch(
    db: &DatabaseConnection,
    batch: &[PreparedOrder],
    lease: Option<&outbox::Lease>,
    riders: &mut dyn RideAlong,
) -> Result<Vec<Result<Placed, OrderError>>, DbErr> {
    let now = batch.iter().map(|p| p.now()).max().unwrap_or_else(Utc::now);
    let mut to_write: Vec<&PreparedOrder> = batch.iter().collect();
    let mut written = (HashMap::new(), Vec::new());
    while !to_write.is_empty() {
        let txn = crate::db::begin_write(db).await?;
        let attempt = write_batch(&txn, &to_write, now, lease).await;
        match attempt {
            Ok((inserted, invitations)) if inserted.len() == to_write.len() => {
                if let Err(e) = riders.write_into(&txn).await {
                    rollback(txn).await;
                    return Err(e);
                }
                txn.commit().await?;
                written = (inserted, invitations);
                break;
            }
            Ok((inserted, _)) => {
                rollback(txn).await;
                to_write.retain(|p| inserted.contains_key(&p.assessment_id()));
            }
            Err(e) => {
                rollback(txn).await;
                return Err(e);
            }
        }
    }
    let (mut inserted, invitations) = written;
    let mut invitations: HashMap<AssessmentId, delivery::Model> = invitations
        .into_iter()
        .filter_map(|d| Some((d.assessment_id?, d)))
        .collect();
    let mut results = Vec::with_capacity(batch.len());
    for p in batch {
        results.push(match inserted.remove(&p.assessment_id()) {
            Some(assessment) => {
                let invitation = invitations.remove(&p.assessment_id());
                Ok(Placed {
                    assessment,
                    created: true,
                    enqueued: invitation.is_some(),
                    leased: invitation.filter(|_| lease.is_some()),
                })
            }
            None => explain_conflict(db, p).await,
        });
    }
    Ok(results)
}

async fn rollback(txn: DatabaseTransaction) {
    if let Err(e) = txn.rollback().await {
        tracing::warn!(error = %e, "rollback failed");
    }
}

/// The assessments inserted (by id) and the invitations' outbox rows.
type BatchWritten = (HashMap<AssessmentId, assessment::Model>, Vec<delivery::Model>);

/// The statements of [`place_batch`].
async fn write_batch(
    txn: &DatabaseTransaction,
    batch: &[&PreparedOrder],
    now: DateTime<Utc>,
    lease: Option<&outbox::Lease>,
) -> Result<BatchWritten, DbErr> {
    // Recruitments: usually one per batch.
    let mut recruitments: HashMap<(OrganizationId, &str, Uuid), Uuid> = HashMap::new();
    for p in batch {
        if let std::collections::hash_map::Entry::Vacant(slot) = recruitments.entry(p.recruitment_key()) {
            let id = ensure_recruitment(txn, p.organization_id, &p.order, p.now()).await?;
            slot.insert(id);
        }
    }
    let candidate_ids = candidates::ensure_all(txn, batch.iter().map(|p| p.candidate_key()), now).await?;
    // Assessments.
    let mut rows = Vec::with_capacity(batch.len());
    for p in batch {
        let (org, email) = p.candidate_key();
        let (Some(recruitment_id), Some(candidate_id)) = (
            recruitments.get(&p.recruitment_key()),
            candidate_ids.get(&(org, email.to_owned())),
        ) else {
            return Err(DbErr::RecordNotFound(format!(
                "recruitment or candidate {email} after insert"
            )));
        };
        rows.push(p.assessment_row(*recruitment_id, *candidate_id));
    }
    let inserted: HashMap<AssessmentId, assessment::Model> = assessment::Entity::insert_many(rows)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_with_returning(txn)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    // Invitations of the orders that were inserted: to be sent, or settled for a sandbox.
    let (sandboxed, deliveries): (Vec<&PreparedOrder>, Vec<&PreparedOrder>) = batch
        .iter()
        .copied()
        .filter(|p| inserted.contains_key(&p.assessment_id()))
        .partition(|p| p.invite.sandbox);
    let sandboxed: Vec<NewDelivery> = sandboxed.iter().filter_map(|p| p.invite.delivery()).collect();
    outbox::write_sandboxed(txn, sandboxed, now).await?;
    let deliveries: Vec<NewDelivery> = deliveries.iter().filter_map(|p| p.invite.delivery()).collect();
    let invitations = outbox::enqueue_many(txn, deliveries, now, lease).await?;
    Ok((inserted, invitations))
}

async fn ensure_recruitment<C: ConnectionTrait>(
    txn: &C,
    organization_id: OrganizationId,
    order: &NewOrder,
    now: DateTime<Utc>,
) -> Result<Uuid, DbErr> {
    let find = || {
        recruitment::Entity::find()
            .filter(recruitment::Column::OrganizationId.eq(organization_id))
            .filter(recruitment::Column::ExternalId.eq(order.recruitment_id.as_str()))
            .filter(recruitment::Column::LensId.eq(order.lens_id))
    };
    if let Some(existing) = find().one(txn).await? {
        return Ok(existing.id);
    }
    let row = recruitment::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(organization_id),
        external_id: Set(order.recruitment_id.as_str().to_owned()),
        lens_id: Set(order.lens_id),
        title: Set(order.recruitment_title.clone()),
        description: Set(order.recruitment_description.clone()),
        collaborator_emails: Set(serde_json::to_value(&order.collaborator_emails).unwrap_or_default()),
        created_at: Set(now),
    };
    recruitment::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                recruitment::Column::OrganizationId,
                recruitment::Column::ExternalId,
                recruitment::Column::LensId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    find()
        .one(txn)
        .await?
        .map(|r| r.id)
        .ok_or_else(|| DbErr::RecordNotFound("recruitment after insert".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::candidate;
    use crate::recruitment::dto::{AssessmentOrderRequest, OrderKind};
    use crate::testing::{EXAMPLE_ORGANIZATION, order_body, seeded_database};
    use sea_orm::PaginatorTrait;
    use serde_json::{Value, json};

    /// The example seed's organisation, what it may order, and a link signer.
    struct Fixture {
        db: DatabaseConnection,
        organization: OrganizationId,
        offer: Offer,
        links: LinkSigner,
        _dir: tempfile::TempDir,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = seeded_database(dir.path()).await;
        let organization = OrganizationId(EXAMPLE_ORGANIZATION.parse().unwrap());
        let offer = Offer::load(&db, organization).await.unwrap();
        let links = LinkSigner::new(
            &secrecy::SecretBox::new(Box::new([7; 32])),
            url::Url::parse("http://127.0.0.1:8080/").unwrap(),
        );
        Fixture {
            db,
            organization,
            offer,
            links,
            _dir: dir,
        }
    }

    impl Fixture {
        /// E-mail orders, prepared as the Recruitment API prepares them.
        fn prepared(&self, bodies: Vec<Value>) -> Vec<PreparedOrder> {
            let ctx = OrderContext {
                links: &self.links,
                organization_name: "Example AB",
                logo_path: None,
                offer: &self.offer,
                sandbox: false,
            };
            bodies
                .into_iter()
                .map(|body| {
                    let request: AssessmentOrderRequest = serde_json::from_value(body).unwrap();
                    let order = NewOrder::parse(OrderKind::Email, request).unwrap();
                    prepare(
                        self.organization,
                        &order,
                        Utc::now(),
                        &InvitationTiming::without_reminders(std::time::Duration::from_secs(86400)),
                        &ctx,
                    )
                    .unwrap()
                })
                .collect()
        }

        /// Places orders one by one, each of which must be created.
        async fn placed(&self, bodies: Vec<Value>) {
            for order in self.prepared(bodies) {
                assert!(place_one(&self.db, &order, None).await.unwrap().created);
            }
        }

        async fn assessments(&self) -> u64 {
            assessment::Entity::find().count(&self.db).await.unwrap()
        }
    }

    /// Orders written together by the group-commit writer: each gets its own answer, and an
    /// order that meets a unique index (even one earlier in the same batch) changes nothing.
    #[tokio::test]
    async fn a_batch_of_orders_answers_each_order_on_its_own() {
        let f = fixture().await;
        // Placed before the batch: for a repeat, a resultId conflict and a taken candidate.
        f.placed(vec![
            order_body("res-old", "old@example.com"),
            order_body("res-taken", "taken@example.com"),
        ])
        .await;
        let mut changed = order_body("res-old", "old@example.com");
        changed["locale"] = json!("sv-SE");
        let batch = f.prepared(vec![
            order_body("res-new-1", "new1@example.com"),
            order_body("res-new-1", "new1@example.com"), // the same again, same batch
            changed,                                     // resultId used by another order
            order_body("res-old", "old@example.com"),    // a repeat of an earlier order
            order_body("res-other", "taken@example.com"), // candidate already ordered
            order_body("res-new-2", "new2@example.com"),
        ]);
        let results = place_batch(&f.db, &batch, None, &mut ())
            .await
            .expect("the batch commits");
        assert_eq!(results.len(), 6);
        let first = results[0].as_ref().expect("new order placed");
        assert!(first.created && first.enqueued);
        let again = results[1].as_ref().expect("the repeat answers");
        assert!(!again.created);
        assert_eq!(
            again.assessment.id, first.assessment.id,
            "the repeat names the same assessment"
        );
        assert!(
            matches!(results[2], Err(OrderError::ResultIdConflict(_))),
            "{:?}",
            results[2]
        );
        let repeat = results[3].as_ref().expect("the earlier order answers");
        assert!(!repeat.created && !repeat.enqueued);
        assert!(
            matches!(results[4], Err(OrderError::CandidateAlreadyInRecruitment(_))),
            "{:?}",
            results[4]
        );
        let second = results[5].as_ref().expect("new order placed");
        assert!(second.created);

        assert_eq!(f.assessments().await, 4, "two before, two new");
        let invitations = delivery::Entity::find().all(&f.db).await.unwrap();
        let for_batch = invitations
            .iter()
            .filter(|d| d.assessment_id == Some(first.assessment.id) || d.assessment_id == Some(second.assessment.id))
            .count();
        assert_eq!(
            for_batch, 2,
            "one invitation per created assessment, none for the others"
        );
        assert_eq!(invitations.len(), 4);
    }

    /// An order refused inside a batch leaves no trace: not the recruitment it named, nor the
    /// candidate, though the batch wrote both before its assessment met the unique index.
    #[tokio::test]
    async fn an_order_refused_in_a_batch_changes_nothing() {
        let f = fixture().await;
        f.placed(vec![order_body("res-old", "old@example.com")]).await;
        let mut stray = order_body("res-old", "stray@example.com");
        stray["recruitment"]["id"] = json!("job-2");
        let batch = f.prepared(vec![order_body("res-new", "new@example.com"), stray]);
        let results = place_batch(&f.db, &batch, None, &mut ())
            .await
            .expect("the batch commits");
        assert!(results[0].as_ref().expect("new order placed").created);
        assert!(
            matches!(results[1], Err(OrderError::ResultIdConflict(_))),
            "{:?}",
            results[1]
        );
        let recruitments: Vec<String> = recruitment::Entity::find()
            .all(&f.db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.external_id)
            .collect();
        assert_eq!(recruitments, vec!["job-1".to_owned()]);
        let mut emails: Vec<String> = candidate::Entity::find()
            .all(&f.db)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.email)
            .collect();
        emails.sort();
        assert_eq!(emails, vec!["new@example.com".to_owned(), "old@example.com".to_owned()]);
        assert_eq!(f.assessments().await, 2);
    }
}

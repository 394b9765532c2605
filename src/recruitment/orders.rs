//! Placing an order: recruitment, candidate and assessment in one transaction, idempotent on
//! `resultId`. Used by the HTTP handlers and, without HTTP, by the benchmark's ceiling run.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, SqlErr,
};
use uuid::Uuid;

use crate::assessment::{Source, State, candidates};
use crate::delivery::invitation::{Invitation, render};
use crate::delivery::outbox::{self, Kind, NewDelivery};
use crate::entity::{assessment, locale, organization_lens, recruitment};
use crate::links::{LinkKind, LinkSigner};
use crate::recruitment::dto::{NewOrder, OrderKind};

/// What placing an order needs besides the order: how to make the candidate's link, and the
/// organisation's name for the invitation.
pub struct OrderContext<'a> {
    pub links: &'a LinkSigner,
    pub organization_name: &'a str,
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
    #[error(transparent)]
    Db(#[from] DbErr),
}

#[derive(Debug)]
pub struct Placed {
    pub assessment: assessment::Model,
    /// False when this was a repeat of an order already placed.
    pub created: bool,
    /// True when outbox rows were added (the worker should be woken).
    pub enqueued: bool,
}

/// The previous order with this `resultId`, if any: the same order again is a repeat, another
/// one a conflict.
async fn find_repeat<C: ConnectionTrait>(
    db: &C,
    organization_id: Uuid,
    order: &NewOrder,
    fingerprint: &str,
) -> Result<Option<Placed>, OrderError> {
    let existing = assessment::Entity::find()
        .filter(assessment::Column::OrganizationId.eq(organization_id))
        .filter(assessment::Column::ResultId.eq(order.result_id.as_str()))
        .one(db)
        .await?;
    match existing {
        Some(a) if a.request_hash == fingerprint => Ok(Some(Placed {
            assessment: a,
            created: false,
            enqueued: false,
        })),
        Some(_) => Err(OrderError::ResultIdConflict(order.result_id.as_str().to_owned())),
        None => Ok(None),
    }
}

pub async fn place_order(
    db: &DatabaseConnection,
    organization_id: Uuid,
    order: &NewOrder,
    now: DateTime<Utc>,
    invitation_ttl: std::time::Duration,
    ctx: &OrderContext<'_>,
) -> Result<Placed, OrderError> {
    let fingerprint = order.fingerprint();
    if let Some(placed) = find_repeat(db, organization_id, order, &fingerprint).await? {
        return Ok(placed);
    }
    let lens_allowed = organization_lens::Entity::find_by_id((organization_id, order.lens_id))
        .one(db)
        .await?
        .is_some();
    if !lens_allowed {
        return Err(OrderError::UnknownLens(order.lens_id));
    }
    if locale::Entity::find_by_id(order.locale.as_str().to_owned())
        .one(db)
        .await?
        .is_none()
    {
        return Err(OrderError::UnknownLocale(order.locale.as_str().to_owned()));
    }
    let expires_at = now + chrono::Duration::from_std(invitation_ttl).unwrap_or(chrono::Duration::days(14));

    let assessment_id = Uuid::now_v7();
    // The invitation, rendered before the transaction so that it holds the lock briefly.
    let invitation = (order.kind == OrderKind::Email).then(|| {
        let link = ctx.links.url(LinkKind::Assessment, assessment_id, now, expires_at);
        render(&Invitation {
            to: order.candidate_email.as_str(),
            locale: order.locale.as_str(),
            organization: ctx.organization_name,
            role: &order.recruitment_title,
            link: &link,
            expires_at,
        })
    });
    let enqueued = invitation.is_some();
    let result = crate::db::write_transaction::<assessment::Model, OrderError, _>(db, |txn| {
        let order = order.clone();
        let fingerprint = fingerprint.clone();
        Box::pin(async move {
            let recruitment_id = ensure_recruitment(txn, organization_id, &order, now).await?;
            let person = candidates::Person {
                email: &order.candidate_email,
                first_name: None,
                last_name: None,
            };
            let candidate_id = candidates::ensure(txn, organization_id, &person, now).await?;
            let taken = assessment::Entity::find()
                .filter(assessment::Column::RecruitmentId.eq(recruitment_id))
                .filter(assessment::Column::CandidateId.eq(candidate_id))
                .one(txn)
                .await?;
            if taken.is_some() {
                return Err(OrderError::CandidateAlreadyInRecruitment(
                    order.candidate_email.to_string(),
                ));
            }
            let row = assessment::ActiveModel {
                id: Set(assessment_id),
                organization_id: Set(organization_id),
                recruitment_id: Set(Some(recruitment_id)),
                candidate_id: Set(candidate_id),
                lens_id: Set(order.lens_id),
                locale: Set(order.locale.as_str().to_owned()),
                source: Set(Source::Recruitment.as_str().to_owned()),
                state: Set(State::Invited.as_str().to_owned()),
                result_id: Set(Some(order.result_id.as_str().to_owned())),
                result_update_url: Set(Some(order.result_update_url.as_str().to_owned())),
                request_hash: Set(fingerprint),
                score: Set(None),
                subscores: Set(None),
                invited_at: Set(now),
                started_at: Set(None),
                completed_at: Set(None),
                finished_at: Set(None),
                expires_at: Set(expires_at),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            let inserted = assessment::Entity::insert(row).exec_with_returning(txn).await?;
            if let Some(mail) = invitation {
                let new = NewDelivery {
                    kind: Kind::InvitationEmail,
                    organization_id: Some(organization_id),
                    assessment_id: Some(assessment_id),
                    target: mail.to.clone(),
                    payload: serde_json::to_value(&mail).unwrap_or_default(),
                };
                outbox::enqueue(txn, new, now).await?;
            }
            Ok(inserted)
        })
    })
    .await;

    let error = match result {
        Ok(assessment) => {
            return Ok(Placed {
                assessment,
                created: true,
                enqueued,
            });
        }
        Err(e) => e,
    };
    let lost_race = match &error {
        OrderError::Db(e) => matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
        OrderError::CandidateAlreadyInRecruitment(_) => true,
        _ => false,
    };
    if lost_race {
        // An identical (or conflicting) order may have committed while this one ran.
        if let Some(placed) = find_repeat(db, organization_id, order, &fingerprint).await? {
            return Ok(placed);
        }
        return Err(OrderError::CandidateAlreadyInRecruitment(
            order.candidate_email.to_string(),
        ));
    }
    Err(error)
}

async fn ensure_recruitment<C: ConnectionTrait>(
    txn: &C,
    organization_id: Uuid,
    order: &NewOrder,
    now: DateTime<Utc>,
) -> Result<Uuid, OrderError> {
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
        .ok_or_else(|| OrderError::Db(DbErr::RecordNotFound("recruitment after insert".into())))
}

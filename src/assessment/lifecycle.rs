//! The candidate's moves (start, decline) and expiry, each with the Ashby update it causes, in
//! one transaction.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect,
};

use crate::assessment::{Event, Source, State, Transition};
use crate::delivery::ashby_update as update;
use crate::delivery::outbox::{self, Kind, NewDelivery};
use crate::entity::{assessment, integrator, organization};
use crate::types::AssessmentId;

pub const REASON_EXPIRED: &str = "Invitation expired";
pub const REASON_DECLINED: &str = "Candidate declined";

#[derive(Debug)]
pub struct Moved {
    pub assessment: assessment::Model,
    /// False when nothing changed (a repeat, or not allowed from the current state).
    pub changed: bool,
    /// Outbox rows were added: wake the worker.
    pub enqueued: bool,
}

/// Applies `event` to the assessment; a change also tells Ashby (for Ashby assessments).
pub async fn apply(
    db: &DatabaseConnection,
    id: AssessmentId,
    event: Event,
    now: DateTime<Utc>,
    ashby_base_url: &str,
) -> Result<Option<Moved>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let Some(current) = assessment::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(None);
    };
    let state = current.state;
    let next = match state.apply(event) {
        Transition::To(next) => next,
        Transition::NoOp | Transition::Refused => {
            return Ok(Some(Moved {
                assessment: current,
                changed: false,
                enqueued: false,
            }));
        }
    };
    let mut active = current.clone().into_active_model();
    active.state = Set(next);
    active.updated_at = Set(now);
    match next {
        State::Started => active.started_at = Set(Some(now)),
        State::Expired | State::Declined | State::Cancelled => active.finished_at = Set(Some(now)),
        State::Invited | State::Completed => {}
    }
    let updated = active.update(&txn).await?;
    let ashby_update: Option<Box<dyn FnOnce(i64) -> crate::delivery::ashby_update::UpdateRequest + Send>> =
        match (current.source == Source::Ashby, next) {
            (true, State::Started) => Some(Box::new(move |ts| update::with_status(id, ts, "Started"))),
            (true, State::Expired) => Some(Box::new(move |ts| update::cancelled(id, ts, REASON_EXPIRED))),
            (true, State::Declined) => Some(Box::new(move |ts| update::cancelled(id, ts, REASON_DECLINED))),
            _ => None,
        };
    let mut enqueued = ashby_update.is_some();
    if let Some(build) = ashby_update {
        update::enqueue(&txn, &updated, ashby_base_url, now, build).await?;
    }
    if matches!(next, State::Declined | State::Expired) {
        enqueued |= enqueue_status_push(&txn, &updated, next, now).await?;
    }
    txn.commit().await?;
    Ok(Some(Moved {
        assessment: updated,
        changed: true,
        enqueued,
    }))
}

/// What a status push carries: the order's `resultId` and how the assessment ended.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusPush<'a> {
    pub result_id: &'a str,
    pub status: State,
}

/// A Recruitment-API order whose integrator asked for status pushes (`statusPushes`) learns
/// that its candidate declined or let the invitation expire, through the outbox like a result.
/// Answers whether a row was added.
async fn enqueue_status_push<C: ConnectionTrait>(
    txn: &C,
    a: &assessment::Model,
    status: State,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let (Some(url), Some(result_id)) = (a.result_update_url.as_ref(), a.result_id.as_deref()) else {
        return Ok(false);
    };
    let Some(org) = organization::Entity::find_by_id(a.organization_id).one(txn).await? else {
        return Ok(false);
    };
    let wanted = integrator::Entity::find_by_id(org.integrator_id)
        .one(txn)
        .await?
        .is_some_and(|i| i.status_pushes);
    if !wanted {
        return Ok(false);
    }
    let new = NewDelivery {
        kind: Kind::Result,
        organization_id: Some(a.organization_id),
        assessment_id: Some(a.id),
        target: url.clone(),
        payload: serde_json::to_value(StatusPush { result_id, status }).unwrap_or_default(),
    };
    outbox::enqueue(txn, new, now).await?;
    Ok(true)
}

/// Moves open assessments past their expiry to `expired` (at most `batch` per call); answers
/// how many moved and whether outbox rows were added.
pub async fn expire_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    ashby_base_url: &str,
    batch: u64,
) -> Result<(usize, bool), DbErr> {
    let due: Vec<AssessmentId> = assessment::Entity::find()
        .select_only()
        .column(assessment::Column::Id)
        .filter(assessment::Column::State.is_in([State::Invited, State::Started]))
        .filter(assessment::Column::ExpiresAt.lte(now))
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    let mut moved = 0;
    let mut enqueued = false;
    for id in due {
        // Each in its own transaction; a concurrent sweeper or candidate makes this a no-op.
        if let Some(m) = apply(db, id, Event::Expire, now, ashby_base_url).await?
            && m.changed
        {
            moved += 1;
            enqueued |= m.enqueued;
        }
    }
    Ok((moved, enqueued))
}

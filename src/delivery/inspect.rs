//! Looking into the outbox and acting on it by hand: listing rows, one row with its attempt log,
//! the rows about one assessment, and replaying a dead row. The admin API and the console both
//! stand on these, so a replay is the same act whichever surface asks for it.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::db::Cursor;
use crate::delivery::outbox::{self, DeliveryState, Kind};
use crate::entity::{delivery, delivery_attempt};
use crate::types::{AssessmentId, OrganizationId};

/// Which rows to list; every field left out matches all.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<DeliveryState>,
    pub kind: Option<Kind>,
    pub organization_id: Option<OrganizationId>,
    pub assessment_id: Option<AssessmentId>,
}

/// Rows matching `filter`, in the cursor's order past its row, at most `limit`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &Filter,
    page: Cursor,
    limit: u64,
) -> Result<Vec<delivery::Model>, DbErr> {
    let mut query = delivery::Entity::find();
    if let Some(s) = filter.state {
        query = query.filter(delivery::Column::State.eq(s));
    }
    if let Some(k) = filter.kind {
        query = query.filter(delivery::Column::Kind.eq(k));
    }
    if let Some(org) = filter.organization_id {
        query = query.filter(delivery::Column::OrganizationId.eq(org));
    }
    if let Some(a) = filter.assessment_id {
        query = query.filter(delivery::Column::AssessmentId.eq(a));
    }
    page.apply(query, delivery::Column::Id).limit(limit).all(db).await
}

/// A row with its attempts, in the order they were made.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub delivery: delivery::Model,
    pub attempts: Vec<delivery_attempt::Model>,
}

/// One row with its attempt log, from one statement (so its state and its attempts agree, even
/// while the worker is sending it); `None` when there is no such row.
pub async fn one<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Inspected>, DbErr> {
    let found = delivery::Entity::find_by_id(id)
        .find_with_related(delivery_attempt::Entity)
        .all(db)
        .await?;
    Ok(found.into_iter().next().map(|(delivery, mut attempts)| {
        attempts.sort_by_key(|a| (a.started_at, a.id));
        Inspected { delivery, attempts }
    }))
}

/// Every row about one assessment with its attempt log, oldest first.
pub async fn of_assessment<C: ConnectionTrait>(db: &C, id: AssessmentId) -> Result<Vec<Inspected>, DbErr> {
    let rows = delivery::Entity::find()
        .filter(delivery::Column::AssessmentId.eq(id))
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut attempts = attempts_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|delivery| Inspected {
            attempts: attempts.remove(&delivery.id).unwrap_or_default(),
            delivery,
        })
        .collect())
}

/// The attempt logs of `ids`, each in the order made.
pub async fn attempts_of<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<delivery_attempt::Model>>, DbErr> {
    let mut by_row: std::collections::HashMap<Uuid, Vec<delivery_attempt::Model>> = Default::default();
    if ids.is_empty() {
        return Ok(by_row);
    }
    let attempts = delivery_attempt::Entity::find()
        .filter(delivery_attempt::Column::DeliveryId.is_in(ids.iter().copied()))
        .order_by_asc(delivery_attempt::Column::StartedAt)
        .order_by_asc(delivery_attempt::Column::Id)
        .all(db)
        .await?;
    for a in attempts {
        by_row.entry(a.delivery_id).or_default().push(a);
    }
    Ok(by_row)
}

/// What a replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// The row is pending again, due now.
    Replayed,
    /// There is no such row.
    Missing,
    /// The row was scrubbed with its candidate's data: there is nothing left to send.
    Erased,
    /// Only dead rows are replayed; this one is in that state.
    NotDead(DeliveryState),
}

/// Replays a dead row: pending again, due now, its retry schedule counted afresh from this
/// attempt on and its deadline `deadline` (the retry window from now). The worker is told on
/// PostgreSQL (NOTIFY); the caller wakes this instance's.
pub async fn replay<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Replay, DbErr> {
    let updated = delivery::Entity::update_many()
        .col_expr(delivery::Column::State, Expr::value(DeliveryState::Pending))
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
        .col_expr(
            delivery::Column::FirstAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(delivery::Column::DeadlineAt, Expr::value(Some(deadline)))
        .col_expr(delivery::Column::ReplayBase, Expr::col(delivery::Column::Attempts))
        .col_expr(delivery::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            delivery::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::State.eq(DeliveryState::Dead))
        .filter(delivery::Column::Target.ne(outbox::ERASED))
        .exec(db)
        .await?;
    if updated.rows_affected == 1 {
        outbox::notify(db).await?;
        return Ok(Replay::Replayed);
    }
    Ok(match delivery::Entity::find_by_id(id).one(db).await? {
        None => Replay::Missing,
        Some(row) if row.target == outbox::ERASED => Replay::Erased,
        Some(row) => Replay::NotDead(row.state),
    })
}

//! What the console's overview shows: assessments by state per organisation, completions in the
//! last 24 hours, deliveries pending and dead, and the age of the oldest pending one.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::assessment::State;
use crate::delivery::outbox::DeliveryState;
use crate::entity::{assessment, delivery, organization};
use crate::types::OrganizationId;

/// Assessments of one organisation by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationCounts {
    pub name: String,
    pub by_state: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessments {
    /// By organisation name.
    pub organizations: Vec<OrganizationCounts>,
    pub completed_last_day: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deliveries {
    pub pending: i64,
    pub dead: i64,
    pub oldest_pending: Option<DateTime<Utc>>,
}

pub async fn assessments(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Assessments, DbErr> {
    let counts: Vec<(OrganizationId, State, i64)> = assessment::Entity::find()
        .select_only()
        .column(assessment::Column::OrganizationId)
        .column(assessment::Column::State)
        .column_as(Expr::col(assessment::Column::Id).count(), "n")
        .group_by(assessment::Column::OrganizationId)
        .group_by(assessment::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let names: BTreeMap<OrganizationId, String> = organization_names(db).await?.into_iter().collect();
    let mut by_org: BTreeMap<OrganizationId, OrganizationCounts> = BTreeMap::new();
    for (org, state, n) in counts {
        let entry = by_org.entry(org).or_insert_with(|| OrganizationCounts {
            name: names.get(&org).cloned().unwrap_or_else(|| org.to_string()),
            by_state: BTreeMap::new(),
        });
        entry.by_state.insert(state.as_str().to_owned(), n);
    }
    let mut organizations: Vec<OrganizationCounts> = by_org.into_values().collect();
    organizations.sort_by(|a, b| a.name.cmp(&b.name));
    let completed_last_day = assessment::Entity::find()
        .filter(assessment::Column::CompletedAt.gte(now - chrono::Duration::hours(24)))
        .select_only()
        .column_as(Expr::col(assessment::Column::Id).count(), "n")
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or_default();
    Ok(Assessments {
        organizations,
        completed_last_day,
    })
}

/// Every organisation's id and name, by name (for filters and headings).
pub async fn organization_names(db: &DatabaseConnection) -> Result<Vec<(OrganizationId, String)>, DbErr> {
    organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .column(organization::Column::Name)
        .order_by_asc(organization::Column::Name)
        .into_tuple()
        .all(db)
        .await
}

pub async fn deliveries(db: &DatabaseConnection) -> Result<Deliveries, DbErr> {
    let count = |state: DeliveryState| {
        delivery::Entity::find()
            .filter(delivery::Column::State.eq(state))
            .select_only()
            .column_as(Expr::col(delivery::Column::Id).count(), "n")
            .into_tuple::<i64>()
            .one(db)
    };
    let pending = count(DeliveryState::Pending).await?.unwrap_or_default();
    let dead = count(DeliveryState::Dead).await?.unwrap_or_default();
    let oldest_pending = delivery::Entity::find()
        .filter(delivery::Column::State.eq(DeliveryState::Pending))
        .select_only()
        .column_as(Expr::col(delivery::Column::CreatedAt).min(), "oldest")
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten();
    Ok(Deliveries {
        pending,
        dead,
        oldest_pending,
    })
}

//! Candidates: one per organisation and e-mail address, whichever door they came in by.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    TryInsertResult,
};
use uuid::Uuid;

use crate::entity::candidate;
use crate::types::Email;

/// Who the candidate is, as far as the caller knows.
pub struct Person<'a> {
    pub email: &'a Email,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
}

/// The candidate's id, created if new (one statement), else found (safe against a concurrent
/// insert of the same person). Names fill in what was unknown; they never overwrite.
pub async fn ensure<C: ConnectionTrait>(
    txn: &C,
    organization_id: Uuid,
    person: &Person<'_>,
    now: DateTime<Utc>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    let inserted = candidate::Entity::insert(candidate::ActiveModel {
        id: Set(id),
        organization_id: Set(organization_id),
        email: Set(person.email.as_str().to_owned()),
        first_name: Set(person.first_name.map(str::to_owned)),
        last_name: Set(person.last_name.map(str::to_owned)),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([candidate::Column::OrganizationId, candidate::Column::Email])
            .do_nothing()
            .to_owned(),
    )
    .try_insert()
    .exec_without_returning(txn)
    .await?;
    if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(id);
    }
    let existing = candidate::Entity::find()
        .filter(candidate::Column::OrganizationId.eq(organization_id))
        .filter(candidate::Column::Email.eq(person.email.as_str()))
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("candidate after a conflicting insert".into()))?;
    let id = existing.id;
    if existing.first_name.is_none() && person.first_name.is_some() {
        let mut active = existing.into_active_model();
        active.first_name = Set(person.first_name.map(str::to_owned));
        active.last_name = Set(person.last_name.map(str::to_owned));
        active.update(txn).await?;
    }
    Ok(id)
}

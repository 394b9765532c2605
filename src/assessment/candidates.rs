//! Candidates: one per organisation and e-mail address, whichever door they came in by.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
};
use uuid::Uuid;

use crate::entity::candidate;
use crate::types::Email;
use crate::types::OrganizationId;

/// Who the candidate is, as far as the caller knows.
pub struct Person<'a> {
    pub email: &'a Email,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
}

/// The candidate's id, created if new (safe against a concurrent insert of the same person).
/// Names fill in what was unknown; they never overwrite.
pub async fn ensure<C: ConnectionTrait>(
    txn: &C,
    organization_id: OrganizationId,
    person: &Person<'_>,
    now: DateTime<Utc>,
) -> Result<Uuid, DbErr> {
    let find = || {
        candidate::Entity::find()
            .filter(candidate::Column::OrganizationId.eq(organization_id))
            .filter(candidate::Column::Email.eq(person.email.as_str()))
    };
    if let Some(existing) = find().one(txn).await? {
        if existing.first_name.is_none() && person.first_name.is_some() {
            let id = existing.id;
            let mut active = existing.into_active_model();
            active.first_name = Set(person.first_name.map(str::to_owned));
            active.last_name = Set(person.last_name.map(str::to_owned));
            active.update(txn).await?;
            return Ok(id);
        }
        return Ok(existing.id);
    }
    candidate::Entity::insert(candidate::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(organization_id),
        email: Set(person.email.as_str().to_owned()),
        first_name: Set(person.first_name.map(str::to_owned)),
        last_name: Set(person.last_name.map(str::to_owned)),
        created_at: Set(now),
        erased_at: Set(None),
    })
    .on_conflict(
        OnConflict::columns([candidate::Column::OrganizationId, candidate::Column::Email])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    find()
        .one(txn)
        .await?
        .map(|c| c.id)
        .ok_or_else(|| DbErr::RecordNotFound("candidate after insert".into()))
}

/// Several candidates known only by e-mail (orders carry no names), in one statement: inserted
/// where new, touched where known (a no-op update, so that `RETURNING` names every one's id).
/// Written in a fixed order, so that two concurrent writers take their locks in the same order.
/// Their ids by (organisation, e-mail).
pub async fn ensure_all<C: ConnectionTrait>(
    txn: &C,
    people: impl IntoIterator<Item = (OrganizationId, &str)>,
    now: DateTime<Utc>,
) -> Result<HashMap<(OrganizationId, String), Uuid>, DbErr> {
    let mut people: Vec<(OrganizationId, &str)> = people.into_iter().collect();
    people.sort_unstable();
    people.dedup();
    if people.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = people
        .into_iter()
        .map(|(organization_id, email)| candidate::ActiveModel {
            id: Set(Uuid::now_v7()),
            organization_id: Set(organization_id),
            email: Set(email.to_owned()),
            first_name: Set(None),
            last_name: Set(None),
            created_at: Set(now),
            erased_at: Set(None),
        });
    Ok(candidate::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([candidate::Column::OrganizationId, candidate::Column::Email])
                .update_column(candidate::Column::Email)
                .to_owned(),
        )
        .exec_with_returning(txn)
        .await?
        .into_iter()
        .map(|c| ((c.organization_id, c.email), c.id))
        .collect())
}

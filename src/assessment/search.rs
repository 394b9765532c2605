//! Finding assessments: by organisation, state and creation time, and by what an operator has
//! in hand (a `resultId`, an assessment id or a candidate's e-mail address). The admin API's
//! listing and the console's search both stand on [`find`].
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::assessment::State;
use crate::entity::{assessment, candidate};
use crate::types::{Email, OrganizationId};

/// What was asked for: a free text, as an operator types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// An e-mail address: that candidate's assessments, in every organisation.
    Email(Email),
    /// An id: the assessment with that id, or with that `resultId`.
    Id(Uuid),
    /// Anything else: a `resultId`.
    ResultId(String),
}

impl Lookup {
    /// The text an operator typed; `None` when it is blank.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if let Ok(id) = Uuid::parse_str(text) {
            return Some(Self::Id(id));
        }
        if let Some(email) = text.contains('@').then(|| Email::parse(text).ok()).flatten() {
            return Some(Self::Email(email));
        }
        Some(Self::ResultId(text.to_owned()))
    }
}

/// Which assessments; every field left out matches all. `created_to` is exclusive.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub organization_id: Option<OrganizationId>,
    pub state: Option<State>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub lookup: Option<Lookup>,
}

/// An assessment found, with its candidate's address while it is not erased.
#[derive(Debug, Clone)]
pub struct Found {
    pub assessment: assessment::Model,
    pub candidate_email: Option<String>,
}

/// Assessments matching `filter`, oldest first, after the assessment `after` (a cursor), at most
/// `limit`.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    filter: &Filter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Found>, DbErr> {
    let mut query = assessment::Entity::find().order_by_asc(assessment::Column::Id);
    if let Some(org) = filter.organization_id {
        query = query.filter(assessment::Column::OrganizationId.eq(org));
    }
    if let Some(s) = filter.state {
        query = query.filter(assessment::Column::State.eq(s));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(assessment::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(assessment::Column::CreatedAt.lt(to));
    }
    match &filter.lookup {
        None => {}
        Some(Lookup::Id(id)) => {
            query = query.filter(
                Condition::any()
                    .add(assessment::Column::Id.eq(*id))
                    .add(assessment::Column::ResultId.eq(id.to_string())),
            );
        }
        Some(Lookup::ResultId(text)) => query = query.filter(assessment::Column::ResultId.eq(text.as_str())),
        Some(Lookup::Email(email)) => {
            let ids: Vec<Uuid> = candidate::Entity::find()
                .select_only()
                .column(candidate::Column::Id)
                .filter(candidate::Column::Email.eq(email.as_str()))
                .into_tuple()
                .all(db)
                .await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            query = query.filter(assessment::Column::CandidateId.is_in(ids));
        }
    }
    if let Some(after) = after {
        query = query.filter(assessment::Column::Id.gt(after));
    }
    let rows = query.limit(limit).all(db).await?;
    let candidate_ids: Vec<Uuid> = rows.iter().map(|a| a.candidate_id).collect();
    let emails: HashMap<Uuid, String> = if candidate_ids.is_empty() {
        HashMap::new()
    } else {
        candidate::Entity::find()
            .filter(candidate::Column::Id.is_in(candidate_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.id, c.email))
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|a| Found {
            candidate_email: emails.get(&a.candidate_id).cloned().filter(|_| a.erased_at.is_none()),
            assessment: a,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_is_an_id_an_address_or_a_result_id() {
        let id = Uuid::now_v7();
        assert_eq!(Lookup::parse(&format!(" {id} ")), Some(Lookup::Id(id)));
        assert_eq!(
            Lookup::parse("Ada@Example.com"),
            Some(Lookup::Email(Email::parse("ada@example.com").unwrap()))
        );
        assert_eq!(Lookup::parse("res-42"), Some(Lookup::ResultId("res-42".into())));
        // Not an address after all: it may still be somebody's resultId.
        assert_eq!(Lookup::parse("a@b"), Some(Lookup::ResultId("a@b".into())));
        assert_eq!(Lookup::parse("   "), None);
    }
}

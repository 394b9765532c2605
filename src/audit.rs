//! The audit log: one append-only row per admin write (and per export of a person's data) —
//! who, what, on which target, with which outcome; never a secret or a candidate's contact
//! data. The database refuses to change or delete a row (migration 11's triggers).
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entity::audit_event;

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event {
    pub actor: String,
    pub action: String,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
}

/// What a status says happened.
pub fn outcome(status: u16) -> &'static str {
    match status {
        500.. => "failed",
        400.. => "refused",
        _ => "succeeded",
    }
}

pub async fn record<C: ConnectionTrait>(db: &C, event: Event, now: DateTime<Utc>) -> Result<(), DbErr> {
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        at: Set(now),
        actor: Set(storable(event.actor)),
        action: Set(storable(event.action)),
        target_type: Set(event.target_type.map(str::to_owned)),
        target_id: Set(event.target_id.map(storable)),
        request_id: Set(event.request_id),
        outcome: Set(outcome(event.status).to_owned()),
        status: Set(i32::from(event.status)),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Text as every database stores it: a refused request's path may hold anything a client sent
/// (a NUL, which PostgreSQL cannot store as text; kilobytes of it), and its refusal is still
/// recorded. NUL becomes U+FFFD, and at most 200 characters are kept.
fn storable(text: String) -> String {
    const MAX: usize = 200;
    if !text.contains('\0') && text.chars().count() <= MAX {
        return text;
    }
    text.chars()
        .take(MAX)
        .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
        .collect()
}

/// Which events to list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Events after this one (a page's cursor).
    pub after: Option<Uuid>,
}

/// Events matching `filter`, oldest first, at most `limit`.
pub async fn list<C: ConnectionTrait>(db: &C, filter: &Filter, limit: u64) -> Result<Vec<audit_event::Model>, DbErr> {
    let mut query = audit_event::Entity::find().order_by_asc(audit_event::Column::Id);
    if let Some(action) = &filter.action {
        query = query.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_event::Column::At.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_event::Column::At.lt(to));
    }
    if let Some(after) = filter.after {
        query = query.filter(audit_event::Column::Id.gt(after));
    }
    query.limit(limit).all(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_the_status() {
        assert_eq!(outcome(200), "succeeded");
        assert_eq!(outcome(201), "succeeded");
        assert_eq!(outcome(403), "refused");
        assert_eq!(outcome(422), "refused");
        assert_eq!(outcome(500), "failed");
    }
}

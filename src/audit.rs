//! The audit log: one append-only row per admin write (and per export of a person's data) —
//! who, what, on which target, with which outcome; never a secret or a candidate's contact
//! data. The database refuses to change or delete a row (migration 11's triggers).
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::db::Cursor;
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
}

/// Events matching `filter`, in the cursor's order past its event, at most `limit`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &Filter,
    page: Cursor,
    limit: u64,
) -> Result<Vec<audit_event::Model>, DbErr> {
    let mut query = audit_event::Entity::find();
    if let Some(action) = &filter.action {
        query = query.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_event::Column::At.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_event::Column::At.lt(to));
    }
    page.apply(query, audit_event::Column::Id).limit(limit).all(db).await
}

/// When `action` succeeded on each of `targets` (of `target_type`): (target id, time), oldest first.
pub async fn succeeded<C: ConnectionTrait>(
    db: &C,
    action: &str,
    target_type: &str,
    targets: &[Uuid],
) -> Result<Vec<(String, DateTime<Utc>)>, DbErr> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::TargetId)
        .column(audit_event::Column::At)
        .filter(audit_event::Column::Action.eq(action))
        .filter(audit_event::Column::TargetType.eq(target_type))
        .filter(audit_event::Column::TargetId.is_in(targets.iter().map(Uuid::to_string)))
        .filter(audit_event::Column::Outcome.eq(outcome(200)))
        .order_by_asc(audit_event::Column::Id)
        .into_tuple()
        .all(db)
        .await
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

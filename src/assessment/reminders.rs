//! Reminders of an invitation not finished yet (`AP_INVITATION_REMINDERS`).
//!
//! Each assessment invited by e-mail keeps the moment of its next reminder
//! (`next_reminder_at`), set when the invitation is written. The expiry sweep
//! ([`send_due`]) finds the assessments whose moment has come: one still `invited` or `started`
//! gets a reminder e-mail written to the outbox, and its moment moves to the next one left
//! before the expiry (or none), in one transaction; any other has its moment cleared. The move
//! is conditional on the moment still being due, so two instances sweeping at once send one
//! reminder, and a restart sends none twice. Moments missed while no worker ran collapse into
//! one reminder. The reminder's sender checks the assessment again before sending
//! (`delivery::senders`), so a reminder waiting for a retry never reaches a candidate who has
//! finished meanwhile.
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::assessment::State;
use crate::assessment::questionnaire::lens_competencies;
use crate::catalog::Catalog;
use crate::delivery::invitation::{Invitation, render};
use crate::delivery::outbox::{self, Kind, NewDelivery};
use crate::entity::{assessment, candidate, lens, organization, recruitment};
use crate::links::{LinkKind, LinkSigner};

/// The next reminder's moment after `after`: the earliest `expires_at - offset` that is later
/// than both `after` and the invitation (a reminder never goes with the invitation itself).
pub fn next_moment(
    offsets: &[Duration],
    invited_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    offsets
        .iter()
        .filter_map(|o| chrono::Duration::from_std(*o).ok())
        .filter_map(|o| expires_at.checked_sub_signed(o))
        .filter(|m| *m > after && *m > invited_at && *m < expires_at)
        .min()
}

/// Writes the reminders due at `now` (at most `batch` assessments looked at); answers how many
/// were written. With no offsets (`off`) nothing is looked at.
pub async fn send_due(
    db: &DatabaseConnection,
    links: &LinkSigner,
    offsets: &[Duration],
    now: DateTime<Utc>,
    batch: u64,
) -> Result<usize, DbErr> {
    if offsets.is_empty() {
        return Ok(0);
    }
    let due = assessment::Entity::find()
        .filter(assessment::Column::NextReminderAt.lte(now))
        .order_by_asc(assessment::Column::NextReminderAt)
        .limit(batch)
        .all(db)
        .await?;
    let mut written = 0;
    for a in due {
        let txn = crate::db::begin_write(db).await?;
        let open = a.awaits_candidate(now);
        let next = if open {
            next_moment(offsets, a.invited_at, a.expires_at, now)
        } else {
            None
        };
        // Moves the moment only if it is still due (no other sweep took it) and, for a
        // reminder, the assessment is still open.
        let mut take = assessment::Entity::update_many()
            .col_expr(assessment::Column::NextReminderAt, Expr::value(next))
            .filter(assessment::Column::Id.eq(a.id))
            .filter(assessment::Column::NextReminderAt.lte(now));
        if open {
            take = take.filter(assessment::Column::State.is_in([State::Invited, State::Started]));
        }
        let taken = take.exec(&txn).await?.rows_affected == 1;
        if taken
            && open
            && let Some(row) = reminder(&txn, links, &a).await?
        {
            outbox::enqueue(&txn, row, now).await?;
            written += 1;
        }
        txn.commit().await?;
    }
    Ok(written)
}

/// The reminder e-mail's outbox row: the invitation again, with the same link, saying that it
/// is not finished. `None` when the candidate or organisation is gone.
async fn reminder<C: ConnectionTrait>(
    db: &C,
    links: &LinkSigner,
    a: &assessment::Model,
) -> Result<Option<NewDelivery>, DbErr> {
    let Some(candidate) = candidate::Entity::find_by_id(a.candidate_id).one(db).await? else {
        return Ok(None);
    };
    let Some(org) = organization::Entity::find_by_id(a.organization_id).one(db).await? else {
        return Ok(None);
    };
    let lens_name = lens::Entity::find_by_id(a.lens_id)
        .one(db)
        .await?
        .map(|l| l.name)
        .unwrap_or_default();
    // The role as the invitation named it: the recruitment's title, or Ashby's job.
    let role = match a.recruitment_id {
        Some(id) => recruitment::Entity::find_by_id(id).one(db).await?.map(|r| r.title),
        None => a.ashby_job_name.clone(),
    }
    .unwrap_or(lens_name);
    let keys = lens_competencies(db, a.lens_id).await?;
    let link = links.url(LinkKind::Assessment, a.id.into(), a.expires_at);
    let brand = crate::tenancy::branding::Brand::of(&org);
    let logo = brand.logo_path.as_deref().map(|p| links.absolute(p));
    let mail = render(&Invitation {
        to: &candidate.email,
        locale: &a.locale,
        organization: &brand.name,
        role: &role,
        link: &link,
        expires_at: a.expires_at,
        minutes: Catalog::get().estimated_minutes(keys.iter().map(|c| c.key.as_str())),
        reminder: true,
        first_name: candidate.first_name.as_deref(),
        logo_url: logo.as_deref(),
    });
    Ok(Some(NewDelivery {
        kind: Kind::ReminderEmail,
        organization_id: Some(a.organization_id),
        assessment_id: Some(a.id),
        target: mail.to.clone(),
        payload: serde_json::to_value(&mail).unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
    }

    const DAY: u64 = 86_400;

    #[test]
    fn moments_come_before_the_expiry_and_after_the_invitation() {
        let offsets = [Duration::from_secs(7 * DAY), Duration::from_secs(DAY)];
        let day = |d: i64| at(d * DAY as i64);
        // Invited at day 0, expiring at day 14: day 7, then day 13, then none.
        assert_eq!(next_moment(&offsets, day(0), day(14), day(0)), Some(day(7)));
        assert_eq!(next_moment(&offsets, day(0), day(14), day(7)), Some(day(13)));
        assert_eq!(next_moment(&offsets, day(0), day(14), day(13)), None);
        // A sweep late past both moments sends one, then none.
        assert_eq!(
            next_moment(&offsets, day(0), day(14), day(13) + chrono::Duration::hours(1)),
            None
        );
        // Expiring in 3 days: the 7-day reminder would precede the invitation; only the 1-day one.
        assert_eq!(next_moment(&offsets, day(0), day(3), day(0)), Some(day(2)));
        // Expiring in 12 hours: none at all.
        assert_eq!(next_moment(&offsets, day(0), at(12 * 3600), day(0)), None);
        assert_eq!(next_moment(&[], day(0), day(14), day(0)), None);
    }
}

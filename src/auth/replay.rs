//! Signed Recruitment API calls that act each time they arrive (the test push, sandbox results)
//! are accepted once: a captured request replayed inside the signature window is refused.
//!
//! What is remembered is the SHA-256 of the organisation, the signature's timestamp and the
//! body, not the header as sent: a valid `signature=` entry for that timestamp and body is
//! determined by the secret, so adding, removing or reordering entries does not make a replay
//! new. A client repeating such a call on purpose signs it again with a new timestamp (the next
//! second). The row lives until the signature would be refused anyway (its timestamp plus the
//! tolerance) and the expiry sweep deletes it after that. Orders need none of this: they are
//! idempotent on `resultId`.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::entity::accepted_signature;
use crate::types::OrganizationId;

/// Whether a signed request was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    First,
    Replayed,
}

fn key(organization: OrganizationId, timestamp: i64, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(organization.to_string().as_bytes());
    hash.update(b"\n");
    hash.update(timestamp.to_string().as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Remembers the request signed at `timestamp` over `body` for `organization` until
/// `timestamp + tolerance`; answers whether it had been accepted before. One statement, so
/// concurrent copies on any number of instances sharing the database accept exactly one.
pub async fn accept_once<C: ConnectionTrait>(
    db: &C,
    organization: OrganizationId,
    timestamp: i64,
    body: &[u8],
    tolerance: std::time::Duration,
) -> Result<Acceptance, DbErr> {
    let tolerance = chrono::Duration::from_std(tolerance).unwrap_or(chrono::Duration::days(1));
    let signed = DateTime::<Utc>::from_timestamp(timestamp, 0).unwrap_or_default();
    let expires_at = signed.checked_add_signed(tolerance).unwrap_or(signed);
    let inserted = accepted_signature::Entity::insert(accepted_signature::ActiveModel {
        id: Set(key(organization, timestamp, body)),
        expires_at: Set(expires_at),
    })
    .on_conflict(
        OnConflict::column(accepted_signature::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(if inserted == 0 {
        Acceptance::Replayed
    } else {
        Acceptance::First
    })
}

/// Forgets the requests whose signatures have expired; answers how many.
pub async fn forget_expired<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(accepted_signature::Entity::delete_many()
        .filter(accepted_signature::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_depends_on_organisation_time_and_body() {
        let a = OrganizationId::from(uuid::Uuid::nil());
        let b = OrganizationId::from(uuid::Uuid::max());
        assert_eq!(key(a, 1, b"x"), key(a, 1, b"x"));
        assert_ne!(key(a, 1, b"x"), key(b, 1, b"x"));
        assert_ne!(key(a, 1, b"x"), key(a, 2, b"x"));
        assert_ne!(key(a, 1, b"x"), key(a, 1, b"y"));
        // The separator keeps the time and body apart: "1" + "2x" is not "12" + "x".
        assert_ne!(key(a, 1, b"2x"), key(a, 12, b"x"));
    }
}

//! Signing in to the console and its sessions.
//!
//! A sign-in is counted before its password is checked, with one statement that adds it to the
//! address's attempts and answers the count (so concurrent sign-ins cannot all read the same
//! stale count): the [`LOCK_AFTER`]th attempt since the last success locks the address for
//! `AP_CONSOLE_LOCKOUT`, and later ones are refused without being checked until then, even with
//! the right password; at most [`LOCK_AFTER`] passwords are checked for an address within a
//! lock's time, however many arrive at once. A success clears the count; a lock that ran out
//! starts it again. Attempts are kept by the SHA-256 of the address typed, known or not, so a
//! lock says nothing about whether an operator has that address; an unknown address is checked
//! against a hash too, so it takes as long. A success opens a session: a random token for the cookie, of
//! which only the SHA-256 is stored; it ends `AP_CONSOLE_SESSION_IDLE` after its last use, when
//! its operator is disabled, or at sign-out.
use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use secrecy::SecretString;

use crate::config::ConsoleSettings;
use crate::console::password;
use crate::entity::{console_session, operator, sign_in_failure};

/// Sign-in attempts since the last success that lock an address (and passwords checked at most
/// per lock).
pub const LOCK_AFTER: i32 = 5;

/// A session's last use is written again after this long at most (not on every page).
const TOUCH_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// What a sign-in came to.
#[derive(Debug)]
pub enum SignIn {
    /// The session's token, for the cookie.
    Opened { operator: operator::Model, token: String },
    /// Wrong address or password (or a disabled operator); `locked` when this attempt locked it.
    Refused { locked: Option<DateTime<Utc>> },
    /// Locked after too many failures, until then.
    Locked(DateTime<Utc>),
}

fn sha256(text: &str) -> String {
    crate::crypto::sha256_hex(text.as_bytes())
}

fn address_key(email: &str) -> String {
    sha256(&email.trim().to_lowercase())
}

/// A hash no password matches in practice, checked for unknown addresses so that they take as
/// long as known ones.
static DECOY: LazyLock<String> = LazyLock::new(|| {
    let mut random = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut random);
    password::hash(&SecretString::from(URL_SAFE_NO_PAD.encode(random))).unwrap_or_default()
});

/// Checks `password` for `email` at `now`; see the module's text.
pub async fn sign_in(
    db: &DatabaseConnection,
    email: &str,
    password: SecretString,
    now: DateTime<Utc>,
    lockout: Duration,
) -> Result<SignIn, DbErr> {
    let key = address_key(email);
    let until = now + chrono::Duration::from_std(lockout).unwrap_or(chrono::Duration::MAX);
    let attempt = count_attempt(db, &key, now, until).await?;
    if attempt.failures > LOCK_AFTER {
        return Ok(SignIn::Locked(attempt.locked_until.unwrap_or(until)));
    }
    let found = operator::Entity::find()
        .filter(operator::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?;
    let stored = found
        .as_ref()
        .map_or_else(|| DECOY.clone(), |o| o.password_hash.clone());
    // argon2 takes tens of milliseconds of CPU: off the async threads.
    let matches = tokio::task::spawn_blocking(move || password::verify(&password, &stored))
        .await
        .unwrap_or(false);
    match found {
        Some(operator) if matches && operator.disabled_at.is_none() => {
            sign_in_failure::Entity::delete_by_id(key).exec(db).await?;
            let token = open(db, &operator, now).await?;
            Ok(SignIn::Opened { operator, token })
        }
        // The attempt is counted already; the one that reached the limit set the lock.
        _ => Ok(SignIn::Refused {
            locked: attempt.locked_until,
        }),
    }
}

/// Counts an attempt for `key` in one statement and answers the row after it. While a lock
/// lasts the count stays above [`LOCK_AFTER`] (refused unchecked); once it ran out the count
/// starts again at 1; otherwise it goes up by one, and the attempt that reaches [`LOCK_AFTER`]
/// locks the address until `until`.
async fn count_attempt(
    db: &DatabaseConnection,
    key: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<sign_in_failure::Model, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sign_in_failure::{Column, Entity};
    let failures = || Expr::col((Entity, Column::Failures));
    let locked_until = || Expr::col((Entity, Column::LockedUntil));
    let unlocked = || locked_until().is_null();
    let still_locked = || locked_until().gt(Expr::val(now));
    let count = Expr::case(unlocked(), failures().add(1))
        .case(still_locked(), Expr::val(LOCK_AFTER + 1))
        .finally(Expr::val(1));
    let lock = Expr::case(
        unlocked().and(failures().add(1).gte(Expr::val(LOCK_AFTER))),
        Expr::val(until),
    )
    .case(still_locked(), locked_until())
    .finally(Expr::val(Option::<DateTime<Utc>>::None));
    let first = sign_in_failure::ActiveModel {
        address: Set(key.to_owned()),
        failures: Set(1),
        locked_until: Set((LOCK_AFTER <= 1).then_some(until)),
        updated_at: Set(now),
    };
    Entity::insert(first)
        .on_conflict(
            OnConflict::column(Column::Address)
                .value(Column::Failures, count)
                .value(Column::LockedUntil, lock)
                .value(Column::UpdatedAt, Expr::val(now))
                .to_owned(),
        )
        .exec_with_returning(db)
        .await
}

/// Opens a session for `operator`; answers the cookie's token.
async fn open(db: &DatabaseConnection, operator: &operator::Model, now: DateTime<Utc>) -> Result<String, DbErr> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    console_session::Entity::insert(console_session::ActiveModel {
        id: Set(sha256(&token)),
        operator_id: Set(operator.id),
        created_at: Set(now),
        last_seen_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// The operator of the session `token`, while it lasts (its last use within
/// `AP_CONSOLE_SESSION_IDLE`, its sign-in within `AP_CONSOLE_SESSION_MAX`, the operator
/// enabled); its last use is moved to `now`.
pub async fn find(
    db: &DatabaseConnection,
    token: &str,
    now: DateTime<Utc>,
    limits: &ConsoleSettings,
) -> Result<Option<operator::Model>, DbErr> {
    let id = sha256(token);
    let Some(session) = console_session::Entity::find_by_id(id.clone()).one(db).await? else {
        return Ok(None);
    };
    let operator = operator::Entity::find_by_id(session.operator_id).one(db).await?;
    let lasts = |since: DateTime<Utc>, span: Duration| {
        chrono::Duration::from_std(span)
            .ok()
            .and_then(|span| since.checked_add_signed(span))
            .is_none_or(|end| end > now)
    };
    let valid = lasts(session.last_seen_at, limits.session_idle)
        && lasts(session.created_at, limits.session_max)
        && operator.as_ref().is_some_and(|o| o.disabled_at.is_none());
    if !valid {
        console_session::Entity::delete_by_id(id).exec(db).await?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_AFTER {
        console_session::Entity::update_many()
            .col_expr(
                console_session::Column::LastSeenAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(console_session::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    Ok(operator)
}

/// Ends the session `token` (nothing when there is none).
pub async fn close(db: &DatabaseConnection, token: &str) -> Result<(), DbErr> {
    console_session::Entity::delete_by_id(sha256(token)).exec(db).await?;
    Ok(())
}

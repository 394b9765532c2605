//! Signing in to the console and its sessions.
//!
//! A sign-in checks the address's failures first: after [`LOCK_AFTER`] failed sign-ins in a row
//! the address is locked for `AP_CONSOLE_LOCKOUT`, and even the right password is refused until
//! then. Failures are kept by the SHA-256 of the address typed, known or not, so a lock says
//! nothing about whether an operator has that address; an unknown address is checked against a
//! hash too, so it takes as long. A success opens a session: a random token for the cookie, of
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

/// Failed sign-ins in a row that lock an address.
pub const LOCK_AFTER: i32 = 5;

/// A session's last use is written again after this long at most (not on every page).
const TOUCH_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// What a sign-in came to.
#[derive(Debug)]
pub enum SignIn {
    /// The session's token, for the cookie.
    Opened { operator: operator::Model, token: String },
    /// Wrong address or password (or a disabled operator); `locked` when this failure locked it.
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
    let failures = sign_in_failure::Entity::find_by_id(key.clone()).one(db).await?;
    if let Some(until) = failures.as_ref().and_then(|f| f.locked_until).filter(|u| *u > now) {
        return Ok(SignIn::Locked(until));
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
        _ => {
            // Failures since the last lock (a lock that ran out starts the count again).
            let before = failures.filter(|f| f.locked_until.is_none()).map_or(0, |f| f.failures);
            let count = before + 1;
            let locked = (count >= LOCK_AFTER)
                .then(|| now + chrono::Duration::from_std(lockout).unwrap_or(chrono::Duration::MAX));
            let row = sign_in_failure::ActiveModel {
                address: Set(key),
                failures: Set(if locked.is_some() { 0 } else { count }),
                locked_until: Set(locked),
                updated_at: Set(now),
            };
            sign_in_failure::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(sign_in_failure::Column::Address)
                        .update_columns([
                            sign_in_failure::Column::Failures,
                            sign_in_failure::Column::LockedUntil,
                            sign_in_failure::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
            Ok(SignIn::Refused { locked })
        }
    }
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

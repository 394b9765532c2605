//! Operator accounts: added with a password and scopes, listed, disabled and enabled again.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder,
};
use secrecy::SecretString;
use uuid::Uuid;

use crate::auth::admin::Scope;
use crate::console::password::{self, PasswordError};
use crate::entity::operator;
use crate::types::Email;

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("--email: {0}")]
    Email(&'static str),
    #[error("an operator with this e-mail address exists already")]
    Exists,
    #[error("no operator has this e-mail address")]
    NotFound,
    #[error("at least one --scope is needed")]
    NoScope,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// An operator as listed: never the password's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub email: String,
    pub scopes: Vec<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Operators are found by their address in lower case.
fn address(email: &str) -> Result<String, OperatorError> {
    Email::parse(email)
        .map(|e| e.as_str().to_lowercase())
        .map_err(OperatorError::Email)
}

pub async fn add(
    db: &DatabaseConnection,
    email: &str,
    scopes: &[Scope],
    password: &SecretString,
    now: DateTime<Utc>,
) -> Result<(), OperatorError> {
    let email = address(email)?;
    if scopes.is_empty() {
        return Err(OperatorError::NoScope);
    }
    if find(db, &email).await?.is_some() {
        return Err(OperatorError::Exists);
    }
    let mut names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    operator::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email),
        password_hash: Set(password::hash(password)?),
        scopes: Set(serde_json::json!(names)),
        disabled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

async fn find(db: &DatabaseConnection, email: &str) -> Result<Option<operator::Model>, DbErr> {
    operator::Entity::find()
        .filter(operator::Column::Email.eq(email))
        .one(db)
        .await
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<Operator>, DbErr> {
    Ok(operator::Entity::find()
        .order_by_asc(operator::Column::Email)
        .all(db)
        .await?
        .into_iter()
        .map(|o| Operator {
            email: o.email,
            scopes: serde_json::from_value(o.scopes).unwrap_or_default(),
            disabled_at: o.disabled_at,
            created_at: o.created_at,
        })
        .collect())
}

/// Disables (`true`) or enables the operator with this address; answers whether it changed.
pub async fn set_disabled(
    db: &DatabaseConnection,
    email: &str,
    disabled: bool,
    now: DateTime<Utc>,
) -> Result<bool, OperatorError> {
    let found = find(db, &address(email)?).await?.ok_or(OperatorError::NotFound)?;
    if found.disabled_at.is_some() == disabled {
        return Ok(false);
    }
    let mut active = found.into_active_model();
    active.disabled_at = Set(disabled.then_some(now));
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn operators_are_added_listed_disabled_and_enabled() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::testing::seeded_database(dir.path()).await;
        let now = Utc::now();
        let password = SecretString::from("a long enough password".to_owned());
        let scopes = [Scope::DeliveriesWrite, Scope::DeliveriesRead, Scope::DeliveriesRead];
        add(&db, "Ops@Example.com", &scopes, &password, now).await.unwrap();
        assert!(matches!(
            add(&db, "ops@example.com", &scopes, &password, now).await,
            Err(OperatorError::Exists)
        ));
        assert!(matches!(
            add(&db, "not an address", &scopes, &password, now).await,
            Err(OperatorError::Email(_))
        ));
        assert!(matches!(
            add(&db, "b@example.com", &[], &password, now).await,
            Err(OperatorError::NoScope)
        ));
        let listed = list(&db).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].email, "ops@example.com");
        assert_eq!(listed[0].scopes, ["deliveries.read", "deliveries.write"]);
        let stored = operator::Entity::find().one(&db).await.unwrap().unwrap();
        assert!(password::verify(&password, &stored.password_hash));

        assert!(set_disabled(&db, "OPS@example.com", true, now).await.unwrap());
        assert!(
            !set_disabled(&db, "ops@example.com", true, now).await.unwrap(),
            "already"
        );
        assert!(list(&db).await.unwrap()[0].disabled_at.is_some());
        assert!(set_disabled(&db, "ops@example.com", false, now).await.unwrap());
        assert_eq!(list(&db).await.unwrap()[0].disabled_at, None);
        assert!(matches!(
            set_disabled(&db, "nobody@example.com", true, now).await,
            Err(OperatorError::NotFound)
        ));
    }
}

//! Test support, shared by this crate's unit tests and the API suite (`tests/api`): a fresh
//! database on the backend the run asks for. With `AP_TEST_DATABASE_URL` set to a PostgreSQL
//! server (`.ci/run` sets it) each call creates a database of its own there; otherwise each is a
//! new SQLite file. A run that asked for PostgreSQL never falls back to SQLite: an unreachable
//! server fails the test. The server itself does not use this module.
use std::path::Path;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use uuid::Uuid;

/// The variable that points the tests at a PostgreSQL server.
pub const TEST_DATABASE_ENV: &str = "AP_TEST_DATABASE_URL";

/// The PostgreSQL server this run's tests use, if any.
pub fn postgres_server() -> Option<String> {
    std::env::var(TEST_DATABASE_ENV).ok().filter(|url| !url.is_empty())
}

/// A new, empty database's URL: a fresh PostgreSQL database when [`TEST_DATABASE_ENV`] is set,
/// otherwise a SQLite file in `dir`. Panics when the PostgreSQL server cannot be reached.
pub async fn fresh_database(dir: &Path) -> String {
    match postgres_server() {
        Some(server) => fresh_postgres_database(&server).await,
        None => format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
    }
}

async fn fresh_postgres_database(server: &str) -> String {
    let admin = Database::connect(server)
        .await
        .unwrap_or_else(|e| panic!("{TEST_DATABASE_ENV}={server} is set but PostgreSQL is not reachable: {e}"));
    let name = format!("ap_test_{}", Uuid::new_v4().simple());
    if let Err(e) = admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await {
        panic!("creating the test database {name}: {e}");
    }
    admin.close().await.ok();
    let mut url = url::Url::parse(server).unwrap_or_else(|e| panic!("{TEST_DATABASE_ENV} is not a URL: {e}"));
    url.set_path(&name);
    url.to_string()
}

/// A fresh database (see [`fresh_database`]), connected as the server connects and migrated.
pub async fn migrated_database(dir: &Path) -> DatabaseConnection {
    let url = fresh_database(dir).await;
    connect_migrated(&url).await
}

/// A fresh PostgreSQL database, migrated, for the tests of what only PostgreSQL does. They are
/// `#[ignore]`d so that a plain `cargo test` (SQLite) lists them as not run rather than passing
/// them, and `.ci/run` runs them with [`TEST_DATABASE_ENV`] set; run without it, they fail.
pub async fn postgres_database() -> DatabaseConnection {
    let Some(server) = postgres_server() else {
        panic!("a PostgreSQL-only test needs {TEST_DATABASE_ENV}=postgres://… (see .ci/run)");
    };
    let url = fresh_postgres_database(&server).await;
    connect_migrated(&url).await
}

async fn connect_migrated(url: &str) -> DatabaseConnection {
    let settings = crate::config::Settings::for_tests(url);
    let db = crate::db::connect(&settings)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test database: {e}"));
    if let Err(e) = crate::db::migrate(&db).await {
        panic!("migrating the test database: {e}");
    }
    db
}

/// The example seed's (`examples/seed.json`) organisation and its first lens.
pub const EXAMPLE_ORGANIZATION: &str = "0d7e6c5b-4a39-4281-9f0e-1d2c3b4a5f60";
pub const EXAMPLE_LENS: &str = "7922dd91-1b44-43e4-a740-7c4d9c2fba41";

/// [`migrated_database`] with the example seed applied ([`apply_example_seed`]).
pub async fn seeded_database(dir: &Path) -> DatabaseConnection {
    let db = migrated_database(dir).await;
    apply_example_seed(&db).await;
    db
}

/// Applies the example seed (`examples/seed.json`) under development rules.
pub async fn apply_example_seed(db: &DatabaseConnection) {
    let seed =
        crate::admin::seed::parse(crate::cli::EXAMPLE_SEED).unwrap_or_else(|e| panic!("the example seed parses: {e}"));
    let vault = crate::crypto::Vault::new(&secrecy::SecretBox::new(Box::new([7; 32])));
    let rules = crate::tenancy::store::Rules::development();
    if let Err(e) = crate::admin::seed::apply(db, &vault, &seed, chrono::Utc::now(), rules).await {
        panic!("applying the example seed: {e}");
    }
}

/// An assessment order's body (`POST /recruitment/v1/assessment-order`) for [`EXAMPLE_LENS`]
/// in recruitment `job-1`, with this `resultId` and candidate.
pub fn order_body(result_id: &str, email: &str) -> serde_json::Value {
    serde_json::json!({
        "recruitment": {"id": "job-1", "title": "Developer", "description": ""},
        "additionalRecruitmentCollaboratorsEmails": [],
        "resultUpdateUrl": "https://ats.example.com/results/1",
        "resultId": result_id,
        "lensId": EXAMPLE_LENS,
        "locale": "en-US",
        "candidateDetails": {"email": email}
    })
}

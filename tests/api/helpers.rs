use std::sync::Arc;

use assessment_partner::admin::seed;
use assessment_partner::auth::admin::{AdminTokens, Scope};
use assessment_partner::auth::signature;
pub use assessment_partner::clock::Clock;
use assessment_partner::clock::ManualClock;
use assessment_partner::config::Settings;
use assessment_partner::crypto::Vault;
use assessment_partner::entity::assessment;
use assessment_partner::links::LinkSigner;
use assessment_partner::startup::Application;
use chrono::Utc;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use uuid::Uuid;

pub const ORG_A: &str = "0a000000-0000-4000-8000-00000000000a";
pub const ORG_B: &str = "0b000000-0000-4000-8000-00000000000b";
pub const ORG_C: &str = "0c000000-0000-4000-8000-00000000000c";
pub const INTEGRATOR_A: &str = "1a000000-0000-4000-8000-00000000000a";
pub const INTEGRATOR_B: &str = "1b000000-0000-4000-8000-00000000000b";
pub const INTEGRATOR_SANDBOX: &str = "1c000000-0000-4000-8000-00000000000c";
/// Offered to A and B.
pub const LENS_SHARED: &str = "2a000000-0000-4000-8000-00000000000a";
/// Offered to B only.
pub const LENS_B_ONLY: &str = "2b000000-0000-4000-8000-00000000000b";
pub const KEY_A: &str = "provider-key-of-organization-a";
pub const KEY_B: &str = "provider-key-of-organization-b";
pub const KEY_C: &str = "provider-key-of-organization-c";
pub const SECRET_A: &str = "integrator-secret-a-0123456789";
pub const SECRET_B: &str = "integrator-secret-b-0123456789";
pub const SECRET_SANDBOX: &str = "integrator-secret-sandbox-0123";

pub struct TestApp {
    pub address: String,
    pub db: DatabaseConnection,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub links: LinkSigner,
    pub admin_tokens: AdminTokens,
    _dir: Option<tempfile::TempDir>,
}

fn test_seed() -> Value {
    json!({
        "locales": ["en-US", "sv-SE", "nl-NL", "nn-NO"],
        "lenses": [
            { "id": LENS_SHARED, "name": "General Performance", "description": "d",
              "competencies": [
                { "key": "driving-leadership", "weight": 2, "name": "Driving Leadership" },
                { "key": "influencing-inspiring", "weight": 1, "name": "Influencing & Inspiring" } ] },
            { "id": LENS_B_ONLY, "name": "Sales Specialist", "description": "",
              "competencies": [ { "key": "customer-focus", "weight": 1 } ] }
        ],
        "integrators": [
            { "id": INTEGRATOR_A, "name": "ATS A", "secret": SECRET_A, "requireSignature": true,
              "callbackAuth": { "type": "apiKey", "apiKey": "callback-api-key-a" } },
            { "id": INTEGRATOR_B, "name": "ATS B", "secret": SECRET_B, "linkOrdersAllowed": false },
            { "id": INTEGRATOR_SANDBOX, "name": "Sandbox", "secret": SECRET_SANDBOX, "requireSignature": false }
        ],
        "organizations": [
            { "id": ORG_A, "name": "Org A", "integratorId": INTEGRATOR_A, "providerKey": KEY_A, "lensIds": [LENS_SHARED] },
            { "id": ORG_B, "name": "Org B", "integratorId": INTEGRATOR_B, "providerKey": KEY_B, "lensIds": [LENS_SHARED, LENS_B_ONLY] },
            { "id": ORG_C, "name": "Org C", "integratorId": INTEGRATOR_SANDBOX, "providerKey": KEY_C, "lensIds": [LENS_SHARED] }
        ]
    })
}

/// A fresh database: a new PostgreSQL database when AP_TEST_DATABASE_URL is set (CI sets it),
/// otherwise a SQLite file in a temporary directory.
async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    match std::env::var("AP_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let admin = Database::connect(base.as_str()).await.unwrap_or_else(|e| {
                panic!("AP_TEST_DATABASE_URL={base} is set but PostgreSQL is not reachable: {e}")
            });
            let name = format!("ap_test_{}", Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the test database");
            admin.close().await.ok();
            let mut url = url::Url::parse(&base).expect("AP_TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            (url.to_string(), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (url, Some(dir))
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        assessment_partner::telemetry::init(assessment_partner::config::LogFormat::Text);
    }
    let (url, dir) = fresh_database().await;
    let mut settings = Settings::for_tests(&url);
    tweak(&mut settings);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let vault = Vault::new(&settings.master_key);
    let admin_tokens = AdminTokens::new(&settings.admin_jwt_secret);
    let master_key = secrecy::SecretBox::new(Box::new(*secrecy::ExposeSecret::expose_secret(
        &settings.master_key,
    )));
    let app = Application::build(settings, clock.clone())
        .await
        .expect("application builds");
    let port = app.port();
    let address = format!("http://127.0.0.1:{port}");
    let links = LinkSigner::new(&master_key, app.public_url().clone());
    let db = app.db().clone();
    let seed_file = seed::parse(&test_seed().to_string()).expect("test seed parses");
    seed::apply(&db, &vault, &seed_file, clock.now(), true)
        .await
        .expect("test seed applies");
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    TestApp {
        address,
        db,
        clock,
        http,
        links,
        admin_tokens,
        _dir: dir,
    }
}

/// A valid order body for organisation A's shared lens.
pub fn order_body(result_id: &str, email: &str) -> Value {
    json!({
        "recruitment": { "id": "job-1", "title": "Developer", "description": "Builds things" },
        "additionalRecruitmentCollaboratorsEmails": ["recruiter@example.com"],
        "resultUpdateUrl": format!("https://ats.example.com/results/{result_id}"),
        "resultId": result_id,
        "lensId": LENS_SHARED,
        "locale": "en-US",
        "candidateDetails": { "email": email }
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn sign(&self, secret: &str, body: &[u8]) -> String {
        signature::header_value(secret.as_bytes(), self.clock.now().timestamp(), body)
    }

    /// POST with the given provider-key and a valid signature for `secret`.
    pub async fn post_signed(
        &self,
        path: &str,
        key: &str,
        secret: &str,
        body: &[u8],
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("provider-key", key)
            .header("content-type", "application/json")
            .header("signature", self.sign(secret, body))
            .body(body.to_vec())
            .send()
            .await
            .expect("request is sent")
    }

    /// An order as organisation A.
    pub async fn order(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post_signed(path, KEY_A, SECRET_A, body.to_string().as_bytes())
            .await
    }

    pub async fn get_signed(&self, path: &str, key: &str, secret: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("provider-key", key)
            .header("signature", self.sign(secret, b""))
            .send()
            .await
            .expect("request is sent")
    }

    pub fn admin_token(&self, scopes: &[Scope]) -> String {
        self.admin_tokens.mint(
            "tests",
            scopes,
            self.clock.now(),
            chrono::Duration::hours(1),
        )
    }

    pub async fn assessment_count(&self) -> u64 {
        assessment::Entity::find()
            .count(&self.db)
            .await
            .expect("count")
    }
}

/// Asserts a problem+json answer with this status, and returns its body.
pub async fn expect_problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/")),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    assert_eq!(
        body["requestId"].as_str(),
        request_id.as_deref(),
        "problem carries the request id"
    );
    body
}

/// The fields named in a 422.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

use std::sync::Arc;

use assessment_partner::admin::seed;
use assessment_partner::auth::admin::{AdminTokens, Scope};
pub use assessment_partner::clock::Clock;
use assessment_partner::clock::ManualClock;
use assessment_partner::config::Settings;
use assessment_partner::crypto::Vault;
use assessment_partner::entity::assessment;
use assessment_partner::links::LinkSigner;
use assessment_partner::ratelimit::{LimitSettings, MAX_RATE, Rate};
use assessment_partner::signature;
use assessment_partner::startup::{Application, Mode, StopHandle};
use assessment_partner::tenancy::store;
use base64::Engine;
use chrono::Utc;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

/// How long a test waits for something it expects to happen.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Polls `check` (every 20 ms, for at most `within`) until it answers `Ok`, and answers that;
/// `Err` says what was seen instead, and the last one is the failure's message.
pub async fn eventually<T>(within: std::time::Duration, mut check: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(done) => return done,
            Err(seen) => assert!(tokio::time::Instant::now() < deadline, "not within {within:?}: {seen}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

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
/// What Ashby sends us for organisation A / B.
pub const ASHBY_KEY_A: &str = "ashby-partner-key-of-organization-a";
pub const ASHBY_KEY_B: &str = "ashby-partner-key-of-organization-b";
/// Organisation A's own Ashby API key (what we send Ashby).
pub const CUSTOMER_ASHBY_KEY_A: &str = "customer-ashby-api-key-a";

pub struct TestApp {
    pub address: String,
    pub db: DatabaseConnection,
    pub database_url: String,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub links: LinkSigner,
    pub admin_tokens: AdminTokens,
    pub master_key: [u8; 32],
    pub mail_dir: std::path::PathBuf,
    pub stop: StopHandle,
    pub dir: Arc<tempfile::TempDir>,
}

/// How a test starts an application: `spawn_app().await` (API and worker, a standing clock, the
/// test seed), or with any of the builder's choices first, e.g.
/// `spawn_app().fast().without_worker().with(|s| …).await`.
#[must_use = "an application starts when awaited"]
pub struct Spawn<'a> {
    /// Time runs (delivery tests) instead of standing still (signature tests).
    running_clock: bool,
    mode: Mode,
    /// Join an existing application's database (and its secrets) instead of a fresh one.
    join: Option<Joined>,
    seed: bool,
    /// Applied in the order given, after the tests' defaults.
    tweaks: Vec<Tweak<'a>>,
}

/// A change a test makes to the settings.
type Tweak<'a> = Box<dyn FnOnce(&mut Settings) + 'a>;

/// What a second instance shares with the first.
#[derive(Clone)]
pub struct Joined {
    pub database_url: String,
    pub master_key: [u8; 32],
    pub dir: Arc<tempfile::TempDir>,
}

impl TestApp {
    /// What another instance needs to share this one's database.
    pub fn joined(&self) -> Joined {
        Joined {
            database_url: self.database_url.clone(),
            master_key: self.master_key,
            dir: self.dir.clone(),
        }
    }
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
            { "id": ORG_A, "name": "Org A", "integratorId": INTEGRATOR_A, "providerKey": KEY_A, "lensIds": [LENS_SHARED],
              "ashby": { "partnerApiKey": ASHBY_KEY_A, "apiKey": CUSTOMER_ASHBY_KEY_A } },
            { "id": ORG_B, "name": "Org B", "integratorId": INTEGRATOR_B, "providerKey": KEY_B, "lensIds": [LENS_SHARED, LENS_B_ONLY],
              "ashby": { "partnerApiKey": ASHBY_KEY_B } },
            { "id": ORG_C, "name": "Org C", "integratorId": INTEGRATOR_SANDBOX, "providerKey": KEY_C, "lensIds": [LENS_SHARED] }
        ]
    })
}

/// A test application to start; see [`Spawn`].
pub fn spawn_app<'a>() -> Spawn<'a> {
    Spawn {
        running_clock: false,
        mode: Mode::ApiAndWorker,
        join: None,
        seed: true,
        tweaks: Vec::new(),
    }
}

/// Quick delivery settings for tests: short waits, short deadline.
pub fn fast_delivery(settings: &mut Settings) {
    settings.delivery.retry_schedule = vec![std::time::Duration::from_millis(50)];
    settings.delivery.max_age = std::time::Duration::from_secs(30);
    settings.delivery.timeout = std::time::Duration::from_secs(2);
    settings.delivery.lease = std::time::Duration::from_secs(5);
    settings.delivery.poll_interval = std::time::Duration::from_millis(50);
}

impl<'a> Spawn<'a> {
    /// A running clock and [`fast_delivery`] (applied before any later [`Spawn::with`]).
    pub fn fast(self) -> Self {
        self.running_clock().with(fast_delivery)
    }

    /// Time runs instead of standing still.
    pub fn running_clock(mut self) -> Self {
        self.running_clock = true;
        self
    }

    /// No delivery worker: rows it enqueues wait for another instance (or a test that leases
    /// them by hand).
    pub fn without_worker(self) -> Self {
        self.mode(Mode::ApiOnly)
    }

    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Another instance on `app`'s database, with its secrets; the seed is already there.
    pub fn joining(mut self, app: &TestApp) -> Self {
        self.join = Some(app.joined());
        self.seed = false;
        self
    }

    /// An empty database (migrated, nothing seeded).
    pub fn unseeded(mut self) -> Self {
        self.seed = false;
        self
    }

    /// A change to the settings, after the tests' defaults and the choices before it.
    pub fn with(mut self, tweak: impl FnOnce(&mut Settings) + 'a) -> Self {
        self.tweaks.push(Box::new(tweak));
        self
    }
}

impl<'a> std::future::IntoFuture for Spawn<'a> {
    type Output = TestApp;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = TestApp> + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(start(self))
    }
}

async fn start(options: Spawn<'_>) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        assessment_partner::telemetry::init(assessment_partner::config::LogFormat::Text);
    }
    let (database_url, dir, master_key) = match options.join {
        Some(j) => (j.database_url, j.dir, j.master_key),
        None => {
            let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
            let url = assessment_partner::testing::fresh_database(dir.path()).await;
            (url, dir, rand::random::<[u8; 32]>())
        }
    };
    let mut settings = Settings::for_tests(&database_url);
    settings.master_key = secrecy::SecretBox::new(Box::new(master_key));
    let mail_dir = dir.path().join("mail");
    settings.mail.outbox_dir = mail_dir.clone();
    // Tests send bursts (and failed attempts) far above the defaults; the limits' own tests set
    // theirs.
    settings.rate_limits = generous_limits();
    for tweak in options.tweaks {
        tweak(&mut settings);
    }
    let start = Utc::now();
    let clock = Arc::new(if options.running_clock {
        ManualClock::running(start)
    } else {
        ManualClock::new(start)
    });
    let vault = Vault::new(&settings.master_key);
    let admin_tokens = AdminTokens::new(&settings.admin_jwt_secret);
    let app = Application::build_with_mode(settings, clock.clone(), options.mode)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let links = LinkSigner::new(&secrecy::SecretBox::new(Box::new(master_key)), app.public_url().clone());
    let db = app.db().clone();
    if options.seed {
        let seed_file = seed::parse(&test_seed().to_string()).expect("test seed parses");
        seed::apply(&db, &vault, &seed_file, clock.now(), store::Rules::development())
            .await
            .expect("test seed applies");
    }
    let stop = app.stop_handle();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    TestApp {
        address,
        db,
        database_url,
        clock,
        http,
        links,
        admin_tokens,
        master_key,
        mail_dir,
        stop,
        dir,
    }
}

/// Limits no test meets unless it means to.
pub fn generous_limits() -> LimitSettings {
    LimitSettings {
        default: Rate::per_second(MAX_RATE, MAX_RATE),
        failed_auth: Rate::per_minute(MAX_RATE, MAX_RATE),
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
    /// The first e-mail written to the outbox folder that `wanted` accepts, waited for (at most
    /// `WAIT`).
    pub async fn mail_where(&self, wanted: impl Fn(&str) -> bool) -> String {
        eventually(WAIT, async || {
            std::fs::read_dir(&self.mail_dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|f| std::fs::read_to_string(f.path()).ok())
                .find(|m| wanted(m))
                .ok_or_else(|| "no such e-mail was written".to_owned())
        })
        .await
    }

    /// The stored assessment with this id (as the API answered it).
    pub async fn assessment_row(&self, id: &str) -> assessment_partner::entity::assessment::Model {
        let id = uuid::Uuid::parse_str(id).expect("an assessment id");
        assessment_partner::entity::assessment::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .unwrap()
            .expect("the assessment is stored")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn sign(&self, secret: &str, body: &[u8]) -> String {
        signature::header_value(secret.as_bytes(), self.clock.now().timestamp(), body)
    }

    /// POST with the given provider-key and a valid signature for `secret`.
    pub async fn post_signed(&self, path: &str, key: &str, secret: &str, body: &[u8]) -> reqwest::Response {
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
        self.admin_tokens
            .mint("tests", scopes, self.clock.now(), chrono::Duration::hours(1))
    }

    /// An admin API call with a token of `scope`.
    pub async fn admin_call(
        &self,
        method: reqwest::Method,
        path: &str,
        scope: Scope,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(self.admin_token(&[scope]));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// What `GET /metrics` answers.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn assessment_count(&self) -> u64 {
        assessment::Entity::find().count(&self.db).await.expect("count")
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
        body["type"].as_str().is_some_and(|t| t.starts_with("/problems/")),
        "{body}"
    );
    assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
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

/// The admin JWT secret of the instances [`child_command`] starts.
const CHILD_JWT_SECRET: &str = "a-child-instance-admin-jwt-secret-0123456789";

/// A real instance in another process on `app`'s database (lease 3 s, attempts time out after
/// 2 s, warnings logged to a null stderr), for tests that kill it with SIGKILL or read its log.
pub fn child_command(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let dir = app.dir.path();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_assessment-partner"));
    command
        .args(args)
        .env_remove("AP_CONFIG")
        .env("DATABASE_URL", &app.database_url)
        .env(
            "AP_MASTER_KEY",
            base64::engine::general_purpose::STANDARD.encode(app.master_key),
        )
        .env("AP_ADMIN_JWT_SECRET", CHILD_JWT_SECRET)
        .env("AP_DEV_KEY_FILE", dir.join("child-keys.json"))
        .env("AP_MAIL_OUTBOX_DIR", dir.join("child-mail"))
        .env("AP_DELIVERY_LEASE", "3s")
        .env("AP_DELIVERY_TIMEOUT", "2s")
        .env("AP_DELIVERY_RETRY_SCHEDULE", "50ms")
        .env("AP_DELIVERY_POLL_INTERVAL", "50ms")
        .env("AP_DELIVERY_CONCURRENCY", "8")
        .env("AP_RATE_LIMIT_PER_SECOND", "1000000")
        .env("AP_RATE_LIMIT_BURST", "1000000")
        .env("AP_FAILED_AUTH_PER_MINUTE", "1000000")
        .env("AP_FAILED_AUTH_BURST", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// A real instance in another process (see [`child_command`]), serving; killed when dropped.
pub struct ServingChild {
    pub process: std::process::Child,
    /// Its base URL.
    pub base_url: String,
    /// Its standard error, read to the end once the process ends.
    log: Option<std::thread::JoinHandle<String>>,
}

impl ServingChild {
    /// SIGKILL, and wait for the process to end.
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }

    /// Kills the process and answers everything it wrote to standard error.
    pub fn into_log(mut self) -> String {
        self.kill();
        self.log
            .take()
            .map(|reader| reader.join().expect("the log reader"))
            .unwrap_or_default()
    }
}

impl Drop for ServingChild {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A real instance in another process (API and worker, see [`child_command`]), once it answers
/// ready.
pub async fn spawn_serving_child(app: &TestApp) -> ServingChild {
    spawn_serving_child_with(app, &["serve"], |_| {}).await
}

/// Like [`spawn_serving_child`], with these arguments and a last word on the command. The child
/// binds port 0 and the port is read from its "serving" log line, so no other process can take
/// the port between a pick and the bind.
pub async fn spawn_serving_child_with(
    app: &TestApp,
    args: &[&str],
    tweak: impl FnOnce(&mut std::process::Command),
) -> ServingChild {
    use std::io::BufRead;

    let mut command = child_command(
        app,
        args,
        &[
            ("AP_BIND", "127.0.0.1:0"),
            ("RUST_LOG", "warn,assessment_partner::cli=info"),
        ],
    );
    tweak(&mut command);
    let mut process = command
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the child instance");
    let stderr = process.stderr.take().expect("stderr is piped");
    let (port_tx, port_rx) = std::sync::mpsc::channel::<u16>();
    let log = std::thread::spawn(move || {
        let mut log = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("serving")
                && let Some(port) = logged_port(&line)
            {
                let _ = port_tx.send(port);
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    let mut child = ServingChild {
        process,
        base_url: String::new(),
        log: Some(log),
    };
    let port = eventually(std::time::Duration::from_secs(30), async || {
        port_rx
            .try_recv()
            .map_err(|_| "the child instance never logged its port".to_owned())
    })
    .await;
    child.base_url = format!("http://127.0.0.1:{port}");
    eventually(std::time::Duration::from_secs(30), async || {
        match app.http.get(child.url("/health/ready")).send().await {
            Ok(r) if r.status() == 200 => Ok(()),
            other => Err(format!("the child instance never became ready: {other:?}")),
        }
    })
    .await;
    child
}

impl ServingChild {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// The port in a "serving" log line, text (`port=8080`) or JSON (`"port":8080`).
fn logged_port(line: &str) -> Option<u16> {
    let at = line
        .find("port=")
        .map(|i| i + 5)
        .or_else(|| line.find("\"port\":").map(|i| i + 7))?;
    let digits: String = line[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// An admin token that instances started by [`child_command`] accept.
pub fn child_admin_token(scope: Scope) -> String {
    AdminTokens::new(&secrecy::SecretString::from(CHILD_JWT_SECRET)).mint(
        "test",
        &[scope],
        chrono::Utc::now(),
        chrono::Duration::minutes(5),
    )
}

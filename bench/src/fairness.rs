//! `bench fairness`: one tenant's backlog against another tenant's first attempt.
//!
//! A fresh database seeded with `examples/seed.json` gets N result pushes (default 100,000) due
//! at once to a slow receiver (it answers after `--slow` , default 1 s); the server (any build,
//! `--server-bin`) starts on it with a worker and default delivery settings. Once the slow
//! receiver is busy, results are recorded one at a time through the admin API for assessments
//! whose pushes go to a second, fast receiver; each sample is the time from sending that request
//! to the push arriving. It prints p50/p99/max of the samples, and how many requests the slow
//! receiver had in flight at most and answered meanwhile. Both receivers live in this process on
//! loopback.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::{Context, bail};
use assessment_partner::auth::admin::{AdminTokens, Scope};
use assessment_partner::signature;
use clap::Args;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use uuid::Uuid;

use crate::{DEMO_LENS, DEMO_ORGANIZATION, DEMO_PROVIDER_KEY, DEMO_SECRET, LINK_ORDER_PATH};

#[derive(Args)]
pub struct FairnessArgs {
    /// Use a fresh PostgreSQL database instead of a SQLite file.
    #[arg(long)]
    postgres: bool,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_admin_url: String,
    /// The server binary; by default the `assessment-partner` next to this one.
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Pushes due to the slow receiver.
    #[arg(long, default_value_t = 100_000)]
    rows: u64,
    /// How long the slow receiver takes to answer.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    slow: Duration,
    /// Results recorded for the fast receiver, one at a time.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Extra environment for the server, e.g. --server-env AP_DELIVERY_CONCURRENCY_PER_TARGET=4.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    server_env: Vec<String>,
}

/// A receiver in this process: it counts requests in flight and notes when each
/// `Idempotency-Key` arrived, answering 200 after `delay`.
#[derive(Default)]
struct Receiver {
    delay: Duration,
    answered: AtomicUsize,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    arrivals: std::sync::Mutex<HashMap<String, Instant>>,
}

async fn receive(req: HttpRequest, state: web::Data<Arc<Receiver>>) -> HttpResponse {
    let now = Instant::now();
    if let Some(key) = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok())
        && let Ok(mut arrivals) = state.arrivals.lock()
    {
        arrivals.insert(key.to_owned(), now);
    }
    let current = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_flight.fetch_max(current, Ordering::SeqCst);
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    state.answered.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Ok().finish()
}

fn start_receiver(receiver: Arc<Receiver>) -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let data = web::Data::new(receiver);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
        .workers(2)
        .max_connections(100_000)
        .listen(listener)?
        .run();
    tokio::spawn(server);
    Ok(port)
}

/// `n` pushes due now to `target`, each its own ordering key, written by the database itself.
async fn backlog(url: &str, target: &str, n: u64) -> anyhow::Result<()> {
    let db = Database::connect(crate::quiet_options(url)).await?;
    let now = chrono::Utc::now() - chrono::Duration::seconds(1);
    let payload = r#"{"resultId":"backlog","score":50,"subscores":{}}"#;
    let statement = match db.get_database_backend() {
        DbBackend::Postgres => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO deliveries (id, kind, organization_id, assessment_id, ordering_key, target, payload, state, \
             attempts, replay_base, next_attempt_at, created_at, updated_at) \
             SELECT u, 'result', $1::uuid, NULL, u::text, $2, $3::json, 'pending', 0, 0, $4, $4, $4 \
             FROM (SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid AS u \
                   FROM generate_series(1, $5) g) ids",
            [
                DEMO_ORGANIZATION.into(),
                target.into(),
                payload.into(),
                now.into(),
                (n as i64).into(),
            ],
        ),
        _ => Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?1) \
             INSERT INTO deliveries (id, kind, organization_id, assessment_id, ordering_key, target, payload, state, \
             attempts, replay_base, next_attempt_at, created_at, updated_at) \
             SELECT unhex(printf('00000000000070008000%012x', n)), 'result', unhex(replace(?2, '-', '')), NULL, \
             printf('00000000-0000-7000-8000-%012x', n), ?3, ?4, 'pending', 0, 0, ?5, ?5, ?5 FROM s",
            [
                (n as i64).into(),
                DEMO_ORGANIZATION.into(),
                target.into(),
                payload.into(),
                now.into(),
            ],
        ),
    };
    db.execute_raw(statement).await.context("writing the backlog")?;
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE deliveries").await?;
    }
    db.close().await.ok();
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub async fn run(args: FairnessArgs) -> anyhow::Result<()> {
    let bin = match &args.server_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory for this binary")?
            .join("assessment-partner"),
    };
    if !bin.exists() {
        bail!(
            "{} not found: build it with cargo build --release -p assessment-partner",
            bin.display()
        );
    }
    let seed = std::fs::canonicalize(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/seed.json"))?;
    let run = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let dir = std::env::temp_dir().join(format!("ap-fairness-{run}"));
    std::fs::create_dir_all(&dir)?;
    let db = crate::fresh_db_on(args.postgres, &args.postgres_admin_url, &dir, "fair", &run).await?;
    let outcome = measure(&args, &bin, &dir, &seed, &db.url).await;
    if let Some(name) = &db.pg_name {
        crate::drop_pg_on(&args.postgres_admin_url, name).await;
    }
    std::fs::remove_dir_all(&dir).ok();
    outcome
}

async fn measure(args: &FairnessArgs, bin: &Path, dir: &Path, seed: &Path, url: &str) -> anyhow::Result<()> {
    let backend = if args.postgres { "PostgreSQL" } else { "SQLite" };
    let admin_secret = format!("fairness-bench-admin-secret-{}", Uuid::new_v4().simple());
    let mut env: Vec<(String, String)> = vec![
        ("AP_ADMIN_JWT_SECRET".into(), admin_secret.clone()),
        ("AP_DELIVERY_ALLOW_PRIVATE_NETWORKS".into(), "true".into()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    for kv in &args.server_env {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--server-env {kv}: expected KEY=VALUE"))?;
        env.push((k.to_owned(), v.to_owned()));
    }
    crate::seed_with_cli(bin, dir, url, seed, &env)?;
    let slow = Arc::new(Receiver {
        delay: args.slow,
        ..Receiver::default()
    });
    let fast = Arc::new(Receiver::default());
    let slow_url = format!("http://127.0.0.1:{}/slow", start_receiver(slow.clone())?);
    let fast_url = format!("http://127.0.0.1:{}/fast", start_receiver(fast.clone())?);
    backlog(url, &slow_url, args.rows).await?;
    eprintln!(
        "fairness [{backend}]: {} pushes due to a receiver answering after {:?}; server {}",
        args.rows,
        args.slow,
        bin.display()
    );
    let server = crate::start_server(bin, dir, url, &env, &[]).await?;
    let db = Database::connect(crate::quiet_options(url)).await?;
    let client = reqwest::Client::new();
    let token = AdminTokens::new(&secrecy::SecretString::from(admin_secret)).mint(
        "bench",
        &[Scope::ResultsWrite],
        chrono::Utc::now(),
        chrono::Duration::hours(1),
    );
    // The backlog is being worked on before the first sample.
    let until = Instant::now() + Duration::from_secs(60);
    while slow.in_flight.load(Ordering::SeqCst) == 0 {
        anyhow::ensure!(Instant::now() < until, "the slow receiver got nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let mut samples = Vec::with_capacity(args.samples);
    for i in 0..args.samples {
        let result_id = format!("fair-{i}");
        let body = serde_json::to_vec(&serde_json::json!({
            "recruitment": {"id": "fairness", "title": "Fairness", "description": ""},
            "additionalRecruitmentCollaboratorsEmails": [],
            "resultUpdateUrl": format!("{fast_url}/{result_id}"),
            "resultId": result_id,
            "lensId": DEMO_LENS,
            "locale": "en-US",
            "candidateDetails": {"email": format!("{result_id}@example.com")}
        }))?;
        let signed = signature::header_value(DEMO_SECRET.as_bytes(), chrono::Utc::now().timestamp(), &body);
        let ordered = client
            .post(format!("{}{LINK_ORDER_PATH}", server.base_url))
            .header("provider-key", DEMO_PROVIDER_KEY)
            .header("content-type", "application/json")
            .header("signature", signed)
            .body(body)
            .send()
            .await?;
        anyhow::ensure!(ordered.status().is_success(), "ordering answered {}", ordered.status());
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                match db.get_database_backend() {
                    DbBackend::Postgres => "SELECT id FROM assessments WHERE result_id = $1",
                    _ => "SELECT id FROM assessments WHERE result_id = ?",
                },
                [result_id.clone().into()],
            ))
            .await?
            .context("the ordered assessment")?;
        let id: Uuid = row.try_get_by_index(0)?;
        let sent = Instant::now();
        let recorded = client
            .post(format!("{}/admin/v1/assessments/{id}/result", server.base_url))
            .bearer_auth(&token)
            .json(&serde_json::json!({"score": 71, "subscores": {"problem-solving": 70, "driving-leadership": 73, "influencing-inspiring": 68, "collaboration": 72}}))
            .send()
            .await?;
        anyhow::ensure!(
            recorded.status().is_success(),
            "recording a result answered {}",
            recorded.status()
        );
        let arrived = loop {
            let found = fast.arrivals.lock().ok().and_then(|mut a| {
                let key = a.iter().find(|(_, at)| **at >= sent).map(|(k, _)| k.clone())?;
                a.remove(&key)
            });
            if let Some(at) = found {
                break at;
            }
            anyhow::ensure!(
                sent.elapsed() < Duration::from_secs(120),
                "sample {i}: no push arrived in 120 s"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        samples.push(arrived.saturating_duration_since(sent));
    }
    let elapsed = started.elapsed();
    samples.sort();
    println!(
        "fairness [{backend}]: first attempt of a push to another receiver, {} samples over {:.1}s: \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; the slow receiver meanwhile: at most {} at once, {} answered",
        samples.len(),
        elapsed.as_secs_f64(),
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(samples.last().copied().unwrap_or_default()),
        slow.most_in_flight.load(Ordering::SeqCst),
        slow.answered.load(Ordering::SeqCst)
    );
    db.close().await.ok();
    drop(server);
    Ok(())
}

//! Delivery benchmark: how fast the outbox drains to a receiver that answers 200 at once, how
//! soon a recorded result's first attempt goes out, and what one claim costs as the table grows.
//!
//!     cargo run --release -p bench --bin deliveries               # SQLite (temp file)
//!     cargo run --release -p bench --bin deliveries -- --postgres # fresh PostgreSQL database
//!
//! Measured, in this order:
//! 1. drain: N result pushes queued with no worker running, then a worker-only instance started;
//!    deliveries/s until the receiver has all N (and the rows are `delivered`);
//! 2. ceiling: the same receiver, N POSTs of the same body from a plain reqwest loop at the
//!    same concurrency, no database;
//! 3. first attempt: results recorded one at a time through `POST /admin/v1/assessments/{id}/result`
//!    on a running instance; from sending that request to the push arriving (p50/p99);
//! 4. claim cost: the mean time of one claim with 10^3 … 10^6 pending rows in the table.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use assessment_partner::admin::seed;
use assessment_partner::auth::admin::{AdminTokens, Scope};
use assessment_partner::clock::{Clock, SystemClock};
use assessment_partner::config::Settings;
use assessment_partner::crypto::Vault;
use assessment_partner::delivery::mail::Mailer;
use assessment_partner::delivery::outbox::{self, Kind, NewDelivery};
use assessment_partner::delivery::policy::RetryPolicy;
use assessment_partner::delivery::push::HttpSender;
use assessment_partner::delivery::senders::Senders;
use assessment_partner::delivery::worker::DeliveryContext;
use assessment_partner::links::LinkSigner;
use assessment_partner::metrics::Metrics;
use assessment_partner::recruitment::dto::{AssessmentOrderRequest, NewOrder, OrderKind};
use assessment_partner::recruitment::orders::{OrderContext, place_order};
use assessment_partner::startup::{Application, Mode};
use clap::Parser;
use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use tokio::sync::Mutex;

const DEMO_ORG: &str = "0d7e6c5b-4a39-4281-9f0e-1d2c3b4a5f60";
const DEMO_LENS: &str = "7922dd91-1b44-43e4-a740-7c4d9c2fba41";

#[derive(Parser)]
struct Args {
    /// Use a fresh database on this PostgreSQL server instead of a temporary SQLite file.
    #[arg(long)]
    postgres: bool,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_admin_url: String,
    /// Deliveries to drain.
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    /// Attempts in flight (the worker's AP_DELIVERY_CONCURRENCY, and the ceiling's).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Attempts in flight to one receiver (AP_DELIVERY_CONCURRENCY_PER_TARGET); the server's
    /// default when left out. Every row here goes to one receiver.
    #[arg(long)]
    per_target: Option<usize>,
    /// Results recorded one by one for the first-attempt latency.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Largest table for the claim-cost series (10^3 up to this, by powers of ten).
    #[arg(long, default_value_t = 1_000_000)]
    claim_max_rows: u64,
}

/// Counts arrivals and notes when each idempotency key arrived.
#[derive(Default)]
struct Receiver {
    count: AtomicU64,
    arrivals: Mutex<std::collections::HashMap<String, Instant>>,
}

async fn receive(req: actix_web::HttpRequest, _body: web::Bytes, state: web::Data<Arc<Receiver>>) -> HttpResponse {
    state.count.fetch_add(1, Ordering::Relaxed);
    if let Some(key) = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()) {
        state.arrivals.lock().await.insert(key.to_owned(), Instant::now());
    }
    HttpResponse::Ok().finish()
}

fn start_receiver(receiver: Arc<Receiver>) -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let data = web::Data::new(receiver);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
        .workers(1)
        .listen(listener)?
        .run();
    tokio::spawn(server);
    Ok(port)
}

/// The PostgreSQL databases this run made, dropped at the end.
static CREATED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Drops the databases this run made and its temporary directory.
async fn clean_up(args: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::remove_dir_all(dir).ok();
    let names = std::mem::take(&mut *CREATED.lock().unwrap_or_else(|p| p.into_inner()));
    if names.is_empty() {
        return Ok(());
    }
    let admin = Database::connect(args.postgres_admin_url.as_str()).await?;
    for name in names {
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

async fn fresh_database(args: &Args, dir: &std::path::Path, name: &str) -> anyhow::Result<String> {
    if !args.postgres {
        return Ok(format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("{name}.db")).display()
        ));
    }
    let admin = Database::connect(args.postgres_admin_url.as_str())
        .await
        .context("PostgreSQL admin connection")?;
    let db = format!("bench_{name}_{}", uuid::Uuid::new_v4().simple());
    admin.execute_unprepared(&format!("CREATE DATABASE \"{db}\"")).await?;
    CREATED.lock().unwrap_or_else(|p| p.into_inner()).push(db.clone());
    let mut url = url::Url::parse(&args.postgres_admin_url)?;
    url.set_path(&db);
    Ok(url.to_string())
}

fn settings(url: &str, key: [u8; 32], concurrency: usize, per_target: Option<usize>) -> Settings {
    let mut s = Settings::for_tests(url);
    s.master_key = secrecy::SecretBox::new(Box::new(key));
    s.delivery.concurrency = concurrency;
    if let Some(n) = per_target {
        s.delivery.per_target = n;
    }
    s.delivery.allow_private_networks = true;
    s.delivery.retry_schedule = vec![Duration::from_millis(100)];
    s
}

async fn seeded(url: &str, key: [u8; 32]) -> anyhow::Result<DatabaseConnection> {
    let s = settings(url, key, 1, None);
    let db = assessment_partner::db::connect(&s).await?;
    assessment_partner::db::migrate(&db).await?;
    let seed_file = seed::parse(include_str!("../../../examples/seed.json"))?;
    seed::apply(
        &db,
        &Vault::new(&s.master_key),
        &seed_file,
        SystemClock.now(),
        assessment_partner::tenancy::store::Rules::development(),
    )
    .await?;
    Ok(db)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile_dir()?;
    let backend = if args.postgres { "PostgreSQL" } else { "SQLite" };
    let key: [u8; 32] = rand_key();
    let org = uuid::Uuid::parse_str(DEMO_ORG)?;
    let receiver = Arc::new(Receiver::default());
    let port = start_receiver(receiver.clone())?;
    let target = format!("http://127.0.0.1:{port}/results");
    let body = serde_json::json!({"resultId": "bench", "recruitmentUrl": "http://x/recruitments/t", "assessmentReportUrl": "http://x/r/t",
        "score": 71, "subscores": {"Driving Leadership": 73, "Influencing & Inspiring": 68}});

    // 1. Drain.
    let url = fresh_database(&args, &dir, "drain").await?;
    let db = seeded(&url, key).await?;
    let txn = db.begin().await?;
    let now = SystemClock.now();
    for _ in 0..args.rows {
        let new = NewDelivery {
            kind: Kind::Result,
            organization_id: Some(org.into()),
            assessment_id: None,
            target: target.clone(),
            payload: body.clone(),
        };
        outbox::enqueue(&txn, new, now).await?;
    }
    txn.commit().await?;
    let worker = Application::build_with_mode(
        settings(&url, key, args.concurrency, args.per_target),
        Arc::new(SystemClock),
        Mode::WorkerOnly,
    )
    .await?;
    let stop = worker.stop_handle();
    let cpu_before = process_cpu();
    let started = Instant::now();
    tokio::spawn(worker.run_until_stopped());
    while receiver.count.load(Ordering::Relaxed) < args.rows as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "drain did not finish");
    }
    let drain = started.elapsed();
    let drain_cpu = cpu_per(cpu_before, args.rows);
    stop.stop().await;
    let drain_rate = args.rows as f64 / drain.as_secs_f64();
    println!(
        "drain [{backend}]: {} deliveries in {:.2}s = {:.0}/s (concurrency {}); CPU {drain_cpu}",
        args.rows,
        drain.as_secs_f64(),
        drain_rate,
        args.concurrency
    );

    // 2. Ceiling: the same receiver, a plain reqwest loop, no database.
    receiver.count.store(0, Ordering::Relaxed);
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let bytes = serde_json::to_vec(&body)?;
    let cpu_before = process_cpu();
    let started = Instant::now();
    futures_util::stream::iter(0..args.rows)
        .map(|i| {
            let client = client.clone();
            let bytes = bytes.clone();
            let target = target.clone();
            async move {
                let _ = client
                    .post(&target)
                    .header("content-type", "application/json")
                    .header("idempotency-key", format!("ceiling-{i}"))
                    .body(bytes)
                    .send()
                    .await;
            }
        })
        .buffer_unordered(args.concurrency)
        .collect::<Vec<_>>()
        .await;
    let ceiling = started.elapsed();
    let ceiling_cpu = cpu_per(cpu_before, args.rows);
    let ceiling_rate = args.rows as f64 / ceiling.as_secs_f64();
    println!(
        "ceiling [{backend}]: {} POSTs in {:.2}s = {:.0}/s; CPU {ceiling_cpu}; drain is {:.0}% of it",
        args.rows,
        ceiling.as_secs_f64(),
        ceiling_rate,
        100.0 * drain_rate / ceiling_rate
    );

    // 3. First attempt after a result is recorded.
    let url = fresh_database(&args, &dir, "latency").await?;
    let db = seeded(&url, key).await?;
    let s = settings(&url, key, args.concurrency, args.per_target);
    let tokens = AdminTokens::new(&s.admin_jwt_secret);
    let app = Application::build_with_mode(s, Arc::new(SystemClock), Mode::ApiAndWorker).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = app.stop_handle();
    let links = LinkSigner::new(&secrecy::SecretBox::new(Box::new(key)), url::Url::parse(&base)?);
    let offer = assessment_partner::auth::directory::Offer::load(&db, org.into()).await?;
    tokio::spawn(app.run_until_stopped());
    let token = tokens.mint(
        "bench",
        &[Scope::ResultsWrite],
        SystemClock.now(),
        chrono::Duration::hours(1),
    );
    let mut samples = Vec::with_capacity(args.samples);
    for i in 0..args.samples {
        let request: AssessmentOrderRequest = serde_json::from_value(serde_json::json!({
            "recruitment": {"id": "bench", "title": "Bench", "description": ""},
            "additionalRecruitmentCollaboratorsEmails": [], "resultUpdateUrl": target, "resultId": format!("lat-{i}"),
            "lensId": DEMO_LENS, "locale": "en-US", "candidateDetails": {"email": format!("lat-{i}@example.com")}}))?;
        let order = NewOrder::parse(OrderKind::Link, request).map_err(|e| anyhow::anyhow!("{e}"))?;
        let ctx = OrderContext {
            links: &links,
            organization_name: "Example AB",
            offer: &offer,
            logo_path: None,
            sandbox: false,
        };
        let placed = place_order(
            &db,
            org.into(),
            &order,
            SystemClock.now(),
            &assessment_partner::config::InvitationTiming::without_reminders(Duration::from_secs(86400)),
            &ctx,
        )
        .await?;
        let sent = Instant::now();
        let response = client
            .post(format!("{base}/admin/v1/assessments/{}/result", placed.assessment.id))
            .bearer_auth(&token)
            .json(&serde_json::json!({"score": 71, "subscores": {"problem-solving": 70, "driving-leadership": 73, "influencing-inspiring": 68, "collaboration": 72}}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "recording a result answered {}",
            response.status()
        );
        let delivery_id = loop {
            // The push carries the delivery id; find the arrival whose key is new.
            let arrivals = receiver.arrivals.lock().await;
            if let Some((key, at)) = arrivals
                .iter()
                .find(|(k, at)| !k.starts_with("ceiling-") && **at >= sent)
            {
                samples.push(at.saturating_duration_since(sent));
                break key.clone();
            }
            drop(arrivals);
            anyhow::ensure!(sent.elapsed() < Duration::from_secs(10), "no push arrived");
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        receiver.arrivals.lock().await.remove(&delivery_id);
    }
    stop.stop().await;
    samples.sort();
    println!(
        "first attempt [{backend}]: from recording a result (HTTP request sent) to the push arriving, {} samples: p50 {:.2} ms, p99 {:.2} ms",
        samples.len(),
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99))
    );

    // 4. Claim cost as the table grows.
    let mut n = 1_000u64;
    while n <= args.claim_max_rows {
        let url = fresh_database(&args, &dir, &format!("claim{n}")).await?;
        let db = seeded(&url, key).await?;
        bulk_pending(&db, n).await?;
        let s = settings(&url, key, args.concurrency, args.per_target);
        let ctx = DeliveryContext {
            db: db.clone(),
            clock: Arc::new(SystemClock),
            senders: Senders::standard(
                db.clone(),
                Vault::new(&s.master_key),
                HttpSender::new(Duration::from_secs(5), true)?,
                Mailer::new(None, dir.join("mail"), &s.mail.from, Duration::from_secs(5), 1)?,
                Metrics::new(),
                Default::default(),
            ),
            metrics: Metrics::new(),
            policy: RetryPolicy::default(),
            owner: "bench".into(),
            lease: Duration::from_secs(60),
            record_via: None,
            targets: Default::default(),
            caps: Default::default(),
        };
        let _ = ctx.claim(1).await?; // warm the connection and the plan
        // Five runs of 100 claims, their median: one hiccup of this shared machine moves one
        // run, not the figure. 500 claims is at most half the smallest table, so every claim
        // finds a row.
        let mut runs = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            for _ in 0..100 {
                let claimed = ctx.claim(1).await?;
                anyhow::ensure!(claimed.len() == 1, "a claim found nothing");
            }
            runs.push(started.elapsed() / 100);
        }
        runs.sort();
        let each = runs[2];
        println!(
            "claim [{backend}]: {n:>9} pending rows: {:.3} ms per claim of one row",
            ms(each)
        );
        n *= 10;
    }
    clean_up(&args, &dir).await
}

/// `n` due pending rows, written in bulk by the database itself. Like the server's rows, their ids
/// rise in the order they were written (the server uses UUIDv7) and a row without an assessment
/// has its own id as its ordering key: random ids would scatter the claims' primary-key and
/// ordering-key lookups over the whole index, which production's rows do not (in 2026-12 runs,
/// random ids put the claim at 10^6 rows ~1.5× its cost at 10^3 on PostgreSQL).
async fn bulk_pending(db: &DatabaseConnection, n: u64) -> anyhow::Result<()> {
    let now = SystemClock.now() - chrono::Duration::minutes(1);
    match db.get_database_backend() {
        DbBackend::Postgres => {
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO deliveries (id, kind, organization_id, assessment_id, ordering_key, target, payload, state, attempts, \
                 replay_base, next_attempt_at, created_at, updated_at) \
                 SELECT u, 'result', NULL, NULL, u::text, 'http://127.0.0.1:9/x', '{}'::json, 'pending', 0, 0, $1, $1, $1 \
                 FROM (SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid AS u \
                       FROM generate_series(1, $2) g) ids",
                [now.into(), (n as i64).into()],
            ))
            .await?;
            db.execute_unprepared("ANALYZE deliveries").await?;
        }
        _ => {
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?1) \
                 INSERT INTO deliveries (id, kind, organization_id, assessment_id, ordering_key, target, payload, state, attempts, \
                 replay_base, next_attempt_at, created_at, updated_at) \
                 SELECT unhex(printf('00000000000070008000%012x', n)), 'result', NULL, NULL, \
                 printf('00000000-0000-7000-8000-%012x', n), 'http://127.0.0.1:9/x', '{}', 'pending', 0, 0, ?2, ?2, ?2 FROM s",
                [(n as i64).into(), now.into()],
            ))
            .await?;
            db.execute_unprepared("ANALYZE").await?;
        }
    }
    Ok(())
}

/// CPU time this process has used (user + system, every thread including those that ended), from
/// `/proc/self/stat` in clock ticks of 10 ms (Linux): the drain's and the ceiling's cost per
/// call, which moves less between runs on a shared machine than their rates do. Over a drain of
/// 10,000 rows (~1 s of CPU) a tick is ~1 %.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start with the state, field 3;
    // utime and stime are fields 14 and 15.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// "N µs per call" since `before`, or "unknown" where `/proc` cannot tell.
fn cpu_per(before: Option<Duration>, calls: usize) -> String {
    match (before, process_cpu()) {
        (Some(before), Some(after)) if calls > 0 => format!(
            "{:.1} µs per call (the whole process, the receiver's threads included)",
            (after.saturating_sub(before)).as_secs_f64() * 1e6 / calls as f64
        ),
        _ => "unknown".into(),
    }
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("ap-bench-deliveries-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn rand_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    key.iter_mut()
        .zip(
            uuid::Uuid::new_v4()
                .as_bytes()
                .iter()
                .chain(uuid::Uuid::new_v4().as_bytes()),
        )
        .for_each(|(k, b)| *k = *b);
    key
}

//! Benchmark of signed assessment-orders.
//!
//! * `bench http`: closed-loop load (goose) on a running server's
//!   `POST /recruitment/v1/assessment-order`, every request signed, with its own `resultId` and
//!   candidate e-mail.
//! * `bench ceiling`: the same orders placed straight through the database layer (prepared by
//!   `recruitment::orders::prepare`, written by the server's group-commit
//!   `recruitment::writer::OrderWriter`) from N tasks, no HTTP: what the database allows.
//! * `bench both`: fresh database(s), seeded like `assessment-partner seed` does, a server
//!   started from `target/release/assessment-partner`, the HTTP load, the server's peak RSS, then
//!   the ceiling on another fresh database of the same kind, and the ratio.
//!
//! Every mode ends with one line like
//! `http: N orders in Xs = R orders/s; p50 A ms; p99 B ms; errors E`.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use assessment_partner::config::Settings;
use assessment_partner::links::LinkSigner;
use assessment_partner::recruitment::dto::{AssessmentOrderRequest, NewOrder, OrderKind};
use assessment_partner::recruitment::orders::{OrderContext, prepare};
use assessment_partner::recruitment::writer::OrderWriter;
use assessment_partner::signature;
use clap::{Args, Parser, Subcommand};
use goose::prelude::*;
use hdrhistogram::Histogram;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait};
use uuid::Uuid;

mod fairness;

const ORDER_PATH: &str = "/recruitment/v1/assessment-order";
const LINK_ORDER_PATH: &str = "/recruitment/v1/assessment-link-order";
/// The demo organisation, integrator secret, provider key and lens of examples/seed.json.
const DEMO_ORGANIZATION: &str = "0d7e6c5b-4a39-4281-9f0e-1d2c3b4a5f60";
const DEMO_PROVIDER_KEY: &str = "demo-provider-key-example-ab";
const DEMO_SECRET: &str = "demo-integrator-secret-change-me";
const DEMO_LENS: &str = "7922dd91-1b44-43e4-a740-7c4d9c2fba41";

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Signed assessment-orders: over HTTP, and the database ceiling"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Load-test a running server (seeded with examples/seed.json).
    Http(HttpArgs),
    /// Place the same orders through the database layer, no HTTP.
    Ceiling(CeilingArgs),
    /// Fresh database + server, HTTP load, peak RSS, then the ceiling on another fresh
    /// database; prints the ratio.
    Both(BothArgs),
    /// Fairness across receivers: 100,000 pushes due to one slow receiver, and how soon a push
    /// to another receiver makes its first attempt.
    Fairness(fairness::FairnessArgs),
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// Concurrent clients (HTTP connections, or tasks for the ceiling).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to run (whole seconds for the HTTP load), e.g. 20s.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Lens to order; must be one of the organisation's.
    #[arg(long, default_value = DEMO_LENS)]
    lens_id: String,
    #[arg(long, default_value = "en-US")]
    locale: String,
    /// `email` (assessment-order: the candidate is e-mailed, an outbox row per order) or
    /// `link` (assessment-link-order: no e-mail), to see what the invitation costs.
    #[arg(long, value_enum, default_value_t = Kind::Email)]
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    Email,
    Link,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Email => ORDER_PATH,
            Kind::Link => LINK_ORDER_PATH,
        }
    }
    fn order_kind(self) -> OrderKind {
        match self {
            Kind::Email => OrderKind::Email,
            Kind::Link => OrderKind::Link,
        }
    }
}

#[derive(Args)]
struct HttpArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value = DEMO_PROVIDER_KEY)]
    provider_key: String,
    /// The integrator secret that signs the body.
    #[arg(long, default_value = DEMO_SECRET)]
    secret: String,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Args)]
struct CeilingArgs {
    /// e.g. sqlite:///tmp/x.db?mode=rwc or postgres://postgres@127.0.0.1:5432/bench
    #[arg(long)]
    database_url: String,
    /// Pool size; by default the server's (SQLite 1, PostgreSQL 10).
    #[arg(long)]
    pool: Option<u32>,
    /// Seed file applied (idempotent upsert) before the run.
    #[arg(long, conflicts_with = "no_seed")]
    seed: Option<PathBuf>,
    /// The database is already migrated and seeded (e.g. by `assessment-partner seed`).
    #[arg(long)]
    no_seed: bool,
    #[arg(long, default_value = DEMO_ORGANIZATION)]
    organization_id: Uuid,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Args)]
struct BothArgs {
    /// Use fresh PostgreSQL databases instead of SQLite files.
    #[arg(long)]
    postgres: bool,
    /// Where `CREATE DATABASE bench_…` is run; the new databases are on the same server.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_admin_url: String,
    /// The server binary; by default the `assessment-partner` next to this one.
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Seed file for both databases.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Extra environment for the server (and the ceiling's pool size when it is
    /// AP_DB_MAX_CONNECTIONS), e.g. --server-env RUST_LOG=warn.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    server_env: Vec<String>,
    /// Extra arguments for `serve`, e.g. --serve-arg=--no-worker to measure the order path
    /// without the delivery worker (its invitations then wait in the outbox).
    #[arg(long = "serve-arg", value_name = "ARG", allow_hyphen_values = true)]
    serve_args: Vec<String>,
    /// Keep the temporary directory and databases.
    #[arg(long)]
    keep: bool,
    /// Before each phase, fill its database for this long with (link) orders placed straight
    /// through the database layer as in `ceiling` (not measured), then ANALYZE (PostgreSQL), so that the measured run
    /// sees populated tables with statistics instead of fresh empty ones. 0 = fresh database.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Before each phase, wait up to this long for the machine to be idle (other builds and
    /// tests skew the figures); 0 to not wait.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Where the server sends invitation e-mails: `smtp` (default), a sink in this process that
    /// accepts every message at once, as production sends them (`AP_SMTP_URL`); or `files`, the
    /// server's development fallback of one `.eml` file per e-mail in the work directory.
    #[arg(long, value_enum, default_value_t = Mail::Smtp)]
    mail: Mail,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Mail {
    Smtp,
    Files,
}

/// A local SMTP server that accepts every message and counts it (the e-mail counterpart of the
/// delivery benchmark's receiver that answers 200 at once).
async fn start_smtp_sink() -> anyhow::Result<(u16, Arc<AtomicU64>)> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let received = Arc::new(AtomicU64::new(0));
    let count = received.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                    return;
                }
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        count.fetch_add(1, Ordering::Relaxed);
                        b"250 queued\r\n"
                    } else {
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        match verb.as_str() {
                            "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => b"221 bye\r\n",
                            _ => b"250 ok\r\n",
                        }
                    };
                    if write.write_all(reply).await.is_err() || reply.starts_with(b"221") {
                        break;
                    }
                }
            });
        }
    });
    Ok((port, received))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().mode {
        Mode::Http(args) => {
            let s = run_http(&args).await?;
            println!("{}", s.line("http"));
        }
        Mode::Ceiling(args) => {
            let s = run_ceiling(&args).await?;
            println!("{}", s.line("ceiling"));
        }
        Mode::Both(args) => run_both(args).await?,
        Mode::Fairness(args) => fairness::run(args).await?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Orders and results shared by both modes.

/// One order's JSON body: fixed recruitment, fresh `resultId` and candidate e-mail.
fn order_body(recruitment_id: &str, lens_id: &str, locale: &str) -> Vec<u8> {
    let result_id = Uuid::new_v4();
    serde_json::to_vec(&serde_json::json!({
        "recruitment": {
            "id": recruitment_id,
            "title": "Benchmark Developer",
            "description": "Orders placed by the benchmark."
        },
        "additionalRecruitmentCollaboratorsEmails": [],
        "resultUpdateUrl": format!("https://ats.example.com/api/v1/candidate-results/{result_id}"),
        "resultId": result_id.to_string(),
        "lensId": lens_id,
        "locale": locale,
        "candidateDetails": { "email": format!("bench-{}@example.com", Uuid::new_v4().simple()) }
    }))
    .unwrap_or_else(|_| unreachable!("a JSON value always serialises"))
}

fn histogram() -> Histogram<u64> {
    // Microseconds, 1 µs to 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}

/// What a run measured: latencies of successful orders, in microseconds.
struct Summary {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    latency_us: Histogram<u64>,
    /// Non-2xx statuses (0 = no response) with counts, or error messages for the ceiling.
    error_kinds: Vec<(String, u64)>,
}

impl Summary {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn p_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }
    fn line(&self, label: &str) -> String {
        let mut s = format!(
            "{label}: {} orders in {:.2}s = {:.0} orders/s; p50 {:.2} ms; p99 {:.2} ms; max {:.2} ms; errors {}",
            self.ok,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.p_ms(0.50),
            self.p_ms(0.99),
            self.latency_us.max() as f64 / 1000.0,
            self.errors
        );
        if !self.error_kinds.is_empty() {
            let kinds: Vec<String> = self.error_kinds.iter().map(|(k, n)| format!("{k} x{n}")).collect();
            s.push_str(&format!(" ({})", kinds.join(", ")));
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP mode: goose. The transaction function is a plain `fn`, so its settings and the shared
// measurements live in a static.

struct HttpShared {
    path: &'static str,
    provider_key: String,
    secret: Vec<u8>,
    recruitment_id: String,
    lens_id: String,
    locale: String,
    start: Instant,
    /// Microseconds since `start` of the first request sent and the last response read.
    first_send_us: AtomicU64,
    last_done_us: AtomicU64,
    ok: AtomicU64,
    latency_us: Mutex<Histogram<u64>>,
    /// Status code (0 = transport error) -> count, for everything that was not 2xx.
    failures: Mutex<std::collections::BTreeMap<u16, u64>>,
}

static HTTP: OnceLock<HttpShared> = OnceLock::new();

async fn signed_order(user: &mut GooseUser) -> TransactionResult {
    let shared = HTTP.get().unwrap_or_else(|| unreachable!("set before the attack"));
    let body = order_body(&shared.recruitment_id, &shared.lens_id, &shared.locale);
    let t = chrono::Utc::now().timestamp();
    let sig = signature::header_value(&shared.secret, t, &body);
    let rb = user
        .get_request_builder(&GooseMethod::Post, shared.path)?
        .header("provider-key", &shared.provider_key)
        .header("content-type", "application/json")
        .header("signature", sig)
        .body(body);
    let request = GooseRequest::builder().path(ORDER_PATH).set_request_builder(rb).build();
    let started = Instant::now();
    shared
        .first_send_us
        .fetch_min(micros_since(shared.start, started), Ordering::Relaxed);
    let response = user.request(request).await?;
    // Read the body too, as a client does (and so that the connection is reused).
    let status = match response.response {
        Ok(r) => {
            let status = r.status();
            match r.bytes().await {
                Ok(_) => status.as_u16(),
                Err(_) => 0,
            }
        }
        Err(_) => 0,
    };
    let done = Instant::now();
    shared
        .last_done_us
        .fetch_max(micros_since(shared.start, done), Ordering::Relaxed);
    if (200..300).contains(&status) {
        shared.ok.fetch_add(1, Ordering::Relaxed);
        let us = (done - started).as_micros() as u64;
        if let Ok(mut h) = shared.latency_us.lock() {
            h.saturating_record(us.max(1));
        }
    } else if let Ok(mut f) = shared.failures.lock() {
        *f.entry(status).or_default() += 1;
    }
    Ok(())
}

fn micros_since(start: Instant, t: Instant) -> u64 {
    t.saturating_duration_since(start).as_micros() as u64
}

async fn run_http(args: &HttpArgs) -> anyhow::Result<Summary> {
    let load = &args.load;
    let shared = HttpShared {
        path: load.kind.path(),
        provider_key: args.provider_key.clone(),
        secret: args.secret.as_bytes().to_vec(),
        recruitment_id: format!("bench-{}", Uuid::new_v4()),
        lens_id: load.lens_id.clone(),
        locale: load.locale.clone(),
        start: Instant::now(),
        first_send_us: AtomicU64::new(u64::MAX),
        last_done_us: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        latency_us: Mutex::new(histogram()),
        failures: Mutex::new(Default::default()),
    };
    if HTTP.set(shared).is_err() {
        bail!("the HTTP load runs once per process");
    }
    let shared = HTTP.get().unwrap_or_else(|| unreachable!());
    let run_secs = load.duration.as_secs_f64().ceil().max(1.0) as usize;
    // All users start at once (1000/s), then run `run_secs`; goose resets its own metrics
    // once all have started and prints its report at the end.
    let metrics = GooseAttack::initialize_with_config(Default::default())?
        .register_scenario(
            scenario!("AssessmentOrders")
                .register_transaction(transaction!(signed_order).set_name("signed assessment-order")),
        )
        .set_default(GooseDefault::Host, args.url.as_str())?
        .set_default(GooseDefault::Users, load.concurrency)?
        .set_default(GooseDefault::IncreaseRate, "1000")?
        .set_default(GooseDefault::RunTime, run_secs)?
        // Warnings only on the console; the report is printed regardless.
        .set_default(GooseDefault::Quiet, 1usize)?
        .execute()
        .await?;
    let first = shared.first_send_us.load(Ordering::Relaxed);
    let last = shared.last_done_us.load(Ordering::Relaxed);
    let elapsed = Duration::from_micros(last.saturating_sub(first.min(last)));
    let latency_us = shared
        .latency_us
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    let failures = shared.failures.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    // Goose's own count of the steady state, as a cross-check.
    if let Some(agg) = metrics.requests.values().next() {
        eprintln!(
            "goose (after all users started): {} ok, {} failed over ~{}s; its p50 {:.2} ms, p99 {:.2} ms (time to headers)",
            agg.success_count,
            agg.fail_count,
            metrics.duration,
            agg.raw_data.percentile_us(0.5) as f64 / 1000.0,
            agg.raw_data.percentile_us(0.99) as f64 / 1000.0,
        );
    }
    Ok(Summary {
        ok: shared.ok.load(Ordering::Relaxed),
        errors: failures.values().sum(),
        elapsed,
        latency_us,
        error_kinds: failures
            .into_iter()
            .map(|(s, n)| {
                (
                    if s == 0 {
                        "no response".to_owned()
                    } else {
                        format!("HTTP {s}")
                    },
                    n,
                )
            })
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Ceiling mode: orders through the OrderWriter from N tasks on one pool.

async fn run_ceiling(args: &CeilingArgs) -> anyhow::Result<Summary> {
    let mut settings = Settings::for_tests(&args.database_url);
    if let Some(pool) = args.pool {
        settings.db_max_connections = pool;
    }
    eprintln!(
        "ceiling: pool of {} connection(s), {} tasks",
        settings.db_max_connections, args.load.concurrency
    );
    let mut db = assessment_partner::db::connect(&settings).await?;
    if !args.no_seed {
        assessment_partner::db::migrate(&db).await?;
        let text = match &args.seed {
            Some(path) => std::fs::read_to_string(path).with_context(|| format!("--seed {}", path.display()))?,
            None => assessment_partner::cli::EXAMPLE_SEED.to_owned(),
        };
        let seed = assessment_partner::admin::seed::parse(&text)?;
        let vault = assessment_partner::crypto::Vault::new(&settings.master_key);
        assessment_partner::admin::seed::apply(
            &db,
            &vault,
            &seed,
            chrono::Utc::now(),
            assessment_partner::tenancy::store::Rules::development(),
        )
        .await?;
    }
    // What the server passes too: its link signer, the organisation's name and what it may
    // order (the server keeps the last two in its directory cache).
    let organization_name = assessment_partner::entity::organization::Entity::find_by_id(args.organization_id)
        .one(&db)
        .await?
        .with_context(|| format!("organization {} is not in the database", args.organization_id))?
        .name;
    let offer = assessment_partner::auth::directory::Offer::load(&db, args.organization_id.into()).await?;
    let links = LinkSigner::new(&settings.master_key, settings.public_url.clone());
    // Every statement sea-orm runs from here on (BEGIN and COMMIT are not reported to it).
    let stats = Arc::new(StatementStats::default());
    let s2 = stats.clone();
    db.set_metric_callback(move |info| s2.record(&info.statement.sql, info.elapsed));
    let started = Instant::now();
    let summary = ceiling_load(
        db,
        args.organization_id,
        &args.load,
        settings.invitations.clone(),
        Arc::new((links, organization_name, offer)),
        pg_db_name(&args.database_url),
        settings.db_max_connections,
    )
    .await?;
    eprintln!(
        "{}",
        stats.report(
            summary.ok + summary.errors,
            started.elapsed(),
            settings.db_max_connections
        )
    );
    Ok(summary)
}

/// Statements seen by sea-orm's metric callback: how many of each, and how long they took
/// from the caller's side (the connection already acquired).
#[derive(Default)]
struct StatementStats {
    count: AtomicU64,
    elapsed_ns: AtomicU64,
    kinds: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl StatementStats {
    fn record(&self, sql: &str, elapsed: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.elapsed_ns.fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
        let words: Vec<&str> = sql.split_whitespace().take(40).collect();
        let verb = words.first().copied().unwrap_or("?").to_ascii_uppercase();
        let table = words
            .windows(2)
            .find(|w| ["FROM", "INTO", "UPDATE"].contains(&w[0].to_ascii_uppercase().as_str()))
            .map(|w| w[1].trim_matches('"'))
            .unwrap_or("");
        if let Ok(mut k) = self.kinds.lock() {
            *k.entry(format!("{verb} {table}")).or_default() += 1;
        }
    }

    fn report(&self, orders: u64, wall: Duration, pool: u32) -> String {
        let n = orders.max(1) as f64;
        let count = self.count.load(Ordering::Relaxed);
        let ns = self.elapsed_ns.load(Ordering::Relaxed);
        let kinds = self
            .kinds
            .lock()
            .map(|k| {
                k.iter()
                    .map(|(k, v)| format!("{k} {:.2}", *v as f64 / n))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        format!(
            "ceiling statements per order (sea-orm metric; BEGIN/COMMIT not included): {:.2} ({kinds}); \
             mean {:.0} µs each; the pool's {pool} connection(s) spent {:.0}% of the run executing them",
            count as f64 / n,
            ns as f64 / count.max(1) as f64 / 1000.0,
            ns as f64 / (wall.as_nanos() as f64 * pool.max(1) as f64) * 100.0
        )
    }
}

async fn ceiling_load(
    db: DatabaseConnection,
    organization_id: Uuid,
    load: &LoadArgs,
    timing: assessment_partner::config::InvitationTiming,
    ctx: Arc<(LinkSigner, String, assessment_partner::auth::directory::Offer)>,
    pg_db: Option<String>,
    pool_size: u32,
) -> anyhow::Result<Summary> {
    let probe = CpuProbe::start(&[("bench", "self".to_owned())], pg_db.as_deref());
    let recruitment_id: Arc<str> = format!("bench-{}", Uuid::new_v4()).into();
    let lens: Arc<str> = load.lens_id.as_str().into();
    let locale: Arc<str> = load.locale.as_str().into();
    let kind = load.kind.order_kind();
    let start = Instant::now();
    let deadline = start + load.duration;
    // The server's write path: requests hand prepared orders to its writer task(s).
    let writer = OrderWriter::start(
        db.clone(),
        OrderWriter::writers_for(&db, pool_size),
        Arc::new(tokio::sync::Notify::new()),
        None,
        None,
    );
    let mut tasks = Vec::with_capacity(load.concurrency);
    for _ in 0..load.concurrency {
        let writer = writer.clone();
        let (recruitment_id, lens, locale) = (recruitment_id.clone(), lens.clone(), locale.clone());
        let ctx = ctx.clone();
        let timing = timing.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut ok = 0u64;
            let mut errors: std::collections::BTreeMap<String, u64> = Default::default();
            let mut last_done = start;
            let ctx = OrderContext {
                links: &ctx.0,
                organization_name: &ctx.1,
                offer: &ctx.2,
                logo_path: None,
                sandbox: false,
            };
            while Instant::now() < deadline {
                let body = order_body(&recruitment_id, &lens, &locale);
                let started = Instant::now();
                let outcome = match serde_json::from_slice::<AssessmentOrderRequest>(&body) {
                    Ok(request) => match NewOrder::parse(kind, request) {
                        Ok(order) => match prepare(organization_id.into(), &order, chrono::Utc::now(), &timing, &ctx) {
                            Ok(prepared) => writer
                                .place(prepared)
                                .await
                                .map(|p| p.created)
                                .map_err(|e| e.to_string()),
                            Err(e) => Err(e.to_string()),
                        },
                        Err(e) => Err(format!("{e:?}")),
                    },
                    Err(e) => Err(e.to_string()),
                };
                let done = Instant::now();
                last_done = done;
                match outcome {
                    Ok(true) => {
                        ok += 1;
                        h.saturating_record(((done - started).as_micros() as u64).max(1));
                    }
                    Ok(false) => *errors.entry("repeat, not created".into()).or_default() += 1,
                    Err(e) => *errors.entry(e).or_default() += 1,
                }
            }
            (h, ok, errors, last_done)
        }));
    }
    let mut latency_us = histogram();
    let mut ok = 0;
    let mut errors: std::collections::BTreeMap<String, u64> = Default::default();
    let mut end = start;
    for t in tasks {
        let (h, n, e, last) = t.await?;
        latency_us.add(&h).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        ok += n;
        for (k, v) in e {
            *errors.entry(k).or_default() += v;
        }
        end = end.max(last);
    }
    eprintln!("ceiling phase {}", probe.report());
    db.close().await.ok();
    Ok(Summary {
        ok,
        errors: errors.values().sum(),
        elapsed: end - start,
        latency_us,
        error_kinds: errors.into_iter().collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Both: fresh databases, a server, the HTTP load, peak RSS, the ceiling, the ratio.

/// A fresh database of the chosen kind, dropped (PostgreSQL) when done unless kept.
struct FreshDb {
    url: String,
    pg_name: Option<String>,
}

async fn fresh_db(args: &BothArgs, dir: &Path, tag: &str, run: &str) -> anyhow::Result<FreshDb> {
    fresh_db_on(args.postgres, &args.postgres_admin_url, dir, tag, run).await
}

/// A fresh SQLite file in `dir`, or (`postgres`) a fresh database on `admin_url`'s server.
async fn fresh_db_on(postgres: bool, admin_url: &str, dir: &Path, tag: &str, run: &str) -> anyhow::Result<FreshDb> {
    if !postgres {
        let path = dir.join(format!("{tag}.db"));
        return Ok(FreshDb {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            pg_name: None,
        });
    }
    let name = format!("bench_{run}_{tag}");
    let admin = Database::connect(quiet_options(admin_url))
        .await
        .with_context(|| format!("connecting to {admin_url}"))?;
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
    admin.close().await.ok();
    let url = url_with_db(admin_url, &name)?;
    Ok(FreshDb {
        url,
        pg_name: Some(name),
    })
}

fn quiet_options(url: &str) -> sea_orm::ConnectOptions {
    let mut o = sea_orm::ConnectOptions::new(url.to_owned());
    o.max_connections(1).sqlx_logging(false);
    o
}

/// The admin URL with its path (database) replaced.
fn url_with_db(admin_url: &str, db: &str) -> anyhow::Result<String> {
    let (scheme, rest) = admin_url
        .split_once("://")
        .context("--postgres-admin-url has no scheme")?;
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let query = tail.find('?').map(|i| &tail[i..]).unwrap_or("");
    Ok(format!("{scheme}://{authority}/{db}{query}"))
}

async fn drop_pg(args: &BothArgs, name: &str) {
    drop_pg_on(&args.postgres_admin_url, name).await;
}

async fn drop_pg_on(admin_url: &str, name: &str) {
    if let Ok(admin) = Database::connect(quiet_options(admin_url)).await {
        if let Err(e) = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
        {
            eprintln!("dropping {name}: {e}");
        }
        admin.close().await.ok();
    }
}

/// Activity counters of one PostgreSQL database: transactions, and per table the scans
/// (sequential + index), rows inserted and rows updated. Backends publish them when idle or on
/// exit, so read them after the clients are gone.
#[derive(Default, Clone)]
struct PgSnapshot {
    commits: i64,
    rollbacks: i64,
    /// seq scans, rows read by them, index scans, rows inserted, rows updated.
    tables: std::collections::BTreeMap<String, [i64; 5]>,
    /// Per index: scans, index entries read.
    indexes: std::collections::BTreeMap<String, [i64; 2]>,
}

async fn pg_snapshot(db_url: &str) -> Option<PgSnapshot> {
    let db = Database::connect(quiet_options(db_url)).await.ok()?;
    let q = |sql: &str| sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Postgres, sql.to_owned());
    let mut snap = PgSnapshot::default();
    let row = db
        .query_one_raw(q(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()",
        ))
        .await
        .ok()??;
    snap.commits = row.try_get_by_index::<i64>(0).ok()?;
    snap.rollbacks = row.try_get_by_index::<i64>(1).ok()?;
    let rows = db
        .query_all_raw(q(
            "SELECT relname::text, coalesce(seq_scan, 0)::bigint, coalesce(seq_tup_read, 0)::bigint, \
             coalesce(idx_scan, 0)::bigint, n_tup_ins::bigint, n_tup_upd::bigint FROM pg_stat_user_tables",
        ))
        .await
        .ok()?;
    for r in rows {
        let name: String = r.try_get_by_index(0).ok()?;
        let mut v = [0i64; 5];
        for (i, x) in v.iter_mut().enumerate() {
            *x = r.try_get_by_index::<i64>(i + 1).ok()?;
        }
        snap.tables.insert(name, v);
    }
    let rows = db
        .query_all_raw(q("SELECT indexrelname::text, coalesce(idx_scan, 0)::bigint, \
             coalesce(idx_tup_read, 0)::bigint FROM pg_stat_user_indexes"))
        .await
        .ok()?;
    for r in rows {
        let name: String = r.try_get_by_index(0).ok()?;
        snap.indexes.insert(
            name,
            [r.try_get_by_index::<i64>(1).ok()?, r.try_get_by_index::<i64>(2).ok()?],
        );
    }
    db.close().await.ok();
    Some(snap)
}

/// Per order: what the database did between two snapshots.
fn pg_report(label: &str, before: &PgSnapshot, after: &PgSnapshot, orders: u64) -> String {
    let n = orders.max(1) as f64;
    let mut out = format!(
        "{label} (pg_stat, per order): {:.2} commits, {} rollbacks in all",
        (after.commits - before.commits) as f64 / n,
        after.rollbacks - before.rollbacks
    );
    let mut all = [0i64; 5];
    let row = |name: &str, d: &[i64; 5]| {
        format!(
            "\n    {name:<20} seq scans {:>5.2} (rows read {:>7.1})  index scans {:>5.2}  inserted {:>4.2}  updated {:>4.2}",
            d[0] as f64 / n,
            d[1] as f64 / n,
            d[2] as f64 / n,
            d[3] as f64 / n,
            d[4] as f64 / n
        )
    };
    for (table, a) in &after.tables {
        let b = before.tables.get(table).copied().unwrap_or_default();
        let d: [i64; 5] = std::array::from_fn(|i| a[i] - b[i]);
        if d.iter().all(|x| *x == 0) {
            continue;
        }
        for i in 0..5 {
            all[i] += d[i];
        }
        out.push_str(&row(table, &d));
    }
    out.push_str(&row("all tables", &all));
    // Index scans that read many entries each: lookups that grow with the table.
    for (index, a) in &after.indexes {
        let b = before.indexes.get(index).copied().unwrap_or_default();
        let (scans, read) = (a[0] - b[0], a[1] - b[1]);
        if scans > 0 && read > 2 * scans {
            out.push_str(&format!(
                "\n    index {index}: {scans} scans read {read} entries, {:.0} per scan",
                read as f64 / scans as f64
            ));
        }
    }
    out
}

struct Server {
    child: Child,
    base_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_command(bin: &Path, dir: &Path, db_url: &str, extra: &[(String, String)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env("DATABASE_URL", db_url)
        .env("AP_DEV_KEY_FILE", dir.join("keys.json"))
        .env("AP_MAIL_OUTBOX_DIR", dir.join("mail-outbox"))
        // Rate limits on, as a deployment runs them, far above what the load sends; compare
        // with `--server-env AP_RATE_LIMIT_PER_SECOND=off`.
        .env("AP_RATE_LIMIT_PER_SECOND", "1000000")
        .env("AP_RATE_LIMIT_BURST", "1000000");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd
}

fn seed_with_cli(bin: &Path, dir: &Path, db_url: &str, seed: &Path, extra: &[(String, String)]) -> anyhow::Result<()> {
    let out = server_command(bin, dir, db_url, extra)
        .arg("seed")
        .arg("--file")
        .arg(seed)
        .output()
        .with_context(|| format!("running {} seed", bin.display()))?;
    if !out.status.success() {
        bail!(
            "{} seed failed: {}{}",
            bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

async fn start_server(
    bin: &Path,
    dir: &Path,
    db_url: &str,
    extra: &[(String, String)],
    serve_args: &[String],
) -> anyhow::Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log = std::fs::File::create(dir.join("server.log"))?;
    let child = server_command(bin, dir, db_url, extra)
        .env("AP_BIND", format!("127.0.0.1:{port}"))
        .arg("serve")
        .args(serve_args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {} serve", bin.display()))?;
    let mut server = Server {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let ready = format!("{}/health/ready", server.base_url);
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait()? {
            bail!("the server exited ({status}); see {}", dir.join("server.log").display());
        }
        if let Ok(r) = client.get(&ready).send().await
            && r.status().is_success()
        {
            return Ok(server);
        }
        if Instant::now() > until {
            bail!("the server was not ready within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `/proc/<pid>/status` field in KiB, e.g. VmHWM (peak RSS) or VmRSS.
fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU seconds of a process (clock ticks of 1/100 s).
fn proc_cpu_secs(pid: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // After "pid (comm) ", field 3 (state) is index 0; utime is field 14, stime 15.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// CPU seconds of each thread of a process: tid -> (name, seconds).
fn thread_cpu(pid: &str) -> std::collections::BTreeMap<String, (String, f64)> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let tid = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{pid}/task/{tid}");
        let name = std::fs::read_to_string(format!("/proc/{path}/comm"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        if let Some(secs) = proc_cpu_secs(&path) {
            out.insert(tid, (name, secs));
        }
    }
    out
}

/// (busy, total) jiffies of the whole machine.
fn system_cpu() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// PostgreSQL backends (`postgres: user db addr state`) serving one database, by pid.
fn pg_backends(db: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = format!(" {db} ");
    dir.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().into_owned();
            pid.bytes().all(|b| b.is_ascii_digit()).then_some(pid)
        })
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.starts_with("postgres: ") && c.contains(&needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// CPU use over a phase: of some processes (and their busiest threads), of the PostgreSQL
/// backends serving a database, and of the whole machine.
struct CpuProbe {
    pids: Vec<(&'static str, String)>,
    start: Vec<Option<f64>>,
    threads: Vec<std::collections::BTreeMap<String, (String, f64)>>,
    pg_db: Option<String>,
    pg_start: std::collections::BTreeMap<String, f64>,
    sys: Option<(u64, u64)>,
    at: Instant,
}

impl CpuProbe {
    fn start(pids: &[(&'static str, String)], pg_db: Option<&str>) -> Self {
        Self {
            pids: pids.to_vec(),
            start: pids.iter().map(|(_, p)| proc_cpu_secs(p)).collect(),
            threads: pids.iter().map(|(_, p)| thread_cpu(p)).collect(),
            pg_db: pg_db.map(str::to_owned),
            pg_start: pg_db
                .map(|db| {
                    pg_backends(db)
                        .into_iter()
                        .filter_map(|p| Some((p.clone(), proc_cpu_secs(&p)?)))
                        .collect()
                })
                .unwrap_or_default(),
            sys: system_cpu(),
            at: Instant::now(),
        }
    }

    /// Call before the processes or connections go away.
    fn report(&self) -> String {
        let wall = self.at.elapsed().as_secs_f64();
        let pct = |secs: f64| secs / wall * 100.0;
        let mut parts = Vec::new();
        let mut busiest = Vec::new();
        let mut observed = 0.0;
        for (((name, pid), start), before) in self.pids.iter().zip(&self.start).zip(&self.threads) {
            if let (Some(a), Some(b)) = (start, proc_cpu_secs(pid)) {
                observed += b - a;
                parts.push(format!("{name} {:.0}%", pct(b - a)));
            }
            // Its busiest threads (sqlx runs each SQLite connection on a thread of its own).
            let mut threads: Vec<(String, f64)> = thread_cpu(pid)
                .into_iter()
                .map(|(tid, (comm, secs))| {
                    let was = before.get(&tid).map_or(0.0, |(_, s)| *s);
                    (format!("{comm}[{tid}]"), pct(secs - was))
                })
                .filter(|(_, p)| *p >= 1.0)
                .collect();
            threads.sort_by(|a, b| b.1.total_cmp(&a.1));
            let top: Vec<String> = threads.iter().take(6).map(|(t, p)| format!("{t} {p:.0}%")).collect();
            if !top.is_empty() {
                busiest.push(format!("\n    {name} threads: {}", top.join(", ")));
            }
        }
        if let Some(db) = &self.pg_db {
            let backends = pg_backends(db);
            let secs: f64 = backends
                .iter()
                .filter_map(|p| Some(proc_cpu_secs(p)? - self.pg_start.get(p).copied().unwrap_or(0.0)))
                .sum();
            observed += secs;
            parts.push(format!("postgres backends ({}) {:.0}%", backends.len(), pct(secs)));
        }
        if let (Some((b0, t0)), Some((b1, t1))) = (self.sys, system_cpu()) {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let busy = (b1 - b0) as f64 / (t1 - t0).max(1) as f64;
            parts.push(format!(
                "everything else {:.0}%; machine {:.0}% busy of {cores} cores",
                (busy * cores * 100.0 - pct(observed)).max(0.0),
                busy * 100.0
            ));
        }
        format!("CPU, % of one core: {}{}", parts.join(", "), busiest.concat())
    }
}

/// Waits (at most `limit`) until the machine is mostly idle, so that other work on it does
/// not end up in the figures; says what it saw.
async fn settle(limit: Duration) {
    if limit.is_zero() {
        return;
    }
    let until = Instant::now() + limit;
    loop {
        let a = system_cpu();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let busy = match (a, system_cpu()) {
            (Some((b0, t0)), Some((b1, t1))) => (b1 - b0) as f64 / (t1 - t0).max(1) as f64,
            _ => return,
        };
        if busy < 0.15 {
            eprintln!("machine idle enough ({:.0}% busy)", busy * 100.0);
            return;
        }
        if Instant::now() >= until {
            eprintln!(
                "WARNING: the machine is {:.0}% busy with other work; the figures will be lower",
                busy * 100.0
            );
            return;
        }
    }
}

/// The database name of a PostgreSQL URL.
fn pg_db_name(url: &str) -> Option<String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return None;
    }
    let rest = url.split_once("://")?.1;
    let path = &rest[rest.find('/')? + 1..];
    Some(path.split('?').next()?.to_owned())
}

async fn run_both(args: BothArgs) -> anyhow::Result<()> {
    let exe_dir = std::env::current_exe()?
        .parent()
        .context("no directory for this binary")?
        .to_path_buf();
    let bin = args
        .server_bin
        .clone()
        .unwrap_or_else(|| exe_dir.join("assessment-partner"));
    if !bin.exists() {
        bail!(
            "{} not found: build it with cargo build --release -p assessment-partner",
            bin.display()
        );
    }
    let seed = match &args.seed {
        Some(s) => s.clone(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/seed.json"),
    };
    let seed = std::fs::canonicalize(&seed).with_context(|| format!("{}", seed.display()))?;
    let extra: Vec<(String, String)> = args
        .server_env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("--server-env {kv}: expected KEY=VALUE"))
        })
        .collect::<anyhow::Result<_>>()?;
    let run = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let dir = std::env::temp_dir().join(format!("ap-bench-{run}"));
    std::fs::create_dir_all(&dir)?;
    let kind = if args.postgres { "PostgreSQL" } else { "SQLite" };
    eprintln!("bench both: {kind}, work dir {}", dir.display());

    let http_db = fresh_db(&args, &dir, "http", &run).await?;
    let ceiling_db = match fresh_db(&args, &dir, "ceiling", &run).await {
        Ok(d) => d,
        Err(e) => {
            if let Some(n) = &http_db.pg_name {
                drop_pg(&args, n).await;
            }
            return Err(e);
        }
    };
    let outcome = both_phases(&args, &bin, &dir, &seed, &extra, &http_db, &ceiling_db).await;
    if !args.keep {
        for d in [&http_db, &ceiling_db] {
            if let Some(n) = &d.pg_name {
                drop_pg(&args, n).await;
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    } else {
        eprintln!("kept {} and the databases", dir.display());
    }
    let (http, ceiling, peak_kib, idle_kib) = outcome?;
    let ratio = http.rate() / ceiling.rate().max(1e-9);
    println!();
    let warm = if args.warmup.is_zero() {
        "fresh databases".to_owned()
    } else {
        format!(
            "after {} of unmeasured warm-up orders",
            humantime::format_duration(args.warmup)
        )
    };
    println!("== {kind}, {} connections/tasks, {warm} ==", args.load.concurrency);
    println!("{}", http.line("http"));
    println!("{}", ceiling.line("ceiling"));
    println!(
        "ratio http/ceiling {:.0}% (target >= 60%: {})",
        ratio * 100.0,
        pass(ratio >= 0.60)
    );
    println!(
        "http p99 {:.2} ms (target <= 25 ms: {})",
        http.p_ms(0.99),
        pass(http.p_ms(0.99) <= 25.0)
    );
    println!(
        "server peak RSS {:.1} MiB, idle {:.1} MiB (target <= 100 MiB: {})",
        peak_kib as f64 / 1024.0,
        idle_kib as f64 / 1024.0,
        pass(peak_kib as f64 / 1024.0 <= 100.0)
    );
    Ok(())
}

fn pass(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// `--warmup`: unmeasured orders into the database, then fresh statistics.
async fn warm_up(args: &BothArgs, db_url: &str, pool: Option<u32>) -> anyhow::Result<()> {
    if args.warmup.is_zero() {
        return Ok(());
    }
    let mut load = args.load.clone();
    load.duration = args.warmup;
    // Link orders: the same assessments, candidates and recruitment rows, but no invitation in
    // the outbox, which the server's delivery worker would otherwise drain during the HTTP run.
    load.kind = Kind::Link;
    let s = run_ceiling(&CeilingArgs {
        database_url: db_url.to_owned(),
        pool,
        seed: None,
        no_seed: true,
        organization_id: DEMO_ORGANIZATION.parse()?,
        load,
    })
    .await?;
    eprintln!("{}", s.line("warm-up (not measured)"));
    if args.postgres {
        let db = Database::connect(quiet_options(db_url)).await?;
        db.execute_unprepared("ANALYZE").await?;
        db.close().await.ok();
    }
    Ok(())
}

async fn both_phases(
    args: &BothArgs,
    bin: &Path,
    dir: &Path,
    seed: &Path,
    extra: &[(String, String)],
    http_db: &FreshDb,
    ceiling_db: &FreshDb,
) -> anyhow::Result<(Summary, Summary, u64, u64)> {
    let pool: Option<u32> = extra
        .iter()
        .find(|(k, _)| k == "AP_DB_MAX_CONNECTIONS")
        .and_then(|(_, v)| v.parse().ok());
    // HTTP: seed with the server's own command, serve, load.
    seed_with_cli(bin, dir, &http_db.url, seed, extra)?;
    warm_up(args, &http_db.url, pool).await?;
    let mut server_env = extra.to_vec();
    let mails = match args.mail {
        Mail::Smtp => {
            let (port, received) = start_smtp_sink().await?;
            server_env.push(("AP_SMTP_URL".into(), format!("smtp://127.0.0.1:{port}")));
            Some(received)
        }
        Mail::Files => None,
    };
    let server = start_server(bin, dir, &http_db.url, &server_env, &args.serve_args).await?;
    let pid = server.child.id();
    let idle_kib = proc_kib(pid, "VmRSS").unwrap_or(0);
    eprintln!(
        "server pid {pid} ready at {}, RSS {:.1} MiB",
        server.base_url,
        idle_kib as f64 / 1024.0
    );
    let pg_before = match &http_db.pg_name {
        Some(_) => pg_snapshot(&http_db.url).await,
        None => None,
    };
    settle(args.settle).await;
    let probe = CpuProbe::start(
        &[("server", pid.to_string()), ("bench", "self".into())],
        http_db.pg_name.as_deref(),
    );
    let http = run_http(&HttpArgs {
        url: server.base_url.clone(),
        provider_key: DEMO_PROVIDER_KEY.into(),
        secret: DEMO_SECRET.into(),
        load: args.load.clone(),
    })
    .await?;
    eprintln!("http phase {}", probe.report());
    match &mails {
        Some(received) => eprintln!(
            "e-mails: {} of {} invitations reached the SMTP sink during the run",
            received.load(Ordering::Relaxed),
            http.ok
        ),
        None => eprintln!(
            "e-mails: {} of {} invitations written as .eml files during the run",
            std::fs::read_dir(dir.join("mail-outbox")).map_or(0, |d| d.count()),
            http.ok
        ),
    }
    let peak_kib = proc_kib(pid, "VmHWM").unwrap_or(0);
    // Backends flush their statistics when they exit.
    drop(server);
    if let Some(b) = pg_before {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(a) = pg_snapshot(&http_db.url).await {
            eprintln!("{}", pg_report("http db", &b, &a, http.ok));
        }
    }

    // Ceiling: a fresh database seeded the same way, the server's pool size.
    seed_with_cli(bin, dir, &ceiling_db.url, seed, extra)?;
    warm_up(args, &ceiling_db.url, pool).await?;
    let pg_before = match &ceiling_db.pg_name {
        Some(_) => pg_snapshot(&ceiling_db.url).await,
        None => None,
    };
    settle(args.settle).await;
    let ceiling = run_ceiling(&CeilingArgs {
        database_url: ceiling_db.url.clone(),
        pool,
        seed: None,
        no_seed: true,
        organization_id: DEMO_ORGANIZATION.parse()?,
        load: args.load.clone(),
    })
    .await?;
    if let Some(b) = pg_before {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(a) = pg_snapshot(&ceiling_db.url).await {
            eprintln!("{}", pg_report("ceiling db", &b, &a, ceiling.ok));
        }
    }
    Ok((http, ceiling, peak_kib, idle_kib))
}

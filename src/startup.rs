//! Building the application: database, state, HTTP server on a bound listener, delivery worker.
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{NormalizePath, TrailingSlash, from_fn};
use actix_web::{App, HttpServer, web};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::auth::admin::AdminTokens;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::Vault;
use crate::delivery::handoff::{HANDOFF_CAPACITY, Handoff};
use crate::delivery::listen::listen_for_notifications;
use crate::delivery::mail::Mailer;
use crate::delivery::policy::{DEFAULT_JITTER, RetryPolicy};
use crate::delivery::push::HttpSender;
use crate::delivery::senders::Senders;
use crate::delivery::worker::{DeliveryContext, Worker, WorkerConfig};
use crate::error::ApiError;
use crate::links::LinkSigner;
use crate::metrics::Metrics;
use crate::recruitment::writer::OrderWriter;
use crate::state::AppState;
use crate::{admin, db, health, openapi, recruitment, telemetry};

/// Attempt batches waiting for the order writer at most (each recorder waits for its batch).
const RECORD_QUEUE: usize = 8;

/// What this process runs: `serve` (both), `serve --no-worker`, `serve --worker-only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ApiAndWorker,
    ApiOnly,
    WorkerOnly,
}

impl Mode {
    fn api(self) -> bool {
        self != Mode::WorkerOnly
    }

    fn worker(self) -> bool {
        self != Mode::ApiOnly
    }
}

pub struct Application {
    port: u16,
    server: Option<Server>,
    worker: Option<Worker>,
    sweep_interval: Option<std::time::Duration>,
    /// With a worker: how long personal data and settled outbox rows are kept.
    retention: Option<crate::config::RetentionSettings>,
    listener: Option<String>,
    state: AppState,
    shutdown: CancellationToken,
    /// Cancelled when `run_until_stopped` has finished.
    stopped: CancellationToken,
}

/// Stops a running application as SIGTERM does ([`Application::run_until_stopped`]).
#[derive(Clone)]
pub struct StopHandle {
    shutdown: CancellationToken,
    stopped: CancellationToken,
}

impl StopHandle {
    /// Starts the shutdown and waits until the application has stopped.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        self.stopped.cancelled().await;
    }
}

impl Application {
    /// Connects, migrates, binds. Nothing runs until `run_until_stopped`.
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        Self::build_with_mode(settings, clock, Mode::ApiAndWorker).await
    }

    pub async fn build_with_mode(settings: Settings, clock: SharedClock, mode: Mode) -> anyhow::Result<Self> {
        let db = db::connect(&settings).await?;
        db::migrate(&db).await?;
        check_catalogue(&db).await?;
        Self::build_with_db(settings, clock, db, mode)
    }

    pub fn build_with_db(
        settings: Settings,
        clock: SharedClock,
        db: DatabaseConnection,
        mode: Mode,
    ) -> anyhow::Result<Self> {
        let listener = if mode.api() {
            Some(
                TcpListener::bind(settings.bind)
                    .map_err(|e| anyhow::anyhow!("AP_BIND: cannot listen on {}: {e}", settings.bind))?,
            )
        } else {
            None
        };
        let port = match &listener {
            Some(l) => l.local_addr()?.port(),
            None => 0,
        };
        let mut public_url = settings.public_url.clone();
        // With port 0 (tests), the public URL learns the real port.
        if settings.bind.port() == 0 && public_url.port() == Some(0) {
            let _ = public_url.set_port(Some(port));
        }
        let vault = Vault::new(&settings.master_key);
        let metrics = Metrics::new();
        let wake = Arc::new(Notify::new());
        let shutdown = CancellationToken::new();
        // This instance's worker (if it runs one) is handed the invitations and result pushes its
        // API writes (`delivery::handoff`).
        let owner = format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple());
        // On SQLite the worker's attempt records go into the order writer's transactions
        // (`delivery::record::Job`).
        let (record_via, records) = if mode.worker() && listener.is_some() && settings.is_sqlite() {
            let (queue, jobs) = tokio::sync::mpsc::channel(RECORD_QUEUE);
            (Some(queue), Some(jobs))
        } else {
            (None, None)
        };
        let (handoff, handed) = if mode.worker() && listener.is_some() {
            let (rows, handed) = tokio::sync::mpsc::channel(HANDOFF_CAPACITY);
            let handoff = Handoff {
                owner: owner.clone(),
                lease: settings.delivery.lease,
                rows,
            };
            (Some(handoff), Some(handed))
        } else {
            (None, None)
        };
        let state = AppState {
            retry: RetryPolicy {
                schedule: settings.delivery.retry_schedule.clone(),
                max_age: settings.delivery.max_age,
                jitter: DEFAULT_JITTER,
            },
            db: db.clone(),
            vault: vault.clone(),
            clock: clock.clone(),
            links: Arc::new(
                LinkSigner::new(&settings.master_key, public_url.clone()).with_report_ttl(settings.report_link_ttl),
            ),
            env: settings.env,
            public_url,
            signature_tolerance: settings.signature_tolerance,
            invitations: settings.invitations.clone(),
            max_body_bytes: settings.max_body_bytes,
            allow_private_callbacks: settings.delivery.allow_private_networks,
            ashby_base_url: settings.ashby_base_url.clone(),
            wake: wake.clone(),
            metrics: metrics.clone(),
            handoff: handoff.clone(),
            push_credentials: Arc::default(),
            key_rotation_overlap: settings.key_rotation_overlap,
            delivery_timeout: settings.delivery.timeout,
            mail_outbox_dir: settings.mail.outbox_dir.clone(),
            delivery_targets: Arc::default(),
            delivery_caps: Arc::default(),
        };
        let surfaces = SurfaceParts {
            admin_tokens: web::Data::new(
                AdminTokens::new(&settings.admin_jwt_secret).with_max_ttl(settings.admin_token_max_ttl),
            ),
            csrf: web::Data::new(crate::csrf::CsrfKey::new(
                &settings.master_key,
                settings.public_url.scheme() == "https",
            )),
            console: web::Data::new(settings.console),
            directory: web::Data::new(crate::auth::directory::Directory::new()),
            limits: web::Data::new(crate::ratelimit::RateLimits::new(settings.rate_limits, &db)),
            trusted_proxies: web::Data::new(settings.trusted_proxies.clone()),
            orders: web::Data::new(OrderWriter::start(
                db.clone(),
                OrderWriter::writers_for(&db, settings.db_max_connections),
                wake.clone(),
                handoff,
                records,
            )),
        };

        let worker = if mode.worker() {
            Some(delivery_worker(
                &settings,
                DeliveryContext {
                    db,
                    clock,
                    senders: senders(&settings, &state, vault, &metrics)?,
                    metrics,
                    policy: state.retry.clone(),
                    owner,
                    lease: settings.delivery.lease,
                    record_via,
                    targets: state.delivery_targets.clone(),
                    caps: state.delivery_caps.clone(),
                },
                wake,
                shutdown.clone(),
                handed,
            ))
        } else {
            None
        };
        let pg_listener =
            (mode.worker() && !settings.is_sqlite()).then(|| settings.database_url.expose_secret().to_owned());

        let server = match listener {
            Some(listener) => Some(http_server(listener, &state, surfaces)?),
            None => None,
        };
        let sweep_interval = mode.worker().then_some(settings.expiry_sweep_interval);
        Ok(Self {
            port,
            server,
            worker,
            sweep_interval,
            retention: mode.worker().then_some(settings.retention),
            listener: pg_listener,
            state,
            shutdown,
            stopped: CancellationToken::new(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    pub fn public_url(&self) -> &url::Url {
        &self.state.public_url
    }

    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            shutdown: self.shutdown.clone(),
            stopped: self.stopped.clone(),
        }
    }

    /// Runs until SIGTERM/SIGINT or a `StopHandle`, then shuts down in this order:
    ///
    /// 1. the HTTP server stops accepting connections; requests in progress go on;
    /// 2. the delivery worker stops claiming, lets its attempts in flight finish (within the
    ///    grace period), records them and releases its leases;
    /// 3. the HTTP server finishes the requests in progress (up to 10 s) and stops.
    ///
    /// The worker finishes before the HTTP server because actix-web runs its handlers on runtimes
    /// of its own, one per HTTP worker thread, and a PostgreSQL connection the pool opened for a
    /// handler lives on that runtime: once the HTTP server has stopped, such a connection fails
    /// ("a Tokio 1.x context was found, but it is being shutdown"), and an attempt or a record
    /// that drew it from the pool failed with it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let listener = self.listener.map(|url| {
            tokio::spawn(listen_for_notifications(
                url,
                self.state.wake.clone(),
                self.shutdown.clone(),
            ))
        });
        let worker = self.worker.map(|w| tokio::spawn(w.run()));
        let sweeper = self
            .sweep_interval
            .map(|every| tokio::spawn(sweep_expired(self.state.clone(), every, self.shutdown.clone())));
        let retention = self
            .retention
            .map(|settings| tokio::spawn(sweep_retention(self.state.clone(), settings, self.shutdown.clone())));
        let http = self.server.as_ref().map(Server::handle);
        let mut server = self.server.map(tokio::spawn);
        let mut result = Ok(());
        tokio::select! {
            _ = shutdown_signal() => {}
            _ = self.shutdown.cancelled() => {}
            ended = async {
                match server.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            } => {
                // The HTTP server ended by itself (it failed): stop the rest.
                server = None;
                result = ended.unwrap_or_else(|e| Err(std::io::Error::other(e)));
            }
        }
        if let Some(http) = &http {
            http.pause().await;
        }
        self.shutdown.cancel();
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        if let Some(listener) = listener {
            let _ = listener.await;
        }
        if let Some(sweeper) = sweeper {
            let _ = sweeper.await;
        }
        if let Some(retention) = retention {
            let _ = retention.await;
        }
        if let Some(http) = http {
            http.stop(true).await;
        }
        if let Some(server) = server {
            result = server.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        }
        self.stopped.cancel();
        result
    }
}

/// Each delivery kind's sender, as the settings configure them.
fn senders(settings: &Settings, state: &AppState, vault: Vault, metrics: &Arc<Metrics>) -> anyhow::Result<Senders> {
    let db = &state.db;
    let d = &settings.delivery;
    Ok(Senders::standard(
        db.clone(),
        vault,
        HttpSender::new(d.timeout, d.allow_private_networks)?,
        Mailer::new(
            settings.mail.smtp_url.as_deref(),
            settings.mail.outbox_dir.clone(),
            &settings.mail.from,
            d.timeout,
            d.concurrency,
        )?,
        metrics.clone(),
        state.push_credentials.clone(),
    ))
}

/// The delivery worker, taking the rows this instance's API hands over when it serves one.
fn delivery_worker(
    settings: &Settings,
    ctx: DeliveryContext,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    handed: Option<tokio::sync::mpsc::Receiver<crate::entity::delivery::Model>>,
) -> Worker {
    let d = &settings.delivery;
    let config = WorkerConfig {
        concurrency: d.concurrency,
        poll_interval: d.poll_interval,
        attempt_timeout: d.timeout,
        shutdown_grace: d.timeout + std::time::Duration::from_secs(2),
        recorders: WorkerConfig::recorders_for(&ctx.db, settings.db_max_connections),
        per_target: d.per_target,
        breaker_failures: d.breaker_failures,
    };
    let worker = Worker::new(ctx, wake, config, shutdown);
    match handed {
        Some(rows) => worker.with_handoff(rows),
        None => worker,
    }
}

/// What only some surfaces use, each registered as its own `web::Data` beside the app state.
struct SurfaceParts {
    /// Verifies admin bearer tokens (admin API).
    admin_tokens: web::Data<AdminTokens>,
    /// Issues and checks the candidate forms' CSRF tokens (candidate pages).
    csrf: web::Data<crate::csrf::CsrfKey>,
    /// The console's session and lockout settings.
    console: web::Data<crate::config::ConsoleSettings>,
    /// Provider keys → organisation, integrator secret and offer, cached briefly (Recruitment
    /// API; the admin API clears it).
    directory: web::Data<crate::auth::directory::Directory>,
    /// Writes orders, several per transaction under load (Recruitment API).
    orders: web::Data<OrderWriter>,
    /// Request rate limits (Recruitment API, Ashby endpoints).
    limits: web::Data<crate::ratelimit::RateLimits>,
    /// Whose `X-Forwarded-For` names the client (the limits, the console's sign-in).
    trusted_proxies: web::Data<crate::http::client::TrustedProxies>,
}

/// The HTTP server of every surface, on `listener`.
fn http_server(
    listener: TcpListener,
    state: &AppState,
    surfaces: SurfaceParts,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(state.clone());
    // The request middleware records into the metrics without knowing the app state.
    let metrics = web::Data::from(state.metrics.clone());
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(metrics.clone())
            .app_data(surfaces.admin_tokens.clone())
            .app_data(surfaces.csrf.clone())
            .app_data(surfaces.console.clone())
            .app_data(surfaces.directory.clone())
            .app_data(surfaces.orders.clone())
            .app_data(surfaces.limits.clone())
            .app_data(surfaces.trusted_proxies.clone())
            .app_data(web::PathConfig::default().error_handler(|e, _| ApiError::bad_request(e.to_string()).into()))
            .app_data(web::QueryConfig::default().error_handler(|e, _| ApiError::bad_request(e.to_string()).into()))
            .wrap(from_fn(admin::personal_data::trail))
            .wrap(from_fn(crate::console::trail))
            .wrap(from_fn(recruitment::throttle))
            .wrap(from_fn(crate::ashby::throttle))
            .wrap(from_fn(telemetry::request_span))
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            // Outermost, so that every answer carries it, refusals by the middleware above included.
            .wrap(actix_web::middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
            .configure(recruitment::configure)
            .configure(admin::configure)
            .configure(crate::ashby::configure)
            .configure(crate::candidate::configure)
            .configure(crate::console::configure)
            .configure(health::configure)
            .configure(openapi::configure)
            .default_service(web::to(fallback))
    })
    .listen(listener)?
    .shutdown_timeout(10)
    // `run_until_stopped` handles SIGTERM/SIGINT: it orders the shutdown.
    .disable_signals()
    .run())
}

/// Start-up refuses a lens whose competencies the catalogue cannot serve in an offered locale.
pub async fn check_catalogue(db: &DatabaseConnection) -> anyhow::Result<()> {
    use crate::entity::{lens, lens_competency, locale};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let catalog = crate::catalog::Catalog::get();
    let locales: Vec<String> = locale::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.code)
        .collect();
    for lens in lens::Entity::find().all(db).await? {
        let keys: Vec<String> = lens_competency::Entity::find()
            .filter(lens_competency::Column::LensId.eq(lens.id))
            .all(db)
            .await?
            .into_iter()
            .map(|c| c.key)
            .collect();
        catalog
            .check_lens(&lens.name, keys.iter().map(String::as_str), &locales)
            .map_err(|e| anyhow::anyhow!("the competency catalogue cannot serve {e}"))?;
    }
    Ok(())
}

/// Moves invitations past `AP_INVITATION_TTL` to `expired` (telling Ashby), writes the
/// reminders due (`AP_INVITATION_REMINDERS`) and forgets expired accepted signatures, every
/// `every`.
async fn sweep_expired(state: AppState, every: std::time::Duration, shutdown: CancellationToken) {
    loop {
        match crate::assessment::reminders::send_due(
            &state.db,
            &state.links,
            &state.invitations.reminders,
            state.clock.now(),
            500,
        )
        .await
        {
            Ok(0) => {}
            Ok(written) => {
                tracing::info!(written, "wrote invitation reminders");
                state.wake_worker();
            }
            Err(e) => tracing::warn!(error = %e, "reminder sweep failed"),
        }
        match crate::assessment::lifecycle::expire_due(&state.db, state.clock.now(), &state.ashby_base_url, 500).await {
            Ok((0, _)) => {}
            Ok((moved, enqueued)) => {
                tracing::info!(moved, "expired overdue invitations");
                if enqueued {
                    state.wake_worker();
                }
                continue; // there may be more
            }
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
        }
        if let Err(e) = crate::auth::replay::forget_expired(&state.db, state.clock.now()).await {
            tracing::warn!(error = %e, "could not forget expired accepted signatures");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Rows a retention sweep changes per transaction at most, so that it never holds SQLite's one
/// writer for long.
const RETENTION_BATCH: u64 = 200;

/// Erases assessments finished longer than `AP_RETENTION_PERIOD` ago and deletes settled outbox
/// rows older than `AP_DELIVERY_RETENTION`, in bounded batches, every `AP_RETENTION_SWEEP_INTERVAL`.
async fn sweep_retention(state: AppState, settings: crate::config::RetentionSettings, shutdown: CancellationToken) {
    let chrono = |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    loop {
        let now = state.clock.now();
        if let Some(period) = settings.period {
            loop {
                match crate::assessment::personal_data::erase_finished_before(
                    &state.db,
                    now - chrono(period),
                    RETENTION_BATCH,
                    now,
                )
                .await
                {
                    Ok(erased) => {
                        if erased.assessments > 0 {
                            crate::delivery::mail::forget(&state.mail_outbox_dir, &erased.messages).await;
                            tracing::info!(
                                assessments = erased.assessments,
                                candidates = erased.candidates,
                                "retention: erased assessments past the retention period"
                            );
                        }
                        if erased.assessments < RETENTION_BATCH {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "retention sweep failed");
                        break;
                    }
                }
                if shutdown.is_cancelled() {
                    return;
                }
            }
        }
        if let Some(keep) = settings.deliveries {
            loop {
                match crate::delivery::outbox::delete_settled_before(&state.db, now - chrono(keep), RETENTION_BATCH)
                    .await
                {
                    Ok(deleted) if deleted > 0 => {
                        tracing::info!(deleted, "retention: deleted settled outbox rows");
                        if deleted < RETENTION_BATCH {
                            break;
                        }
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox retention sweep failed");
                        break;
                    }
                }
                if shutdown.is_cancelled() {
                    return;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.sweep_interval) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into())
}

/// What a request that no handler took is told, in its surface's format: `405` with `Allow` when
/// the OpenAPI document has the path under other methods, otherwise `404`; under `/console`, the
/// console's HTML 404 (its own paths answer a wrong method with an HTML 405 themselves).
async fn fallback(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    if req.path() == "/console" || req.path().starts_with("/console/") {
        return crate::console::not_found();
    }
    match crate::openapi::allowed_methods(req.path()) {
        Some(methods) if req.path().starts_with("/ashby/") => {
            crate::ashby::error::AshbyError::MethodNotAllowed(methods).error_response()
        }
        Some(methods) => ApiError::MethodNotAllowed(methods).error_response(),
        None => ApiError::NotFound("No such endpoint.".into()).error_response(),
    }
}

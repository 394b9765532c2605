//! The delivery worker: claims due rows with a lease, sends them, records each attempt.
//!
//! Claiming is one `UPDATE … RETURNING`: on PostgreSQL its row selection takes
//! `FOR UPDATE SKIP LOCKED`, so several instances share the rows without taking the same one;
//! on SQLite the single writer makes it atomic. A row is only claimable when no earlier pending
//! row has the same ordering key (assessment + target), which keeps those calls in order. A
//! crashed instance's leases run out and another instance takes the rows.
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
    Statement,
};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::channel::recv_or_never;
use crate::clock::SharedClock;
use crate::crypto::Vault;
use crate::delivery::due::Due;
use crate::delivery::mail::Mailer;
use crate::delivery::outbox::{self, DeliveryState, EmailPayload, Kind};
use crate::delivery::pace::Pace;
use crate::delivery::policy::{RetryPolicy, Verdict};
use crate::delivery::push::{HttpSender, Post};
use crate::delivery::record;
use crate::delivery::report::AttemptReport;
use crate::entity::{delivery, integrator, organization};
use crate::metrics::Metrics;
use crate::secrets::{self, CallbackAuth};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// Longest sleep when idle (new rows wake the worker at once anyway).
    pub poll_interval: Duration,
    /// The longest one attempt takes (`AP_DELIVERY_TIMEOUT`, shorter than the lease).
    pub attempt_timeout: Duration,
    /// On shutdown, how long in-flight attempts may take to finish.
    pub shutdown_grace: Duration,
    /// Batches of attempts recorded at once during a backlog ([`WorkerConfig::recorders_for`]).
    pub recorders: usize,
}

impl WorkerConfig {
    /// Concurrent recording suited to a database: one batch at a time on SQLite (one writer); on
    /// PostgreSQL up to three batches at once during a backlog, never more than a third of the
    /// pool. Draining 10,000 rows with 1/2/3/4 at once: 3,406–3,824 / 4,654–4,935 /
    /// 5,842–6,100 / 5,228–5,509 per second.
    pub fn recorders_for(db: &DatabaseConnection, pool_size: u32) -> usize {
        match db.get_database_backend() {
            DbBackend::Sqlite => 1,
            _ => (pool_size as usize / 3).clamp(1, 3),
        }
    }
}

/// Everything an attempt needs; cheap to clone into each task.
#[derive(Clone)]
pub struct DeliveryContext {
    pub db: DatabaseConnection,
    pub clock: SharedClock,
    pub vault: Vault,
    pub http: HttpSender,
    pub mailer: Mailer,
    pub metrics: Arc<Metrics>,
    pub policy: RetryPolicy,
    pub owner: String,
    pub lease: Duration,
    /// Integrator credentials by organisation, kept for `CREDENTIAL_TTL`.
    pub credentials: CredentialCache,
    /// Where attempts are recorded when not in a transaction of the worker's own: the order
    /// writer's queue (`record::Job`), on SQLite when this instance serves the API.
    pub record_via: Option<mpsc::Sender<record::Job>>,
}

/// How long decrypted integrator credentials are reused: a changed secret or callback auth
/// applies to pushes within this time.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(30);

pub type CredentialCache = Arc<std::sync::Mutex<std::collections::HashMap<Uuid, (Instant, Arc<Credentials>)>>>;

/// What a result push needs of its integrator.
pub struct Credentials {
    secret: Vec<u8>,
    auth: CallbackAuth,
}

pub struct Worker {
    /// Shared by the worker's loop, its claims, its recorder and every attempt task (the
    /// context is ~1.3 KB; a copy in each ~7 KB attempt task was copied again by tokio).
    ctx: Arc<DeliveryContext>,
    wake: Arc<Notify>,
    /// Rows written already leased to this worker (`recruitment::writer::Handoff`).
    handed: Option<mpsc::Receiver<delivery::Model>>,
    config: WorkerConfig,
    shutdown: CancellationToken,
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The claim: up to `limit` due, unleased rows whose ordering key has no earlier pending row,
/// oldest due first, leased to `owner` until `until`.
///
/// The ordering check is a scalar subquery, not `NOT EXISTS`, and says "pending" as the ordering
/// index does (migration 5): PostgreSQL turns `NOT EXISTS` into an anti join and, when its
/// statistics say nothing is pending, scans every pending row per candidate.
pub fn claim_statement(
    backend: DbBackend,
    owner: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: usize,
) -> Statement {
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let mut sql = format!(
        "UPDATE deliveries SET lease_owner = $1, lease_expires_at = $2 \
         WHERE id IN (SELECT d.id FROM deliveries d \
           WHERE d.state = 'pending' AND d.next_attempt_at <= $3 \
             AND (d.lease_expires_at IS NULL OR d.lease_expires_at < $3) \
             AND (SELECT e.id FROM deliveries e WHERE e.ordering_key = d.ordering_key \
               AND e.state NOT IN {not_pending} AND e.id < d.id LIMIT 1) IS NULL \
           ORDER BY d.next_attempt_at LIMIT $4 {lock}) \
         RETURNING {columns}",
        not_pending = DeliveryState::NOT_PENDING_SQL,
        columns = Due::COLUMNS,
    );
    if backend == DbBackend::Sqlite {
        sql = sql.replace('$', "?");
    }
    let values: Vec<sea_orm::Value> = vec![owner.into(), until.into(), now.into(), (limit as i64).into()];
    Statement::from_sql_and_values(backend, sql, values)
}

impl DeliveryContext {
    /// Leases up to `limit` due rows to this worker.
    pub async fn claim(&self, limit: usize) -> Result<Vec<Due>, DbErr> {
        let now = self.clock.now();
        let backend = self.db.get_database_backend();
        let claim = claim_statement(backend, &self.owner, now + chrono(self.lease), now, limit);
        // On PostgreSQL the claim's plan is pinned for its transaction, whose commit does not
        // wait for the disk (`outbox::begin_claim`); SQLite needs no transaction around one
        // statement.
        let rows = if backend == DbBackend::Postgres {
            let txn = crate::db::begin_write(&self.db).await?;
            outbox::begin_claim(&txn).await?;
            let rows = txn.query_all_raw(claim).await?;
            txn.commit().await?;
            rows
        } else {
            self.db.query_all_raw(claim).await?
        };
        rows.iter().map(|r| Due::read(r, backend)).collect()
    }

    /// When the next pending row falls due, if any.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        let due: Option<Option<DateTime<Utc>>> = delivery::Entity::find()
            .select_only()
            .column_as(delivery::Column::NextAttemptAt.min(), "due")
            .filter(delivery::Column::State.eq(DeliveryState::Pending.as_str()))
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(due.flatten())
    }

    /// Makes the rows this worker leased and did not finish claimable again at once.
    pub async fn release_leases(&self) -> Result<u64, DbErr> {
        let result = delivery::Entity::update_many()
            .col_expr(delivery::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(
                delivery::Column::LeaseExpiresAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(delivery::Column::LeaseOwner.eq(self.owner.as_str()))
            .filter(delivery::Column::State.eq(DeliveryState::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }

    async fn send(&self, row: &Due, now: DateTime<Utc>) -> AttemptReport {
        match Kind::parse(&row.kind) {
            Some(Kind::Result) => self.send_result(row, now).await,
            Some(Kind::AshbyUpdate) => self.send_ashby_update(row, now).await,
            Some(Kind::InvitationEmail) => match serde_json::from_str::<EmailPayload>(&row.payload) {
                Ok(mail) => self.mailer.send(&mail, &row.id.to_string()).await,
                Err(e) => final_failure(format!("stored e-mail is unreadable: {e}")),
            },
            None => final_failure(format!("unknown delivery kind '{}'", row.kind)),
        }
    }

    /// The integrator's signing secret and callback auth for a row's organisation, from the
    /// cache when fresh (`CREDENTIAL_TTL`), else from the database.
    async fn credentials(&self, row: &Due) -> Result<Arc<Credentials>, String> {
        let org_id = row.organization_id.ok_or("the delivery names no organization")?;
        if let Some((at, creds)) = self.credentials.lock().unwrap_or_else(|p| p.into_inner()).get(&org_id)
            && at.elapsed() < CREDENTIAL_TTL
        {
            return Ok(creds.clone());
        }
        let integrator = self.integrator_of(row).await?;
        let secret =
            secrets::open_integrator_secret(&self.vault, &integrator).map_err(|e| format!("integrator secret: {e}"))?;
        let auth =
            secrets::open_callback_auth(&self.vault, &integrator).map_err(|e| format!("callback credentials: {e}"))?;
        let creds = Arc::new(Credentials { secret, auth });
        self.credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(org_id, (Instant::now(), creds.clone()));
        Ok(creds)
    }

    async fn send_result(&self, row: &Due, now: DateTime<Utc>) -> AttemptReport {
        let creds = match self.credentials(row).await {
            Ok(c) => c,
            Err(e) => return AttemptReport::failed(e),
        };
        let key = row.id.to_string();
        self.http
            .post(Post {
                url: &row.target,
                body: row.payload.as_bytes(),
                idempotency_key: &key,
                signing_secret: Some(&creds.secret),
                auth: &creds.auth,
                now,
            })
            .await
    }

    async fn send_ashby_update(&self, row: &Due, now: DateTime<Utc>) -> AttemptReport {
        let org_id = match row.organization_id {
            Some(id) => id,
            None => return final_failure("the delivery names no organization".into()),
        };
        let org = match organization::Entity::find_by_id(org_id).one(&self.db).await {
            Ok(Some(org)) => org,
            Ok(None) => return final_failure("the organization no longer exists".into()),
            Err(e) => return AttemptReport::failed(format!("database: {e}")),
        };
        let api_key = match secrets::open_ashby_key(&self.vault, &org) {
            Ok(Some(k)) => k,
            // The customer may still add it: retried until the deadline.
            Ok(None) => return AttemptReport::failed("the organization has no Ashby API key configured"),
            Err(e) => return AttemptReport::failed(format!("Ashby API key: {e}")),
        };
        let report = crate::delivery::ashby_update::client::post_update(
            &self.http,
            &row.target,
            &api_key,
            row.payload.as_bytes(),
            &row.id.to_string(),
            now,
        )
        .await;
        if matches!(report.status, Some(401 | 403)) {
            self.metrics.ashby_auth_failures.inc();
        }
        report
    }

    async fn integrator_of(&self, row: &Due) -> Result<integrator::Model, String> {
        let org_id = row.organization_id.ok_or("the delivery names no organization")?;
        let org = organization::Entity::find_by_id(org_id)
            .one(&self.db)
            .await
            .map_err(|e| format!("database: {e}"))?
            .ok_or("the organization no longer exists")?;
        integrator::Entity::find_by_id(org.integrator_id)
            .one(&self.db)
            .await
            .map_err(|e| format!("database: {e}"))?
            .ok_or_else(|| "the integrator no longer exists".to_owned())
    }

    /// What an attempt means for its row: the new state, the next attempt time, the outcome.
    fn judge(&self, row: &Due, started_at: DateTime<Utc>, report: &AttemptReport, finished: DateTime<Utc>) -> Judged {
        let attempt_no = row.attempts + 1;
        let first = row.first_attempt_at.unwrap_or(started_at);
        let deadline = row.deadline_at.unwrap_or_else(|| self.policy.deadline(first));
        let failures = u32::try_from(attempt_no - row.replay_base).unwrap_or(1);
        let (state, next, outcome) = match report.verdict {
            Verdict::Delivered => (DeliveryState::Delivered, row.next_attempt_at, "delivered"),
            Verdict::Final => (DeliveryState::Dead, row.next_attempt_at, "dead"),
            Verdict::Retry => {
                match self.policy.next_attempt(
                    failures,
                    deadline,
                    started_at,
                    finished,
                    report.retry_after,
                    rand::random::<f64>(),
                ) {
                    Some(at) => (DeliveryState::Pending, at, "retry"),
                    None => (DeliveryState::Dead, row.next_attempt_at, "dead"),
                }
            }
        };
        Judged {
            attempt_no,
            first,
            deadline,
            state,
            next,
            outcome,
        }
    }

    /// Writes a batch of attempts and their rows' new states in one transaction
    /// (`delivery::record`): each row is updated only while still pending and leased to this
    /// worker, so a row cancelled meanwhile (Ashby cancelled the assessment) stays cancelled.
    /// With `record_via`, the transaction is the order writer's (`record::Job`).
    pub async fn record(&self, batch: &[Attempted]) -> Result<Recorded, DbErr> {
        let finished = self.clock.now();
        let outcomes: Vec<record::Outcome> = batch
            .iter()
            .map(|a| {
                let j = self.judge(&a.row, a.started_at, &a.report, finished);
                record::Outcome {
                    delivery_id: a.row.id,
                    ordering_key: a.row.ordering_key.clone(),
                    attempt_no: j.attempt_no,
                    started_at: a.started_at,
                    duration_ms: i32::try_from(a.elapsed.as_millis()).unwrap_or(i32::MAX),
                    status: a.report.status.map(i32::from),
                    outcome: j.outcome,
                    error: a.report.error.clone(),
                    excerpt: a.report.excerpt.clone(),
                    state: j.state,
                    next_attempt_at: j.next,
                    first_attempt_at: j.first,
                    deadline_at: j.deadline,
                }
            })
            .collect();
        let summary: Vec<&'static str> = outcomes.iter().map(|o| o.outcome).collect();
        let retrying = outcomes.iter().any(|o| o.state == DeliveryState::Pending);
        let written = match &self.record_via {
            Some(queue) => match record::hand_to(queue, &self.owner, finished, outcomes).await {
                Ok(written) => written?,
                // The writer has stopped (the API is shutting down): written here instead.
                Err(outcomes) => record::write_alone(&self.db, &self.owner, finished, &outcomes).await?,
            },
            None => record::write_alone(&self.db, &self.owner, finished, &outcomes).await?,
        };
        for id in &written.left_alone {
            tracing::warn!(delivery_id = %id, "the row changed during the attempt (lease ran out, or cancelled); its state was left alone");
        }
        Ok(Recorded {
            outcomes: summary,
            unblocked: written.unblocked,
            retrying,
        })
    }

    /// One attempt of one claimed row; the result goes to the recorder.
    pub async fn attempt(&self, row: Due) -> Attempted {
        let span = tracing::info_span!(
            "delivery",
            delivery_id = %row.id,
            kind = %row.kind,
            assessment_id = row.assessment_id.map(|a| a.to_string()).unwrap_or_default(),
            attempt = row.attempts + 1,
        );
        async move {
            let started_at = self.clock.now();
            let timer = Instant::now();
            // Boxed: the sending future (reqwest's and hyper's state) is ~5 KB, and unboxed it
            // made every attempt task that size, copied whole as tokio spawns, polls and
            // finishes the task (bench/README.md).
            let report = Box::pin(self.send(&row, started_at)).await;
            Attempted {
                elapsed: timer.elapsed(),
                row,
                started_at,
                report,
                span: tracing::Span::current(),
            }
        }
        .instrument(span)
        .await
    }

    /// Records attempts as they come, many per transaction: the first that arrives, plus
    /// whatever else is already waiting (up to `RECORD_BATCH`).
    ///
    /// A full batch means a backlog (a drain): it is recorded alongside up to `recorders - 1`
    /// others, since two batches never share a row and on PostgreSQL one batch's round trips
    /// can overlap another's. A smaller batch waits for those and is recorded in turn, so that a
    /// steady stream keeps one transaction at a time with as many attempts in each as have
    /// queued meanwhile: recording that stream concurrently cost the order writers on the same
    /// database a third of their throughput (bench/README.md).
    async fn run_recorder(
        self: Arc<Self>,
        mut attempts: mpsc::Receiver<Attempted>,
        wake: Arc<Notify>,
        recorders: usize,
    ) {
        let mut in_flight = JoinSet::new();
        loop {
            let mut batch = Vec::with_capacity(RECORD_BATCH);
            if attempts.recv_many(&mut batch, RECORD_BATCH).await == 0 {
                break;
            }
            while in_flight.try_join_next().is_some() {}
            if batch.len() == RECORD_BATCH && recorders > 1 {
                while in_flight.len() >= recorders {
                    in_flight.join_next().await;
                }
                let (ctx, wake) = (self.clone(), wake.clone());
                in_flight.spawn(async move { ctx.record_and_report(&batch, &wake).await });
            } else {
                while in_flight.join_next().await.is_some() {}
                self.record_and_report(&batch, &wake).await;
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    /// Records a batch, wakes the worker when it freed a row that waited for its ordering key's
    /// earlier row (claimable now) or put a row back for a retry (the worker's sleep is
    /// recomputed), and logs and counts each attempt. Otherwise the worker sleeps on: a claim
    /// per batch that finds nothing costs the database a statement.
    async fn record_and_report(&self, batch: &[Attempted], wake: &Notify) {
        match self.record(batch).await {
            Ok(recorded) => {
                if recorded.unblocked || recorded.retrying {
                    wake.notify_one();
                }
                for (a, outcome) in batch.iter().zip(recorded.outcomes) {
                    self.metrics
                        .record_delivery(&a.row.kind, outcome, a.elapsed.as_secs_f64());
                    let _entered = a.span.enter();
                    let (status, error) = (a.report.status, a.report.error.as_deref().unwrap_or(""));
                    match outcome {
                        "delivered" => {
                            tracing::info!(status, elapsed_ms = a.elapsed.as_millis() as u64, "delivered")
                        }
                        "dead" => tracing::warn!(status, error, "gave up: the delivery is dead"),
                        _ => tracing::info!(status, error, "attempt failed; will retry"),
                    }
                }
            }
            Err(e) => tracing::error!(
                error = %e,
                attempts = batch.len(),
                "could not record attempts; their leases will run out and the rows be retried"
            ),
        }
    }
}

/// What recording a batch found.
pub struct Recorded {
    /// Each attempt's outcome (`delivered`, `dead`, `retry`), in batch order.
    pub outcomes: Vec<&'static str>,
    /// A row became final and a later row with its ordering key is pending.
    pub unblocked: bool,
    /// A row stays pending for another attempt.
    pub retrying: bool,
}

/// Attempts written per transaction at most.
const RECORD_BATCH: usize = 256;

/// An attempt made, waiting to be recorded.
pub struct Attempted {
    pub row: Due,
    pub started_at: DateTime<Utc>,
    pub elapsed: Duration,
    pub report: AttemptReport,
    span: tracing::Span,
}

struct Judged {
    attempt_no: i32,
    first: DateTime<Utc>,
    deadline: DateTime<Utc>,
    state: DeliveryState,
    next: DateTime<Utc>,
    outcome: &'static str,
}

fn final_failure(message: String) -> AttemptReport {
    let mut report = AttemptReport::failed(message);
    report.verdict = Verdict::Final;
    report
}

impl Worker {
    pub fn new(ctx: DeliveryContext, wake: Arc<Notify>, config: WorkerConfig, shutdown: CancellationToken) -> Self {
        Self {
            ctx: Arc::new(ctx),
            wake,
            handed: None,
            config,
            shutdown,
        }
    }

    /// Takes rows written already leased to this worker from `rows`.
    pub fn with_handoff(mut self, rows: mpsc::Receiver<delivery::Model>) -> Self {
        self.handed = Some(rows);
        self
    }

    async fn idle_wait(&self) -> Duration {
        let poll = self.config.poll_interval;
        match self.ctx.next_due().await {
            Ok(Some(due)) => {
                let until = (due - self.ctx.clock.now()).to_std().unwrap_or(Duration::ZERO);
                // Due already but not claimable (leased elsewhere, or waiting its turn): poll.
                if until.is_zero() { poll } else { until.min(poll) }
            }
            Ok(None) => poll,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the next due time");
                poll
            }
        }
    }

    /// Claims in batches and keeps claimed rows waiting, so that a finished attempt is followed
    /// by the next at once and one claim serves many attempts. The rows in hand (in flight,
    /// waiting, being claimed) go up to `ahead` times the concurrency, where `ahead` follows the
    /// recent attempt times (`delivery::pace`: far ahead while attempts are quick, never so far
    /// that waiting rows outlast their lease); a claim is made when they have fallen to half of
    /// that, and asks for the difference. The claim runs beside the loop, so attempts finishing
    /// meanwhile are followed at once rather than after it (on SQLite the loop spent most of a
    /// drain awaiting its claims). A row waiting here is leased and still pending, so its
    /// ordering key's later rows stay behind it; on shutdown the claim in flight is awaited and
    /// every lease not finished is released.
    pub async fn run(mut self) {
        let mut handed = self.handed.take();
        let concurrency = self.config.concurrency.max(1);
        let mut pace = Pace::new(self.config.attempt_timeout);
        let mut most_in_hand;
        let mut tasks: JoinSet<Duration> = JoinSet::new();
        let mut waiting: VecDeque<Due> = VecDeque::new();
        let mut claiming: Option<Claiming> = None;
        // Whether a claim may find rows: false after a claim came back short, true again on a
        // wake-up (a new row, a recorded attempt, also during a claim) or when the sleep ends.
        let mut may_find = true;
        let (to_recorder, from_attempts) = mpsc::channel(RECORD_BATCH * 4);
        let recorder = tokio::spawn(self.ctx.clone().run_recorder(
            from_attempts,
            self.wake.clone(),
            self.config.recorders,
        ));
        // Rows in flight, waiting here, and being claimed.
        let in_hand = |tasks: &JoinSet<Duration>, waiting: &VecDeque<_>, claiming: &Option<Claiming>| {
            tasks.len() + waiting.len() + claiming.as_ref().map_or(0, |c| c.want)
        };
        tracing::info!(owner = %self.ctx.owner, "delivery worker started");
        loop {
            if self.shutdown.is_cancelled() {
                break;
            }
            while let Some(finished) = tasks.try_join_next() {
                if let Ok(took) = finished {
                    pace.observe(took);
                }
            }
            most_in_hand = pace.ahead(self.ctx.lease) * concurrency;
            // Rows handed over are taken while there is room; the rest wait in the handoff.
            if let Some(rows) = handed.as_mut() {
                while in_hand(&tasks, &waiting, &claiming) < most_in_hand
                    && let Ok(row) = rows.try_recv()
                {
                    waiting.push_back(row.into());
                }
            }
            let in_hand_now = in_hand(&tasks, &waiting, &claiming);
            if claiming.is_none() && may_find && in_hand_now <= most_in_hand / 2 {
                let want = most_in_hand - in_hand_now;
                let ctx = self.ctx.clone();
                claiming = Some(Claiming {
                    want,
                    task: tokio::spawn(async move { ctx.claim(want).await }),
                });
                // Until the claim says otherwise; a wake-up meanwhile sets it again.
                may_find = false;
            }
            while tasks.len() < concurrency
                && let Some(row) = waiting.pop_front()
            {
                // A row that waited so long that its lease could run out during the attempt is
                // left to its lease: sent now, another instance might send it too.
                let latest_start = row
                    .lease_expires_at
                    .map(|lease| lease - chrono(self.config.attempt_timeout));
                if latest_start.is_some_and(|latest| self.ctx.clock.now() > latest) {
                    tracing::debug!(delivery_id = %row.id, "lease too short to attempt; left to run out");
                    continue;
                }
                let ctx = self.ctx.clone();
                let to_recorder = to_recorder.clone();
                tasks.spawn(async move {
                    let attempted = ctx.attempt(row).await;
                    let took = attempted.elapsed;
                    // The recorder outlives every attempt task; a send can only fail
                    // when the process is going down, and then the lease runs out.
                    let _ = to_recorder.send(attempted).await;
                    took
                });
            }
            let wait = if !tasks.is_empty() || may_find || claiming.is_some() {
                self.config.poll_interval
            } else {
                self.idle_wait().await
            };
            let room = in_hand(&tasks, &waiting, &claiming) < most_in_hand;
            tokio::select! {
                row = recv_or_never(&mut handed), if room => waiting.push_back(row.into()),
                claimed = claim_done(&mut claiming) => {
                    let Some(claim) = claiming.take() else { continue };
                    match claimed {
                        Ok(rows) => {
                            may_find |= rows.len() == claim.want;
                            waiting.extend(rows);
                        }
                        Err(e) => tracing::warn!(error = %e, "claiming deliveries failed"),
                    }
                }
                _ = self.wake.notified() => may_find = true,
                Some(finished) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok(took) = finished {
                        pace.observe(took);
                    }
                }
                _ = tokio::time::sleep(wait) => may_find = true,
                _ = self.shutdown.cancelled() => break,
            }
        }
        // No more rows handed over: requests that reserve a place from now on write their rows
        // unleased, for any worker. Rows already handed over are leased to this worker and
        // committed, so the release below frees them; places reserved before the close are
        // awaited below, so that their rows are committed before the release too.
        if let Some(rows) = handed.as_mut() {
            rows.close();
        }
        // A claim in flight commits before the leases are released, so none stays leased.
        if let Some(claim) = claiming.take() {
            let _ = claim.task.await;
        }
        tracing::info!(in_flight = tasks.len(), "delivery worker stopping");
        let drained = tokio::time::timeout(self.config.shutdown_grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        // A request holding a place is inside its transaction; `recv` ends once every place
        // has been used or given back (bounded: a stuck request's row waits for its lease).
        if let Some(mut rows) = handed.take() {
            let _ = tokio::time::timeout(self.config.shutdown_grace, async {
                while rows.recv().await.is_some() {}
            })
            .await;
        }
        // Every attempt made is recorded before the leases go.
        drop(to_recorder);
        let _ = recorder.await;
        match self.ctx.release_leases().await {
            Ok(n) => tracing::info!(released = n, "delivery worker stopped"),
            Err(e) => tracing::warn!(error = %e, "could not release leases; they will run out"),
        }
    }
}

/// A claim running beside the worker's loop.
struct Claiming {
    want: usize,
    task: tokio::task::JoinHandle<Result<Vec<Due>, DbErr>>,
}

/// The claim in flight's rows when it ends, or never when there is none.
async fn claim_done(claiming: &mut Option<Claiming>) -> Result<Vec<Due>, DbErr> {
    match claiming {
        Some(claim) => match (&mut claim.task).await {
            Ok(result) => result,
            Err(e) => Err(DbErr::Custom(format!("the claim task failed: {e}"))),
        },
        None => std::future::pending().await,
    }
}

/// Wakes this instance's worker when another instance adds a row (PostgreSQL LISTEN/NOTIFY).
pub async fn listen_for_notifications(database_url: String, wake: Arc<Notify>, shutdown: CancellationToken) {
    use sea_orm::sqlx::postgres::PgListener;
    let mut backoff = Duration::from_millis(500);
    while !shutdown.is_cancelled() {
        let mut listener = match PgListener::connect(&database_url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; polling meanwhile");
                tokio::select! { _ = tokio::time::sleep(backoff) => {}, _ = shutdown.cancelled() => return }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        if let Err(e) = listener.listen(crate::delivery::outbox::NOTIFY_CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed");
            continue;
        }
        backoff = Duration::from_millis(500);
        loop {
            tokio::select! {
                message = listener.recv() => match message {
                    Ok(_) => wake.notify_one(),
                    Err(e) => { tracing::warn!(error = %e, "LISTEN connection lost"); break; }
                },
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

//! The delivery worker's loop: it keeps rows in hand (claimed with a lease, `delivery::claim`,
//! or handed over as they are written, `delivery::handoff`), starts an attempt for each while
//! there is room (each kind's `delivery::senders::Sender` does the sending), and passes what
//! each attempt found to the recorder (`delivery::recorder`), which judges and writes it.
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::channel::recv_or_never;
use crate::clock::SharedClock;
use crate::delivery::caps::{self, IntegratorCaps};
use crate::delivery::claim;
use crate::delivery::due::Due;
use crate::delivery::gate::{Admission, Answer, Gate, TargetBoard, TargetKey};
use crate::delivery::pace::Pace;
use crate::delivery::policy::RetryPolicy;
use crate::delivery::record;
use crate::delivery::recorder::{Attempted, RECORD_BATCH};
use crate::delivery::senders::Senders;
use crate::entity::delivery;
use crate::metrics::Metrics;

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
    /// Attempts in flight to one target at once (`delivery::gate`).
    pub per_target: usize,
    /// Attempts in a row without an answer that open a target's breaker.
    pub breaker_failures: u32,
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
    /// Each kind's sender.
    pub senders: Senders,
    pub metrics: Arc<Metrics>,
    pub policy: RetryPolicy,
    pub owner: String,
    pub lease: Duration,
    /// Where attempts are recorded when not in a transaction of the worker's own: the order
    /// writer's queue (`record::Job`), on SQLite when this instance serves the API.
    pub record_via: Option<mpsc::Sender<record::Job>>,
    /// Where the worker shows its targets' states (the admin API and metrics read them).
    pub targets: Arc<TargetBoard>,
    /// Integrators' caps on attempts per second, read again every `caps::REFRESH`.
    pub caps: Arc<IntegratorCaps>,
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

impl DeliveryContext {
    /// Leases up to `limit` due rows to this worker.
    pub async fn claim(&self, limit: usize) -> Result<Vec<Due>, DbErr> {
        let now = self.clock.now();
        claim::claim(&self.db, &self.owner, now + chrono(self.lease), now, limit).await
    }

    /// Gives rows the gate held back to the table, due again at their times.
    pub async fn defer(&self, rows: Vec<(Due, chrono::DateTime<chrono::Utc>)>) {
        let times: Vec<(uuid::Uuid, chrono::DateTime<chrono::Utc>)> =
            rows.iter().map(|(row, at)| (row.id, *at)).collect();
        match crate::delivery::outbox::defer(&self.db, &self.owner, &times).await {
            Ok(moved) => {
                self.metrics.deliveries_deferred.inc_by(moved);
            }
            // Their leases run out and they are claimed again.
            Err(e) => tracing::warn!(error = %e, rows = times.len(), "could not give held-back rows back"),
        }
    }

    /// One attempt of one claimed row; the result goes to the recorder.
    pub async fn attempt(&self, row: Due) -> Attempted {
        let span = tracing::info_span!(
            "delivery",
            delivery_id = %row.id,
            kind = row.kind.as_str(),
            assessment_id = row.assessment_id.map(|a| a.to_string()).unwrap_or_default(),
            attempt = row.attempts + 1,
        );
        async move {
            let started_at = self.clock.now();
            let timer = Instant::now();
            // The sender's future is boxed (`senders::Sender`): unboxed, the sending state
            // (~5 KB of reqwest's and hyper's) made every attempt task that size, copied whole
            // as tokio spawns, polls and finishes the task (bench/README.md).
            let report = self.senders.send(&row, started_at).await;
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
        match claim::next_due(&self.ctx.db).await {
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
        let mut tasks: JoinSet<Finished> = JoinSet::new();
        let mut waiting: VecDeque<Due> = VecDeque::new();
        let mut gate = Gate::new(self.config.per_target, self.config.breaker_failures);
        // Rows the gate gave back to the table, being written.
        let mut deferring: JoinSet<()> = JoinSet::new();
        let mut shown = Instant::now();
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
        // Rows in flight, waiting (here and at the gate), and being claimed.
        let in_hand = |tasks: &JoinSet<Finished>, waiting: &VecDeque<_>, gate: &Gate, claiming: &Option<Claiming>| {
            tasks.len() + waiting.len() + gate.parked() + claiming.as_ref().map_or(0, |c| c.want)
        };
        let caps_reader = tokio::spawn(read_caps(self.ctx.clone(), self.shutdown.clone()));
        tracing::info!(owner = %self.ctx.owner, "delivery worker started");
        loop {
            if self.shutdown.is_cancelled() {
                break;
            }
            let mut deferred = Vec::new();
            while let Some(finished) = tasks.try_join_next() {
                if let Ok(finished) = finished {
                    deferred.extend(self.finished(&mut gate, &mut pace, finished));
                }
            }
            most_in_hand = pace.ahead(self.ctx.lease) * concurrency;
            // Rows handed over are taken while there is room; the rest wait in the handoff.
            if let Some(rows) = handed.as_mut() {
                while in_hand(&tasks, &waiting, &gate, &claiming) < most_in_hand
                    && let Ok(row) = rows.try_recv()
                {
                    waiting.push_back(row.into());
                }
            }
            let in_hand_now = in_hand(&tasks, &waiting, &gate, &claiming);
            // Giving rows back is bounded: while two writes of them are running, no claim (which
            // during a backlog for one busy target would mostly bring more to give back).
            let writing_back = deferring.len() >= MAX_DEFERRING;
            if claiming.is_none() && may_find && !writing_back && in_hand_now <= most_in_hand / 2 {
                let want = most_in_hand - in_hand_now;
                let ctx = self.ctx.clone();
                claiming = Some(Claiming {
                    want,
                    task: tokio::spawn(async move { ctx.claim(want).await }),
                });
                // Until the claim says otherwise; a wake-up meanwhile sets it again.
                may_find = false;
            }
            // Rows parked at the gate first (they are older), targets taking turns; then the
            // rows waiting here, each asked of the gate.
            let now = self.ctx.clock.now();
            while tasks.len() < concurrency {
                let (row, target) = match gate.ready(now) {
                    Some((row, target)) => (row, Some(target)),
                    None => match waiting.pop_front() {
                        Some(row) => {
                            let cap = self.ctx.caps.of(row.organization_id);
                            match gate.admit(row, now, cap) {
                                Admission::Go(row, target) => (row, target),
                                Admission::Parked => continue,
                                Admission::Defer(row, at) => {
                                    deferred.push((row, at));
                                    continue;
                                }
                            }
                        }
                        None => break,
                    },
                };
                // A row that waited so long that its lease could run out during the attempt is
                // left to its lease: sent now, another instance might send it too.
                let latest_start = row
                    .lease_expires_at
                    .map(|lease| lease - chrono(self.config.attempt_timeout));
                if latest_start.is_some_and(|latest| now > latest) {
                    tracing::debug!(delivery_id = %row.id, "lease too short to attempt; left to run out");
                    if let Some(target) = target {
                        gate.cancelled(&target);
                    }
                    continue;
                }
                let ctx = self.ctx.clone();
                let to_recorder = to_recorder.clone();
                tasks.spawn(async move {
                    let failures = u32::try_from(row.attempts + 1 - row.replay_base).unwrap_or(1);
                    let attempted = ctx.attempt(row).await;
                    let finished = Finished {
                        target,
                        answer: Answer::of(&attempted.report, attempted.elapsed, ctx.policy.base_wait(failures)),
                    };
                    // The recorder outlives every attempt task; a send can only fail
                    // when the process is going down, and then the lease runs out.
                    let _ = to_recorder.send(attempted).await;
                    finished
                });
            }
            self.give_back(&mut deferring, deferred);
            while deferring.try_join_next().is_some() {}
            if shown.elapsed() >= SHOW_EVERY {
                gate.forget_quiet(now);
                self.ctx.targets.publish(gate.states(now), &self.ctx.metrics, now);
                shown = Instant::now();
            }
            let wait = if !tasks.is_empty() || may_find || claiming.is_some() {
                self.config.poll_interval
            } else {
                self.idle_wait().await
            };
            let room = in_hand(&tasks, &waiting, &gate, &claiming) < most_in_hand;
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
                Some(_) = deferring.join_next(), if !deferring.is_empty() => {}
                _ = self.wake.notified() => may_find = true,
                Some(finished) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok(finished) = finished {
                        let deferred = self.finished(&mut gate, &mut pace, finished);
                        self.give_back(&mut deferring, deferred);
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
        // Rows going back to the table are written before the leases are released.
        while deferring.join_next().await.is_some() {}
        caps_reader.abort();
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
        match claim::release_leases(&self.ctx.db, &self.ctx.owner).await {
            Ok(n) => tracing::info!(released = n, "delivery worker stopped"),
            Err(e) => tracing::warn!(error = %e, "could not release leases; they will run out"),
        }
    }
}

/// Reads the integrators' caps now and every `caps::REFRESH` until shutdown.
async fn read_caps(ctx: Arc<DeliveryContext>, shutdown: CancellationToken) {
    loop {
        if let Err(e) = ctx.caps.refresh(&ctx.db).await {
            tracing::warn!(error = %e, "could not read the integrators' delivery caps");
        }
        tokio::select! {
            _ = tokio::time::sleep(caps::REFRESH) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Writes of rows given back to the table at once at most; claims wait for them beyond that.
const MAX_DEFERRING: usize = 2;

/// How often the worker shows its targets' states.
const SHOW_EVERY: Duration = Duration::from_millis(250);

/// What an attempt task gives back to the loop.
struct Finished {
    /// The target whose place it held, if paced.
    target: Option<TargetKey>,
    answer: Answer,
}

impl Worker {
    /// Gives rows the gate held back to the table, in a write beside the loop.
    fn give_back(&self, deferring: &mut JoinSet<()>, rows: Vec<(Due, chrono::DateTime<chrono::Utc>)>) {
        if !rows.is_empty() {
            let ctx = self.ctx.clone();
            deferring.spawn(async move { ctx.defer(rows).await });
        }
    }

    /// Takes a finished attempt into the pace and the gate; returns rows to give back.
    fn finished(
        &self,
        gate: &mut Gate,
        pace: &mut Pace,
        finished: Finished,
    ) -> Vec<(Due, chrono::DateTime<chrono::Utc>)> {
        pace.observe(finished.answer.took);
        match finished.target {
            Some(target) => {
                let deferred = gate.finished(&target, finished.answer, self.ctx.clock.now());
                if !deferred.is_empty() {
                    tracing::info!(%target, rows = deferred.len(), "target paused; its waiting rows wait in the outbox");
                    let now = self.ctx.clock.now();
                    self.ctx.targets.publish(gate.states(now), &self.ctx.metrics, now);
                }
                deferred
            }
            None => Vec::new(),
        }
    }
}

/// A claim running beside the worker's loop.
struct Claiming {
    want: usize,
    task: tokio::task::JoinHandle<Result<Vec<Due>, DbErr>>,
}

#[derive(Debug, thiserror::Error)]
enum ClaimFailed {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("the claim task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The claim in flight's rows when it ends, or never when there is none.
async fn claim_done(claiming: &mut Option<Claiming>) -> Result<Vec<Due>, ClaimFailed> {
    match claiming {
        Some(claim) => Ok((&mut claim.task).await??),
        None => std::future::pending().await,
    }
}

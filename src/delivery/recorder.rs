//! The worker's recorder: attempts arrive as they finish and are judged (`delivery::judge`)
//! and written many per transaction (`delivery::record`); then each is logged and counted.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;

use crate::delivery::due::Due;
use crate::delivery::judge::judge;
use crate::delivery::outbox::DeliveryState;
use crate::delivery::record::{self, RecordError};
use crate::delivery::report::AttemptReport;
use crate::delivery::worker::DeliveryContext;

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
pub const RECORD_BATCH: usize = 256;

/// An attempt made, waiting to be recorded.
pub struct Attempted {
    pub row: Due,
    pub started_at: DateTime<Utc>,
    pub elapsed: Duration,
    pub report: AttemptReport,
    /// The attempt's span, so that its outcome is logged in it.
    pub span: tracing::Span,
}

impl DeliveryContext {
    /// Writes a batch of attempts and their rows' new states in one transaction
    /// (`delivery::record`): each row is updated only while still pending and leased to this
    /// worker, so a row cancelled meanwhile (Ashby cancelled the assessment) stays cancelled.
    /// With `record_via`, the transaction is the order writer's (`record::Job`).
    pub async fn record(&self, batch: &[Attempted]) -> Result<Recorded, RecordError> {
        let finished = self.clock.now();
        let outcomes: Vec<record::Outcome> = batch
            .iter()
            .map(|a| {
                let j = judge(
                    &self.policy,
                    &a.row,
                    a.started_at,
                    &a.report,
                    finished,
                    rand::random::<f64>(),
                );
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

    /// Records attempts as they come, many per transaction: the first that arrives, plus
    /// whatever else is already waiting (up to `RECORD_BATCH`).
    ///
    /// A full batch means a backlog (a drain): it is recorded alongside up to `recorders - 1`
    /// others, since two batches never share a row and on PostgreSQL one batch's round trips
    /// can overlap another's. A smaller batch waits for those and is recorded in turn, so that a
    /// steady stream keeps one transaction at a time with as many attempts in each as have
    /// queued meanwhile: recording that stream concurrently cost the order writers on the same
    /// database a third of their throughput (bench/README.md).
    pub async fn run_recorder(
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
                        .record_delivery(a.row.kind.as_str(), outcome, a.elapsed.as_secs_f64());
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

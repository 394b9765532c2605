//! Group commit for orders: requests hand their prepared order to a writer task, which writes
//! whatever has queued up meanwhile in one transaction ([`place_batch`]) and answers each
//! request after the commit — so a 2xx still means the row is committed.
//!
//! Under load this turns N transactions of five statements into one transaction of about five
//! statements; alone, an order is written at once, as a batch of one. SQLite has one writer at a
//! time anyway, so it gets one writer task; PostgreSQL gets a few, so that one batch's round
//! trips overlap another's.
//!
//! When this instance runs a delivery worker, the writer writes the invitations' outbox rows
//! already leased to that worker and hands them over in memory after the commit
//! (`delivery::handoff`; an invitation is the only row of its ordering key). On SQLite it also
//! writes that worker's attempt records (`delivery::record::Job`) in the same transactions as
//! the orders: the one connection then commits once for both, instead of alternating between
//! order batches and attempt batches, each waiting for the other.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tracing::Instrument;

use crate::channel::recv_or_never;
use crate::db::RideAlong;
use crate::delivery::handoff::{Handoff, Places, hand_over};
use crate::delivery::outbox::Lease;
use crate::delivery::record;
use crate::recruitment::orders::{OrderError, Placed, PreparedOrder, place_batch, place_one};

/// Orders written per transaction at most.
pub const MAX_BATCH: usize = 128;

type Reply = oneshot::Sender<Result<Placed, OrderError>>;

/// A lease for the batch's invitations and a place for each in the worker's queue, or `None`
/// when there is nothing to hand over or no room.
fn reserve<'a>(handoff: &'a Handoff, orders: &[PreparedOrder]) -> Option<(Lease, Places<'a>)> {
    let invitations = orders.iter().filter(|o| o.sends_invitation()).count();
    let now = orders.iter().map(PreparedOrder::now).min()?;
    handoff.reserve(invitations, now)
}

/// A handle to the writer tasks; cheap to clone. The tasks end when every handle is dropped.
#[derive(Clone)]
pub struct OrderWriter {
    queue: mpsc::Sender<(PreparedOrder, Reply)>,
}

/// What the writer tasks take their work from, one task at a time.
struct Inbox {
    orders: mpsc::Receiver<(PreparedOrder, Reply)>,
    /// The delivery worker's attempt records, written beside the orders (`record::Job`).
    records: Option<mpsc::Receiver<record::Job>>,
}

impl OrderWriter {
    /// Starts `writers` writer tasks on the current runtime. Invitations written to the table
    /// are announced on `wake`; with a `handoff`, they are written leased to this instance's
    /// worker and handed to it instead. With `records`, the worker's attempt records sent there
    /// are written in the writers' transactions: with the next batch of orders, or alone when
    /// no order is waiting.
    pub fn start(
        db: DatabaseConnection,
        writers: usize,
        wake: Arc<Notify>,
        handoff: Option<Handoff>,
        records: Option<mpsc::Receiver<record::Job>>,
    ) -> Self {
        let (queue, orders) = mpsc::channel(MAX_BATCH * 8);
        let inbox = Arc::new(Mutex::new(Inbox { orders, records }));
        for n in 0..writers.max(1) {
            let task = run(db.clone(), inbox.clone(), wake.clone(), handoff.clone());
            tokio::spawn(task.instrument(tracing::info_span!("order_writer", n)));
        }
        Self { queue }
    }

    /// The number of writer tasks suited to a database: one for SQLite (one writer at a time),
    /// a few for PostgreSQL, never more than half the pool.
    pub fn writers_for(db: &DatabaseConnection, pool_size: u32) -> usize {
        match db.get_database_backend() {
            sea_orm::DbBackend::Sqlite => 1,
            _ => (pool_size as usize / 2).clamp(1, 4),
        }
    }

    /// Writes the order (with others waiting at the same time) and answers after the commit.
    pub async fn place(&self, order: PreparedOrder) -> Result<Placed, OrderError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((order, reply))
            .await
            .map_err(|_| OrderError::WriterStopped)?;
        answer.await.map_err(|_| OrderError::WriterStopped)?
    }
}

async fn run(db: DatabaseConnection, inbox: Arc<Mutex<Inbox>>, wake: Arc<Notify>, handoff: Option<Handoff>) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    loop {
        // One writer takes what is queued; the others wait their turn for the next batch.
        let mut records = Records::default();
        {
            let mut inbox = inbox.lock().await;
            let Inbox { orders, records: jobs } = &mut *inbox;
            tokio::select! {
                received = orders.recv_many(&mut waiting, MAX_BATCH) => if received == 0 {
                    return;
                },
                job = recv_or_never(jobs) => records.jobs.push(job),
            }
            while waiting.len() < MAX_BATCH
                && let Ok(order) = orders.try_recv()
            {
                waiting.push(order);
            }
            while let Some(Ok(job)) = jobs.as_mut().map(mpsc::Receiver::try_recv) {
                records.jobs.push(job);
            }
        }
        let (size, attempt_batches) = (waiting.len(), records.jobs.len());
        let (orders, replies): (Vec<PreparedOrder>, Vec<Reply>) = waiting.drain(..).unzip();
        write(&db, orders, replies, records, &wake, handoff.as_ref())
            .instrument(tracing::debug_span!("order_batch", size, attempt_batches))
            .await;
    }
}

/// Attempt records riding along with a batch of orders, and what writing each found.
#[derive(Default)]
struct Records {
    jobs: Vec<record::Job>,
    written: Vec<record::Written>,
}

impl RideAlong for Records {
    fn write_into<'c>(
        &'c mut self,
        txn: &'c DatabaseTransaction,
    ) -> Pin<Box<dyn Future<Output = Result<(), DbErr>> + Send + 'c>> {
        Box::pin(async move {
            self.written.clear();
            for job in &self.jobs {
                self.written.push(job.write_into(txn).await?);
            }
            Ok(())
        })
    }
}

impl Records {
    /// Answers each job: with what its write found when the batch wrote them all (and
    /// committed), else after writing them in a transaction of their own.
    async fn answer(mut self, db: &DatabaseConnection) {
        if self.jobs.is_empty() {
            return;
        }
        if self.written.len() != self.jobs.len() {
            let outcome = async {
                let txn = crate::db::begin_write(db).await?;
                self.write_into(&txn).await?;
                txn.commit().await
            }
            .await;
            if let Err(e) = outcome {
                let e = Arc::new(e);
                for job in self.jobs {
                    let _ = job.reply.send(Err(record::RecordError::Writer(e.clone())));
                }
                return;
            }
        }
        for (job, written) in self.jobs.into_iter().zip(self.written) {
            // A recorder that went away no longer listens; its attempts stand.
            let _ = job.reply.send(Ok(written));
        }
    }
}

async fn write(
    db: &DatabaseConnection,
    orders: Vec<PreparedOrder>,
    replies: Vec<Reply>,
    mut records: Records,
    wake: &Notify,
    handoff: Option<&Handoff>,
) {
    if orders.is_empty() {
        records.answer(db).await;
        return;
    }
    let (lease, mut places) = match handoff.and_then(|h| reserve(h, &orders)) {
        Some((lease, places)) => (Some(lease), Some(places)),
        None => (None, None),
    };
    let results = match place_batch(db, &orders, lease.as_ref(), &mut records).await {
        Ok(results) => results,
        Err(e) => {
            // Nothing of the batch was committed, the records included: they are written alone.
            records.written.clear();
            if orders.len() == 1 {
                vec![Err(OrderError::Db(e))]
            } else {
                tracing::warn!(error = %e, orders = orders.len(), "a batch of orders failed as a whole; writing them one by one");
                let mut results = Vec::with_capacity(orders.len());
                for order in &orders {
                    results.push(place_one(db, order, lease.as_ref()).await);
                }
                results
            }
        }
    };
    let mut written_to_table = false;
    for (mut result, reply) in results.into_iter().zip(replies) {
        if let Ok(placed) = &mut result {
            match placed.leased.take() {
                Some(row) => hand_over(row, &mut places),
                None => written_to_table |= placed.enqueued,
            }
        }
        // A request whose client went away no longer listens; its order stands.
        let _ = reply.send(result);
    }
    if written_to_table {
        wake.notify_one();
    }
    records.answer(db).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::directory::Offer;
    use crate::delivery::handoff::tests::handoff;
    use crate::links::LinkSigner;
    use crate::recruitment::dto::{AssessmentOrderRequest, NewOrder, OrderKind};
    use crate::recruitment::orders::{OrderContext, prepare};
    use std::time::Duration;
    use uuid::Uuid;

    fn prepared(kind: OrderKind, n: usize) -> Vec<PreparedOrder> {
        let offer = Offer {
            lenses: [LENS.parse().unwrap()].into(),
            locales: ["en-US".to_owned()].into(),
            minutes: Default::default(),
        };
        prepared_for(Uuid::now_v7(), &offer, kind, n)
    }

    const LENS: &str = crate::testing::EXAMPLE_LENS;

    /// `n` orders of `organization` (res-0, res-1, …, each with its own candidate).
    fn prepared_for(organization: Uuid, offer: &Offer, kind: OrderKind, n: usize) -> Vec<PreparedOrder> {
        let links = LinkSigner::new(
            &secrecy::SecretBox::new(Box::new([7; 32])),
            url::Url::parse("https://ap.example.com/").unwrap(),
        );
        let ctx = OrderContext {
            links: &links,
            organization_name: "Org",
            logo_path: None,
            offer,
            sandbox: false,
        };
        (0..n)
            .map(|i| {
                let body = crate::testing::order_body(&format!("res-{i}"), &format!("c{i}@example.com"));
                let request: AssessmentOrderRequest = serde_json::from_value(body).unwrap();
                let order = NewOrder::parse(kind, request).unwrap();
                prepare(
                    organization.into(),
                    &order,
                    chrono::Utc::now(),
                    &crate::config::InvitationTiming::without_reminders(Duration::from_secs(3600)),
                    &ctx,
                )
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn the_batch_lease_runs_from_its_earliest_order_with_a_place_per_invitation() {
        let (handoff, _received) = handoff(3);
        let orders = prepared(OrderKind::Email, 3);
        let (lease, places) = reserve(&handoff, &orders).expect("room for three");
        let earliest = orders.iter().map(PreparedOrder::now).min().unwrap();
        assert_eq!(lease.until, earliest + chrono::Duration::seconds(60));
        assert_eq!(places.len(), 3, "a place per invitation");
    }

    #[test]
    fn link_orders_take_no_lease() {
        let (handoff, _received) = handoff(8);
        assert!(reserve(&handoff, &prepared(OrderKind::Link, 2)).is_none());
    }

    /// A database with the example seed, and a result push leased to `owner`.
    async fn seeded_with_leased_push(owner: &str) -> (DatabaseConnection, Uuid, PreparedOrder) {
        use crate::delivery::outbox::{Kind, NewDelivery, enqueue_many};
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        crate::testing::apply_example_seed(&db).await;
        let org: Uuid = crate::testing::EXAMPLE_ORGANIZATION.parse().unwrap();
        let now = chrono::Utc::now();
        let lease = Lease {
            owner: owner.to_owned(),
            until: now + chrono::Duration::minutes(5),
        };
        let push = NewDelivery {
            kind: Kind::Result,
            organization_id: Some(org.into()),
            assessment_id: None,
            target: "https://ats.example.com/results".into(),
            payload: serde_json::json!({"score": 70}),
        };
        let rows = enqueue_many(&db, vec![push], now, Some(&lease)).await.unwrap();
        let offer = Offer::load(&db, org.into()).await.unwrap();
        let prepared = prepared_for(org, &offer, OrderKind::Email, 1).remove(0);
        (db, rows[0].id, prepared)
    }

    /// The push delivered, as the worker's recorder would send it.
    fn delivered(
        id: Uuid,
        owner: &str,
    ) -> (
        record::Job,
        oneshot::Receiver<Result<record::Written, record::RecordError>>,
    ) {
        let now = chrono::Utc::now();
        let (reply, answer) = oneshot::channel();
        let outcome = record::Outcome {
            delivery_id: id,
            ordering_key: id.to_string(),
            attempt_no: 1,
            started_at: now,
            duration_ms: 3,
            status: Some(200),
            outcome: "delivered",
            error: None,
            excerpt: None,
            state: crate::delivery::outbox::DeliveryState::Delivered,
            next_attempt_at: now,
            first_attempt_at: now,
            deadline_at: now + chrono::Duration::hours(36),
        };
        let job = record::Job {
            owner: owner.to_owned(),
            finished: now,
            batch: vec![outcome],
            reply,
        };
        (job, answer)
    }

    async fn push_state(db: &DatabaseConnection, id: Uuid) -> (String, u64) {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let row = crate::entity::delivery::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let attempts = crate::entity::delivery_attempt::Entity::find()
            .filter(crate::entity::delivery_attempt::Column::DeliveryId.eq(id))
            .count(db)
            .await
            .unwrap();
        (row.state.as_str().to_owned(), attempts)
    }

    #[tokio::test]
    async fn attempt_records_are_committed_with_the_orders_of_the_batch() {
        let (db, push, order) = seeded_with_leased_push("worker-1").await;
        let (job, answer) = delivered(push, "worker-1");
        let records = Records {
            jobs: vec![job],
            written: Vec::new(),
        };
        let (reply, placed) = oneshot::channel();
        write(&db, vec![order], vec![reply], records, &Notify::new(), None).await;
        assert!(placed.await.unwrap().unwrap().created, "the order is placed");
        let written = answer.await.unwrap().expect("the records are written");
        assert!(written.left_alone.is_empty());
        assert_eq!(push_state(&db, push).await, ("delivered".to_owned(), 1));
    }

    #[tokio::test]
    async fn attempt_records_are_written_alone_when_no_order_waits_and_come_back_once_the_writer_stopped() {
        let (db, push, _) = seeded_with_leased_push("worker-1").await;
        let (queue, jobs) = mpsc::channel(4);
        let writer = OrderWriter::start(db.clone(), 1, Arc::new(Notify::new()), None, Some(jobs));
        let (job, _) = delivered(push, "worker-1");
        let written = record::hand_to(&queue, "worker-1", job.finished, job.batch)
            .await
            .unwrap_or_else(|_| panic!("the writer runs"))
            .expect("the records are written");
        assert!(written.left_alone.is_empty());
        assert_eq!(push_state(&db, push).await, ("delivered".to_owned(), 1));
        // A row no longer leased to the recorder is left alone.
        let (job, _) = delivered(push, "worker-2");
        let written = record::hand_to(&queue, "worker-2", job.finished, job.batch)
            .await
            .unwrap_or_else(|_| panic!("the writer runs"))
            .expect("the write succeeds");
        assert_eq!(written.left_alone, vec![push]);
        // Every handle dropped: the writer stops, and a batch comes back to its sender.
        drop(writer);
        let (job, _) = delivered(push, "worker-1");
        let mut back = None;
        for _ in 0..100 {
            match record::hand_to(&queue, "worker-1", job.finished, job.batch.clone()).await {
                Err(batch) => {
                    back = Some(batch);
                    break;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        assert_eq!(
            back.map(|b| b.len()),
            Some(1),
            "the batch comes back once the writer stopped"
        );
    }
}

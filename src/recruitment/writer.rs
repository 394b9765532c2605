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
//! (`delivery::handoff`; an invitation is the only row of its ordering key).
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tracing::Instrument;

use crate::delivery::handoff::{Handoff, Places, hand_over};
use crate::delivery::outbox::Lease;
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

#[derive(Debug, thiserror::Error)]
#[error("the order writer has stopped")]
pub struct WriterStopped;

impl OrderWriter {
    /// Starts `writers` writer tasks on the current runtime. Invitations written to the table
    /// are announced on `wake`; with a `handoff`, they are written leased to this instance's
    /// worker and handed to it instead.
    pub fn start(db: DatabaseConnection, writers: usize, wake: Arc<Notify>, handoff: Option<Handoff>) -> Self {
        let (queue, requests) = mpsc::channel(MAX_BATCH * 8);
        let requests = Arc::new(Mutex::new(requests));
        for n in 0..writers.max(1) {
            let task = run(db.clone(), requests.clone(), wake.clone(), handoff.clone());
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
            .map_err(|_| OrderError::Db(sea_orm::DbErr::Custom(WriterStopped.to_string())))?;
        answer
            .await
            .map_err(|_| OrderError::Db(sea_orm::DbErr::Custom(WriterStopped.to_string())))?
    }
}

async fn run(
    db: DatabaseConnection,
    requests: Arc<Mutex<mpsc::Receiver<(PreparedOrder, Reply)>>>,
    wake: Arc<Notify>,
    handoff: Option<Handoff>,
) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    loop {
        // One writer takes what is queued; the others wait their turn for the next batch.
        let received = requests.lock().await.recv_many(&mut waiting, MAX_BATCH).await;
        if received == 0 {
            return;
        }
        let (orders, replies): (Vec<PreparedOrder>, Vec<Reply>) = waiting.drain(..).unzip();
        write(&db, orders, replies, &wake, handoff.as_ref())
            .instrument(tracing::debug_span!("order_batch", size = received))
            .await;
    }
}

async fn write(
    db: &DatabaseConnection,
    orders: Vec<PreparedOrder>,
    replies: Vec<Reply>,
    wake: &Notify,
    handoff: Option<&Handoff>,
) {
    let (lease, mut places) = match handoff.and_then(|h| reserve(h, &orders)) {
        Some((lease, places)) => (Some(lease), Some(places)),
        None => (None, None),
    };
    let results = match place_batch(db, &orders, lease.as_ref()).await {
        Ok(results) => results,
        Err(e) if orders.len() == 1 => vec![Err(OrderError::Db(e))],
        Err(e) => {
            tracing::warn!(error = %e, orders = orders.len(), "a batch of orders failed as a whole; writing them one by one");
            let mut results = Vec::with_capacity(orders.len());
            for order in &orders {
                results.push(place_one(db, order, lease.as_ref()).await);
            }
            results
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
        let lens: Uuid = "7922dd91-1b44-43e4-a740-7c4d9c2fba41".parse().unwrap();
        let offer = Offer {
            lenses: [lens].into(),
            locales: ["en-US".to_owned()].into(),
        };
        let links = LinkSigner::new(
            &secrecy::SecretBox::new(Box::new([7; 32])),
            url::Url::parse("https://ap.example.com/").unwrap(),
        );
        let ctx = OrderContext {
            links: &links,
            organization_name: "Org",
            offer: &offer,
        };
        (0..n)
            .map(|i| {
                let request: AssessmentOrderRequest = serde_json::from_value(serde_json::json!({
                    "recruitment": {"id": "r-1", "title": "Developer", "description": ""},
                    "additionalRecruitmentCollaboratorsEmails": [],
                    "resultUpdateUrl": "https://ats.example.com/results/1",
                    "resultId": format!("res-{i}"),
                    "lensId": lens,
                    "locale": "en-US",
                    "candidateDetails": {"email": format!("c{i}@example.com")}
                }))
                .unwrap();
                let order = NewOrder::parse(kind, request).unwrap();
                prepare(
                    Uuid::now_v7(),
                    &order,
                    chrono::Utc::now(),
                    Duration::from_secs(3600),
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
}

//! Group commit for orders: requests hand their prepared order to a writer task, which writes
//! whatever has queued up meanwhile in one transaction ([`place_batch`]) and answers each
//! request after the commit — so a 2xx still means the row is committed.
//!
//! Under load this turns N transactions of five statements into one transaction of about five
//! statements; alone, an order is written at once, as a batch of one. SQLite has one writer at a
//! time anyway, so it gets one writer task; PostgreSQL gets a few, so that one batch's round
//! trips overlap another's.
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::Instrument;

use crate::recruitment::orders::{OrderError, Placed, PreparedOrder, place_batch, place_one};

/// Orders written per transaction at most.
pub const MAX_BATCH: usize = 128;

type Reply = oneshot::Sender<Result<Placed, OrderError>>;

/// A handle to the writer tasks; cheap to clone. The tasks end when every handle is dropped.
#[derive(Clone)]
pub struct OrderWriter {
    queue: mpsc::Sender<(PreparedOrder, Reply)>,
}

#[derive(Debug, thiserror::Error)]
#[error("the order writer has stopped")]
pub struct WriterStopped;

impl OrderWriter {
    /// Starts `writers` writer tasks on the current runtime.
    pub fn start(db: DatabaseConnection, writers: usize) -> Self {
        let (queue, requests) = mpsc::channel(MAX_BATCH * 8);
        let requests = Arc::new(Mutex::new(requests));
        for n in 0..writers.max(1) {
            tokio::spawn(run(db.clone(), requests.clone()).instrument(tracing::info_span!("order_writer", n)));
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

async fn run(db: DatabaseConnection, requests: Arc<Mutex<mpsc::Receiver<(PreparedOrder, Reply)>>>) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    loop {
        // One writer takes what is queued; the others wait their turn for the next batch.
        let received = requests.lock().await.recv_many(&mut waiting, MAX_BATCH).await;
        if received == 0 {
            return;
        }
        let (orders, replies): (Vec<PreparedOrder>, Vec<Reply>) = waiting.drain(..).unzip();
        write(&db, orders, replies)
            .instrument(tracing::debug_span!("order_batch", size = received))
            .await;
    }
}

async fn write(db: &DatabaseConnection, orders: Vec<PreparedOrder>, replies: Vec<Reply>) {
    if orders.len() == 1 {
        for (order, reply) in orders.iter().zip(replies) {
            let _ = reply.send(place_one(db, order).await);
        }
        return;
    }
    match place_batch(db, &orders).await {
        Ok(results) => {
            for (result, reply) in results.into_iter().zip(replies) {
                // A request whose client went away no longer listens; its order stands.
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, orders = orders.len(), "a batch of orders failed as a whole; writing them one by one");
            for (order, reply) in orders.iter().zip(replies) {
                let _ = reply.send(place_one(db, order).await);
            }
        }
    }
}

//! Rows born leased to this instance's worker and handed to it in memory after their commit.
//!
//! An instance that serves the API and runs a worker writes the outbox rows its requests cause
//! (invitations in `recruitment::writer`, result pushes in `assessment::completion`) already
//! leased to its own worker, and hands them over after the commit: the worker need not find them
//! in the table. That saves a claim (a transaction on PostgreSQL, a statement on SQLite's only
//! writer) and a NOTIFY to every instance per change, and it is most of the time from a result
//! recorded to its first attempt. Should the instance die before sending them, their lease runs
//! out and any worker claims them as usual.
//!
//! Only rows that are the first of their ordering key may be handed over: the worker sends what
//! it is given without the claim's "no earlier pending row" check.
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::delivery::outbox::Lease;
use crate::entity::delivery;

/// Rows waiting in a handoff at most.
pub const HANDOFF_CAPACITY: usize = 256;

/// Where rows written under a lease go: this instance's worker.
#[derive(Clone)]
pub struct Handoff {
    /// The worker's lease owner name.
    pub owner: String,
    /// How long the rows are leased (`AP_DELIVERY_LEASE`).
    pub lease: Duration,
    /// Bounded: when the worker is behind, rows are written unleased instead, for the worker to
    /// claim from the table later — the backlog lives in the database, not here.
    pub rows: mpsc::Sender<delivery::Model>,
}

/// Places reserved in the worker's queue, one per leased row to hand over.
pub type Places<'a> = mpsc::PermitIterator<'a, delivery::Model>;

impl Handoff {
    /// A lease from `now` and a place in the worker's queue for each of `rows` rows, or `None`
    /// when there is nothing to hand over or no room (then write the rows unleased).
    pub fn reserve(&self, rows: usize, now: DateTime<Utc>) -> Option<(Lease, Places<'_>)> {
        if rows == 0 {
            return None;
        }
        let lease = Lease {
            owner: self.owner.clone(),
            until: now + chrono::Duration::from_std(self.lease).ok()?,
        };
        let places = self.rows.try_reserve_many(rows).ok()?;
        Some((lease, places))
    }
}

/// Hands a committed, leased row to the worker through a place reserved for it.
pub fn hand_over(row: delivery::Model, places: &mut Option<Places<'_>>) {
    match places.as_mut().and_then(Iterator::next) {
        Some(place) => place.send(row),
        // Cannot happen (a place was reserved for every leased row); the row's lease runs out
        // and a worker claims it then.
        None => tracing::warn!(delivery_id = %row.id, "no place reserved for a leased row"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn handoff(capacity: usize) -> (Handoff, mpsc::Receiver<delivery::Model>) {
        let (rows, received) = mpsc::channel(capacity);
        let handoff = Handoff {
            owner: "worker-1".into(),
            lease: Duration::from_secs(60),
            rows,
        };
        (handoff, received)
    }

    #[test]
    fn a_lease_is_taken_only_with_room_for_every_row() {
        let (handoff, _received) = handoff(3);
        let now = Utc::now();
        let (lease, places) = handoff.reserve(3, now).expect("room for three");
        assert_eq!(lease.owner, "worker-1");
        assert_eq!(lease.until, now + chrono::Duration::seconds(60));
        assert_eq!(places.len(), 3);
        // While those places are held, a fourth row finds no room: it is written unleased, for
        // the worker to claim from the table.
        assert!(handoff.reserve(1, now).is_none());
        drop(places);
        assert!(handoff.reserve(1, now).is_some(), "places given back");
    }

    #[test]
    fn nothing_to_hand_over_takes_no_lease() {
        let (handoff, _received) = handoff(8);
        assert!(handoff.reserve(0, Utc::now()).is_none());
    }
}

//! The outbox and its delivery worker: every outgoing call is a row, written in the transaction
//! of the change that causes it, and sent — at least once, in order per assessment and target,
//! retried until its deadline — by the worker.
pub mod ashby_update;
pub mod caps;
pub mod claim;
pub mod dead;
pub mod due;
pub mod gate;
pub mod guard;
pub mod handoff;
pub mod inspect;
pub mod invitation;
pub mod judge;
pub mod listen;
pub mod mail;
pub mod outbox;
pub mod pace;
pub mod policy;
pub mod push;
pub mod record;
pub mod recorder;
pub mod redact;
pub mod report;
pub mod senders;
pub mod test_push;
pub mod worker;

//! The operator console (`/console`): operators sign in with an e-mail address and a password
//! (an argon2id hash is all that is stored) and act with the admin API's scopes. Accounts are
//! managed from the command line (`assessment-partner operator …`).
mod assessments;
mod audit_page;
mod candidates;
mod deliveries;
pub mod operators;
pub mod overview;
mod page;
pub mod password;
mod routes;
pub mod session;
mod tenants;

pub use page::trail;
pub use routes::{configure, not_found};

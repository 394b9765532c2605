//! Operators' surface: the admin API (bearer JWT) and seeding, which share one store.
pub mod deliveries;
pub mod routes;
pub mod seed;
pub mod spec;
pub mod store;

pub use routes::configure;

//! Operators' surface: the admin API (bearer JWT) and seeding, which share one store.
pub mod deliveries;
pub mod paging;
pub mod personal_data;
pub mod routes;
pub mod seed;
pub mod spec;
pub mod store;

pub use routes::configure;

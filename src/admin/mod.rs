//! Operators' surface: the admin API (bearer JWT) and seeding, both on `tenancy::store`.
pub mod branding;
pub mod deliveries;
pub mod paging;
pub mod personal_data;
pub mod routes;
pub mod seed;

pub use routes::configure;

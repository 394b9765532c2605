//! The Recruitment API (integrator-facing), modelled on Assessio's partner API.
pub mod dto;
pub mod orders;
pub mod routes;
pub mod writer;

pub use routes::{configure, throttle};

//! The Ashby assessments partner protocol, inbound: the endpoints Ashby calls
//! (`/ashby/assessment.*`). The `assessment.update` calls we make are `delivery::ashby_update`.
//!
//! Ashby mixes casings: snake_case for the partner endpoints and `assessment.update`, camelCase
//! inside `job.hiringTeam[]` and for `isRequired`. Every wire field is named explicitly.
pub mod auth;
pub mod dto;
pub mod error;
pub mod routes;
pub mod start;

pub use routes::{configure, throttle};

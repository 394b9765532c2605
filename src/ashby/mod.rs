//! The Ashby assessments partner protocol: the endpoints Ashby calls (`/ashby/assessment.*`)
//! and the `assessment.update` calls we make to Ashby through the outbox.
//!
//! Ashby mixes casings: snake_case for the partner endpoints and `assessment.update`, camelCase
//! inside `job.hiringTeam[]` and for `isRequired`. Every wire field is named explicitly.
pub mod auth;
pub mod client;
pub mod dto;
pub mod error;
pub mod routes;
pub mod start;
pub mod update;

pub use routes::configure;

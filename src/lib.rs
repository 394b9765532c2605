//! assessment-partner: an assessment provider's server.
//!
//! Applicant tracking systems order assessments through the Recruitment API; candidates take
//! them; results go back to the ATS. See README.md for the tour and docs/ARCHITECTURE.md for the layout.
pub mod admin;
pub mod ashby;
pub mod assessment;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod candidate;
pub mod catalog;
pub mod channel;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod crypto;
pub mod csrf;
pub mod db;
pub mod delivery;
pub mod entity;
pub mod error;
pub mod extract;
pub mod health;
pub mod http;
pub mod links;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod recruitment;
pub mod schema;
pub mod secrets;
pub mod signature;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tenancy;
pub mod testing;
pub mod types;

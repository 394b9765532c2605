//! sea-orm entities, one file per table. Plain data; the rules live in `assessment/`.
pub mod answer;
pub mod assessment;
pub mod audit_event;
pub mod candidate;
pub mod console_session;
pub mod delivery;
pub mod delivery_attempt;
pub mod enums;
pub mod integrator;
pub mod lens;
pub mod lens_competency;
pub mod locale;
pub mod operator;
pub mod organization;
pub mod organization_lens;
pub mod recruitment;
pub mod sign_in_failure;

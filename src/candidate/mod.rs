//! What the candidate sees: the assessment behind the invitation link (`/a/{token}`).
mod context;
pub mod i18n;
mod logo;
pub mod pages;
pub mod report;
mod report_pdf;
pub mod routes;

pub use routes::configure;

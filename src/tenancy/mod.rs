//! The tenants and what they may order: lenses, integrators, organisations, the offered locales,
//! and the rotation of their keys. `spec` holds the documents that describe them (the seed
//! file's shapes, which the admin API reads and answers too); `store` writes and reads them,
//! for the admin API, the `seed` command and the console alike; `branding` is what candidates
//! see of an employer.
pub mod branding;
pub mod spec;
pub mod store;

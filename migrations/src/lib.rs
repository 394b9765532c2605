//! Database schema, shared by SQLite and PostgreSQL. Migrations run at start-up
//! (`serve`, `demo`) and on demand (`migrate`).
pub use sea_orm_migration::prelude::*;

mod m20261121_000001_foundation;
mod m20261122_000002_delivery;
mod m20261122_000003_ashby;
mod m20261122_000004_answers;
mod m20261130_000005_pending_indexes;
mod m20261201_000006_outbox_fillfactor;
mod m20261205_000007_status_pushes;
mod m20261206_000008_key_rotation;
mod m20261206_000009_sandbox;
mod m20261207_000010_rate_limits;
mod m20261207_000011_personal_data;
mod m20261207_000012_organization_locale;
mod m20261208_000013_reminders;
mod m20261208_000014_delivery_rate;
mod m20261209_000015_operators;
mod m20261210_000016_assessments_by_candidate;
mod m20261211_000017_accepted_signatures;
mod m20261211_000018_branding;
mod m20261212_000019_audit_by_target;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_foundation::Migration),
            Box::new(m20261122_000002_delivery::Migration),
            Box::new(m20261122_000003_ashby::Migration),
            Box::new(m20261122_000004_answers::Migration),
            Box::new(m20261130_000005_pending_indexes::Migration),
            Box::new(m20261201_000006_outbox_fillfactor::Migration),
            Box::new(m20261205_000007_status_pushes::Migration),
            Box::new(m20261206_000008_key_rotation::Migration),
            Box::new(m20261206_000009_sandbox::Migration),
            Box::new(m20261207_000010_rate_limits::Migration),
            Box::new(m20261207_000011_personal_data::Migration),
            Box::new(m20261207_000012_organization_locale::Migration),
            Box::new(m20261208_000013_reminders::Migration),
            Box::new(m20261208_000014_delivery_rate::Migration),
            Box::new(m20261209_000015_operators::Migration),
            Box::new(m20261210_000016_assessments_by_candidate::Migration),
            Box::new(m20261211_000017_accepted_signatures::Migration),
            Box::new(m20261211_000018_branding::Migration),
            Box::new(m20261212_000019_audit_by_target::Migration),
        ]
    }
}

//! `assessment-partner seed --file`: an idempotent upsert, by id, of the seed file, in one
//! transaction (all of it or none of it).
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::crypto::Vault;
use crate::tenancy::spec::SeedFile;
use crate::tenancy::store::{self, StoreError, Upserted};

/// What a seed run did, and the keys it generated (shown once).
#[derive(Debug, Default)]
pub struct SeedReport {
    pub lenses: Vec<(Uuid, Upserted)>,
    pub integrators: Vec<(Uuid, Upserted)>,
    pub organizations: Vec<SeededOrganization>,
}

#[derive(Debug)]
pub struct SeededOrganization {
    pub id: Uuid,
    pub name: String,
    pub outcome: Upserted,
    pub generated_provider_key: Option<String>,
    pub generated_partner_api_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the seed file is not valid JSON of the expected shape: {0}")]
    Parse(String),
    #[error("{section}[{index}]: {source}")]
    Entry {
        section: &'static str,
        index: usize,
        #[source]
        source: StoreError,
    },
    #[error("{section}[{index}].id is required in a seed file")]
    MissingId { section: &'static str, index: usize },
    #[error("locales: {0}")]
    Locales(StoreError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

pub fn parse(text: &str) -> Result<SeedFile, SeedError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| SeedError::Parse(format!("{} (at {})", e.inner(), e.path())))
}

pub async fn apply(
    db: &DatabaseConnection,
    vault: &Vault,
    seed: &SeedFile,
    now: DateTime<Utc>,
    rules: store::Rules,
) -> Result<SeedReport, SeedError> {
    let seed = seed.clone();
    let vault = vault.clone();
    crate::db::write_transaction::<SeedReport, SeedError, _>(db, move |txn| {
        Box::pin(async move {
            let mut report = SeedReport::default();
            store::ensure_locales(txn, &seed.locales)
                .await
                .map_err(SeedError::Locales)?;
            for (index, lens) in seed.lenses.iter().enumerate() {
                let id = lens.id.ok_or(SeedError::MissingId {
                    section: "lenses",
                    index,
                })?;
                let outcome = store::upsert_lens(txn, id, lens, now)
                    .await
                    .map_err(|source| SeedError::Entry {
                        section: "lenses",
                        index,
                        source,
                    })?;
                report.lenses.push((id, outcome));
            }
            for (index, integrator) in seed.integrators.iter().enumerate() {
                let id = integrator.id.ok_or(SeedError::MissingId {
                    section: "integrators",
                    index,
                })?;
                let outcome = store::upsert_integrator(txn, &vault, id, integrator, now, rules)
                    .await
                    .map_err(|source| SeedError::Entry {
                        section: "integrators",
                        index,
                        source,
                    })?;
                report.integrators.push((id, outcome));
            }
            for (index, org) in seed.organizations.iter().enumerate() {
                let id = org.id.ok_or(SeedError::MissingId {
                    section: "organizations",
                    index,
                })?;
                let (outcome, keys) = store::upsert_organization(txn, &vault, id.into(), org, now, rules)
                    .await
                    .map_err(|source| SeedError::Entry {
                        section: "organizations",
                        index,
                        source,
                    })?;
                report.organizations.push(SeededOrganization {
                    id,
                    name: org.name.clone(),
                    outcome,
                    generated_provider_key: keys.provider_key,
                    generated_partner_api_key: keys.partner_api_key,
                });
            }
            Ok(report)
        })
    })
    .await
}

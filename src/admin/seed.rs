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

/// What [`apply_missing`] left as it was: entries whose id the database holds already.
#[derive(Debug, Default)]
pub struct Kept {
    pub lenses: usize,
    pub integrators: usize,
    pub organizations: usize,
    /// The offered locales were left as they are (some were there).
    pub locales: bool,
}

impl Kept {
    pub fn anything(&self) -> bool {
        self.lenses + self.integrators + self.organizations > 0 || self.locales
    }
}

/// Seeds only what the database lacks: lenses, integrators and organisations whose id it does
/// not hold, and the locales when none are offered. What an admin or operator changed since an
/// earlier seeding stays as they left it (`demo` on every start; `demo --reseed` upserts all).
pub async fn apply_missing(
    db: &DatabaseConnection,
    vault: &Vault,
    seed: &SeedFile,
    now: DateTime<Utc>,
    rules: store::Rules,
) -> Result<(SeedReport, Kept), SeedError> {
    use crate::entity::{integrator, lens, locale, organization};
    use sea_orm::{EntityTrait, PaginatorTrait, QuerySelect};
    let ids = |rows: Vec<Uuid>| rows.into_iter().collect::<std::collections::HashSet<Uuid>>();
    let lenses = ids(lens::Entity::find()
        .select_only()
        .column(lens::Column::Id)
        .into_tuple()
        .all(db)
        .await?);
    let integrators = ids(integrator::Entity::find()
        .select_only()
        .column(integrator::Column::Id)
        .into_tuple()
        .all(db)
        .await?);
    let organizations = ids(organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .into_tuple()
        .all(db)
        .await?);
    let missing = |id: Option<Uuid>, held: &std::collections::HashSet<Uuid>| id.is_none_or(|id| !held.contains(&id));
    let mut reduced = seed.clone();
    reduced.lenses.retain(|l| missing(l.id, &lenses));
    reduced.integrators.retain(|i| missing(i.id, &integrators));
    reduced.organizations.retain(|o| missing(o.id, &organizations));
    let locales_held = locale::Entity::find().count(db).await? > 0;
    if locales_held {
        reduced.locales.clear();
    }
    let kept = Kept {
        lenses: seed.lenses.len() - reduced.lenses.len(),
        integrators: seed.integrators.len() - reduced.integrators.len(),
        organizations: seed.organizations.len() - reduced.organizations.len(),
        locales: locales_held && !seed.locales.is_empty(),
    };
    Ok((apply(db, vault, &reduced, now, rules).await?, kept))
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

//! Who a `provider-key` belongs to and what it may order, kept in memory for a few seconds.
//!
//! Every Recruitment API request needs the organisation behind its key, the integrator's
//! signing secret, and the lenses and locales it may order. Read and decrypted per request they
//! cost four statements and an AES-GCM decryption, and they change rarely. An entry lives for
//! [`DIRECTORY_TTL`]; an admin write on this instance clears the whole cache at once, so a change
//! made through another instance (or by `seed`) applies here within that time. Unknown keys are
//! never cached: a key added anywhere works at once.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use secrecy::{ExposeSecret, SecretBox};
use uuid::Uuid;

use crate::cache::ExpiringCache;
use crate::crypto::{Vault, sha256_hex};
use crate::entity::{integrator, lens_competency, locale, organization, organization_lens};
use crate::types::OrganizationId;

/// How long an entry is used before it is read again.
pub const DIRECTORY_TTL: Duration = Duration::from_secs(5);

/// Entries kept at most; past it, expired entries are dropped (and if none had expired, all).
const MAX_ENTRIES: usize = 10_000;

/// What may be ordered: the organisation's lenses and the offered locales.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    pub lenses: HashSet<Uuid>,
    pub locales: HashSet<String>,
    /// The time estimate of each offered lens, in minutes (for the invitation e-mail).
    pub minutes: HashMap<Uuid, usize>,
}

impl Offer {
    /// Reads the offer of one organisation (three statements).
    pub async fn load<C: ConnectionTrait>(db: &C, organization_id: OrganizationId) -> Result<Self, DbErr> {
        let lenses: Vec<Uuid> = organization_lens::Entity::find()
            .select_only()
            .column(organization_lens::Column::LensId)
            .filter(organization_lens::Column::OrganizationId.eq(organization_id))
            .into_tuple()
            .all(db)
            .await?;
        let locales: Vec<String> = locale::Entity::find()
            .select_only()
            .column(locale::Column::Code)
            .into_tuple()
            .all(db)
            .await?;
        let competencies: Vec<(Uuid, String)> = lens_competency::Entity::find()
            .select_only()
            .column(lens_competency::Column::LensId)
            .column(lens_competency::Column::Key)
            .filter(lens_competency::Column::LensId.is_in(lenses.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let mut keys: HashMap<Uuid, Vec<String>> = HashMap::new();
        for (lens, key) in competencies {
            keys.entry(lens).or_default().push(key);
        }
        let catalog = crate::catalog::Catalog::get();
        let minutes = keys
            .into_iter()
            .map(|(lens, keys)| (lens, catalog.estimated_minutes(keys.iter().map(String::as_str))))
            .collect();
        Ok(Self {
            lenses: lenses.into_iter().collect(),
            locales: locales.into_iter().collect(),
            minutes,
        })
    }
}

/// An organisation as the Recruitment API sees it.
pub struct Tenant {
    pub organization: organization::Model,
    pub integrator: integrator::Model,
    pub offer: Offer,
    /// The integrator's signing secrets, newest first, each with the end of its life (the
    /// previous one during a rotation's overlap).
    secrets: Vec<HeldSecret>,
    /// When the provider key this tenant was found by stops working: set for a key that a
    /// rotation replaced, during its overlap.
    key_expires_at: Option<DateTime<Utc>>,
}

/// A signing secret held in memory (zeroed when dropped) and the end of its life.
struct HeldSecret {
    secret: SecretBox<[u8]>,
    expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("organization", &self.organization.id)
            .field("integrator", &self.integrator.id)
            .finish_non_exhaustive()
    }
}

impl Tenant {
    /// The integrator's signing secrets still live at `now`, newest first.
    pub fn secrets(&self, now: DateTime<Utc>) -> Vec<&[u8]> {
        self.secrets
            .iter()
            .filter(|s| crate::secrets::live_at(s.expires_at, now))
            .map(|s| s.secret.expose_secret())
            .collect()
    }

    /// Whether the provider key this tenant was found by still works at `now`.
    fn key_live(&self, now: DateTime<Utc>) -> bool {
        crate::secrets::live_at(self.key_expires_at, now)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("organization {0} has no integrator")]
    NoIntegrator(Uuid),
    #[error("the secret of integrator {0} cannot be decrypted: {1}")]
    Secret(Uuid, crate::crypto::VaultError),
}

pub struct Directory {
    cache: ExpiringCache<String, Tenant>,
}

impl Default for Directory {
    fn default() -> Self {
        Self {
            cache: ExpiringCache::new(DIRECTORY_TTL, MAX_ENTRIES),
        }
    }
}

impl Directory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every entry; call after an admin change to organisations, integrators, lenses
    /// or locales.
    pub fn invalidate(&self) {
        self.cache.clear();
    }

    /// The tenant behind a provider key at `now`, or `None` for an unknown key (or one whose
    /// overlap after a rotation has ended).
    pub async fn tenant<C: ConnectionTrait>(
        &self,
        db: &C,
        vault: &Vault,
        provider_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<Tenant>>, DirectoryError> {
        let hash = sha256_hex(provider_key.as_bytes());
        if let Some(tenant) = self.cache.get(&hash)
            && tenant.key_live(now)
        {
            return Ok(Some(tenant));
        }
        let ticket = self.cache.ticket();
        let Some(tenant) = load(db, vault, &hash, now).await? else {
            return Ok(None);
        };
        let tenant = Arc::new(tenant);
        self.cache.put(ticket, hash, tenant.clone());
        Ok(Some(tenant))
    }
}

async fn load<C: ConnectionTrait>(
    db: &C,
    vault: &Vault,
    key_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Tenant>, DirectoryError> {
    let current = organization::Entity::find()
        .filter(organization::Column::ProviderKeyHash.eq(key_hash))
        .one(db)
        .await?;
    let (organization, key_expires_at) = match current {
        Some(organization) => (organization, None),
        None => {
            let previous = organization::Entity::find()
                .filter(organization::Column::PreviousProviderKeyHash.eq(key_hash))
                .filter(organization::Column::PreviousProviderKeyExpiresAt.gt(now))
                .one(db)
                .await?;
            match previous {
                Some(organization) => {
                    let expires = organization.previous_provider_key_expires_at;
                    (organization, expires)
                }
                None => return Ok(None),
            }
        }
    };
    let integrator = integrator::Entity::find_by_id(organization.integrator_id)
        .one(db)
        .await?
        .ok_or(DirectoryError::NoIntegrator(organization.id.into()))?;
    let secrets = crate::secrets::open_integrator_secrets(vault, &integrator)
        .map_err(|e| DirectoryError::Secret(integrator.id, e))?
        .into_iter()
        .map(|s| HeldSecret {
            secret: SecretBox::new(s.secret.into_boxed_slice()),
            expires_at: s.expires_at,
        })
        .collect();
    let offer = Offer::load(db, organization.id).await?;
    Ok(Some(Tenant {
        organization,
        integrator,
        offer,
        secrets,
        key_expires_at,
    }))
}

//! Integrators' caps on delivery attempts per second (`maxDeliveriesPerSecond`), by
//! organisation, as the worker's gate (`delivery::gate`) asks for them. Read from the database
//! every [`REFRESH`], and at once on the instance where an admin changes an integrator.
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::delivery::gate::IntegratorCap;
use crate::entity::{integrator, organization};
use crate::types::OrganizationId;

/// How often the caps are read again.
pub const REFRESH: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct IntegratorCaps {
    by_organization: RwLock<HashMap<OrganizationId, IntegratorCap>>,
}

impl IntegratorCaps {
    /// The cap on the attempts of `organization`'s deliveries, if its integrator has one.
    pub fn of(&self, organization: Option<OrganizationId>) -> Option<IntegratorCap> {
        let organization = organization?;
        self.by_organization.read().ok()?.get(&organization).copied()
    }

    /// Reads every integrator's cap again.
    pub async fn refresh(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let capped: HashMap<uuid::Uuid, u32> = integrator::Entity::find()
            .filter(integrator::Column::MaxDeliveriesPerSecond.is_not_null())
            .all(db)
            .await?
            .into_iter()
            .filter_map(|i| Some((i.id, u32::try_from(i.max_deliveries_per_second?).ok()?)))
            .collect();
        let mut by_organization = HashMap::new();
        if !capped.is_empty() {
            let organizations = organization::Entity::find()
                .filter(organization::Column::IntegratorId.is_in(capped.keys().copied()))
                .all(db)
                .await?;
            for o in organizations {
                if let Some(per_second) = capped.get(&o.integrator_id) {
                    let cap = IntegratorCap {
                        integrator: o.integrator_id,
                        per_second: *per_second,
                    };
                    by_organization.insert(o.id, cap);
                }
            }
        }
        if let Ok(mut current) = self.by_organization.write() {
            *current = by_organization;
        }
        Ok(())
    }
}

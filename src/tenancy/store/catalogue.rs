//! The catalogue an operator offers: locales and lenses (their competencies and weights).
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;
use validator::Validate;

use crate::entity::{lens, lens_competency, locale};
use crate::error::FieldError;
use crate::extract::Problems;
use crate::tenancy::spec::*;
use crate::tenancy::store::{StoreError, Upserted, check_id, problems_into};
use crate::types::Locale;

pub async fn ensure_locales<C: ConnectionTrait>(db: &C, codes: &[String]) -> Result<(), StoreError> {
    let mut p = Problems::default();
    for (i, code) in codes.iter().enumerate() {
        if p.check(&format!("locales[{i}]"), Locale::parse(code)).is_some()
            && let Err(e) = crate::catalog::Catalog::get().check_locale(code)
        {
            p.push(format!("locales[{i}]"), e);
        }
    }
    problems_into(p)?;
    for code in codes {
        locale::Entity::insert(locale::ActiveModel {
            code: Set(code.clone()),
        })
        .on_conflict(OnConflict::column(locale::Column::Code).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Makes the offered locales exactly `codes`: at least one (with none, nothing could be ordered).
pub async fn replace_locales<C: ConnectionTrait>(db: &C, codes: &[String]) -> Result<(), StoreError> {
    if codes.is_empty() {
        return Err(StoreError::Invalid(vec![FieldError::new(
            "locales",
            "must name at least one locale",
        )]));
    }
    ensure_locales(db, codes).await?;
    locale::Entity::delete_many()
        .filter(locale::Column::Code.is_not_in(codes.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn list_locales<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    Ok(locale::Entity::find()
        .order_by_asc(locale::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.code)
        .collect())
}

pub async fn upsert_lens<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    spec: &LensSpec,
    now: DateTime<Utc>,
) -> Result<Upserted, StoreError> {
    let mut p = Problems::from_validator(spec.validate());
    check_id(&mut p, spec.id, id);
    let mut seen = HashSet::new();
    let catalog = crate::catalog::Catalog::get();
    let locales = list_locales(db).await?;
    for (i, c) in spec.competencies.iter().enumerate() {
        if !seen.insert(c.key.as_str()) {
            p.push(format!("competencies[{i}].key"), "appears twice");
        } else if let Err(e) = catalog.check_lens(&spec.name, [c.key.as_str()], &locales) {
            let field = format!("competencies[{i}].key");
            if !p.0.iter().any(|f| f.field == field) {
                p.push(field, e);
            }
        }
    }
    problems_into(p)?;

    let existing = lens::Entity::find_by_id(id).one(db).await?;
    let outcome = match existing {
        Some(model) => {
            let mut active = model.into_active_model();
            active.name = Set(spec.name.clone());
            active.description = Set(spec.description.clone());
            active.updated_at = Set(now);
            active.update(db).await?;
            Upserted::Updated
        }
        None => {
            lens::ActiveModel {
                id: Set(id),
                name: Set(spec.name.clone()),
                description: Set(spec.description.clone()),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await?;
            Upserted::Created
        }
    };
    lens_competency::Entity::delete_many()
        .filter(lens_competency::Column::LensId.eq(id))
        .exec(db)
        .await?;
    let rows = spec
        .competencies
        .iter()
        .enumerate()
        .map(|(i, c)| lens_competency::ActiveModel {
            lens_id: Set(id),
            key: Set(c.key.clone()),
            name: Set(c.name.clone()),
            weight: Set(c.weight),
            position: Set(i as i32),
        });
    lens_competency::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(outcome)
}

fn lens_view_of(model: lens::Model, competencies: Vec<lens_competency::Model>) -> LensView {
    LensView {
        id: model.id,
        name: model.name,
        description: model.description,
        competencies: competencies
            .into_iter()
            .map(|c| CompetencyView {
                name: crate::catalog::display_name(&c.key, c.name.as_deref(), crate::catalog::FALLBACK_LOCALE),
                key: c.key,
                weight: c.weight,
            })
            .collect(),
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

pub async fn list_lenses<C: ConnectionTrait>(db: &C, only: Option<Uuid>) -> Result<Vec<LensView>, DbErr> {
    let mut query = lens::Entity::find().order_by_asc(lens::Column::Name);
    let mut competencies = lens_competency::Entity::find().order_by_asc(lens_competency::Column::Position);
    if let Some(id) = only {
        query = query.filter(lens::Column::Id.eq(id));
        competencies = competencies.filter(lens_competency::Column::LensId.eq(id));
    }
    let mut by_lens: BTreeMap<Uuid, Vec<lens_competency::Model>> = BTreeMap::new();
    for c in competencies.all(db).await? {
        by_lens.entry(c.lens_id).or_default().push(c);
    }
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .map(|l| {
            let cs = by_lens.remove(&l.id).unwrap_or_default();
            lens_view_of(l, cs)
        })
        .collect())
}

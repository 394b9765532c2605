//! The result body: what is pushed to `resultUpdateUrl` and served at
//! `GET /recruitment/v1/results/{resultId}`.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::{assessment, lens_competency};
use crate::links::{LinkKind, LinkSigner};
use crate::recruitment::dto::ResultBody;

/// A competency's display name when neither the lens nor the catalogue gives one:
/// `driving-leadership` -> `Driving Leadership`.
pub fn display_name_from_key(key: &str) -> String {
    key.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The result of a completed assessment; `None` while there is none.
pub async fn result_body<C: ConnectionTrait>(
    db: &C,
    links: &LinkSigner,
    a: &assessment::Model,
    report_link_ttl: chrono::Duration,
) -> Result<Option<ResultBody>, DbErr> {
    let (Some(score), Some(result_id), Some(completed_at)) = (a.score, a.result_id.as_ref(), a.completed_at) else {
        return Ok(None);
    };
    let names: BTreeMap<String, String> = lens_competency::Entity::find()
        .filter(lens_competency::Column::LensId.eq(a.lens_id))
        .order_by_asc(lens_competency::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|c| {
            let name = crate::catalog::display_name(&c.key, c.name.as_deref(), crate::catalog::FALLBACK_LOCALE);
            (c.key, name)
        })
        .collect();
    let raw: BTreeMap<String, i32> = a
        .subscores
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let subscores = raw
        .into_iter()
        .map(|(key, value)| {
            (
                names.get(&key).cloned().unwrap_or_else(|| display_name_from_key(&key)),
                value,
            )
        })
        .collect();
    let expires: DateTime<Utc> = completed_at + report_link_ttl;
    let recruitment_subject = a.recruitment_id.unwrap_or(a.id);
    Ok(Some(ResultBody {
        result_id: result_id.clone(),
        recruitment_url: links.url(LinkKind::Recruitment, recruitment_subject, expires),
        assessment_report_url: links.url(LinkKind::Report, a.id, expires),
        score,
        subscores,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        assert_eq!(display_name_from_key("driving-leadership"), "Driving Leadership");
        assert_eq!(display_name_from_key("problem-solving"), "Problem Solving");
    }
}

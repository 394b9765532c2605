//! The result body: what is pushed to `resultUpdateUrl` and served at
//! `GET /recruitment/v1/results/{resultId}`.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::assessment::questionnaire::lens_competencies;
use crate::entity::assessment;
use crate::links::{LinkKind, LinkSigner};

/// The result, as pushed to `resultUpdateUrl` and served by the pull endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResultBody {
    pub result_id: String,
    pub recruitment_url: String,
    pub assessment_report_url: String,
    /// 0..100
    #[schema(minimum = 0, maximum = 100, example = 71)]
    pub score: i32,
    /// Competency display name -> 0..100.
    #[schema(example = json!({"Driving Leadership": 73, "Influencing & Inspiring": 68}))]
    pub subscores: std::collections::BTreeMap<String, i32>,
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
    let names: BTreeMap<String, String> = lens_competencies(db, a.lens_id)
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
                names
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| crate::catalog::display_name_from_key(&key)),
                value,
            )
        })
        .collect();
    let expires: DateTime<Utc> = completed_at + report_link_ttl;
    let recruitment_subject = a.recruitment_id.unwrap_or(a.id.into());
    Ok(Some(ResultBody {
        result_id: result_id.clone(),
        recruitment_url: links.url(LinkKind::Recruitment, recruitment_subject, expires),
        assessment_report_url: links.url(LinkKind::Report, a.id.into(), expires),
        score,
        subscores,
    }))
}

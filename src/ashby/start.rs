//! `assessment.start` and `assessment.cancel`: the assessment's life as Ashby drives it.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, SqlErr,
};
use uuid::Uuid;

use crate::ashby::dto::{StartRequest, UpdateRequest};
use crate::assessment::invite::{self, InviteRequest};
use crate::assessment::questionnaire::lens_competencies;
use crate::assessment::{Event, Source, State, Transition, candidates};
use crate::catalog::Catalog;
use crate::delivery::ashby_update as update;
use crate::delivery::outbox::{DeliveryState, Kind};
use crate::entity::{assessment, delivery, lens, locale, organization, organization_lens};
use crate::links::LinkSigner;
use crate::types::{Email, OrganizationId};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A recruiter can fix it; shown in Ashby.
    #[error("{0}")]
    Fixable(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub struct Started {
    pub assessment: assessment::Model,
    pub created: bool,
    /// The `Invited` update to hand back in the 200.
    pub update: UpdateRequest,
    pub enqueued: bool,
}

pub struct StartContext<'a> {
    pub links: &'a LinkSigner,
    pub invitations: &'a crate::config::InvitationTiming,
    pub now: DateTime<Utc>,
}

fn open_states() -> [State; 2] {
    [State::Invited, State::Started]
}

async fn open_by<C: ConnectionTrait>(
    db: &C,
    org: OrganizationId,
    lens: Uuid,
    column: assessment::Column,
    value: &str,
) -> Result<Option<assessment::Model>, DbErr> {
    assessment::Entity::find()
        .filter(assessment::Column::OrganizationId.eq(org))
        .filter(assessment::Column::LensId.eq(lens))
        .filter(column.eq(value))
        .filter(assessment::Column::State.is_in(open_states()))
        .order_by_asc(assessment::Column::Id)
        .one(db)
        .await
}

/// A repeat of this start (same application and type, still open), or a conflict (the same
/// candidate already assessed with this type from another application).
async fn repeat_or_conflict<C: ConnectionTrait>(
    db: &C,
    org: OrganizationId,
    lens: &lens::Model,
    req: &StartRequest,
) -> Result<Option<assessment::Model>, StartError> {
    if let Some(same) = open_by(
        db,
        org,
        lens.id,
        assessment::Column::AshbyApplicationId,
        &req.application.ashby_id,
    )
    .await?
    {
        return Ok(Some(same));
    }
    if let Some(other) = open_by(
        db,
        org,
        lens.id,
        assessment::Column::AshbyCandidateId,
        &req.candidate.ashby_id,
    )
    .await?
    {
        // An identical start may have committed between the two look-ups: still a repeat.
        if other.ashby_application_id.as_deref() == Some(req.application.ashby_id.as_str()) {
            return Ok(Some(other));
        }
        let who = [req.candidate.first_name.as_deref(), req.candidate.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let who = if who.is_empty() {
            "This candidate".to_owned()
        } else {
            who
        };
        return Err(StartError::Conflict(format!(
            "{who} is already taking “{}” from another application.",
            lens.name
        )));
    }
    Ok(None)
}

/// Checks what a recruiter could get wrong; answers the lens and the e-mail.
async fn validate<C: ConnectionTrait>(
    db: &C,
    org: &organization::Model,
    req: &StartRequest,
) -> Result<(lens::Model, Email), StartError> {
    let lens_id = Uuid::parse_str(req.assessment_type_id.trim()).map_err(|_| {
        StartError::Fixable("This assessment type is not one of ours. Choose the assessment again in Ashby.".into())
    })?;
    let offered = organization_lens::Entity::find_by_id((org.id, lens_id))
        .one(db)
        .await?
        .is_some();
    let lens = lens::Entity::find_by_id(lens_id).one(db).await?;
    let lens = match (offered, lens) {
        (true, Some(lens)) => lens,
        (_, Some(lens)) => {
            return Err(StartError::Fixable(format!(
                "“{}” is no longer offered to your organization. Choose another assessment in Ashby.",
                lens.name
            )));
        }
        (_, None) => {
            return Err(StartError::Fixable(
                "This assessment is no longer offered. Choose another assessment in Ashby.".into(),
            ));
        }
    };
    if req.candidate.ashby_id.trim().is_empty()
        || req.application.ashby_id.trim().is_empty()
        || req.job.ashby_id.trim().is_empty()
    {
        return Err(StartError::Fixable(
            "Ashby sent no candidate, application or job id. Start the assessment again.".into(),
        ));
    }
    let email = match req.candidate.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => {
            return Err(StartError::Fixable(
                "The candidate has no e-mail address in Ashby. Add one, then start the assessment again.".into(),
            ));
        }
        Some(e) => Email::parse(e).map_err(|_| {
            StartError::Fixable(format!(
                "The candidate's e-mail address “{e}” is not valid. Correct it in Ashby, then start the assessment again."
            ))
        })?,
    };
    Ok((lens, email))
}

/// Ashby sends no locale: the organisation's `defaultLocale` while it is offered, else en-US or
/// the first offered one.
async fn invitation_locale<C: ConnectionTrait>(db: &C, org: &organization::Model) -> Result<String, DbErr> {
    let locales: Vec<String> = locale::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.code)
        .collect();
    Ok(if locales.contains(&org.default_locale) {
        org.default_locale.clone()
    } else if locales.iter().any(|l| l == "en-US") || locales.is_empty() {
        "en-US".into()
    } else {
        locales[0].clone()
    })
}

pub async fn start(
    db: &DatabaseConnection,
    org: &organization::Model,
    req: &StartRequest,
    ctx: &StartContext<'_>,
) -> Result<Started, StartError> {
    let (lens, email) = validate(db, org, req).await?;
    if let Some(existing) = repeat_or_conflict(db, org.id, &lens, req).await? {
        let timestamp = update::next_timestamp(existing.invited_at, None);
        return Ok(Started {
            update: update::with_status(existing.id, timestamp, "Invited"),
            assessment: existing,
            created: false,
            enqueued: false,
        });
    }
    let now = ctx.now;
    let locale = invitation_locale(db, org).await?;
    let role = req.job.name.clone().unwrap_or_else(|| lens.name.clone());
    let keys = lens_competencies(db, lens.id).await?;
    let brand_logo = crate::tenancy::branding::Brand::of(org).logo_path;
    let invite = invite::prepare(
        &InviteRequest {
            organization_id: org.id,
            organization_name: org.branding_display_name.as_deref().unwrap_or(&org.name),
            logo_path: brand_logo.as_deref(),
            source: Source::Ashby,
            lens_id: lens.id,
            locale: &locale,
            candidate_email: email.as_str(),
            candidate_first_name: req.candidate.first_name.as_deref(),
            role: &role,
            minutes: Catalog::get().estimated_minutes(keys.iter().map(|c| c.key.as_str())),
            send_email: true,
            sandbox: org.sandbox,
            now,
            timing: ctx.invitations,
        },
        ctx.links,
    );
    let timestamp = update::next_timestamp(now, None);
    let fingerprint = crate::crypto::sha256_hex(&serde_json::to_vec(req).unwrap_or_default());
    let result = crate::db::write_transaction::<(assessment::Model, bool), StartError, _>(db, |txn| {
        let req = req.clone();
        let invite = invite.clone();
        let fingerprint = fingerprint.clone();
        let email = email.clone();
        Box::pin(async move {
            let person = candidates::Person {
                email: &email,
                first_name: req.candidate.first_name.as_deref(),
                last_name: req.candidate.last_name.as_deref(),
            };
            let candidate_id = candidates::ensure(txn, invite.organization_id, &person, now).await?;
            let mut row = invite.assessment_row(candidate_id, fingerprint);
            row.ashby_candidate_id = Set(Some(req.candidate.ashby_id.clone()));
            row.ashby_application_id = Set(Some(req.application.ashby_id.clone()));
            row.ashby_job_id = Set(Some(req.job.ashby_id.clone()));
            row.ashby_job_name = Set(req.job.name.clone());
            row.additional_fields = Set(req.additional_fields.clone());
            row.ashby_last_update_ms = Set(Some(timestamp));
            let inserted = assessment::Entity::insert(row).exec_with_returning(txn).await?;
            let queued = invite.write_delivery(txn, now).await?;
            Ok((inserted, queued))
        })
    })
    .await;
    match result {
        Ok((assessment, queued)) => Ok(Started {
            update: update::with_status(assessment.id, timestamp, "Invited"),
            assessment,
            created: true,
            enqueued: queued,
        }),
        Err(StartError::Db(e)) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            // A concurrent identical start won: answer as a repeat (or the conflict it is).
            match repeat_or_conflict(db, org.id, &lens, req).await? {
                Some(existing) => Ok(Started {
                    update: update::with_status(
                        existing.id,
                        update::next_timestamp(existing.invited_at, None),
                        "Invited",
                    ),
                    assessment: existing,
                    created: false,
                    enqueued: false,
                }),
                None => Err(StartError::Db(e)),
            }
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no such assessment")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Cancels an open assessment; a finished one is left as it is. Either way the answer is
/// success. No further updates go to Ashby for it.
pub async fn cancel(
    db: &DatabaseConnection,
    org: &organization::Model,
    assessment_id: &str,
    now: DateTime<Utc>,
) -> Result<assessment::Model, CancelError> {
    let id = Uuid::parse_str(assessment_id.trim()).map_err(|_| CancelError::NotFound)?;
    let txn = crate::db::begin_write(db).await?;
    let current = assessment::Entity::find_by_id(id)
        .filter(assessment::Column::OrganizationId.eq(org.id))
        .filter(assessment::Column::Source.eq(Source::Ashby))
        .one(&txn)
        .await?
        .ok_or(CancelError::NotFound)?;
    let state = current.state;
    let result = match state.apply(Event::Cancel) {
        Transition::To(next) => {
            let mut active = current.into_active_model();
            active.state = Set(next);
            active.finished_at = Set(Some(now));
            active.updated_at = Set(now);
            let updated = active.update(&txn).await?;
            // Nothing more goes out for it: not to Ashby, and no invitation or reminder not yet sent.
            delivery::Entity::update_many()
                .col_expr(delivery::Column::State, Expr::value(DeliveryState::Dead))
                .col_expr(
                    delivery::Column::LastError,
                    Expr::value("cancelled by Ashby before it was sent"),
                )
                .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
                .filter(delivery::Column::AssessmentId.eq(id))
                .filter(delivery::Column::State.eq(DeliveryState::Pending))
                .filter(delivery::Column::Kind.is_in([Kind::AshbyUpdate, Kind::InvitationEmail, Kind::ReminderEmail]))
                .exec(&txn)
                .await?;
            updated
        }
        Transition::NoOp | Transition::Refused => current,
    };
    txn.commit().await?;
    Ok(result)
}

//! One assessment's story, for an operator: what happened when (ordered, invitation sent,
//! started, finished, each outgoing call given up, replayed by an operator and delivered), every
//! outgoing call with its attempts, and the report's link once there is a result.
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::assessment::State;
use crate::delivery::inspect::{self, Inspected};
use crate::delivery::outbox::{DeliveryState, Kind};
use crate::entity::enums::Source;
use crate::entity::{assessment, candidate, organization};
use crate::links::{LinkKind, LinkSigner};
use crate::types::AssessmentId;

/// One moment of the story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The order arrived through this surface.
    Ordered(Source),
    /// An outgoing call was delivered (an e-mail accepted by the mail server).
    Delivered(Kind),
    /// An outgoing call was given up: its attempts ran out, or it was refused for good.
    GaveUp(Kind),
    /// An operator replayed a call that had been given up (the admin API's or the console's
    /// replay, as the audit log has it).
    Replayed(Kind),
    Started,
    /// Completed, with this overall score.
    Completed(Option<i32>),
    /// Cancelled, expired or declined.
    Ended(State),
    /// The candidate's personal data was erased.
    Erased,
}

impl Step {
    /// The order of moments at the same instant: as the story runs.
    fn rank(self) -> u8 {
        match self {
            Step::Ordered(_) => 0,
            Step::Delivered(Kind::InvitationEmail)
            | Step::GaveUp(Kind::InvitationEmail)
            | Step::Replayed(Kind::InvitationEmail) => 1,
            Step::Started => 2,
            Step::Completed(_) | Step::Ended(_) => 3,
            Step::Delivered(_) | Step::GaveUp(_) | Step::Replayed(_) => 4,
            Step::Erased => 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub at: DateTime<Utc>,
    pub step: Step,
}

#[derive(Debug, Clone)]
pub struct Timeline {
    pub assessment: assessment::Model,
    /// The candidate's address and names, while not erased.
    pub candidate: Option<candidate::Model>,
    pub organization_name: String,
    /// In time order.
    pub moments: Vec<Moment>,
    /// Every outgoing call about the assessment, oldest first, with its attempts.
    pub calls: Vec<Inspected>,
    /// The recruiter's report, once there is a result (and while the data is not erased).
    pub report_url: Option<String>,
}

/// A replay of an outgoing call: which row, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    pub delivery_id: uuid::Uuid,
    pub at: DateTime<Utc>,
}

/// The moments of an assessment and its outgoing calls, in time order. A call's story is told
/// whole: each time it was given up (an attempt that ended it), each replay of it, and its
/// delivery.
pub fn moments(a: &assessment::Model, calls: &[Inspected], replays: &[Replayed]) -> Vec<Moment> {
    let mut moments = vec![Moment {
        at: a.created_at,
        step: Step::Ordered(a.source),
    }];
    if let Some(at) = a.started_at {
        moments.push(Moment {
            at,
            step: Step::Started,
        });
    }
    match (a.state, a.completed_at, a.finished_at) {
        (State::Completed, Some(at), _) => moments.push(Moment {
            at,
            step: Step::Completed(a.score),
        }),
        (State::Cancelled | State::Expired | State::Declined, _, Some(at)) => moments.push(Moment {
            at,
            step: Step::Ended(a.state),
        }),
        _ => {}
    }
    for call in calls {
        let d = &call.delivery;
        if d.target == crate::delivery::outbox::ERASED && call.attempts.is_empty() {
            // Dropped unsent with its candidate's data: the erasure is the moment that says so.
            continue;
        }
        let ended: Vec<DateTime<Utc>> = call
            .attempts
            .iter()
            .filter(|attempt| attempt.outcome == "dead")
            .map(|attempt| attempt.started_at)
            .collect();
        for at in &ended {
            moments.push(Moment {
                at: *at,
                step: Step::GaveUp(d.kind),
            });
        }
        if d.state == DeliveryState::Dead && ended.is_empty() {
            // Dead without an attempt that ended it (its data erased, say): when it stopped.
            moments.push(Moment {
                at: call.attempts.last().map_or(d.updated_at, |a| a.started_at),
                step: Step::GaveUp(d.kind),
            });
        }
        for r in replays.iter().filter(|r| r.delivery_id == d.id) {
            moments.push(Moment {
                at: r.at,
                step: Step::Replayed(d.kind),
            });
        }
        if let (DeliveryState::Delivered, Some(at)) = (d.state, d.delivered_at) {
            moments.push(Moment {
                at,
                step: Step::Delivered(d.kind),
            });
        }
    }
    if let Some(at) = a.erased_at {
        moments.push(Moment { at, step: Step::Erased });
    }
    // Stable: a call's moments at one instant keep their order (given up, replayed, delivered).
    moments.sort_by_key(|m| (m.at, m.step.rank()));
    moments
}

/// The recruiter's report of a completed assessment whose data is not erased: its signed link,
/// valid as long as the link the result push carried.
pub fn report_url(a: &assessment::Model, links: &LinkSigner) -> Option<String> {
    match (a.state, a.completed_at, a.erased_at) {
        (State::Completed, Some(done), None) => {
            Some(links.url(LinkKind::Report, a.id.into(), done + links.report_ttl()))
        }
        _ => None,
    }
}

/// The timeline of one assessment; `None` when there is no such assessment.
pub async fn load<C: ConnectionTrait>(db: &C, id: AssessmentId, links: &LinkSigner) -> Result<Option<Timeline>, DbErr> {
    let Some(a) = assessment::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let candidate = candidate::Entity::find_by_id(a.candidate_id)
        .one(db)
        .await?
        .filter(|c| c.erased_at.is_none() && a.erased_at.is_none());
    let organization_name = organization::Entity::find_by_id(a.organization_id)
        .one(db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let calls = inspect::of_assessment(db, id).await?;
    let ids: Vec<uuid::Uuid> = calls.iter().map(|c| c.delivery.id).collect();
    let replays: Vec<Replayed> = crate::audit::succeeded(db, "delivery.replay", "delivery", &ids)
        .await?
        .into_iter()
        .filter_map(|(target, at)| {
            Some(Replayed {
                delivery_id: uuid::Uuid::parse_str(&target).ok()?,
                at,
            })
        })
        .collect();
    let report_url = report_url(&a, links);
    Ok(Some(Timeline {
        moments: moments(&a, &calls, &replays),
        assessment: a,
        candidate,
        organization_name,
        calls,
        report_url,
    }))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use uuid::Uuid;

    use super::*;
    use crate::entity::{delivery, delivery_attempt};

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    fn assessment() -> assessment::Model {
        assessment::Model {
            id: AssessmentId(Uuid::now_v7()),
            organization_id: crate::types::OrganizationId(Uuid::now_v7()),
            recruitment_id: None,
            candidate_id: Uuid::now_v7(),
            lens_id: Uuid::now_v7(),
            locale: "en-US".into(),
            source: Source::Recruitment,
            state: State::Completed,
            result_id: Some("r-1".into()),
            result_update_url: None,
            request_hash: String::new(),
            score: Some(71),
            subscores: None,
            invited_at: at(0),
            started_at: Some(at(10)),
            completed_at: Some(at(30)),
            finished_at: Some(at(30)),
            expires_at: at(10_000),
            created_at: at(0),
            updated_at: at(30),
            ashby_candidate_id: None,
            ashby_application_id: None,
            ashby_job_id: None,
            ashby_job_name: None,
            additional_fields: None,
            ashby_last_update_ms: None,
            erased_at: None,
            next_reminder_at: None,
        }
    }

    fn call(kind: Kind, state: DeliveryState, attempt_minutes: &[i64]) -> Inspected {
        let id = Uuid::now_v7();
        Inspected {
            delivery: delivery::Model {
                id,
                kind,
                organization_id: None,
                assessment_id: None,
                ordering_key: String::new(),
                target: "http://127.0.0.1/x".into(),
                payload: serde_json::json!({}),
                state,
                attempts: attempt_minutes.len() as i32,
                replay_base: 0,
                next_attempt_at: at(0),
                first_attempt_at: None,
                deadline_at: None,
                lease_owner: None,
                lease_expires_at: None,
                last_status: None,
                last_error: None,
                delivered_at: (state == DeliveryState::Delivered).then(|| at(*attempt_minutes.last().unwrap_or(&0))),
                created_at: at(0),
                updated_at: at(99),
            },
            attempts: attempt_minutes
                .iter()
                .enumerate()
                .map(|(i, m)| delivery_attempt::Model {
                    id: Uuid::now_v7(),
                    delivery_id: id,
                    attempt_no: i as i32 + 1,
                    started_at: at(*m),
                    duration_ms: 5,
                    status_code: Some(500),
                    outcome: "retry".into(),
                    error: None,
                    response_excerpt: None,
                })
                .collect(),
        }
    }

    #[test]
    fn the_moments_are_in_time_order_with_each_call_delivered_or_given_up() {
        let calls = [
            call(Kind::InvitationEmail, DeliveryState::Delivered, &[1]),
            call(Kind::Result, DeliveryState::Dead, &[31, 33, 40]),
            call(Kind::RecruiterNotice, DeliveryState::Pending, &[]),
        ];
        let steps: Vec<(i64, Step)> = moments(&assessment(), &calls, &[])
            .into_iter()
            .map(|m| ((m.at - at(0)).num_minutes(), m.step))
            .collect();
        assert_eq!(
            steps,
            [
                (0, Step::Ordered(Source::Recruitment)),
                (1, Step::Delivered(Kind::InvitationEmail)),
                (10, Step::Started),
                (30, Step::Completed(Some(71))),
                (40, Step::GaveUp(Kind::Result)),
            ]
        );
    }

    #[test]
    fn moments_at_one_instant_follow_the_story_and_dropped_rows_are_left_out() {
        let mut a = assessment();
        a.started_at = Some(at(0));
        a.completed_at = Some(at(0));
        a.erased_at = Some(at(0));
        let mut dropped = call(Kind::ReminderEmail, DeliveryState::Dead, &[]);
        dropped.delivery.target = crate::delivery::outbox::ERASED.to_owned();
        let calls = [
            call(Kind::Result, DeliveryState::Delivered, &[0]),
            call(Kind::InvitationEmail, DeliveryState::Delivered, &[0]),
            dropped,
        ];
        let steps: Vec<Step> = moments(&a, &calls, &[]).into_iter().map(|m| m.step).collect();
        assert_eq!(
            steps,
            [
                Step::Ordered(Source::Recruitment),
                Step::Delivered(Kind::InvitationEmail),
                Step::Started,
                Step::Completed(Some(71)),
                Step::Delivered(Kind::Result),
                Step::Erased,
            ]
        );
    }

    #[test]
    fn an_ended_assessment_shows_how_it_ended_and_an_erasure() {
        let mut a = assessment();
        a.state = State::Expired;
        a.started_at = None;
        a.completed_at = None;
        a.score = None;
        a.erased_at = Some(at(50));
        let steps: Vec<Step> = moments(&a, &[], &[]).into_iter().map(|m| m.step).collect();
        assert_eq!(
            steps,
            [
                Step::Ordered(Source::Recruitment),
                Step::Ended(State::Expired),
                Step::Erased
            ]
        );
    }

    #[test]
    fn a_replayed_call_tells_its_give_up_its_replay_and_its_delivery() {
        // Given up at 31, replayed at 50, given up again at 51, replayed at 60, delivered at 61.
        let mut push = call(Kind::Result, DeliveryState::Delivered, &[31, 51, 61]);
        push.attempts[0].outcome = "dead".into();
        push.attempts[1].outcome = "dead".into();
        push.attempts[2].outcome = "delivered".into();
        let id = push.delivery.id;
        let replays = [
            Replayed {
                delivery_id: id,
                at: at(50),
            },
            Replayed {
                delivery_id: id,
                at: at(60),
            },
            // Another row's replay is not this call's.
            Replayed {
                delivery_id: Uuid::now_v7(),
                at: at(55),
            },
        ];
        let steps: Vec<(i64, Step)> = moments(&assessment(), &[push], &replays)
            .into_iter()
            .filter(|m| m.at > at(30))
            .map(|m| ((m.at - at(0)).num_minutes(), m.step))
            .collect();
        assert_eq!(
            steps,
            [
                (31, Step::GaveUp(Kind::Result)),
                (50, Step::Replayed(Kind::Result)),
                (51, Step::GaveUp(Kind::Result)),
                (60, Step::Replayed(Kind::Result)),
                (61, Step::Delivered(Kind::Result)),
            ]
        );
    }
}

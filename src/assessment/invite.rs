//! Inviting a candidate, whichever surface ordered the assessment: the assessment's id and
//! expiry, the candidate's link, the rendered invitation e-mail, the assessment row every
//! source shares, and the invitation's outbox row. The Recruitment API's orders and Ashby's
//! `assessment.start` both go through [`prepare`]; each then sets its own source's fields on
//! [`Invite::assessment_row`] and writes the rows in its own transaction.
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use crate::assessment::reminders;
use crate::assessment::{Source, State};
use crate::config::InvitationTiming;
use crate::delivery::invitation::{Invitation, render};
use crate::delivery::outbox::{self, EmailPayload, Kind, NewDelivery};
use crate::entity::assessment;
use crate::links::{LinkKind, LinkSigner};
use crate::types::{AssessmentId, OrganizationId};

/// How long a link lasts when the configured time-to-live cannot be represented.
const FALLBACK_TTL: chrono::Duration = chrono::Duration::days(14);

/// What an invitation is made from.
pub struct InviteRequest<'a> {
    pub organization_id: OrganizationId,
    /// The organisation's name as candidates see it (its branding's display name), for the e-mail.
    pub organization_name: &'a str,
    /// The organisation's logo (its path on this server), for the e-mail.
    pub logo_path: Option<&'a str>,
    pub source: Source,
    pub lens_id: Uuid,
    pub locale: &'a str,
    pub candidate_email: &'a str,
    /// The candidate's first name, when the ATS sent one: the e-mail greets them by it.
    pub candidate_first_name: Option<&'a str>,
    /// The role the candidate applies for, for the e-mail.
    pub role: &'a str,
    /// The time estimate the e-mail states (`Catalog::estimated_minutes`).
    pub minutes: usize,
    /// False for link orders: the caller hands the link to the candidate itself.
    pub send_email: bool,
    /// A sandbox organisation: the e-mail is rendered and logged, never sent.
    pub sandbox: bool,
    pub now: DateTime<Utc>,
    /// How long the link lasts, and when the candidate is reminded.
    pub timing: &'a InvitationTiming,
}

/// An invitation made and not yet written.
#[derive(Debug, Clone)]
pub struct Invite {
    pub assessment_id: AssessmentId,
    pub organization_id: OrganizationId,
    pub source: Source,
    pub lens_id: Uuid,
    pub locale: String,
    pub invited_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The invitation e-mail, when one is sent.
    pub mail: Option<EmailPayload>,
    /// The organisation is a sandbox: the e-mail's row is written settled, not sent.
    pub sandbox: bool,
    /// When the candidate is first reminded: only when an e-mail is sent.
    pub next_reminder_at: Option<DateTime<Utc>>,
}

/// Makes the invitation: a new assessment id, its expiry, its link and, when asked, the e-mail.
pub fn prepare(req: &InviteRequest<'_>, links: &LinkSigner) -> Invite {
    let ttl = chrono::Duration::from_std(req.timing.ttl).unwrap_or(FALLBACK_TTL);
    let expires_at = req.now + ttl;
    let assessment_id = AssessmentId::generate();
    let mail = req.send_email.then(|| {
        let link = links.url(LinkKind::Assessment, assessment_id.into(), expires_at);
        let logo = req.logo_path.map(|p| links.absolute(p));
        render(&Invitation {
            to: req.candidate_email,
            locale: req.locale,
            organization: req.organization_name,
            role: req.role,
            link: &link,
            expires_at,
            minutes: req.minutes,
            reminder: false,
            first_name: req.candidate_first_name,
            logo_url: logo.as_deref(),
        })
    });
    let reminded = mail.is_some() && !req.sandbox;
    let next_reminder_at = reminded
        .then(|| reminders::next_moment(&req.timing.reminders, req.now, expires_at, req.now))
        .flatten();
    Invite {
        assessment_id,
        organization_id: req.organization_id,
        source: req.source,
        lens_id: req.lens_id,
        locale: req.locale.to_owned(),
        invited_at: req.now,
        expires_at,
        mail,
        sandbox: req.sandbox,
        next_reminder_at,
    }
}

impl Invite {
    /// The assessment's row, `invited`, with what every source shares; `request_hash`
    /// fingerprints the request that made it (a repeat is recognised by it). The caller sets
    /// its source's own columns (the recruitment and `resultId`, or Ashby's ids).
    pub fn assessment_row(&self, candidate_id: Uuid, request_hash: String) -> assessment::ActiveModel {
        assessment::ActiveModel {
            id: Set(self.assessment_id),
            organization_id: Set(self.organization_id),
            candidate_id: Set(candidate_id),
            lens_id: Set(self.lens_id),
            locale: Set(self.locale.clone()),
            source: Set(self.source),
            state: Set(State::Invited),
            request_hash: Set(request_hash),
            recruitment_id: Set(None),
            result_id: Set(None),
            result_update_url: Set(None),
            score: Set(None),
            subscores: Set(None),
            invited_at: Set(self.invited_at),
            started_at: Set(None),
            completed_at: Set(None),
            finished_at: Set(None),
            expires_at: Set(self.expires_at),
            created_at: Set(self.invited_at),
            updated_at: Set(self.invited_at),
            next_reminder_at: Set(self.next_reminder_at),
            ..Default::default()
        }
    }

    /// The invitation e-mail's outbox row, when one is sent; write it in the same transaction
    /// as the assessment ([`Invite::write_delivery`], or the batch writer's own statement).
    pub fn delivery(&self) -> Option<NewDelivery> {
        self.mail.as_ref().map(|mail| NewDelivery {
            kind: Kind::InvitationEmail,
            organization_id: Some(self.organization_id),
            assessment_id: Some(self.assessment_id),
            target: mail.to.clone(),
            payload: serde_json::to_value(mail).unwrap_or_default(),
        })
    }

    /// Writes the invitation's outbox row, if any, into `txn`: to be sent, or settled at once
    /// for a sandbox organisation. True when a row was queued for sending.
    pub async fn write_delivery<C: ConnectionTrait>(&self, txn: &C, now: DateTime<Utc>) -> Result<bool, DbErr> {
        let Some(row) = self.delivery() else {
            return Ok(false);
        };
        if self.sandbox {
            outbox::write_sandboxed(txn, vec![row], now).await?;
            Ok(false)
        } else {
            outbox::enqueue(txn, row, now).await?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TIMING: std::sync::LazyLock<InvitationTiming> = std::sync::LazyLock::new(|| InvitationTiming {
        ttl: std::time::Duration::from_secs(3_600),
        reminders: vec![std::time::Duration::from_secs(600)].into(),
    });

    fn request(send_email: bool) -> InviteRequest<'static> {
        InviteRequest {
            organization_id: Uuid::nil().into(),
            organization_name: "Acme",
            logo_path: None,
            source: Source::Recruitment,
            lens_id: Uuid::nil(),
            locale: "sv-SE",
            candidate_email: "ada@example.com",
            candidate_first_name: None,
            role: "Engineer",
            minutes: 12,
            send_email,
            sandbox: false,
            now: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            timing: &TIMING,
        }
    }

    fn signer() -> LinkSigner {
        LinkSigner::new(
            &secrecy::SecretBox::new(Box::new([7; 32])),
            url::Url::parse("http://127.0.0.1:8080").expect("static URL"),
        )
    }

    #[test]
    fn an_e_mail_invitation_carries_a_link_that_verifies_until_it_expires() {
        let links = signer();
        let invite = prepare(&request(true), &links);
        assert_eq!(invite.expires_at - invite.invited_at, chrono::Duration::hours(1));
        let mail = invite.mail.as_ref().expect("an e-mail");
        assert_eq!(mail.to, "ada@example.com");
        let token = mail
            .text
            .split("/a/")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("a link in the text");
        assert_eq!(
            links.verify(LinkKind::Assessment, token, invite.invited_at),
            Ok(invite.assessment_id.into())
        );
        assert_eq!(
            invite.next_reminder_at,
            Some(invite.expires_at - chrono::Duration::minutes(10)),
            "reminded ten minutes before the end"
        );
        let row = invite.delivery().expect("an outbox row");
        assert_eq!(row.kind, Kind::InvitationEmail);
        assert_eq!(row.assessment_id, Some(invite.assessment_id));
    }

    #[test]
    fn a_link_order_has_no_e_mail_and_no_outbox_row() {
        let invite = prepare(&request(false), &signer());
        assert!(invite.mail.is_none());
        assert!(invite.delivery().is_none());
        assert_eq!(
            invite.next_reminder_at, None,
            "the integrator hands the link over itself"
        );
        let row = invite.assessment_row(Uuid::nil(), "hash".into());
        assert_eq!(row.state, Set(State::Invited));
        assert_eq!(row.source, Set(Source::Recruitment));
    }
}

//! The recruiters' notice: when a candidate completes, each of the recruitment's collaborators
//! (the order's `additionalRecruitmentCollaboratorsEmails`) gets one e-mail, in the
//! organisation's locale, naming the candidate, the assessment, the overall score and band, and
//! the report link. The rows are written in the completion's transaction, which happens once per
//! assessment; a retried order makes no second assessment, so no second notice.
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::assessment::report::{candidate_label, labels};
use crate::assessment::scoring::band;
use crate::delivery::outbox::{self, EmailPayload, Kind, NewDelivery};
use crate::entity::{assessment, candidate, lens, organization, recruitment};

/// What the notice says.
pub struct Notice<'a> {
    pub to: &'a str,
    pub locale: &'a str,
    pub candidate: &'a str,
    pub lens: &'a str,
    pub recruitment: &'a str,
    pub score: i32,
    pub report_url: &'a str,
    pub report_expires_at: DateTime<Utc>,
}

struct Texts {
    subject: &'static str,
    body: &'static str,
    overall: &'static str,
    action: &'static str,
    expiry: &'static str,
}

fn texts(locale: &str) -> Texts {
    match locale {
        "sv-SE" => Texts {
            subject: "{candidate} har slutfört {lens}",
            body: "{candidate} har slutfört bedömningen {lens} för {recruitment}.",
            overall: "Totalpoäng",
            action: "Öppna rapporten:",
            expiry: "Länken gäller till och med {date}.",
        },
        "nl-NL" => Texts {
            subject: "{candidate} heeft {lens} afgerond",
            body: "{candidate} heeft het assessment {lens} voor {recruitment} afgerond.",
            overall: "Totaalscore",
            action: "Open het rapport:",
            expiry: "De link is geldig tot en met {date}.",
        },
        "nn-NO" => Texts {
            subject: "{candidate} har fullført {lens}",
            body: "{candidate} har fullført vurderinga {lens} for {recruitment}.",
            overall: "Totalpoeng",
            action: "Opne rapporten:",
            expiry: "Lenkja gjeld til og med {date}.",
        },
        _ => Texts {
            subject: "{candidate} has completed {lens}",
            body: "{candidate} has completed the assessment {lens} for {recruitment}.",
            overall: "Overall score",
            action: "Open the report:",
            expiry: "The link is valid until {date}.",
        },
    }
}

pub fn render(n: &Notice<'_>) -> EmailPayload {
    let t = texts(n.locale);
    let l = labels(n.locale);
    let fill = |s: &str| {
        s.replace("{candidate}", n.candidate)
            .replace("{lens}", n.lens)
            .replace("{recruitment}", n.recruitment)
            .replace("{date}", &n.report_expires_at.format("%Y-%m-%d").to_string())
    };
    let score = format!("{}: {} / 100 ({})", t.overall, n.score, l.band(band(n.score)));
    let text = format!(
        "{}\n\n{score}\n\n{}\n{}\n\n{}\n",
        fill(t.body),
        t.action,
        n.report_url,
        fill(t.expiry)
    );
    let html = maud::html! {
        (maud::DOCTYPE)
        html lang=(l.lang) {
            head { meta charset="utf-8"; title { (fill(t.subject)) } }
            body style="font-family: sans-serif; line-height: 1.5; max-width: 36rem" {
                p { (fill(t.body)) }
                p { strong { (score) } }
                p { (t.action) br; a href=(n.report_url) { (n.report_url) } }
                p { (fill(t.expiry)) }
            }
        }
    };
    EmailPayload {
        to: n.to.to_owned(),
        subject: fill(t.subject),
        text,
        html: Some(html.into_string()),
    }
}

/// Writes the notices of a completed assessment into `txn`: to be sent, or settled at once for a
/// sandbox organisation. True when rows were queued for sending.
pub async fn write<C: ConnectionTrait>(
    txn: &C,
    a: &assessment::Model,
    report_url: &str,
    report_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let (Some(recruitment_id), Some(score)) = (a.recruitment_id, a.score) else {
        return Ok(false);
    };
    let Some(recruitment) = recruitment::Entity::find_by_id(recruitment_id).one(txn).await? else {
        return Ok(false);
    };
    let collaborators: Vec<String> = serde_json::from_value(recruitment.collaborator_emails).unwrap_or_default();
    if collaborators.is_empty() {
        return Ok(false);
    }
    let (Some(org), Some(candidate)) = (
        organization::Entity::find_by_id(a.organization_id).one(txn).await?,
        candidate::Entity::find_by_id(a.candidate_id).one(txn).await?,
    ) else {
        return Ok(false);
    };
    let lens = lens::Entity::find_by_id(a.lens_id)
        .one(txn)
        .await?
        .map(|l| l.name)
        .unwrap_or_default();
    let who = candidate_label(&candidate);
    let rows: Vec<NewDelivery> = collaborators
        .iter()
        .map(|to| {
            let mail = render(&Notice {
                to,
                locale: &org.default_locale,
                candidate: &who,
                lens: &lens,
                recruitment: &recruitment.title,
                score,
                report_url,
                report_expires_at,
            });
            NewDelivery {
                kind: Kind::RecruiterNotice,
                organization_id: Some(a.organization_id),
                assessment_id: Some(a.id),
                target: to.clone(),
                payload: serde_json::to_value(&mail).unwrap_or_default(),
            }
        })
        .collect();
    if org.sandbox {
        outbox::write_sandboxed(txn, rows, now).await?;
        Ok(false)
    } else {
        outbox::enqueue_many(txn, rows, now, None).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_names_the_candidate_score_band_and_link_in_each_locale() {
        let mut subjects = std::collections::HashSet::new();
        for (locale, band) in [
            ("en-US", "Strong"),
            ("sv-SE", "Stark"),
            ("nl-NL", "Sterk"),
            ("nn-NO", "Sterk"),
        ] {
            let mail = render(&Notice {
                to: "rec@example.com",
                locale,
                candidate: "Åsa Berg <asa@example.com>",
                lens: "Leadership",
                recruitment: "Developer",
                score: 72,
                report_url: "https://ap.example.com/r/tok",
                report_expires_at: Utc::now(),
            });
            assert_eq!(mail.to, "rec@example.com");
            assert!(mail.subject.contains("Åsa Berg") && mail.subject.contains("Leadership"));
            assert!(
                mail.text.contains(&format!("72 / 100 ({band})")),
                "{locale}: {}",
                mail.text
            );
            assert!(mail.text.contains("https://ap.example.com/r/tok") && mail.text.contains("Developer"));
            let html = mail.html.unwrap_or_default();
            assert!(html.contains(r#"href="https://ap.example.com/r/tok""#), "{locale}");
            assert!(html.contains("Åsa Berg &lt;asa@example.com&gt;"), "escaped: {html}");
            subjects.insert(mail.subject);
        }
        assert_eq!(subjects.len(), 4);
    }
}

//! The invitation e-mail and its reminders, in the order's locale (for Ashby starts, the
//! organisation's), as text and HTML: the organisation, the role, the deadline date and the link.
use chrono::{DateTime, Utc};

use crate::delivery::outbox::EmailPayload;

pub struct Invitation<'a> {
    pub to: &'a str,
    pub locale: &'a str,
    pub organization: &'a str,
    pub role: &'a str,
    pub link: &'a str,
    pub expires_at: DateTime<Utc>,
    /// The time estimate (`Catalog::estimated_minutes`).
    pub minutes: usize,
    /// A reminder of an invitation not finished yet, with the same link.
    pub reminder: bool,
    /// The candidate's first name, when the ATS sent one (Ashby does): the greeting names them.
    pub first_name: Option<&'a str>,
    /// The employer's logo (an absolute URL on this server), above the HTML part's text.
    pub logo_url: Option<&'a str>,
}

struct Texts {
    subject: &'static str,
    greeting: &'static str,
    /// The greeting with `{name}`, for a candidate whose name we have.
    named_greeting: &'static str,
    body: &'static str,
    action: &'static str,
    expiry: &'static str,
    closing: &'static str,
}

/// What a reminder says instead of the invitation's subject and first paragraph.
struct Reminder {
    subject: &'static str,
    body: &'static str,
}

fn reminder_texts(locale: &str) -> Reminder {
    match locale {
        "sv-SE" => Reminder {
            subject: "Påminnelse: bedömning från {org}",
            body: "{org} har bjudit in dig att göra en bedömning för rollen {role}, och du har inte slutfört den än. Den tar ungefär {minutes} minuter.",
        },
        "nl-NL" => Reminder {
            subject: "Herinnering: assessment van {org}",
            body: "{org} heeft je uitgenodigd voor een assessment voor de functie {role}, en je hebt het nog niet afgerond. Het duurt ongeveer {minutes} minuten.",
        },
        "nn-NO" => Reminder {
            subject: "Påminning: vurdering frå {org}",
            body: "{org} har invitert deg til ei vurdering for rolla {role}, og du har ikkje fullført ho enno. Ho tek om lag {minutes} minutt.",
        },
        _ => Reminder {
            subject: "Reminder: assessment from {org}",
            body: "{org} has invited you to take an assessment for the role {role}, and you have not finished it yet. It takes about {minutes} minutes.",
        },
    }
}

fn texts(locale: &str) -> Texts {
    match locale {
        "sv-SE" => Texts {
            subject: "Inbjudan till bedömning från {org}",
            greeting: "Hej!",
            named_greeting: "Hej {name}!",
            body: "{org} har bjudit in dig att göra en bedömning för rollen {role}. Den tar ungefär {minutes} minuter.",
            action: "Starta bedömningen här:",
            expiry: "Länken gäller till och med {date}.",
            closing: "Lycka till!",
        },
        "nl-NL" => Texts {
            subject: "Uitnodiging voor een assessment van {org}",
            greeting: "Hallo,",
            named_greeting: "Hallo {name},",
            body: "{org} nodigt je uit voor een assessment voor de functie {role}. Het duurt ongeveer {minutes} minuten.",
            action: "Begin hier met het assessment:",
            expiry: "De link is geldig tot en met {date}.",
            closing: "Veel succes!",
        },
        "nn-NO" => Texts {
            subject: "Invitasjon til vurdering frå {org}",
            greeting: "Hei!",
            named_greeting: "Hei {name}!",
            body: "{org} har invitert deg til ei vurdering for rolla {role}. Ho tek om lag {minutes} minutt.",
            action: "Start vurderinga her:",
            expiry: "Lenkja gjeld til og med {date}.",
            closing: "Lukke til!",
        },
        _ => Texts {
            subject: "Assessment invitation from {org}",
            greeting: "Hello,",
            named_greeting: "Hello {name},",
            body: "{org} has invited you to take an assessment for the role {role}. It takes about {minutes} minutes.",
            action: "Start the assessment here:",
            expiry: "The link is valid until {date}.",
            closing: "Good luck!",
        },
    }
}

pub fn render(inv: &Invitation<'_>) -> EmailPayload {
    let mut t = texts(inv.locale);
    if inv.reminder {
        let r = reminder_texts(inv.locale);
        t.subject = r.subject;
        t.body = r.body;
    }
    let fill = |s: &str| {
        s.replace("{org}", inv.organization)
            .replace("{role}", inv.role)
            .replace("{date}", &inv.expires_at.format("%Y-%m-%d").to_string())
            .replace("{minutes}", &inv.minutes.to_string())
    };
    let name = inv.first_name.map(str::trim).filter(|n| !n.is_empty());
    let greeting = match name {
        Some(name) => t.named_greeting.replace("{name}", name),
        None => t.greeting.to_owned(),
    };
    let text = format!(
        "{}\n\n{}\n\n{}\n{}\n\n{}\n\n{}\n",
        greeting,
        fill(t.body),
        t.action,
        inv.link,
        fill(t.expiry),
        t.closing
    );
    let html = maud::html! {
        (maud::DOCTYPE)
        html lang=(inv.locale.split('-').next().unwrap_or("en")) {
            head { meta charset="utf-8"; title { (fill(t.subject)) } }
            body style="font-family: sans-serif; line-height: 1.5; max-width: 36rem" {
                @if let Some(logo) = inv.logo_url { p { img src=(logo) alt=(inv.organization) height="40"; } }
                p { (greeting) }
                p { (fill(t.body)) }
                p { (t.action) br; a href=(inv.link) { (inv.link) } }
                p { strong { (fill(t.expiry)) } }
                p { (t.closing) }
            }
        }
    };
    EmailPayload {
        to: inv.to.to_owned(),
        subject: fill(t.subject),
        text,
        html: Some(html.into_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invitation(locale: &str, reminder: bool) -> Invitation<'_> {
        Invitation {
            to: "ada@example.com",
            locale,
            organization: "Example AB",
            role: "Developer",
            link: "https://ap.example.com/a/tok",
            expires_at: Utc::now(),
            minutes: 7,
            reminder,
            first_name: None,
            logo_url: None,
        }
    }

    #[test]
    fn the_html_part_shows_the_employers_logo() {
        let mut inv = invitation("en-US", false);
        assert!(!render(&inv).html.unwrap_or_default().contains("<img"));
        inv.logo_url = Some("https://ap.example.com/branding/x/logo?v=1");
        let html = render(&inv).html.unwrap_or_default();
        assert!(
            html.contains(r#"<img src="https://ap.example.com/branding/x/logo?v=1" alt="Example AB""#),
            "{html}"
        );
    }

    #[test]
    fn the_greeting_names_the_candidate_when_the_name_is_known() {
        for (locale, named) in [
            ("en-US", "Hello Ada,"),
            ("sv-SE", "Hej Ada!"),
            ("nl-NL", "Hallo Ada,"),
            ("nn-NO", "Hei Ada!"),
        ] {
            let mut inv = invitation(locale, false);
            inv.first_name = Some(" Ada ");
            let mail = render(&inv);
            assert!(mail.text.starts_with(named), "{locale}: {}", mail.text);
            assert!(mail.html.as_deref().unwrap_or_default().contains(named), "{locale}");
            inv.first_name = Some("<b>");
            assert!(
                mail.html.is_some() && render(&inv).html.unwrap_or_default().contains("&lt;b&gt;"),
                "escaped"
            );
            inv.first_name = Some("  ");
            assert!(!render(&inv).text.contains("  ,"), "{locale}: a blank name is no name");
        }
    }

    #[test]
    fn every_locale_has_its_own_words_and_the_link() {
        let mut subjects = std::collections::HashSet::new();
        for locale in ["en-US", "sv-SE", "nl-NL", "nn-NO"] {
            let mail = render(&invitation(locale, false));
            assert!(mail.text.contains("https://ap.example.com/a/tok"), "{locale}");
            let html = mail.html.as_deref().expect("an HTML part");
            assert!(html.contains(r#"href="https://ap.example.com/a/tok""#), "{locale}");
            assert!(html.contains("Example AB") && html.contains("Developer"), "{locale}");
            assert!(mail.text.contains(" 7 "), "{locale}: {}", mail.text);
            assert!(
                mail.subject.contains("Example AB") && mail.text.contains("Developer"),
                "{locale}"
            );
            subjects.insert(mail.subject);
        }
        assert_eq!(subjects.len(), 4);
    }

    #[test]
    fn a_reminder_says_so_and_carries_the_same_link() {
        for locale in ["en-US", "sv-SE", "nl-NL", "nn-NO"] {
            let (first, again) = (render(&invitation(locale, false)), render(&invitation(locale, true)));
            assert_ne!(first.subject, again.subject, "{locale}");
            assert!(again.subject.contains("Example AB"), "{locale}");
            assert!(again.text.contains("https://ap.example.com/a/tok") && again.text.contains("Developer"));
            let expiry_line = first.text.lines().rev().nth(2).unwrap_or_default();
            assert!(again.text.contains(expiry_line), "{locale}: the same deadline line");
        }
    }
}

//! The candidate flow through its HTML forms, over HTTP, and the whole loop: order → link →
//! candidate answers → score → result pushed (and Ashby told).
use std::time::Duration;

use assessment_partner::entity::assessment;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::receiver::Receiver;

/// A candidate with a browser-like cookie jar of one cookie.
pub struct Candidate<'a> {
    app: &'a TestApp,
    base: String,
    cookie: Option<String>,
}

pub fn capture(html: &str, before: &str, after: char) -> Vec<String> {
    html.split(before)
        .skip(1)
        .filter_map(|rest| rest.split(after).next().map(str::to_owned))
        .collect()
}

impl<'a> Candidate<'a> {
    pub fn new(app: &'a TestApp, link: &str) -> Self {
        let path = link.strip_prefix(&app.address).expect("the link points at this server");
        Self {
            app,
            base: path.to_owned(),
            cookie: None,
        }
    }

    fn remember(&mut self, response: &reqwest::Response) {
        if let Some(c) = response.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()) {
            self.cookie = c.split(';').next().map(str::to_owned);
        }
    }

    pub async fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        let mut request = self.app.http.get(self.app.url(&format!("{}{path}", self.base)));
        if let Some(c) = &self.cookie {
            request = request.header(COOKIE, c);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, response.text().await.unwrap(), location)
    }

    pub async fn post(&mut self, path: &str, form: &[(String, String)]) -> (u16, String, Option<String>) {
        let mut request = self
            .app
            .http
            .post(self.app.url(&format!("{}{path}", self.base)))
            .form(form);
        if let Some(c) = &self.cookie {
            request = request.header(COOKIE, c);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, response.text().await.unwrap(), location)
    }

    pub fn csrf(html: &str) -> String {
        capture(html, r#"name="csrf" value=""#, '"')
            .into_iter()
            .next()
            .expect("the form carries a CSRF token")
    }

    /// Takes the assessment behind `link` to the end through the forms, answering 5 everywhere.
    pub async fn complete(app: &TestApp, link: &str) {
        let mut candidate = Candidate::new(app, link);
        let (_, intro, _) = candidate.get("").await;
        let csrf = Candidate::csrf(&intro);
        candidate.post("/start", &[("csrf".into(), csrf.clone())]).await;
        candidate.answer_all(|_| 5).await;
        let (status, _, _) = candidate.post("/submit", &[("csrf".into(), csrf)]).await;
        assert_eq!(status, 303);
    }

    /// Answers every page: `answer(item_id)` gives the value.
    pub async fn answer_all(&mut self, answer: impl Fn(&str) -> u8) -> usize {
        let mut page = 1;
        loop {
            let (status, html, _) = self.get(&format!("/q/{page}")).await;
            assert_eq!(status, 200, "page {page}");
            let ids: Vec<String> = capture(&html, r#"name="item:"#, '"');
            let mut unique = ids.clone();
            unique.dedup();
            let mut form = vec![("csrf".to_owned(), Self::csrf(&html))];
            form.extend(unique.iter().map(|id| (format!("item:{id}"), answer(id).to_string())));
            let (status, _, location) = self.post(&format!("/q/{page}"), &form).await;
            assert_eq!(status, 303);
            if location.as_deref().is_some_and(|l| l.ends_with("/review")) {
                return page;
            }
            page += 1;
        }
    }
}

pub async fn link_for(app: &TestApp, result_url: &str, result_id: &str, locale: &str) -> String {
    let mut body = order_body(result_id, &format!("{result_id}@example.com"));
    body["resultUpdateUrl"] = json!(result_url);
    body["locale"] = json!(locale);
    let response = app.order("/recruitment/v1/assessment-link-order", &body).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["assessmentPackageLink"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Reverse-keyed items are numbered 3 and 6 in the catalogue: answering 4 to the others and 2 to
/// those makes every item count as 4 of 5, i.e. 75 of 100.
fn steady(id: &str) -> u8 {
    if id.ends_with("-3") || id.ends_with("-6") { 2 } else { 4 }
}

#[tokio::test]
async fn a_candidate_takes_the_assessment_through_the_forms_and_the_integrator_gets_the_result() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let link = link_for(&app, &receiver.url("/results/cand-1"), "cand-1", "en-US").await;
    let mut candidate = Candidate::new(&app, &link);

    let (status, intro, _) = candidate.get("").await;
    assert_eq!(status, 200);
    assert!(intro.contains(r#"<html lang="en">"#));
    assert!(
        intro.contains("Org A") && intro.contains("Developer"),
        "organisation and role on the intro"
    );
    assert!(intro.contains("How your answers are used"));
    assert!(intro.contains("about 2 minutes"), "12 statements at 10 s");
    let csrf = Candidate::csrf(&intro);

    // Without the CSRF token nothing happens.
    let (status, _, _) = candidate.post("/start", &[("csrf".into(), "forged".into())]).await;
    assert_eq!(status, 403);
    let id = uuid::Uuid::parse_str(
        &app.links
            .verify(
                assessment_partner::links::LinkKind::Assessment,
                link.rsplit('/').next().unwrap(),
                app.clock.now(),
            )
            .unwrap()
            .to_string(),
    )
    .unwrap();
    assert_eq!(
        assessment::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "invited"
    );

    let (status, _, location) = candidate.post("/start", &[("csrf".into(), csrf.clone())]).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some(format!("{}/q/1", candidate.base).as_str()))
    );
    assert_eq!(
        assessment::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "started"
    );

    // Answer the first page, then "reload": the link resumes at the second.
    let (_, page1, _) = candidate.get("/q/1").await;
    assert!(page1.contains("Part 1 of 2") && page1.contains("Strongly agree"));
    assert!(page1.contains("<legend>"), "each statement is a labelled group");
    let ids = capture(&page1, r#"name="item:"#, '"');
    let mut form = vec![("csrf".to_owned(), csrf.clone())];
    form.extend(ids.iter().map(|i| (format!("item:{i}"), steady(i).to_string())));
    candidate.post("/q/1", &form).await;
    let (status, _, location) = candidate.get("").await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some(format!("{}/q/2", candidate.base).as_str()))
    );
    let (_, again, _) = candidate.get("/q/1").await;
    assert!(again.contains("checked"), "saved answers are shown again");

    // Submitting with statements missing is refused and says where.
    let (status, review, _) = candidate.post("/submit", &[("csrf".into(), csrf.clone())]).await;
    assert_eq!(status, 422);
    assert!(review.contains("Influencing"), "{review}");

    let pages = candidate.answer_all(steady).await;
    assert_eq!(pages, 2);
    let (_, review, _) = candidate.get("/review").await;
    assert!(review.contains("12 of 12"));
    let (status, _, location) = candidate.post("/submit", &[("csrf".into(), csrf.clone())]).await;
    assert_eq!((status, location.as_deref()), (303, Some(candidate.base.as_str())));
    let (status, done, _) = candidate.get("").await;
    assert_eq!(status, 200);
    assert!(done.contains("Thank you"));
    assert!(
        done.contains("your result goes to the employer") && done.contains("next step"),
        "the finished page says what happens next: {done}"
    );

    let row = assessment::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.score), ("completed", Some(75)));
    let pushed = receiver.wait_for(1, WAIT).await[0].json();
    assert_eq!(pushed["score"], 75);
    assert_eq!(
        pushed["subscores"],
        json!({"Driving Leadership": 75, "Influencing & Inspiring": 75})
    );
    // A finished link stays finished.
    let (status, _, _) = candidate.post("/start", &[("csrf".into(), csrf)]).await;
    assert_eq!(status, 200);

    // The recruiter's pages, from the pushed links.
    let report = app
        .http
        .get(pushed["assessmentReportUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), 200);
    let report = report.text().await.unwrap();
    for expected in [
        "General Performance",
        "cand-1@example.com",
        "Driving Leadership",
        "Influencing &amp; Inspiring",
        ">75<",
        "Strong",
    ] {
        assert!(report.contains(expected), "report lacks {expected}: {report}");
    }
    let recruitment = app
        .http
        .get(pushed["recruitmentUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        recruitment.contains("Developer")
            && recruitment.contains("cand-1@example.com")
            && recruitment.contains("completed")
    );
    assert!(recruitment.contains("Open report"));
    // A candidate link is not a report link, and report links expire.
    let wrong = app
        .http
        .get(app.url(&format!("/r/{}", link.rsplit('/').next().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    app.clock.advance(chrono::Duration::days(91));
    let late = app
        .http
        .get(pushed["assessmentReportUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 410);
}

#[tokio::test]
async fn a_skipped_statement_is_marked_on_its_part_and_a_part_fixed_from_the_review_returns_there() {
    let app = spawn_app().without_worker().await;
    let link = link_for(&app, "https://ats.example.com/r", "skip-1", "en-US").await;
    let mut candidate = Candidate::new(&app, &link);
    let (_, intro, _) = candidate.get("").await;
    let csrf = Candidate::csrf(&intro);
    candidate.post("/start", &[("csrf".into(), csrf.clone())]).await;

    // Part 1 sent with its first statement left out: the same part again, that statement marked,
    // the others kept.
    let (_, page1, _) = candidate.get("/q/1").await;
    let mut ids = capture(&page1, r#"name="item:"#, '"');
    ids.dedup();
    assert!(ids.len() > 1, "{page1}");
    let (skipped, rest) = ids.split_first().unwrap();
    let mut form = vec![("csrf".to_owned(), csrf.clone())];
    form.extend(rest.iter().map(|i| (format!("item:{i}"), "4".to_owned())));
    let (status, again, location) = candidate.post("/q/1", &form).await;
    assert_eq!((status, location), (422, None), "no moving on past a skipped statement");
    assert!(again.contains("Part 1 of 2") && again.contains("Answer every statement on this page"));
    assert_eq!(
        capture(&again, r#"class="error" id="missing-"#, '"'),
        vec![skipped.clone()],
        "only the skipped statement is marked"
    );
    assert!(again.contains(&format!(r#"aria-describedby="hint-{skipped} missing-{skipped}""#)));
    assert_eq!(
        again.matches(" checked").count(),
        rest.len(),
        "the other answers were kept"
    );

    // Part 1 done, part 2 half done: the review lists part 2; Back goes to the last part.
    form.push((format!("item:{skipped}"), "4".to_owned()));
    let (status, _, location) = candidate.post("/q/1", &form).await;
    assert_eq!((status, location), (303, Some(format!("{}/q/2", candidate.base))));
    let (_, review, _) = candidate.get("/review").await;
    assert!(
        review.contains(&format!(r#"href="{}/q/2?from=review""#, candidate.base)),
        "{review}"
    );
    assert!(
        review.contains(&format!(r#"href="{}/q/2">Back<"#, candidate.base)),
        "{review}"
    );
    assert!(review.contains("disabled"), "nothing to submit yet");

    // Opened from the review, a part returns there, and its Back does too.
    let (_, page2, _) = candidate.get("/q/2?from=review").await;
    assert!(page2.contains(r#"name="from" value="review""#) && page2.contains("Save and return to the review"));
    assert!(page2.contains(&format!(r#"href="{}/review">Back<"#, candidate.base)));
    let mut ids2 = capture(&page2, r#"name="item:"#, '"');
    ids2.dedup();
    let mut form = vec![("csrf".to_owned(), csrf.clone()), ("from".into(), "review".into())];
    form.extend(ids2.iter().map(|i| (format!("item:{i}"), "3".to_owned())));
    let (status, _, location) = candidate.post("/q/2", &form).await;
    assert_eq!((status, location), (303, Some(format!("{}/review", candidate.base))));
    let (_, review, _) = candidate.get("/review").await;
    assert!(review.contains("12 of 12") && !review.contains("disabled"), "{review}");
}

#[tokio::test]
async fn the_pages_speak_the_orders_locale() {
    let app = spawn_app().await;
    for (locale, lang, word) in [
        ("sv-SE", "sv", "Starta bedömningen"),
        ("nl-NL", "nl", "Start het assessment"),
        ("nn-NO", "nn", "Start vurderinga"),
    ] {
        let link = link_for(&app, "https://ats.example.com/r", &format!("loc-{locale}"), locale).await;
        let mut candidate = Candidate::new(&app, &link);
        let (_, html, _) = candidate.get("").await;
        assert!(
            html.contains(&format!(r#"<html lang="{lang}">"#)) && html.contains(word),
            "{locale}"
        );
    }
}

#[tokio::test]
async fn declining_expiry_and_bad_links_get_clear_pages() {
    let app = spawn_app().await;
    let link = link_for(&app, "https://ats.example.com/r", "decline", "en-US").await;
    let mut candidate = Candidate::new(&app, &link);
    let (_, intro, _) = candidate.get("").await;
    let csrf = Candidate::csrf(&intro);
    let (status, _, _) = candidate.post("/decline", &[("csrf".into(), csrf)]).await;
    assert_eq!(status, 303);
    let (status, page, _) = candidate.get("").await;
    assert_eq!(status, 200);
    assert!(page.contains("You declined"));

    let (status, page, _) = Candidate::new(&app, &format!("{}/a/not-a-token", app.address))
        .get("")
        .await;
    assert_eq!(status, 404);
    assert!(page.contains("does not work"));

    let link = link_for(&app, "https://ats.example.com/r", "expiring", "en-US").await;
    app.clock.advance(chrono::Duration::days(15));
    let (status, page, _) = Candidate::new(&app, &link).get("").await;
    assert_eq!(status, 410);
    assert!(page.contains("expired"));
}

#[tokio::test]
async fn an_ashby_assessment_tells_ashby_started_then_completed() {
    let (ashby, app) = crate::ashby::with_mock_ashby().await;
    let start = json!({"assessment_type_id": LENS_SHARED,
        "candidate": {"ashby_id": "c-1", "first_name": "Ada", "email": "ada@example.com"},
        "application": {"ashby_id": "a-1", "status": "Active"}, "job": {"ashby_id": "j-1", "name": "Backend Engineer"}});
    let started: Value = app
        .ashby("assessment.start", ASHBY_KEY_A, &start)
        .await
        .json()
        .await
        .unwrap();
    let id = started["results"]["assessment_id"].as_str().unwrap().to_owned();
    let row = app.assessment_row(&id).await;
    let link = app.links.url(
        assessment_partner::links::LinkKind::Assessment,
        row.id.into(),
        row.expires_at,
    );
    let mut candidate = Candidate::new(&app, &link);
    let (_, intro, _) = candidate.get("").await;
    assert!(intro.contains("Backend Engineer"));
    let csrf = Candidate::csrf(&intro);
    candidate.post("/start", &[("csrf".into(), csrf.clone())]).await;
    candidate.answer_all(steady).await;
    candidate.post("/submit", &[("csrf".into(), csrf)]).await;

    let calls = ashby.wait_for(2, WAIT).await;
    let (first, second) = (calls[0].json(), calls[1].json());
    assert_eq!(first["assessment_status"]["value"], "Started");
    assert!(first.get("assessment_result").is_none());
    assert_eq!(second["assessment_status"]["value"], "Completed");
    assert_eq!(second["assessment_result"]["value"], 75);
    assert!(second["timestamp"].as_i64() > first["timestamp"].as_i64());
    let metadata = second["metadata"].as_array().unwrap();
    assert_eq!(
        metadata[0],
        json!({"identifier": "driving-leadership", "label": "Driving Leadership", "type": "numeric_score", "value": 75})
    );
    assert_eq!(metadata.last().unwrap()["type"], "numeric_duration_minutes");
    assert!(
        second["assessment_profile_url"]["value"]
            .as_str()
            .unwrap()
            .contains("/r/")
    );
}

#[tokio::test]
async fn expiry_and_decline_tell_ashby_why() {
    let (ashby, app) = crate::ashby::with_mock_ashby_and(|s| s.expiry_sweep_interval = Duration::from_millis(50)).await;
    let start = |app_id: &str| {
        json!({"assessment_type_id": LENS_SHARED,
        "candidate": {"ashby_id": format!("c-{app_id}"), "email": format!("{app_id}@example.com")},
        "application": {"ashby_id": app_id}, "job": {"ashby_id": "j-1"}})
    };
    let declining: Value = app
        .ashby("assessment.start", ASHBY_KEY_A, &start("dec"))
        .await
        .json()
        .await
        .unwrap();
    let declining = declining["results"]["assessment_id"].as_str().unwrap().to_owned();
    let row = app.assessment_row(&declining).await;
    let link = app.links.url(
        assessment_partner::links::LinkKind::Assessment,
        row.id.into(),
        row.expires_at,
    );
    let mut candidate = Candidate::new(&app, &link);
    let (_, intro, _) = candidate.get("").await;
    candidate
        .post("/decline", &[("csrf".into(), Candidate::csrf(&intro))])
        .await;
    let calls = ashby.wait_for(1, WAIT).await;
    assert_eq!(
        calls[0].json(),
        json!({"assessment_id": declining, "timestamp": calls[0].json()["timestamp"], "cancelled_reason": "Candidate declined"})
    );

    // Let that delivery be recorded before the clock jumps 15 days (which would make any lease
    // still held look expired, and the at-least-once worker send it again).
    eventually(WAIT, async || {
        let pending = app.deliveries("?kind=ashby_update&state=pending").await;
        match pending["items"].as_array().is_some_and(|i| !i.is_empty()) {
            false => Ok(()),
            true => Err(format!("the decline update was never recorded: {pending}")),
        }
    })
    .await;

    let expiring: Value = app
        .ashby("assessment.start", ASHBY_KEY_A, &start("exp"))
        .await
        .json()
        .await
        .unwrap();
    let expiring = expiring["results"]["assessment_id"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::days(15));
    let calls = ashby.wait_for(2, WAIT).await;
    assert_eq!(calls[1].json()["assessment_id"], expiring.as_str());
    assert_eq!(calls[1].json()["cancelled_reason"], "Invitation expired");
    assert!(calls[1].json().get("assessment_status").is_none());
    let row = app.assessment_row(&expiring).await;
    assert_eq!(row.state.as_str(), "expired");
    app.wait_until_settled().await;
    assert_eq!(ashby.requests().len(), 2, "each told once");
}

#[tokio::test]
async fn the_whole_loop_from_an_e_mailed_invitation_to_the_pushed_result() {
    let receiver = Receiver::start().await;
    let smtp = crate::receiver::SmtpSink::start().await;
    let port = smtp.port;
    let app = spawn_app()
        .fast()
        .with(move |s| s.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}")))
        .await;
    let mut body = order_body("loop-1", "loop@example.com");
    body["resultUpdateUrl"] = json!(receiver.url("/results/loop-1"));
    assert_eq!(app.order("/recruitment/v1/assessment-order", &body).await.status(), 201);

    // The link, as the candidate finds it in the e-mail: text, and the same in HTML.
    let mail = smtp.wait_for(1, WAIT).await.remove(0).replace("=\n", "");
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(mail.contains("text/html") && mail.contains(r#"<a href=""#), "{mail}");
    let start = mail
        .find(&format!("{}/a/", app.address))
        .expect("the e-mail carries the link");
    let link: String = mail[start..].chars().take_while(|c| !c.is_whitespace()).collect();

    // Strongly agree everywhere (reverse-keyed items therefore count as 1 of 5).
    Candidate::complete(&app, &link).await;

    // 4 items at 5 and 2 reversed at 1 per competency: (4 × 100 + 2 × 0) / 6 = 66.7 → 67.
    let pushed = receiver.wait_for(1, WAIT).await[0].json();
    assert_eq!(pushed["resultId"], "loop-1");
    assert_eq!(
        pushed["subscores"],
        json!({"Driving Leadership": 67, "Influencing & Inspiring": 67})
    );
    assert_eq!(pushed["score"], 67);
}

#[tokio::test]
async fn a_csrf_token_the_server_did_not_issue_changes_nothing() {
    let app = spawn_app().await;
    let link = link_for(&app, "https://ats.example.com/r", "csrf-forged", "en-US").await;
    let forged = "A".repeat(43);
    for (cookie, field) in [("", ""), ("x", "x"), (forged.as_str(), forged.as_str())] {
        let mut candidate = Candidate::new(&app, &link);
        candidate.cookie = Some(format!("ap_csrf={cookie}"));
        let (status, page, _) = candidate.post("/decline", &[("csrf".into(), field.into())]).await;
        assert_eq!(status, 403, "cookie {cookie:?}, field {field:?}");
        assert!(page.contains("<html"), "a page, not a bare error");
        let (status, intro, _) = candidate.get("").await;
        assert_eq!(status, 200);
        assert!(
            !intro.contains("You declined"),
            "cookie {cookie:?} declined the assessment"
        );
    }
    let row = assessment::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("the ordered assessment");
    assert_eq!(row.state.as_str(), "invited");
    // The token the server issued still works.
    let mut candidate = Candidate::new(&app, &link);
    let (_, intro, _) = candidate.get("").await;
    let (status, _, _) = candidate
        .post("/decline", &[("csrf".into(), Candidate::csrf(&intro))])
        .await;
    assert_eq!(status, 303);
}

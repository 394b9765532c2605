//! The operator console's pages beyond sign-in: finding an assessment, its timeline, replaying a
//! dead delivery, a candidate's export and erasure, key rotations, and what each scope may see,
//! through the HTML forms as a browser sends them.
use assessment_partner::entity::{audit_event, candidate};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::candidate::capture;
use crate::console::{Browser, EMAIL, PASSWORD, add_operator};
use crate::helpers::*;
use crate::receiver::Receiver;

fn csrf_of(page: &str) -> String {
    capture(page, r#"name="csrf" value=""#, '"').remove(0)
}

/// The console's actions recorded for the operator.
async fn console_actions(app: &TestApp) -> Vec<(String, Option<String>, i32)> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Actor.eq(format!("console:{EMAIL}")))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.target_id, e.status))
        .collect()
}

/// Reloads `path` until its page holds `text`.
async fn reload_until(browser: &mut Browser<'_>, path: &str, text: &str) -> String {
    eventually(WAIT, async || {
        let (status, page, _) = browser.get(path).await;
        assert_eq!(status, 200, "{page}");
        match page.contains(text) {
            true => Ok(page),
            false => Err(format!("{path} never showed {text:?}:\n{page}")),
        }
    })
    .await
}

#[tokio::test]
async fn an_operator_finds_an_assessment_sees_why_its_push_failed_and_replays_it() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    add_operator(&app, &["assessments.read", "deliveries.write"]);
    let other = app.order_to(&receiver.url("/results/other"), "someone-else").await;
    let (id, delivery_id) = app.dead_result_push(&receiver, "find-me").await;

    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    // The search form is sent as a POST: an address never travels in a URL. By resultId, by
    // assessment id (as typed or upper-case) and by the candidate's address: the one assessment.
    let (_, page, _) = browser.get("/console/assessments").await;
    let token = csrf_of(&page);
    let upper = id.to_uppercase();
    for q in ["find-me", id.as_str(), upper.as_str(), "Find-Me@example.com"] {
        let (status, page, _) = browser
            .post("/console/assessments", &[("csrf", &token), ("q", q)])
            .await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("1 assessment(s)"), "{q}: {page}");
        assert!(page.contains(&format!("/console/assessments/{id}")), "{q}: {page}");
        assert!(!page.contains(&other), "{q}: {page}");
    }
    let (_, page, _) = browser
        .post("/console/assessments", &[("csrf", &token), ("q", "nobody-has-this")])
        .await;
    assert!(page.contains("0 assessment(s)"), "{page}");
    let (status, _, _) = browser.post("/console/assessments", &[("q", "find-me")]).await;
    assert_eq!(status, 403, "the search form needs its token too");
    let (_, page, _) = browser.get("/console/assessments?state=completed").await;
    assert!(page.contains("1 assessment(s)") && page.contains("find-me"), "{page}");
    let (status, page, _) = browser.get("/console/assessments?from=last-week").await;
    assert_eq!(status, 400);
    assert!(page.contains("from is not a value"), "{page}");

    // The timeline says why the push failed: the receiver answered 410, once.
    let (status, page, _) = browser.get(&format!("/console/assessments/{id}")).await;
    assert_eq!(status, 200, "{page}");
    for text in [
        "Ordered through the recruitment API",
        "Completed, overall score",
        "Result push given up (dead)",
        "data-label=\"Status\">410</td>",
        "the receiver answered 410 Gone",
        "find-me@example.com",
        "Open the report",
        "/results/find-me",
    ] {
        assert!(page.contains(text), "the timeline lacks {text:?}:\n{page}");
    }
    // The report's signed link is on no page: the console's link leads to it, and is audited.
    assert!(!page.contains("/r/"), "{page}");
    let (status, _, location) = browser
        .get(&format!("/console/assessments/{id}/report?format=pdf"))
        .await;
    assert_eq!(status, 303);
    let location = location.unwrap_or_default();
    assert!(
        location.starts_with(&app.url("/r/")) && location.ends_with("?format=pdf"),
        "{location}"
    );
    let replay_path = format!("/console/deliveries/{delivery_id}/replay");
    assert!(page.contains(&replay_path), "a Replay form: {page}");
    let token = csrf_of(&page);

    // Without the form's token nothing happens.
    receiver.answer_always(200);
    let (status, _, _) = browser.post(&replay_path, &[("csrf", &"A".repeat(43))]).await;
    assert_eq!(status, 403);
    app.wait_until_settled().await;
    assert_eq!(receiver.requests().len(), 1, "not replayed");

    let (status, _, location) = browser.post(&replay_path, &[("csrf", &token)]).await;
    let shown = format!("/console/deliveries/{delivery_id}?replayed=1");
    assert_eq!((status, location.as_deref()), (303, Some(shown.as_str())));
    let page = reload_until(&mut browser, &shown, r#"class="state delivered""#).await;
    // The page says what the row it read says: delivered, with both attempts.
    assert!(page.contains("Replayed and delivered at"), "{page}");
    assert!(!page.contains("Reload this page"), "{page}");
    assert!(page.contains("2 attempt(s)"), "{page}");
    assert_eq!(receiver.requests().len(), 2);

    // The timeline tells it whole: given up, replayed, delivered, in that order.
    let (_, page, _) = browser.get(&format!("/console/assessments/{id}")).await;
    let at = |text: &str| {
        page.find(text)
            .unwrap_or_else(|| panic!("the timeline lacks {text:?}: {page}"))
    };
    assert!(
        at("Result push given up (dead)") < at("Result push replayed by an operator")
            && at("Result push replayed by an operator") < at("Result push delivered"),
        "{page}"
    );

    // A delivered row is not replayed again: the page says why.
    let (status, page, _) = browser.post(&replay_path, &[("csrf", &token)]).await;
    assert_eq!(status, 409);
    assert!(page.contains("only dead deliveries can be replayed"), "{page}");

    // The deliveries page lists it by state and kind.
    let (status, page, _) = browser.get("/console/deliveries?state=delivered&kind=result").await;
    assert_eq!(status, 200);
    assert!(page.contains(&delivery_id), "{page}");
    let (_, page, _) = browser.get("/console/deliveries?state=dead").await;
    assert!(!page.contains(&delivery_id), "{page}");
    assert_eq!(browser.get("/console/deliveries?state=lost").await.0, 400);

    let actions = console_actions(&app).await;
    let replays: Vec<i32> = actions
        .iter()
        .filter(|(action, target, _)| action == "delivery.replay" && target.as_deref() == Some(delivery_id.as_str()))
        .map(|(_, _, status)| *status)
        .collect();
    assert_eq!(replays, [403, 303, 409], "refused, replayed, refused: {actions:?}");
    assert!(
        actions.contains(&("assessment.report".into(), Some(id.clone()), 303)),
        "{actions:?}"
    );
}

#[tokio::test]
async fn scopes_decide_which_pages_and_forms_an_operator_gets() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    add_operator(&app, &["assessments.read"]);
    let (id, delivery_id) = app.dead_result_push(&receiver, "scoped").await;

    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    let (status, page, _) = browser.get(&format!("/console/assessments/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("needs the deliveries.read scope") && !page.contains("/replay"),
        "{page}"
    );
    assert!(
        !page.contains("/console/candidates"),
        "no export or erasure without their scopes"
    );
    let token = csrf_of(&page);
    for path in [
        "/console/deliveries",
        &format!("/console/deliveries/{delivery_id}"),
        "/console/organizations",
        "/console/integrators",
        "/console/audit",
        &format!("/console/candidates?assessment={id}"),
    ] {
        let (status, page, _) = browser.get(path).await;
        assert_eq!(status, 403, "{path}");
        assert!(page.contains("scope"), "{path}: the page says which scope: {page}");
    }
    for path in [
        format!("/console/deliveries/{delivery_id}/replay"),
        format!("/console/organizations/{ORG_A}/provider-key"),
        format!("/console/integrators/{INTEGRATOR_A}/secret"),
        "/console/candidates/erase".to_owned(),
    ] {
        let (status, page, _) = browser
            .post(&path, &[("csrf", &token), ("assessment", &id), ("overlap", "1h")])
            .await;
        assert_eq!(status, 403, "{path}");
        assert!(page.contains("This needs the"), "{path}: refused for the scope: {page}");
    }
    app.wait_until_settled().await;
    assert_eq!(receiver.requests().len(), 1, "nothing replayed");
    // Each refusal is in the audit log as this operator's.
    let refused: Vec<(String, Option<String>, i32)> = console_actions(&app)
        .await
        .into_iter()
        .filter(|(action, ..)| action != "console.sign_in")
        .collect();
    assert_eq!(
        refused,
        [
            ("delivery.replay".to_owned(), Some(delivery_id.clone()), 403),
            (
                "organization.provider-key-rotation".to_owned(),
                Some(ORG_A.to_owned()),
                403
            ),
            (
                "integrator.secret-rotation".to_owned(),
                Some(INTEGRATOR_A.to_owned()),
                403
            ),
            ("erasure".to_owned(), None, 403),
        ]
    );
    // Signed out, every page sends to the sign-in page.
    let mut stranger = Browser::new(&app);
    let (status, _, location) = stranger.get(&format!("/console/assessments/{id}")).await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/login")));
}

#[tokio::test]
async fn an_operator_exports_and_erases_a_candidate_after_confirming() {
    let app = spawn_app().await;
    add_operator(&app, &["assessments.read", "candidates.read", "candidates.erase"]);
    let email = "erase.me@example.com";
    let ordered = app
        .order("/recruitment/v1/assessment-link-order", &order_body("erase-me", email))
        .await;
    assert_eq!(ordered.status(), 201);
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    let (_, page, _) = browser.get("/console/assessments?state=invited").await;
    let id = capture(&page, "/console/assessments/", '"').remove(0);

    let path = format!("/console/candidates?assessment={id}");
    let (status, page, _) = browser.get(&path).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(email) && page.contains("Download the export"), "{page}");
    let token = csrf_of(&page);

    let export = app
        .http
        .post(app.url("/console/candidates/export"))
        .header("cookie", browser.cookie_header())
        .form(&[("csrf", token.as_str()), ("assessment", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert!(
        export.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let document: serde_json::Value = export.json().await.unwrap();
    assert_eq!(document["candidates"][0]["email"], email);
    assert_eq!(document["candidates"][0]["assessments"][0]["resultId"], "erase-me");

    // The address typed again must be the candidate's: otherwise nothing is erased.
    let (status, page, _) = browser
        .post(
            "/console/candidates/erase",
            &[
                ("csrf", &token),
                ("assessment", &id),
                ("confirm", "someone@example.com"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("nothing was erased"), "{page}");
    let held = candidate::Entity::find()
        .filter(candidate::Column::Email.eq(email))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(held.len(), 1, "still held");

    let (status, page, _) = browser
        .post(
            "/console/candidates/erase",
            &[
                ("csrf", &token),
                ("assessment", &id),
                ("confirm", " Erase.Me@example.com "),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("1 assessment(s)"), "{page}");
    let erasure_id = capture(&page, "Quote erasure <strong>", '<').remove(0);
    let held = candidate::Entity::find()
        .filter(candidate::Column::Email.eq(email))
        .all(&app.db)
        .await
        .unwrap();
    assert!(held.is_empty(), "the address is gone");
    let (_, page, _) = browser.get(&format!("/console/assessments/{id}")).await;
    assert!(
        page.contains("(erased)") && page.contains("personal data was erased") && !page.contains(email),
        "{page}"
    );
    assert_eq!(browser.get(&path).await.0, 404, "nothing left to export or erase");

    let actions = console_actions(&app).await;
    assert!(
        actions.contains(&("data-subject.export".into(), Some(ORG_A.into()), 200)),
        "{actions:?}"
    );
    let erasures: Vec<(Option<String>, i32)> = actions
        .into_iter()
        .filter(|(action, ..)| action == "erasure")
        .map(|(_, target, status)| (target, status))
        .collect();
    assert_eq!(
        erasures,
        [(Some(id.clone()), 422), (Some(erasure_id), 200)],
        "the refused confirmation, then the erasure"
    );
}

#[tokio::test]
async fn a_rotation_shows_the_new_key_once_and_no_page_shows_a_secret() {
    let app = spawn_app().await;
    add_operator(&app, &["organizations.write", "integrators.write"]);
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    let secrets = [
        KEY_A,
        KEY_B,
        SECRET_A,
        SECRET_B,
        ASHBY_KEY_A,
        CUSTOMER_ASHBY_KEY_A,
        "callback-api-key-a",
        PASSWORD,
    ];
    let (status, organizations, _) = browser.get("/console/organizations").await;
    assert_eq!(status, 200);
    assert!(
        organizations.contains("Org A") && organizations.contains("<dt>Sandbox</dt><dd>no</dd>"),
        "{organizations}"
    );
    let (status, integrators, _) = browser.get("/console/integrators").await;
    assert_eq!(status, 200);
    for secret in secrets {
        assert!(
            !organizations.contains(secret) && !integrators.contains(secret),
            "{secret}"
        );
    }

    let token = csrf_of(&organizations);
    let path = format!("/console/organizations/{ORG_A}/provider-key");
    let seen = form_field(&organizations, &path, "seen");
    let (status, page, _) = browser
        .post(&path, &[("csrf", &token), ("seen", &seen), ("overlap", "forever")])
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("overlap") && page.contains("Nothing changed"), "{page}");

    let (status, page, _) = browser
        .post(&path, &[("csrf", &token), ("seen", &seen), ("overlap", "0s")])
        .await;
    assert_eq!(status, 200, "{page}");
    let new_key = capture(&page, r#"<code class="secret">"#, '<').remove(0);
    assert!(new_key.starts_with("pk_"), "{page}");
    // The same form sent again (a reload, a double click) rotates nothing: the key just shown
    // stays the one that works.
    let (status, page, _) = browser
        .post(&path, &[("csrf", &token), ("seen", &seen), ("overlap", "0s")])
        .await;
    assert_eq!(status, 409);
    assert!(page.contains("was the form sent twice?"), "{page}");
    // The new key works now; with a 0s overlap the old one stopped.
    let body = order_body("rotated-key", "rotated@example.com").to_string();
    let with_new = app
        .post_signed("/recruitment/v1/assessment-order", &new_key, SECRET_A, body.as_bytes())
        .await;
    assert_eq!(with_new.status(), 201);
    let with_old = app
        .post_signed("/recruitment/v1/assessment-order", KEY_A, SECRET_A, body.as_bytes())
        .await;
    assert_eq!(with_old.status(), 401);

    let path = format!("/console/integrators/{INTEGRATOR_A}/secret");
    let seen = form_field(&integrators, &path, "seen");
    let (status, page, _) = browser
        .post(&path, &[("csrf", &token), ("seen", &seen), ("overlap", "1h")])
        .await;
    assert_eq!(status, 200, "{page}");
    let new_secret = capture(&page, r#"<code class="secret">"#, '<').remove(0);
    assert!(page.contains("works until"), "{page}");
    let (_, organizations, _) = browser.get("/console/organizations").await;
    let (_, integrators, _) = browser.get("/console/integrators").await;
    for shown in [&organizations, &integrators] {
        assert!(!shown.contains(&new_key) && !shown.contains(&new_secret));
    }
    assert!(integrators.contains("Previous secret works until"), "{integrators}");

    let rotations: Vec<(String, Option<String>, i32)> = console_actions(&app)
        .await
        .into_iter()
        .filter(|(action, ..)| action != "console.sign_in")
        .collect();
    assert_eq!(
        rotations,
        [
            (
                "organization.provider-key-rotation".to_owned(),
                Some(ORG_A.to_owned()),
                422
            ),
            (
                "organization.provider-key-rotation".to_owned(),
                Some(ORG_A.to_owned()),
                200
            ),
            (
                "organization.provider-key-rotation".to_owned(),
                Some(ORG_A.to_owned()),
                409
            ),
            (
                "integrator.secret-rotation".to_owned(),
                Some(INTEGRATOR_A.to_owned()),
                200
            ),
        ]
    );
}

/// The value of a hidden field of the first form posting to `action` that has one.
fn form_field(page: &str, action: &str, name: &str) -> String {
    page.split(&format!(r#"action="{action}""#))
        .skip(1)
        .find_map(|form| {
            capture(form, &format!(r#"name="{name}" value=""#), '"')
                .into_iter()
                .next()
        })
        .unwrap_or_else(|| panic!("no form posting to {action} has {name}: {page}"))
}

#[tokio::test]
async fn the_search_pages_on_with_a_form_that_keeps_its_filter() {
    let app = spawn_app().await;
    add_operator(&app, &["assessments.read"]);
    for n in 0..52 {
        let body = order_body(&format!("page-{n:02}"), &format!("page.{n}@example.com"));
        let ordered = app.order("/recruitment/v1/assessment-link-order", &body).await;
        assert_eq!(ordered.status(), 201);
    }
    // One more, in another organisation: the filter leaves it out on every page.
    let other = app
        .post_signed(
            "/recruitment/v1/assessment-order",
            KEY_B,
            SECRET_B,
            order_body("page-b", "page.b@example.com").to_string().as_bytes(),
        )
        .await;
    assert_eq!(other.status(), 201);

    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    let (_, page, _) = browser.get("/console/assessments").await;
    assert!(
        page.contains(r#"<a href="/console/assessments" aria-current="page">"#),
        "the navigation marks the page: {page}"
    );
    let token = csrf_of(&page);
    let (status, first, _) = browser
        .post(
            "/console/assessments",
            &[("csrf", &token), ("organization", ORG_A), ("state", "invited")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(first.contains("50 assessment(s)"), "{first}");
    let before = form_field(&first, "/console/assessments", "before");
    assert_eq!(form_field(&first, "/console/assessments", "organization"), ORG_A);
    let (status, second, _) = browser
        .post(
            "/console/assessments",
            &[
                ("csrf", &token),
                ("organization", ORG_A),
                ("state", "invited"),
                ("before", &before),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(second.contains("2 assessment(s), newest first"), "{second}");
    assert!(
        matches!((second.find("page-01<"), second.find("page-00<")), (Some(a), Some(b)) if a < b),
        "the oldest two, newest first: {second}"
    );
    assert!(!second.contains("page-b"), "{second}");
    assert!(!second.contains("Next page"), "the last page: {second}");
    // The first page opens with the newest: page-51 down to page-02, in that order.
    let mut at = 0;
    for n in (2..52).rev() {
        let found = first[at..]
            .find(&format!("page-{n:02}<"))
            .unwrap_or_else(|| panic!("page-{n:02} on the first page, after page-{:02}", n + 1));
        at += found;
    }
    assert!(!first.contains("page-01<"), "{first}");
}

use assessment_partner::auth::admin::Scope;
use assessment_partner::entity::{assessment, candidate, recruitment};
use assessment_partner::links::LinkKind;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::helpers::*;

const ORDER: &str = "/recruitment/v1/assessment-order";
const LINK_ORDER: &str = "/recruitment/v1/assessment-link-order";

#[tokio::test]
async fn config_lists_only_this_organisations_lenses_and_the_locales() {
    let app = spawn_app().await;
    let response = app.get_signed("/recruitment/v1/config", KEY_A, SECRET_A).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["availableLenses"],
        json!([{ "id": LENS_SHARED, "name": "General Performance" }])
    );
    assert_eq!(body["availableLocales"], json!(["en-US", "nl-NL", "nn-NO", "sv-SE"]));

    let body: Value = app
        .get_signed("/recruitment/v1/config", KEY_B, SECRET_B)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["availableLenses"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_order_creates_an_invited_assessment_and_answers_its_id() {
    let app = spawn_app().await;
    let response = app.order(ORDER, &order_body("res-1", "Ada@Example.com")).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().contains_key("x-request-id"));
    let id: String = response.json().await.unwrap();
    let id = uuid::Uuid::parse_str(&id).expect("the answer is the assessment id");

    let row = assessment::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("committed");
    assert_eq!(row.state.as_str(), "invited");
    assert_eq!(row.result_id.as_deref(), Some("res-1"));
    assert_eq!(row.locale, "en-US");
    assert_eq!(row.organization_id.to_string(), ORG_A);
    assert_eq!(row.expires_at - row.invited_at, chrono::Duration::days(14));
    let cand = candidate::Entity::find_by_id(row.candidate_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cand.email, "ada@example.com");
    let rec = recruitment::Entity::find_by_id(row.recruitment_id.unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((rec.external_id.as_str(), rec.title.as_str()), ("job-1", "Developer"));
}

#[tokio::test]
async fn a_second_candidate_joins_the_same_recruitment() {
    let app = spawn_app().await;
    assert_eq!(
        app.order(ORDER, &order_body("res-1", "a@example.com")).await.status(),
        201
    );
    assert_eq!(
        app.order(ORDER, &order_body("res-2", "b@example.com")).await.status(),
        201
    );
    assert_eq!(recruitment::Entity::find().count(&app.db).await.unwrap(), 1);
    assert_eq!(app.assessment_count().await, 2);
}

#[tokio::test]
async fn the_same_order_again_answers_the_same_id_and_creates_nothing() {
    let app = spawn_app().await;
    let body = order_body("res-1", "ada@example.com");
    let first: String = app.order(ORDER, &body).await.json().await.unwrap();
    let again = app.order(ORDER, &body).await;
    assert_eq!(again.status(), 200);
    let second: String = again.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(app.assessment_count().await, 1);
}

#[tokio::test]
async fn the_same_result_id_with_a_different_body_is_a_conflict() {
    let app = spawn_app().await;
    assert_eq!(
        app.order(ORDER, &order_body("res-1", "ada@example.com")).await.status(),
        201
    );
    let mut changed = order_body("res-1", "ada@example.com");
    changed["locale"] = json!("sv-SE");
    let problem = expect_problem(app.order(ORDER, &changed).await, 409).await;
    assert!(problem["detail"].as_str().unwrap().contains("res-1"));
    // The same resultId on the link endpoint is a different order too.
    expect_problem(
        app.order(LINK_ORDER, &order_body("res-1", "ada@example.com")).await,
        409,
    )
    .await;
    assert_eq!(app.assessment_count().await, 1);
}

#[tokio::test]
async fn result_ids_are_per_organisation() {
    let app = spawn_app().await;
    assert_eq!(
        app.order(ORDER, &order_body("res-1", "ada@example.com")).await.status(),
        201
    );
    let body = order_body("res-1", "ada@example.com").to_string();
    let response = app.post_signed(ORDER, KEY_B, SECRET_B, body.as_bytes()).await;
    assert_eq!(response.status(), 201, "organisation B has its own resultId space");
    assert_eq!(app.assessment_count().await, 2);
}

#[tokio::test]
async fn identical_orders_arriving_together_create_exactly_one_assessment() {
    let app = spawn_app().await;
    let body = order_body("res-race", "race@example.com");
    let responses = futures_util::future::join_all((0..16).map(|_| app.order(ORDER, &body))).await;
    let mut ids = Vec::new();
    let mut created = 0;
    for r in responses {
        let status = r.status().as_u16();
        assert!(status == 200 || status == 201, "status {status}");
        created += usize::from(status == 201);
        ids.push(r.json::<String>().await.unwrap());
    }
    assert_eq!(created, 1, "exactly one answer says created");
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same assessment");
    assert_eq!(app.assessment_count().await, 1);
}

#[tokio::test]
async fn a_link_order_answers_a_link_that_names_the_assessment_and_expires_with_the_invitation() {
    let app = spawn_app().await;
    let response = app.order(LINK_ORDER, &order_body("res-link", "lin@example.com")).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let link = body["assessmentPackageLink"].as_str().unwrap().to_owned();
    let prefix = format!("{}/a/", app.address);
    assert!(link.starts_with(&prefix), "{link}");
    let token = &link[prefix.len()..];
    let id = app
        .links
        .verify(LinkKind::Assessment, token, app.clock.now())
        .expect("valid link");
    let row = assessment::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("the link names the assessment");
    assert!(
        app.links.verify(LinkKind::Assessment, token, row.expires_at).is_err(),
        "expires with the invitation"
    );
    assert!(
        app.links
            .verify(
                LinkKind::Assessment,
                token,
                row.expires_at - chrono::Duration::seconds(1)
            )
            .is_ok()
    );

    // Repeating the order gives the same link.
    let again = app.order(LINK_ORDER, &order_body("res-link", "lin@example.com")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.unwrap()["assessmentPackageLink"],
        link.as_str()
    );
}

#[tokio::test]
async fn a_candidate_already_in_the_recruitment_is_a_conflict() {
    let app = spawn_app().await;
    assert_eq!(
        app.order(LINK_ORDER, &order_body("res-1", "lin@example.com"))
            .await
            .status(),
        201
    );
    let problem = expect_problem(
        app.order(LINK_ORDER, &order_body("res-2", "LIN@example.com")).await,
        409,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("lin@example.com"));
    expect_problem(app.order(ORDER, &order_body("res-3", "lin@example.com")).await, 409).await;
    assert_eq!(app.assessment_count().await, 1);
}

#[tokio::test]
async fn an_integrator_without_link_authorisation_cannot_order_links() {
    let app = spawn_app().await;
    let mut body = order_body("res-1", "a@example.com");
    body["lensId"] = json!(LENS_B_ONLY);
    let response = app
        .post_signed(LINK_ORDER, KEY_B, SECRET_B, body.to_string().as_bytes())
        .await;
    expect_problem(response, 403).await;
    assert_eq!(app.assessment_count().await, 0);
}

#[tokio::test]
async fn another_organisations_lens_is_not_found_and_creates_nothing() {
    let app = spawn_app().await;
    let mut body = order_body("res-1", "a@example.com");
    body["lensId"] = json!(LENS_B_ONLY);
    expect_problem(app.order(ORDER, &body).await, 404).await;
    body["lensId"] = json!(uuid::Uuid::new_v4());
    expect_problem(app.order(LINK_ORDER, &body).await, 404).await;
    assert_eq!(app.assessment_count().await, 0);
    assert_eq!(recruitment::Entity::find().count(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn invalid_fields_are_422_and_name_each_field() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/candidateDetails/email",
            json!("not-an-email"),
            "candidateDetails.email",
        ),
        ("/resultUpdateUrl", json!("ftp://ats.example.com/x"), "resultUpdateUrl"),
        ("/resultUpdateUrl", json!("/relative/path"), "resultUpdateUrl"),
        ("/locale", json!("english"), "locale"),
        ("/locale", json!("de-DE"), "locale"),
        ("/lensId", json!("not-a-uuid"), "lensId"),
        ("/resultId", json!(""), "resultId"),
        ("/recruitment/title", json!(""), "recruitment.title"),
        (
            "/additionalRecruitmentCollaboratorsEmails",
            json!(["ok@example.com", "broken"]),
            "additionalRecruitmentCollaboratorsEmails[1]",
        ),
        // Wrong types and missing fields are 422 too, naming the field.
        ("/candidateDetails/email", json!(42), "candidateDetails.email"),
        ("/recruitment", json!("job-1"), "recruitment"),
        (
            "/additionalRecruitmentCollaboratorsEmails",
            json!(null),
            "additionalRecruitmentCollaboratorsEmails",
        ),
    ];
    for (pointer, value, field) in cases {
        for path in [ORDER, LINK_ORDER] {
            let mut body = order_body("res-1", "a@example.com");
            *body.pointer_mut(pointer).unwrap() = value.clone();
            let problem = expect_problem(app.order(path, &body).await, 422).await;
            assert_eq!(
                fields(&problem),
                vec![field.to_owned()],
                "{pointer} = {value} on {path}: {problem}"
            );
        }
    }
    let mut missing = order_body("res-1", "a@example.com");
    missing.as_object_mut().unwrap().remove("resultUpdateUrl");
    let problem = expect_problem(app.order(ORDER, &missing).await, 422).await;
    assert_eq!(fields(&problem), vec!["resultUpdateUrl".to_owned()], "{problem}");
    let mut missing = order_body("res-1", "a@example.com");
    missing["candidateDetails"].as_object_mut().unwrap().remove("email");
    let problem = expect_problem(app.order(ORDER, &missing).await, 422).await;
    assert_eq!(fields(&problem), vec!["candidateDetails.email".to_owned()], "{problem}");
    assert_eq!(app.assessment_count().await, 0);
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for body in [&b"{\"recruitment\": "[..], b"not json at all", b""] {
        let response = app.post_signed(ORDER, KEY_A, SECRET_A, body).await;
        let problem = expect_problem(response, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("not valid JSON"),
            "{problem}"
        );
    }
    assert_eq!(app.assessment_count().await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let body = order_body("res-1", "a@example.com").to_string();
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut request = app
            .http
            .post(app.url(ORDER))
            .header("provider-key", KEY_A)
            .header("signature", app.sign(SECRET_A, body.as_bytes()))
            .body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        expect_problem(request.send().await.unwrap(), 415).await;
    }
    // Parameters and +json types are fine.
    let response = app
        .http
        .post(app.url(ORDER))
        .header("provider-key", KEY_A)
        .header("content-type", "application/json; charset=utf-8")
        .header("signature", app.sign(SECRET_A, body.as_bytes()))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_even_when_signed() {
    let app = spawn_app().await;
    let mut body = order_body("res-1", "a@example.com");
    body["recruitment"]["description"] = json!("x".repeat(70 * 1024));
    let response = app.order(ORDER, &body).await;
    let problem = expect_problem(response, 413).await;
    assert!(problem["detail"].as_str().unwrap().contains("65536"));
    assert_eq!(app.assessment_count().await, 0);
}

#[tokio::test]
async fn unknown_endpoints_are_problem_404s() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/recruitment/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    expect_problem(response, 404).await;
}

/// Many different orders at once through HTTP (they are written in batches), with a few that
/// must be refused: every answer is right and nothing else is written.
#[tokio::test]
async fn many_orders_at_once_each_get_their_own_answer() {
    let app = spawn_app().await;
    assert_eq!(
        app.order(ORDER, &order_body("res-first", "first@example.com"))
            .await
            .status(),
        201
    );
    let mut bodies: Vec<(Value, u16)> = (0..40)
        .map(|i| (order_body(&format!("res-{i}"), &format!("c{i}@example.com")), 201))
        .collect();
    let mut conflicting = order_body("res-first", "first@example.com");
    conflicting["locale"] = json!("nl-NL");
    bodies.push((conflicting, 409));
    bodies.push((order_body("res-again", "first@example.com"), 409));
    bodies.push((order_body("res-first", "first@example.com"), 200));
    let responses = futures_util::future::join_all(bodies.iter().map(|(b, _)| app.order(ORDER, b))).await;
    for ((body, expected), response) in bodies.iter().zip(responses) {
        assert_eq!(response.status().as_u16(), *expected, "order {}", body["resultId"]);
    }
    assert_eq!(app.assessment_count().await, 41);
    let invitations = assessment_partner::entity::delivery::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(invitations, 41, "one invitation per assessment");
}

/// What a provider key may order is cached briefly; an admin change made through this instance
/// applies to the next request at once.
#[tokio::test]
async fn an_admin_change_applies_to_the_next_order_at_once() {
    let app = spawn_app().await;
    // Warm the cache: the key, its lenses and the four locales are now remembered.
    let body: Value = app
        .get_signed("/recruitment/v1/config", KEY_A, SECRET_A)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["availableLocales"].as_array().unwrap().len(), 4);

    let token = app.admin_token(&[Scope::OrganizationsWrite]);
    let response = app
        .admin(
            reqwest::Method::PUT,
            "/admin/v1/locales",
            &token,
            Some(json!(["en-US", "sv-SE"])),
        )
        .await;
    assert_eq!(response.status(), 200);

    let body: Value = app
        .get_signed("/recruitment/v1/config", KEY_A, SECRET_A)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["availableLocales"], json!(["en-US", "sv-SE"]));
    let mut order = order_body("res-dutch", "dutch@example.com");
    order["locale"] = json!("nl-NL");
    let problem = expect_problem(app.order(ORDER, &order).await, 422).await;
    assert_eq!(fields(&problem), vec!["locale".to_owned()]);
    assert_eq!(app.assessment_count().await, 0, "nothing was written");
}

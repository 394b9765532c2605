//! The Ashby partner protocol against a mock Ashby: a real local HTTP server that records every
//! call, so the tests check Basic auth, headers and the exact wire casing.

use assessment_partner::auth::admin::Scope;
use base64::Engine;
use serde_json::{Value, json};

use crate::delivery::result_input;
use crate::helpers::*;
use crate::receiver::Receiver;

fn start_body(application: &str, candidate: &str) -> Value {
    json!({
        "assessment_type_id": LENS_SHARED,
        "candidate": { "ashby_id": candidate, "first_name": "Ada", "last_name": "Lovelace",
                       "email": "ada@example.com", "ashby_profile_url": "https://app.ashbyhq.com/candidates/c-1" },
        "application": { "ashby_id": application, "status": "Active" },
        "job": { "ashby_id": "job-1", "name": "Backend Engineer", "ashby_job_url": "https://app.ashbyhq.com/jobs/job-1",
                 "req_id": "ENG-42",
                 "hiringTeam": [{ "userId": "u-1", "firstName": "Joey", "lastName": "Joe",
                                  "email": "joey@example.com", "role": "Hiring Manager" }] },
        "additional_fields": { "department": "eng" },
        "something_new": "ignored"
    })
}

impl TestApp {
    pub async fn ashby(&self, method: &str, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/ashby/{method}")))
            .basic_auth(key, Some(""))
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

/// A mock Ashby that answers like Ashby, and an app whose Ashby base URL is the mock.
pub async fn with_mock_ashby() -> (Receiver, TestApp) {
    with_mock_ashby_and(|_| {}).await
}

/// The same, with more settings changed.
pub async fn with_mock_ashby_and(extra: impl FnOnce(&mut assessment_partner::config::Settings)) -> (Receiver, TestApp) {
    let ashby = Receiver::start().await;
    ashby.answer_json(json!({"success": true, "results": {}}));
    let base = ashby.url("");
    let app = spawn_app()
        .fast()
        .with(move |s| {
            s.ashby_base_url = base;
            extra(s);
        })
        .await;
    (ashby, app)
}

#[tokio::test]
async fn the_partner_key_is_accepted_as_user_name_or_password_and_nothing_else() {
    let app = spawn_app().await;
    let as_user = app.ashby("assessment.list", ASHBY_KEY_A, &json!({})).await;
    assert_eq!(as_user.status(), 200);
    let body: Value = as_user.json().await.unwrap();
    assert_eq!(
        body,
        json!({"success": true, "results": [{"assessment_type_id": LENS_SHARED, "name": "General Performance", "description": "d"}]})
    );
    let as_password = app
        .http
        .post(app.url("/ashby/assessment.list"))
        .basic_auth("", Some(ASHBY_KEY_A))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(as_password.status(), 200);
    for response in [
        app.ashby("assessment.list", "not-a-key", &json!({})).await,
        app.ashby("assessment.list", KEY_A, &json!({})).await, // a provider key is not a partner key
        app.http
            .post(app.url("/ashby/assessment.list"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        app.http
            .post(app.url("/ashby/assessment.list"))
            .bearer_auth(ASHBY_KEY_A)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["errors"], json!(["unauthorized"]));
        assert_eq!(body["errorInfo"]["code"], "unauthorized");
        assert!(body["errorInfo"]["requestId"].is_string());
    }
    // Organisation B sees its own two lenses.
    let b: Value = app
        .ashby("assessment.list", ASHBY_KEY_B, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["results"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn start_creates_an_invited_assessment_and_answers_the_invited_update() {
    let app = spawn_app().await;
    let response = app
        .ashby("assessment.start", ASHBY_KEY_A, &start_body("app-1", "cand-1"))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], true);
    let id = body["results"]["assessment_id"].as_str().unwrap().to_owned();
    let update = &body["results"]["update_request"];
    assert_eq!(update["assessment_id"], id.as_str());
    assert!(
        update["timestamp"].as_i64().unwrap() > 1_600_000_000_000,
        "milliseconds"
    );
    assert_eq!(
        update["assessment_status"],
        json!({"identifier": "status", "label": "Status", "type": "string", "value": "Invited"})
    );
    assert_eq!(update.as_object().unwrap().len(), 3, "{update}");

    let row = app.assessment_row(&id).await;
    assert_eq!((row.state.as_str(), row.source.as_str()), ("invited", "ashby"));
    assert_eq!(row.ashby_candidate_id.as_deref(), Some("cand-1"));
    assert_eq!(row.ashby_application_id.as_deref(), Some("app-1"));
    assert_eq!(row.ashby_job_id.as_deref(), Some("job-1"));
    assert_eq!(row.additional_fields, Some(json!({"department": "eng"})));
    let mails = app
        .deliveries(&format!("?kind=invitation_email&assessmentId={id}"))
        .await;
    assert_eq!(mails["items"][0]["target"], "ada@example.com");
}

#[tokio::test]
async fn start_repeats_conflicts_and_other_types() {
    let app = spawn_app().await;
    let first: Value = app
        .ashby("assessment.start", ASHBY_KEY_B, &start_body("app-1", "cand-1"))
        .await
        .json()
        .await
        .unwrap();
    let id = first["results"]["assessment_id"].clone();
    // Ashby retries: the same answer.
    let again = app
        .ashby("assessment.start", ASHBY_KEY_B, &start_body("app-1", "cand-1"))
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["results"]["assessment_id"], id);
    // The same candidate and type from another application: 409 with a message.
    let conflict = app
        .ashby("assessment.start", ASHBY_KEY_B, &start_body("app-2", "cand-1"))
        .await;
    assert_eq!(conflict.status(), 409);
    let message = conflict.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("Ada Lovelace") && message.contains("General Performance"),
        "{message}"
    );
    // Another type for the same candidate is a new assessment.
    let mut other = start_body("app-1", "cand-1");
    other["assessment_type_id"] = json!(LENS_B_ONLY);
    let other: Value = app
        .ashby("assessment.start", ASHBY_KEY_B, &other)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(other["results"]["assessment_id"], id);
    // After a cancel, a new start is a new assessment.
    let cancelled = app
        .ashby("assessment.cancel", ASHBY_KEY_B, &json!({"assessment_id": id}))
        .await;
    assert_eq!(cancelled.status(), 200);
    let fresh: Value = app
        .ashby("assessment.start", ASHBY_KEY_B, &start_body("app-1", "cand-1"))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(fresh["results"]["assessment_id"], id);
}

#[tokio::test]
async fn identical_starts_arriving_together_create_one_assessment() {
    let app = spawn_app().await;
    let body = start_body("app-race", "cand-race");
    let answers =
        futures_util::future::join_all((0..8).map(|_| app.ashby("assessment.start", ASHBY_KEY_A, &body))).await;
    let mut ids = Vec::new();
    for a in answers {
        assert_eq!(a.status(), 200);
        ids.push(
            a.json::<Value>().await.unwrap()["results"]["assessment_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.assessment_count().await, 1);
}

#[tokio::test]
async fn what_a_recruiter_can_fix_is_a_422_message() {
    let app = spawn_app().await;
    let mut cases = Vec::new();
    let mut b = start_body("a", "c");
    b["assessment_type_id"] = json!(LENS_B_ONLY);
    cases.push((b, "Sales Specialist"));
    let mut b = start_body("a", "c");
    b["assessment_type_id"] = json!(uuid::Uuid::new_v4());
    cases.push((b, "no longer offered"));
    let mut b = start_body("a", "c");
    b["assessment_type_id"] = json!("not-a-uuid");
    cases.push((b, "not one of ours"));
    let mut b = start_body("a", "c");
    b["candidate"].as_object_mut().unwrap().remove("email");
    cases.push((b, "no e-mail address"));
    let mut b = start_body("a", "c");
    b["candidate"]["email"] = json!("ada-at-example");
    cases.push((b, "not valid"));
    let mut b = start_body("a", "c");
    b["application"]["ashby_id"] = json!("");
    cases.push((b, "no candidate, application or job id"));
    let mut b = start_body("a", "c");
    b.as_object_mut().unwrap().remove("job");
    cases.push((b, "could not be read"));
    for (body, expected) in cases {
        let response = app.ashby("assessment.start", ASHBY_KEY_A, &body).await;
        assert_eq!(response.status(), 422, "{body}");
        let message = response.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(expected), "'{message}' should mention '{expected}'");
    }
    let broken = app
        .http
        .post(app.url("/ashby/assessment.start"))
        .basic_auth(ASHBY_KEY_A, Some(""))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 422);
    assert_eq!(app.assessment_count().await, 0);
}

#[tokio::test]
async fn cancel_is_idempotent_and_knows_unknown_ids() {
    let (ashby, app) = with_mock_ashby().await;
    let unknown = app
        .ashby(
            "assessment.cancel",
            ASHBY_KEY_A,
            &json!({"assessment_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(unknown.status(), 200);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"], json!(["assessment_not_found"]));
    assert_eq!(body["errorInfo"]["code"], "assessment_not_found");

    let started: Value = app
        .ashby("assessment.start", ASHBY_KEY_A, &start_body("app-1", "cand-1"))
        .await
        .json()
        .await
        .unwrap();
    let id = started["results"]["assessment_id"].as_str().unwrap().to_owned();
    // Another organisation cannot cancel it.
    let foreign: Value = app
        .ashby("assessment.cancel", ASHBY_KEY_B, &json!({"assessment_id": id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(foreign["errors"], json!(["assessment_not_found"]));
    for _ in 0..2 {
        let response = app
            .ashby("assessment.cancel", ASHBY_KEY_A, &json!({"assessment_id": id}))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"success": true, "results": {"assessment_id": id}})
        );
    }
    let row = app.assessment_row(&id).await;
    assert_eq!(row.state.as_str(), "cancelled");
    // A completed assessment stays completed.
    let started: Value = app
        .ashby("assessment.start", ASHBY_KEY_A, &start_body("app-2", "cand-2"))
        .await
        .json()
        .await
        .unwrap();
    let done = started["results"]["assessment_id"].as_str().unwrap().to_owned();
    assert_eq!(app.post_result(&done, &result_input()).await.status(), 200);
    let response = app
        .ashby("assessment.cancel", ASHBY_KEY_A, &json!({"assessment_id": done}))
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["success"], true);
    let row = app.assessment_row(&done).await;
    assert_eq!((row.state.as_str(), row.score), ("completed", Some(71)));
    ashby.wait_for(1, WAIT).await;
    // Cancelling the first sent nothing to Ashby: the only call is the completion of the second.
    app.wait_until_settled().await;
    let calls = ashby.requests();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].json()["assessment_id"], done.as_str());
}

#[tokio::test]
async fn a_cancelled_assessment_sends_no_further_updates() {
    let ashby = Receiver::start().await;
    ashby.answer_json(json!({"success": true, "results": {}}));
    let base = ashby.url("");
    // No worker yet: an update is waiting when Ashby cancels.
    let api = spawn_app()
        .fast()
        .without_worker()
        .with({
            let base = base.clone();
            move |s| s.ashby_base_url = base
        })
        .await;
    let started: Value = api
        .ashby("assessment.start", ASHBY_KEY_A, &start_body("app-1", "cand-1"))
        .await
        .json()
        .await
        .unwrap();
    let id = started["results"]["assessment_id"].as_str().unwrap().to_owned();
    let row = api.assessment_row(&id).await;
    assessment_partner::delivery::ashby_update::enqueue(&api.db, &row, &base, api.clock.now(), |ts| {
        assessment_partner::delivery::ashby_update::with_status(row.id, ts, "Started")
    })
    .await
    .unwrap();
    api.ashby("assessment.cancel", ASHBY_KEY_A, &json!({"assessment_id": id}))
        .await;
    // Now a worker runs: nothing goes to Ashby.
    let worker = spawn_app()
        .fast()
        .joining(&api)
        .with(move |s| s.ashby_base_url = base)
        .await;
    worker.wait_until_settled().await;
    assert!(ashby.requests().is_empty(), "nothing reaches Ashby after its cancel");
    let page = worker
        .deliveries(&format!("?kind=ashby_update&assessmentId={id}"))
        .await;
    assert_eq!(page["items"][0]["state"], "dead");
}

#[tokio::test]
async fn completion_sends_one_exact_update_with_the_customers_key() {
    let (ashby, app) = with_mock_ashby().await;
    let started: Value = app
        .ashby("assessment.start", ASHBY_KEY_A, &start_body("app-1", "cand-1"))
        .await
        .json()
        .await
        .unwrap();
    let id = started["results"]["assessment_id"].as_str().unwrap().to_owned();
    let invited_ts = started["results"]["update_request"]["timestamp"].as_i64().unwrap();
    assert_eq!(app.post_result(&id, &result_input()).await.status(), 200);
    assert_eq!(
        app.post_result(&id, &result_input()).await.status(),
        200,
        "repeat: no second completion"
    );
    let calls = ashby.wait_for(1, WAIT).await;
    app.wait_until_settled().await;
    assert_eq!(ashby.requests().len(), 1, "exactly one completion update");
    let call = &calls[0];
    assert_eq!(call.path, "/assessment.update");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CUSTOMER_ASHBY_KEY_A}:"))
    );
    assert_eq!(call.header("authorization"), Some(basic.as_str()));
    assert_eq!(call.header("accept"), Some("application/json; version=1"));
    assert_eq!(call.header("content-type"), Some("application/json"));
    assert!(call.header("user-agent").unwrap().starts_with("assessment-partner/"));
    let body = call.json();
    assert!(
        body["timestamp"].as_i64().unwrap() > invited_ts,
        "strictly later than the Invited update"
    );
    let report = body["assessment_profile_url"]["value"].as_str().unwrap();
    assert!(report.starts_with(&format!("{}/r/", app.address)));
    let mut expected = json!({
        "assessment_id": id,
        "timestamp": body["timestamp"],
        "assessment_status": {"identifier": "status", "label": "Status", "type": "string", "value": "Completed"},
        "assessment_result": {"identifier": "score", "label": "Score", "type": "numeric_score", "value": 71},
        "assessment_profile_url": {"identifier": "report", "label": "Report", "type": "url", "value": report},
        "metadata": [
            {"identifier": "driving-leadership", "label": "Driving Leadership", "type": "numeric_score", "value": 73},
            {"identifier": "influencing-inspiring", "label": "Influencing & Inspiring", "type": "numeric_score", "value": 68}
        ]
    });
    assert_eq!(body, expected.take());
}

#[tokio::test]
async fn ashby_failures_are_retried_and_logged() {
    let (ashby, app) = with_mock_ashby().await;
    ashby.answer_next(&[200, 503, 401]);
    ashby.answer_next_json(vec![
        json!({"success": false, "errors": ["invalid_input"], "errorInfo": {"code": "invalid_input", "message": "timestamp too old", "requestId": "ash-req-1"}}),
        json!({"success": false}),
        json!({"success": false}),
    ]);
    let started: Value = app
        .ashby("assessment.start", ASHBY_KEY_A, &start_body("app-1", "cand-1"))
        .await
        .json()
        .await
        .unwrap();
    let id = started["results"]["assessment_id"].as_str().unwrap().to_owned();
    app.post_result(&id, &result_input()).await;
    ashby.wait_for(4, WAIT).await;
    let page = app.deliveries(&format!("?kind=ashby_update&assessmentId={id}")).await;
    let delivery_id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let detail = app.wait_for_delivery(&delivery_id, "delivered").await;
    let log = detail["attemptLog"].as_array().unwrap();
    let statuses: Vec<i64> = log.iter().map(|a| a["statusCode"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![200, 503, 401, 200]);
    let first_error = log[0]["error"].as_str().unwrap();
    assert!(
        first_error.contains("timestamp too old")
            && first_error.contains("invalid_input")
            && first_error.contains("ash-req-1"),
        "{first_error}"
    );
    assert_eq!(log[0]["outcome"], "retry");
    assert!(log[2]["error"].as_str().unwrap().contains("API key"));
    let metrics = app.metrics_text().await;
    assert!(metrics.contains("ap_ashby_auth_failures_total 1"), "{metrics}");
}

#[tokio::test]
async fn custom_fields_are_empty_by_default_and_configurable() {
    let app = spawn_app().await;
    let empty: Value = app
        .ashby("assessment.customField.list", ASHBY_KEY_A, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty, json!({"success": true, "fields": []}));
    let token = app.admin_token(&[Scope::OrganizationsWrite]);
    let offered = json!([
        {"id": "department", "name": "Department", "type": "ValueSelect",
         "possible_values": [{"key": "eng", "value": "Engineering"}], "isRequired": false},
        {"id": "seniority", "name": "Seniority", "type": "String", "isRequired": true}
    ]);
    let body = json!({"name": "Org A", "integratorId": INTEGRATOR_A, "lensIds": [LENS_SHARED], "ashby": {"customFields": offered}});
    let response = app
        .http
        .put(app.url(&format!("/admin/v1/organizations/{ORG_A}")))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let listed: Value = app
        .ashby("assessment.customField.list", ASHBY_KEY_A, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!({"success": true, "fields": offered}));
    let mut bad = body.clone();
    bad["ashby"]["customFields"] = json!([{"id": "x", "name": "X", "type": "Colour"}]);
    let response = app
        .http
        .put(app.url(&format!("/admin/v1/organizations/{ORG_A}")))
        .bearer_auth(&token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, 422).await;
    assert_eq!(fields(&problem), vec!["ashby.customFields[0].type".to_owned()]);
}

#[tokio::test]
async fn the_partner_key_can_be_rotated() {
    let app = spawn_app().await;
    let token = app.admin_token(&[Scope::OrganizationsWrite]);
    let response = app
        .http
        .post(app.url(&format!("/admin/v1/organizations/{ORG_A}/ashby-partner-key")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let new_key = response.json::<Value>().await.unwrap()["partnerApiKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.ashby("assessment.list", &new_key, &json!({})).await.status(), 200);
    assert_eq!(
        app.ashby("assessment.list", ASHBY_KEY_A, &json!({})).await.status(),
        200,
        "the old key works for the default overlap (AP_KEY_ROTATION_OVERLAP, 24h)"
    );
    app.clock.advance(chrono::Duration::hours(24));
    assert_eq!(
        app.ashby("assessment.list", ASHBY_KEY_A, &json!({})).await.status(),
        401,
        "and then stops working"
    );
    assert_eq!(app.ashby("assessment.list", &new_key, &json!({})).await.status(), 200);
    let token = app.admin_token(&[Scope::OrganizationsWrite]);
    let missing = app
        .http
        .post(app.url(&format!(
            "/admin/v1/organizations/{}/ashby-partner-key",
            uuid::Uuid::new_v4()
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_problem(missing, 404).await;
}

#[tokio::test]
async fn an_ashby_invitation_is_in_the_organisations_default_locale() {
    let ashby = Receiver::start().await;
    let base = ashby.url("");
    let app = spawn_app()
        .with(move |s| s.ashby_base_url = base.trim_end_matches('/').to_owned())
        .await;
    let token = app.admin_token(&[Scope::OrganizationsWrite]);
    let organization = |locale: &str| {
        json!({ "name": "Org B", "integratorId": INTEGRATOR_B, "lensIds": [LENS_SHARED, LENS_B_ONLY],
                "ashby": { "partnerApiKey": ASHBY_KEY_B }, "defaultLocale": locale })
    };
    let put = |body: Value| {
        app.http
            .put(app.url(&format!("/admin/v1/organizations/{ORG_B}")))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let refused = put(organization("de-DE")).await.unwrap();
    let problem = expect_problem(refused, 422).await;
    assert_eq!(fields(&problem), ["defaultLocale"]);
    let updated = put(organization("sv-SE")).await.unwrap();
    assert_eq!(updated.status(), 200);
    assert_eq!(updated.json::<Value>().await.unwrap()["defaultLocale"], "sv-SE");

    let started = app
        .ashby("assessment.start", ASHBY_KEY_B, &start_body("app-sv", "cand-sv"))
        .await;
    assert_eq!(started.status(), 200);
    let mail = app.mail_where(|_| true).await;
    assert!(mail.contains("har bjudit in dig"), "{mail}");
}

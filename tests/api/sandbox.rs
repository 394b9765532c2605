//! Sandbox organisations: invitations are logged, never sent, and the integrator moves its
//! orders to an outcome, which then reaches it the way a real candidate's would.

use assessment_partner::auth::admin::Scope;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::receiver::Receiver;

const ORDER: &str = "/recruitment/v1/assessment-order";
const OUTCOMES: &str = "/recruitment/v1/sandbox/results";

impl TestApp {
    /// Makes organisation C a sandbox through the admin API.
    async fn make_c_a_sandbox(&self) {
        let token = self.admin_token(&[Scope::OrganizationsWrite]);
        let body =
            json!({"name": "Org C", "integratorId": INTEGRATOR_SANDBOX, "lensIds": [LENS_SHARED], "sandbox": true});
        let path = format!("/admin/v1/organizations/{ORG_C}");
        let response = self.admin(Method::PUT, &path, &token, Some(body)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["sandbox"], true);
    }

    /// An e-mail order of organisation C whose result goes to `url`.
    async fn sandbox_order(&self, result_id: &str, url: &str) {
        let mut body = order_body(result_id, &format!("{result_id}@example.com"));
        body["resultUpdateUrl"] = json!(url);
        let response = self
            .post_signed(ORDER, KEY_C, SECRET_SANDBOX, body.to_string().as_bytes())
            .await;
        assert_eq!(response.status(), 201);
    }

    async fn outcome(&self, key: &str, secret: &str, body: Value) -> (u16, Value) {
        let response = self
            .post_signed(OUTCOMES, key, secret, body.to_string().as_bytes())
            .await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_sandbox_logs_its_invitations_and_its_outcomes_drive_the_real_pushes() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    app.make_c_a_sandbox().await;
    app.sandbox_order("sb-1", &receiver.url("/results")).await;

    // The invitation is in the delivery log, settled, and no e-mail was written.
    let page = app.deliveries("?kind=invitation_email").await;
    let invitation = &page["items"][0];
    assert_eq!(invitation["state"], "delivered");
    assert_eq!(invitation["attempts"], 0);
    assert!(
        invitation["lastError"].as_str().unwrap().contains("sandbox"),
        "{invitation}"
    );
    app.wait_until_settled().await;
    let written = std::fs::read_dir(&app.mail_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0, "no invitation e-mail went out");

    // Completed with scores derived from the resultId: the push arrives with them.
    let (status, answer) = app
        .outcome(
            KEY_C,
            SECRET_SANDBOX,
            json!({"resultId": "sb-1", "outcome": "completed"}),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "completed");
    let push = receiver.wait_for(1, WAIT).await.remove(0).json();
    assert_eq!(push["resultId"], "sb-1");
    assert_eq!(push["score"], answer["score"]);
    assert_eq!(push["subscores"].as_object().unwrap().len(), 2, "{push}");
    // The same outcome again, signed again (a second later: the same signature would be a
    // replay), changes nothing; another is a conflict.
    app.clock.advance(chrono::Duration::seconds(1));
    let (status, again) = app
        .outcome(
            KEY_C,
            SECRET_SANDBOX,
            json!({"resultId": "sb-1", "outcome": "completed"}),
        )
        .await;
    assert_eq!(
        (status, &again["score"]),
        (202, &answer["score"]),
        "derived scores are stable"
    );
    let (status, _) = app
        .outcome(
            KEY_C,
            SECRET_SANDBOX,
            json!({"resultId": "sb-1", "outcome": "declined"}),
        )
        .await;
    assert_eq!(status, 409);

    // Given scores are used as they are.
    app.sandbox_order("sb-2", &receiver.url("/results")).await;
    let given = json!({"resultId": "sb-2", "outcome": "completed", "score": 55,
        "subscores": {"driving-leadership": 60, "influencing-inspiring": 45}});
    let (status, answer) = app.outcome(KEY_C, SECRET_SANDBOX, given).await;
    assert_eq!((status, &answer["score"]), (202, &json!(55)), "{answer}");
    let push = receiver.wait_for(2, WAIT).await.remove(1).json();
    assert_eq!(push["score"], 55);

    // Declined and expired move the order there.
    for (result_id, outcome) in [("sb-3", "declined"), ("sb-4", "expired")] {
        app.sandbox_order(result_id, &receiver.url("/results")).await;
        let (status, answer) = app
            .outcome(
                KEY_C,
                SECRET_SANDBOX,
                json!({"resultId": result_id, "outcome": outcome}),
            )
            .await;
        assert_eq!((status, answer["status"].as_str()), (202, Some(outcome)), "{answer}");
    }
    app.wait_until_settled().await;
    assert_eq!(
        receiver.requests().len(),
        2,
        "no status pushes: the integrator did not ask for them"
    );
}

#[tokio::test]
async fn outcomes_are_refused_outside_a_sandbox_and_for_what_does_not_fit() {
    let app = spawn_app().await;
    app.make_c_a_sandbox().await;
    assert_eq!(
        app.order(ORDER, &order_body("real-1", "real@example.com"))
            .await
            .status(),
        201
    );
    // Organisation A is not a sandbox: 403, and its order stays as it was.
    let (status, problem) = app
        .outcome(KEY_A, SECRET_A, json!({"resultId": "real-1", "outcome": "completed"}))
        .await;
    assert_eq!(status, 403, "{problem}");
    let view = app.get_signed("/recruitment/v1/results/real-1", KEY_A, SECRET_A).await;
    assert_eq!(view.json::<Value>().await.unwrap()["status"], "invited");

    app.sandbox_order("sb-x", "https://ats.example.com/results").await;
    let (status, _) = app
        .outcome(KEY_C, SECRET_SANDBOX, json!({"resultId": "nope", "outcome": "expired"}))
        .await;
    assert_eq!(status, 404);
    for (body, field) in [
        (json!({"resultId": "sb-x", "outcome": "finished"}), "outcome"),
        (
            json!({"resultId": "sb-x", "outcome": "completed", "subscores": {"not-in-the-lens": 10}}),
            "subscores.not-in-the-lens",
        ),
        (
            json!({"resultId": "sb-x", "outcome": "completed", "score": 101}),
            "score",
        ),
    ] {
        let (status, problem) = app.outcome(KEY_C, SECRET_SANDBOX, body).await;
        assert_eq!(status, 422, "{problem}");
        assert!(fields(&problem).contains(&field.to_owned()), "{problem}");
    }
    let view = app
        .get_signed("/recruitment/v1/results/sb-x", KEY_C, SECRET_SANDBOX)
        .await;
    assert_eq!(
        view.json::<Value>().await.unwrap()["status"],
        "invited",
        "nothing changed"
    );
}

#[tokio::test]
async fn a_captured_outcome_replayed_is_refused() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    app.make_c_a_sandbox().await;
    app.sandbox_order("sb-replay", &receiver.url("/results")).await;
    let body = json!({"resultId": "sb-replay", "outcome": "completed"}).to_string();
    let captured = app.sign(SECRET_SANDBOX, body.as_bytes());
    let send = || {
        app.http
            .post(app.url(OUTCOMES))
            .header("provider-key", KEY_C)
            .header("content-type", "application/json")
            .header("signature", captured.clone())
            .body(body.clone())
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 202);
    let problem = expect_problem(send().await.unwrap(), 401).await;
    assert!(problem["detail"].as_str().unwrap().contains("replayed"), "{problem}");
    receiver.wait_for(1, WAIT).await;
}

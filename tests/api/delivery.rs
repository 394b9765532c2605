//! The delivery engine, end to end: results recorded through the admin API are pushed to a
//! real local receiver; e-mails reach a real local SMTP server or .eml files.
use std::time::Duration;

use assessment_partner::auth::admin::Scope;
use assessment_partner::delivery::outbox::{self, Kind, NewDelivery};
use assessment_partner::signature;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::receiver::{Receiver, SmtpSink};

pub fn result_input() -> Value {
    json!({"score": 71, "subscores": {"driving-leadership": 73, "influencing-inspiring": 68}})
}

impl TestApp {
    /// Orders an assessment whose result goes to `url`; answers the assessment id.
    pub async fn order_to(&self, url: &str, result_id: &str) -> String {
        let mut body = order_body(result_id, &format!("{result_id}@example.com"));
        body["resultUpdateUrl"] = json!(url);
        let response = self.order("/recruitment/v1/assessment-link-order", &body).await;
        assert_eq!(response.status(), 201);
        let link: Value = response.json().await.unwrap();
        let token = link["assessmentPackageLink"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        self.links
            .verify(
                assessment_partner::links::LinkKind::Assessment,
                &token,
                self.clock.now(),
            )
            .unwrap()
            .to_string()
    }

    pub async fn post_result(&self, assessment_id: &str, body: &Value) -> reqwest::Response {
        let token = self.admin_token(&[Scope::ResultsWrite]);
        self.http
            .post(self.url(&format!("/admin/v1/assessments/{assessment_id}/result")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn deliveries(&self, query: &str) -> Value {
        let token = self.admin_token(&[Scope::DeliveriesRead]);
        self.http
            .get(self.url(&format!("/admin/v1/deliveries{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until the delivery reaches `state`, and returns it with its attempts.
    pub async fn wait_for_delivery(&self, id: &str, state: &str) -> Value {
        eventually(WAIT, async || {
            let detail = self.deliveries(&format!("/{id}")).await;
            match detail["state"] == state {
                true => Ok(detail),
                false => Err(format!("delivery never became {state}: {detail}")),
            }
        })
        .await
    }

    /// Waits until no row of the outbox is pending: every call made has been answered and
    /// recorded, and no further call can be made (only pending rows are claimed). What the
    /// receivers hold then is final.
    pub async fn wait_until_settled(&self) {
        eventually(WAIT, async || {
            let page = self.deliveries("?state=pending").await;
            match page["items"].as_array().is_some_and(|items| items.is_empty()) {
                true => Ok(()),
                false => Err(format!("deliveries still pending: {page}")),
            }
        })
        .await
    }

    pub async fn only_delivery_of(&self, assessment_id: &str) -> String {
        let page = self
            .deliveries(&format!("?assessmentId={assessment_id}&kind=result"))
            .await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        items[0]["id"].as_str().unwrap().to_owned()
    }

    /// A completed assessment whose result push `receiver` refused for good (410, one attempt):
    /// (assessment id, delivery id). The receiver keeps answering 410 until told otherwise.
    pub async fn dead_result_push(&self, receiver: &Receiver, result_id: &str) -> (String, String) {
        receiver.answer_always(410);
        let id = self
            .order_to(&receiver.url(&format!("/results/{result_id}")), result_id)
            .await;
        self.post_result(&id, &result_input()).await;
        let delivery_id = self.only_delivery_of(&id).await;
        self.wait_for_delivery(&delivery_id, "dead").await;
        (id, delivery_id)
    }
}

#[tokio::test]
async fn a_result_is_pushed_signed_with_callback_auth_and_retried_with_one_idempotency_key() {
    let receiver = Receiver::start().await;
    receiver.answer_next(&[500, 503]);
    let app = spawn_app().fast().await;
    let id = app.order_to(&receiver.url("/results/r1"), "r1").await;
    let response = app.post_result(&id, &result_input()).await;
    assert_eq!(response.status(), 200);

    let requests = receiver.wait_for(3, WAIT).await;
    let delivery_id = app.only_delivery_of(&id).await;
    let detail = app.wait_for_delivery(&delivery_id, "delivered").await;
    assert_eq!(requests.len(), 3, "delivered on the third attempt, then nothing more");
    for r in &requests {
        assert_eq!(r.path, "/results/r1");
        assert_eq!(
            r.header("idempotency-key"),
            Some(delivery_id.as_str()),
            "the same key on every retry"
        );
        assert_eq!(r.body, requests[0].body, "the same body on every retry");
        assert_eq!(r.header("integrator-api-key"), Some("callback-api-key-a"));
        assert!(r.header("user-agent").unwrap().starts_with("assessment-partner/"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        // The integrator can verify the push with its secret.
        let sig = r.header("signature").expect("signed");
        signature::verify(
            SECRET_A.as_bytes(),
            sig,
            &r.body,
            app.clock.now(),
            Duration::from_secs(300),
        )
        .expect("the signature verifies");
    }
    let body = requests[2].json();
    assert_eq!(body["resultId"], "r1");
    assert_eq!(body["score"], 71);
    assert_eq!(
        body["subscores"],
        json!({"Driving Leadership": 73, "Influencing & Inspiring": 68})
    );
    // The pull endpoint serves the same body, with the order's status.
    let mut pulled: Value = app
        .get_signed("/recruitment/v1/results/r1", KEY_A, SECRET_A)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pulled["status"], "completed");
    pulled.as_object_mut().unwrap().remove("status");
    assert_eq!(pulled, body);
    // The attempt log.
    let log = detail["attemptLog"].as_array().unwrap();
    let statuses: Vec<i64> = log.iter().map(|a| a["statusCode"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![500, 503, 200]);
    assert_eq!(log[0]["outcome"], "retry");
    assert_eq!(log[0]["responseExcerpt"], "receiver says hi");
    assert_eq!(log[2]["outcome"], "delivered");
    assert_eq!(detail["attempts"], 3);
}

#[tokio::test]
async fn recording_the_same_result_again_changes_nothing_and_a_different_one_is_409() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let id = app.order_to(&receiver.url("/r"), "same").await;
    assert_eq!(app.post_result(&id, &result_input()).await.status(), 200);
    let again: Value = app.post_result(&id, &result_input()).await.json().await.unwrap();
    assert_eq!(again["changed"], false);
    let mut different = result_input();
    different["score"] = json!(12);
    expect_problem(app.post_result(&id, &different).await, 409).await;
    receiver.wait_for(1, WAIT).await;
    app.wait_until_settled().await;
    assert_eq!(receiver.requests().len(), 1, "one push only");
}

#[tokio::test]
async fn results_are_checked_against_the_lens() {
    let app = spawn_app().await;
    let id = app.order_to("https://ats.example.com/r", "chk").await;
    let cases = vec![
        (
            json!({"score": 71, "subscores": {"driving-leadership": 73}}),
            vec!["subscores.influencing-inspiring"],
        ),
        (
            json!({"score": 71, "subscores": {"driving-leadership": 73, "influencing-inspiring": 68, "extra": 1}}),
            vec!["subscores.extra"],
        ),
        (
            json!({"score": 171, "subscores": {"driving-leadership": 73, "influencing-inspiring": 101}}),
            vec!["score"],
        ),
        (
            json!({"score": 50, "subscores": {"driving-leadership": -1, "influencing-inspiring": 101}}),
            vec!["subscores.driving-leadership", "subscores.influencing-inspiring"],
        ),
    ];
    for (body, expected) in cases {
        let problem = expect_problem(app.post_result(&id, &body).await, 422).await;
        assert_eq!(fields(&problem), expected, "{body}");
    }
    expect_problem(
        app.post_result(&uuid::Uuid::new_v4().to_string(), &result_input())
            .await,
        404,
    )
    .await;
    let token = app.admin_token(&[Scope::AssessmentsRead]);
    let forbidden = app
        .http
        .post(app.url(&format!("/admin/v1/assessments/{id}/result")))
        .bearer_auth(token)
        .json(&result_input())
        .send()
        .await
        .unwrap();
    expect_problem(forbidden, 403).await;
    assert_eq!(
        app.deliveries("?kind=result").await["items"].as_array().unwrap().len(),
        0,
        "nothing enqueued"
    );
}

#[tokio::test]
async fn a_receiver_that_is_down_then_up_gets_its_result() {
    let receiver = Receiver::start().await;
    receiver.stop().await;
    let app = spawn_app().fast().await;
    let id = app.order_to(&receiver.url("/down"), "down").await;
    app.post_result(&id, &result_input()).await;
    let delivery_id = app.only_delivery_of(&id).await;
    // Wait for a few refused attempts.
    let d = eventually(WAIT, async || {
        let d = app.deliveries(&format!("/{delivery_id}")).await;
        match d["attempts"].as_i64().unwrap() >= 2 {
            true => Ok(d),
            false => Err(format!("fewer than two attempts: {d}")),
        }
    })
    .await;
    assert_eq!(d["state"], "pending");
    assert!(d["lastError"].as_str().unwrap().contains("could not connect"), "{d}");
    receiver.restart().await;
    app.wait_for_delivery(&delivery_id, "delivered").await;
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn an_always_failing_receiver_goes_dead_at_the_deadline_then_replay_delivers() {
    let receiver = Receiver::start().await;
    receiver.answer_always(500);
    let app = spawn_app()
        .fast()
        .with(|s| {
            s.delivery.retry_schedule = vec![Duration::from_millis(150)];
            s.delivery.max_age = Duration::from_millis(600);
        })
        .await;
    let id = app.order_to(&receiver.url("/dead"), "dead").await;
    app.post_result(&id, &result_input()).await;
    let delivery_id = app.only_delivery_of(&id).await;
    let dead = app.wait_for_delivery(&delivery_id, "dead").await;
    let first: chrono::DateTime<chrono::Utc> = serde_json::from_value(dead["firstAttemptAt"].clone()).unwrap();
    let deadline: chrono::DateTime<chrono::Utc> = serde_json::from_value(dead["deadlineAt"].clone()).unwrap();
    assert_eq!(deadline - first, chrono::Duration::milliseconds(600));
    let log = dead["attemptLog"].as_array().unwrap();
    assert!(log.len() >= 3, "several attempts: {dead}");
    let last_start: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(log.last().unwrap()["startedAt"].clone()).unwrap();
    assert!(last_start >= deadline, "the last attempt is made at the deadline");
    assert!(
        last_start < deadline + chrono::Duration::milliseconds(1500),
        "and not long after it"
    );
    assert_eq!(log.last().unwrap()["outcome"], "dead");
    app.wait_until_settled().await;
    assert_eq!(
        receiver.requests().len(),
        log.len(),
        "one call per recorded attempt, nothing after the deadline"
    );

    // Replay only dead rows; then it is delivered.
    receiver.answer_always(200);
    let token = app.admin_token(&[Scope::DeliveriesWrite]);
    let replay = app
        .http
        .post(app.url(&format!("/admin/v1/deliveries/{delivery_id}/replay")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 200);
    let answer: Value = replay.json().await.unwrap();
    let new_deadline: chrono::DateTime<chrono::Utc> = serde_json::from_value(answer["deadlineAt"].clone())
        .unwrap_or_else(|e| panic!("the replay's answer shows the new deadline ({e}): {answer}"));
    let updated: chrono::DateTime<chrono::Utc> = serde_json::from_value(answer["updatedAt"].clone()).unwrap();
    assert_eq!(
        new_deadline - updated,
        chrono::Duration::milliseconds(600),
        "the retry window from the replay"
    );
    assert!(new_deadline > deadline, "a new deadline");
    let delivered = app.wait_for_delivery(&delivery_id, "delivered").await;
    assert_eq!(delivered["deadlineAt"], answer["deadlineAt"], "kept by the worker");
    let again = app
        .http
        .post(app.url(&format!("/admin/v1/deliveries/{delivery_id}/replay")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_problem(again, 409).await;
}

#[tokio::test]
async fn gone_is_final() {
    let receiver = Receiver::start().await;
    receiver.answer_always(410);
    let app = spawn_app().fast().await;
    let id = app.order_to(&receiver.url("/gone"), "gone").await;
    app.post_result(&id, &result_input()).await;
    let delivery_id = app.only_delivery_of(&id).await;
    let dead = app.wait_for_delivery(&delivery_id, "dead").await;
    assert_eq!(dead["attempts"], 1);
    app.wait_until_settled().await;
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn pending_deliveries_survive_a_restart() {
    let receiver = Receiver::start().await;
    // First instance: API only, no worker, so the row waits.
    let api_only = spawn_app().fast().without_worker().await;
    let id = api_only.order_to(&receiver.url("/restart"), "restart").await;
    api_only.post_result(&id, &result_input()).await;
    let delivery_id = api_only.only_delivery_of(&id).await;
    let waiting = api_only.deliveries(&format!("/{delivery_id}")).await;
    assert_eq!(
        (&waiting["state"], &waiting["attempts"]),
        (&json!("pending"), &json!(0))
    );
    assert!(receiver.requests().is_empty());
    api_only.stop.stop().await;
    // A new instance on the same database delivers it.
    let next = spawn_app().fast().joining(&api_only).await;
    next.wait_for_delivery(&delivery_id, "delivered").await;
    assert_eq!(
        receiver.wait_for(1, WAIT).await[0].header("idempotency-key"),
        Some(delivery_id.as_str())
    );
}

#[tokio::test]
async fn calls_for_one_assessment_and_target_go_out_in_order() {
    let receiver = Receiver::start().await;
    receiver.answer_next(&[500, 500, 500]);
    let app = spawn_app().fast().await;
    let assessment = uuid::Uuid::new_v4();
    let org = uuid::Uuid::parse_str(ORG_A).unwrap();
    for n in 0..3 {
        let new = NewDelivery {
            kind: Kind::Result,
            organization_id: Some(org.into()),
            assessment_id: Some(assessment.into()),
            target: receiver.url("/ordered"),
            payload: json!({ "n": n }),
        };
        outbox::enqueue(&app.db, new, app.clock.now()).await.unwrap();
    }
    app.stop.stop().await; // (the rows were enqueued behind its back; a fresh worker picks them up)
    let worker = spawn_app().fast().joining(&app).await;
    let requests = receiver.wait_for(6, WAIT).await;
    let order: Vec<i64> = requests.iter().map(|r| r.json()["n"].as_i64().unwrap()).collect();
    assert_eq!(
        order,
        vec![0, 0, 0, 0, 1, 2],
        "the first is retried until delivered before the next goes"
    );
    drop(worker);
}

#[tokio::test]
async fn an_order_e_mails_the_invitation_to_smtp_in_its_locale() {
    let smtp = SmtpSink::start().await;
    let port = smtp.port;
    let app = spawn_app()
        .fast()
        .with(|s| {
            s.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        })
        .await;
    let mut body = order_body("mail-1", "ada@example.com");
    body["locale"] = json!("sv-SE");
    let id: String = app
        .order("/recruitment/v1/assessment-order", &body)
        .await
        .json()
        .await
        .unwrap();
    let messages = smtp.wait_for(1, WAIT).await;
    let message = &messages[0];
    assert!(message.contains("ada@example.com"), "{message}");
    assert!(message.contains("Inbjudan"), "Swedish subject: {message}");
    let unfolded = message.replace("=\n", "");
    let link_start = unfolded
        .find(&format!("{}/a/", app.address))
        .expect("the link is in the e-mail");
    let token: String = unfolded[link_start + app.address.len() + 3..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    let named = app
        .links
        .verify(assessment_partner::links::LinkKind::Assessment, &token, app.clock.now())
        .unwrap();
    assert_eq!(named.to_string(), id);
    // A link order sends no e-mail.
    let link_order = app
        .order(
            "/recruitment/v1/assessment-link-order",
            &order_body("mail-2", "bob@example.com"),
        )
        .await;
    assert_eq!(link_order.status(), 201);
    let page = app.deliveries("?kind=invitation_email").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn without_smtp_e_mails_land_as_eml_files() {
    let app = spawn_app().fast().await;
    assert_eq!(
        app.order(
            "/recruitment/v1/assessment-order",
            &order_body("eml-1", "eve@example.com")
        )
        .await
        .status(),
        201
    );
    let text = eventually(WAIT, async || {
        let files: Vec<_> = std::fs::read_dir(&app.mail_dir)
            .map(|d| d.flatten().collect())
            .unwrap_or_default();
        files
            .iter()
            .find(|f| f.path().extension().is_some_and(|e| e == "eml"))
            .map(|file| std::fs::read_to_string(file.path()).unwrap())
            .ok_or_else(|| format!("no .eml file in {}", app.mail_dir.display()))
    })
    .await;
    assert!(text.contains("eve@example.com") && text.contains("/a/"), "{text}");
}

#[tokio::test]
async fn private_callback_targets_are_refused_unless_allowed() {
    let receiver = Receiver::start().await;
    let app = spawn_app()
        .fast()
        .with(|s| {
            s.delivery.allow_private_networks = false;
            s.delivery.max_age = Duration::from_millis(300);
        })
        .await;
    for url in [
        "http://127.0.0.1/x",
        "http://localhost:8080/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://10.0.0.8/x",
        "http://0.0.0.0/x",
        "http://100.64.0.1/x",
        "http://192.0.0.1/x",
        "http://198.18.0.1/x",
        "http://224.0.0.1/x",
        "http://240.0.0.1/x",
        "http://255.255.255.255/x",
        "http://[64:ff9b::a00:1]/x",
        "http://[64:ff9b:1::808:808]/x",
        "http://[2002:c000:201::1]/x",
        "http://[::7f00:1]/x",
        "http://[::ffff:192.168.0.1]/x",
        "http://[2001::1]/x",
        "http://[2001:db8::1]/x",
        "http://[fc00::1]/x",
        "http://[fe80::1]/x",
        "http://[ff02::1]/x",
    ] {
        let mut body = order_body("ssrf", "s@example.com");
        body["resultUpdateUrl"] = json!(url);
        let problem = expect_problem(app.order("/recruitment/v1/assessment-order", &body).await, 422).await;
        assert_eq!(fields(&problem), vec!["resultUpdateUrl".to_owned()], "{url}");
    }
    // At send time too (the row could predate a configuration change).
    let new = NewDelivery {
        kind: Kind::Result,
        organization_id: Some(uuid::Uuid::parse_str(ORG_A).unwrap().into()),
        assessment_id: None,
        target: format!("http://localhost:{}/sneaky", receiver.port),
        payload: json!({}),
    };
    let id = outbox::enqueue(&app.db, new, app.clock.now()).await.unwrap();
    let dead = app.wait_for_delivery(&id.to_string(), "dead").await;
    assert!(
        dead["attemptLog"][0]["error"].as_str().unwrap().contains("blocked"),
        "{dead}"
    );
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn metrics_count_deliveries_and_requests() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let id = app.order_to(&receiver.url("/m"), "metrics").await;
    app.post_result(&id, &result_input()).await;
    let delivery_id = app.only_delivery_of(&id).await;
    app.wait_for_delivery(&delivery_id, "delivered").await;
    let text = app.metrics_text().await;
    assert!(
        text.contains(r#"ap_deliveries_total{kind="result",outcome="delivered"} 1"#),
        "{text}"
    );
    assert!(text.contains("ap_delivery_attempt_seconds_bucket"), "{text}");
    assert!(text.contains("ap_deliveries_pending 0"), "{text}");
    assert!(text.contains("ap_delivery_oldest_pending_age_seconds"), "{text}");
    assert!(
        text.contains(r#"route="/recruitment/v1/assessment-link-order",status="201""#),
        "{text}"
    );
}

#[tokio::test]
async fn shutdown_lets_an_attempt_in_flight_finish() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(700));
    let app = spawn_app().fast().await;
    let id = app.order_to(&receiver.url("/slow"), "slow").await;
    app.post_result(&id, &result_input()).await;
    let delivery_id = app.only_delivery_of(&id).await;
    // Wait until the attempt is under way (the push has reached the receiver, which answers
    // 700 ms later), then stop.
    receiver.wait_for_arrivals(1, WAIT).await;
    app.stop.stop().await;
    // The worker is stopping; the attempt in flight is still recorded. A read that fails here
    // is retried until the deadline, and its error reported if it never succeeds.
    let row = eventually(WAIT, async || {
        use sea_orm::EntityTrait;
        let read =
            assessment_partner::entity::delivery::Entity::find_by_id(uuid::Uuid::parse_str(&delivery_id).unwrap())
                .one(&app.db)
                .await;
        match read {
            Ok(Some(row)) if row.state.as_str() == "delivered" => Ok(row),
            other => Err(format!("the in-flight attempt was not recorded; last read: {other:?}")),
        }
    })
    .await;
    assert_eq!(row.lease_owner, None);
}

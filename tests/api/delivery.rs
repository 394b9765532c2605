//! The delivery engine, end to end: results recorded through the admin API are pushed to a
//! real local receiver; e-mails reach a real local SMTP server or .eml files.
use std::time::Duration;

use assessment_partner::auth::admin::Scope;
use assessment_partner::delivery::outbox::{self, Kind, NewDelivery};
use assessment_partner::signature;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::receiver::{Receiver, SmtpSink};

const WAIT: Duration = Duration::from_secs(20);

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
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let detail = self.deliveries(&format!("/{id}")).await;
            if detail["state"] == state {
                return detail;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "delivery never became {state}: {detail}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until no row of the outbox is pending: every call made has been answered and
    /// recorded, and no further call can be made (only pending rows are claimed). What the
    /// receivers hold then is final.
    pub async fn wait_until_settled(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let page = self.deliveries("?state=pending").await;
            if page["items"].as_array().is_some_and(|items| items.is_empty()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries still pending: {page}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn only_delivery_of(&self, assessment_id: &str) -> String {
        let page = self
            .deliveries(&format!("?assessmentId={assessment_id}&kind=result"))
            .await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        items[0]["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn a_result_is_pushed_signed_with_callback_auth_and_retried_with_one_idempotency_key() {
    let receiver = Receiver::start().await;
    receiver.answer_next(&[500, 503]);
    let app = spawn_fast_app().await;
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
    let app = spawn_fast_app().await;
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
    let app = spawn_fast_app().await;
    let id = app.order_to(&receiver.url("/down"), "down").await;
    app.post_result(&id, &result_input()).await;
    let delivery_id = app.only_delivery_of(&id).await;
    // Wait for a few refused attempts.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let d = app.deliveries(&format!("/{delivery_id}")).await;
        if d["attempts"].as_i64().unwrap() >= 2 {
            assert_eq!(d["state"], "pending");
            assert!(d["lastError"].as_str().unwrap().contains("could not connect"), "{d}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    receiver.restart().await;
    app.wait_for_delivery(&delivery_id, "delivered").await;
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn an_always_failing_receiver_goes_dead_at_the_deadline_then_replay_delivers() {
    let receiver = Receiver::start().await;
    receiver.answer_always(500);
    let app = spawn_fast_app_with(|s| {
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
    let app = spawn_fast_app().await;
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
    let api_only = spawn_fast_api_only().await;
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
    let next = spawn_fast_joining(&api_only).await;
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
    let app = spawn_fast_app().await;
    let assessment = uuid::Uuid::new_v4();
    let org = uuid::Uuid::parse_str(ORG_A).unwrap();
    for n in 0..3 {
        let new = NewDelivery {
            kind: Kind::Result,
            organization_id: Some(org),
            assessment_id: Some(assessment),
            target: receiver.url("/ordered"),
            payload: json!({ "n": n }),
        };
        outbox::enqueue(&app.db, new, app.clock.now()).await.unwrap();
    }
    app.stop.stop().await; // (the rows were enqueued behind its back; a fresh worker picks them up)
    let worker = spawn_fast_joining(&app).await;
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
    let app = spawn_fast_app_with(|s| {
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
    let app = spawn_fast_app().await;
    assert_eq!(
        app.order(
            "/recruitment/v1/assessment-order",
            &order_body("eml-1", "eve@example.com")
        )
        .await
        .status(),
        201
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let files: Vec<_> = std::fs::read_dir(&app.mail_dir)
            .map(|d| d.flatten().collect())
            .unwrap_or_default();
        if let Some(file) = files.iter().find(|f| f.path().extension().is_some_and(|e| e == "eml")) {
            let text = std::fs::read_to_string(file.path()).unwrap();
            assert!(text.contains("eve@example.com") && text.contains("/a/"), "{text}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no .eml file in {}",
            app.mail_dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn private_callback_targets_are_refused_unless_allowed() {
    let receiver = Receiver::start().await;
    let app = spawn_fast_app_with(|s| {
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
        organization_id: Some(uuid::Uuid::parse_str(ORG_A).unwrap()),
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
    let app = spawn_fast_app().await;
    let id = app.order_to(&receiver.url("/m"), "metrics").await;
    app.post_result(&id, &result_input()).await;
    let delivery_id = app.only_delivery_of(&id).await;
    app.wait_for_delivery(&delivery_id, "delivered").await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
    let app = spawn_fast_app().await;
    let id = app.order_to(&receiver.url("/slow"), "slow").await;
    app.post_result(&id, &result_input()).await;
    let delivery_id = app.only_delivery_of(&id).await;
    // Wait until the attempt is under way (the push has reached the receiver, which answers
    // 700 ms later), then stop.
    receiver.wait_for_arrivals(1, WAIT).await;
    app.stop.stop().await;
    // The worker is stopping; the attempt in flight is still recorded. A read that fails here
    // is retried until the deadline, and its error reported if it never succeeds.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        use sea_orm::EntityTrait;
        let read =
            assessment_partner::entity::delivery::Entity::find_by_id(uuid::Uuid::parse_str(&delivery_id).unwrap())
                .one(&app.db)
                .await;
        match read {
            Ok(Some(row)) if row.state.as_str() == "delivered" => {
                assert_eq!(row.lease_owner, None);
                break;
            }
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "the in-flight attempt was not recorded; last read: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Recording a batch of attempts (`delivery::record`, on SQLite and, in CI, PostgreSQL): only
/// rows leased to the writer change, the attempt log gets every attempt, and a delivered row
/// with a later pending row of its ordering key says so (the worker is woken only then).
#[tokio::test]
async fn a_record_batch_updates_only_own_leases_and_reports_freed_rows() {
    use assessment_partner::delivery::outbox::DeliveryState;
    use assessment_partner::delivery::record::{Outcome, write_alone};
    use assessment_partner::entity::{delivery, delivery_attempt};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    fn delivered(id: uuid::Uuid, ordering_key: &str, at: chrono::DateTime<chrono::Utc>) -> Outcome {
        Outcome {
            delivery_id: id,
            ordering_key: ordering_key.to_owned(),
            attempt_no: 1,
            started_at: at,
            duration_ms: 3,
            status: Some(200),
            outcome: "delivered",
            error: None,
            excerpt: Some("ok".to_owned()),
            state: DeliveryState::Delivered,
            next_attempt_at: at,
            first_attempt_at: at,
            deadline_at: at + chrono::Duration::hours(36),
        }
    }

    // No worker: the rows are leased by hand below.
    let app = spawn_app_without_worker().await;
    let db = &app.db;
    // Microseconds: what PostgreSQL keeps.
    let now = chrono::DateTime::from_timestamp_micros(chrono::Utc::now().timestamp_micros()).unwrap();
    let assessment = uuid::Uuid::now_v7();
    let new = |assessment_id| NewDelivery {
        kind: Kind::Result,
        organization_id: None,
        assessment_id,
        target: "http://receiver.test/results".into(),
        payload: json!({}),
    };
    let first = outbox::enqueue(db, new(Some(assessment)), now).await.unwrap();
    let later = outbox::enqueue(db, new(Some(assessment)), now).await.unwrap();
    let other = outbox::enqueue(db, new(None), now).await.unwrap();
    delivery::Entity::update_many()
        .col_expr(delivery::Column::LeaseOwner, Expr::value("me"))
        .filter(delivery::Column::Id.is_in([first, later]))
        .exec(db)
        .await
        .unwrap();
    delivery::Entity::update_many()
        .col_expr(delivery::Column::LeaseOwner, Expr::value("someone else"))
        .filter(delivery::Column::Id.eq(other))
        .exec(db)
        .await
        .unwrap();

    let rows = delivery::Entity::find().all(db).await.unwrap();
    let key = |id| rows.iter().find(|r| r.id == id).unwrap().ordering_key.clone();
    let (first_key, later_key, other_key) = (key(first), key(later), key(other));
    let batch = [delivered(first, &first_key, now), delivered(other, &other_key, now)];
    let written = write_alone(db, "me", now, &batch).await.unwrap();
    assert!(written.unblocked, "the later row of the first's key is free now");
    assert_eq!(written.left_alone, vec![other]);
    let rows = delivery::Entity::find().all(db).await.unwrap();
    let state = |id| {
        rows.iter()
            .find(|r| r.id == id)
            .map(|r| (r.state.as_str().to_owned(), r.lease_owner.clone()))
    };
    assert_eq!(state(first), Some(("delivered".into(), None)));
    assert_eq!(state(later), Some(("pending".into(), Some("me".into()))));
    assert_eq!(state(other), Some(("pending".into(), Some("someone else".into()))));
    let first_row = rows.iter().find(|r| r.id == first).unwrap();
    assert_eq!(
        (first_row.attempts, first_row.last_status, first_row.delivered_at),
        (1, Some(200), Some(now))
    );
    assert_eq!(first_row.next_attempt_at, now);
    assert_eq!(delivery_attempt::Entity::find().all(db).await.unwrap().len(), 2);

    // The later row delivered too: nothing left behind it.
    let written = write_alone(db, "me", now, &[delivered(later, &later_key, now)])
        .await
        .unwrap();
    assert!(!written.unblocked && written.left_alone.is_empty());
}

/// The worker's statements walk the outbox's indexes whatever the statistics say. The table
/// here was never analysed, and PostgreSQL then believes few rows are pending: left to itself
/// it answers a claim by fetching every due row, checking each one's ordering and sorting them,
/// and the recorder's question by reading the whole table (costs that grow with the backlog).
/// `outbox::use_index_plans` rules those plans out.
#[tokio::test]
async fn the_worker_statements_use_the_outbox_indexes_on_a_table_never_analysed() {
    use assessment_partner::delivery::claim::claim_statement;
    use sea_orm::TransactionTrait;

    let app = spawn_app_without_worker().await;
    let db = &app.db;
    let now = chrono::Utc::now();
    let txn = db.begin().await.unwrap();
    enqueue_result_pushes(&txn, 2_000, now, || json!({})).await;
    txn.commit().await.unwrap();
    let backend = db.get_database_backend();

    let claim = claim_statement(backend, "me", now + chrono::Duration::minutes(1), now, 64);
    let plan = explain(db, claim).await;
    assert!(
        plan.contains("ix_deliveries_pending_due"),
        "the claim does not use the due index:\n{plan}"
    );
    for (bad, why) in [
        ("Sort", "sorts the due rows"),
        ("Bitmap", "fetches every due row"),
        ("Seq Scan", "reads the whole table"),
        ("TEMP B-TREE", "sorts the due rows"),
        ("SCAN d", "reads the whole table"),
    ] {
        assert!(!plan.contains(bad), "the claim {why}:\n{plan}");
    }

    // PostgreSQL records a batch with one statement: each row is found by primary key, not by
    // walking the pending rows (880 ms for a batch among 10,000 pending, against 6 ms), and the
    // question "is a later row of its key pending?" is answered by the ordering index. (SQLite's
    // recording text holds two statements, which EXPLAIN cannot take as one; not checked here.)
    if backend == sea_orm::DbBackend::Postgres {
        let plan = explain_postgres_record(db.get_postgres_connection_pool()).await;
        assert!(
            plan.contains("deliveries_pkey"),
            "the batch's rows are not found by key:\n{plan}"
        );
        assert!(
            plan.contains("ix_deliveries_pending_order"),
            "the ordering index does not answer for followers:\n{plan}"
        );
        assert!(
            !plan.contains("ix_deliveries_pending_due"),
            "the update walks the pending rows:\n{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "reads the whole table:\n{plan}");
    }
}

/// The plan of `record::POSTGRES_RECORD` as the worker runs it (after the planner settings of
/// `outbox::use_index_plans`), with an empty batch.
async fn explain_postgres_record(pool: &sea_orm::sqlx::PgPool) -> String {
    use assessment_partner::delivery::record::POSTGRES_RECORD;
    use chrono::{DateTime, Utc};
    use sea_orm::sqlx::{self, Row};

    let mut txn = pool.begin().await.unwrap();
    sqlx::raw_sql(outbox::INDEX_PLANS).execute(&mut *txn).await.unwrap();
    let explain = format!("EXPLAIN {POSTGRES_RECORD}");
    let (ids, ints, times, texts) = (
        Vec::<uuid::Uuid>::new(),
        Vec::<i32>::new(),
        Vec::<DateTime<Utc>>::new(),
        Vec::<String>::new(),
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(explain))
        .bind(&ids)
        .bind(&ids)
        .bind(&ints)
        .bind(&times)
        .bind(&ints)
        .bind(&ints)
        .bind(&texts)
        .bind(&texts)
        .bind(&texts)
        .bind(&texts)
        .bind(&times)
        .bind(&times)
        .bind(Utc::now())
        .bind(&times)
        .bind("me")
        .fetch_all(&mut *txn)
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    rows.iter()
        .map(|row| row.get::<String, _>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// On PostgreSQL a claim rewrites each claimed row in place (a "HOT" update: no new index
/// entries), because the outbox's pages keep room for it (migration 6, fill factor 50, which
/// says why and what it gained). SQLite has no such setting: nothing to check there.
#[tokio::test]
async fn a_claim_updates_the_claimed_rows_in_place_on_postgres() {
    use assessment_partner::delivery::claim::claim_statement;
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

    let app = spawn_app_without_worker().await;
    let db = &app.db;
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let now = chrono::Utc::now();
    let txn = db.begin().await.unwrap();
    // A burst of rows the size of a result push, enough to fill many pages.
    enqueue_result_pushes(
        &txn,
        1_000,
        now,
        || json!({ "resultId": uuid::Uuid::now_v7(), "score": 71, "padding": "x".repeat(300) }),
    )
    .await;
    let claim = claim_statement(DbBackend::Postgres, "me", now + chrono::Duration::minutes(1), now, 64);
    let claimed = txn.query_all_raw(claim).await.unwrap().len();
    assert_eq!(claimed, 64);
    let counts = txn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'deliveries'",
        ))
        .await
        .unwrap()
        .unwrap();
    let updated: i64 = counts.try_get("", "n_tup_upd").unwrap();
    let in_place: i64 = counts.try_get("", "n_tup_hot_upd").unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(updated, 64);
    assert_eq!(in_place, 64, "claimed rows moved to other pages (new index entries)");
}

/// `n` pending result pushes, due at `now`, each with its own assessment (so its own ordering
/// key), written 100 per statement (SQLite's limit on bound values).
async fn enqueue_result_pushes(
    txn: &sea_orm::DatabaseTransaction,
    n: usize,
    now: chrono::DateTime<chrono::Utc>,
    payload: impl Fn() -> Value,
) {
    for start in (0..n).step_by(100) {
        let news = (start..n.min(start + 100))
            .map(|_| NewDelivery {
                kind: Kind::Result,
                organization_id: None,
                assessment_id: Some(uuid::Uuid::now_v7()),
                target: "http://receiver.test/results".into(),
                payload: payload(),
            })
            .collect();
        outbox::enqueue_many(txn, news, now, None).await.unwrap();
    }
}

/// The plan of a worker statement as the worker runs it (after `outbox::use_index_plans`), one
/// line per node.
async fn explain(db: &sea_orm::DatabaseConnection, statement: sea_orm::Statement) -> String {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

    let backend = db.get_database_backend();
    let (prefix, column) = match backend {
        DbBackend::Postgres => ("EXPLAIN ", "QUERY PLAN"),
        _ => ("EXPLAIN QUERY PLAN ", "detail"),
    };
    let explain = Statement::from_sql_and_values(
        backend,
        format!("{prefix}{}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    let txn = db.begin().await.unwrap();
    outbox::use_index_plans(&txn).await.unwrap();
    let plan: Vec<String> = txn
        .query_all_raw(explain)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", column).unwrap())
        .collect();
    txn.rollback().await.unwrap();
    plan.join("\n")
}

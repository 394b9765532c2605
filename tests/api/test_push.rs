//! `POST /recruitment/v1/test-result`: a sample result sent at once as a real push is sent, and
//! what the receiver did.
use std::time::Duration;

use assessment_partner::delivery::outbox::{DeliveryState, Kind};
use assessment_partner::entity::delivery;
use assessment_partner::signature;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::receiver::Receiver;

const PATH: &str = "/recruitment/v1/test-result";

async fn test_push(app: &TestApp, url: &str) -> reqwest::Response {
    let body = json!({ "resultUpdateUrl": url }).to_string();
    app.post_signed(PATH, KEY_A, SECRET_A, body.as_bytes()).await
}

async fn test_rows(app: &TestApp) -> Vec<delivery::Model> {
    delivery::Entity::find()
        .filter(delivery::Column::Kind.eq(Kind::TestPush))
        .all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_test_push_is_sent_as_a_real_push_and_answers_what_the_receiver_did() {
    let receiver = Receiver::start().await;
    receiver.answer_json(json!({ "received": true }));
    let app = spawn_app().fast().await;
    let response = test_push(&app, &receiver.url("/results")).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["delivered"], true, "{answer}");
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["error"], Value::Null);
    assert!(answer["durationMs"].is_u64());
    assert_eq!(answer["responseExcerpt"], "{\"received\":true}");

    let push = receiver.wait_for(1, WAIT).await.remove(0);
    assert_eq!(push.path, "/results");
    assert_eq!(push.header("test-delivery"), Some("true"));
    assert_eq!(push.header("integrator-api-key"), Some("callback-api-key-a"));
    let row = test_rows(&app).await.remove(0);
    assert_eq!(push.header("idempotency-key"), Some(row.id.to_string().as_str()));
    assert_eq!(row.state, DeliveryState::Delivered);
    let header = push.header("signature").expect("signed");
    let at = chrono::DateTime::from_timestamp(signature::SignatureHeader::parse(header).unwrap().timestamp, 0).unwrap();
    signature::verify(SECRET_A.as_bytes(), header, &push.body, at, Duration::from_secs(300)).unwrap();
    // The shape of every result push, with a test resultId.
    let body = push.json();
    assert!(body["resultId"].as_str().unwrap().starts_with("test-"), "{body}");
    let score = body["score"].as_i64().unwrap();
    assert!((0..=100).contains(&score));
    let names: Vec<&String> = body["subscores"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["Driving Leadership", "Influencing & Inspiring"]);
    for link in ["recruitmentUrl", "assessmentReportUrl"] {
        assert!(body[link].as_str().unwrap().starts_with(&app.address), "{link}");
    }
}

#[tokio::test]
async fn a_failed_test_push_says_why_and_is_not_retried() {
    let receiver = Receiver::start().await;
    receiver.answer_always(500);
    let app = spawn_app().fast().await;
    let answer: Value = test_push(&app, &receiver.url("/results")).await.json().await.unwrap();
    assert_eq!(answer["delivered"], false, "{answer}");
    assert_eq!(answer["status"], 500);
    assert_eq!(answer["error"], "HTTP 500");
    let row = test_rows(&app).await.remove(0);
    assert_eq!(
        (row.state, row.attempts),
        (DeliveryState::Dead, 1),
        "one attempt, final"
    );

    // A receiver that does not answer at all (the same call signed a second later: the same
    // signature again would be a replay).
    receiver.stop().await;
    app.clock.advance(chrono::Duration::seconds(1));
    let answer: Value = test_push(&app, &receiver.url("/results")).await.json().await.unwrap();
    assert_eq!(answer["delivered"], false, "{answer}");
    assert_eq!(answer["status"], Value::Null);
    assert!(answer["error"].as_str().unwrap().contains("connect"), "{answer}");
    assert_eq!(answer["responseExcerpt"], Value::Null);
    assert_eq!(receiver.requests().len(), 1, "the 500 was not tried again");
}

#[tokio::test]
async fn a_test_push_where_pushes_may_not_go_is_refused_before_anything_is_written() {
    let app = spawn_app().with(|s| s.delivery.allow_private_networks = false).await;
    for url in [
        "http://127.0.0.1:9/results",
        "http://10.0.0.1/results",
        "ftp://ats.example.com/x",
    ] {
        let response = test_push(&app, url).await;
        let problem = expect_problem(response, 422).await;
        assert_eq!(fields(&problem), ["resultUpdateUrl"], "{url}");
    }
    assert!(test_rows(&app).await.is_empty());
}

#[tokio::test]
async fn an_instance_without_a_worker_sends_no_test_push() {
    let app = spawn_app().without_worker().await;
    let response = test_push(&app, "http://127.0.0.1:9/results").await;
    let problem = expect_problem(response, 503).await;
    assert!(problem["detail"].as_str().unwrap().contains("no delivery worker"));
    assert!(test_rows(&app).await.is_empty());
}

#[tokio::test]
async fn a_captured_test_push_replayed_inside_the_signature_window_sends_nothing_more() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let other = spawn_app().fast().joining(&app).await;
    let body = json!({ "resultUpdateUrl": receiver.url("/results") }).to_string();
    let captured = app.sign(SECRET_A, body.as_bytes());
    let send = |target: &TestApp, header: String| {
        target
            .http
            .post(target.url(PATH))
            .header("provider-key", KEY_A)
            .header("content-type", "application/json")
            .header("signature", header)
            .body(body.clone())
            .send()
    };
    assert_eq!(send(&app, captured.clone()).await.unwrap().status(), 200);
    receiver.wait_for(1, WAIT).await;
    // The same request again, to this instance and to another, and with its entries reordered
    // or padded: each a replay.
    let padded = format!("{captured},signature={}", "0".repeat(64));
    for (target, header) in [(&app, captured.clone()), (&other, captured.clone()), (&app, padded)] {
        let problem = expect_problem(send(target, header).await.unwrap(), 401).await;
        assert!(problem["detail"].as_str().unwrap().contains("replayed"), "{problem}");
    }
    assert_eq!(test_rows(&app).await.len(), 1, "one push only");
    assert_eq!(receiver.requests().len(), 1);
    // Signed again (a new timestamp), the same body is a new request.
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        send(&app, app.sign(SECRET_A, body.as_bytes())).await.unwrap().status(),
        200
    );
    assert_eq!(test_rows(&app).await.len(), 2);
}

#[tokio::test]
async fn a_test_push_samples_the_lens_asked_for_and_its_report_link_opens_a_sample_report() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let push = |key: &'static str, secret: &'static str, lens: Option<&str>| {
        let mut body = json!({ "resultUpdateUrl": receiver.url("/results") });
        if let Some(lens) = lens {
            body["lensId"] = json!(lens);
        }
        let app = &app;
        async move { app.post_signed(PATH, key, secret, body.to_string().as_bytes()).await }
    };
    // A lens the organisation may not order: nothing is sent.
    expect_problem(push(KEY_A, SECRET_A, Some(LENS_B_ONLY)).await, 404).await;
    assert!(test_rows(&app).await.is_empty());

    // Organisation B's lenses are "General Performance" and "Sales Specialist": by default the
    // first by name; asked for, the other.
    assert_eq!(push(KEY_B, SECRET_B, None).await.status(), 200);
    let first = receiver.wait_for(1, WAIT).await.remove(0).json();
    let names: Vec<&String> = first["subscores"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["Driving Leadership", "Influencing & Inspiring"], "{first}");
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(push(KEY_B, SECRET_B, Some(LENS_B_ONLY)).await.status(), 200);
    let sales = receiver.wait_for(2, WAIT).await.remove(1).json();
    let names: Vec<&String> = sales["subscores"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["Customer Focus"], "{sales}");

    // Its report link opens a sample report with the pushed scores, marked as a sample.
    let link = sales["assessmentReportUrl"].as_str().unwrap();
    let page = app.http.get(link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sample report for a test push"), "{html}");
    assert!(
        html.contains("Sales Specialist") && html.contains("Customer Focus"),
        "{html}"
    );
    let score = sales["subscores"]["Customer Focus"].as_i64().unwrap();
    assert!(
        html.contains(&format!("<td>{score}</td>")),
        "the pushed score {score}: {html}"
    );
    let pdf = app.http.get(format!("{link}?format=pdf")).send().await.unwrap();
    assert_eq!(pdf.status(), 200);
    // A tampered link is still no report.
    let tampered = format!("{}A", &link[..link.len() - 1]);
    let tampered = if tampered == link {
        format!("{}B", &link[..link.len() - 1])
    } else {
        tampered
    };
    assert_eq!(app.http.get(tampered).send().await.unwrap().status(), 404);
}

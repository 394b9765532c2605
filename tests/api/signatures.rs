//! Every way a Recruitment API call can fail authentication: 401, a detail that says why, and
//! nothing changed.
use assessment_partner::signature;
use serde_json::Value;

use crate::helpers::*;

const ORDER: &str = "/recruitment/v1/assessment-order";

async fn order_with_signature(
    app: &TestApp,
    key: Option<&str>,
    signature: Option<String>,
    body: &[u8],
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url(ORDER))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(key) = key {
        request = request.header("provider-key", key);
    }
    if let Some(signature) = signature {
        request = request.header("Signature", signature);
    }
    request.send().await.unwrap()
}

async fn expect_unauthorized(response: reqwest::Response, detail_contains: &str) {
    let problem = expect_problem(response, 401).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(detail_contains),
        "detail '{detail}' should contain '{detail_contains}'"
    );
}

#[tokio::test]
async fn bad_signatures_are_401_and_change_nothing() {
    let app = spawn_app().await;
    let body = order_body("res-1", "a@example.com").to_string();
    let bytes = body.as_bytes();
    let now = app.clock.now().timestamp();
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "missing"),
        (Some("garbage".into()), "not key=value"),
        (Some(format!("t=abc,signature={}", "0".repeat(64))), "not an integer"),
        (
            Some(format!(
                "signature={}",
                signature::sign(SECRET_A.as_bytes(), now, bytes)
            )),
            "no t= part",
        ),
        (Some(format!("t={now}")), "no signature= part"),
        (Some(format!("t={now},signature=abc123")), "64 hexadecimal"),
        (
            Some(signature::header_value(b"the-wrong-secret", now, bytes)),
            "no signature in the header matches",
        ),
        (
            Some(signature::header_value(SECRET_B.as_bytes(), now, bytes)),
            "no signature in the header matches",
        ),
        (
            Some(signature::header_value(
                SECRET_A.as_bytes(),
                now,
                b"{\"tampered\":true}",
            )),
            "no signature in the header matches",
        ),
        (
            Some(signature::header_value(SECRET_A.as_bytes(), now - 301, bytes)),
            "in the past",
        ),
        (
            Some(signature::header_value(SECRET_A.as_bytes(), now + 301, bytes)),
            "in the future",
        ),
    ];
    for (header, detail) in cases {
        let response = order_with_signature(&app, Some(KEY_A), header.clone(), bytes).await;
        expect_unauthorized(response, detail).await;
    }
    assert_eq!(app.assessment_count().await, 0);
}

#[tokio::test]
async fn a_tampered_body_is_refused() {
    let app = spawn_app().await;
    let body = order_body("res-1", "a@example.com").to_string();
    let header = app.sign(SECRET_A, body.as_bytes());
    let tampered = body.replace("a@example.com", "evil@example.com");
    expect_unauthorized(
        order_with_signature(&app, Some(KEY_A), Some(header), tampered.as_bytes()).await,
        "matches",
    )
    .await;
    assert_eq!(app.assessment_count().await, 0);
}

#[tokio::test]
async fn the_tolerance_is_300_seconds_both_ways_on_the_injected_clock() {
    let app = spawn_app().await;
    let body = order_body("res-edge", "edge@example.com").to_string();
    let bytes = body.as_bytes();
    let now = app.clock.now().timestamp();
    // Exactly at the edge is accepted...
    let ok = order_with_signature(
        &app,
        Some(KEY_A),
        Some(signature::header_value(SECRET_A.as_bytes(), now - 300, bytes)),
        bytes,
    )
    .await;
    assert_eq!(ok.status(), 201);
    let ok = order_with_signature(
        &app,
        Some(KEY_A),
        Some(signature::header_value(SECRET_A.as_bytes(), now + 300, bytes)),
        bytes,
    )
    .await;
    assert_eq!(ok.status(), 200);
    // ...and the server's clock decides: a signature made now is too old 301 s later.
    let header = app.sign(SECRET_A, bytes);
    app.clock.advance(chrono::Duration::seconds(301));
    expect_unauthorized(
        order_with_signature(&app, Some(KEY_A), Some(header), bytes).await,
        "in the past",
    )
    .await;
}

#[tokio::test]
async fn several_signatures_are_accepted_when_one_matches() {
    let app = spawn_app().await;
    let body = order_body("res-rot", "rot@example.com").to_string();
    let now = app.clock.now().timestamp();
    let old = signature::sign(b"the-old-secret", now, body.as_bytes());
    let new = signature::sign(SECRET_A.as_bytes(), now, body.as_bytes());
    let header = format!("t={now},signature={old},signature={new}");
    let response = order_with_signature(&app, Some(KEY_A), Some(header), body.as_bytes()).await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn header_names_are_case_insensitive() {
    let app = spawn_app().await;
    let body = order_body("res-case", "case@example.com").to_string();
    let response = app
        .http
        .post(app.url(ORDER))
        .header("Provider-Key", KEY_A)
        .header("SIGNATURE", app.sign(SECRET_A, body.as_bytes()))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn missing_or_unknown_provider_keys_are_401() {
    let app = spawn_app().await;
    let body = order_body("res-1", "a@example.com").to_string();
    let header = app.sign(SECRET_A, body.as_bytes());
    expect_unauthorized(
        order_with_signature(&app, None, Some(header.clone()), body.as_bytes()).await,
        "missing",
    )
    .await;
    expect_unauthorized(
        order_with_signature(&app, Some("no-such-key"), Some(header.clone()), body.as_bytes()).await,
        "not known",
    )
    .await;
    expect_unauthorized(
        order_with_signature(&app, Some(""), Some(header), body.as_bytes()).await,
        "empty",
    )
    .await;
    let config = app.http.get(app.url("/recruitment/v1/config")).send().await.unwrap();
    expect_unauthorized(config, "provider-key").await;
    assert_eq!(app.assessment_count().await, 0);
}

#[tokio::test]
async fn another_organisations_key_with_this_integrators_secret_is_refused() {
    let app = spawn_app().await;
    // Organisation B belongs to integrator B: integrator A's secret does not sign for it.
    let response = app.get_signed("/recruitment/v1/config", KEY_B, SECRET_A).await;
    expect_unauthorized(response, "matches").await;
}

#[tokio::test]
async fn a_get_signs_the_empty_body() {
    let app = spawn_app().await;
    let now = app.clock.now().timestamp();
    let header = signature::header_value(SECRET_A.as_bytes(), now, b"");
    let response = app
        .http
        .get(app.url("/recruitment/v1/config"))
        .header("provider-key", KEY_A)
        .header("signature", header)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_integrator_that_does_not_require_signatures_still_cannot_send_a_bad_one() {
    let app = spawn_app().await;
    let body = order_body("res-sandbox", "s@example.com").to_string();
    let response = order_with_signature(&app, Some(KEY_C), None, body.as_bytes()).await;
    assert_eq!(response.status(), 201, "signing is off for the sandbox integrator");
    let bad = signature::header_value(b"wrong", app.clock.now().timestamp(), body.as_bytes());
    expect_unauthorized(
        order_with_signature(&app, Some(KEY_C), Some(bad), body.as_bytes()).await,
        "matches",
    )
    .await;
    let good = app.sign(SECRET_SANDBOX, body.as_bytes());
    assert_eq!(
        order_with_signature(&app, Some(KEY_C), Some(good), body.as_bytes())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_replayed_request_changes_nothing() {
    let app = spawn_app().await;
    let body = order_body("res-replay", "r@example.com").to_string();
    let header = app.sign(SECRET_A, body.as_bytes());
    let first = order_with_signature(&app, Some(KEY_A), Some(header.clone()), body.as_bytes()).await;
    assert_eq!(first.status(), 201);
    let id: Value = first.json().await.unwrap();
    // Within the window the replay is answered as the repeat it is; nothing is created.
    let replay = order_with_signature(&app, Some(KEY_A), Some(header.clone()), body.as_bytes()).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.json::<Value>().await.unwrap(), id);
    // After the window it is refused.
    app.clock.advance(chrono::Duration::seconds(301));
    expect_unauthorized(
        order_with_signature(&app, Some(KEY_A), Some(header), body.as_bytes()).await,
        "in the past",
    )
    .await;
    assert_eq!(app.assessment_count().await, 1);
}

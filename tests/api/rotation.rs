//! Rotating the keys integrators and Ashby hold, with an overlap during which both work.
use std::time::Duration;

use assessment_partner::auth::admin::Scope;
use assessment_partner::signature;
use reqwest::Method;
use serde_json::{Value, json};

use crate::delivery::result_input;
use crate::helpers::*;
use crate::receiver::Receiver;

const CONFIG: &str = "/recruitment/v1/config";

impl TestApp {
    /// `POST` a rotation with an admin token of `scope`; the answer's status and body.
    async fn rotate(&self, path: &str, scope: Scope, body: Option<Value>) -> (u16, Value) {
        let token = self.admin_token(&[scope]);
        let response = self.admin(Method::POST, path, &token, body).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn secret_rotations() -> String {
    format!("/admin/v1/integrators/{INTEGRATOR_A}/secret-rotations")
}

#[tokio::test]
async fn during_a_secret_overlap_both_secrets_sign_requests_and_after_it_only_the_new_one() {
    let app = spawn_app().await;
    let (status, rotated) = app
        .rotate(
            &secret_rotations(),
            Scope::IntegratorsWrite,
            Some(json!({"overlap": "1h"})),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(rotated["previousSecretExpiresAt"].clone()).unwrap();
    assert_eq!(expires, app.clock.now() + chrono::Duration::hours(1));

    for secret in [SECRET_A, new_secret.as_str()] {
        assert_eq!(app.get_signed(CONFIG, KEY_A, secret).await.status(), 200);
    }
    app.clock.advance(chrono::Duration::hours(1));
    expect_problem(app.get_signed(CONFIG, KEY_A, SECRET_A).await, 401).await;
    assert_eq!(app.get_signed(CONFIG, KEY_A, &new_secret).await.status(), 200);
}

#[tokio::test]
async fn rotating_during_an_overlap_ends_the_oldest_secret_and_0s_ends_the_previous_at_once() {
    let app = spawn_app().await;
    let (_, first) = app.rotate(&secret_rotations(), Scope::IntegratorsWrite, None).await;
    let first = first["secret"].as_str().unwrap().to_owned();
    let chosen = "a-secret-chosen-by-the-operator-0123";
    let (status, second) = app
        .rotate(
            &secret_rotations(),
            Scope::IntegratorsWrite,
            Some(json!({"secret": chosen})),
        )
        .await;
    assert_eq!((status, second["secret"].as_str()), (201, Some(chosen)));
    expect_problem(app.get_signed(CONFIG, KEY_A, SECRET_A).await, 401).await;
    for secret in [first.as_str(), chosen] {
        assert_eq!(app.get_signed(CONFIG, KEY_A, secret).await.status(), 200);
    }
    let (_, third) = app
        .rotate(
            &secret_rotations(),
            Scope::IntegratorsWrite,
            Some(json!({"overlap": "0s"})),
        )
        .await;
    expect_problem(app.get_signed(CONFIG, KEY_A, chosen).await, 401).await;
    let third = third["secret"].as_str().unwrap();
    assert_eq!(app.get_signed(CONFIG, KEY_A, third).await.status(), 200);
}

#[tokio::test]
async fn result_pushes_carry_one_signature_per_live_secret_newest_first() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let (_, rotated) = app
        .rotate(
            &secret_rotations(),
            Scope::IntegratorsWrite,
            Some(json!({"overlap": "1h"})),
        )
        .await;
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    let id = app.order_to(&receiver.url("/results"), "rot-1").await;
    assert_eq!(app.post_result(&id, &result_input()).await.status(), 200);
    let push = receiver.wait_for(1, WAIT).await.remove(0);
    let header = push.header("signature").unwrap();
    let parsed = signature::SignatureHeader::parse(header).unwrap();
    assert_eq!(parsed.signatures.len(), 2, "{header}");
    let at = chrono::DateTime::from_timestamp(parsed.timestamp, 0).unwrap();
    let tolerance = Duration::from_secs(300);
    // Newest first: the first entry alone verifies with the new secret.
    let first_only = format!("t={},signature={}", parsed.timestamp, hex::encode(parsed.signatures[0]));
    signature::verify(new_secret.as_bytes(), &first_only, &push.body, at, tolerance).unwrap();
    // A receiver that holds either secret verifies the push.
    for secret in [SECRET_A, new_secret.as_str()] {
        signature::verify(secret.as_bytes(), header, &push.body, at, tolerance).unwrap();
    }

    // Once the previous secret has ended, one signature (rotated back to the seeded secret,
    // which the test's orders are signed with).
    let (status, _) = app
        .rotate(
            &secret_rotations(),
            Scope::IntegratorsWrite,
            Some(json!({"overlap": "0s", "secret": SECRET_A})),
        )
        .await;
    assert_eq!(status, 201);
    let id = app.order_to(&receiver.url("/results"), "rot-2").await;
    assert_eq!(app.post_result(&id, &result_input()).await.status(), 200);
    let push = receiver.wait_for(2, WAIT).await.remove(1);
    let parsed = signature::SignatureHeader::parse(push.header("signature").unwrap()).unwrap();
    assert_eq!(parsed.signatures.len(), 1);
}

#[tokio::test]
async fn a_provider_key_rotation_keeps_the_old_key_for_the_overlap() {
    let app = spawn_app().await;
    let path = format!("/admin/v1/organizations/{ORG_A}/provider-key-rotations");
    let (status, rotated) = app.rotate(&path, Scope::OrganizationsWrite, None).await;
    assert_eq!(status, 201, "{rotated}");
    let new_key = rotated["providerKey"].as_str().unwrap().to_owned();
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(rotated["previousKeyExpiresAt"].clone()).unwrap();
    assert_eq!(
        expires,
        app.clock.now() + chrono::Duration::hours(24),
        "AP_KEY_ROTATION_OVERLAP"
    );
    for key in [KEY_A, new_key.as_str()] {
        assert_eq!(app.get_signed(CONFIG, key, SECRET_A).await.status(), 200);
    }
    // While it works, the old key is not free for another organisation.
    let token = app.admin_token(&[Scope::OrganizationsWrite]);
    let taken = json!({"name": "Org B", "integratorId": INTEGRATOR_B, "providerKey": KEY_A,
        "lensIds": [LENS_SHARED, LENS_B_ONLY]});
    let response = app
        .admin(
            Method::PUT,
            &format!("/admin/v1/organizations/{ORG_B}"),
            &token,
            Some(taken),
        )
        .await;
    expect_problem(response, 409).await;
    app.clock.advance(chrono::Duration::hours(24));
    expect_problem(app.get_signed(CONFIG, KEY_A, SECRET_A).await, 401).await;
    assert_eq!(app.get_signed(CONFIG, &new_key, SECRET_A).await.status(), 200);
}

#[tokio::test]
async fn rotations_refuse_bad_requests_and_change_nothing() {
    let app = spawn_app().await;
    let org_path = format!("/admin/v1/organizations/{ORG_A}/provider-key-rotations");
    for (body, field) in [
        (json!({"overlap": "31d"}), "overlap"),
        (json!({"overlap": "soon"}), "overlap"),
        (json!({"secret": "short"}), "secret"),
    ] {
        let (status, problem) = app.rotate(&org_path, Scope::OrganizationsWrite, Some(body)).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(fields(&problem), vec![field.to_owned()]);
    }
    // The body is an object or nothing.
    let token = app.admin_token(&[Scope::OrganizationsWrite]);
    let response = app
        .http
        .post(app.url(&org_path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("[null, null]")
        .send()
        .await
        .unwrap();
    expect_problem(response, 400).await;
    // Another organisation's key cannot be taken.
    let (status, _) = app
        .rotate(&org_path, Scope::OrganizationsWrite, Some(json!({"secret": KEY_B})))
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .rotate(
            &format!(
                "/admin/v1/organizations/{}/provider-key-rotations",
                uuid::Uuid::new_v4()
            ),
            Scope::OrganizationsWrite,
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.rotate(&org_path, Scope::OrganizationsRead, None).await;
    assert_eq!(status, 403);
    let (status, _) = app.rotate(&secret_rotations(), Scope::OrganizationsWrite, None).await;
    assert_eq!(status, 403, "a secret rotation needs integrators.write");
    // Nothing changed: the keys and the secret are the ones seeded, alone.
    assert_eq!(app.get_signed(CONFIG, KEY_A, SECRET_A).await.status(), 200);
    assert_eq!(app.get_signed(CONFIG, KEY_B, SECRET_B).await.status(), 200);
}

//! Result pushes authenticate as each integrator configured: Basic, or OAuth2 client
//! credentials with a cached token that is fetched again after a 401.
use std::time::Duration;

use assessment_partner::auth::admin::Scope;
use base64::Engine;
use serde_json::{Value, json};

use crate::delivery::result_input;
use crate::helpers::*;
use crate::receiver::Receiver;

const SECRET: &str = "callback-auth-integrator-secret";

/// Creates an integrator with this callback auth and an organisation for it; answers its provider key.
async fn tenant_with(app: &TestApp, callback_auth: Value) -> String {
    let token = app.admin_token(&[Scope::IntegratorsWrite, Scope::OrganizationsWrite]);
    let integrator = uuid::Uuid::new_v4();
    let response = app
        .http
        .put(app.url(&format!("/admin/v1/integrators/{integrator}")))
        .bearer_auth(&token)
        .json(&json!({"name": "Auth ATS", "secret": SECRET, "callbackAuth": callback_auth}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let key = "provider-key-of-the-auth-tenant";
    let response = app
        .http
        .put(app.url(&format!("/admin/v1/organizations/{}", uuid::Uuid::new_v4())))
        .bearer_auth(&token)
        .json(&json!({"name": "Auth Org", "integratorId": integrator, "providerKey": key, "lensIds": [LENS_SHARED]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    key.to_owned()
}

async fn complete_order(app: &TestApp, key: &str, url: &str, result_id: &str) {
    let mut body = order_body(result_id, &format!("{result_id}@example.com"));
    body["resultUpdateUrl"] = json!(url);
    let response = app
        .post_signed(
            "/recruitment/v1/assessment-link-order",
            key,
            SECRET,
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(response.status(), 201);
    let link: Value = response.json().await.unwrap();
    let token = link["assessmentPackageLink"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let id = app
        .links
        .verify(assessment_partner::links::LinkKind::Assessment, &token, app.clock.now())
        .unwrap();
    assert_eq!(app.post_result(&id.to_string(), &result_input()).await.status(), 200);
}

#[tokio::test]
async fn basic_auth_is_sent_as_configured() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let key = tenant_with(&app, json!({"type": "basic", "username": "ats", "password": "pa:ss"})).await;
    complete_order(&app, &key, &receiver.url("/basic"), "basic-1").await;
    let request = &receiver.wait_for(1, Duration::from_secs(20)).await[0];
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ats:pa:ss")
    );
    assert_eq!(request.header("authorization"), Some(expected.as_str()));
    assert_eq!(request.header("integrator-api-key"), None);
}

#[tokio::test]
async fn oauth2_tokens_are_cached_and_fetched_again_after_a_401() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let auth = json!({"type": "oauth2ClientCredentials", "tokenUrl": receiver.url("/token"),
        "clientId": "client-1", "clientSecret": "client-secret-1", "scope": "results:write"});
    let key = tenant_with(&app, auth).await;

    complete_order(&app, &key, &receiver.url("/oauth/1"), "oauth-1").await;
    let first = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(first[0].header("authorization"), Some("Bearer tok-1"));
    let token_request = &receiver.token_requests()[0];
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("client-1:client-secret-1")
    );
    assert_eq!(token_request.header("authorization"), Some(basic.as_str()));
    let form = String::from_utf8(token_request.body.clone()).unwrap();
    assert!(
        form.contains("grant_type=client_credentials") && form.contains("scope=results%3Awrite"),
        "{form}"
    );

    // A second push reuses the cached token.
    complete_order(&app, &key, &receiver.url("/oauth/2"), "oauth-2").await;
    let second = receiver.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(second[1].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(receiver.token_requests().len(), 1);

    // A 401 makes the next attempt fetch a new token.
    receiver.answer_next(&[401]);
    complete_order(&app, &key, &receiver.url("/oauth/3"), "oauth-3").await;
    let all = receiver.wait_for(4, Duration::from_secs(20)).await;
    assert_eq!(all[2].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(all[3].header("authorization"), Some("Bearer tok-2"));
    assert_eq!(receiver.token_requests().len(), 2);
}

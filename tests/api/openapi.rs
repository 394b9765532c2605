use serde_json::Value;

use crate::helpers::*;

#[test]
fn the_committed_openapi_document_is_current() {
    let committed: Value =
        serde_json::from_str(include_str!("../../openapi/openapi.json")).expect("openapi/openapi.json is JSON");
    let generated: Value = serde_json::from_str(&assessment_partner::openapi::document_json()).unwrap();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[tokio::test]
async fn the_server_serves_the_document_and_a_docs_page() {
    let app = spawn_app().await;
    let served: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));
    for path in [
        "/recruitment/v1/config",
        "/recruitment/v1/assessment-order",
        "/recruitment/v1/assessment-link-order",
        "/recruitment/v1/results/{resultId}",
    ] {
        assert!(served["paths"][path].is_object(), "{path} documented");
    }
    let schemes = &served["components"]["securitySchemes"];
    assert_eq!(schemes["provider_key"]["name"], "provider-key");
    assert_eq!(schemes["signature"]["name"], "Signature");
    assert_eq!(schemes["admin_bearer"]["scheme"], "bearer");
    let docs = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("/openapi.json"));
}

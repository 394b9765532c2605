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

/// Each operation lists the answers its surface gives whatever the handler: credentials, body,
/// query and id refusals (schemathesis, in `.ci/run`, checks the server keeps to them).
#[test]
fn every_operation_documents_its_surfaces_refusals() {
    let document: Value = serde_json::from_str(&assessment_partner::openapi::document_json()).unwrap();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let has = |code: &str| operation["responses"].get(code).is_some();
            let name = format!("{} {path}", method.to_uppercase());
            let with_body = operation.get("requestBody").is_some();
            if path.starts_with("/admin/") {
                assert!(has("401") && has("403"), "{name}");
                if with_body {
                    for code in ["400", "413", "415", "422"] {
                        assert!(has(code), "{name} {code}");
                    }
                }
                if path.contains('{') {
                    assert!(has("422"), "{name}: a malformed id is 422");
                }
            } else if path.starts_with("/ashby/") {
                assert!(has("401") && has("422"), "{name}");
                assert_eq!(
                    operation["responses"]["401"]["$ref"], "#/components/responses/AshbyUnauthorized",
                    "{name}: in Ashby's envelope"
                );
            } else if path.starts_with("/recruitment/") {
                assert!(has("401"), "{name}");
                if with_body {
                    for code in ["400", "413", "415", "422"] {
                        assert!(has(code), "{name} {code}");
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} operations");
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
    let page = docs.text().await.unwrap();
    assert!(page.contains("/openapi.json"));
    // Everything the page loads comes from this server.
    assert!(!page.contains("http://") && !page.contains("https://"), "{page}");
    assert!(page.contains(r#"<script src="/docs/redoc.standalone.js">"#), "{page}");
    let script = app.http.get(app.url("/docs/redoc.standalone.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        script.bytes().await.unwrap().len() > 500_000,
        "the Redoc bundle is served whole"
    );

    let home = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let home = home.text().await.unwrap();
    for link in [r#"href="/docs""#, r#"href="/openapi.json""#, r#"href="/health/ready""#] {
        assert!(home.contains(link), "{home}");
    }
}

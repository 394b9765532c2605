use crate::helpers::*;

#[tokio::test]
async fn live_and_ready() {
    let app = spawn_app().await;
    for path in ["/health/live", "/health/ready"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().contains_key("x-request-id"));
        assert_eq!(response.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    }
}

#[tokio::test]
async fn ready_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db.clone().close().await.unwrap();
    let response = app.http.get(app.url("/health/ready")).send().await.unwrap();
    expect_problem(response, 503).await;
}

#[tokio::test]
async fn an_incoming_request_id_is_kept_and_a_bad_one_replaced() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/health/live"))
        .header("x-request-id", "proxy-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "proxy-abc-123");
    let response = app
        .http
        .get(app.url("/health/live"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "bad id with spaces");
}

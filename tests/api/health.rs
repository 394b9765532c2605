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

#[tokio::test]
async fn start_up_refuses_a_lens_the_catalogue_cannot_serve_and_says_which() {
    use assessment_partner::entity::lens_competency;
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let app = spawn_app().await;
    // Written behind the admin API's back (which would refuse it).
    lens_competency::Entity::insert(lens_competency::ActiveModel {
        lens_id: Set(uuid::Uuid::parse_str(LENS_SHARED).unwrap()),
        key: Set("telepathy".into()),
        name: Set(None),
        weight: Set(1),
        position: Set(9),
    })
    .exec_without_returning(&app.db)
    .await
    .unwrap();
    let mut settings = assessment_partner::config::Settings::for_tests(&app.database_url);
    settings.master_key = secrecy::SecretBox::new(Box::new(app.master_key));
    let clock = std::sync::Arc::new(assessment_partner::clock::SystemClock);
    let error = match assessment_partner::startup::Application::build(settings, clock).await {
        Ok(_) => panic!("start-up accepted a lens with an unknown competency"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("General Performance") && error.contains("telepathy"),
        "{error}"
    );
}

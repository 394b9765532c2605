use assessment_partner::entity::assessment;
use assessment_partner::links::LinkKind;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn every_order_has_a_status_and_a_completed_one_the_pushed_body() {
    let app = spawn_app().await;
    // 404 only for a resultId never ordered.
    expect_problem(
        app.get_signed("/recruitment/v1/results/res-1", KEY_A, SECRET_A).await,
        404,
    )
    .await;
    let id: String = app
        .order(
            "/recruitment/v1/assessment-order",
            &order_body("res-1", "a@example.com"),
        )
        .await
        .json()
        .await
        .unwrap();
    let response = app.get_signed("/recruitment/v1/results/res-1", KEY_A, SECRET_A).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"resultId": "res-1", "status": "invited"}));

    // Record a result as the scoring step will.
    let row = app.assessment_row(&id).await;
    let completed_at = app.clock.now();
    let mut active = row.into_active_model();
    active.state = Set(assessment_partner::assessment::State::Completed);
    active.score = Set(Some(71));
    active.subscores = Set(Some(json!({ "driving-leadership": 73, "influencing-inspiring": 68 })));
    active.completed_at = Set(Some(completed_at));
    active.update(&app.db).await.unwrap();

    let response = app.get_signed("/recruitment/v1/results/res-1", KEY_A, SECRET_A).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resultId"], "res-1");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["score"], 71);
    assert_eq!(
        body["subscores"],
        json!({ "Driving Leadership": 73, "Influencing & Inspiring": 68 })
    );
    let report = body["assessmentReportUrl"].as_str().unwrap();
    let token = report
        .strip_prefix(&format!("{}/r/", app.address))
        .expect("report URL under /r/");
    assert_eq!(
        app.links
            .verify(LinkKind::Report, token, app.clock.now())
            .unwrap()
            .to_string(),
        id
    );
    assert!(
        body["recruitmentUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/recruitments/", app.address))
    );

    // Another organisation cannot read it, whatever it sends.
    expect_problem(
        app.get_signed("/recruitment/v1/results/res-1", KEY_B, SECRET_B).await,
        404,
    )
    .await;
}

#[tokio::test]
async fn results_need_a_valid_signature() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/recruitment/v1/results/res-1"))
        .header("provider-key", KEY_A)
        .send()
        .await
        .unwrap();
    expect_problem(response, 401).await;
}

/// Declined and expired orders: the pull endpoint says so, and an integrator with
/// `statusPushes` on is told at its `resultUpdateUrl` (one without it is not).
#[tokio::test]
async fn expired_orders_are_pulled_and_pushed_to_integrators_that_asked() {
    use std::time::Duration;

    use crate::receiver::Receiver;

    let receiver = Receiver::start().await;
    let app = spawn_app()
        .fast()
        .with(|s| {
            s.expiry_sweep_interval = Duration::from_millis(50);
        })
        .await;
    let token = app.admin_token(&[assessment_partner::auth::admin::Scope::IntegratorsWrite]);
    let response = app
        .http
        .put(app.url(&format!("/admin/v1/integrators/{INTEGRATOR_A}")))
        .bearer_auth(&token)
        .json(&json!({"name": "ATS A", "statusPushes": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["statusPushes"], true);

    let pushed = app.order_to(&receiver.url("/status/a"), "exp-a").await;
    let mut quiet = order_body("exp-b", "exp-b@example.com");
    quiet["resultUpdateUrl"] = json!(receiver.url("/status/b"));
    let response = app
        .post_signed(
            "/recruitment/v1/assessment-order",
            KEY_B,
            SECRET_B,
            quiet.to_string().as_bytes(),
        )
        .await;
    assert_eq!(response.status(), 201);
    // Both invitations run out.
    for row in assessment::Entity::find().all(&app.db).await.unwrap() {
        let mut active = row.into_active_model();
        active.expires_at = Set(app.clock.now() - chrono::Duration::seconds(1));
        active.update(&app.db).await.unwrap();
    }
    let arrived = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(arrived[0].path, "/status/a");
    assert_eq!(arrived[0].json(), json!({"resultId": "exp-a", "status": "expired"}));
    assert!(arrived[0].header("signature").is_some(), "signed like a result");

    for (key, secret, result_id) in [(KEY_A, SECRET_A, "exp-a"), (KEY_B, SECRET_B, "exp-b")] {
        let body = eventually(WAIT, async || {
            let body: Value = app
                .get_signed(&format!("/recruitment/v1/results/{result_id}"), key, secret)
                .await
                .json()
                .await
                .unwrap();
            match body["status"] == "expired" {
                true => Ok(body),
                false => Err(format!("{result_id} never expired: {body}")),
            }
        })
        .await;
        assert_eq!(body, json!({"resultId": result_id, "status": "expired"}));
    }
    // B's integrator did not ask: no push was even queued for it.
    let rows = app.deliveries("?kind=result").await;
    let items = rows["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{rows}");
    assert_eq!(items[0]["assessmentId"].as_str(), Some(pushed.as_str()));
}

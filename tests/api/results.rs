use assessment_partner::entity::assessment;
use assessment_partner::links::LinkKind;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn no_result_is_404_until_there_is_one_then_the_pushed_body() {
    let app = spawn_app().await;
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
    expect_problem(
        app.get_signed("/recruitment/v1/results/res-1", KEY_A, SECRET_A).await,
        404,
    )
    .await;

    // Record a result as the scoring step will.
    let row = assessment::Entity::find_by_id(uuid::Uuid::parse_str(&id).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let completed_at = app.clock.now();
    let mut active = row.into_active_model();
    active.state = Set("completed".into());
    active.score = Set(Some(71));
    active.subscores = Set(Some(json!({ "driving-leadership": 73, "influencing-inspiring": 68 })));
    active.completed_at = Set(Some(completed_at));
    active.update(&app.db).await.unwrap();

    let response = app.get_signed("/recruitment/v1/results/res-1", KEY_A, SECRET_A).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resultId"], "res-1");
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

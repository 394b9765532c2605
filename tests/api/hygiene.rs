//! Refusals that change nothing: NUL characters, trailing data after a JSON value, callback
//! targets outside the public internet set by an admin, admin tokens from the future or for too
//! long, date filters no database compares alike, an empty locale list.
use assessment_partner::auth::admin::Scope;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// An instance as production runs it: callbacks to public addresses only; no worker.
async fn public_only_app() -> TestApp {
    spawn_app()
        .without_worker()
        .with(|s| s.delivery.allow_private_networks = false)
        .await
}

#[tokio::test]
async fn a_nul_character_is_refused_naming_the_field_on_every_surface() {
    let app = spawn_app().without_worker().await;
    for (pointer, field) in [
        ("/recruitment/title", "recruitment.title"),
        ("/recruitment/description", "recruitment.description"),
        ("/recruitment/id", "recruitment.id"),
        ("/resultId", "resultId"),
        ("/candidateDetails/email", "candidateDetails.email"),
    ] {
        let mut body = order_body("nul-1", "nul@example.com");
        *body.pointer_mut(pointer).expect("the field exists") = json!("a\u{0}b");
        let problem = expect_problem(app.order("/recruitment/v1/assessment-order", &body).await, 422).await;
        assert_eq!(fields(&problem), vec![field.to_owned()], "{problem}");
    }
    assert_eq!(app.assessment_count().await, 0);

    // A result id in the path that no order could carry is unknown.
    expect_problem(
        app.get_signed("/recruitment/v1/results/a%00b", KEY_A, SECRET_A).await,
        404,
    )
    .await;

    // The admin API: a lens name.
    let token = app.admin_token(&[Scope::LensesWrite]);
    let lens = "3a000000-0000-4000-8000-00000000000a";
    let body = json!({"name": "Bad\u{0}name", "competencies": [{"key": "driving-leadership", "weight": 1}]});
    let problem = expect_problem(
        app.admin(Method::PUT, &format!("/admin/v1/lenses/{lens}"), &token, Some(body))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), vec!["name".to_owned()]);
    expect_problem(
        app.admin(Method::GET, &format!("/admin/v1/lenses/{lens}"), &token, None)
            .await,
        404,
    )
    .await;

    // Ashby: a candidate name; Ashby's own 422 shape naming the field, and no assessment.
    let start = json!({
        "assessment_type_id": LENS_SHARED,
        "candidate": {"ashby_id": "c-1", "first_name": "Ada\u{0}", "email": "ada@example.com"},
        "application": {"ashby_id": "app-1"},
        "job": {"ashby_id": "job-1", "name": "Engineer"}
    });
    let response = app
        .http
        .post(app.url("/ashby/assessment.start"))
        .basic_auth(ASHBY_KEY_A, Some(""))
        .json(&start)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let message = response.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("candidate.first_name"), "{message}");
    assert_eq!(app.assessment_count().await, 0);
}

#[tokio::test]
async fn trailing_data_after_the_json_value_is_400_on_every_json_surface() {
    let app = spawn_app().without_worker().await;
    let order = order_body("trailing", "t@example.com").to_string();
    for tail in ["garbage", "{}", "[1]", " x"] {
        let body = format!("{order}{tail}");
        let response = app
            .post_signed("/recruitment/v1/assessment-order", KEY_A, SECRET_A, body.as_bytes())
            .await;
        let problem = expect_problem(response, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("one JSON value"),
            "{problem}"
        );
    }
    assert_eq!(app.assessment_count().await, 0);

    let token = app.admin_token(&[Scope::OrganizationsWrite]);
    let response = app
        .http
        .put(app.url("/admin/v1/locales"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"["en-US"]["sv-SE"]"#)
        .send()
        .await
        .unwrap();
    expect_problem(response, 400).await;

    let response = app
        .http
        .post(app.url("/ashby/assessment.list"))
        .basic_auth(ASHBY_KEY_A, Some(""))
        .header("content-type", "application/json")
        .body("{}{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");

    // A body that is not an object says so in words, with no type name of ours.
    let response = app
        .post_signed("/recruitment/v1/assessment-order", KEY_A, SECRET_A, b"[]")
        .await;
    let problem = expect_problem(response, 400).await;
    assert_eq!(problem["detail"], "The request body must be a JSON object.");
    let mut body = order_body("shape", "s@example.com");
    body["candidateDetails"] = json!([]);
    let problem = expect_problem(app.order("/recruitment/v1/assessment-order", &body).await, 422).await;
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("expected a JSON object") && !message.contains("struct"),
        "{message}"
    );

    // Ashby's list calls take `{}`, an empty body or `null`, and nothing else.
    for (body, status) in [
        ("", 200),
        ("null", 200),
        ("{}", 200),
        ("[]", 400),
        ("\"x\"", 400),
        ("1", 400),
    ] {
        for call in ["assessment.list", "assessment.customField.list"] {
            let response = app
                .http
                .post(app.url(&format!("/ashby/{call}")))
                .basic_auth(ASHBY_KEY_A, Some(""))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{call} with {body:?}");
            let answer: Value = response.json().await.unwrap();
            assert_eq!(answer["success"], status == 200, "{answer}");
        }
    }
}

#[tokio::test]
async fn a_url_with_spaces_or_control_characters_is_refused_not_cleaned() {
    let app = spawn_app().without_worker().await;
    for url in [
        " https://ats.example.com/r",
        "https://ats.example.com/r\n",
        "https://ats.example.com/a b",
    ] {
        let mut body = order_body("url-space", "u@example.com");
        body["resultUpdateUrl"] = json!(url);
        let problem = expect_problem(app.order("/recruitment/v1/assessment-order", &body).await, 422).await;
        assert_eq!(problem["errors"][0]["field"], "resultUpdateUrl", "{problem}");
    }
    assert_eq!(app.assessment_count().await, 0);
}

#[tokio::test]
async fn admins_cannot_point_our_calls_at_private_networks_in_production() {
    let app = public_only_app().await;
    let token = app.admin_token(&[
        Scope::OrganizationsWrite,
        Scope::IntegratorsWrite,
        Scope::OrganizationsRead,
    ]);
    for base in [
        "http://10.0.0.1",
        "http://[64:ff9b::a00:1]",
        "http://198.18.0.1",
        "http://localhost:9",
    ] {
        let body = json!({"name": "Org A", "integratorId": INTEGRATOR_A, "lensIds": [LENS_SHARED],
            "ashby": {"partnerApiKey": ASHBY_KEY_A, "baseUrl": base}});
        let problem = expect_problem(
            app.admin(
                Method::PUT,
                &format!("/admin/v1/organizations/{ORG_A}"),
                &token,
                Some(body),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(fields(&problem), vec!["ashby.baseUrl".to_owned()], "{base}");
    }
    let view: Value = app
        .admin(Method::GET, &format!("/admin/v1/organizations/{ORG_A}"), &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(view["ashby"]["baseUrl"].is_null(), "unchanged: {view}");

    let body = json!({"name": "ATS B", "callbackAuth": {"type": "oauth2ClientCredentials",
        "tokenUrl": "http://[::ffff:127.0.0.1]/token", "clientId": "c", "clientSecret": "s"}});
    let problem = expect_problem(
        app.admin(
            Method::PUT,
            &format!("/admin/v1/integrators/{INTEGRATOR_B}"),
            &token,
            Some(body),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), vec!["callbackAuth.tokenUrl".to_owned()]);
    // A public URL is fine (nothing is sent by setting it: no worker runs).
    let body = json!({"name": "Org A", "integratorId": INTEGRATOR_A, "lensIds": [LENS_SHARED],
        "ashby": {"partnerApiKey": ASHBY_KEY_A, "baseUrl": "https://api.ashbyhq.com"}});
    let response = app
        .admin(
            Method::PUT,
            &format!("/admin/v1/organizations/{ORG_A}"),
            &token,
            Some(body),
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn admin_tokens_from_the_future_or_for_too_long_are_refused() {
    let app = spawn_app().await;
    let now = app.clock.now();
    let early = app.admin_tokens.mint_not_before(
        "t",
        &[Scope::LensesRead],
        now,
        Some(now + chrono::Duration::minutes(10)),
        chrono::Duration::hours(1),
    );
    let problem = expect_problem(app.admin(Method::GET, "/admin/v1/lenses", &early, None).await, 401).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("not valid yet"),
        "{problem}"
    );
    let long = app
        .admin_tokens
        .mint("t", &[Scope::LensesRead], now, chrono::Duration::days(91));
    let problem = expect_problem(app.admin(Method::GET, "/admin/v1/lenses", &long, None).await, 401).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("too far ahead"),
        "{problem}"
    );
    let started = app.admin_tokens.mint_not_before(
        "t",
        &[Scope::LensesRead],
        now,
        Some(now - chrono::Duration::minutes(1)),
        chrono::Duration::days(90),
    );
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/lenses", &started, None)
            .await
            .status(),
        200
    );
    assert!(
        app.admin_tokens
            .mint_checked("t", &[Scope::LensesRead], now, chrono::Duration::days(91))
            .is_err()
    );
}

#[tokio::test]
async fn admin_filters_and_locales_refuse_what_the_databases_would_treat_apart() {
    let app = spawn_app().without_worker().await;
    let token = app.admin_token(&[Scope::AssessmentsRead, Scope::OrganizationsWrite]);
    for query in [
        "createdFrom=%2B10000-01-01T00:00:00Z",
        "createdTo=%2B10000-01-01T00:00:00Z",
    ] {
        let response = app
            .admin(Method::GET, &format!("/admin/v1/assessments?{query}"), &token, None)
            .await;
        let problem = expect_problem(response, 422).await;
        assert_eq!(fields(&problem).len(), 1, "{problem}");
    }
    let problem = expect_problem(
        app.admin(Method::PUT, "/admin/v1/locales", &token, Some(json!([])))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), vec!["locales".to_owned()]);
    let locales: Value = app
        .admin(Method::GET, "/admin/v1/locales", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(locales.as_array().map(Vec::len), Some(4), "unchanged: {locales}");
}

#[tokio::test]
async fn a_wrong_method_on_a_documented_path_is_405_with_allow_in_the_surface_format() {
    let app = spawn_app().without_worker().await;
    for (method, path, allow) in [
        (Method::DELETE, "/recruitment/v1/config", "GET"),
        (Method::TRACE, "/recruitment/v1/config", "GET"),
        (Method::POST, "/recruitment/v1/results/r-1", "GET"),
        (Method::GET, "/recruitment/v1/assessment-order", "POST"),
        (
            Method::PATCH,
            "/admin/v1/lenses/7922dd91-1b44-43e4-a740-7c4d9c2fba41",
            "GET, PUT",
        ),
        (Method::POST, "/health/live", "GET"),
    ] {
        let response = app.http.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        expect_problem(response, 405).await;
    }
    let response = app.http.get(app.url("/ashby/assessment.list")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["errorInfo"]["code"], "method_not_allowed");
    expect_problem(app.http.get(app.url("/no/such/path")).send().await.unwrap(), 404).await;
}

use assessment_partner::auth::admin::{AdminTokens, Scope};
use serde_json::{Value, json};

use crate::helpers::*;

impl TestApp {
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }
}

#[tokio::test]
async fn the_admin_api_needs_a_valid_unexpired_token_with_the_scope() {
    let app = spawn_app().await;
    expect_problem(app.http.get(app.url("/admin/v1/lenses")).send().await.unwrap(), 401).await;
    expect_problem(
        app.admin(reqwest::Method::GET, "/admin/v1/lenses", "not-a-jwt", None)
            .await,
        401,
    )
    .await;
    let foreign = AdminTokens::new(&secrecy::SecretString::from(
        "some-other-secret-of-enough-length".to_owned(),
    ))
    .mint("x", &[Scope::LensesRead], app.clock.now(), chrono::Duration::hours(1));
    expect_problem(
        app.admin(reqwest::Method::GET, "/admin/v1/lenses", &foreign, None)
            .await,
        401,
    )
    .await;
    let expiring = app.admin_token(&[Scope::LensesRead]);
    assert_eq!(
        app.admin(reqwest::Method::GET, "/admin/v1/lenses", &expiring, None)
            .await
            .status(),
        200
    );
    app.clock.advance(chrono::Duration::hours(1));
    let problem = expect_problem(
        app.admin(reqwest::Method::GET, "/admin/v1/lenses", &expiring, None)
            .await,
        401,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("expired"));
    let wrong_scope = app.admin_token(&[Scope::AssessmentsRead]);
    expect_problem(
        app.admin(reqwest::Method::GET, "/admin/v1/lenses", &wrong_scope, None)
            .await,
        403,
    )
    .await;
    let read_only = app.admin_token(&[Scope::LensesRead]);
    let body = json!({"name": "X", "competencies": [{"key": "resilience", "weight": 1}]});
    expect_problem(
        app.admin(
            reqwest::Method::PUT,
            &format!("/admin/v1/lenses/{LENS_SHARED}"),
            &read_only,
            Some(body),
        )
        .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn lenses_are_created_then_replaced_by_put() {
    let app = spawn_app().await;
    let token = app.admin_token(&[Scope::LensesWrite]);
    let id = uuid::Uuid::new_v4();
    let path = format!("/admin/v1/lenses/{id}");
    let body = json!({"name": "Operative Leadership", "description": "d",
        "competencies": [{"key": "driving-leadership", "weight": 3}, {"key": "planning-organising", "weight": 1, "name": "Planning and organising"}]});
    let created = app.admin(reqwest::Method::PUT, &path, &token, Some(body.clone())).await;
    assert_eq!(created.status(), 201);
    let view: Value = created.json().await.unwrap();
    assert_eq!(
        view["competencies"][0],
        json!({"key": "driving-leadership", "name": "Driving Leadership", "weight": 3})
    );
    assert_eq!(
        view["competencies"][1]["name"], "Planning and organising",
        "the lens's own name wins"
    );
    let mut changed = body.clone();
    changed["name"] = json!("Operative Leadership v2");
    changed["competencies"] = json!([{"key": "planning-organising", "weight": 1}]);
    let updated = app.admin(reqwest::Method::PUT, &path, &token, Some(changed)).await;
    assert_eq!(updated.status(), 200);
    let view: Value = app
        .admin(reqwest::Method::GET, &path, &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["name"], "Operative Leadership v2");
    assert_eq!(view["competencies"].as_array().unwrap().len(), 1);
    expect_problem(
        app.admin(
            reqwest::Method::GET,
            &format!("/admin/v1/lenses/{}", uuid::Uuid::new_v4()),
            &token,
            None,
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn invalid_admin_bodies_are_422_and_change_nothing() {
    let app = spawn_app().await;
    let token = app.admin_token(&[Scope::LensesWrite, Scope::IntegratorsWrite, Scope::OrganizationsWrite]);
    let id = uuid::Uuid::new_v4();
    let cases = vec![
        (
            format!("/admin/v1/lenses/{id}"),
            json!({"name": "", "competencies": []}),
            vec!["competencies", "name"],
        ),
        (
            format!("/admin/v1/lenses/{id}"),
            json!({"name": "L", "competencies": [{"key": "Bad Key", "weight": 0}]}),
            vec!["competencies[0].key", "competencies[0].weight"],
        ),
        (
            format!("/admin/v1/lenses/{id}"),
            json!({"id": uuid::Uuid::new_v4(), "name": "L", "competencies": [{"key": "resilience", "weight": 1}]}),
            vec!["id"],
        ),
        (
            format!("/admin/v1/lenses/{id}"),
            json!({"name": "L", "competencies": [{"key": "telepathy", "weight": 1}]}),
            vec!["competencies[0].key"],
        ),
        (
            format!("/admin/v1/integrators/{id}"),
            json!({"name": "No secret"}),
            vec!["secret"],
        ),
        (
            format!("/admin/v1/integrators/{id}"),
            json!({"name": "I", "secret": "short"}),
            vec!["secret"],
        ),
        (
            format!("/admin/v1/integrators/{id}"),
            json!({"name": "I", "secret": "long-enough-secret-123", "callbackAuth": {"type": "oauth2ClientCredentials", "tokenUrl": "nope", "clientId": "c", "clientSecret": "s"}}),
            vec!["callbackAuth.tokenUrl"],
        ),
        (
            format!("/admin/v1/organizations/{id}"),
            json!({"name": "O", "integratorId": uuid::Uuid::new_v4(), "lensIds": [uuid::Uuid::new_v4()]}),
            vec!["integratorId", "lensIds[0]"],
        ),
    ];
    for (path, body, expected) in cases {
        let problem = expect_problem(
            app.admin(reqwest::Method::PUT, &path, &token, Some(body.clone())).await,
            422,
        )
        .await;
        let mut got = fields(&problem);
        got.sort();
        assert_eq!(got, expected, "{path} {body}");
    }
    let bad_type = app
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/v1/integrators/{id}"),
            &token,
            Some(json!({"name": "I", "secret": "long-enough-secret-123", "callbackAuth": {"type": "carrier-pigeon"}})),
        )
        .await;
    expect_problem(bad_type, 422).await;
    let read = app.admin_token(&[Scope::LensesRead, Scope::IntegratorsRead, Scope::OrganizationsRead]);
    let lenses: Value = app
        .admin(reqwest::Method::GET, "/admin/v1/lenses", &read, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lenses.as_array().unwrap().len(), 2, "nothing was added");
    let integrators: Value = app
        .admin(reqwest::Method::GET, "/admin/v1/integrators", &read, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(integrators.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn secrets_are_write_only_and_generated_keys_are_shown_once_and_work() {
    let app = spawn_app().await;
    let token = app.admin_token(&[Scope::IntegratorsWrite, Scope::OrganizationsWrite]);
    let integrator = uuid::Uuid::new_v4();
    let secret = "admin-created-integrator-secret";
    let body = json!({"name": "New ATS", "secret": secret,
        "callbackAuth": {"type": "basic", "username": "ats-user", "password": "very-secret-password"}});
    let response = app
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/v1/integrators/{integrator}"),
            &token,
            Some(body),
        )
        .await;
    assert_eq!(response.status(), 201);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains(secret) && !text.contains("very-secret-password"),
        "{text}"
    );
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["callbackAuth"], json!({"type": "basic", "username": "ats-user"}));
    assert_eq!(view["requireSignature"], true);

    let org = uuid::Uuid::new_v4();
    let body = json!({"name": "New Org", "integratorId": integrator, "lensIds": [LENS_SHARED], "ashby": {"apiKey": "customer-ashby-key"}});
    let response = app
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/v1/organizations/{org}"),
            &token,
            Some(body.clone()),
        )
        .await;
    assert_eq!(response.status(), 201);
    let view: Value = response.json().await.unwrap();
    let provider_key = view["generatedProviderKey"]
        .as_str()
        .expect("a provider key was generated")
        .to_owned();
    assert!(view["generatedPartnerApiKey"].is_string());
    assert_eq!(
        view["ashby"],
        json!({"hasPartnerApiKey": true, "hasApiKey": true, "baseUrl": null, "customFields": [],
               "previousPartnerApiKeyExpiresAt": null})
    );

    // The generated key works on the Recruitment API with the integrator's secret.
    let config = app.get_signed("/recruitment/v1/config", &provider_key, secret).await;
    assert_eq!(config.status(), 200);

    // Updating without keys keeps them, and nothing is generated again.
    let response = app
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/v1/organizations/{org}"),
            &token,
            Some(body),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("generated") && !text.contains("customer-ashby-key"),
        "{text}"
    );
    assert_eq!(
        app.get_signed("/recruitment/v1/config", &provider_key, secret)
            .await
            .status(),
        200
    );

    // Another organisation's key cannot be taken over.
    let clash = json!({"name": "Thief", "integratorId": integrator, "providerKey": KEY_A});
    expect_problem(
        app.admin(
            reqwest::Method::PUT,
            &format!("/admin/v1/organizations/{}", uuid::Uuid::new_v4()),
            &token,
            Some(clash),
        )
        .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn locales_can_be_replaced() {
    let app = spawn_app().await;
    let token = app.admin_token(&[Scope::OrganizationsWrite]);
    let response = app
        .admin(
            reqwest::Method::PUT,
            "/admin/v1/locales",
            &token,
            Some(json!(["en-US", "sv-SE"])),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!(["en-US", "sv-SE"]));
    let problem = expect_problem(
        app.admin(
            reqwest::Method::PUT,
            "/admin/v1/locales",
            &token,
            Some(json!(["english"])),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), vec!["locales[0]".to_owned()]);
    // A locale the competency catalogue has no statements in cannot be offered.
    let problem = expect_problem(
        app.admin(
            reqwest::Method::PUT,
            "/admin/v1/locales",
            &token,
            Some(json!(["en-US", "fi-FI"])),
        )
        .await,
        422,
    )
    .await;
    assert!(
        problem["errors"][0]["message"].as_str().unwrap().contains("fi-FI"),
        "{problem}"
    );
    let config: Value = app
        .get_signed("/recruitment/v1/config", KEY_A, SECRET_A)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config["availableLocales"], json!(["en-US", "sv-SE"]));
}

#[tokio::test]
async fn assessments_are_listed_with_filters_and_a_cursor() {
    let app = spawn_app().await;
    for i in 0..5 {
        let status = app
            .order(
                "/recruitment/v1/assessment-order",
                &order_body(&format!("res-{i}"), &format!("c{i}@example.com")),
            )
            .await
            .status();
        assert_eq!(status, 201);
    }
    let body = order_body("res-b", "b@example.com").to_string();
    assert_eq!(
        app.post_signed("/recruitment/v1/assessment-order", KEY_B, SECRET_B, body.as_bytes())
            .await
            .status(),
        201
    );

    let token = app.admin_token(&[Scope::AssessmentsRead]);
    let mut seen = Vec::new();
    let mut path = format!("/admin/v1/assessments?organizationId={ORG_A}&limit=2");
    let mut pages = 0;
    loop {
        let page: Value = app
            .admin(reqwest::Method::GET, &path, &token, None)
            .await
            .json()
            .await
            .unwrap();
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["organizationId"], ORG_A);
            assert_eq!(item["state"], "invited");
            seen.push(item["resultId"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/admin/v1/assessments?organizationId={ORG_A}&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, vec!["res-0", "res-1", "res-2", "res-3", "res-4"]);

    let all: Value = app
        .admin(reqwest::Method::GET, "/admin/v1/assessments", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 6);
    assert_eq!(all["items"][0]["candidateEmail"], "c0@example.com");
    let none: Value = app
        .admin(
            reqwest::Method::GET,
            "/admin/v1/assessments?state=completed",
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let future = (app.clock.now() + chrono::Duration::hours(1))
        .to_rfc3339()
        .replace('+', "%2B");
    let later: Value = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/v1/assessments?createdFrom={future}"),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(later["items"].as_array().unwrap().len(), 0);
    let earlier: Value = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/v1/assessments?createdTo={future}"),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(earlier["items"].as_array().unwrap().len(), 6);

    for bad in [
        "state=done",
        "cursor=zzz",
        "limit=0",
        "limit=500",
        "createdFrom=yesterday",
    ] {
        expect_problem(
            app.admin(
                reqwest::Method::GET,
                &format!("/admin/v1/assessments?{bad}"),
                &token,
                None,
            )
            .await,
            422,
        )
        .await;
    }
}

#[tokio::test]
async fn seeding_twice_changes_nothing() {
    use assessment_partner::admin::seed;
    use assessment_partner::crypto::Vault;
    use assessment_partner::tenancy::store;
    let app = spawn_app().await;
    let token = app.admin_token(&[Scope::LensesRead, Scope::OrganizationsRead]);
    let before: Value = app
        .admin(reqwest::Method::GET, "/admin/v1/organizations", &token, None)
        .await
        .json()
        .await
        .unwrap();
    // The example seed, applied twice.
    let seed_file = seed::parse(assessment_partner::cli::EXAMPLE_SEED).unwrap();
    let vault = Vault::new(&secrecy::SecretBox::new(Box::new([9u8; 32])));
    let mut reports = Vec::new();
    for _ in 0..2 {
        let report = seed::apply(
            &app.db,
            &vault,
            &seed_file,
            app.clock.now(),
            store::Rules::development(),
        )
        .await
        .unwrap();
        reports.push(report);
    }
    let (first, second) = (&reports[0], &reports[1]);
    assert_eq!(first.lenses.len(), 3);
    assert!(second.organizations.iter().all(|o| o.generated_provider_key.is_none()));
    let after: Value = app
        .admin(reqwest::Method::GET, "/admin/v1/organizations", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after.as_array().unwrap().len(), before.as_array().unwrap().len() + 1);
    let lenses: Value = app
        .admin(reqwest::Method::GET, "/admin/v1/lenses", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lenses.as_array().unwrap().len(), 5);
}

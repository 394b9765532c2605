//! Rate limits: per organisation on the Recruitment API, per partner key on the Ashby endpoints,
//! per address for failed authentication; shared by instances on one PostgreSQL.
use assessment_partner::auth::admin::Scope;
use assessment_partner::http::client::TrustedProxies;
use assessment_partner::ratelimit::{LimitSettings, Rate};
use serde_json::{Value, json};

use crate::helpers::*;

/// The default rate in these tests: bursts of 3, one more a minute (nothing refills while a test
/// runs, so the counts are exact).
fn tight() -> LimitSettings {
    LimitSettings {
        default: Rate::per_minute(1, 3),
        ..generous_limits()
    }
}

fn field(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is missing"))
        .to_str()
        .unwrap()
        .to_owned()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    field(response, "retry-after").parse().expect("whole seconds")
}

async fn config(app: &TestApp, key: &str, secret: &str) -> reqwest::Response {
    app.get_signed("/recruitment/v1/config", key, secret).await
}

#[tokio::test]
async fn an_organisation_over_its_burst_is_refused_and_others_are_not() {
    let app = spawn_app_with(Options::default(), |s| s.rate_limits = tight()).await;
    for left in [2, 1, 0] {
        let ok = config(&app, KEY_A, SECRET_A).await;
        assert_eq!(ok.status(), 200);
        assert_eq!(field(&ok, "ratelimit-policy"), "\"organization\";q=3;w=180");
        assert!(field(&ok, "ratelimit").starts_with(&format!("\"organization\";r={left};t=")));
    }
    // An order over the limit is refused before anything is done.
    let before = app.assessment_count().await;
    let refused = app
        .order(
            "/recruitment/v1/assessment-order",
            &order_body("r-over", "over@example.com"),
        )
        .await;
    assert_eq!(refused.status(), 429);
    assert!((1..=60).contains(&retry_after(&refused)), "a minute's wait at most");
    assert_eq!(field(&refused, "ratelimit-policy"), "\"organization\";q=3;w=180");
    assert!(field(&refused, "ratelimit").starts_with("\"organization\";r=0;t="));
    let problem = expect_problem(refused, 429).await;
    assert!(
        problem["type"].as_str().unwrap().ends_with("/rate-limited"),
        "{problem}"
    );
    assert_eq!(app.assessment_count().await, before, "nothing was ordered");

    // Organisation B has its own bucket.
    let other = config(&app, KEY_B, SECRET_B).await;
    assert_eq!(other.status(), 200);
    assert!(field(&other, "ratelimit").starts_with("\"organization\";r=2;"));
}

#[tokio::test]
async fn an_integrators_own_rate_replaces_the_default_until_set_back() {
    let app = spawn_app_with(Options::default(), |s| s.rate_limits = tight()).await;
    let token = app.admin_token(&[Scope::IntegratorsRead, Scope::IntegratorsWrite]);
    let put = |limit: Value| {
        let token = token.clone();
        let app = &app;
        async move {
            app.http
                .put(app.url(&format!("/admin/v1/integrators/{INTEGRATOR_A}")))
                .bearer_auth(token)
                .json(&json!({ "name": "ATS A", "rateLimit": limit }))
                .send()
                .await
                .unwrap()
        }
    };
    let invalid = put(json!({ "perSecond": 0, "burst": 5 })).await;
    let problem = expect_problem(invalid, 422).await;
    assert_eq!(fields(&problem), ["rateLimit"]);

    let updated = put(json!({ "perSecond": 1, "burst": 5 })).await;
    assert_eq!(updated.status(), 200);
    let view: Value = updated.json().await.unwrap();
    assert_eq!(view["rateLimit"], json!({ "perSecond": 1, "burst": 5 }));
    let first = config(&app, KEY_A, SECRET_A).await;
    assert_eq!(field(&first, "ratelimit-policy"), "\"organization\";q=5;w=5");

    // Left out, it stays; null sets the server's back.
    let renamed = app
        .http
        .put(app.url(&format!("/admin/v1/integrators/{INTEGRATOR_A}")))
        .bearer_auth(&token)
        .json(&json!({ "name": "ATS A renamed" }))
        .send()
        .await
        .unwrap();
    let view: Value = renamed.json().await.unwrap();
    assert_eq!(view["rateLimit"], json!({ "perSecond": 1, "burst": 5 }));
    let reset: Value = put(Value::Null).await.json().await.unwrap();
    assert_eq!(reset["rateLimit"], Value::Null);
    let again = config(&app, KEY_A, SECRET_A).await;
    assert_eq!(field(&again, "ratelimit-policy"), "\"organization\";q=3;w=180");
}

async fn ashby_list(app: &TestApp, key: &str) -> reqwest::Response {
    app.http
        .post(app.url("/ashby/assessment.list"))
        .basic_auth(key, Some(""))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ashby_calls_are_limited_per_partner_key_in_ashbys_envelope() {
    let app = spawn_app_with(Options::default(), |s| s.rate_limits = tight()).await;
    for _ in 0..3 {
        let ok = ashby_list(&app, ASHBY_KEY_A).await;
        assert_eq!(ok.status(), 200);
        assert_eq!(field(&ok, "ratelimit-policy"), "\"partner-key\";q=3;w=180");
    }
    let refused = ashby_list(&app, ASHBY_KEY_A).await;
    assert_eq!(refused.status(), 429);
    assert!(retry_after(&refused) >= 1);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["errorInfo"]["code"], "rate_limited");
    // The Recruitment API bucket of the same organisation is another one.
    assert_eq!(config(&app, KEY_A, SECRET_A).await.status(), 200);
    assert_eq!(ashby_list(&app, ASHBY_KEY_B).await.status(), 200);
}

/// Failed authentication: bursts of 3 per address, one more a minute.
fn tight_failed_auth() -> LimitSettings {
    LimitSettings {
        failed_auth: Rate::per_minute(1, 3),
        ..generous_limits()
    }
}

/// A Recruitment API call with an unknown key, from the client `forwarded_for` names.
async fn bad_call(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .get(app.url("/recruitment/v1/config"))
        .header("provider-key", "not-a-key");
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn failed_authentication_is_limited_per_address_and_a_good_key_is_never_refused_by_it() {
    let app = spawn_app_with(Options::default(), |s| s.rate_limits = tight_failed_auth()).await;
    for left in [2, 1, 0] {
        let wrong = config(&app, "not-a-key", SECRET_A).await;
        assert_eq!(wrong.status(), 401);
        assert!(field(&wrong, "ratelimit").starts_with(&format!("\"failed-auth\";r={left};")));
    }
    for _ in 0..9 {
        let refused = config(&app, "not-a-key", SECRET_A).await;
        assert_eq!(refused.status(), 429);
        assert!((1..=60).contains(&retry_after(&refused)));
        let problem = expect_problem(refused, 429).await;
        assert!(problem["type"].as_str().unwrap().ends_with("/rate-limited"));
        assert!(problem["detail"].as_str().unwrap().contains("failed to authenticate"));
    }
    // A correctly signed request from the same address is served, with its organisation's fields.
    let good = config(&app, KEY_A, SECRET_A).await;
    assert_eq!(good.status(), 200);
    assert!(field(&good, "ratelimit").starts_with("\"organization\";"));
    // So is a good partner key on the Ashby endpoints.
    assert_eq!(ashby_list(&app, ASHBY_KEY_A).await.status(), 200);
    // A wrong signature with a known key is a failure like any other.
    let forged = config(&app, KEY_A, "not-the-secret").await;
    assert_eq!(forged.status(), 429);
    assert_eq!(bad_call(&app, None).await.status(), 429, "the address still waits");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_limited_on_its_own() {
    let app = spawn_app_with(Options::default(), |s| {
        s.rate_limits = tight_failed_auth();
        s.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap();
    })
    .await;
    for _ in 0..3 {
        assert_eq!(bad_call(&app, Some("203.0.113.1")).await.status(), 401);
    }
    assert_eq!(bad_call(&app, Some("203.0.113.1")).await.status(), 429);
    // What the client wrote left of the proxy's entry does not change who it is.
    assert_eq!(bad_call(&app, Some("198.51.100.9, 203.0.113.1")).await.status(), 429);
    // Another client behind the same proxy has its own attempts.
    let other = bad_call(&app, Some("203.0.113.2")).await;
    assert_eq!(other.status(), 401);
    assert!(field(&other, "ratelimit").starts_with("\"failed-auth\";r=2;"));
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let app = spawn_app_with(Options::default(), |s| s.rate_limits = tight_failed_auth()).await;
    for client in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        assert_eq!(bad_call(&app, Some(client)).await.status(), 401);
    }
    assert_eq!(
        bad_call(&app, Some("203.0.113.4")).await.status(),
        429,
        "the peer is the client"
    );
}

/// On PostgreSQL two instances take from one bucket per organisation; on SQLite (one instance is
/// what it is for) each instance keeps its own, as docs/integrators.md says.
#[tokio::test]
async fn instances_on_one_postgresql_share_each_organisations_limit() {
    let first = spawn_app_with(Options::default(), |s| s.rate_limits = tight()).await;
    let second = spawn_app_with(
        Options {
            join: Some(first.joined()),
            seed: false,
            ..Options::default()
        },
        |s| s.rate_limits = tight(),
    )
    .await;
    let statuses = [
        config(&first, KEY_A, SECRET_A).await.status(),
        config(&second, KEY_A, SECRET_A).await.status(),
        config(&first, KEY_A, SECRET_A).await.status(),
        config(&second, KEY_A, SECRET_A).await.status(),
    ];
    if first.database_url.starts_with("postgres") {
        assert_eq!(
            statuses,
            [200, 200, 200, 429],
            "three in all, whichever instance serves them"
        );
        assert_eq!(config(&first, KEY_A, SECRET_A).await.status(), 429);
        assert_eq!(config(&second, KEY_B, SECRET_B).await.status(), 200);
    } else {
        assert_eq!(statuses, [200, 200, 200, 200], "three per instance");
    }
}

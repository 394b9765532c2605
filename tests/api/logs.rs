//! What a production operator's log shows: the route templates of candidate, report and
//! recruitment links (never their tokens), no candidate address, no key, and no colour codes
//! when the log is not a terminal. A real instance in another process, its stderr read whole.

use assessment_partner::auth::admin::Scope;
use assessment_partner::links::LinkKind;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn the_log_names_routes_and_holds_no_token_address_or_key() {
    // No worker anywhere: nothing is sent.
    let app = spawn_app().without_worker().await;
    let child = spawn_serving_child_with(&app, &["serve", "--no-worker"], |c| {
        c.env("RUST_LOG", "info");
    })
    .await;
    let url = child.base_url.clone();

    let email = "private.person@example.com";
    let post = |path: &str, body: Value| {
        let body = body.to_string();
        app.http
            .post(format!("{url}{path}"))
            .header("provider-key", KEY_A)
            .header("content-type", "application/json")
            .header("signature", app.sign(SECRET_A, body.as_bytes()))
            .body(body)
            .send()
    };
    let ordered = post("/recruitment/v1/assessment-link-order", order_body("log-1", email))
        .await
        .expect("order");
    assert_eq!(ordered.status(), 201);
    let link = ordered.json::<Value>().await.expect("json")["assessmentPackageLink"]
        .as_str()
        .expect("a link")
        .to_owned();
    let token = link.rsplit('/').next().expect("a token").to_owned();
    // The same candidate again in the same recruitment: a conflict whose detail names them.
    let conflict = post("/recruitment/v1/assessment-order", order_body("log-2", email))
        .await
        .expect("order");
    assert_eq!(conflict.status(), 409);
    assert!(conflict.text().await.unwrap_or_default().contains(email));

    let id = app
        .links
        .verify(LinkKind::Assessment, &token, app.clock.now())
        .expect("our link");
    let later = app.clock.now() + chrono::Duration::days(1);
    let report = app.links.token(LinkKind::Report, id, later);
    let recruitment = app.links.token(LinkKind::Recruitment, id, later);
    for path in [
        format!("/a/{token}"),
        format!("/a/{token}/review"),
        format!("/a/{token}/no-such-page/{token}"),
        format!("/r/{report}"),
        format!("/recruitments/{recruitment}"),
        format!("/{token}"),
    ] {
        app.http.get(format!("{url}{path}")).send().await.expect("page");
    }
    // The person's data exported, then erased.
    let export = app
        .http
        .get(format!(
            "{url}/admin/v1/data-subjects?organizationId={ORG_A}&email={email}"
        ))
        .bearer_auth(child_admin_token(Scope::CandidatesRead))
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), 200);
    let erased = app
        .http
        .post(format!("{url}/admin/v1/erasures"))
        .bearer_auth(child_admin_token(Scope::CandidatesErase))
        .json(&serde_json::json!({ "organizationId": ORG_A, "email": email }))
        .send()
        .await
        .expect("erasure");
    assert_eq!(erased.status(), 200);
    // An operator signs in to the console, once with a wrong password: neither password nor
    // the session's token is logged.
    let (operator, password, wrong) = (
        "log.operator@example.com",
        "console-password-for-the-log",
        "wrong-password-for-the-log",
    );
    let add = [
        "add",
        "--email",
        operator,
        "--scope",
        "assessments.read",
        "--scope",
        "organizations.write",
        "--password-stdin",
    ];
    let (ok, _, err) = crate::operators::operator(&app, &add, Some(&format!("{password}\n")));
    assert!(ok, "{err}");
    let login = app
        .http
        .get(format!("{url}/console/login"))
        .send()
        .await
        .expect("login page");
    let csrf_cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("the CSRF cookie")
        .to_owned();
    let csrf = crate::candidate::capture(&login.text().await.expect("page"), r#"name="csrf" value=""#, '"').remove(0);
    let mut session = String::new();
    for attempt in [wrong, password] {
        let answer = app
            .http
            .post(format!("{url}/console/login"))
            .header("cookie", &csrf_cookie)
            .form(&[("csrf", csrf.as_str()), ("email", operator), ("password", attempt)])
            .send()
            .await
            .expect("sign-in");
        if let Some(cookie) = answer.headers().get("set-cookie").and_then(|v| v.to_str().ok()) {
            session = cookie
                .split(';')
                .next()
                .unwrap_or_default()
                .trim_start_matches("ap_console=")
                .to_owned();
        }
    }
    assert_eq!(session.len(), 43, "signed in");
    // The operator searches by the candidate's address and rotates a provider key: neither
    // the address in the query nor the new key (shown once on the page) is logged.
    let cookies = format!("{csrf_cookie}; ap_console={session}");
    // A signed-in page's forms carry the session's token, not the sign-in page's.
    let search_page = app
        .http
        .get(format!("{url}/console/assessments"))
        .header("cookie", &cookies)
        .send()
        .await
        .expect("search page")
        .text()
        .await
        .expect("page");
    let csrf = crate::candidate::capture(&search_page, r#"name="csrf" value=""#, '"').remove(0);
    let search = app
        .http
        .post(format!("{url}/console/assessments"))
        .header("cookie", &cookies)
        .form(&[("csrf", csrf.as_str()), ("q", email)])
        .send()
        .await
        .expect("search");
    assert_eq!(search.status(), 200);
    let organizations = app
        .http
        .get(format!("{url}/console/organizations"))
        .header("cookie", &cookies)
        .send()
        .await
        .expect("organisations")
        .text()
        .await
        .expect("page");
    let rotation = format!("/console/organizations/{ORG_A}/provider-key");
    let seen = crate::candidate::capture(
        organizations.split(&rotation).nth(1).expect("a rotation form"),
        r#"name="seen" value=""#,
        '"',
    )
    .remove(0);
    let rotated = app
        .http
        .post(format!("{url}{rotation}"))
        .header("cookie", &cookies)
        .form(&[("csrf", csrf.as_str()), ("seen", seen.as_str()), ("overlap", "1h")])
        .send()
        .await
        .expect("rotation");
    assert_eq!(rotated.status(), 200);
    let new_key =
        crate::candidate::capture(&rotated.text().await.expect("page"), r#"<code class="secret">"#, '<').remove(0);
    let log = child.into_log();

    assert!(log.contains("/a/{token}"), "the route template is logged:\n{log}");
    for route in ["/console/organizations/{id}/provider-key", "/console/assessments"] {
        assert!(
            log.contains(route),
            "the console's requests are logged ({route}):\n{log}"
        );
    }
    assert!(log.contains("request finished"), "{log}");
    for secret in [
        token.as_str(),
        report.as_str(),
        recruitment.as_str(),
        email,
        "private.person",
        KEY_A,
        SECRET_A,
        password,
        wrong,
        session.as_str(),
        new_key.as_str(),
    ] {
        assert!(!log.contains(secret), "the log holds {secret:?}:\n{log}");
    }
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log that is not a terminal:\n{log}"
    );
}

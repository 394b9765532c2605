//! What an employer shows its candidates: branding set through the admin API, a logo uploaded
//! and checked against its type, and both on the candidate pages, in the invitation and on the
//! report.
use assessment_partner::auth::admin::Scope;
use reqwest::Method;
use serde_json::{Value, json};

use crate::candidate::{Candidate, link_for};
use crate::helpers::*;

/// A 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";
const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10" fill="#0b5cad"/></svg>"##;

fn organization_a(branding: Value) -> Value {
    json!({ "name": "Org A", "integratorId": INTEGRATOR_A, "lensIds": [LENS_SHARED], "branding": branding })
}

async fn put_org(app: &TestApp, body: Value) -> reqwest::Response {
    app.admin_call(
        Method::PUT,
        &format!("/admin/v1/organizations/{ORG_A}"),
        Scope::OrganizationsWrite,
        Some(body),
    )
    .await
}

async fn get_org(app: &TestApp) -> Value {
    app.admin_call(
        Method::GET,
        &format!("/admin/v1/organizations/{ORG_A}"),
        Scope::OrganizationsRead,
        None,
    )
    .await
    .json()
    .await
    .unwrap()
}

async fn put_logo(app: &TestApp, content_type: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.http
        .put(app.url(&format!("/admin/v1/organizations/{ORG_A}/logo")))
        .bearer_auth(app.admin_token(&[Scope::OrganizationsWrite]))
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

const BRANDING: fn() -> Value = || {
    json!({ "displayName": "Acme Careers", "accentColor": "#0B5CAD",
            "privacyPolicyUrl": "https://acme.example.com/privacy", "supportEmail": "Careers@Acme.example.com" })
};

#[tokio::test]
async fn branding_is_checked_field_by_field_and_kept_as_given() {
    let app = spawn_app().without_worker().await;
    let view: Value = put_org(&app, organization_a(BRANDING())).await.json().await.unwrap();
    assert_eq!(view["branding"]["displayName"], "Acme Careers");
    assert_eq!(view["branding"]["accentColor"], "#0b5cad", "stored lower-case");
    assert_eq!(view["branding"]["supportEmail"], "careers@acme.example.com");
    assert_eq!(view["branding"]["logoUrl"], Value::Null);
    for (field, value) in [
        ("accentColor", json!("blue")),
        ("accentColor", json!("#12345")),
        ("privacyPolicyUrl", json!("javascript:alert(1)")),
        ("supportEmail", json!("not an address")),
        ("displayName", json!("")),
    ] {
        let mut branding = BRANDING();
        branding[field] = value;
        let problem = expect_problem(put_org(&app, organization_a(branding)).await, 422).await;
        assert_eq!(fields(&problem), vec![format!("branding.{field}")], "{problem}");
    }
    let view = get_org(&app).await;
    assert_eq!(view["branding"]["accentColor"], "#0b5cad", "nothing changed: {view}");
    // Left out on update, it stays.
    let view: Value = put_org(
        &app,
        json!({ "name": "Org A", "integratorId": INTEGRATOR_A, "lensIds": [LENS_SHARED] }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(view["branding"]["displayName"], "Acme Careers");
}

#[tokio::test]
async fn a_logo_must_be_what_its_type_says_and_is_served_strictly() {
    let app = spawn_app().without_worker().await;
    expect_problem(put_logo(&app, "image/svg+xml", PNG.to_vec()).await, 422).await;
    expect_problem(put_logo(&app, "image/png", SVG.as_bytes().to_vec()).await, 422).await;
    expect_problem(put_logo(&app, "text/html", b"<html></html>".to_vec()).await, 415).await;
    let mut big = PNG.to_vec();
    big.resize(256 * 1024 + 1, 0);
    expect_problem(put_logo(&app, "image/png", big).await, 413).await;
    let view = get_org(&app).await;
    assert_eq!(view["branding"]["logoUrl"], Value::Null, "nothing stored: {view}");

    for (content_type, bytes) in [("image/png", PNG.to_vec()), ("image/svg+xml", SVG.as_bytes().to_vec())] {
        let response = put_logo(&app, content_type, bytes.clone()).await;
        assert_eq!(response.status(), 200);
        let view: Value = response.json().await.unwrap();
        let url = view["logoUrl"].as_str().unwrap().to_owned();
        assert!(url.starts_with(&format!("/branding/{ORG_A}/logo?v=")), "{url}");
        let served = app.http.get(app.url(&url)).send().await.unwrap();
        assert_eq!(served.status(), 200);
        let h = served.headers().clone();
        assert_eq!(h["content-type"], content_type);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(
            h["content-security-policy"].to_str().unwrap().contains("sandbox"),
            "scripts never run"
        );
        assert_eq!(served.bytes().await.unwrap().to_vec(), bytes);
    }
    let unknown = app
        .http
        .get(app.url(&format!("/branding/{ORG_B}/logo")))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn candidates_see_the_brand_on_the_pages_the_invitation_and_the_report() {
    let app = spawn_app().fast().await;
    assert_eq!(put_org(&app, organization_a(BRANDING())).await.status(), 200);
    let logo: Value = put_logo(&app, "image/png", PNG.to_vec()).await.json().await.unwrap();
    let logo = logo["logoUrl"].as_str().unwrap().to_owned();

    // The candidate's pages: the logo, the colour, the footer.
    let link = link_for(&app, "https://ats.example.com/results/b", "brand-1", "en-US").await;
    let mut candidate = Candidate::new(&app, &link);
    let (status, intro, _) = candidate.get("").await;
    assert_eq!(status, 200);
    let escaped = logo.replace('&', "&amp;");
    assert!(
        intro.contains(&format!(r#"<img src="{escaped}" alt="Acme Careers""#)),
        "{intro}"
    );
    assert!(intro.contains("background: #0b5cad"), "the accent colour");
    assert!(
        intro.contains(r#"href="https://acme.example.com/privacy""#)
            && intro.contains("mailto:careers@acme.example.com")
    );
    assert!(
        intro.contains("<header class=\"brand\"") && intro.contains("<footer class=\"brand-footer\""),
        "{intro}"
    );

    // The invitation of an e-mail order names the brand and shows the logo.
    let ordered = app
        .order(
            "/recruitment/v1/assessment-order",
            &order_body("brand-2", "brand2@example.com"),
        )
        .await;
    assert_eq!(ordered.status(), 201);
    let mail = app.mail_where(|m| m.contains("brand2@example.com")).await;
    assert!(mail.contains("Acme Careers"), "{mail}");
    assert!(
        mail.contains(&format!("{}{escaped}", app.address)) || mail.contains(&format!("{}{logo}", app.address)),
        "{mail}"
    );

    // The report carries them too.
    Candidate::complete(&app, &link).await;
    let result: Value = app
        .get_signed("/recruitment/v1/results/brand-1", KEY_A, SECRET_A)
        .await
        .json()
        .await
        .unwrap();
    let report = app
        .http
        .get(result["assessmentReportUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let html = report.text().await.unwrap();
    assert!(html.contains("Acme Careers") && html.contains(&escaped), "{html}");

    // Without branding (organisation C), no header and no footer.
    let body = order_body("plain-c", "plain-c@example.com");
    let response = app
        .post_signed(
            "/recruitment/v1/assessment-link-order",
            KEY_C,
            SECRET_SANDBOX,
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(response.status(), 201);
    let plain: Value = response.json().await.unwrap();
    let mut other = Candidate::new(&app, plain["assessmentPackageLink"].as_str().unwrap());
    let (_, page, _) = other.get("").await;
    assert!(
        !page.contains("<header class=\"brand\"") && !page.contains("<footer"),
        "{page}"
    );
}

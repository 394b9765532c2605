//! Findings of a probe from outside: text no database stores, refusals of malformed ids kept in
//! the audit log, completions dated outside the assessment's life, and the security headers of
//! every answer.
use assessment_partner::auth::admin::Scope;
use assessment_partner::entity::{assessment, audit_event};
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel, PaginatorTrait};
use serde_json::{Value, json};

use crate::candidate::{Candidate, link_for};
use crate::console::{Browser, EMAIL, PASSWORD, add_operator};
use crate::helpers::*;

fn is_html(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"))
}

#[tokio::test]
async fn a_nul_in_a_query_string_or_a_form_is_refused_by_every_surface_and_never_reaches_the_database() {
    let app = spawn_app().without_worker().await;
    add_operator(&app, &["assessments.read", "audit.read"]);

    // The console's sign-in form: a 400 page, and no failure counted for any address.
    let mut browser = Browser::new(&app);
    let (status, page, _) = browser.sign_in("ops\u{0}@example.com", PASSWORD).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("NUL"), "{page}");
    let (status, _, _) = browser.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(status, 303, "the operator signs in");

    // The console's search and audit filters, as links and as the search form.
    for path in [
        "/console/assessments?q=a%00b",
        "/console/audit?action=%00",
        "/console/deliveries?kind=%00",
    ] {
        let response = browser.send(reqwest::Method::GET, path).await;
        assert_eq!(response.status(), 400, "{path}");
        assert!(is_html(&response), "{path} answers a page");
    }

    // The admin API: a problem naming the parameter.
    for (path, scope, field) in [
        ("/admin/v1/audit-events?action=%00", Scope::AuditRead, "action"),
        (
            "/admin/v1/assessments?state=in%00vited",
            Scope::AssessmentsRead,
            "state",
        ),
        ("/admin/v1/deliveries?kind=%00", Scope::DeliveriesRead, "kind"),
        (
            "/admin/v1/data-subjects?email=a%00%40example.com",
            Scope::CandidatesRead,
            "email",
        ),
    ] {
        let problem = expect_problem(app.admin_call(Method::GET, path, scope, None).await, 422).await;
        assert_eq!(fields(&problem), vec![field.to_owned()], "{path}: {problem}");
    }

    // A candidate's form.
    let link = link_for(&app, "https://ats.example.com/results/nul", "nul-form", "en-US").await;
    let mut candidate = Candidate::new(&app, &link);
    let (_, intro, _) = candidate.get("").await;
    let csrf = Candidate::csrf(&intro);
    let (status, _, _) = candidate
        .post("/start", &[("csrf".into(), csrf), ("x\u{0}".into(), "y".into())])
        .await;
    assert_eq!(status, 400);
    let row = assessment::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(
        row.state,
        assessment_partner::assessment::State::Invited,
        "nothing changed"
    );
}

#[tokio::test]
async fn refusals_of_malformed_ids_are_in_the_audit_log() {
    let app = spawn_app().without_worker().await;
    for (method, path, scope) in [
        (Method::PUT, "/admin/v1/lenses/a%00b", Scope::LensesWrite),
        (Method::POST, "/admin/v1/deliveries/%00/replay", Scope::DeliveriesWrite),
        (Method::POST, "/admin/v1/assessments/%00x/result", Scope::ResultsWrite),
    ] {
        let before = audit_event::Entity::find().count(&app.db).await.unwrap();
        let body = json!({"name": "x", "competencies": [], "score": 1, "subscores": {}});
        let response = app.admin_call(method.clone(), path, scope, Some(body)).await;
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{method} {path}: {status}");
        let events = audit_event::Entity::find().all(&app.db).await.unwrap();
        assert_eq!(events.len() as u64, before + 1, "{method} {path} is recorded");
        let event = events.iter().max_by_key(|e| e.id).unwrap();
        assert_eq!(event.status, i32::from(status));
        assert_eq!(event.outcome, "refused");
        assert_eq!(event.actor, "tests");
        assert!(!event.target_id.clone().unwrap_or_default().contains('\0'));
    }
}

#[tokio::test]
async fn a_completion_dated_before_the_order_or_in_the_future_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let ordered = app
        .order(
            "/recruitment/v1/assessment-order",
            &order_body("dated-1", "dated@example.com"),
        )
        .await;
    let id: String = ordered.json().await.unwrap();
    let path = format!("/admin/v1/assessments/{id}/result");
    let now = app.clock.now();
    let result = |completed_at: &str| {
        json!({ "score": 70, "subscores": { "driving-leadership": 70, "influencing-inspiring": 70 },
                "completedAt": completed_at })
    };
    for when in [
        "+99999-01-01T00:00:00Z".to_owned(),
        (now + chrono::Duration::seconds(301)).to_rfc3339(),
        (now - chrono::Duration::days(1)).to_rfc3339(),
    ] {
        let problem = expect_problem(
            app.admin_call(Method::POST, &path, Scope::ResultsWrite, Some(result(&when)))
                .await,
            422,
        )
        .await;
        assert_eq!(fields(&problem), vec!["completedAt".to_owned()], "{when}: {problem}");
        let row = app.assessment_row(&id).await;
        assert_eq!((row.state.as_str(), row.completed_at), ("invited", None), "{when}");
    }
    // Within the clocks' skew, ahead or (as a date cut to the second may be) before the order,
    // is fine.
    let early = (now - chrono::Duration::seconds(1)).to_rfc3339();
    let other = app
        .order(
            "/recruitment/v1/assessment-order",
            &order_body("dated-2", "dated2@example.com"),
        )
        .await;
    let other: String = other.json().await.unwrap();
    let response = app
        .admin_call(
            Method::POST,
            &format!("/admin/v1/assessments/{other}/result"),
            Scope::ResultsWrite,
            Some(result(&early)),
        )
        .await;
    assert_eq!(response.status(), 200);
    let when = (now + chrono::Duration::seconds(60)).to_rfc3339();
    let response = app
        .admin_call(Method::POST, &path, Scope::ResultsWrite, Some(result(&when)))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn retention_erases_a_finished_assessment_whatever_date_it_carries() {
    let app = spawn_app()
        .fast()
        .with(|s| {
            s.retention.period = Some(std::time::Duration::from_millis(300));
            s.retention.sweep_interval = std::time::Duration::from_millis(100);
        })
        .await;
    let ordered = app
        .order(
            "/recruitment/v1/assessment-order",
            &order_body("far-1", "far@example.com"),
        )
        .await;
    let id = uuid::Uuid::parse_str(&ordered.json::<String>().await.unwrap()).unwrap();
    // A completion stored with a date far ahead (as an engine could report one before
    // completions were bounded): only its date says it is recent.
    let row = assessment::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
    let mut active = row.into_active_model();
    active.state = Set(assessment_partner::assessment::State::Completed);
    active.score = Set(Some(70));
    active.completed_at = Set(Some("9999-01-01T00:00:00Z".parse().unwrap()));
    active.update(&app.db).await.unwrap();
    let row = eventually(WAIT, async || {
        let row = assessment::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
        match row.erased_at {
            Some(_) => Ok(row),
            None => Err("retention did not erase it".to_owned()),
        }
    })
    .await;
    assert_eq!(row.score, Some(70), "scores stay");
}

/// The headers of an answer.
async fn headers(app: &TestApp, path: &str) -> (u16, reqwest::header::HeaderMap) {
    let response = app.http.get(app.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.headers().clone())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn every_answer_says_nosniff_and_every_page_carries_a_strict_policy() {
    let app = spawn_app().without_worker().await;
    let link = link_for(&app, "https://ats.example.com/results/h", "headers-1", "en-US").await;
    let candidate_path = link.strip_prefix(&app.address).unwrap().to_owned();
    let id = assessment::Entity::find().one(&app.db).await.unwrap().unwrap().id;
    let completed = app
        .admin_call(
            Method::POST,
            &format!("/admin/v1/assessments/{id}/result"),
            Scope::ResultsWrite,
            Some(json!({ "score": 70, "subscores": { "driving-leadership": 70, "influencing-inspiring": 70 } })),
        )
        .await;
    assert_eq!(completed.status(), 200);
    let result: Value = app
        .get_signed("/recruitment/v1/results/headers-1", KEY_A, SECRET_A)
        .await
        .json()
        .await
        .unwrap();
    let report = result["assessmentReportUrl"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.address)
        .unwrap()
        .to_owned();
    let recruitment = result["recruitmentUrl"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.address)
        .unwrap()
        .to_owned();

    // Pages: no script of any kind, nothing framed, forms only back here.
    for path in [
        candidate_path.as_str(),
        report.as_str(),
        recruitment.as_str(),
        "/console/login",
        "/a/not-a-token",
    ] {
        let (status, h) = headers(&app, path).await;
        let csp = header(&h, "content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{path} ({status}): {csp}");
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"),
            "{path}: {csp}"
        );
        assert!(
            !csp.contains("script-src") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert_eq!(header(&h, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&h, "x-content-type-options"), "nosniff", "{path}");
    }
    // The PDF is not framed either.
    let (status, h) = headers(&app, &format!("{report}?format=pdf")).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), "application/pdf");
    assert_eq!(header(&h, "x-frame-options"), "DENY");
    assert_eq!(header(&h, "x-content-type-options"), "nosniff");

    // Every other answer: JSON, problems, the fallback, probes, the document.
    for path in [
        "/recruitment/v1/config",
        "/admin/v1/lenses",
        "/no/such/path",
        "/health/live",
        "/openapi.json",
        "/metrics",
    ] {
        let (status, h) = headers(&app, path).await;
        assert_eq!(header(&h, "x-content-type-options"), "nosniff", "{path} ({status})");
    }
    let ashby = app
        .http
        .post(app.url("/ashby/assessment.list"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(ashby.headers(), "x-content-type-options"),
        "nosniff",
        "Ashby's refusal"
    );
}

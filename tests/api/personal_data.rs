//! Personal data: erasure leaves no byte of the person behind, export shows all, retention erases
//! on its own, and every admin write is in the append-only audit log.
use assessment_partner::auth::admin::Scope;
use assessment_partner::entity::{assessment, audit_event, delivery};
use assessment_partner::links::LinkKind;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::candidate::{Candidate, capture};
use crate::helpers::*;
use crate::receiver::Receiver;

const EMAIL: &str = "erase.me.4711@example.com";
/// The names Ashby sends for the same person.
const FIRST: &str = "Ebbaxolotl";

impl TestApp {
    async fn erase(&self, body: Value) -> Value {
        let response = self
            .admin_call(
                reqwest::Method::POST,
                "/admin/v1/erasures",
                Scope::CandidatesErase,
                Some(body),
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn audit_events(&self, query: &str) -> Value {
        let path = format!("/admin/v1/audit-events{query}");
        let response = self
            .admin_call(reqwest::Method::GET, &path, Scope::AuditRead, None)
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn export(&self, email: &str) -> reqwest::Response {
        self.admin_call(
            reqwest::Method::GET,
            &format!("/admin/v1/data-subjects?organizationId={ORG_A}&email={email}"),
            Scope::CandidatesRead,
            None,
        )
        .await
    }
}

/// Every file of the database (SQLite: the file, its WAL and shared memory) or a dump of it
/// (PostgreSQL), as bytes.
fn stored_bytes(app: &TestApp) -> Vec<u8> {
    if app.database_url.starts_with("postgres") {
        let dump = std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(&app.database_url)
            .output()
            .expect("pg_dump runs");
        assert!(
            dump.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&dump.stderr)
        );
        return dump.stdout;
    }
    let path = app
        .database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
            bytes.extend(b);
        }
    }
    assert!(!bytes.is_empty(), "the database file is at {path}");
    bytes
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn mail_holds(app: &TestApp, needle: &str) -> bool {
    std::fs::read_dir(&app.mail_dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(needle)))
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn an_erasure_leaves_no_byte_of_the_person_and_their_links_are_gone() {
    let ashby = Receiver::start().await;
    let base = ashby.url("");
    let app = spawn_app()
        .fast()
        .with(move |s| s.ashby_base_url = base.trim_end_matches('/').to_owned())
        .await;
    // A recruitment order (with answers) and an Ashby start (with names, ids, custom fields).
    // Every outgoing call of the test goes to the local receiver (none is expected).
    let mut body = order_body("gdpr-1", EMAIL);
    body["resultUpdateUrl"] = json!(ashby.url("/results/gdpr-1"));
    let ordered = app.order("/recruitment/v1/assessment-order", &body).await;
    assert_eq!(ordered.status(), 201);
    let id: String = ordered.json().await.unwrap();
    let id = uuid::Uuid::parse_str(&id).unwrap();
    let mut start = json!({
        "assessment_type_id": LENS_B_ONLY,
        "candidate": { "ashby_id": "ashby-cand-9", "first_name": FIRST, "last_name": "Lovelace", "email": EMAIL },
        "application": { "ashby_id": "ashby-app-9", "status": "Active" },
        "job": { "ashby_id": "job-9", "name": "Engineer" },
        "additional_fields": { "pronouns": "she" }
    });
    // Organisation A offers the shared lens only.
    start["assessment_type_id"] = json!(LENS_SHARED);
    let started = app.ashby("assessment.start", ASHBY_KEY_A, &start).await;
    let started: Value = started.json().await.unwrap();
    assert_eq!(started["success"], true, "{started}");
    // Both invitations are written to the mail folder by the worker.
    eventually(WAIT, async || {
        match std::fs::read_dir(&app.mail_dir).map(|d| d.count()).unwrap_or(0) {
            2.. => Ok(()),
            n => Err(format!("{n} of the two invitations written")),
        }
    })
    .await;
    assert!(mail_holds(&app, EMAIL));
    // The candidate answers a part.
    let expires = app.clock.now() + chrono::Duration::days(1);
    let link = app.links.url(LinkKind::Assessment, id, expires);
    let mut candidate = Candidate::new(&app, &link);
    let (_, intro, _) = candidate.get("").await;
    let csrf = Candidate::csrf(&intro);
    assert_eq!(candidate.post("/start", &[("csrf".into(), csrf)]).await.0, 303);
    let (_, page, _) = candidate.get("/q/1").await;
    let mut form = vec![("csrf".to_owned(), Candidate::csrf(&page))];
    let mut items = capture(&page, r#"name="item:"#, '"');
    items.dedup();
    form.extend(items.iter().map(|item| (format!("item:{item}"), "4".to_owned())));
    assert_eq!(candidate.post("/q/1", &form).await.0, 303);

    // The export holds it all.
    let export: Value = app.export(EMAIL).await.json().await.unwrap();
    let person = &export["candidates"][0];
    assert_eq!(person["email"], EMAIL);
    assert_eq!(person["firstName"], FIRST);
    let assessments = person["assessments"].as_array().unwrap();
    assert_eq!(assessments.len(), 2);
    let answered = assessments.iter().find(|a| a["id"] == id.to_string()).unwrap();
    assert_eq!(answered["answers"].as_object().unwrap().len(), items.len());
    assert!(
        answered["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "invitation_email")
    );
    assert!(assessments.iter().any(|a| a["ashbyCandidateId"] == "ashby-cand-9"));
    assert!(
        holds(&stored_bytes(&app), EMAIL),
        "the check can see the address before"
    );

    let erased = app.erase(json!({ "organizationId": ORG_A, "email": EMAIL })).await;
    assert_eq!(erased["candidates"], 1);
    assert_eq!(erased["assessments"], 2);
    assert_eq!(erased["answers"], items.len());
    assert_eq!(erased["deliveriesScrubbed"], 2);
    assert!(erased["erasureId"].is_string());

    let bytes = stored_bytes(&app);
    for gone in [EMAIL, FIRST, "ashby-cand-9", "ashby-app-9", "pronouns"] {
        assert!(!holds(&bytes, gone), "{gone} is still stored");
    }
    assert!(!mail_holds(&app, EMAIL), "an .eml file still names the person");
    // The rows stay, marked.
    let row = assessment::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
    assert!(row.erased_at.is_some());
    let invitations = delivery::Entity::find()
        .filter(delivery::Column::AssessmentId.eq(id))
        .all(&app.db)
        .await
        .unwrap();
    assert!(invitations.iter().all(|d| d.target == "erased"));

    // Links and the result answer 410; the export finds nothing; again, nothing to erase.
    assert_eq!(candidate.get("").await.0, 410);
    let report = app.links.url(LinkKind::Report, id, expires);
    assert_eq!(app.http.get(&report).send().await.unwrap().status(), 410);
    let pulled = app.get_signed("/recruitment/v1/results/gdpr-1", KEY_A, SECRET_A).await;
    let problem = expect_problem(pulled, 410).await;
    assert!(problem["type"].as_str().unwrap().ends_with("/erased"));
    assert_eq!(app.export(EMAIL).await.status(), 404);
    let again = app.erase(json!({ "organizationId": ORG_A, "email": EMAIL })).await;
    for count in ["candidates", "assessments", "answers", "deliveriesScrubbed"] {
        assert_eq!(again[count], 0, "{count}");
    }
    // By assessment id too: already erased, nothing.
    let by_id = app.erase(json!({ "assessmentId": id })).await;
    assert_eq!(by_id["assessments"], 0);
    assert!(ashby.requests().is_empty());
}

#[tokio::test]
async fn bad_erasure_requests_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({ "organizationId": ORG_A }),
        json!({ "organizationId": ORG_A, "email": "not-an-address" }),
        json!({ "organizationId": ORG_A, "email": EMAIL, "assessmentId": ORG_A }),
    ] {
        let response = app
            .admin_call(
                reqwest::Method::POST,
                "/admin/v1/erasures",
                Scope::CandidatesErase,
                Some(body.clone()),
            )
            .await;
        assert_eq!(response.status(), 422, "{body}");
    }
    let forbidden = app
        .admin_call(
            reqwest::Method::POST,
            "/admin/v1/erasures",
            Scope::CandidatesRead,
            Some(json!({ "assessmentId": ORG_A })),
        )
        .await;
    assert_eq!(forbidden.status(), 403);
}

#[tokio::test]
async fn retention_erases_finished_assessments_and_old_deliveries_on_its_own() {
    let receiver = Receiver::start().await;
    let app = spawn_app()
        .fast()
        .with(|s| {
            s.retention.period = Some(std::time::Duration::from_millis(300));
            s.retention.sweep_interval = std::time::Duration::from_millis(100);
            s.retention.deliveries = Some(std::time::Duration::from_millis(300));
        })
        .await;
    let mut body = order_body("keep-1", EMAIL);
    body["resultUpdateUrl"] = json!(receiver.url("/results"));
    let ordered = app.order("/recruitment/v1/assessment-order", &body).await;
    let id = uuid::Uuid::parse_str(&ordered.json::<String>().await.unwrap()).unwrap();
    let result = json!({ "score": 70, "subscores": { "driving-leadership": 70, "influencing-inspiring": 70 } });
    let posted = app
        .admin_call(
            reqwest::Method::POST,
            &format!("/admin/v1/assessments/{id}/result"),
            Scope::ResultsWrite,
            Some(result),
        )
        .await;
    assert_eq!(posted.status(), 200);
    receiver.wait_for(1, WAIT).await;
    let row = eventually(WAIT, async || {
        let row = assessment::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
        let outbox = delivery::Entity::find()
            .filter(delivery::Column::AssessmentId.eq(id))
            .all(&app.db)
            .await
            .unwrap();
        match row.erased_at.is_some() && outbox.is_empty() {
            true => Ok(row),
            false => Err(format!(
                "the sweeper did not erase: {} outbox row(s) left",
                outbox.len()
            )),
        }
    })
    .await;
    assert_eq!(row.score, Some(70), "scores stay for statistics");
    assert!(!holds(&stored_bytes(&app), EMAIL));
    assert_eq!(app.export(EMAIL).await.status(), 404);
}

#[tokio::test]
async fn every_admin_write_is_in_the_append_only_audit_log_with_its_actor() {
    let app = spawn_app().await;
    let put = app
        .admin_call(
            reqwest::Method::PUT,
            &format!("/admin/v1/integrators/{INTEGRATOR_B}"),
            Scope::IntegratorsWrite,
            Some(json!({ "name": "ATS B" })),
        )
        .await;
    assert_eq!(put.status(), 200);
    let refused = app
        .admin_call(
            reqwest::Method::PUT,
            &format!("/admin/v1/integrators/{INTEGRATOR_B}"),
            Scope::IntegratorsWrite,
            Some(json!({ "name": "" })),
        )
        .await;
    assert_eq!(refused.status(), 422);
    let rotated = app
        .admin_call(
            reqwest::Method::POST,
            &format!("/admin/v1/organizations/{ORG_B}/provider-key-rotations"),
            Scope::OrganizationsWrite,
            None,
        )
        .await;
    assert_eq!(rotated.status(), 201);
    let new_key: Value = rotated.json().await.unwrap();
    assert_eq!(app.export(EMAIL).await.status(), 404);
    app.erase(json!({ "organizationId": ORG_A, "email": EMAIL })).await;
    // Without a token nothing is written, and nothing is recorded.
    let anonymous = app
        .http
        .put(app.url(&format!("/admin/v1/integrators/{INTEGRATOR_B}")))
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let page = app.audit_events("").await;
    let events = page["items"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["targetType"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("integrator.put", "succeeded", "integrator"),
            ("integrator.put", "refused", "integrator"),
            ("organization.provider-key-rotation", "succeeded", "organization"),
            ("data-subject.export", "refused", "organization"),
            ("erasure", "succeeded", "erasure"),
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e["actor"] == "tests" && e["requestId"].is_string())
    );
    assert_eq!(events[0]["targetId"], INTEGRATOR_B);
    let text = page.to_string();
    for secret in [EMAIL, new_key["providerKey"].as_str().unwrap()] {
        assert!(!text.contains(secret), "the log holds no contact data or key");
    }
    // Filtered by action, and by time.
    let erasures = app.audit_events("?action=erasure").await;
    assert_eq!(erasures["items"].as_array().unwrap().len(), 1);
    let later = (app.clock.now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let none = app.audit_events(&format!("?from={later}")).await;
    assert!(none["items"].as_array().unwrap().is_empty());
    // The database itself refuses to change or delete an event.
    assert!(audit_event::Entity::delete_many().exec(&app.db).await.is_err());
    assert_eq!(audit_event::Entity::find().all(&app.db).await.unwrap().len(), 5);
}

//! `assessment-partner demo` as a new user meets it: what it prints runs as printed, and a
//! restart keeps what was changed since the first start.
use std::process::Stdio;

use assessment_partner::entity::organization;
use sea_orm::EntityTrait;
use serde_json::Value;

use crate::helpers::*;

const DEMO_ORG: &str = "0d7e6c5b-4a39-4281-9f0e-1d2c3b4a5f60";

/// `demo` on `app`'s (empty) database with `extra` arguments; its output goes to `out`.
async fn start_demo(app: &TestApp, extra: &[&str], out: &std::path::Path) -> ServingChild {
    let file = std::fs::File::create(out).unwrap();
    let mut args = vec!["demo"];
    args.extend_from_slice(extra);
    spawn_serving_child_with(app, &args, |c| {
        c.stdout(Stdio::from(file));
    })
    .await
}

async fn demo_org(app: &TestApp) -> organization::Model {
    organization::Entity::find_by_id(uuid::Uuid::parse_str(DEMO_ORG).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

/// The lines of the printed text from `from` up to the next blank line.
fn block(text: &str, from: &str) -> String {
    text.lines()
        .skip_while(|l| !l.starts_with(from))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `script` in bash with the demo's shell variables, with what the child has in its
/// environment (so the printed `token` command signs as the server expects).
fn run(app: &TestApp, text: &str, script: &str) -> String {
    let preamble: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("AP=") || l.starts_with("KEY=") || l.starts_with("SECRET=") || l.starts_with("sign()")
        })
        .collect();
    let command = child_command(app, &[], &[]);
    let mut bash = std::process::Command::new("bash");
    bash.arg("-c").arg(format!("set -e\n{}\n{script}", preamble.join("\n")));
    for (k, v) in command.get_envs() {
        if let Some(v) = v {
            bash.env(k, v);
        }
    }
    let output = bash.output().expect("bash runs");
    assert!(
        output.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn the_demo_prints_an_ashby_start_that_works_and_a_restart_keeps_what_changed() {
    let app = spawn_app().unseeded().without_worker().await;
    let out = app.dir.path().join("demo-1.txt");
    let child = start_demo(&app, &[], &out).await;
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("seeded"), "{text}");
    assert!(!text.contains("cargo run"), "hints call the built binary: {text}");
    assert!(
        text.contains(env!("CARGO_BIN_EXE_assessment-partner")) || text.contains("./target/"),
        "{text}"
    );

    // Step 7: the console's first operator, as printed (the password typed at the prompt).
    let add = block(&text, "# 7.");
    assert!(add.contains("--all-scopes"), "{add}");
    run(&app, &text, &format!("{{ {add}; }} <<< 'a-very-long-demo-password'"));
    let operators = assessment_partner::entity::operator::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(operators.len(), 1, "the printed command adds the operator");
    assert_eq!(operators[0].email, "you@example.com");
    assert!(
        operators[0].scopes.to_string().contains("audit.read")
            && operators[0].scopes.to_string().contains("candidates.erase"),
        "every scope: {}",
        operators[0].scopes
    );

    // Step 5: Ashby's assessment.start, as printed.
    let started: Value = serde_json::from_str(&run(&app, &text, &block(&text, "# 5."))).unwrap();
    assert_eq!(started["success"], true, "{started}");
    let id = started["results"]["assessment_id"].as_str().unwrap().to_owned();
    let row = app.assessment_row(&id).await;
    assert_eq!(row.organization_id.to_string(), DEMO_ORG);
    // The invitation greets the candidate by the name Ashby sent.
    let mail_dir = app.dir.path().join("child-mail");
    eventually(WAIT, async || {
        let greeted = std::fs::read_dir(&mail_dir).into_iter().flatten().flatten().any(|f| {
            std::fs::read_to_string(f.path())
                .unwrap_or_default()
                .contains("Hello Ada,")
        });
        greeted
            .then_some(())
            .ok_or_else(|| "no invitation greets Ada".to_owned())
    })
    .await;

    // Step 6: the organisation's Ashby updates go to a local receiver from now on.
    let put: Value = serde_json::from_str(&run(&app, &text, &block(&text, "# 6."))).unwrap();
    assert_eq!(put["ashby"]["baseUrl"], "http://127.0.0.1:9998", "{put}");
    assert_eq!(put["ashby"]["hasApiKey"], true, "the keys stay: {put}");

    // An operator renames the organisation; the demo restarts and keeps it.
    drop(child);
    let renamed = demo_org(&app).await;
    let mut active: organization::ActiveModel = renamed.into();
    active.name = sea_orm::ActiveValue::Set("Renamed AB".into());
    sea_orm::ActiveModelTrait::update(active, &app.db).await.unwrap();

    let out = app.dir.path().join("demo-2.txt");
    let child = start_demo(&app, &[], &out).await;
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("kept as they are"), "{text}");
    drop(child);
    let org = demo_org(&app).await;
    assert_eq!(org.name, "Renamed AB");
    assert_eq!(org.ashby_base_url.as_deref(), Some("http://127.0.0.1:9998"));

    // --reseed writes the seed file over it, and says so.
    let out = app.dir.path().join("demo-3.txt");
    let child = start_demo(&app, &["--reseed"], &out).await;
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("--reseed"), "{text}");
    drop(child);
    let org = demo_org(&app).await;
    assert_eq!(org.name, "Example AB");
}

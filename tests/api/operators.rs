//! Operator accounts from the command line: the password from standard input, only its argon2id
//! hash stored, listed without it, disabled and enabled again.
use std::io::Write;
use std::process::Stdio;

use assessment_partner::entity::operator;
use sea_orm::EntityTrait;

use crate::helpers::*;

/// Runs `assessment-partner operator …` on `app`'s database; answers (success, stdout, stderr).
pub fn operator(app: &TestApp, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut all = vec!["operator"];
    all.extend_from_slice(args);
    let mut child = child_command(app, &all, &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PASSWORD: &str = "a-very-long-operator-password";

#[tokio::test]
async fn operators_are_managed_from_the_command_line_and_only_a_hash_is_stored() {
    let app = spawn_app().await;
    let add = [
        "add",
        "--email",
        "Ops@Example.com",
        "--scope",
        "deliveries.read",
        "deliveries.write",
        "--password-stdin",
    ];
    let (ok, out, err) = operator(&app, &add, Some(&format!("{PASSWORD}\n")));
    assert!(ok, "{out}{err}");
    let (ok, _, err) = operator(&app, &add, Some(&format!("{PASSWORD}\n")));
    assert!(!ok && err.contains("exists already"), "{err}");
    let short = [
        "add",
        "--email",
        "b@example.com",
        "--scope",
        "audit.read",
        "--password-stdin",
    ];
    let (ok, _, err) = operator(&app, &short, Some("too short\n"));
    assert!(!ok && err.contains("at least 12 characters"), "{err}");
    let (ok, _, err) = operator(
        &app,
        &["add", "--email", "c@example.com", "--scope", "audit.read"],
        None,
    );
    assert!(
        !ok && err.contains("--password-stdin"),
        "the password is never an argument: {err}"
    );

    let stored = operator::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(stored.len(), 1, "nothing else was added");
    assert!(stored[0].password_hash.starts_with("$argon2id$"));
    assert!(!stored[0].password_hash.contains(PASSWORD));

    let (ok, listed, _) = operator(&app, &["list"], None);
    assert!(ok);
    assert_eq!(
        listed.trim(),
        "ops@example.com\tdeliveries.read deliveries.write\tenabled"
    );
    assert!(!listed.contains("argon2"), "the hash is never shown");

    let (ok, out, _) = operator(&app, &["disable", "--email", "ops@example.com"], None);
    assert!(ok && out.contains("disabled"));
    let (_, listed, _) = operator(&app, &["list"], None);
    assert!(listed.contains("disabled since"), "{listed}");
    let (ok, out, _) = operator(&app, &["enable", "--email", "OPS@example.com"], None);
    assert!(ok && out.contains("operator enabled"), "{out}");
    let (ok, _, err) = operator(&app, &["disable", "--email", "nobody@example.com"], None);
    assert!(!ok && err.contains("no operator"), "{err}");
}

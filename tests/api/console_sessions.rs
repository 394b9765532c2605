//! Console sessions: an absolute lifetime besides the idle one, `__Host-` cookies over HTTPS,
//! and forms whose CSRF token belongs to the session, so a planted cookie pair never passes.
use crate::candidate::capture;
use crate::console::{Browser, EMAIL, PASSWORD, add_operator};
use crate::helpers::*;

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_busy() {
    let app = spawn_app().await;
    add_operator(&app, &["assessments.read"]);
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    // Used every seven hours: never idle for eight, but twelve hours after sign-in it ends.
    app.clock.advance(chrono::Duration::hours(7));
    assert_eq!(browser.get("/console").await.0, 200, "still signed in after 7 h");
    app.clock
        .advance(chrono::Duration::hours(4) + chrono::Duration::minutes(59));
    assert_eq!(
        browser.get("/console").await.0,
        200,
        "still signed in after 11 h 59 min"
    );
    app.clock.advance(chrono::Duration::minutes(2));
    let (status, _, location) = browser.get("/console").await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/console/login")),
        "ended at 12 h"
    );
}

#[tokio::test]
async fn over_https_the_cookies_are_host_only() {
    let app = spawn_app()
        .with(|s| {
            s.public_url = url::Url::parse("https://assessments.example.com").unwrap();
        })
        .await;
    add_operator(&app, &["assessments.read"]);
    let login = app.http.get(app.url("/console/login")).send().await.unwrap();
    let cookies: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-ap_csrf=") && c.contains("Secure") && c.contains("Path=/")),
        "{cookies:?}"
    );
    let mut browser = Browser::new(&app);
    let (status, _, _) = browser.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(status, 303);
    assert!(
        browser.cookies.contains_key("__Host-ap_console"),
        "{:?}",
        browser.cookies.keys()
    );
    assert!(!browser.cookies.contains_key("ap_console"));
    assert_eq!(browser.get("/console").await.0, 200, "the console works with them");
    // A cookie without the prefix (as another host could set one) is no session.
    let plain = browser.cookies.remove("__Host-ap_console").unwrap();
    browser.cookies.insert("ap_console".into(), plain);
    assert_eq!(browser.get("/console").await.0, 303);
}

#[tokio::test]
async fn a_form_token_of_another_session_or_a_planted_cookie_pair_is_refused() {
    let app = spawn_app().await;
    add_operator(&app, &["assessments.read"]);
    let mut victim = Browser::new(&app);
    assert_eq!(victim.sign_in(EMAIL, PASSWORD).await.0, 303);
    let (_, page, _) = victim.get("/console/assessments").await;
    let own = capture(&page, r#"name="csrf" value=""#, '"').remove(0);

    // The attacker's own pair, from the sign-in page, planted in the victim's browser.
    let mut attacker = Browser::new(&app);
    let (_, login, _) = attacker.get("/console/login").await;
    let planted = capture(&login, r#"name="csrf" value=""#, '"').remove(0);
    victim
        .cookies
        .insert("ap_csrf".into(), attacker.cookies["ap_csrf"].clone());
    let (status, _, _) = victim
        .post("/console/assessments", &[("csrf", &planted), ("q", "x")])
        .await;
    assert_eq!(status, 403, "a planted cookie pair");
    // The token of another signed-in session of the same operator.
    assert_eq!(attacker.sign_in(EMAIL, PASSWORD).await.0, 303);
    let (_, other_page, _) = attacker.get("/console/assessments").await;
    let other = capture(&other_page, r#"name="csrf" value=""#, '"').remove(0);
    assert_ne!(other, own);
    let (status, _, _) = victim
        .post("/console/assessments", &[("csrf", &other), ("q", "x")])
        .await;
    assert_eq!(status, 403, "another session's token");
    // Sign-out is refused too, and the session lives on.
    let (status, _, _) = victim.post("/console/logout", &[("csrf", &other)]).await;
    assert_eq!(status, 403);
    assert_eq!(victim.get("/console").await.0, 200);
    // Its own token passes.
    let (status, _, _) = victim.post("/console/assessments", &[("csrf", &own), ("q", "x")]).await;
    assert_eq!(status, 200);
    let (status, _, location) = victim.post("/console/logout", &[("csrf", &own)]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/login")));
}

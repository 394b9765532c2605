//! The operator console's sign-in: sessions, sign-out, lockout, CSRF, idle expiry and scopes,
//! through its HTML forms as a browser sends them.

use assessment_partner::entity::audit_event;
use sea_orm::EntityTrait;

use crate::candidate::capture;
use crate::helpers::*;
use crate::operators::operator;

pub const EMAIL: &str = "ops@example.com";
pub const PASSWORD: &str = "a-very-long-operator-password";

/// A browser on the console: its cookies, sent back as a browser would.
pub struct Browser<'a> {
    app: &'a TestApp,
    pub cookies: std::collections::BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: Default::default(),
        }
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A request with this browser's cookies, the answer as it came (cookies not kept).
    pub async fn send(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.app
            .http
            .request(method, self.app.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap()
    }

    /// (status, body, Location).
    pub async fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        let response = self
            .app
            .http
            .get(self.app.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, Option<String>) {
        let response = self
            .app
            .http
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.answer(response).await
    }

    async fn answer(&mut self, response: reqwest::Response) -> (u16, String, Option<String>) {
        self.keep_cookies(&response);
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, response.text().await.unwrap(), location)
    }

    /// The CSRF token of the sign-in page (which sets its cookie).
    pub async fn csrf(&mut self) -> String {
        let (status, page, _) = self.get("/console/login").await;
        assert_eq!(status, 200);
        capture(&page, r#"name="csrf" value=""#, '"').remove(0)
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> (u16, String, Option<String>) {
        let csrf = self.csrf().await;
        self.post(
            "/console/login",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
    }
}

pub fn add_operator(app: &TestApp, scopes: &[&str]) {
    let mut args = vec!["add", "--email", EMAIL];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    args.push("--password-stdin");
    let (ok, out, err) = operator(app, &args, Some(&format!("{PASSWORD}\n")));
    assert!(ok, "{out}{err}");
}

#[tokio::test]
async fn an_operator_signs_in_sees_the_overview_and_signs_out() {
    let app = spawn_app().await;
    add_operator(&app, &["assessments.read", "deliveries.read"]);
    let ordered = app
        .order(
            "/recruitment/v1/assessment-link-order",
            &order_body("console-1", "c1@example.com"),
        )
        .await;
    assert_eq!(ordered.status(), 201);
    let mut browser = Browser::new(&app);
    let (status, _, location) = browser.get("/console").await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/login")));

    let (status, page, _) = browser.sign_in(EMAIL, "not-the-password-at-all").await;
    assert_eq!(status, 401);
    assert!(page.contains("Wrong e-mail address or password."), "{page}");
    assert!(
        !page.contains("not-the-password-at-all"),
        "a password is never shown back"
    );

    let (status, _, location) = browser.sign_in("OPS@example.com", PASSWORD).await;
    assert_eq!((status, location.as_deref()), (303, Some("/console")));
    assert!(browser.cookies.contains_key("ap_console"));
    let (status, page, _) = browser.get("/console").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Overview") && page.contains("pending"), "{page}");
    // Org A's one invited assessment, in its row of the table.
    assert!(
        page.contains(r#"<th scope="row">Org A</th><td class="n" data-label="invited">1</td>"#),
        "{page}"
    );
    assert!(page.contains(EMAIL));
    assert!(!page.contains("argon2") && !page.contains(PASSWORD));

    let token = capture(&page, r#"name="csrf" value=""#, '"').remove(0);
    let session = browser.cookies["ap_console"].clone();
    let (status, _, location) = browser.post("/console/logout", &[("csrf", &token)]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/login")));
    // The old cookie no longer works, even sent again by hand.
    browser.cookies.insert("ap_console".into(), session);
    let (status, _, location) = browser.get("/console").await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/login")));

    let actions: Vec<(String, String)> = audit_event::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action))
        .collect();
    for action in ["console.sign_in", "console.sign_out"] {
        assert!(
            actions.contains(&(format!("console:{EMAIL}"), action.to_owned())),
            "{actions:?}"
        );
    }
}

#[tokio::test]
async fn five_failed_sign_ins_lock_the_address_even_for_the_right_password() {
    let app = spawn_app().await;
    add_operator(&app, &["deliveries.read"]);
    let mut browser = Browser::new(&app);
    for attempt in 1..=5 {
        let (status, page, _) = browser.sign_in(EMAIL, "wrong-password-number-x").await;
        assert_eq!(status, 401, "attempt {attempt}");
        assert_eq!(page.contains("locked until"), attempt == 5, "attempt {attempt}: {page}");
    }
    let (status, page, _) = browser.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(status, 429);
    assert!(page.contains("Even the right password is refused"), "{page}");
    assert!(!browser.cookies.contains_key("ap_console"));

    // An address nobody has locks the same way: a lock tells nothing about who exists.
    for _ in 1..=5 {
        browser.sign_in("nobody@example.com", "wrong-password-number-x").await;
    }
    let (status, _, _) = browser.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(status, 429);

    // After AP_CONSOLE_LOCKOUT (15 min) the right password works again.
    app.clock.advance(chrono::Duration::seconds(15 * 60 + 1));
    let (status, _, location) = browser.sign_in(EMAIL, PASSWORD).await;
    assert_eq!((status, location.as_deref()), (303, Some("/console")));
}

/// One sign-in post with `browser`'s cookies and CSRF token: (status, body, session cookie set).
async fn post_sign_in(app: &TestApp, cookie: &str, csrf: &str, email: &str, password: &str) -> (u16, String, bool) {
    let response = app
        .http
        .post(app.url("/console/login"))
        .header("cookie", cookie)
        .form(&[("csrf", csrf), ("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap_or_default().starts_with("ap_console="));
    (response.status().as_u16(), response.text().await.unwrap(), session)
}

#[tokio::test]
async fn wrong_passwords_sent_at_once_are_checked_five_times_at_most_and_the_right_one_among_them_is_refused() {
    let app = spawn_app().await;
    add_operator(&app, &["deliveries.read"]);
    let mut browser = Browser::new(&app);
    let csrf = browser.csrf().await;
    let cookie = browser.cookie_header();
    let wrong = "wrong-password-number-x";
    let attempt = |password: &'static str| post_sign_in(&app, &cookie, &csrf, EMAIL, password);
    // Twenty wrong passwords at once, then twenty more at once with the right one in the middle.
    let mut answers = futures_util::future::join_all((0..20).map(|_| attempt(wrong))).await;
    let later = (0..21).map(|i| attempt(if i == 10 { PASSWORD } else { wrong }));
    let mut second = futures_util::future::join_all(later).await;
    let right = second.remove(10);
    answers.extend(second);

    let checked = answers.iter().filter(|(status, _, _)| *status == 401).count();
    let locked = answers
        .iter()
        .filter(|(status, page, _)| *status == 429 && page.contains("Even the right password is refused"))
        .count();
    assert_eq!(
        (checked, locked),
        (5, 35),
        "five passwords checked, the rest refused as locked"
    );
    let (status, page, session) = right;
    assert_eq!(status, 429, "{page}");
    assert!(
        page.contains("locked until") && !session,
        "the right password did not sign in"
    );

    // Once the lock has run out the count starts again, and the right password signs in.
    app.clock.advance(chrono::Duration::seconds(15 * 60 + 1));
    let (status, _, session) = attempt(PASSWORD).await;
    assert_eq!((status, session), (303, true));
}

#[tokio::test]
async fn failed_sign_ins_from_one_client_are_limited_whatever_the_address_typed() {
    use assessment_partner::ratelimit::{LimitSettings, Rate};
    let app = spawn_app()
        .with(|s| {
            s.rate_limits = LimitSettings {
                failed_auth: Rate::per_minute(1, 3),
                ..generous_limits()
            }
        })
        .await;
    add_operator(&app, &["deliveries.read"]);
    let mut browser = Browser::new(&app);
    let csrf = browser.csrf().await;
    let cookie = browser.cookie_header();
    // Three addresses, one failure each: no address is locked, but the client has used up its
    // failed attempts.
    for i in 1..=3 {
        let (status, page, _) = post_sign_in(&app, &cookie, &csrf, &format!("guess{i}@example.com"), "guess").await;
        assert_eq!(status, 401, "{page}");
    }
    let response = app
        .http
        .post(app.url("/console/login"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "guess4@example.com"),
            ("password", "guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(response.headers().contains_key("retry-after"));
    let page = response.text().await.unwrap();
    assert!(page.contains("Too many failed sign-ins from your address"), "{page}");
    // While the client waits, no password of its is checked, not even the right one.
    let (status, page, session) = post_sign_in(&app, &cookie, &csrf, EMAIL, PASSWORD).await;
    assert_eq!((status, session), (429, false), "{page}");
    assert!(page.contains("Too many failed sign-ins from your address"), "{page}");
}

#[tokio::test]
async fn a_form_without_its_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    add_operator(&app, &["deliveries.read"]);
    let mut browser = Browser::new(&app);
    let (status, _, _) = browser
        .post("/console/login", &[("email", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(status, 403);
    assert!(
        !browser.cookies.contains_key("ap_console"),
        "no session without the token"
    );
    let (status, _, _) = browser.sign_in(EMAIL, PASSWORD).await;
    assert_eq!(status, 303);
    let forged = "A".repeat(43);
    let (status, _, _) = browser.post("/console/logout", &[("csrf", &forged)]).await;
    assert_eq!(status, 403);
    let (status, _, _) = browser.get("/console").await;
    assert_eq!(status, 200, "still signed in");
}

#[tokio::test]
async fn a_session_ends_after_its_idle_time_and_scopes_decide_what_is_shown() {
    let app = spawn_app().await;
    add_operator(&app, &["audit.read"]);
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    let (status, page, _) = browser.get("/console").await;
    assert_eq!(
        status, 403,
        "the overview needs assessments.read or deliveries.read: {page}"
    );

    // Used within the idle time it lasts; eight idle hours end it.
    app.clock.advance(chrono::Duration::seconds(7 * 3600));
    assert_eq!(browser.get("/console").await.0, 403, "still signed in");
    app.clock.advance(chrono::Duration::seconds(8 * 3600 + 1));
    let (status, _, location) = browser.get("/console").await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/login")));
}

#[tokio::test]
async fn the_audit_log_page_lists_and_filters_events() {
    let app = spawn_app().await;
    add_operator(&app, &["audit.read"]);
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(EMAIL, "wrong-password-for-audit").await.0, 401);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    let (status, page, _) = browser.get("/console/audit").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("console.sign_in") && page.contains(&format!("console:{EMAIL}")),
        "{page}"
    );
    assert!(
        page.contains("1 event(s)"),
        "a failed sign-in is no operator's action: {page}"
    );

    let (status, page, _) = browser.get("/console/audit?action=console.sign_out").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("0 event(s)") && !page.contains(r#"data-label="Action">console.sign_in</td>"#),
        "{page}"
    );
    let (status, page, _) = browser.get("/console/audit?from=yesterday").await;
    assert_eq!(status, 400);
    assert!(page.contains("from must be a date"), "{page}");
    let tomorrow = (app.clock.now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let (_, page, _) = browser.get(&format!("/console/audit?from={tomorrow}")).await;
    assert!(page.contains("0 event(s)"), "{page}");
    // The overview is not this operator's: 403.
    assert_eq!(browser.get("/console").await.0, 403);
}

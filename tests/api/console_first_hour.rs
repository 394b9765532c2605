//! An operator's first hour in the console: the README's `operator add` opens every page the
//! navigation then lists; a narrower operator sees only their pages and a refusal that keeps the
//! way back; wrong addresses are HTML pages; the lists open newest first; every table cell says
//! which column it is in, for the stacked rows of a narrow screen.
use crate::candidate::capture;
use crate::console::{Browser, EMAIL, PASSWORD, add_operator};
use crate::helpers::*;
use crate::operators::operator;

/// The arguments of the README's first `operator add`, as a reader would paste them.
fn readme_operator_add() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("-- operator add").expect("the README shows `operator add`");
    let command = readme[start + "-- operator ".len()..]
        .split("```")
        .next()
        .unwrap()
        .replace("\\\n", " ");
    let line = command.lines().next().unwrap();
    line.split_whitespace().map(str::to_owned).collect()
}

/// The links of a page's navigation.
fn navigation(page: &str) -> Vec<String> {
    let nav = page
        .split(r#"<nav aria-label="Console">"#)
        .nth(1)
        .and_then(|rest| rest.split("</nav>").next())
        .unwrap_or_else(|| panic!("a navigation: {page}"));
    capture(nav, r#"href=""#, '"')
}

#[tokio::test]
async fn the_readme_operator_opens_every_page_the_navigation_lists() {
    let app = spawn_app().await;
    let args = readme_operator_add();
    assert!(
        args.iter().any(|a| a == "--email") && args.iter().any(|a| a == "--password-stdin"),
        "{args:?}"
    );
    let email_at = args.iter().position(|a| a == "--email").unwrap() + 1;
    let email = args[email_at].clone();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out, err) = operator(&app, &args, Some(&format!("{PASSWORD}\n")));
    assert!(ok, "the README's command works as written: {out}{err}");

    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(&email, PASSWORD).await.0, 303);
    let (status, overview, _) = browser.get("/console").await;
    assert_eq!(status, 200, "{overview}");
    let links = navigation(&overview);
    for page in [
        "/console",
        "/console/assessments",
        "/console/deliveries",
        "/console/organizations",
        "/console/integrators",
        "/console/audit",
    ] {
        assert!(links.iter().any(|l| l == page), "{page} in the navigation: {links:?}");
    }
    for link in &links {
        let (status, page, _) = browser.get(link).await;
        assert_eq!(status, 200, "{link} opens for the README's operator: {page}");
    }
}

#[tokio::test]
async fn a_narrow_operator_sees_only_their_pages_and_a_refusal_keeps_the_way_back() {
    let app = spawn_app().await;
    add_operator(&app, &["deliveries.read"]);
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    let (status, page, _) = browser.get("/console/deliveries").await;
    assert_eq!(status, 200);
    assert_eq!(navigation(&page), ["/console", "/console/deliveries"]);

    for (path, scope) in [
        ("/console/audit", "audit.read"),
        ("/console/organizations", "organizations.read"),
        ("/console/assessments", "assessments.read"),
    ] {
        let (status, refused, _) = browser.get(path).await;
        assert_eq!(status, 403, "{path}: {refused}");
        assert_eq!(
            navigation(&refused),
            ["/console", "/console/deliveries"],
            "the refusal keeps the navigation: {refused}"
        );
        assert!(refused.contains(scope), "it names the scope {scope}: {refused}");
        assert!(
            refused.contains(r#"<a href="/console">Back</a>"#),
            "a way back to a page this operator may open: {refused}"
        );
        assert!(refused.contains("Sign out"), "still signed in: {refused}");
    }
}

#[tokio::test]
async fn a_wrong_console_address_or_method_is_an_html_page() {
    let app = spawn_app().await;
    add_operator(&app, &["deliveries.read"]);
    for signed_in in [false, true] {
        let mut browser = Browser::new(&app);
        if signed_in {
            assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
        }
        for path in ["/console/nope", "/console/deliveries/x/y/z", "/console/"] {
            let response = browser.send(reqwest::Method::GET, path).await;
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = response.text().await.unwrap();
            if path == "/console/" {
                // The trailing slash is trimmed: the overview (or the sign-in, before it).
                assert!(status == 200 || status == 303, "{path}: {status}");
                continue;
            }
            assert_eq!(status, 404, "{path}: {body}");
            assert!(kind.starts_with("text/html"), "{path}: {kind}");
            assert!(body.contains("No such page") && body.contains("/console"), "{body}");
        }
        let response = browser.send(reqwest::Method::PUT, "/console/assessments").await;
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "GET, POST");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let response = browser.send(reqwest::Method::GET, "/console/deliveries/x/replay").await;
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "POST");
    }
    // Everything else keeps its surface's format.
    let api = app.http.get(app.url("/admin/v1/nope")).send().await.unwrap();
    assert_eq!(api.status(), 404);
    assert!(api.headers()["content-type"].to_str().unwrap().contains("json"));
}

/// The text of the first cell of each row of the page's table, in order.
fn first_cells(page: &str) -> Vec<String> {
    page.split("<tbody>")
        .nth(1)
        .unwrap_or_default()
        .split("<tr>")
        .skip(1)
        .map(|row| {
            let cell = row.split("</td>").next().unwrap_or_default();
            let text = cell.rsplit('>').next().unwrap_or_default();
            text.split('<').next().unwrap_or_default().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_lists_open_newest_first_and_every_cell_names_its_column() {
    let app = spawn_app().without_worker().await;
    add_operator(&app, &["deliveries.read", "assessments.read", "audit.read"]);
    for n in 0..3 {
        let body = order_body(&format!("newest-{n}"), &format!("newest.{n}@example.com"));
        let ordered = app.order("/recruitment/v1/assessment-order", &body).await;
        assert_eq!(ordered.status(), 201);
    }
    let mut browser = Browser::new(&app);
    // In the audit log: sign-in, sign-in, sign-out, sign-in.
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);
    let (_, page, _) = browser.get("/console").await;
    let token = capture(&page, r#"name="csrf" value=""#, '"').remove(0);
    assert_eq!(browser.post("/console/logout", &[("csrf", &token)]).await.0, 303);
    assert_eq!(browser.sign_in(EMAIL, PASSWORD).await.0, 303);

    for (path, newest) in [
        ("/console/assessments", ["newest-2<", "newest-1<", "newest-0<"]),
        ("/console/deliveries", ["newest.2@", "newest.1@", "newest.0@"]),
    ] {
        let (status, page, _) = browser.get(path).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("newest first"), "{path}: {page}");
        let at: Vec<usize> = newest
            .iter()
            .map(|t| page.find(t).unwrap_or_else(|| panic!("{t} on {path}: {page}")))
            .collect();
        assert!(at[0] < at[1] && at[1] < at[2], "{path} opens with the newest: {page}");
        let times = first_cells(&page);
        let mut sorted = times.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "{path}: the times go back");
    }
    let (_, audit, _) = browser.get("/console/audit").await;
    assert!(
        audit.contains("3 event(s), newest first") || audit.contains("4 event(s), newest first"),
        "{audit}"
    );
    let actions: Vec<String> = capture(&audit, r#"data-label="Action">"#, '<');
    assert_eq!(
        actions,
        [
            "console.sign_in",
            "console.sign_out",
            "console.sign_in",
            "console.sign_in"
        ],
        "newest first: {audit}"
    );

    // Every cell carries its column's heading, which the narrow layout shows beside its value.
    for path in [
        "/console",
        "/console/assessments",
        "/console/deliveries",
        "/console/audit",
    ] {
        let (_, whole, _) = browser.get(path).await;
        assert!(whole.contains("table.stack td::before"), "{path}: the narrow layout");
        let page = whole.split("</style>").nth(1).unwrap();
        let headings = capture(page, r#"<th scope="col">"#, '<');
        let cells = page.matches("<td").count();
        assert!(cells > 0, "{path} has a table");
        let labelled: Vec<String> = capture(page, r#"data-label=""#, '"');
        assert_eq!(labelled.len(), cells, "{path}: every cell is labelled");
        for label in labelled.iter().filter(|l| !l.is_empty()) {
            assert!(
                headings.contains(label),
                "{path}: {label} is a column heading {headings:?}"
            );
        }
    }
}

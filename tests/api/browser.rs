//! End-to-end tests in a real headless browser (Debian's chromium + chromedriver): a candidate
//! opens the invitation, answers, submits and the report shows the score; an operator signs in
//! to the console, finds an assessment, reads why its push failed, replays it and signs out.
//!
//! It needs chromium and chromedriver, so it is `#[ignore]`d in a plain `cargo test`; `.ci/run`
//! installs both and runs it explicitly (`cargo test --test api -- --ignored browser`), and fails
//! if they are missing.
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::helpers::*;
use crate::receiver::Receiver;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver on a port it picks itself (`--port=0`), and that port, read from its first
/// words ("… started successfully on port N."), so no other process can take the port between
/// a pick and the bind.
fn chromedriver(binary: &str) -> (Driver, u16) {
    use std::io::BufRead;

    let mut child = Command::new(binary)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let stdout = child.stdout.take().expect("stdout is piped");
    let driver = Driver(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let port = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let (_, rest) = line.split_once("started successfully on port ")?;
            rest.trim_end_matches('.').parse::<u16>().ok()
        })
        .expect("chromedriver says which port it listens on");
    // Its later lines are drained so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (driver, port)
}

fn find(binary: &str, candidates: &[&str]) -> String {
    std::env::var(binary.to_ascii_uppercase().replace('-', "_"))
        .ok()
        .or_else(|| {
            candidates
                .iter()
                .find(|p| std::path::Path::new(p).exists())
                .map(|p| (*p).to_owned())
        })
        .unwrap_or_else(|| panic!("{binary} is not installed (apt-get install chromium chromium-driver)"))
}

/// A headless Chromium driven through chromedriver on a free loopback port; dropped, both end.
struct Headless {
    client: fantoccini::Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

async fn headless() -> Headless {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let chromium = find("chromium", &["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    let chromedriver_binary = find("chromedriver", &["/usr/bin/chromedriver"]);
    let (driver, port) = chromedriver(&chromedriver_binary);
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    let client = eventually(Duration::from_secs(5), async || {
        ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| format!("chromedriver does not answer: {e}"))
    })
    .await;
    Headless {
        client,
        _driver: driver,
        _profile: profile,
    }
}

/// Clicks the button with this label, as a person would.
async fn press(browser: &fantoccini::Client, label: &str) -> Result<(), fantoccini::error::CmdError> {
    let button = format!(r#"//button[normalize-space()="{label}"]"#);
    browser.find(Locator::XPath(&button)).await?.click().await
}

/// Waits (at most 10 s) until the browser is at `url`.
async fn arrive(browser: &fantoccini::Client, url: &url::Url) -> Result<(), fantoccini::error::CmdError> {
    browser.wait().at_most(Duration::from_secs(10)).for_url(url).await
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run installs them and runs this test"]
async fn browser_a_candidate_completes_the_assessment_in_a_real_browser() {
    let headless = headless().await;
    let browser = &headless.client;
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let mut body = order_body("browser-1", "browser@example.com");
    body["resultUpdateUrl"] = json!(receiver.url("/results/browser-1"));
    let link: serde_json::Value = app
        .order("/recruitment/v1/assessment-link-order", &body)
        .await
        .json()
        .await
        .unwrap();
    let link = link["assessmentPackageLink"].as_str().unwrap().to_owned();

    let outcome = async {
        browser.goto(&link).await?;
        press(browser, "Start the assessment").await?;
        let mut page = 1;
        loop {
            arrive(browser, &format!("{link}/q/{page}").parse().unwrap()).await?;
            // Click the chosen answer for each statement, as a person would.
            for radio in browser.find_all(Locator::Css("input[type=radio]")).await? {
                let name = radio.attr("name").await?.unwrap_or_default();
                let value = radio.attr("value").await?.unwrap_or_default();
                let reverse = name.ends_with("-3") || name.ends_with("-6");
                if value == if reverse { "2" } else { "4" } {
                    radio.click().await?;
                }
            }
            let label = browser.find(Locator::Css("button[type=submit]")).await?.text().await?;
            browser.find(Locator::Css("button[type=submit]")).await?.click().await?;
            if label == "Save and review" {
                break;
            }
            page += 1;
        }
        arrive(browser, &format!("{link}/review").parse().unwrap()).await?;
        press(browser, "Submit my answers").await?;
        browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//h1[normalize-space()='Thank you']"))
            .await?;
        let thanks = browser.find(Locator::Css("h1")).await?.text().await?;
        Ok::<_, fantoccini::error::CmdError>(thanks)
    }
    .await;
    let thanks = outcome.expect("the browser walks through the assessment");
    assert_eq!(thanks, "Thank you");

    let pushed = receiver.wait_for(1, Duration::from_secs(20)).await[0].json();
    assert_eq!(pushed["score"], 75);
    browser
        .goto(pushed["assessmentReportUrl"].as_str().unwrap())
        .await
        .unwrap();
    let score = browser
        .find(Locator::Css(".score"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(score.starts_with("75"), "the report shows the score: {score}");
    browser.clone().close().await.ok();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run installs them and runs this test"]
async fn browser_an_operator_replays_a_failed_push_and_erases_the_candidate_from_the_console() {
    use crate::console::{EMAIL, PASSWORD, add_operator};

    let headless = headless().await;
    let browser = &headless.client;
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    add_operator(&app, &["assessments.read", "deliveries.write", "candidates.erase"]);
    let (id, delivery_id) = app.dead_result_push(&receiver, "console-e2e").await;
    // `dead_result_push` orders for `{resultId}@example.com`.
    let candidate = "console-e2e@example.com";

    let url = |path: &str| app.url(path).parse::<url::Url>().unwrap();
    let outcome = async {
        browser.goto(url("/console").as_str()).await?;
        arrive(browser, &url("/console/login")).await?;
        browser.find(Locator::Id("email")).await?.send_keys(EMAIL).await?;
        browser.find(Locator::Id("password")).await?.send_keys(PASSWORD).await?;
        press(browser, "Sign in").await?;
        arrive(browser, &url("/console")).await?;

        browser.find(Locator::LinkText("Assessments")).await?.click().await?;
        arrive(browser, &url("/console/assessments")).await?;
        browser.find(Locator::Id("q")).await?.send_keys("console-e2e").await?;
        press(browser, "Search").await?;
        // The search is sent as a POST (no address in a URL): its answer says what it matched.
        browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//p[@role='status' and contains(., 'console-e2e')]"))
            .await?;
        let row = format!("a[href='/console/assessments/{id}']");
        browser.find(Locator::Css(&row)).await?.click().await?;
        arrive(browser, &url(&format!("/console/assessments/{id}"))).await?;
        let timeline = browser.find(Locator::Css("main")).await?.text().await?;

        receiver.answer_always(200);
        press(browser, "Replay").await?;
        arrive(browser, &url(&format!("/console/deliveries/{delivery_id}?replayed=1"))).await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        while browser.find(Locator::Css(".state.delivered")).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the replayed push is never shown delivered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            browser.refresh().await?;
        }

        // Back to the timeline, then the candidate's data: erased once the address is typed.
        browser
            .find(Locator::LinkText("The assessment's timeline"))
            .await?
            .click()
            .await?;
        arrive(browser, &url(&format!("/console/assessments/{id}"))).await?;
        browser
            .find(Locator::XPath(
                "//a[starts-with(normalize-space(), \"This candidate's data\")]",
            ))
            .await?
            .click()
            .await?;
        arrive(browser, &url(&format!("/console/candidates?assessment={id}"))).await?;
        browser.find(Locator::Id("confirm")).await?.send_keys(candidate).await?;
        press(browser, "Erase this candidate's data").await?;
        let erased = browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//h1[normalize-space()='Erased']"))
            .await?;
        let erased = erased.text().await?;

        press(browser, "Sign out").await?;
        arrive(browser, &url("/console/login")).await?;
        browser.goto(url("/console/deliveries").as_str()).await?;
        let after = browser.current_url().await?;
        Ok::<_, fantoccini::error::CmdError>((timeline, erased, after))
    }
    .await;
    let (timeline, erased, after) = outcome.expect("the browser walks through the console");
    assert_eq!(erased, "Erased");
    let held = assessment_partner::entity::candidate::Entity::find()
        .filter(assessment_partner::entity::candidate::Column::Email.eq(candidate))
        .all(&app.db)
        .await
        .unwrap();
    assert!(held.is_empty(), "the candidate's address is gone");
    assert!(timeline.contains("Result push given up (dead)"), "{timeline}");
    assert!(timeline.contains("410"), "why it failed: {timeline}");
    assert_eq!(after.path(), "/console/login", "signed out");
    assert_eq!(receiver.requests().len(), 2, "the failed attempt and the replay");
    browser.clone().close().await.ok();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run installs them and runs this test"]
async fn browser_at_390_px_every_console_table_shows_every_column() {
    use crate::console::{EMAIL, PASSWORD, add_operator};

    let headless = headless().await;
    let browser = &headless.client;
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    add_operator(&app, &["assessments.read", "deliveries.read", "audit.read"]);
    let (id, delivery_id) = app.dead_result_push(&receiver, "narrow-screen").await;

    // Each cell's box within the screen, and its column's heading shown beside its value.
    const MEASURE: &str = r#"
        const width = document.documentElement.clientWidth;
        const cells = [...document.querySelectorAll("main td")];
        const outside = cells.filter(td => { const r = td.getBoundingClientRect(); return r.left < -1 || r.right > width + 1; });
        const unlabelled = cells.filter(td => td.dataset.label !== "" && getComputedStyle(td, "::before").content !== JSON.stringify(td.dataset.label));
        return [width, cells.length, outside.map(td => td.dataset.label), unlabelled.map(td => td.dataset.label)];
    "#;
    let url = |path: &str| app.url(path).parse::<url::Url>().unwrap();
    let outcome = async {
        browser.set_window_size(390, 844).await?;
        browser.goto(url("/console/login").as_str()).await?;
        browser.find(Locator::Id("email")).await?.send_keys(EMAIL).await?;
        browser.find(Locator::Id("password")).await?.send_keys(PASSWORD).await?;
        press(browser, "Sign in").await?;
        arrive(browser, &url("/console")).await?;
        let mut measured = Vec::new();
        for path in [
            "/console".to_owned(),
            "/console/assessments".to_owned(),
            "/console/deliveries".to_owned(),
            format!("/console/deliveries/{delivery_id}"),
            format!("/console/assessments/{id}"),
            "/console/audit".to_owned(),
        ] {
            browser.goto(url(&path).as_str()).await?;
            measured.push((path, browser.execute(MEASURE, vec![]).await?));
        }
        Ok::<_, fantoccini::error::CmdError>(measured)
    }
    .await;
    let measured = outcome.expect("the browser opens the console's pages");
    for (path, m) in measured {
        let width = m[0].as_f64().unwrap();
        assert!(width <= 400.0, "{path}: a phone's width, not {width}");
        assert!(m[1].as_u64().unwrap() > 0, "{path} has a table");
        assert_eq!(m[2], json!([]), "{path}: cells beyond the screen's edge");
        assert_eq!(m[3], json!([]), "{path}: cells without their heading shown");
    }
    browser.clone().close().await.ok();
}

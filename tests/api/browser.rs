//! One end-to-end test in a real headless browser (Debian's chromium + chromedriver): open the
//! invitation, answer, submit, and read the score on the report page.
//!
//! It needs chromium and chromedriver, so it is `#[ignore]`d in a plain `cargo test`; `.ci/run`
//! installs both and runs it explicitly (`cargo test --test api -- --ignored browser`), and fails
//! if they are missing.
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run installs them and runs this test"]
async fn browser_a_candidate_completes_the_assessment_in_a_real_browser() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let chromium = find("chromium", &["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    let chromedriver = find("chromedriver", &["/usr/bin/chromedriver"]);
    let port = free_port();
    let _driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
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
    let mut browser = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                browser = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let browser = browser.expect("chromedriver answers");

    let receiver = Receiver::start().await;
    let app = spawn_fast_app().await;
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
        browser
            .find(Locator::XPath("//button[normalize-space()='Start the assessment']"))
            .await?
            .click()
            .await?;
        let mut page = 1;
        loop {
            browser
                .wait()
                .at_most(Duration::from_secs(10))
                .for_url(&format!("{link}/q/{page}").parse().unwrap())
                .await?;
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
        browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_url(&format!("{link}/review").parse().unwrap())
            .await?;
        browser
            .find(Locator::XPath("//button[normalize-space()='Submit my answers']"))
            .await?
            .click()
            .await?;
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
    browser.close().await.ok();
}

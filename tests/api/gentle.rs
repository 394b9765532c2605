//! Delivery that is gentle to receivers: a per-target limit of attempts in flight, pauses on
//! `429`/`503` with `Retry-After`, and a circuit breaker, with real local receivers.
use std::time::{Duration, Instant};

use assessment_partner::auth::admin::Scope;
use assessment_partner::config::Settings;
use serde_json::Value;

use crate::delivery::result_input;
use crate::helpers::*;
use crate::receiver::Receiver;

impl TestApp {
    /// `n` result pushes to `receiver`, each for its own assessment.
    async fn pushes_to(&self, receiver: &Receiver, prefix: &str, n: usize) {
        for i in 0..n {
            let result_id = format!("{prefix}-{i}");
            let id = self
                .order_to(&receiver.url(&format!("/results/{result_id}")), &result_id)
                .await;
            assert_eq!(self.post_result(&id, &result_input()).await.status(), 200);
        }
    }

    async fn targets(&self) -> Value {
        let response = self
            .admin_call(
                reqwest::Method::GET,
                "/admin/v1/delivery-targets",
                Scope::DeliveriesRead,
                None,
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// This instance's view of `receiver` once `check` holds (within [`WAIT`]).
    async fn target_until(&self, receiver: &Receiver, check: impl Fn(&Value) -> bool) -> Value {
        let name = format!("http://127.0.0.1:{}", receiver.port);
        eventually(WAIT, async || {
            let targets = self.targets().await;
            let found = targets["items"]
                .as_array()
                .and_then(|items| items.iter().find(|t| t["target"] == name.as_str()))
                .cloned()
                .unwrap_or(Value::Null);
            match check(&found) {
                true => Ok(found),
                false => Err(format!("{name} never got there: {targets}")),
            }
        })
        .await
    }
}

fn two_per_target(s: &mut Settings) {
    s.delivery.per_target = 2;
}

#[tokio::test]
async fn a_slow_receiver_gets_its_share_and_a_fast_one_is_not_kept_waiting() {
    let slow = Receiver::start().await;
    slow.delay(Duration::from_millis(1500));
    let fast = Receiver::start().await;
    let app = spawn_app().fast().with(two_per_target).await;
    app.pushes_to(&slow, "slow", 6).await;
    // The slow one answers its first two; the rest wait without holding the worker's places.
    slow.wait_for_arrivals(2, WAIT).await;
    let asked = Instant::now();
    app.pushes_to(&fast, "fast", 1).await;
    fast.wait_for(1, WAIT).await;
    assert!(
        asked.elapsed() < Duration::from_millis(1200),
        "the fast receiver's push went while the slow one was busy: {:?}",
        asked.elapsed()
    );
    assert_eq!(slow.arrival_times().len(), 2, "the slow one still has its first two");
    let waiting = app.target_until(&slow, |t| t["waiting"].as_u64() > Some(0)).await;
    assert_eq!(waiting["inFlight"], 2);
    slow.wait_for(6, WAIT).await;
    app.wait_until_settled().await;
    assert_eq!(slow.most_in_flight(), 2, "never more than the per-target limit at once");
}

/// Each instance keeps its own limit: two instances on one database send at most twice as many.
#[tokio::test]
async fn each_instance_keeps_its_own_per_target_limit() {
    let slow = Receiver::start().await;
    slow.delay(Duration::from_millis(400));
    let api = spawn_app().fast().without_worker().with(two_per_target).await;
    api.pushes_to(&slow, "both", 12).await;
    let one = spawn_app().fast().joining(&api).with(two_per_target).await;
    let two = spawn_app().fast().joining(&api).with(two_per_target).await;
    slow.wait_for(12, WAIT).await;
    one.wait_until_settled().await;
    two.wait_until_settled().await;
    let most = slow.most_in_flight();
    assert!(most <= 4, "two instances, two each: {most} at once");
}

#[tokio::test]
async fn retry_after_pauses_every_row_to_the_receiver_until_it_is_over() {
    let receiver = Receiver::start().await;
    // Both first attempts are in flight when the first answer, a 429, comes back.
    receiver.delay(Duration::from_millis(300));
    receiver.answer_next_retry_after(429, 5);
    let app = spawn_app().fast().with(two_per_target).await;
    app.pushes_to(&receiver, "ra", 6).await;
    let paused = app.target_until(&receiver, |t| t["pausedUntil"].is_string()).await;
    assert_eq!(paused["pauseReason"], "throttled (429 Retry-After)");
    // The admin view of a row to that receiver says so too.
    let rows = app.deliveries("?kind=result&state=pending").await;
    assert!(
        rows["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["targetPausedUntil"] == paused["pausedUntil"]),
        "{rows}"
    );
    receiver.wait_for(7, WAIT).await;
    app.wait_until_settled().await;
    let times = receiver.arrival_times();
    assert_eq!(times.len(), 7, "six pushes and the one retried");
    let first = times[0];
    let early: Vec<_> = times.iter().filter(|t| **t < first + Duration::from_secs(5)).collect();
    assert!(
        early.len() <= 2,
        "at most the per-target limit before the 5 s are up: {}",
        early.len()
    );
    assert!(
        receiver.most_in_flight() <= 2,
        "released at the per-target limit, not all at once"
    );
    let page = app.deliveries("?kind=result&state=delivered").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(6));
}

#[tokio::test]
async fn refused_connections_open_the_breaker_and_an_answer_closes_it() {
    let receiver = Receiver::start().await;
    receiver.stop().await;
    let app = spawn_app()
        .fast()
        .with(|s| {
            // Each row's next retry step (3 s) is also how long the open breaker pauses the target.
            s.delivery.retry_schedule = vec![Duration::from_secs(3)];
        })
        .await;
    app.pushes_to(&receiver, "brk", 4).await;
    let failing = app
        .target_until(&receiver, |t| t["consecutiveFailures"].as_u64() == Some(4))
        .await;
    assert_eq!(failing["breaker"], "closed", "four refusals are not enough");
    app.pushes_to(&receiver, "brk5", 1).await;
    let open = app.target_until(&receiver, |t| t["breaker"] == "open").await;
    assert_eq!(open["pauseReason"], "unreachable (circuit breaker open)");
    assert!(open["pausedUntil"].is_string());
    let metrics = app.metrics_text().await;
    let gauge = format!(
        "ap_delivery_target_breaker_open{{target=\"http://127.0.0.1:{}\"}} 1",
        receiver.port
    );
    assert!(metrics.contains(&gauge), "{metrics}");

    receiver.restart().await;
    receiver.wait_for(5, WAIT).await;
    app.wait_until_settled().await;
    let page = app.deliveries("?kind=result&state=delivered").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(5));
    // Closed and idle: the target is no longer shown.
    app.target_until(&receiver, Value::is_null).await;
}

#[tokio::test]
async fn an_integrators_cap_spaces_its_deliveries() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let path = format!("/admin/v1/integrators/{INTEGRATOR_A}");
    let put = |cap: Value| {
        let body = serde_json::json!({ "name": "ATS A", "maxDeliveriesPerSecond": cap });
        app.admin_call(reqwest::Method::PUT, &path, Scope::IntegratorsWrite, Some(body))
    };
    let refused = expect_problem(put(serde_json::json!(0)).await, 422).await;
    assert_eq!(fields(&refused), ["maxDeliveriesPerSecond"]);
    let capped: Value = put(serde_json::json!(4)).await.json().await.unwrap();
    assert_eq!(capped["maxDeliveriesPerSecond"], 4);

    app.pushes_to(&receiver, "cap", 6).await;
    receiver.wait_for(6, WAIT).await;
    let times = receiver.arrival_times();
    let span = times[5] - times[0];
    // One every 250 ms: the sixth at least 1.25 s after the first (a little less for timing).
    assert!(span >= Duration::from_millis(1_150), "six pushes in {span:?}");

    let uncapped: Value = put(Value::Null).await.json().await.unwrap();
    assert_eq!(uncapped["maxDeliveriesPerSecond"], Value::Null);
}

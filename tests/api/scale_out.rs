//! Several instances on one database: rows are shared, none is sent twice, and a killed
//! instance's rows are taken over when its leases run out.
use std::collections::HashSet;
use std::time::Duration;

use assessment_partner::auth::admin::Scope;
use assessment_partner::delivery::outbox::{self, Kind, NewDelivery};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::json;

use crate::helpers::*;
use crate::receiver::Receiver;

async fn enqueue_many(app: &TestApp, receiver: &Receiver, n: usize) {
    let org = uuid::Uuid::parse_str(ORG_A).unwrap();
    let txn = app.db.begin().await.unwrap();
    for i in 0..n {
        let new = NewDelivery {
            kind: Kind::Result,
            organization_id: Some(org.into()),
            assessment_id: None,
            target: receiver.url(&format!("/bulk/{i}")),
            payload: json!({ "i": i }),
        };
        outbox::enqueue(&txn, new, app.clock.now()).await.unwrap();
    }
    txn.commit().await.unwrap();
}

async fn delivered_count(app: &TestApp) -> u64 {
    use assessment_partner::entity::delivery;
    delivery::Entity::find()
        .filter(delivery::Column::State.eq("delivered"))
        .count(&app.db)
        .await
        .unwrap()
}

fn delivered_by(metrics: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(r#"ap_deliveries_total{kind="result",outcome="delivered"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn two_instances_share_a_thousand_deliveries_and_send_none_twice() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(10));
    let seeder = spawn_app().fast().without_worker().await;
    enqueue_many(&seeder, &receiver, 1000).await;
    let (a, b) = tokio::join!(spawn_app().fast().joining(&seeder), spawn_app().fast().joining(&seeder));

    receiver.wait_for(1000, Duration::from_secs(120)).await;
    seeder.wait_until_settled().await;
    assert_eq!(receiver.requests().len(), 1000, "every delivery sent exactly once");
    let keys: HashSet<String> = receiver
        .requests()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 1000);
    eventually(WAIT, async || match delivered_count(&seeder).await {
        1000.. => Ok(()),
        n => Err(format!("{n} of 1000 rows recorded as delivered")),
    })
    .await;
    let by_a = delivered_by(
        &a.http
            .get(a.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let by_b = delivered_by(
        &b.http
            .get(b.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(by_a + by_b, 1000);
    assert!(by_a > 0 && by_b > 0, "both instances did work: {by_a} + {by_b}");
}

#[tokio::test]
async fn a_killed_instances_rows_are_taken_over_after_its_lease() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(200));
    let seeder = spawn_app().fast().without_worker().await;
    enqueue_many(&seeder, &receiver, 100).await;

    // A real second process, worker only, killed with SIGKILL mid-run.
    let mut child = child_command(&seeder, &["serve", "--worker-only"], &[])
        .spawn()
        .expect("start the child instance");
    receiver.wait_for(10, Duration::from_secs(30)).await;
    child.kill().expect("SIGKILL");
    child.wait().ok();
    let killed_at = tokio::time::Instant::now();
    let sent_by_child = receiver.requests().len();
    assert!(sent_by_child < 100, "the child was killed mid-run");

    // This instance finishes the work, including the rows the child had leased.
    let survivor = spawn_app().fast().joining(&seeder).await;
    eventually(Duration::from_secs(60), async || {
        match delivered_count(&survivor).await {
            100.. => Ok(()),
            n => Err(format!("rows left behind by the killed instance: {n} of 100 delivered")),
        }
    })
    .await;
    assert!(
        killed_at.elapsed() >= Duration::from_secs(2),
        "leased rows waited for their lease to run out"
    );
    let keys: HashSet<String> = receiver
        .requests()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 100, "every delivery arrived (at least once)");
}

/// A result push is written leased to the worker of the instance that recorded the result and
/// handed to it in memory (`delivery::handoff`), without a claim. If that instance dies while
/// sending it, the push is not lost: its lease runs out and another instance delivers it, with
/// the same `Idempotency-Key`.
#[tokio::test]
async fn a_result_push_handed_to_an_instance_killed_mid_attempt_is_delivered_by_another() {
    let receiver = Receiver::start().await;
    // The child's attempt is still waiting for its answer when the child is killed.
    receiver.delay(Duration::from_secs(10));
    let seeder = spawn_app().fast().without_worker().await;
    let assessment_id = seeder.order_to(&receiver.url("/handed"), "handed").await;

    let mut child = spawn_serving_child(&seeder).await;
    let child_url = child.base_url.clone();
    let token = child_admin_token(Scope::ResultsWrite);
    let recorded = seeder
        .http
        .post(format!("{child_url}/admin/v1/assessments/{assessment_id}/result"))
        .bearer_auth(token)
        .json(&crate::delivery::result_input())
        .send()
        .await
        .unwrap();
    assert_eq!(recorded.status(), 200);
    receiver.wait_for_arrivals(1, Duration::from_secs(10)).await;
    child.kill();
    let killed_at = tokio::time::Instant::now();
    let delivery_id = seeder.only_delivery_of(&assessment_id).await;

    receiver.delay(Duration::ZERO);
    let survivor = spawn_app().fast().joining(&seeder).await;
    survivor.wait_for_delivery(&delivery_id, "delivered").await;
    assert!(
        killed_at.elapsed() >= Duration::from_secs(2),
        "the push waited for the dead instance's lease to run out"
    );
    receiver.wait_for_arrivals(2, Duration::from_secs(1)).await;
    let answered = receiver.wait_for(1, Duration::from_secs(1)).await;
    assert!(
        answered
            .iter()
            .all(|r| r.header("idempotency-key") == Some(delivery_id.as_str())),
        "every attempt carries the delivery's key"
    );
}

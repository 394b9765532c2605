//! What the admin API shows of a delivery: bearer links redacted in every view of payloads and
//! answers (revealed only by an audited call), and why a dead delivery is dead, in words.
use assessment_partner::auth::admin::Scope;
use serde_json::{Value, json};

use crate::delivery::result_input;
use crate::helpers::*;
use crate::receiver::Receiver;

/// Every string in `value` that holds `needle`.
fn strings_with(value: &Value, needle: &str) -> Vec<String> {
    match value {
        Value::String(s) if s.contains(needle) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(|v| strings_with(v, needle)).collect(),
        Value::Object(map) => map.values().flat_map(|v| strings_with(v, needle)).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn links_in_a_delivery_are_redacted_unless_revealed_and_a_reveal_is_audited() {
    let receiver = Receiver::start().await;
    let app = spawn_app().fast().await;
    let base = app.address.clone();
    let echoed = format!("{base}/a/EchoedToken_123");
    receiver.answer_json(json!({"seen": echoed}));
    let id = app.order_to(&receiver.url("/results/links"), "links").await;
    app.post_result(&id, &result_input()).await;
    let delivery_id = app.only_delivery_of(&id).await;
    app.wait_for_delivery(&delivery_id, "delivered").await;
    let sent = receiver.requests().last().map(|r| r.json()).unwrap_or_default();
    let live = strings_with(&sent, &format!("{base}/r/"));
    assert!(!live.is_empty(), "the push carries the report link: {sent}");
    let token = live[0].rsplit('/').next().unwrap_or_default().to_owned();
    assert!(token.len() > 20, "a real token: {token}");

    // Read with deliveries.read: no token anywhere, the links kept with their token redacted.
    let read = app
        .admin_call(
            reqwest::Method::GET,
            &format!("/admin/v1/deliveries/{delivery_id}"),
            Scope::DeliveriesRead,
            None,
        )
        .await;
    assert_eq!(read.status(), 200);
    let shown: Value = read.json().await.unwrap();
    let text = shown.to_string();
    assert!(!text.contains(&token), "the report token is hidden: {text}");
    assert!(!text.contains("EchoedToken_123"), "the echoed token is hidden: {text}");
    assert!(
        strings_with(&shown["payload"], &format!("{base}/r/[redacted]")).len() == live.len(),
        "each link of the payload redacted: {shown}"
    );
    let excerpt = shown["attemptLog"][0]["responseExcerpt"].as_str().unwrap_or_default();
    assert!(excerpt.contains(&format!("{base}/a/[redacted]")), "{excerpt}");

    // The reveal needs deliveries.write, and answers the links whole.
    let refused = app
        .admin_call(
            reqwest::Method::POST,
            &format!("/admin/v1/deliveries/{delivery_id}/reveal"),
            Scope::DeliveriesRead,
            None,
        )
        .await;
    expect_problem(refused, 403).await;
    let revealed = app
        .admin_call(
            reqwest::Method::POST,
            &format!("/admin/v1/deliveries/{delivery_id}/reveal"),
            Scope::DeliveriesWrite,
            None,
        )
        .await;
    assert_eq!(revealed.status(), 200);
    let whole: Value = revealed.json().await.unwrap();
    assert_eq!(whole["payload"], sent, "the payload as it was sent");
    assert!(
        whole["attemptLog"][0]["responseExcerpt"]
            .as_str()
            .is_some_and(|x| x.contains(&echoed)),
        "{whole}"
    );
    let missing = app
        .admin_call(
            reqwest::Method::POST,
            &format!("/admin/v1/deliveries/{}/reveal", uuid::Uuid::now_v7()),
            Scope::DeliveriesWrite,
            None,
        )
        .await;
    expect_problem(missing, 404).await;

    // Both reveals are in the audit log, the refused one too.
    let events: Value = app
        .admin_call(
            reqwest::Method::GET,
            "/admin/v1/audit-events?action=delivery.reveal",
            Scope::AuditRead,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let items = events["items"].as_array().cloned().unwrap_or_default();
    let on_row: Vec<&Value> = items.iter().filter(|e| e["targetId"] == delivery_id.as_str()).collect();
    assert_eq!(on_row.len(), 2, "{events}");
    assert!(
        on_row
            .iter()
            .any(|e| e["outcome"] == "succeeded" && e["targetType"] == "delivery"),
        "{events}"
    );
    assert!(on_row.iter().any(|e| e["outcome"] == "refused"), "{events}");
    // Reading is not a reveal and is not recorded as one.
    assert_eq!(
        items.len(),
        3,
        "the two on the row and the one on a missing row: {events}"
    );
}

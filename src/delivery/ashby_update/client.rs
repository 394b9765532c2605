//! Calling Ashby: `assessment.update` with the customer's API key.
use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;

use crate::delivery::policy::Verdict;
use crate::delivery::push::HttpSender;
use crate::delivery::report::{AttemptReport, excerpt};

#[derive(Deserialize)]
struct Envelope {
    success: Option<bool>,
    #[serde(rename = "errorInfo")]
    error_info: Option<ErrorInfo>,
    #[serde(default)]
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct ErrorInfo {
    code: Option<String>,
    message: Option<String>,
    #[serde(rename = "requestId")]
    request_id: Option<String>,
}

/// Judges Ashby's answer: delivered only on 2xx with `success: true`; an HTTP 200 with
/// `success: false` is a failed attempt whose `errorInfo` is kept.
pub fn judge(status: u16, body: &[u8], retry_after: Option<std::time::Duration>) -> AttemptReport {
    let mut report = AttemptReport::answered(status, excerpt(body), retry_after);
    if report.verdict != Verdict::Delivered {
        if matches!(status, 401 | 403) {
            report.error = Some(format!(
                "HTTP {status}: Ashby refused the API key (missing, wrong, or without the candidatesWrite permission)"
            ));
        }
        return report;
    }
    match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope {
            success: Some(true), ..
        }) => report,
        Ok(envelope) => {
            let detail = match envelope.error_info {
                Some(info) => format!(
                    "Ashby answered success: false: {} ({}), requestId {}",
                    info.message.unwrap_or_default(),
                    info.code.unwrap_or_else(|| envelope.errors.join(", ")),
                    info.request_id.unwrap_or_default()
                ),
                None => format!("Ashby answered success: false ({})", envelope.errors.join(", ")),
            };
            AttemptReport {
                error: Some(detail),
                verdict: Verdict::Retry,
                ..report
            }
        }
        Err(_) => AttemptReport {
            error: Some("Ashby's answer is not its JSON envelope".into()),
            verdict: Verdict::Retry,
            ..report
        },
    }
}

/// One attempt of an `assessment.update`.
pub async fn post_update(
    http: &HttpSender,
    url: &str,
    api_key: &str,
    body: &[u8],
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> AttemptReport {
    let request = match http.post_to(url) {
        Ok(r) => r
            .basic_auth(api_key, Some(""))
            .header(ACCEPT, "application/json; version=1")
            .header(CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", idempotency_key)
            .body(body.to_vec()),
        Err(e) => return AttemptReport::failed(e),
    };
    match http.execute(request, now).await {
        Ok(answer) => judge(answer.status, &answer.body, answer.retry_after),
        Err(e) => AttemptReport::failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_needs_the_flag() {
        assert_eq!(
            judge(200, br#"{"success":true,"results":{}}"#, None).verdict,
            Verdict::Delivered
        );
        let failed = judge(
            200,
            br#"{"success":false,"errors":["invalid_input"],"errorInfo":{"code":"invalid_input","message":"bad timestamp","requestId":"req-1"}}"#,
            None,
        );
        assert_eq!(failed.verdict, Verdict::Retry);
        let error = failed.error.unwrap();
        assert!(
            error.contains("bad timestamp") && error.contains("invalid_input") && error.contains("req-1"),
            "{error}"
        );
        assert_eq!(judge(200, b"<html>", None).verdict, Verdict::Retry);
        assert_eq!(judge(403, b"", None).verdict, Verdict::Retry);
        assert_eq!(judge(410, b"", None).verdict, Verdict::Final);
    }
}

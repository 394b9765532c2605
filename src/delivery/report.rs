//! What one attempt found out.
use std::time::Duration;

use crate::delivery::policy::{Verdict, verdict};

pub const EXCERPT_LIMIT: usize = 4096;

#[derive(Debug, Clone)]
pub struct AttemptReport {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    pub retry_after: Option<Duration>,
    pub verdict: Verdict,
}

impl AttemptReport {
    /// No answer at all (refused, timed out, blocked): retried.
    pub fn failed(error: impl Into<String>) -> Self {
        Self {
            status: None,
            error: Some(error.into()),
            excerpt: None,
            retry_after: None,
            verdict: Verdict::Retry,
        }
    }

    /// An HTTP answer, judged by its status.
    pub fn answered(status: u16, excerpt: Option<String>, retry_after: Option<Duration>) -> Self {
        let v = verdict(Some(status));
        let error = match v {
            Verdict::Delivered => None,
            _ => Some(format!("HTTP {status}")),
        };
        Self {
            status: Some(status),
            error,
            excerpt,
            retry_after,
            verdict: v,
        }
    }
}

/// At most `EXCERPT_LIMIT` bytes of a response body, cut at a character boundary.
pub fn excerpt(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT_LIMIT)]);
    let mut s = text.into_owned();
    while s.len() > EXCERPT_LIMIT {
        s.pop();
    }
    Some(s)
}

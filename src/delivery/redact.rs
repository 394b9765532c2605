//! Bearer links in what the outbox holds, hidden for reading: a stored payload or a receiver's
//! answer may carry a live report, candidate or recruitment link (`<AP_PUBLIC_URL>/r/<token>`,
//! `/a/<token>`, `/recruitments/<token>`). Every view of payloads, errors and excerpts shows
//! them as `/r/[redacted]`; the one way to see them whole is an audited reveal.
use serde_json::Value;
use url::Url;

use crate::delivery::inspect::Inspected;

/// What stands in for a link's token.
pub const REDACTED: &str = "[redacted]";

/// The paths of the links we hand out, after the public URL.
const PATHS: [&str; 3] = ["/r/", "/a/", "/recruitments/"];

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// `text` with the token of every link under `public_url` replaced by `[redacted]`.
pub fn text(text: &str, public_url: &Url) -> String {
    let base = public_url.as_str().trim_end_matches('/');
    let needles: Vec<String> = PATHS.iter().map(|p| format!("{base}{p}")).collect();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let first = needles
            .iter()
            .filter_map(|n| rest.find(n.as_str()).map(|at| (at, at + n.len())))
            .min();
        let Some((_, token_at)) = first else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..token_at]);
        rest = &rest[token_at..];
        let token_len = rest.find(|c: char| !token_char(c)).unwrap_or(rest.len());
        if token_len > 0 {
            out.push_str(REDACTED);
        }
        rest = &rest[token_len..];
    }
}

/// `value` with every string in it (at any depth) redacted as [`text`].
pub fn json(value: &Value, public_url: &Url) -> Value {
    match value {
        Value::String(s) => Value::String(text(s, public_url)),
        Value::Array(items) => Value::Array(items.iter().map(|v| json(v, public_url)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), json(v, public_url))).collect()),
        other => other.clone(),
    }
}

/// A row with its attempts as every view shows it: its payload, last error, and each attempt's
/// error and answer excerpt redacted.
pub fn inspected(mut found: Inspected, public_url: &Url) -> Inspected {
    let d = &mut found.delivery;
    d.payload = json(&d.payload, public_url);
    d.last_error = d.last_error.as_deref().map(|e| text(e, public_url));
    for a in &mut found.attempts {
        a.error = a.error.as_deref().map(|e| text(e, public_url));
        a.response_excerpt = a.response_excerpt.as_deref().map(|x| text(x, public_url));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://ap.example.com/").unwrap()
    }

    #[test]
    fn tokens_of_our_links_are_hidden_and_nothing_else() {
        let t = "see https://ap.example.com/r/abc-DEF_12.x3 and https://ap.example.com/a/Zz9, \
                 https://ap.example.com/recruitments/q1?x=1 but not https://other.example/r/keep \
                 nor https://ap.example.com/results/keep nor https://ap.example.com/r/";
        assert_eq!(
            text(t, &base()),
            "see https://ap.example.com/r/[redacted] and https://ap.example.com/a/[redacted], \
             https://ap.example.com/recruitments/[redacted]?x=1 but not https://other.example/r/keep \
             nor https://ap.example.com/results/keep nor https://ap.example.com/r/"
        );
    }

    #[test]
    fn every_string_of_a_payload_is_redacted() {
        let v = serde_json::json!({"a": ["https://ap.example.com/r/tok"], "b": {"c": "https://ap.example.com/a/t"}, "n": 1});
        assert_eq!(
            json(&v, &base()),
            serde_json::json!({"a": ["https://ap.example.com/r/[redacted]"], "b": {"c": "https://ap.example.com/a/[redacted]"}, "n": 1})
        );
    }
}

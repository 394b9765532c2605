//! The request signature: `Signature: t=<unix seconds>,signature=<hex>` where the hex is
//! HMAC-SHA256 keyed with the integrator-secret over `t`, `.`, and the raw body bytes.
//! Plain domain code: no HTTP, time passed in.
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused. The messages are safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Signature header is missing")]
    Missing,
    #[error("the Signature header is not valid text")]
    NotText,
    #[error("the Signature header has no t= part")]
    MissingTimestamp,
    #[error("the Signature header has more than one t= part")]
    DuplicateTimestamp,
    #[error("the Signature header's t= is not an integer number of seconds")]
    TimestampNotInteger,
    #[error("the Signature header has no signature= part")]
    MissingSignature,
    #[error("the Signature header's signature= is not 64 hexadecimal characters")]
    BadHex,
    #[error("the Signature header has a part that is not key=value: '{0}'")]
    MalformedPart(String),
    #[error("the signature's timestamp is more than {0} seconds in the past")]
    TooOld(u64),
    #[error("the signature's timestamp is more than {0} seconds in the future")]
    InFuture(u64),
    #[error("no signature in the header matches the request body")]
    Mismatch,
}

/// A parsed header: one timestamp and one or more candidate signatures.
#[derive(Debug, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub signatures: Vec<[u8; 32]>,
}

impl SignatureHeader {
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| SignatureError::MalformedPart(truncate(part)))?;
            match key.trim() {
                "t" => {
                    if timestamp.is_some() {
                        return Err(SignatureError::DuplicateTimestamp);
                    }
                    let value = value.trim();
                    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(SignatureError::TimestampNotInteger);
                    }
                    timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::TimestampNotInteger)?);
                }
                "signature" => {
                    let mut bytes = [0u8; 32];
                    hex::decode_to_slice(value.trim(), &mut bytes).map_err(|_| SignatureError::BadHex)?;
                    signatures.push(bytes);
                }
                // Unknown parts (for example a future scheme version) are ignored, as Stripe-style
                // headers do, so that integrators can add them without breaking us.
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
        if signatures.is_empty() {
            return Err(SignatureError::MissingSignature);
        }
        Ok(Self { timestamp, signatures })
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The hex signature of `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

/// The whole header value, as integrators send it and as we send it on result pushes.
pub fn header_value(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    header_value_all(&[secret], timestamp, body)
}

/// The header with one `signature=` entry per secret, in the order given (newest first): what
/// result pushes carry during a rotation's overlap, so a receiver holding either secret verifies.
pub fn header_value_all<S: AsRef<[u8]>>(secrets: &[S], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",signature=");
        header.push_str(&sign(secret.as_ref(), timestamp, body));
    }
    header
}

/// Checks a header against the body and the current time. The timestamp may be at most
/// `tolerance` away from `now` in either direction; any one signature may match (key rotation).
/// Comparison is constant time.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    verify_any(&[secret], header, body, now, tolerance)
}

/// [`verify`] against several secrets (the current one and, during a rotation's overlap, the
/// previous one): any signature made with any of them matches.
pub fn verify_any<S: AsRef<[u8]>>(
    secrets: &[S],
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let parsed = SignatureHeader::parse(header)?;
    let tolerance_secs = tolerance.as_secs();
    let skew = now.timestamp() as i128 - parsed.timestamp as i128;
    if skew > tolerance_secs as i128 {
        return Err(SignatureError::TooOld(tolerance_secs));
    }
    if -skew > tolerance_secs as i128 {
        return Err(SignatureError::InFuture(tolerance_secs));
    }
    // Check every candidate against every secret, so the time taken does not say which matched.
    let mut any = false;
    for secret in secrets {
        let expected = mac(secret.as_ref(), parsed.timestamp, body);
        for candidate in &parsed.signatures {
            any |= expected.clone().verify_slice(candidate).is_ok();
        }
    }
    if any { Ok(()) } else { Err(SignatureError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use chrono::TimeZone;

    const VECTORS: &str = include_str!("testdata/signatures.json");

    fn at(t: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(t, 0).single().unwrap()
    }

    const TOL: Duration = Duration::from_secs(300);

    #[test]
    fn every_shared_test_vector_verifies_and_signs() {
        let doc: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        let vectors = doc["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 5);
        for v in vectors {
            let secret = v["secret"].as_str().unwrap().as_bytes();
            let t = v["t"].as_i64().unwrap();
            let body = base64::engine::general_purpose::STANDARD
                .decode(v["body_base64"].as_str().unwrap())
                .unwrap();
            assert_eq!(body, v["body_utf8"].as_str().unwrap().as_bytes(), "{}", v["note"]);
            let header = v["header"].as_str().unwrap();
            assert_eq!(verify(secret, header, &body, at(t), TOL), Ok(()), "{}", v["note"]);
            assert_eq!(
                sign(secret, t, &body),
                v["signature_hex"].as_str().unwrap(),
                "{}",
                v["note"]
            );
            // The same header over a changed body, or with another secret, fails.
            let mut tampered = body.clone();
            tampered.push(b' ');
            assert_eq!(
                verify(secret, header, &tampered, at(t), TOL),
                Err(SignatureError::Mismatch)
            );
            assert_eq!(
                verify(b"other", header, &body, at(t), TOL),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn the_copy_of_the_vectors_matches_the_shared_file_when_present() {
        let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/test-vectors/signatures.json");
        if let Ok(text) = std::fs::read_to_string(shared) {
            let a: serde_json::Value = serde_json::from_str(&text).unwrap();
            let b: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
            assert_eq!(a, b, "src/testdata/signatures.json is out of date with {shared}");
        }
    }

    #[test]
    fn skew_is_checked_both_ways_inclusive_of_the_tolerance() {
        let header = header_value(b"s", 1_000_000, b"{}");
        assert_eq!(verify(b"s", &header, b"{}", at(1_000_300), TOL), Ok(()));
        assert_eq!(verify(b"s", &header, b"{}", at(999_700), TOL), Ok(()));
        assert_eq!(
            verify(b"s", &header, b"{}", at(1_000_301), TOL),
            Err(SignatureError::TooOld(300))
        );
        assert_eq!(
            verify(b"s", &header, b"{}", at(999_699), TOL),
            Err(SignatureError::InFuture(300))
        );
    }

    #[test]
    fn malformed_headers_say_what_is_wrong() {
        let sig = "0".repeat(64);
        let cases = [
            ("".to_string(), SignatureError::MissingTimestamp),
            (format!("signature={sig}"), SignatureError::MissingTimestamp),
            ("t=1700000000".to_string(), SignatureError::MissingSignature),
            (format!("t=abc,signature={sig}"), SignatureError::TimestampNotInteger),
            (format!("t=-5,signature={sig}"), SignatureError::TimestampNotInteger),
            (format!("t=1.5,signature={sig}"), SignatureError::TimestampNotInteger),
            ("t=1700000000,signature=abcd".to_string(), SignatureError::BadHex),
            (
                format!("t=1700000000,signature={}", "z".repeat(64)),
                SignatureError::BadHex,
            ),
            (format!("t=1,t=2,signature={sig}"), SignatureError::DuplicateTimestamp),
            (
                format!("t=1,garbage,signature={sig}"),
                SignatureError::MalformedPart("garbage".into()),
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(SignatureHeader::parse(&header), Err(expected), "{header}");
        }
    }

    #[test]
    fn whitespace_around_parts_is_tolerated() {
        let h = header_value(b"s", 5, b"x").replace(',', " , ");
        assert_eq!(verify(b"s", &h, b"x", at(5), TOL), Ok(()));
    }

    #[test]
    fn during_an_overlap_either_secret_verifies_and_pushes_carry_both() {
        let (new, old) = (b"new-secret".as_slice(), b"old-secret".as_slice());
        let body = br#"{"resultId":"r-1"}"#;
        let header = header_value_all(&[new, old], 1_700_000_000, body);
        assert_eq!(SignatureHeader::parse(&header).map(|h| h.signatures.len()), Ok(2));
        assert!(header.starts_with("t=1700000000,signature="));
        // A receiver that holds only one of them verifies the push.
        for secret in [new, old] {
            assert_eq!(
                verify(secret, &header, body, at(1_700_000_000), Duration::from_secs(300)),
                Ok(())
            );
        }
        // We accept a request signed with either secret, and not with a third.
        let signed_with_old = header_value(old, 1_700_000_000, body);
        assert_eq!(
            verify_any(
                &[new, old],
                &signed_with_old,
                body,
                at(1_700_000_000),
                Duration::from_secs(300)
            ),
            Ok(())
        );
        let other = header_value(b"other", 1_700_000_000, body);
        assert_eq!(
            verify_any(&[new, old], &other, body, at(1_700_000_000), Duration::from_secs(300)),
            Err(SignatureError::Mismatch)
        );
    }
}

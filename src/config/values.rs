//! Parsing one setting's text into its type; an error names the setting.
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use secrecy::{SecretBox, SecretString};
use url::Url;

use crate::config::{ConfigError, MasterKey, invalid};

pub fn default_public_url(bind: SocketAddr) -> Url {
    // A bind address is always a valid authority.
    Url::parse(&format!("http://{bind}")).unwrap_or_else(|_| unreachable!("socket address is a valid URL authority"))
}

pub(super) fn parse_public_url(s: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(s).map_err(|e| invalid("AP_PUBLIC_URL", format!("'{s}' is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("AP_PUBLIC_URL", "must be an absolute http(s) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("AP_PUBLIC_URL", "must not have a query or fragment"));
    }
    Ok(url)
}

pub(super) fn parse_bool(setting: &'static str, s: &str) -> Result<bool, ConfigError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(setting, format!("'{s}' is not true or false"))),
    }
}

/// Durations like `300s`, `2m`, `36h`, `14d` (humantime's grammar).
pub fn parse_duration(setting: &'static str, s: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(s.trim())
        .map_err(|e| invalid(setting, format!("'{s}' is not a duration like 300s, 2m or 36h: {e}")))
}

pub(super) fn parse_master_key(s: &str) -> Result<MasterKey, ConfigError> {
    let bytes = B64
        .decode(s.trim())
        .map_err(|_| invalid("AP_MASTER_KEY", "must be base64 (standard alphabet)"))?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| invalid("AP_MASTER_KEY", format!("must decode to 32 bytes, got {}", b.len())))?;
    Ok(SecretBox::new(Box::new(key)))
}

pub(super) fn parse_jwt_secret(s: &str) -> Result<SecretString, ConfigError> {
    if s.len() < 32 {
        return Err(invalid("AP_ADMIN_JWT_SECRET", "must be at least 32 characters"));
    }
    Ok(SecretString::from(s.to_owned()))
}

/// A URL-safe random token with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Parses `5s,30s,2m` into a schedule.
pub(super) fn parse_schedule(s: &str) -> Result<Vec<Duration>, String> {
    let schedule: Vec<Duration> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| humantime::parse_duration(p).map_err(|e| format!("'{p}': {e}")))
        .collect::<Result<_, _>>()?;
    if schedule.is_empty() {
        return Err("needs at least one duration".into());
    }
    Ok(schedule)
}

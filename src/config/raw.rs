//! The settings as the layers give them: every value as text, before parsing, and the one set
//! of defaults that is the bottom layer.
use serde::{Deserialize, Serialize};

use crate::config::{
    DEFAULT_ADMIN_TOKEN_MAX_TTL, DEFAULT_ASHBY_BASE_URL, DEFAULT_BIND, DEFAULT_DATABASE_URL, DEFAULT_DELIVERY_MAX_AGE,
    DEFAULT_DEV_KEY_FILE, DEFAULT_REPORT_LINK_TTL, DEFAULT_RETRY_SCHEDULE,
};

/// A layer's value as text, whatever type the layer gave it (figment reads `AP_X=8` as a
/// number and `true` as a boolean): parsing happens in one place, `Settings::from_raw`.
fn scalar_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| match s {
        Scalar::Text(t) => t,
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Bool(b) => b.to_string(),
    }))
}

/// The settings as read from the layers, before parsing. All text, so that a bad value
/// can be reported with the name of its setting.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RawSettings {
    #[serde(deserialize_with = "scalar_text")]
    pub database_url: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub bind: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub public_url: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub env: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub master_key: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub admin_jwt_secret: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub signature_tolerance: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub invitation_ttl: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub invitation_reminders: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub console_session_idle: Option<String>,
    pub console_session_max: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub console_lockout: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub key_rotation_overlap: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub admin_token_max_ttl: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub dev_key_file: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub log_format: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub db_max_connections: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub delivery_retry_schedule: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub delivery_max_age: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub delivery_timeout: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub delivery_allow_private_networks: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub delivery_lease: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub delivery_concurrency: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub delivery_concurrency_per_target: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub delivery_breaker_failures: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub delivery_poll_interval: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub smtp_url: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub ashby_base_url: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub report_link_ttl: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub expiry_sweep_interval: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub mail_outbox_dir: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub mail_from: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub rate_limit_per_second: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub rate_limit_burst: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub failed_auth_per_minute: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub failed_auth_burst: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub trusted_proxies: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub retention_period: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub retention_sweep_interval: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub delivery_retention: Option<String>,
}

/// A duration as the settings write it (`5s`, `2m`, `1day 12h`), which `parse_duration` reads.
fn duration_text(d: std::time::Duration) -> Option<String> {
    Some(humantime::format_duration(d).to_string())
}

impl RawSettings {
    /// Every setting's default: the bottom layer, under the file and the environment. Left
    /// empty are the settings whose default depends on another: `db_max_connections` (1 on
    /// SQLite, 10 on PostgreSQL), `delivery_allow_private_networks` (allowed in development
    /// only), `public_url` (from `bind`), the secrets (generated in development, required in
    /// production), and `smtp_url` (without it e-mails are written to `mail_outbox_dir`).
    pub fn defaults() -> Self {
        let schedule: Vec<String> = DEFAULT_RETRY_SCHEDULE
            .iter()
            .map(|d| humantime::format_duration(*d).to_string())
            .collect();
        Self {
            database_url: Some(DEFAULT_DATABASE_URL.into()),
            bind: Some(DEFAULT_BIND.into()),
            public_url: None,
            env: Some("development".into()),
            master_key: None,
            admin_jwt_secret: None,
            signature_tolerance: Some("300s".into()),
            invitation_ttl: Some("14d".into()),
            invitation_reminders: Some("3d".into()),
            console_session_idle: Some("8h".into()),
            console_session_max: Some("12h".into()),
            console_lockout: Some("15m".into()),
            key_rotation_overlap: Some("24h".into()),
            admin_token_max_ttl: duration_text(DEFAULT_ADMIN_TOKEN_MAX_TTL),
            dev_key_file: Some(DEFAULT_DEV_KEY_FILE.into()),
            log_format: Some("text".into()),
            db_max_connections: None,
            delivery_retry_schedule: Some(schedule.join(",")),
            delivery_max_age: duration_text(DEFAULT_DELIVERY_MAX_AGE),
            delivery_timeout: Some("10s".into()),
            delivery_allow_private_networks: None,
            delivery_lease: Some("60s".into()),
            delivery_concurrency: Some("32".into()),
            delivery_concurrency_per_target: Some("8".into()),
            delivery_breaker_failures: Some("5".into()),
            delivery_poll_interval: Some("1s".into()),
            smtp_url: None,
            ashby_base_url: Some(DEFAULT_ASHBY_BASE_URL.into()),
            report_link_ttl: duration_text(DEFAULT_REPORT_LINK_TTL),
            expiry_sweep_interval: Some("60s".into()),
            mail_outbox_dir: Some("mail-outbox".into()),
            mail_from: Some("Assessments <no-reply@assessment-partner.invalid>".into()),
            rate_limit_per_second: Some("20".into()),
            rate_limit_burst: Some("50".into()),
            failed_auth_per_minute: Some("60".into()),
            failed_auth_burst: Some("10".into()),
            trusted_proxies: Some(String::new()),
            retention_period: Some("365d".into()),
            retention_sweep_interval: Some("1h".into()),
            delivery_retention: Some("30d".into()),
        }
    }
}

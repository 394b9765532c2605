//! Typed settings: defaults < optional file (`--config`/`AP_CONFIG`, TOML) < environment.
//!
//! Environment names are `AP_<NAME>` (plus the conventional `DATABASE_URL`); file keys are the
//! same names lower-cased without the prefix (`bind`, `public_url`, `database_url`, …).
//! Every value is parsed here, once, and an invalid one stops start-up with its setting's name.
mod dev_keys;
mod raw;
mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use dev_keys::DevKeys;
pub use raw::RawSettings;
pub use values::{default_public_url, parse_duration, random_token};
use values::{parse_bool, parse_jwt_secret, parse_master_key, parse_public_url};

/// Where the server runs. `production` refuses missing secrets and private callback targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Where a secret came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A setting (environment or config file).
    Setting,
    /// The development key file at this path; `created` when this start wrote it.
    DevKeyFile { path: PathBuf, created: bool },
}

/// `AP_ADMIN_TOKEN_MAX_TTL`'s default.
pub const DEFAULT_ADMIN_TOKEN_MAX_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

pub use crate::crypto::MasterKey;
use crate::http::client::TrustedProxies;
use crate::ratelimit::{LimitSettings, MAX_RATE, Rate};

/// `AP_DELIVERY_RETRY_SCHEDULE`'s default: the wait after the 1st, 2nd, … failure; the last entry repeats.
pub const DEFAULT_RETRY_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(4 * 3600),
    Duration::from_secs(6 * 3600),
];
/// `AP_DELIVERY_MAX_AGE`'s default.
pub const DEFAULT_DELIVERY_MAX_AGE: Duration = Duration::from_secs(36 * 3600);
/// The longest overlap a key rotation may have (`AP_KEY_ROTATION_OVERLAP` or a rotation's own).
pub const MAX_KEY_ROTATION_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// `AP_REPORT_LINK_TTL`'s default: report and recruitment links last 90 days.
pub const DEFAULT_REPORT_LINK_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

#[derive(Debug)]
pub struct Settings {
    pub database_url: SecretString,
    pub bind: SocketAddr,
    pub public_url: Url,
    pub env: Environment,
    pub master_key: MasterKey,
    pub admin_jwt_secret: SecretString,
    /// Where the admin JWT secret came from (what `token` tells its user).
    pub admin_secret_source: SecretSource,
    /// `AP_ADMIN_TOKEN_MAX_TTL`: admin tokens that expire further ahead are refused.
    pub admin_token_max_ttl: Duration,
    pub signature_tolerance: Duration,
    /// `AP_INVITATION_TTL` and `AP_INVITATION_REMINDERS`.
    pub invitations: InvitationTiming,
    /// `AP_KEY_ROTATION_OVERLAP`: how long a rotated key or secret keeps working when the
    /// rotation does not say (at most 30 days).
    pub key_rotation_overlap: Duration,
    pub log_format: LogFormat,
    /// Pool size; SQLite defaults to one connection (one writer at a time is what SQLite does anyway,
    /// and it avoids lock-upgrade failures), PostgreSQL to 10.
    pub db_max_connections: u32,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    pub delivery: DeliverySettings,
    pub mail: MailSettings,
    /// `AP_ASHBY_BASE_URL`, without a trailing slash.
    pub ashby_base_url: String,
    /// `AP_REPORT_LINK_TTL`: how long report and recruitment links last.
    pub report_link_ttl: Duration,
    /// `AP_EXPIRY_SWEEP_INTERVAL`: how often the worker expires overdue invitations.
    pub expiry_sweep_interval: Duration,
    /// `AP_RATE_LIMIT_*`, `AP_FAILED_AUTH_*`.
    pub rate_limits: LimitSettings,
    /// `AP_TRUSTED_PROXIES`: whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// `AP_RETENTION_*`, `AP_DELIVERY_RETENTION`.
    pub retention: RetentionSettings,
    /// `AP_CONSOLE_*`.
    pub console: ConsoleSettings,
}

/// The operator console's sessions and sign-in lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// `AP_CONSOLE_SESSION_IDLE`: a session ends this long after its last use.
    pub session_idle: Duration,
    /// `AP_CONSOLE_SESSION_MAX`: a session ends this long after sign-in, however busy.
    pub session_max: Duration,
    /// `AP_CONSOLE_LOCKOUT`: how long an address is locked after five failed sign-ins.
    pub lockout: Duration,
}

/// How long an invitation lasts, and when before its end the candidate is reminded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationTiming {
    /// `AP_INVITATION_TTL`.
    pub ttl: Duration,
    /// `AP_INVITATION_REMINDERS`: how long before the expiry each reminder goes, longest
    /// first, without repeats; empty (`off`): none.
    pub reminders: std::sync::Arc<[Duration]>,
}

impl InvitationTiming {
    pub fn without_reminders(ttl: Duration) -> Self {
        Self {
            ttl,
            reminders: Vec::new().into(),
        }
    }
}

/// How long personal data and the outbox's settled rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// `AP_RETENTION_PERIOD`: assessments finished longer ago are erased; `None` (`off`): kept.
    pub period: Option<Duration>,
    /// `AP_RETENTION_SWEEP_INTERVAL`: how often the sweeper looks.
    pub sweep_interval: Duration,
    /// `AP_DELIVERY_RETENTION`: delivered and dead outbox rows older than this are deleted with
    /// their attempts; `None` (`off`): kept.
    pub deliveries: Option<Duration>,
}

/// `AP_DELIVERY_*`: how the outbox is worked.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub retry_schedule: Vec<Duration>,
    pub max_age: Duration,
    pub timeout: Duration,
    pub allow_private_networks: bool,
    pub lease: Duration,
    pub concurrency: usize,
    /// `AP_DELIVERY_CONCURRENCY_PER_TARGET`: attempts in flight to one scheme, host and port.
    pub per_target: usize,
    /// `AP_DELIVERY_BREAKER_FAILURES`: attempts in a row without an answer that pause a target.
    pub breaker_failures: u32,
    pub poll_interval: Duration,
}

/// Where e-mail goes.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `AP_SMTP_URL`; without it e-mails are written to `outbox_dir`.
    pub smtp_url: Option<String>,
    pub outbox_dir: PathBuf,
    pub from: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}: {message}")]
    Invalid { setting: &'static str, message: String },
    #[error("configuration file: {0}")]
    File(String),
    #[error("development key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
}

pub(crate) fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.into(),
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://assessment-partner.db?mode=rwc";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DEV_KEY_FILE: &str = ".ap-dev-keys.json";
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const DEFAULT_ASHBY_BASE_URL: &str = "https://api.ashbyhq.com";

impl Settings {
    /// Reads the layers: defaults, then the optional file, then the environment.
    pub fn load(config_file: Option<&Path>, bind_override: Option<SocketAddr>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawSettings::defaults()));
        let file = config_file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("AP_CONFIG").map(PathBuf::from));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::File(format!("{} does not exist", file.display())));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment
            .merge(Env::prefixed("AP_").ignore(&["CONFIG"]))
            .merge(Env::raw().only(&["DATABASE_URL"]));
        Self::from_figment(figment, bind_override)
    }

    fn from_figment(figment: Figment, bind_override: Option<SocketAddr>) -> Result<Self, ConfigError> {
        let raw: RawSettings = figment.extract().map_err(|e| ConfigError::File(e.to_string()))?;
        Self::from_raw(raw, bind_override)
    }

    /// Parses and checks every setting: the one pass from text to typed settings.
    fn from_raw(raw: RawSettings, bind_override: Option<SocketAddr>) -> Result<Self, ConfigError> {
        let env = match required(&raw.env, "AP_ENV")?.trim() {
            "" | "development" => Environment::Development,
            "production" => Environment::Production,
            other => {
                return Err(invalid(
                    "AP_ENV",
                    format!("'{other}' is neither 'development' nor 'production'"),
                ));
            }
        };
        let database_url = required(&raw.database_url, "DATABASE_URL")?.to_owned();
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        let bind = match bind_override {
            Some(addr) => addr,
            None => {
                let s = required(&raw.bind, "AP_BIND")?;
                s.parse()
                    .map_err(|_| invalid("AP_BIND", format!("'{s}' is not an address like 127.0.0.1:8080")))?
            }
        };
        let public_url = match raw.public_url.as_deref() {
            Some(s) => parse_public_url(s)?,
            None => default_public_url(bind),
        };
        let log_format = match required(&raw.log_format, "AP_LOG_FORMAT")? {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "AP_LOG_FORMAT",
                    format!("'{other}' is neither 'text' nor 'json'"),
                ));
            }
        };
        let db_max_connections = match raw.db_max_connections.as_deref() {
            None if database_url.starts_with("sqlite:") => 1,
            None => 10,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid("AP_DB_MAX_CONNECTIONS", format!("'{s}' is not a positive integer")))?,
        };
        let ashby_base_url = {
            let s = required(&raw.ashby_base_url, "AP_ASHBY_BASE_URL")?;
            crate::types::HttpUrl::parse(s)
                .map_err(|e| invalid("AP_ASHBY_BASE_URL", format!("'{s}' {e}")))?
                .as_str()
                .trim_end_matches('/')
                .to_owned()
        };
        let (master_key, admin_jwt_secret, admin_secret_source) = secrets(&raw, env)?;
        Ok(Settings {
            database_url: SecretString::from(database_url),
            bind,
            public_url,
            env,
            master_key,
            admin_jwt_secret,
            admin_secret_source,
            admin_token_max_ttl: positive_duration(&raw.admin_token_max_ttl, "AP_ADMIN_TOKEN_MAX_TTL")?,
            signature_tolerance: duration(&raw.signature_tolerance, "AP_SIGNATURE_TOLERANCE")?,
            invitations: InvitationTiming {
                ttl: positive_duration(&raw.invitation_ttl, "AP_INVITATION_TTL")?,
                reminders: reminders(&raw.invitation_reminders)?,
            },
            key_rotation_overlap: key_rotation_overlap(&raw)?,
            log_format,
            db_max_connections,
            max_body_bytes: MAX_BODY_BYTES,
            delivery: delivery(&raw, env)?,
            mail: mail(&raw)?,
            ashby_base_url,
            report_link_ttl: positive_duration(&raw.report_link_ttl, "AP_REPORT_LINK_TTL")?,
            expiry_sweep_interval: positive_duration(&raw.expiry_sweep_interval, "AP_EXPIRY_SWEEP_INTERVAL")?,
            rate_limits: rate_limits(&raw)?,
            trusted_proxies: TrustedProxies::parse(required(&raw.trusted_proxies, "AP_TRUSTED_PROXIES")?)
                .map_err(|e| invalid("AP_TRUSTED_PROXIES", e))?,
            retention: RetentionSettings {
                period: optional_duration(&raw.retention_period, "AP_RETENTION_PERIOD")?,
                sweep_interval: positive_duration(&raw.retention_sweep_interval, "AP_RETENTION_SWEEP_INTERVAL")?,
                deliveries: optional_duration(&raw.delivery_retention, "AP_DELIVERY_RETENTION")?,
            },
            console: ConsoleSettings {
                session_idle: positive_duration(&raw.console_session_idle, "AP_CONSOLE_SESSION_IDLE")?,
                session_max: positive_duration(&raw.console_session_max, "AP_CONSOLE_SESSION_MAX")?,
                lockout: positive_duration(&raw.console_lockout, "AP_CONSOLE_LOCKOUT")?,
            },
        })
    }

    /// Settings for tests and embedding: the defaults, this database, loopback on a port the
    /// system picks, fresh random secrets; no file, no environment. Built by the same parsing
    /// as `load`. Panics when `database_url` is not a database URL.
    pub fn for_tests(database_url: &str) -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let raw = RawSettings {
            database_url: Some(database_url.to_owned()),
            bind: Some("127.0.0.1:0".into()),
            master_key: Some(B64.encode(key)),
            admin_jwt_secret: Some(random_token(32)),
            ..RawSettings::defaults()
        };
        Self::from_raw(raw, None).unwrap_or_else(|e| panic!("test settings: {e}"))
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose_secret().starts_with("sqlite:")
    }
}

/// A setting the defaults always give; missing only when a caller built the layers without them.
fn required<'a>(value: &'a Option<String>, setting: &'static str) -> Result<&'a str, ConfigError> {
    value.as_deref().ok_or_else(|| invalid(setting, "has no value"))
}

fn duration(value: &Option<String>, setting: &'static str) -> Result<Duration, ConfigError> {
    parse_duration(setting, required(value, setting)?)
}

fn positive_duration(value: &Option<String>, setting: &'static str) -> Result<Duration, ConfigError> {
    let d = duration(value, setting)?;
    if d.is_zero() {
        return Err(invalid(setting, "must be longer than zero"));
    }
    Ok(d)
}

/// A positive duration, or `off` (`None`).
fn optional_duration(value: &Option<String>, setting: &'static str) -> Result<Option<Duration>, ConfigError> {
    if required(value, setting)?.trim() == "off" {
        return Ok(None);
    }
    positive_duration(value, setting).map(Some)
}

/// `AP_INVITATION_REMINDERS`: `off`, or durations before the expiry separated by commas
/// (`7d,1d`); each longer than zero.
fn reminders(value: &Option<String>) -> Result<std::sync::Arc<[Duration]>, ConfigError> {
    const SETTING: &str = "AP_INVITATION_REMINDERS";
    let list = required(value, SETTING)?.trim();
    if list == "off" {
        return Ok(Vec::new().into());
    }
    let mut offsets = Vec::new();
    for part in list.split(',') {
        let d = parse_duration(SETTING, part)?;
        if d.is_zero() {
            return Err(invalid(
                SETTING,
                "each reminder must come longer than zero before the expiry",
            ));
        }
        offsets.push(d);
    }
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets.dedup();
    Ok(offsets.into())
}

/// `AP_KEY_ROTATION_OVERLAP`: zero ends a rotated key at once; at most 30 days.
fn key_rotation_overlap(raw: &RawSettings) -> Result<Duration, ConfigError> {
    let overlap = duration(&raw.key_rotation_overlap, "AP_KEY_ROTATION_OVERLAP")?;
    if overlap > MAX_KEY_ROTATION_OVERLAP {
        return Err(invalid("AP_KEY_ROTATION_OVERLAP", "must be at most 30d"));
    }
    Ok(overlap)
}

/// `AP_DELIVERY_*`.
fn delivery(raw: &RawSettings, env: Environment) -> Result<DeliverySettings, ConfigError> {
    let schedule = required(&raw.delivery_retry_schedule, "AP_DELIVERY_RETRY_SCHEDULE")?;
    let concurrency = required(&raw.delivery_concurrency, "AP_DELIVERY_CONCURRENCY")?;
    let count = |setting: &'static str, value: &Option<String>, most: usize| -> Result<usize, ConfigError> {
        let text = required(value, setting)?.trim();
        text.parse::<usize>()
            .ok()
            .filter(|n| (1..=most).contains(n))
            .ok_or_else(|| invalid(setting, format!("'{text}' is not a number from 1 to {most}")))
    };
    let settings = DeliverySettings {
        retry_schedule: values::parse_schedule(schedule)
            .map_err(|e| invalid("AP_DELIVERY_RETRY_SCHEDULE", format!("{e} (expected e.g. 5s,30s,2m)")))?,
        max_age: duration(&raw.delivery_max_age, "AP_DELIVERY_MAX_AGE")?,
        timeout: duration(&raw.delivery_timeout, "AP_DELIVERY_TIMEOUT")?,
        allow_private_networks: match raw.delivery_allow_private_networks.as_deref() {
            Some(s) => parse_bool("AP_DELIVERY_ALLOW_PRIVATE_NETWORKS", s)?,
            None => env == Environment::Development,
        },
        lease: duration(&raw.delivery_lease, "AP_DELIVERY_LEASE")?,
        concurrency: concurrency
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1024).contains(n))
            .ok_or_else(|| {
                invalid(
                    "AP_DELIVERY_CONCURRENCY",
                    format!("'{concurrency}' is not a number from 1 to 1024"),
                )
            })?,
        per_target: count(
            "AP_DELIVERY_CONCURRENCY_PER_TARGET",
            &raw.delivery_concurrency_per_target,
            1024,
        )?,
        breaker_failures: u32::try_from(count(
            "AP_DELIVERY_BREAKER_FAILURES",
            &raw.delivery_breaker_failures,
            1000,
        )?)
        .unwrap_or(5),
        poll_interval: duration(&raw.delivery_poll_interval, "AP_DELIVERY_POLL_INTERVAL")?,
    };
    if settings.timeout.is_zero() || settings.lease <= settings.timeout {
        return Err(invalid(
            "AP_DELIVERY_LEASE",
            "must be longer than AP_DELIVERY_TIMEOUT (which must be above zero)",
        ));
    }
    Ok(settings)
}

/// `AP_RATE_LIMIT_PER_SECOND` / `_BURST` (every organisation's rate unless its integrator has
/// its own) and `AP_FAILED_AUTH_PER_MINUTE` / `_BURST` (per client address); `off` for either
/// rate turns that limit off.
fn rate_limits(raw: &RawSettings) -> Result<LimitSettings, ConfigError> {
    let rate = |count_setting: &'static str,
                count: &Option<String>,
                burst_setting: &'static str,
                burst: &Option<String>,
                make: fn(u32, u32) -> Option<Rate>|
     -> Result<Option<Rate>, ConfigError> {
        let count = required(count, count_setting)?.trim();
        if count == "off" {
            return Ok(None);
        }
        let number = |setting: &'static str, s: &str| {
            s.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_RATE).contains(n))
                .ok_or_else(|| invalid(setting, format!("'{s}' is not a number from 1 to {MAX_RATE} (or off)")))
        };
        let count = number(count_setting, count)?;
        let burst = number(burst_setting, required(burst, burst_setting)?.trim())?;
        Ok(make(count, burst))
    };
    Ok(LimitSettings {
        default: rate(
            "AP_RATE_LIMIT_PER_SECOND",
            &raw.rate_limit_per_second,
            "AP_RATE_LIMIT_BURST",
            &raw.rate_limit_burst,
            Rate::per_second,
        )?,
        failed_auth: rate(
            "AP_FAILED_AUTH_PER_MINUTE",
            &raw.failed_auth_per_minute,
            "AP_FAILED_AUTH_BURST",
            &raw.failed_auth_burst,
            Rate::per_minute,
        )?,
    })
}

/// `AP_SMTP_URL`, `AP_MAIL_*`.
fn mail(raw: &RawSettings) -> Result<MailSettings, ConfigError> {
    let smtp_url = match raw.smtp_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => Some(url.to_owned()),
        Some(_) => return Err(invalid("AP_SMTP_URL", "must start with smtp:// or smtps://")),
        None => None,
    };
    let from = required(&raw.mail_from, "AP_MAIL_FROM")?;
    from.parse::<lettre::message::Mailbox>()
        .map_err(|e| invalid("AP_MAIL_FROM", format!("'{from}' is not a mailbox: {e}")))?;
    Ok(MailSettings {
        smtp_url,
        outbox_dir: PathBuf::from(required(&raw.mail_outbox_dir, "AP_MAIL_OUTBOX_DIR")?),
        from: from.to_owned(),
    })
}

/// The master key and the admin JWT secret: from the settings, or in development from the
/// development key file (created on first use); production requires both settings.
fn secrets(raw: &RawSettings, env: Environment) -> Result<(MasterKey, SecretString, SecretSource), ConfigError> {
    match (raw.master_key.as_deref(), raw.admin_jwt_secret.as_deref()) {
        (Some(m), Some(a)) => Ok((parse_master_key(m)?, parse_jwt_secret(a)?, SecretSource::Setting)),
        (m, a) if env == Environment::Production => {
            let missing: Vec<&str> = [
                m.is_none().then_some("AP_MASTER_KEY"),
                a.is_none().then_some("AP_ADMIN_JWT_SECRET"),
            ]
            .into_iter()
            .flatten()
            .collect();
            Err(invalid(
                missing[0],
                format!("required in production (missing: {})", missing.join(", ")),
            ))
        }
        (m, a) => {
            let path = PathBuf::from(required(&raw.dev_key_file, "AP_DEV_KEY_FILE")?);
            let (dev, created) = DevKeys::load_or_create(&path)?;
            let master = match m {
                Some(m) => parse_master_key(m)?,
                None => parse_master_key(&dev.master_key).map_err(|e| ConfigError::KeyFile {
                    path: path.clone(),
                    message: e.to_string(),
                })?,
            };
            Ok(match a {
                Some(a) => (master, parse_jwt_secret(a)?, SecretSource::Setting),
                None => (
                    master,
                    SecretString::from(dev.admin_jwt_secret),
                    SecretSource::DevKeyFile { path, created },
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSettings {
        RawSettings {
            master_key: Some(B64.encode([7u8; 32])),
            admin_jwt_secret: Some("x".repeat(40)),
            ..RawSettings::defaults()
        }
    }

    #[test]
    fn defaults_are_as_documented() {
        let s = Settings::from_raw(raw(), None).unwrap();
        assert_eq!(s.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(s.signature_tolerance, Duration::from_secs(300));
        assert_eq!(s.invitations.ttl, Duration::from_secs(14 * 86400));
        assert_eq!(&*s.invitations.reminders, &[Duration::from_secs(3 * 86400)]);
        assert_eq!(s.env, Environment::Development);
        assert_eq!(s.db_max_connections, 1);
        assert_eq!(s.delivery.retry_schedule, DEFAULT_RETRY_SCHEDULE.to_vec());
        assert_eq!(s.delivery.max_age, DEFAULT_DELIVERY_MAX_AGE);
        assert_eq!(s.report_link_ttl, DEFAULT_REPORT_LINK_TTL);
        assert_eq!(s.admin_token_max_ttl, DEFAULT_ADMIN_TOKEN_MAX_TTL);
        assert!(s.delivery.allow_private_networks, "allowed in development");
        assert_eq!(
            (s.delivery.timeout, s.delivery.lease, s.delivery.concurrency),
            (Duration::from_secs(10), Duration::from_secs(60), 32)
        );
        assert_eq!((s.delivery.per_target, s.delivery.breaker_failures), (8, 5));
        assert_eq!(
            (s.console.session_idle, s.console.session_max, s.console.lockout),
            (
                Duration::from_secs(8 * 3600),
                Duration::from_secs(12 * 3600),
                Duration::from_secs(15 * 60)
            )
        );
        assert_eq!(s.mail.smtp_url, None);
    }

    #[test]
    fn test_settings_are_the_defaults_on_loopback() {
        let s = Settings::for_tests("sqlite::memory:");
        assert_eq!(s.bind.ip().to_string(), "127.0.0.1");
        assert_eq!(s.invitations.ttl, Duration::from_secs(14 * 86400));
        assert_eq!(s.admin_secret_source, SecretSource::Setting);
    }

    #[test]
    fn trusted_proxies_are_networks_and_a_bad_one_is_named() {
        assert!(Settings::from_raw(raw(), None).unwrap().trusted_proxies.is_empty());
        let with = |v: &str| {
            Settings::from_raw(
                RawSettings {
                    trusted_proxies: Some(v.into()),
                    ..raw()
                },
                None,
            )
        };
        assert!(!with("10.0.0.0/8, 127.0.0.1").unwrap().trusted_proxies.is_empty());
        let e = with("10.0.0.0/8,proxy.example").unwrap_err().to_string();
        assert!(e.contains("AP_TRUSTED_PROXIES") && e.contains("proxy.example"), "{e}");
    }

    #[test]
    fn reminders_are_a_list_longest_first_or_off() {
        let parse = |v: &str| reminders(&Some(v.into()));
        let days = |d: u64| Duration::from_secs(d * 86400);
        assert_eq!(&*parse("1d, 7d,1d").unwrap(), &[days(7), days(1)]);
        assert!(parse("off").unwrap().is_empty());
        for bad in ["", "7d,", "0s", "soon"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("AP_INVITATION_REMINDERS"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_values_name_their_setting() {
        let cases: Vec<(RawSettings, &str)> = vec![
            (
                RawSettings {
                    bind: Some("nope".into()),
                    ..raw()
                },
                "AP_BIND",
            ),
            (
                RawSettings {
                    public_url: Some("ftp://x".into()),
                    ..raw()
                },
                "AP_PUBLIC_URL",
            ),
            (
                RawSettings {
                    env: Some("staging".into()),
                    ..raw()
                },
                "AP_ENV",
            ),
            (
                RawSettings {
                    signature_tolerance: Some("soon".into()),
                    ..raw()
                },
                "AP_SIGNATURE_TOLERANCE",
            ),
            (
                RawSettings {
                    master_key: Some("short".into()),
                    ..raw()
                },
                "AP_MASTER_KEY",
            ),
            (
                RawSettings {
                    admin_jwt_secret: Some("short".into()),
                    ..raw()
                },
                "AP_ADMIN_JWT_SECRET",
            ),
            (
                RawSettings {
                    database_url: Some("mysql://x".into()),
                    ..raw()
                },
                "DATABASE_URL",
            ),
        ];
        for (raw, setting) in cases {
            let err = Settings::from_raw(raw, None).unwrap_err().to_string();
            assert!(err.starts_with(setting), "{err} should name {setting}");
        }
    }

    #[test]
    fn numbers_and_booleans_from_a_layer_are_read_as_text_first() {
        let figment = Figment::from(Serialized::defaults(raw())).merge(Toml::string(
            "delivery_concurrency = 8\ndelivery_allow_private_networks = false\ndb_max_connections = 3\ndelivery_timeout = \"2s\"",
        ));
        let s = Settings::from_figment(figment, None).unwrap();
        assert_eq!(s.delivery.concurrency, 8);
        assert!(!s.delivery.allow_private_networks);
        assert_eq!(s.db_max_connections, 3);
        assert_eq!(s.delivery.timeout, Duration::from_secs(2));
    }

    #[test]
    fn production_requires_secrets() {
        let err = Settings::from_raw(
            RawSettings {
                env: Some("production".into()),
                ..RawSettings::defaults()
            },
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("AP_MASTER_KEY") && err.contains("AP_ADMIN_JWT_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn development_generates_and_reuses_a_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let raw = || RawSettings {
            dev_key_file: Some(path.to_string_lossy().into_owned()),
            ..RawSettings::defaults()
        };
        let a = Settings::from_raw(raw(), None).unwrap();
        let b = Settings::from_raw(raw(), None).unwrap();
        assert_eq!(a.master_key.expose_secret(), b.master_key.expose_secret());
        assert_eq!(a.admin_jwt_secret.expose_secret(), b.admin_jwt_secret.expose_secret());
    }

    #[test]
    fn schedules_parse() {
        assert_eq!(
            values::parse_schedule("5s, 30s,2m").unwrap(),
            vec![
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(120)
            ]
        );
        assert!(values::parse_schedule("").is_err());
        assert!(values::parse_schedule("5x").is_err());
    }
}

//! Typed settings: defaults < optional file (`--config`/`AP_CONFIG`, TOML) < environment.
//!
//! Environment names are `AP_<NAME>` (plus the conventional `DATABASE_URL`); file keys are the
//! same names lower-cased without the prefix (`bind`, `public_url`, `database_url`, …).
//! Every value is parsed here, once, and an invalid one stops start-up with its setting's name.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// Where the server runs. `production` refuses missing secrets and private callback targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// A layer's value as text, whatever type the layer gave it (figment reads `AP_X=8` as a
/// number and `true` as a boolean): parsing happens in one place, `from_raw`.
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
struct RawSettings {
    #[serde(deserialize_with = "scalar_text")]
    database_url: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    bind: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    public_url: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    env: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    master_key: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    admin_jwt_secret: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    signature_tolerance: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    invitation_ttl: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    admin_token_max_ttl: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    dev_key_file: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    log_format: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    db_max_connections: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    delivery_retry_schedule: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    delivery_max_age: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    delivery_timeout: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    delivery_allow_private_networks: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    delivery_lease: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    delivery_concurrency: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    delivery_poll_interval: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    smtp_url: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    ashby_base_url: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    report_link_ttl: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    expiry_sweep_interval: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    mail_outbox_dir: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    mail_from: Option<String>,
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

/// A 32-byte key that encrypts stored secrets.
pub type MasterKey = SecretBox<[u8; 32]>;

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
    pub invitation_ttl: Duration,
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
    pub poll_interval: Duration,
}

impl DeliverySettings {
    fn defaults(env: Environment) -> Self {
        Self {
            retry_schedule: crate::delivery::policy::DEFAULT_SCHEDULE.to_vec(),
            max_age: crate::delivery::policy::DEFAULT_MAX_AGE,
            timeout: Duration::from_secs(10),
            allow_private_networks: env == Environment::Development,
            lease: Duration::from_secs(60),
            concurrency: 32,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Where e-mail goes.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `AP_SMTP_URL`; without it e-mails are written to `outbox_dir`.
    pub smtp_url: Option<String>,
    pub outbox_dir: PathBuf,
    pub from: String,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            outbox_dir: PathBuf::from("mail-outbox"),
            from: "Assessments <no-reply@assessment-partner.invalid>".into(),
        }
    }
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

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
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
        let mut figment = Figment::from(Serialized::defaults(RawSettings::default()));
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

    fn from_raw(raw: RawSettings, bind_override: Option<SocketAddr>) -> Result<Self, ConfigError> {
        let env = match raw.env.as_deref().map(str::trim) {
            None | Some("") | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(invalid(
                    "AP_ENV",
                    format!("'{other}' is neither 'development' nor 'production'"),
                ));
            }
        };
        let database_url = raw.database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
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
                let s = raw.bind.as_deref().unwrap_or(DEFAULT_BIND);
                s.parse()
                    .map_err(|_| invalid("AP_BIND", format!("'{s}' is not an address like 127.0.0.1:8080")))?
            }
        };
        let public_url = match raw.public_url.as_deref() {
            Some(s) => parse_public_url(s)?,
            None => default_public_url(bind),
        };
        let signature_tolerance = parse_duration(
            "AP_SIGNATURE_TOLERANCE",
            raw.signature_tolerance.as_deref().unwrap_or("300s"),
        )?;
        let invitation_ttl = parse_duration("AP_INVITATION_TTL", raw.invitation_ttl.as_deref().unwrap_or("14d"))?;
        if invitation_ttl.is_zero() {
            return Err(invalid("AP_INVITATION_TTL", "must be longer than zero"));
        }
        let log_format = match raw.log_format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "AP_LOG_FORMAT",
                    format!("'{other}' is neither 'text' nor 'json'"),
                ));
            }
        };
        let is_sqlite = database_url.starts_with("sqlite:");
        let db_max_connections = match raw.db_max_connections.as_deref() {
            None => {
                if is_sqlite {
                    1
                } else {
                    10
                }
            }
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid("AP_DB_MAX_CONNECTIONS", format!("'{s}' is not a positive integer")))?,
        };

        let mut delivery = DeliverySettings::defaults(env);
        if let Some(s) = raw.delivery_retry_schedule.as_deref() {
            delivery.retry_schedule = crate::delivery::policy::parse_schedule(s)
                .map_err(|e| invalid("AP_DELIVERY_RETRY_SCHEDULE", format!("{e} (expected e.g. 5s,30s,2m)")))?;
        }
        if let Some(s) = raw.delivery_max_age.as_deref() {
            delivery.max_age = parse_duration("AP_DELIVERY_MAX_AGE", s)?;
        }
        if let Some(s) = raw.delivery_timeout.as_deref() {
            delivery.timeout = parse_duration("AP_DELIVERY_TIMEOUT", s)?;
        }
        if let Some(s) = raw.delivery_lease.as_deref() {
            delivery.lease = parse_duration("AP_DELIVERY_LEASE", s)?;
        }
        if let Some(s) = raw.delivery_poll_interval.as_deref() {
            delivery.poll_interval = parse_duration("AP_DELIVERY_POLL_INTERVAL", s)?;
        }
        if let Some(s) = raw.delivery_allow_private_networks.as_deref() {
            delivery.allow_private_networks = parse_bool("AP_DELIVERY_ALLOW_PRIVATE_NETWORKS", s)?;
        }
        if let Some(s) = raw.delivery_concurrency.as_deref() {
            delivery.concurrency = s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1024).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "AP_DELIVERY_CONCURRENCY",
                        format!("'{s}' is not a number from 1 to 1024"),
                    )
                })?;
        }
        if delivery.timeout.is_zero() || delivery.lease <= delivery.timeout {
            return Err(invalid(
                "AP_DELIVERY_LEASE",
                "must be longer than AP_DELIVERY_TIMEOUT (which must be above zero)",
            ));
        }
        let ashby_base_url = match raw.ashby_base_url.as_deref() {
            None => DEFAULT_ASHBY_BASE_URL.to_owned(),
            Some(s) => crate::types::HttpUrl::parse(s)
                .map_err(|e| invalid("AP_ASHBY_BASE_URL", format!("'{s}' {e}")))?
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
        };
        let report_link_ttl = parse_duration("AP_REPORT_LINK_TTL", raw.report_link_ttl.as_deref().unwrap_or("90d"))?;
        let expiry_sweep_interval = parse_duration(
            "AP_EXPIRY_SWEEP_INTERVAL",
            raw.expiry_sweep_interval.as_deref().unwrap_or("60s"),
        )?;
        if report_link_ttl.is_zero() || expiry_sweep_interval.is_zero() {
            return Err(invalid(
                if report_link_ttl.is_zero() {
                    "AP_REPORT_LINK_TTL"
                } else {
                    "AP_EXPIRY_SWEEP_INTERVAL"
                },
                "must be longer than zero",
            ));
        }
        let admin_token_max_ttl = parse_duration(
            "AP_ADMIN_TOKEN_MAX_TTL",
            raw.admin_token_max_ttl.as_deref().unwrap_or("90d"),
        )?;
        if admin_token_max_ttl.is_zero() {
            return Err(invalid("AP_ADMIN_TOKEN_MAX_TTL", "must be longer than zero"));
        }
        let mut mail = MailSettings::default();
        if let Some(url) = raw.smtp_url.filter(|u| !u.trim().is_empty()) {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(invalid("AP_SMTP_URL", "must start with smtp:// or smtps://"));
            }
            mail.smtp_url = Some(url);
        }
        if let Some(dir) = raw.mail_outbox_dir {
            mail.outbox_dir = PathBuf::from(dir);
        }
        if let Some(from) = raw.mail_from {
            from.parse::<lettre::message::Mailbox>()
                .map_err(|e| invalid("AP_MAIL_FROM", format!("'{from}' is not a mailbox: {e}")))?;
            mail.from = from;
        }

        let (master_key, (admin_jwt_secret, admin_secret_source)) = match (raw.master_key, raw.admin_jwt_secret) {
            (Some(m), Some(a)) => (parse_master_key(&m)?, (parse_jwt_secret(&a)?, SecretSource::Setting)),
            (m, a) if env == Environment::Production => {
                let missing: Vec<&str> = [
                    m.is_none().then_some("AP_MASTER_KEY"),
                    a.is_none().then_some("AP_ADMIN_JWT_SECRET"),
                ]
                .into_iter()
                .flatten()
                .collect();
                return Err(invalid(
                    if m.is_none() {
                        "AP_MASTER_KEY"
                    } else {
                        "AP_ADMIN_JWT_SECRET"
                    },
                    format!("required in production (missing: {})", missing.join(", ")),
                ));
            }
            (m, a) => {
                let path = PathBuf::from(raw.dev_key_file.as_deref().unwrap_or(DEFAULT_DEV_KEY_FILE));
                let (dev, created) = DevKeys::load_or_create(&path)?;
                let master = match m {
                    Some(m) => parse_master_key(&m)?,
                    None => parse_master_key(&dev.master_key).map_err(|e| ConfigError::KeyFile {
                        path: path.clone(),
                        message: e.to_string(),
                    })?,
                };
                let admin = match a {
                    Some(a) => (parse_jwt_secret(&a)?, SecretSource::Setting),
                    None => (
                        SecretString::from(dev.admin_jwt_secret),
                        SecretSource::DevKeyFile { path, created },
                    ),
                };
                (master, admin)
            }
        };

        Ok(Settings {
            database_url: SecretString::from(database_url),
            bind,
            public_url,
            env,
            master_key,
            admin_jwt_secret,
            admin_secret_source,
            admin_token_max_ttl,
            signature_tolerance,
            invitation_ttl,
            log_format,
            db_max_connections,
            max_body_bytes: MAX_BODY_BYTES,
            delivery,
            mail,
            ashby_base_url,
            report_link_ttl,
            expiry_sweep_interval,
        })
    }

    /// Settings for tests and embedding: explicit values, no files, no environment.
    pub fn for_tests(database_url: &str) -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let bind: SocketAddr = "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!());
        Settings {
            database_url: SecretString::from(database_url.to_owned()),
            bind,
            public_url: default_public_url(bind),
            env: Environment::Development,
            master_key: SecretBox::new(Box::new(key)),
            admin_jwt_secret: SecretString::from(random_token(32)),
            admin_secret_source: SecretSource::Setting,
            admin_token_max_ttl: DEFAULT_ADMIN_TOKEN_MAX_TTL,
            signature_tolerance: Duration::from_secs(300),
            invitation_ttl: Duration::from_secs(14 * 24 * 3600),
            log_format: LogFormat::Text,
            db_max_connections: if database_url.starts_with("sqlite:") { 1 } else { 10 },
            max_body_bytes: MAX_BODY_BYTES,
            delivery: DeliverySettings::defaults(Environment::Development),
            mail: MailSettings::default(),
            ashby_base_url: DEFAULT_ASHBY_BASE_URL.to_owned(),
            report_link_ttl: crate::links::DEFAULT_REPORT_LINK_TTL,
            expiry_sweep_interval: Duration::from_secs(60),
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose_secret().starts_with("sqlite:")
    }
}

pub fn default_public_url(bind: SocketAddr) -> Url {
    // A bind address is always a valid authority.
    Url::parse(&format!("http://{bind}")).unwrap_or_else(|_| unreachable!("socket address is a valid URL authority"))
}

fn parse_public_url(s: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(s).map_err(|e| invalid("AP_PUBLIC_URL", format!("'{s}' is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("AP_PUBLIC_URL", "must be an absolute http(s) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("AP_PUBLIC_URL", "must not have a query or fragment"));
    }
    Ok(url)
}

fn parse_bool(setting: &'static str, s: &str) -> Result<bool, ConfigError> {
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

fn parse_master_key(s: &str) -> Result<MasterKey, ConfigError> {
    let bytes = B64
        .decode(s.trim())
        .map_err(|_| invalid("AP_MASTER_KEY", "must be base64 (standard alphabet)"))?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| invalid("AP_MASTER_KEY", format!("must decode to 32 bytes, got {}", b.len())))?;
    Ok(SecretBox::new(Box::new(key)))
}

fn parse_jwt_secret(s: &str) -> Result<SecretString, ConfigError> {
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

/// Secrets generated for development so that `demo` needs no setup; kept in a local file so
/// that restarts (and `token`) keep using the same ones.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DevKeys {
    master_key: String,
    admin_jwt_secret: String,
}

impl DevKeys {
    /// The keys, and whether the file was created just now.
    fn load_or_create(path: &Path) -> Result<(Self, bool), ConfigError> {
        let err = |message: String| ConfigError::KeyFile {
            path: path.to_path_buf(),
            message,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((serde_json::from_str(&text).map_err(|e| err(e.to_string()))?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                let keys = DevKeys {
                    master_key: B64.encode(key),
                    admin_jwt_secret: random_token(48),
                };
                let text = serde_json::to_string_pretty(&keys).map_err(|e| err(e.to_string()))?;
                write_private(path, &text).map_err(|e| err(e.to_string()))?;
                tracing::warn!(path = %path.display(), "generated development secrets; set AP_MASTER_KEY and AP_ADMIN_JWT_SECRET in production");
                Ok((keys, true))
            }
            Err(e) => Err(err(e.to_string())),
        }
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSettings {
        RawSettings {
            master_key: Some(B64.encode([7u8; 32])),
            admin_jwt_secret: Some("x".repeat(40)),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_as_documented() {
        let s = Settings::from_raw(raw(), None).unwrap();
        assert_eq!(s.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(s.signature_tolerance, Duration::from_secs(300));
        assert_eq!(s.invitation_ttl, Duration::from_secs(14 * 86400));
        assert_eq!(s.env, Environment::Development);
        assert_eq!(s.db_max_connections, 1);
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
                ..Default::default()
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
            ..Default::default()
        };
        let a = Settings::from_raw(raw(), None).unwrap();
        let b = Settings::from_raw(raw(), None).unwrap();
        assert_eq!(a.master_key.expose_secret(), b.master_key.expose_secret());
        assert_eq!(a.admin_jwt_secret.expose_secret(), b.admin_jwt_secret.expose_secret());
    }
}

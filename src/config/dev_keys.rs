//! Development secrets: generated on the first start without them and kept in a file, so that
//! `demo` needs no setup and restarts (and `token`) keep using the same ones.
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::config::values::random_token;

/// Secrets generated for development so that `demo` needs no setup; kept in a local file so
/// that restarts (and `token`) keep using the same ones.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DevKeys {
    pub master_key: String,
    pub admin_jwt_secret: String,
}

impl DevKeys {
    /// The keys, and whether the file was created just now.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), ConfigError> {
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

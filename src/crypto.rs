//! Secrets at rest: AES-256-GCM with the master key, and SHA-256 for keys we only compare.
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

/// A 32-byte key that encrypts stored secrets and from which the link and CSRF keys derive
/// (`AP_MASTER_KEY`).
pub type MasterKey = secrecy::SecretBox<[u8; 32]>;

const VERSION_PREFIX: &str = "v1:";

/// Encrypts and decrypts stored secrets. Each ciphertext is bound to a context string
/// (for example `integrator.secret:<id>`) so that it cannot be moved to another row.
#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("stored secret is not in the expected format")]
    Format,
    #[error("stored secret cannot be decrypted with this master key (was AP_MASTER_KEY changed?)")]
    Decrypt,
}

impl Vault {
    pub fn new(key: &MasterKey) -> Self {
        let cipher = Aes256Gcm::new(key.expose_secret().into());
        Self { cipher }
    }

    pub fn encrypt(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .unwrap_or_else(|_| unreachable!("AES-GCM encryption of an in-memory buffer cannot fail"));
        let mut out = Vec::with_capacity(12 + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        format!("{VERSION_PREFIX}{}", B64.encode(out))
    }

    pub fn decrypt(&self, context: &str, stored: &str) -> Result<Vec<u8>, VaultError> {
        let encoded = stored.strip_prefix(VERSION_PREFIX).ok_or(VaultError::Format)?;
        let bytes = B64.decode(encoded).map_err(|_| VaultError::Format)?;
        if bytes.len() < 12 + 16 {
            return Err(VaultError::Format);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Decrypt)
    }

    pub fn decrypt_string(&self, context: &str, stored: &str) -> Result<String, VaultError> {
        String::from_utf8(self.decrypt(context, stored)?).map_err(|_| VaultError::Format)
    }
}

/// SHA-256 as lower-case hex: how provider keys and partner keys are stored and looked up.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretBox;

    fn vault(byte: u8) -> Vault {
        Vault::new(&SecretBox::new(Box::new([byte; 32])))
    }

    #[test]
    fn round_trips_and_binds_context() {
        let v = vault(1);
        let stored = v.encrypt("integrator.secret:a", b"hunter2");
        assert!(!stored.contains("hunter2"));
        assert_eq!(v.decrypt("integrator.secret:a", &stored).unwrap(), b"hunter2");
        assert!(matches!(
            v.decrypt("integrator.secret:b", &stored),
            Err(VaultError::Decrypt)
        ));
        assert!(matches!(
            vault(2).decrypt("integrator.secret:a", &stored),
            Err(VaultError::Decrypt)
        ));
        assert!(matches!(v.decrypt("x", "garbage"), Err(VaultError::Format)));
    }

    #[test]
    fn nonces_differ() {
        let v = vault(1);
        assert_ne!(v.encrypt("c", b"same"), v.encrypt("c", b"same"));
    }
}

//! Passwords as argon2id hashes (PHC strings, the `argon2` crate's defaults: 19 MiB, 2 passes,
//! one lane, a random 16-byte salt each).
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use secrecy::{ExposeSecret, SecretString};

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

/// The argon2id hash of `password` (PHC string), after checking its length.
pub fn hash(password: &SecretString) -> Result<String, PasswordError> {
    let password = password.expose_secret();
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `stored` (a PHC string; anything else matches nothing).
pub fn verify(password: &SecretString, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let password = secret("correct horse battery staple");
        let (one, two) = (hash(&password).unwrap(), hash(&password).unwrap());
        assert!(one.starts_with("$argon2id$"), "{one}");
        assert_ne!(one, two, "each hash has its own salt");
        assert!(!one.contains("horse"));
        assert!(verify(&password, &one) && verify(&password, &two));
        assert!(!verify(&secret("correct horse battery stapl"), &one));
        assert!(!verify(&password, "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(hash(&secret("eleven chars")).is_ok());
        assert!(matches!(hash(&secret("short pass!")), Err(PasswordError::TooShort)));
    }
}

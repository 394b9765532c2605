//! Who is calling: integrators (provider-key + Signature), admins (bearer JWT).
pub mod admin;
pub mod directory;
pub mod provider;

/// Constant-time comparison for secrets of any length.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

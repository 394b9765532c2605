//! HTTP plumbing the surfaces share.
pub mod fields;
pub mod html;

//! HTTP plumbing the surfaces share.
pub mod client;
pub mod fields;
pub mod html;

//! What several integration tests share.
#![allow(dead_code, unreachable_pub)]

pub mod dns;
pub mod office;

//! Authorization for guss: one engine (Cedar) that answers "may this
//! principal do this to that?" the same way everywhere, explains its answer,
//! and is never more generous than its policies.
#![forbid(unsafe_code)]

pub mod audit;
mod authorizer;
pub mod delegation;
mod engine;
mod error;
mod facts;
pub mod retention;
pub mod store;

pub use authorizer::{EntityLoader, GrantSource, PolicyAuthorizer};
pub use engine::{BUILTIN_POLICIES, Explanation, PolicyEngine, Query, SCHEMA};
pub use error::{Error, Result};
pub use facts::{
    Grant, Grantee, PrincipalFacts, ResourceFacts, Share, ShareLevel, ShareLinkFacts, Subject,
};

//! Authorization for guss: one engine (Cedar) that answers "may this
//! principal do this to that?" the same way everywhere, explains its answer,
//! and is never more generous than its policies.
#![forbid(unsafe_code)]

pub mod audit;
mod authorizer;
pub mod continuity;
pub mod delegation;
mod engine;
mod error;
mod facts;
pub mod records;
pub mod retention;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod store;

pub use authorizer::{EntityLoader, GrantSource, PolicyAuthorizer};
pub use engine::{BUILTIN_POLICIES, Explanation, PolicyEngine, Query, SCHEMA};
pub use error::{Error, Result};
pub use facts::{
    Grant, Grantee, PrincipalFacts, ResourceFacts, Share, ShareLevel, ShareLinkFacts, Subject,
};

/// What this crate keeps about people, for the record of processing activities.
pub const PROCESSING: &[guss_core::ProcessingActivity] = &[
    guss_core::ProcessingActivity {
        id: "policy.audit",
        name: "Audit log",
        purposes: &[
            "prove who did what, and detect tampering",
            "support investigations of security incidents",
        ],
        data_subjects: &["staff", "guests", "share-link holders"],
        data_categories: &[
            "who acted (person ids)",
            "what changed",
            "when",
            "IP addresses of sign-in attempts",
        ],
        recipients: &["the organisation's auditors on request"],
        retention: "per the organisation's retention settings; the chain is never rewritten",
        legal_basis: "Art. 6(1)(c), (f) GDPR; Art. 32 GDPR",
    },
    guss_core::ProcessingActivity {
        id: "policy.delegation",
        name: "Deputies and representation",
        purposes: &["let named colleagues stand in during absences"],
        data_subjects: &["staff"],
        data_categories: &[
            "who represents whom",
            "period and scope of representation",
            "reason",
        ],
        recipients: &["the people concerned"],
        retention: "while in force, then in the audit log",
        legal_basis: "Art. 6(1)(b), (f) GDPR",
    },
];

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod app_passwords;
mod ceremony;
mod continuity;
mod error;
mod identity;
mod model;
mod people;
mod recovery;
mod seams;
mod secret;
pub mod store;

#[cfg(feature = "http")]
pub mod http;

pub use app_passwords::NewAppPassword;
pub use ceremony::{
    AuthenticationChallenge, Challenge, MAX_CREDENTIAL_JSON, RegistrationChallenge,
    parse_assertion, parse_registration,
};
pub use error::{Error, Result};
pub use identity::{Client, EnrollmentLink, Identity, Session, SignedIn};
pub use model::{
    AppPasswordInfo, AuthMethod, BreakGlassInfo, Finding, InvitationInfo, PasskeyInfo, Person,
    RecoverySheet, RelyingParty, Role, SessionInfo, Settings, Tenant,
};

/// The webauthn-rs types that cross this crate's API.
pub mod webauthn {
    pub use webauthn_rs::prelude::{
        CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
        RequestChallengeResponse, Url,
    };
}

/// What this crate keeps about people, for the organisation's record of
/// processing activities (GDPR Art. 30).
pub const PROCESSING: &[guss_core::ProcessingActivity] = &[
    guss_core::ProcessingActivity {
        id: "identity.directory",
        name: "Directory of people, groups and roles",
        purposes: &[
            "run the organisation's accounts",
            "address mail and invitations",
        ],
        data_subjects: &["staff", "guests"],
        data_categories: &[
            "name",
            "e-mail addresses",
            "roles",
            "group memberships",
            "account status",
        ],
        recipients: &["none outside the organisation"],
        retention: "while the person belongs to the organisation; departed people are kept for hand-over and the audit trail",
        legal_basis: "Art. 6(1)(b) GDPR; §26 BDSG for staff",
    },
    guss_core::ProcessingActivity {
        id: "identity.sign-in",
        name: "Sign-in, sessions and app passwords",
        purposes: &["authenticate people", "protect accounts against misuse"],
        data_subjects: &["staff", "guests"],
        data_categories: &[
            "passkey public keys and counters",
            "session and app-password hashes",
            "IP addresses and browser names of sessions and failed attempts",
        ],
        recipients: &["none outside the organisation"],
        retention: "sessions at most 14 days; failed attempts 15 minutes; passkeys until removed",
        legal_basis: "Art. 6(1)(b), (f) GDPR",
    },
    guss_core::ProcessingActivity {
        id: "identity.recovery",
        name: "Account recovery",
        purposes: &["restore access without a single point of failure"],
        data_subjects: &["staff", "trustees"],
        data_categories: &[
            "trustee names",
            "hash of the recovery secret",
            "break-glass requests and vetoes",
        ],
        recipients: &["trustees named by the organisation (their printed sheets)"],
        retention: "until the trustees are replaced",
        legal_basis: "Art. 6(1)(f) GDPR",
    },
];

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

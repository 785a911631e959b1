//! Client autoconfiguration: the documents mail clients set themselves up from.
//!
//! A person types their address and an app password, and their usual app
//! does the rest:
//!
//! - **Thunderbird** (and Evolution, KMail, K-9/Thunderbird for Android) asks
//!   for a Mozilla autoconfig file, `config-v1.1.xml`: [`thunderbird`].
//! - **Outlook** posts a "plain old XML" Autodiscover request and wants the
//!   IMAP and SMTP settings back: [`parse_autodiscover_request`] and
//!   [`autodiscover_response`] (errors: [`autodiscover_error_response`]).
//! - **iPhone, iPad and Mac** install a configuration profile that sets up
//!   Mail, Calendar and Contacts in one go, with an app password minted for
//!   that device: [`mobileconfig`], signed by a [`ProfileSigner`] when a
//!   certificate is at hand.
//!
//! With the `http` feature, `http::router` serves the first two on the
//! paths clients ask for.
//!
//! Everything is built from one [`ClientSettings`] per mail domain. The
//! module does no I/O and keeps no state.
//!
//! # What the documents say, and why
//!
//! - IMAP on port 993 and submission on port 465 both use implicit TLS
//!   (RFC 8314 §3.3 and §7.3 prefer it to STARTTLS). Port 587 with STARTTLS is
//!   offered to Thunderbird as a second choice, for networks that block 465.
//! - The user name is the whole e-mail address; the password is an app
//!   password sent over TLS (`password-cleartext` in Thunderbird's words,
//!   `EmailAuthPassword` in Apple's).
//! - Calendars and contacts are found through the RFC 6764 bootstrap URLs
//!   (`https://web-host/.well-known/caldav` and `…/carddav`), which guss
//!   redirects to the principal; [`ClientSettings::with_dav_urls`] can point
//!   elsewhere.
//! - A configuration profile carries a secret, so this module never mints
//!   one: the caller creates the app password (scoped to this device,
//!   revocable) and passes it in a [`DeviceAccount`]. Profile identifiers are
//!   derived from domain, user and device label, so installing a new profile
//!   for the same device replaces the old one instead of adding a second
//!   account.
//! - Input from the network is bounded ([`MAX_AUTODISCOVER_REQUEST`]), DTDs
//!   are refused, and only XML's predefined entities are resolved, so no
//!   request can expand into more than it is.
//!
//! ```
//! use guss_mail::autoconfig::{self, ClientSettings};
//!
//! let settings = ClientSettings::new("kanzlei.example", "mail.kanzlei.example", "guss.kanzlei.example")?
//!     .with_display_name("Kanzlei Muster & Partner")?;
//!
//! // Thunderbird
//! let xml = autoconfig::thunderbird(&settings);
//! assert!(xml.contains("<hostname>mail.kanzlei.example</hostname>"));
//! assert!(xml.contains("Kanzlei Muster &amp; Partner"));
//!
//! // Outlook
//! let request = br#"<?xml version="1.0" encoding="utf-8"?>
//! <Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
//!   <Request>
//!     <EMailAddress>Anna@Kanzlei.Example</EMailAddress>
//!     <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
//!   </Request>
//! </Autodiscover>"#;
//! let address = autoconfig::parse_autodiscover_request(request)?;
//! assert_eq!(address.as_str(), "anna@kanzlei.example");
//! let response = autoconfig::autodiscover_response(&settings, &address);
//! assert!(response.contains("<LoginName>anna@kanzlei.example</LoginName>"));
//!
//! // Apple (unsigned here; pass a ProfileSigner to sign)
//! let account = autoconfig::DeviceAccount::new(
//!     address,
//!     "Anna Schmidt",
//!     "anna@kanzlei.example",
//!     "xkcd-correct-horse".to_owned().into(),
//!     "Annas iPhone",
//! );
//! let profile = autoconfig::mobileconfig(&settings, &account, None)?;
//! assert!(profile.starts_with(b"<?xml"));
//! # Ok::<(), autoconfig::Error>(())
//! ```

mod autodiscover;
#[cfg(feature = "http")]
pub mod http;
mod mobileconfig;
mod settings;
mod signing;
mod thunderbird;
mod xml;

use std::borrow::Cow;

use guss_core::Limit;

pub use autodiscover::{
    AUTODISCOVER_REQUEST_SCHEMA, AUTODISCOVER_RESPONSE_SCHEMA, AutodiscoverError,
    MAX_AUTODISCOVER_REQUEST, autodiscover_error_response, autodiscover_response,
    parse_autodiscover_request,
};
pub use mobileconfig::{DeviceAccount, MOBILECONFIG_CONTENT_TYPE, mobileconfig};
pub use settings::{ClientSettings, IMAPS_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT};
pub use signing::ProfileSigner;
pub use thunderbird::thunderbird;

/// What went wrong while building or reading an autoconfiguration document.
///
/// ```
/// use guss_mail::autoconfig::{ClientSettings, Error};
///
/// let err = ClientSettings::new("kanzlei.example", "mail server", "web.kanzlei.example").unwrap_err();
/// assert!(matches!(err, Error::Invalid { what: "mail host", .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input is malformed: a host name, a display name, a request body.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which input.
        what: &'static str,
        /// What is wrong with it, in words a person can act on.
        why: Cow<'static, str>,
    },
    /// Input went over a bound (see the `MAX_*` limits of this module).
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// Which bound.
        what: &'static str,
        /// The bound in force.
        limit: u64,
    },
    /// An Autodiscover request asked for a response schema guss does not
    /// speak (typically the ActiveSync `mobilesync` schema).
    #[error("unsupported Autodiscover response schema {0:?}")]
    UnsupportedSchema(String),
    /// The certificate or key for signing profiles is unusable, or signing
    /// failed.
    #[error("cannot sign the profile: {0}")]
    Signing(Cow<'static, str>),
}

impl Error {
    pub(crate) fn invalid(what: &'static str, why: impl Into<Cow<'static, str>>) -> Self {
        Error::Invalid {
            what,
            why: why.into(),
        }
    }

    pub(crate) fn signing(why: impl Into<Cow<'static, str>>) -> Self {
        Error::Signing(why.into())
    }
}

/// Longest display name, full name or device label accepted, in characters.
const MAX_NAME: Limit = Limit::new("name length in characters", 256);

/// Checks `value` against `limit`, as this module's error.
fn check_limit(limit: Limit, value: usize) -> Result<(), Error> {
    let value = u64::try_from(value).unwrap_or(u64::MAX);
    if value <= limit.max() {
        Ok(())
    } else {
        Err(Error::LimitExceeded {
            what: limit.what(),
            limit: limit.max(),
        })
    }
}

/// Checks text a person gave (names, labels) before it goes into a document:
/// not empty, not too long, no control characters (which XML 1.0 cannot carry
/// and no name needs).
fn check_text(what: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(what, "must not be empty"));
    }
    check_limit(MAX_NAME, value.chars().count())?;
    if value
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    {
        return Err(Error::invalid(what, "must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_checks() {
        assert!(check_text("name", "Anna Schmidt").is_ok());
        assert!(check_text("name", "Müller & Söhne <GmbH>").is_ok());
        assert!(check_text("name", "").is_err());
        assert!(check_text("name", "   ").is_err());
        assert!(check_text("name", "a\u{0}b").is_err());
        assert!(check_text("name", "a\nb").is_err());
        assert!(check_text("name", "\u{FFFF}").is_err());
        assert!(check_text("name", &"x".repeat(256)).is_ok());
        assert!(matches!(
            check_text("name", &"x".repeat(257)),
            Err(Error::LimitExceeded { .. })
        ));
    }
}

//! Records of processing (GDPR Art. 30): each crate declares what personal
//! data it keeps and why; `guss-policy` renders the organisation's record.

use serde::Serialize;

/// One processing activity a crate performs, declared as static data.
///
/// ```
/// use guss_core::ProcessingActivity;
///
/// const SIGN_IN: ProcessingActivity = ProcessingActivity {
///     id: "identity.sign-in",
///     name: "Sign-in and sessions",
///     purposes: &["authenticate people", "protect accounts against misuse"],
///     data_subjects: &["staff", "guests"],
///     data_categories: &["name", "e-mail addresses", "passkey public keys", "IP addresses of sign-ins"],
///     recipients: &["none outside the organisation"],
///     retention: "sessions up to 14 days; failed attempts 15 minutes",
///     legal_basis: "Art. 6(1)(b), (f) GDPR",
/// };
/// assert!(!SIGN_IN.purposes.is_empty());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessingActivity {
    /// Stable id, `crate.activity`.
    pub id: &'static str,
    /// Name as shown in the record.
    pub name: &'static str,
    /// Why the data is processed (Art. 30(1)(b)).
    pub purposes: &'static [&'static str],
    /// Whose data (Art. 30(1)(c)).
    pub data_subjects: &'static [&'static str],
    /// Which data (Art. 30(1)(c)).
    pub data_categories: &'static [&'static str],
    /// Who receives it (Art. 30(1)(d)).
    pub recipients: &'static [&'static str],
    /// When it is deleted (Art. 30(1)(f)).
    pub retention: &'static str,
    /// On what legal basis (Art. 6 GDPR).
    pub legal_basis: &'static str,
}

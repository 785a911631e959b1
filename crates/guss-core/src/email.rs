//! E-mail addresses as guss hosts them: validated and in one canonical form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Limit};

/// RFC 5321 §4.5.3.1.3: a path holds at most 256 octets, so an address at most 254.
const MAX_ADDRESS: Limit = Limit::new("e-mail address length", 254);

/// An e-mail address (`local@domain`, no display name, no domain literal),
/// lowercased.
///
/// Addresses are compared case-insensitively everywhere in guss: RFC 5321
/// allows a case-sensitive local part, but every mail system a small office
/// meets treats `Anna@` and `anna@` as one person, and so does guss.
///
/// ```
/// use guss_core::EmailAddress;
///
/// let address: EmailAddress = "Anna.Schmidt@Kanzlei.Example".parse()?;
/// assert_eq!(address.as_str(), "anna.schmidt@kanzlei.example");
/// assert_eq!(address.local_part(), "anna.schmidt");
/// assert_eq!(address.domain(), "kanzlei.example");
/// assert!("Anna <anna@kanzlei.example>".parse::<EmailAddress>().is_err());
/// # Ok::<(), guss_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The whole address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the last `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }

    /// The part after the last `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl FromStr for EmailAddress {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        MAX_ADDRESS.check_len(s.len())?;
        // The limits hold for the canonical (lowercase) form, which can be
        // longer than what was typed (`Ⱥ` is two bytes, `ⱥ` three): it is
        // that form that is checked, so that it always parses again.
        let lowered = s.to_lowercase();
        MAX_ADDRESS.check_len(lowered.len())?;
        let options = email_address::Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            ..email_address::Options::default()
        };
        let parsed = email_address::EmailAddress::parse_with_options(&lowered, options)
            .map_err(|e| Error::invalid("e-mail address", e.to_string()))?;
        Ok(EmailAddress(parsed.as_str().to_owned()))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.0)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits_hold_for_the_lowercase_form() {
        // `Ⱥ` (2 bytes) lowercases to `ⱥ` (3 bytes): 210 bytes typed, 310
        // canonical. Found by the `email_address` fuzz target.
        let label = "Ⱥ".repeat(20);
        let long = format!("ti@{label}.{label}.{label}.{label}.{label}.de");
        assert!(long.len() <= 254);
        assert!(long.parse::<EmailAddress>().is_err());
        let short: EmailAddress = format!("ti@{}.de", "Ⱥ".repeat(3)).parse().unwrap();
        assert_eq!(short.as_str(), "ti@ⱥⱥⱥ.de");
        assert_eq!(short.as_str().parse::<EmailAddress>().unwrap(), short);
    }

    #[test]
    fn rejects_what_is_not_a_plain_address() {
        for bad in [
            "",
            "anna",
            "anna@",
            "@kanzlei.example",
            "anna@localhost",
            "anna@[192.0.2.1]",
            "a b@kanzlei.example",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?}");
        }
        let long = format!("{}@kanzlei.example", "a".repeat(240));
        assert!(long.parse::<EmailAddress>().is_err());
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<EmailAddress>("\"nobody\"").is_err());
        let address: EmailAddress = serde_json::from_str("\"Ben@Praxis.Example\"").unwrap();
        assert_eq!(
            serde_json::to_string(&address).unwrap(),
            "\"ben@praxis.example\""
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,300}") {
            let _ = s.parse::<EmailAddress>();
        }

        #[test]
        fn canonical_form_is_stable(local in "[a-zA-Z0-9._%+-]{1,30}", domain in "[a-zA-Z][a-zA-Z0-9-]{0,20}\\.[a-zA-Z]{2,6}") {
            if let Ok(address) = format!("{local}@{domain}").parse::<EmailAddress>() {
                let again: EmailAddress = address.as_str().parse().unwrap();
                prop_assert_eq!(again, address);
            }
        }
    }
}

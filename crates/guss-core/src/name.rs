//! Short, validated machine names: actions, resource kinds, services, event types.
//!
//! They end up in policies, audit records and URLs, so they are restricted to
//! lowercase ASCII letters, digits and a few separators, and bounded in length.

use std::borrow::Cow;

use crate::{Error, Limit};

/// Longest machine name accepted anywhere.
pub(crate) const MAX_NAME: Limit = Limit::new("name length", 128);

/// Checks `name` for `what`: 1..=128 characters, starting with a lowercase
/// letter, otherwise lowercase letters, digits and the given `separators`.
pub(crate) const fn is_valid(name: &str, separators: &[u8]) -> bool {
    let bytes = name.as_bytes();
    if bytes.len() as u64 > MAX_NAME.max() {
        return false;
    }
    let [first, rest @ ..] = bytes else {
        return false;
    };
    if !first.is_ascii_lowercase() {
        return false;
    }
    // Slice patterns instead of indexing: this runs in `const` contexts.
    let mut rest = rest;
    while let [b, tail @ ..] = rest {
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || contains(separators, *b)) {
            return false;
        }
        rest = tail;
    }
    true
}

const fn contains(set: &[u8], wanted: u8) -> bool {
    let mut rest = set;
    while let [b, tail @ ..] = rest {
        if *b == wanted {
            return true;
        }
        rest = tail;
    }
    false
}

/// Validates a runtime name, for the `new` constructors of name newtypes.
pub(crate) fn validate(
    name: impl Into<Cow<'static, str>>,
    what: &'static str,
    separators: &[u8],
) -> Result<Cow<'static, str>, Error> {
    let name = name.into();
    MAX_NAME.check_len(name.len())?;
    if is_valid(&name, separators) {
        Ok(name)
    } else {
        Err(Error::invalid(
            what,
            "must start with a lowercase letter and hold only lowercase letters, digits and separators",
        ))
    }
}

/// Defines a name newtype with `const` constructors for built-in names and a
/// validating `new` for names that come from configuration or storage.
macro_rules! machine_name {
    ($(#[$meta:meta])* $name:ident, $what:literal, $separators:expr) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(std::borrow::Cow<'static, str>);

        impl $name {
            /// A built-in name, checked at compile time when used in a `const`.
            ///
            /// # Panics
            ///
            /// If `name` is not a valid name (in a `const`, this fails the build).
            #[allow(clippy::panic)] // only reachable with a literal that is wrong in the source
            pub const fn from_static(name: &'static str) -> Self {
                if !$crate::name::is_valid(name, $separators) {
                    panic!(concat!("invalid ", $what));
                }
                Self(std::borrow::Cow::Borrowed(name))
            }

            /// A name from configuration or storage, validated.
            pub fn new(name: impl Into<std::borrow::Cow<'static, str>>) -> Result<Self, $crate::Error> {
                $crate::name::validate(name, $what, $separators).map(Self)
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;

            fn from_str(s: &str) -> Result<Self, $crate::Error> {
                Self::new(s.to_owned())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::new(text).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use machine_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        assert!(is_valid("read", b"_"));
        assert!(is_valid("act_for", b"_"));
        assert!(is_valid("guss.identity.person.invited", b"._-"));
        assert!(!is_valid("", b"_"));
        assert!(!is_valid("Read", b"_"));
        assert!(!is_valid("1read", b"_"));
        assert!(!is_valid("act-for", b"_"));
        assert!(!is_valid("read write", b"_"));
        assert!(!is_valid(&"a".repeat(129), b"_"));
        assert!(is_valid(&"a".repeat(128), b"_"));
    }
}

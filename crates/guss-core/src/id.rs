//! Identifiers: UUIDv7 newtypes, so that a person id cannot be passed where a
//! tenant id is expected.
//!
//! Version 7 UUIDs start with a millisecond timestamp: new rows land at the end
//! of B-tree indexes in SQLite and PostgreSQL instead of at random places, and
//! ids sort roughly by creation time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Error;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, unique id (UUIDv7: current time plus random bits).
            #[allow(clippy::new_without_default)] // a default id would be a random one: say so at the call
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID, e.g. one read from storage.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            /// Parses the hyphenated, simple, braced or URN form of a UUID.
            fn from_str(s: &str) -> Result<Self, Error> {
                Uuid::try_parse(s)
                    .map(Self)
                    .map_err(|_| Error::invalid($what, "not a UUID"))
            }
        }
    };
}

uuid_id!(
    /// An organisation: the unit of isolation for all stored data.
    ///
    /// ```
    /// use guss_core::TenantId;
    ///
    /// let id = TenantId::new();
    /// let text = id.to_string();
    /// assert_eq!(text.parse::<TenantId>()?, id);
    /// assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
    /// assert!("not-a-uuid".parse::<TenantId>().is_err());
    /// # Ok::<(), guss_core::Error>(())
    /// ```
    TenantId,
    "tenant id"
);

uuid_id!(
    /// A person in a tenant.
    ///
    /// ```
    /// use guss_core::PersonId;
    ///
    /// let earlier = PersonId::new();
    /// let later = PersonId::new();
    /// assert!(earlier < later, "UUIDv7 ids sort by creation time");
    /// ```
    PersonId,
    "person id"
);

uuid_id!(
    /// A group of people in a tenant.
    ///
    /// ```
    /// use guss_core::GroupId;
    ///
    /// let id: GroupId = "0193a0c4-6b1e-7cc0-8d3a-2f4b5c6d7e8f".parse()?;
    /// assert_eq!(id.as_uuid().get_version_num(), 7);
    /// # Ok::<(), guss_core::Error>(())
    /// ```
    GroupId,
    "group id"
);

uuid_id!(
    /// A share link: anyone holding it acts as [`crate::Principal::ShareLink`].
    ///
    /// ```
    /// use guss_core::ShareLinkId;
    ///
    /// let id = ShareLinkId::new();
    /// assert_eq!(format!("{id:?}"), format!("ShareLinkId({id})"));
    /// ```
    ShareLinkId,
    "share link id"
);

uuid_id!(
    /// One emitted [`crate::Event`] (the CloudEvents `id`).
    ///
    /// ```
    /// use guss_core::EventId;
    ///
    /// assert_ne!(EventId::new(), EventId::new());
    /// ```
    EventId,
    "event id"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn new_ids_are_version_7() {
        assert_eq!(TenantId::new().as_uuid().get_version_num(), 7);
    }

    #[test]
    fn serde_rejects_garbage() {
        assert!(serde_json::from_str::<PersonId>("\"nope\"").is_err());
        assert!(serde_json::from_str::<PersonId>("17").is_err());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(bits: u128) {
            let id = PersonId::from_uuid(Uuid::from_u128(bits));
            prop_assert_eq!(id.to_string().parse::<PersonId>().unwrap(), id);
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<PersonId>(&json).unwrap(), id);
        }

        #[test]
        fn parse_never_panics(s in ".{0,80}") {
            let _ = s.parse::<GroupId>();
        }
    }
}

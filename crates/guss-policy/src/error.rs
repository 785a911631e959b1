//! The error type of `guss-policy`.

use std::borrow::Cow;

/// What went wrong, in a form the caller can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing named does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for.
        what: Cow<'static, str>,
    },
    /// The change collides with the current state.
    #[error("conflict: {what}")]
    Conflict {
        /// What collided.
        what: Cow<'static, str>,
    },
    /// A policy set, grant or other input is malformed; nothing was changed.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which input.
        what: Cow<'static, str>,
        /// What is wrong with it.
        why: Cow<'static, str>,
    },
    /// Input went over a bound.
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// Which bound.
        what: Cow<'static, str>,
        /// The bound in force.
        limit: u64,
    },
    /// A store or another backend failed.
    #[error("backend failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    pub(crate) fn invalid(
        what: impl Into<Cow<'static, str>>,
        why: impl Into<Cow<'static, str>>,
    ) -> Self {
        Error::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }
}

impl From<guss_core::Error> for Error {
    fn from(e: guss_core::Error) -> Self {
        match e {
            guss_core::Error::NotFound { what } => Error::NotFound { what },
            guss_core::Error::Conflict { what } => Error::Conflict { what },
            guss_core::Error::Invalid { what, why } => Error::Invalid { what, why },
            guss_core::Error::LimitExceeded { what, limit } => Error::LimitExceeded { what, limit },
            other => Error::Backend(Box::new(other)),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<guss_sql::sqlx::Error> for Error {
    fn from(e: guss_sql::sqlx::Error) -> Self {
        Error::Backend(Box::new(e))
    }
}

//! The one error type of `guss-core`, shared by the seams between crates.

use std::borrow::Cow;

/// What went wrong, in a form the caller can act on.
///
/// Domain crates have their own error enums; when they implement a
/// `guss-core` trait they map into this one. At the HTTP edge every variant
/// maps to one status code (see [`Error::http_status`]).
///
/// ```
/// use guss_core::Error;
///
/// let err = Error::invalid("tenant id", "not a UUID");
/// assert_eq!(err.to_string(), "invalid tenant id: not a UUID");
/// assert_eq!(err.http_status(), 400);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing named does not exist (or the caller may not know it does).
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for, e.g. `"person"`.
        what: Cow<'static, str>,
    },
    /// The change collides with the current state (exists already, stale version).
    #[error("conflict: {what}")]
    Conflict {
        /// What collided, e.g. `"credential id"`.
        what: Cow<'static, str>,
    },
    /// The principal is known but not allowed to do this.
    #[error("forbidden")]
    Forbidden,
    /// The credentials were missing, wrong, expired or revoked.
    ///
    /// Deliberately without detail, so that a failed login does not reveal
    /// whether a person or a credential exists.
    #[error("authentication failed")]
    Unauthenticated,
    /// Input was malformed or violates a rule.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which input, e.g. `"Authorization header"`.
        what: Cow<'static, str>,
        /// What is wrong with it.
        why: Cow<'static, str>,
    },
    /// Input or state went over a configured bound (see [`crate::Limit`]).
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// Which bound, e.g. `"XML nesting depth"`.
        what: Cow<'static, str>,
        /// The bound in force.
        limit: u64,
    },
    /// Too many attempts; the caller may try again later.
    #[error("too many attempts, retry in {retry_after_seconds} s")]
    RateLimited {
        /// Seconds after which a new attempt may succeed.
        retry_after_seconds: u64,
    },
    /// A storage engine, network peer or other backend failed.
    #[error("backend failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// An [`Error::Invalid`] for input `what` that is wrong because of `why`.
    pub fn invalid(what: impl Into<Cow<'static, str>>, why: impl Into<Cow<'static, str>>) -> Self {
        Error::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }

    /// An [`Error::NotFound`] for `what`.
    pub fn not_found(what: impl Into<Cow<'static, str>>) -> Self {
        Error::NotFound { what: what.into() }
    }

    /// An [`Error::Conflict`] about `what`.
    pub fn conflict(what: impl Into<Cow<'static, str>>) -> Self {
        Error::Conflict { what: what.into() }
    }

    /// An [`Error::Backend`] wrapping any error of a backend.
    pub fn backend(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Backend(Box::new(source))
    }

    /// The HTTP status code this error is answered with at the edge.
    ///
    /// ```
    /// assert_eq!(guss_core::Error::Forbidden.http_status(), 403);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } => 409,
            Error::Forbidden => 403,
            Error::Unauthenticated => 401,
            Error::Invalid { .. } => 400,
            Error::LimitExceeded { .. } => 413,
            Error::RateLimited { .. } => 429,
            Error::Backend(_) => 503,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

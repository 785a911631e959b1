//! The error type of `guss-identity`.

use std::borrow::Cow;

/// What went wrong, in a form the caller can act on. Every failed operation
/// leaves the stored state as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing named does not exist, or is no longer usable (a ceremony that
    /// expired or was already finished, a used invitation).
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for.
        what: Cow<'static, str>,
    },
    /// The change collides with existing state (a credential registered
    /// twice, an address already taken, the last owner losing the role).
    #[error("conflict: {what}")]
    Conflict {
        /// What collided.
        what: Cow<'static, str>,
    },
    /// The actor may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The action needs a fresh passkey assertion (step-up) first.
    #[error("this action needs a fresh passkey confirmation")]
    StepUpRequired,
    /// Credentials or an assertion were wrong, expired or revoked.
    #[error("authentication failed")]
    Unauthenticated,
    /// Input was malformed.
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
    /// Too many failed attempts; try again later.
    #[error("too many attempts, retry in {retry_after_seconds} s")]
    RateLimited {
        /// Seconds until a new attempt may succeed.
        retry_after_seconds: u64,
    },
    /// The store or another backend failed.
    #[error("backend failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    pub(crate) fn not_found(what: impl Into<Cow<'static, str>>) -> Self {
        Error::NotFound { what: what.into() }
    }

    pub(crate) fn conflict(what: impl Into<Cow<'static, str>>) -> Self {
        Error::Conflict { what: what.into() }
    }

    pub(crate) fn invalid(
        what: impl Into<Cow<'static, str>>,
        why: impl Into<Cow<'static, str>>,
    ) -> Self {
        Error::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }

    pub(crate) fn backend(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Backend(Box::new(source))
    }

    /// The HTTP status this error is answered with.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } => 409,
            Error::Forbidden => 403,
            Error::StepUpRequired | Error::Unauthenticated => 401,
            Error::Invalid { .. } => 400,
            Error::LimitExceeded { .. } => 413,
            Error::RateLimited { .. } => 429,
            Error::Backend(_) => 503,
        }
    }
}

impl From<guss_core::Error> for Error {
    fn from(e: guss_core::Error) -> Self {
        match e {
            guss_core::Error::NotFound { what } => Error::NotFound { what },
            guss_core::Error::Conflict { what } => Error::Conflict { what },
            guss_core::Error::Forbidden => Error::Forbidden,
            guss_core::Error::Unauthenticated => Error::Unauthenticated,
            guss_core::Error::Invalid { what, why } => Error::Invalid { what, why },
            guss_core::Error::LimitExceeded { what, limit } => Error::LimitExceeded { what, limit },
            guss_core::Error::RateLimited {
                retry_after_seconds,
            } => Error::RateLimited {
                retry_after_seconds,
            },
            other => Error::Backend(Box::new(other)),
        }
    }
}

impl From<Error> for guss_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { what } => guss_core::Error::NotFound { what },
            Error::Conflict { what } => guss_core::Error::Conflict { what },
            Error::Forbidden => guss_core::Error::Forbidden,
            Error::StepUpRequired | Error::Unauthenticated => guss_core::Error::Unauthenticated,
            Error::Invalid { what, why } => guss_core::Error::Invalid { what, why },
            Error::LimitExceeded { what, limit } => guss_core::Error::LimitExceeded { what, limit },
            Error::RateLimited {
                retry_after_seconds,
            } => guss_core::Error::RateLimited {
                retry_after_seconds,
            },
            Error::Backend(source) => guss_core::Error::Backend(source),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The error type of `guss-mail`.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not what was expected (an address, a mailbox name, a message).
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which input.
        what: &'static str,
        /// What is wrong, in words a person can act on.
        why: String,
    },
    /// A bound was exceeded: size, count or nesting.
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// Which bound.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// No such mailbox, message or account.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Something of that name is already there.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The principal may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The database, the blob store or the network failed; retrying later may help.
    #[error("backend failure: {0}")]
    Backend(String),
}

impl Error {
    pub(crate) fn invalid(what: &'static str, why: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            why: why.into(),
        }
    }

    pub(crate) fn over(limit: &guss_core::Limit) -> Self {
        Error::LimitExceeded {
            what: limit.what(),
            limit: limit.max(),
        }
    }

    pub(crate) fn backend(what: impl std::fmt::Display) -> Self {
        Error::Backend(what.to_string())
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<guss_sql::sqlx::Error> for Error {
    fn from(e: guss_sql::sqlx::Error) -> Self {
        Error::Backend(format!("database: {e}"))
    }
}

impl From<guss_blob::Error> for Error {
    fn from(e: guss_blob::Error) -> Self {
        Error::Backend(format!("blob store: {e}"))
    }
}

impl From<guss_core::Error> for Error {
    fn from(e: guss_core::Error) -> Self {
        match e {
            guss_core::Error::Forbidden => Error::Forbidden,
            other => Error::Backend(other.to_string()),
        }
    }
}

//! The error type of `guss-calendar`.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not iCalendar (or not the iCalendar expected).
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which input.
        what: &'static str,
        /// What is wrong, in words a person can act on.
        why: String,
    },
    /// A bound was exceeded: size, count, nesting or expansion.
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// Which bound.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// No such calendar, object or principal.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Something is already there, or the change clashes with what is
    /// (a UID used twice, a resource already booked).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The principal may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The text is not a calendar object this calendar takes.
    #[error(transparent)]
    Object(#[from] crate::object::ObjectError),
    /// An `If-Match` or `If-None-Match` condition did not hold.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The database failed.
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
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(feature = "store")]
impl From<guss_sql::sqlx::Error> for Error {
    fn from(e: guss_sql::sqlx::Error) -> Self {
        Error::Backend(format!("database: {e}"))
    }
}

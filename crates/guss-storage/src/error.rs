//! The error type of `guss-storage`.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Sealed data or a wrapped key failed authentication: it was altered,
    /// belongs to another tenant or chunk, or the key is wrong.
    #[error("stored data failed its integrity check")]
    Integrity,
    /// Stored data is not in a format this version reads.
    #[error("unknown stored format {0}")]
    Format(u8),
    /// A bound was exceeded (e.g. a chunk that decompresses too large).
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// Which bound.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// Nothing there: no such file, folder, version, trash item or link.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Something is already at that name.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The operation does not fit the tree as it is (a missing parent, a
    /// folder where a file is expected, a move into itself).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The principal may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The tenant's quota is used up.
    #[error("quota exceeded")]
    QuotaExceeded,
    /// A request value is not acceptable.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which value.
        what: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// The system's random source, a codec, the database or the blob store
    /// failed.
    #[error("backend failure: {0}")]
    Backend(String),
}

#[cfg(feature = "store")]
impl From<guss_sql::sqlx::Error> for Error {
    fn from(e: guss_sql::sqlx::Error) -> Self {
        Error::Backend(format!("database: {e}"))
    }
}

#[cfg(feature = "store")]
impl From<guss_blob::Error> for Error {
    fn from(e: guss_blob::Error) -> Self {
        Error::Backend(format!("blob store: {e}"))
    }
}

impl From<guss_core::Error> for Error {
    fn from(e: guss_core::Error) -> Self {
        match e {
            guss_core::Error::Forbidden | guss_core::Error::Unauthenticated => Error::Forbidden,
            other => Error::Backend(other.to_string()),
        }
    }
}

impl From<guss_dav::Error> for Error {
    fn from(_: guss_dav::Error) -> Self {
        Error::Invalid {
            what: "path",
            why: "a segment is empty, a dot segment, too long or has a control character",
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

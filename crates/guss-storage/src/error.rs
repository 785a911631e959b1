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
    /// The system's random source or a codec failed.
    #[error("backend failure: {0}")]
    Backend(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

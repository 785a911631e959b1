//! The error type of `guss-dav`: every variant maps to the HTTP status a
//! WebDAV server answers with.

/// What is wrong with a request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The body is not well-formed XML, or not the element expected (400).
    #[error("bad request body: {0}")]
    BadBody(String),
    /// A header is malformed (400).
    #[error("bad {header} header: {why}")]
    BadHeader {
        /// Which header.
        header: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// `Depth: infinity` where the server refuses it (403, with the
    /// `propfind-finite-depth` precondition of RFC 4918 §9.1).
    #[error("Depth: infinity is not supported here")]
    InfiniteDepth,
    /// A range cannot be satisfied (416).
    #[error("range not satisfiable")]
    RangeNotSatisfiable,
    /// A body or header goes over a bound (413 for bodies, 400 for headers).
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge {
        /// Which bound.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
}

impl Error {
    /// The HTTP status for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::BadBody(_) | Error::BadHeader { .. } => 400,
            Error::InfiniteDepth => 403,
            Error::RangeNotSatisfiable => 416,
            Error::TooLarge { .. } => 413,
        }
    }

    pub(crate) fn body(why: impl Into<String>) -> Self {
        Error::BadBody(why.into())
    }
}

impl From<guss_core::Error> for Error {
    fn from(e: guss_core::Error) -> Self {
        match e {
            guss_core::Error::LimitExceeded { limit, .. } => Error::TooLarge {
                what: "request",
                limit,
            },
            other => Error::BadBody(other.to_string()),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

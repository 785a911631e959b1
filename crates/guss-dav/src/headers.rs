//! Simple WebDAV headers: `Depth` and `Overwrite` (RFC 4918 §10.2, §10.6).

use crate::{Error, Result};

/// How deep a request reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// The resource only.
    Zero,
    /// The resource and its members.
    One,
    /// The whole subtree.
    Infinity,
}

impl Depth {
    /// Parses a `Depth` header; absent means infinity (RFC 4918 §9.1, §9.8.3, §9.9.2).
    pub fn parse(value: Option<&str>) -> Result<Depth> {
        match value.map(str::trim) {
            None => Ok(Depth::Infinity),
            Some("0") => Ok(Depth::Zero),
            Some("1") => Ok(Depth::One),
            Some(v) if v.eq_ignore_ascii_case("infinity") => Ok(Depth::Infinity),
            Some(_) => Err(Error::BadHeader {
                header: "Depth",
                why: "0, 1 or infinity",
            }),
        }
    }
}

/// Whether COPY and MOVE may replace an existing destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    /// Replace it (the default).
    Yes,
    /// Fail with 412.
    No,
}

impl Overwrite {
    /// Parses an `Overwrite` header; absent means `T`.
    pub fn parse(value: Option<&str>) -> Result<Overwrite> {
        match value.map(str::trim) {
            None | Some("T" | "t") => Ok(Overwrite::Yes),
            Some("F" | "f") => Ok(Overwrite::No),
            Some(_) => Err(Error::BadHeader {
                header: "Overwrite",
                why: "T or F",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_and_overwrite() {
        assert_eq!(Depth::parse(None).unwrap(), Depth::Infinity);
        assert_eq!(Depth::parse(Some(" 0 ")).unwrap(), Depth::Zero);
        assert_eq!(Depth::parse(Some("Infinity")).unwrap(), Depth::Infinity);
        assert!(Depth::parse(Some("2")).is_err());
        assert_eq!(Overwrite::parse(None).unwrap(), Overwrite::Yes);
        assert_eq!(Overwrite::parse(Some("F")).unwrap(), Overwrite::No);
        assert!(Overwrite::parse(Some("no")).is_err());
    }
}

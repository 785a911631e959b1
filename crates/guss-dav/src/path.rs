//! Paths inside a served tree, as decoded and checked segments.

use std::fmt;

/// The longest path segment and the deepest path a handler accepts.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// See [`MAX_SEGMENT_BYTES`].
pub const MAX_PATH_SEGMENTS: usize = 64;

/// A path inside the served tree as decoded segments: `/Akten/Brief 1.odt`
/// is `["Akten", "Brief 1.odt"]`, the root is `[]`.
///
/// ```
/// use guss_dav::DavPath;
///
/// let path = DavPath::from_segments(["Akten", "Brief 1.odt"])?;
/// assert_eq!(path.name(), Some("Brief 1.odt"));
/// assert_eq!(path.parent().unwrap().segments(), ["Akten"]);
/// assert!(DavPath::from_segments([".."]).is_err());
/// # Ok::<(), guss_dav::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DavPath {
    segments: Vec<String>,
}

impl DavPath {
    /// The root of the served tree.
    pub fn root() -> Self {
        DavPath::default()
    }

    /// A path from decoded segments; empty, `.`, `..`, over-long segments,
    /// `/`, NUL and other control characters are refused.
    pub fn from_segments<S: Into<String>>(
        segments: impl IntoIterator<Item = S>,
    ) -> crate::Result<Self> {
        let mut out = Vec::new();
        for segment in segments {
            let segment = segment.into();
            let bad = segment.is_empty()
                || segment == "."
                || segment == ".."
                || segment.len() > MAX_SEGMENT_BYTES
                || segment.chars().any(|c| c == '/' || c.is_control());
            if bad {
                return Err(crate::Error::BadHeader {
                    header: "path",
                    why: "a segment is empty, a dot segment, too long or has a control character",
                });
            }
            out.push(segment);
            if out.len() > MAX_PATH_SEGMENTS {
                return Err(crate::Error::TooLarge {
                    what: "path depth",
                    limit: MAX_PATH_SEGMENTS as u64,
                });
            }
        }
        Ok(DavPath { segments: out })
    }

    /// The decoded segments.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The last segment, `None` for the root.
    pub fn name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// The parent, `None` for the root.
    pub fn parent(&self) -> Option<DavPath> {
        let (_, parent) = self.segments.split_last()?;
        Some(DavPath {
            segments: parent.to_vec(),
        })
    }

    /// This path with one more segment (checked like [`DavPath::from_segments`]).
    pub fn join(&self, segment: &str) -> crate::Result<DavPath> {
        DavPath::from_segments(self.segments.iter().map(String::as_str).chain([segment]))
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &DavPath) -> bool {
        self.segments.starts_with(&other.segments)
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }
}

impl fmt::Display for DavPath {
    /// The decoded path with `/` separators, starting with `/`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for segment in &self.segments {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

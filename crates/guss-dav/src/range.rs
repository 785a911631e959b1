//! The `Range` header (RFC 9110 §14.1.2, §14.2): byte ranges, resolved
//! against the representation's length.

use crate::{Error, Result};

/// Most ranges in one request: more is how multipart amplification starts.
const MAX_RANGES: usize = 16;

/// An inclusive byte range within a representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub first: u64,
    /// Last byte (inclusive).
    pub last: u64,
}

impl ByteRange {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never empty; for clippy's sake.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The half-open range, for slicing and blob reads.
    pub fn as_range(&self) -> std::ops::Range<u64> {
        self.first..self.last + 1
    }
}

/// Parses a `Range` header against a length. `Ok(None)` means "ignore the
/// header, send the whole representation" (RFC 9110 allows that for syntax
/// the server does not understand); an unsatisfiable range is an error (416).
///
/// ```
/// use guss_dav::{parse_range, ByteRange};
///
/// assert_eq!(parse_range("bytes=0-499", 10_000)?, Some(vec![ByteRange { first: 0, last: 499 }]));
/// assert_eq!(parse_range("bytes=-500", 10_000)?, Some(vec![ByteRange { first: 9500, last: 9999 }]));
/// assert_eq!(parse_range("bytes=9500-", 10_000)?, Some(vec![ByteRange { first: 9500, last: 9999 }]));
/// assert!(parse_range("bytes=20000-", 10_000).is_err());
/// assert_eq!(parse_range("lines=1-2", 10_000)?, None);
/// # Ok::<(), guss_dav::Error>(())
/// ```
pub fn parse_range(value: &str, length: u64) -> Result<Option<Vec<ByteRange>>> {
    let Some(specs) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    let mut ranges = Vec::new();
    let mut any_syntactic = false;
    for spec in specs.split(',') {
        if ranges.len() >= MAX_RANGES {
            return Ok(None);
        }
        let spec = spec.trim();
        let Some((first, last)) = spec.split_once('-') else {
            return Ok(None);
        };
        let number = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let range = match (first.is_empty(), last.is_empty()) {
            // -suffix: the last N bytes.
            (true, false) => {
                let Some(suffix) = number(last) else {
                    return Ok(None);
                };
                any_syntactic = true;
                if suffix == 0 || length == 0 {
                    continue;
                }
                Some(ByteRange {
                    first: length.saturating_sub(suffix),
                    last: length - 1,
                })
            }
            // first-: from first to the end.
            (false, true) => {
                let Some(first) = number(first) else {
                    return Ok(None);
                };
                any_syntactic = true;
                (first < length).then(|| ByteRange {
                    first,
                    last: length - 1,
                })
            }
            (false, false) => {
                let (Some(first), Some(last)) = (number(first), number(last)) else {
                    return Ok(None);
                };
                if last < first {
                    return Ok(None);
                }
                any_syntactic = true;
                (first < length).then(|| ByteRange {
                    first,
                    last: last.min(length - 1),
                })
            }
            (true, true) => return Ok(None),
        };
        ranges.extend(range);
    }
    if ranges.is_empty() {
        return if any_syntactic {
            Err(Error::RangeNotSatisfiable)
        } else {
            Ok(None)
        };
    }
    Ok(Some(ranges))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edge_cases() {
        assert_eq!(
            parse_range("bytes=0-0,-1", 10).unwrap(),
            Some(vec![
                ByteRange { first: 0, last: 0 },
                ByteRange { first: 9, last: 9 }
            ])
        );
        assert_eq!(
            parse_range("bytes=5-100", 10).unwrap(),
            Some(vec![ByteRange { first: 5, last: 9 }])
        );
        assert_eq!(
            parse_range("bytes=-100", 10).unwrap(),
            Some(vec![ByteRange { first: 0, last: 9 }])
        );
        assert_eq!(parse_range("bytes=5-3", 10).unwrap(), None);
        assert_eq!(parse_range("bytes=", 10).unwrap(), None);
        assert_eq!(parse_range("bytes=a-b", 10).unwrap(), None);
        assert!(parse_range("bytes=0-", 0).is_err());
        assert!(parse_range("bytes=-0", 10).is_err());
        assert_eq!(
            parse_range(&format!("bytes={}", "0-1,".repeat(20)), 10).unwrap(),
            None
        );
        assert_eq!(
            parse_range("bytes=99999999999999999999-", 10).unwrap(),
            None
        );
    }

    proptest! {
        #[test]
        fn ranges_lie_within_the_representation(value in "bytes=[0-9,\\- ]{0,40}", length in 0u64..1000) {
            if let Ok(Some(ranges)) = parse_range(&value, length) {
                for r in ranges {
                    prop_assert!(r.first <= r.last && r.last < length);
                }
            }
        }
    }
}

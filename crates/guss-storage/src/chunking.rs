//! Content-defined chunking (FastCDC 2020): chunk boundaries follow the
//! content, so an edit in the middle of a file changes only the chunks
//! around it and every other chunk is stored once.

/// Chunk size bounds, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChunkPolicy {
    /// Smallest chunk (except a file's last).
    pub min: usize,
    /// Typical chunk.
    pub avg: usize,
    /// Largest chunk.
    pub max: usize,
}

impl Default for ChunkPolicy {
    /// 16 KiB / 64 KiB / 256 KiB: small enough to share chunks between
    /// versions of office documents, large enough to keep the index small.
    fn default() -> Self {
        ChunkPolicy {
            min: 16 * 1024,
            avg: 64 * 1024,
            max: 256 * 1024,
        }
    }
}

/// The chunks of `data`, in order; together they are exactly `data`.
pub fn chunks(data: &[u8], policy: ChunkPolicy) -> impl Iterator<Item = &[u8]> {
    fastcdc::v2020::FastCDC::new(data, policy.min, policy.avg, policy.max)
        .filter_map(move |chunk| data.get(chunk.offset..chunk.offset + chunk.length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn an_insertion_changes_only_nearby_chunks() {
        let original = pseudo_random(2_000_000, 1);
        let mut edited = original.clone();
        edited.splice(1_000_000..1_000_000, b"a new paragraph".iter().copied());
        let before: std::collections::HashSet<&[u8]> =
            chunks(&original, ChunkPolicy::default()).collect();
        let after: Vec<&[u8]> = chunks(&edited, ChunkPolicy::default()).collect();
        let new = after.iter().filter(|c| !before.contains(*c)).count();
        assert!(after.len() > 10);
        assert!(new <= 2, "{new} of {} chunks changed", after.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        #[test]
        fn chunks_cover_the_data_within_bounds(data in prop::collection::vec(any::<u8>(), 0..300_000)) {
            let policy = ChunkPolicy::default();
            let pieces: Vec<&[u8]> = chunks(&data, policy).collect();
            prop_assert_eq!(pieces.concat(), data.clone());
            for (i, piece) in pieces.iter().enumerate() {
                prop_assert!(piece.len() <= policy.max);
                if i + 1 < pieces.len() {
                    prop_assert!(piece.len() >= policy.min);
                }
            }
        }
    }
}

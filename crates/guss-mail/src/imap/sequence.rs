//! Message numbers: sequence sets (`1:3,7,10:*`) mapped onto the UIDs a
//! session knows (RFC 9051 §2.3.1).

use imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

/// A sequence number given that is larger than the number of messages.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct OutOfRange;

/// The messages of `uids` (ascending; position + 1 is the sequence number)
/// that `set` names, as `(sequence number, UID)` in ascending order.
///
/// With `by_uid`, `set` holds UIDs and names only those that exist; `*`
/// is the largest UID. Otherwise it holds sequence numbers, and one past
/// the number of messages is an error (RFC 9051 §6.4.8 leaves UIDs that
/// do not exist unmentioned, but a bad sequence number is the client's
/// mistake).
pub(super) fn resolve(
    set: &SequenceSet,
    uids: &[u32],
    by_uid: bool,
) -> Result<Vec<(u32, u32)>, OutOfRange> {
    let largest = if by_uid {
        uids.last().copied().unwrap_or(0)
    } else {
        u32::try_from(uids.len()).unwrap_or(u32::MAX)
    };
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => largest,
    };
    let ranges: Vec<(u32, u32)> = set
        .0
        .as_ref()
        .iter()
        .map(|sequence| match sequence {
            Sequence::Single(v) => (value(v), value(v)),
            Sequence::Range(a, b) => {
                let (a, b) = (value(a), value(b));
                (a.min(b), a.max(b))
            }
        })
        .collect();
    if !by_uid && ranges.iter().any(|&(_, hi)| hi > largest) {
        return Err(OutOfRange);
    }
    let ranges = merged(ranges);
    Ok(uids
        .iter()
        .zip(1u32..)
        .filter(|&(&uid, seq)| {
            let n = if by_uid { uid } else { seq };
            // The last range starting at or before `n` is the only candidate.
            let after = ranges.partition_point(|&(lo, _)| lo <= n);
            after > 0 && ranges.get(after - 1).is_some_and(|&(_, hi)| n <= hi)
        })
        .map(|(&uid, seq)| (seq, uid))
        .collect())
}

/// `ranges` sorted and with overlapping or adjacent ones joined, so that
/// a number is looked up by binary search (a long UID list against a
/// large mailbox stays cheap).
fn merged(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Whether `set` names `n`, `*` being `largest` (SEARCH).
pub(super) fn contains(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    set.0.as_ref().iter().any(|sequence| match sequence {
        Sequence::Single(v) => value(v) == n,
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            a.min(b) <= n && n <= a.max(b)
        }
    })
}

/// `numbers` (ascending) as a compact set: `1:3,7,9:10`.
pub(super) fn compact(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(&start) = numbers.get(i) {
        let mut end = start;
        while let Some(next) = end.checked_add(1)
            && numbers.get(i + 1) == Some(&next)
        {
            end = next;
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> SequenceSet {
        SequenceSet::try_from(text).unwrap()
    }

    #[test]
    fn sequence_numbers_and_uids() {
        let uids = [3, 5, 9, 10];
        assert_eq!(resolve(&set("2:3"), &uids, false), Ok(vec![(2, 5), (3, 9)]));
        assert_eq!(resolve(&set("*"), &uids, false), Ok(vec![(4, 10)]));
        assert_eq!(resolve(&set("5"), &uids, false), Err(OutOfRange));
        assert_eq!(resolve(&set("4:9"), &uids, true), Ok(vec![(2, 5), (3, 9)]));
        // `*` is the largest UID, also when it lies below the range's start.
        assert_eq!(resolve(&set("20:*"), &uids, true), Ok(vec![(4, 10)]));
        assert_eq!(resolve(&set("1:*"), &[], true), Ok(vec![]));
        assert_eq!(
            resolve(&set("10,3:4,9:5,3"), &uids, true),
            Ok(vec![(1, 3), (2, 5), (3, 9), (4, 10)])
        );
    }

    #[test]
    fn compact_sets() {
        assert_eq!(compact(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(compact(&[5]), "5");
        assert_eq!(compact(&[]), "");
        assert_eq!(compact(&[u32::MAX - 1, u32::MAX]), "4294967294:4294967295");
    }
}

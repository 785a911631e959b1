//! Version thinning: which versions of a file to keep as they age. Every
//! version from the last hour, then one per hour for a day, one per day for
//! 30 days, one per week after that; the newest version always, and
//! nothing a retention hold protects or that a frozen tenant (tripwire)
//! must keep.

use chrono::{DateTime, TimeDelta, Utc};

/// How densely versions are kept by age. The defaults follow the issue's
/// example and common backup practice.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThinningPolicy {
    /// Keep every version younger than this.
    pub keep_all: TimeDelta,
    /// Then one per hour until this age.
    pub hourly_until: TimeDelta,
    /// Then one per day until this age.
    pub daily_until: TimeDelta,
    /// Then one per week for ever (`None`) or until this age, after which versions go.
    pub weekly_until: Option<TimeDelta>,
}

impl Default for ThinningPolicy {
    fn default() -> Self {
        ThinningPolicy {
            keep_all: TimeDelta::hours(1),
            hourly_until: TimeDelta::days(1),
            daily_until: TimeDelta::days(30),
            weekly_until: None,
        }
    }
}

/// One version as thinning sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionAge {
    /// When it was written.
    pub written_at: DateTime<Utc>,
    /// Whether a retention hold protects it.
    pub held: bool,
}

impl ThinningPolicy {
    /// Which of `versions` (oldest first) may be deleted now: a mask of the
    /// same length. Within each bucket (hour, day, week by age) the newest
    /// version stays.
    ///
    /// ```
    /// use chrono::{TimeDelta, Utc};
    /// use guss_storage::thinning::{ThinningPolicy, VersionAge};
    ///
    /// let now = Utc::now();
    /// // Ten saves within one minute, two days ago: one of them stays.
    /// let versions: Vec<_> = (0..10)
    ///     .map(|i| VersionAge { written_at: now - TimeDelta::days(2) + TimeDelta::seconds(i), held: false })
    ///     .chain([VersionAge { written_at: now, held: false }])
    ///     .collect();
    /// let deletable = ThinningPolicy::default().deletable(&versions, now);
    /// assert_eq!(deletable.iter().filter(|d| **d).count(), 9);
    /// assert!(!deletable[9] && !deletable[10], "the newest of the bucket and the current version stay");
    /// ```
    pub fn deletable(&self, versions: &[VersionAge], now: DateTime<Utc>) -> Vec<bool> {
        let mut deletable = vec![false; versions.len()];
        let mut seen_buckets = std::collections::HashSet::new();
        // Newest first, so that the newest version of each bucket is the one kept.
        for (index, version) in versions.iter().enumerate().rev() {
            if index + 1 == versions.len() || version.held {
                continue; // the current version, and held ones, always stay
            }
            let age = now - version.written_at;
            let bucket = if age < self.keep_all {
                continue;
            } else if age < self.hourly_until {
                (0u8, version.written_at.timestamp().div_euclid(3600))
            } else if age < self.daily_until {
                (1, version.written_at.timestamp().div_euclid(86_400))
            } else if self.weekly_until.is_none_or(|limit| age < limit) {
                (2, version.written_at.timestamp().div_euclid(7 * 86_400))
            } else {
                if let Some(d) = deletable.get_mut(index) {
                    *d = true;
                }
                continue;
            };
            if !seen_buckets.insert(bucket)
                && let Some(d) = deletable.get_mut(index)
            {
                *d = true;
            }
        }
        deletable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the history: the current version, held versions and
        /// everything from the last hour stay, and each bucket keeps one.
        #[test]
        fn thinning_keeps_what_it_must(offsets in prop::collection::vec((0i64..90 * 86_400, any::<bool>()), 1..200)) {
            let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
            let mut versions: Vec<VersionAge> = offsets
                .iter()
                .map(|(secs, held)| VersionAge { written_at: now - TimeDelta::seconds(*secs), held: *held })
                .collect();
            versions.sort_by_key(|v| v.written_at);
            let policy = ThinningPolicy::default();
            let deletable = policy.deletable(&versions, now);
            prop_assert!(!deletable[versions.len() - 1]);
            let mut kept_buckets = std::collections::HashSet::new();
            for (v, d) in versions.iter().zip(&deletable) {
                if v.held || now - v.written_at < policy.keep_all {
                    prop_assert!(!d);
                }
                if !d {
                    kept_buckets.insert(v.written_at.timestamp() / 3600);
                }
            }
            // Every hour that had a version within the last day still has one.
            for v in &versions {
                let age = now - v.written_at;
                if age < policy.hourly_until {
                    prop_assert!(kept_buckets.contains(&(v.written_at.timestamp() / 3600)));
                }
            }
        }
    }

    #[test]
    fn a_limit_on_weekly_versions_lets_old_ones_go() {
        let now = Utc::now();
        let policy = ThinningPolicy {
            weekly_until: Some(TimeDelta::days(365)),
            ..ThinningPolicy::default()
        };
        let old = VersionAge {
            written_at: now - TimeDelta::days(400),
            held: false,
        };
        let held = VersionAge {
            written_at: now - TimeDelta::days(400),
            held: true,
        };
        let current = VersionAge {
            written_at: now,
            held: false,
        };
        assert_eq!(
            policy.deletable(&[old, held, current], now),
            [true, false, false]
        );
    }
}

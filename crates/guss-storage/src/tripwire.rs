//! The ransomware tripwire: a burst of overwrites, renames or deletes by one
//! principal trips it. The storage then freezes thinning and trash expiry
//! for the tenant, so that nothing the burst touched can age out, until an
//! admin releases it.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use guss_core::Principal;

/// How much destruction in how little time trips the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TripwirePolicy {
    /// Destructive operations allowed within `window`.
    pub threshold: usize,
    /// The window.
    pub window: TimeDelta,
}

impl Default for TripwirePolicy {
    /// 200 overwrites, renames or deletes in 5 minutes: far above what a
    /// person does by hand, far below what encrypting a share does.
    fn default() -> Self {
        TripwirePolicy {
            threshold: 200,
            window: TimeDelta::minutes(5),
        }
    }
}

impl TripwirePolicy {
    /// Trips at `threshold` destructive operations within `window`.
    pub fn new(threshold: usize, window: TimeDelta) -> Self {
        TripwirePolicy { threshold, window }
    }
}

/// Counts destructive operations per principal in a sliding window.
/// Memory is bounded: each principal keeps at most `threshold` timestamps.
#[derive(Debug, Default)]
pub struct Tripwire {
    policy: TripwirePolicy,
    recent: HashMap<String, VecDeque<DateTime<Utc>>>,
}

impl Tripwire {
    /// A tripwire with `policy`.
    pub fn new(policy: TripwirePolicy) -> Self {
        Tripwire {
            policy,
            recent: HashMap::new(),
        }
    }

    /// Records one overwrite, rename or delete by `principal` at `at`;
    /// returns true when this operation trips the wire.
    ///
    /// ```
    /// use chrono::{TimeDelta, Utc};
    /// use guss_core::{PersonId, Principal, TenantId};
    /// use guss_storage::tripwire::{Tripwire, TripwirePolicy};
    ///
    /// let mut wire = Tripwire::new(TripwirePolicy::default());
    /// let who = Principal::Person { tenant: TenantId::new(), person: PersonId::new() };
    /// let now = Utc::now();
    /// let tripped = (0..200).filter(|i| wire.record(&who, now + TimeDelta::milliseconds(*i))).count();
    /// assert_eq!(tripped, 1, "the 200th operation within five minutes trips it, once");
    /// ```
    pub fn record(&mut self, principal: &Principal, at: DateTime<Utc>) -> bool {
        let key = format!("{}/{principal}", principal.tenant());
        let window = self.policy.window;
        let threshold = self.policy.threshold.max(1);
        let times = self.recent.entry(key).or_default();
        while times.front().is_some_and(|t| at - *t >= window) {
            times.pop_front();
        }
        times.push_back(at);
        let tripped = times.len() == threshold;
        if times.len() > threshold {
            times.pop_front();
        }
        tripped
    }

    /// Forgets principals with nothing in the window (call now and then).
    pub fn sweep(&mut self, now: DateTime<Utc>) {
        let window = self.policy.window;
        self.recent
            .retain(|_, times| times.back().is_some_and(|t| now - *t < window));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guss_core::{PersonId, TenantId};

    #[test]
    fn slow_work_never_trips_and_people_are_counted_apart() {
        let mut wire = Tripwire::new(TripwirePolicy {
            threshold: 10,
            window: TimeDelta::minutes(1),
        });
        let tenant = TenantId::new();
        let (a, b) = (
            Principal::Person {
                tenant,
                person: PersonId::new(),
            },
            Principal::Person {
                tenant,
                person: PersonId::new(),
            },
        );
        let start = Utc::now();
        for i in 0..100 {
            assert!(
                !wire.record(&a, start + TimeDelta::seconds(7 * i)),
                "one every 7 s is 8.6 a minute"
            );
        }
        for i in 0..9 {
            assert!(!wire.record(&b, start + TimeDelta::seconds(i)));
            assert!(!wire.record(&a, start + TimeDelta::seconds(2000 + i)));
        }
        assert!(wire.record(&b, start + TimeDelta::seconds(9)));
        wire.sweep(start + TimeDelta::hours(1));
        assert!(wire.recent.is_empty());
    }
}

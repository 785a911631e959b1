//! Time comes from a [`Clock`], so that expiry, retention and recurrence are
//! testable with a [`FixedClock`].

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time.
///
/// ```
/// use guss_core::{Clock, SystemClock};
///
/// let clock = SystemClock;
/// assert!(clock.now().timestamp() > 1_700_000_000);
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move: for tests.
///
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use guss_core::{Clock, FixedClock};
///
/// let start = Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap();
/// let clock = FixedClock::new(start);
/// assert_eq!(clock.now(), start);
/// clock.advance(TimeDelta::hours(2));
/// assert_eq!(clock.now(), Utc.with_ymd_and_hms(2026, 3, 29, 2, 30, 0).unwrap());
/// ```
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<DateTime<Utc>>,
}

impl FixedClock {
    /// A clock showing `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        FixedClock {
            now: Mutex::new(now),
        }
    }

    /// Sets the time shown.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the time shown by `by` (which may be negative).
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.checked_add_signed(by).unwrap_or(*now);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

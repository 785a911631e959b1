//! Input bounds, stated where they are defined and enforced where input arrives.
//!
//! Every parser and endpoint in guss bounds sizes, counts and depth. A crate
//! declares each bound once as a named [`Limit`] constant with a safe default,
//! lets configuration raise or lower it with [`Limit::with_max`], and checks
//! input against it: a whole value with [`Limit::check`], or input that arrives
//! piece by piece (bytes of a stream, nesting depth, recurrence instances) with
//! a [`Meter`]. Either way the caller gets an [`Error::LimitExceeded`] naming
//! the bound, never a panic or an unbounded allocation.

use crate::Error;

/// A named upper bound on some input: at most `max` of `what`.
///
/// ```
/// use guss_core::Limit;
///
/// const MAX_RECIPIENTS: Limit = Limit::new("recipients per message", 100);
///
/// assert!(MAX_RECIPIENTS.check(100).is_ok());
/// let err = MAX_RECIPIENTS.check(101).unwrap_err();
/// assert_eq!(err.to_string(), "recipients per message exceeds the limit of 100");
///
/// // Configuration may change the bound but not its name.
/// let configured = MAX_RECIPIENTS.with_max(500);
/// assert!(configured.check(101).is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limit {
    what: &'static str,
    max: u64,
}

impl Limit {
    /// A bound of `max` on `what` (a short phrase naming the input, shown in errors).
    pub const fn new(what: &'static str, max: u64) -> Self {
        Limit { what, max }
    }

    /// The same bound with another maximum, e.g. from configuration.
    #[must_use]
    pub const fn with_max(self, max: u64) -> Self {
        Limit { max, ..self }
    }

    /// What this bound limits.
    pub const fn what(&self) -> &'static str {
        self.what
    }

    /// The largest value allowed.
    pub const fn max(&self) -> u64 {
        self.max
    }

    /// Accepts `value` if it is at most the maximum.
    pub fn check(&self, value: u64) -> Result<(), Error> {
        if value <= self.max {
            Ok(())
        } else {
            Err(self.exceeded())
        }
    }

    /// Accepts a length (of a slice, string, collection) if it is at most the maximum.
    pub fn check_len(&self, len: usize) -> Result<(), Error> {
        self.check(u64::try_from(len).unwrap_or(u64::MAX))
    }

    /// The maximum as a `usize`, for pre-sizing buffers and `take(n)` on readers.
    pub fn max_usize(&self) -> usize {
        usize::try_from(self.max).unwrap_or(usize::MAX)
    }

    /// A meter that counts input against this bound as it arrives.
    pub const fn meter(&self) -> Meter {
        Meter {
            limit: *self,
            used: 0,
        }
    }

    fn exceeded(&self) -> Error {
        Error::LimitExceeded {
            what: self.what.into(),
            limit: self.max,
        }
    }
}

/// Counts input that arrives piece by piece against a [`Limit`].
///
/// Use one per request or parse: add what arrives, release what is finished
/// (leaving a nesting level), and stop at the first error.
///
/// ```
/// use guss_core::Limit;
///
/// const MAX_DEPTH: Limit = Limit::new("XML nesting depth", 2);
///
/// let mut depth = MAX_DEPTH.meter();
/// depth.add(1)?; // <a>
/// depth.add(1)?; //   <b>
/// assert!(depth.add(1).is_err()); // <c> would be the third level
/// depth.release(1); //   </b>
/// depth.add(1)?; //   <b2>
/// assert_eq!(depth.used(), 2);
/// # Ok::<(), guss_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meter {
    limit: Limit,
    used: u64,
}

impl Meter {
    /// Adds `amount`; fails (and leaves the count unchanged) if that would go
    /// over the limit.
    pub fn add(&mut self, amount: u64) -> Result<(), Error> {
        let next = self
            .used
            .checked_add(amount)
            .ok_or_else(|| self.limit.exceeded())?;
        self.limit.check(next)?;
        self.used = next;
        Ok(())
    }

    /// Adds a length in bytes or items (see [`Meter::add`]).
    pub fn add_len(&mut self, len: usize) -> Result<(), Error> {
        self.add(u64::try_from(len).unwrap_or(u64::MAX))
    }

    /// Gives back `amount`, e.g. when a nesting level closes.
    pub fn release(&mut self, amount: u64) {
        self.used = self.used.saturating_sub(amount);
    }

    /// How much has been counted.
    pub const fn used(&self) -> u64 {
        self.used
    }

    /// How much may still be added.
    pub const fn remaining(&self) -> u64 {
        self.limit.max.saturating_sub(self.used)
    }

    /// The bound this meter counts against.
    pub const fn limit(&self) -> Limit {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn meter_never_exceeds_its_limit(max in 0u64..1_000, steps in prop::collection::vec(0u64..300, 0..50)) {
            let mut meter = Limit::new("test", max).meter();
            let mut accepted = 0u64;
            for step in steps {
                if meter.add(step).is_ok() {
                    accepted += step;
                }
                prop_assert!(meter.used() <= max);
                prop_assert_eq!(meter.used(), accepted);
                prop_assert_eq!(meter.remaining(), max - accepted);
            }
        }
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let mut meter = Limit::new("test", u64::MAX).meter();
        meter.add(u64::MAX).unwrap();
        assert!(meter.add(1).is_err());
        assert_eq!(meter.used(), u64::MAX);
        meter.release(u64::MAX);
        meter.release(1);
        assert_eq!(meter.used(), 0);
    }

    #[test]
    fn error_names_the_bound() {
        let err = Limit::new("literal size", 10).check_len(11).unwrap_err();
        assert!(
            matches!(err, Error::LimitExceeded { ref what, limit: 10 } if what == "literal size")
        );
        assert_eq!(err.http_status(), 413);
    }
}

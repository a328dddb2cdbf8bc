//! Host-supplied time.
//!
//! The core never reads a clock. The host passes the current [`Instant`] with
//! every input and asks [`Session::poll_timeout`](crate::Session::poll_timeout)
//! when to call back. Any monotonic microsecond count works: time since the
//! process started, since boot, or a virtual clock in a simulator.

use core::fmt;
use core::ops::{Add, AddAssign};
use core::time::Duration;

/// A point in host time, as whole microseconds since an origin of the host's
/// choosing. Arithmetic saturates instead of overflowing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin of the host's clock.
    pub const ZERO: Instant = Instant(0);

    /// An instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// An instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1_000))
    }

    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        let micros = u64::try_from(rhs.as_micros()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(micros))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let late = Instant::from_micros(u64::MAX - 1) + Duration::from_secs(5);
        assert_eq!(late.as_micros(), u64::MAX);
        let early = Instant::from_millis(2);
        assert_eq!(early.saturating_duration_since(late), Duration::ZERO);
        assert_eq!(
            late.saturating_duration_since(early),
            Duration::from_micros(u64::MAX - 2_000)
        );
    }
}

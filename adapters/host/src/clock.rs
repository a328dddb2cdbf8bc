//! Host time onto the session's clock.

use std::time::{Duration, Instant as HostInstant};

use muxplex::Instant;

/// How far out a deadline beyond what the host clock can hold is put: a
/// year is as good as never, and still a valid instant.
const FAR_FUTURE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Maps host time onto the core's microsecond clock: the session's time 0
/// is the host instant the clock was made with (usually the moment the
/// connection was created), and the host's clock may be any monotonic one
/// (tokio's paused test clock, for one), as long as every instant given
/// comes from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostClock {
    origin: HostInstant,
}

impl HostClock {
    /// A clock whose time 0 is `origin`.
    pub fn new(origin: HostInstant) -> Self {
        HostClock { origin }
    }

    /// The host instant `at` in the core's terms; instants before the
    /// origin are time 0, and times past what the core counts saturate.
    pub fn core_time(self, at: HostInstant) -> Instant {
        Instant::ZERO + at.saturating_duration_since(self.origin)
    }

    /// A core deadline in host terms (a year from now on the system clock
    /// if the host clock cannot hold it: as good as never, on any clock).
    pub fn to_host(self, deadline: Instant) -> HostInstant {
        self.origin
            .checked_add(deadline.saturating_duration_since(Instant::ZERO))
            .unwrap_or_else(|| HostInstant::now() + FAR_FUTURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_core_time_map_onto_each_other() {
        let origin = HostInstant::now();
        let clock = HostClock::new(origin);
        let later = origin + Duration::from_millis(1_500);
        let core = clock.core_time(later);
        assert_eq!(core, Instant::from_micros(1_500_000));
        assert_eq!(clock.to_host(core), later);
        // Before the origin: time 0.
        if let Some(earlier) = origin.checked_sub(Duration::from_secs(1)) {
            assert_eq!(clock.core_time(earlier), Instant::ZERO);
        }
    }

    #[test]
    fn a_deadline_the_host_cannot_hold_is_far_out() {
        let now = HostInstant::now();
        let clock = HostClock::new(now);
        let never = Instant::from_micros(u64::MAX);
        assert!(clock.to_host(never) >= now + FAR_FUTURE);
    }
}

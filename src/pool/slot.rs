//! Slots: the places in the pool a session can occupy, and what each one
//! is doing.

use core::fmt;
use core::time::Duration;

use crate::time::Instant;

/// One place in the pool and one connection attempt in it.
///
/// The [`index`](Slot::index) is a small integer (below twice
/// `max_sessions`) that the pool reuses, so a host can keep its connections
/// in an array. The generation tells attempts in the same place apart: every
/// [`Action::Dial`](super::Action::Dial) carries a new one, and the pool
/// ignores reports about an older attempt, so a dial the pool already gave
/// up on cannot be mistaken for its successor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    index: u32,
    generation: u32,
}

impl Slot {
    pub(super) fn new(index: usize, generation: u32) -> Self {
        // The table never grows past twice `max_sessions`; a bound that does
        // not fit in `u32` saturates rather than wraps.
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        Slot { index, generation }
    }

    /// The place in the pool, a small integer reused across attempts.
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// Which attempt in this place: it grows with every dial.
    pub fn generation(self) -> u32 {
        self.generation
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Slot({}#{})", self.index, self.generation)
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot {} (attempt {})", self.index, self.generation)
    }
}

/// What a slot's session is doing, as reported by
/// [`Pool::sessions`](super::Pool::sessions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Waiting to redial until an endpoint may be dialed: every endpoint
    /// is waiting out its backoff after failures.
    BackingOff,
    /// A dial was asked for and not yet reported.
    Dialing,
    /// Up and taking new streams (unless slow).
    Live,
    /// The peer sent GoAway: existing streams finish, no new ones go here,
    /// and the pool closes it once its last stream ends.
    Draining,
}

/// A slot's state with the times its deadlines derive from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Nothing here; the slot can be reused.
    Vacant,
    /// Redial as soon as an endpoint is available.
    BackingOff,
    /// The dial counts as failed at `deadline`.
    Dialing { deadline: Instant },
    Live {
        /// When the dial succeeded; health is proven `healthy_after` later.
        since: Instant,
        /// Whether the session has proven healthy.
        proven: bool,
        /// When the session last dropped to zero streams, while it has none.
        idle_since: Option<Instant>,
        /// When the next health ping is due (`None`: pings are off).
        ping_due: Option<Instant>,
    },
    /// Draining since this instant; the oldest goes first when too many
    /// drain at once.
    Draining { since: Instant },
}

/// Everything the pool knows about one slot.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// The generation of the latest dial in this place.
    pub(super) generation: u32,
    pub(super) phase: Phase,
    /// Open streams, as the host last reported.
    pub(super) streams: usize,
    /// Smoothed round-trip time of the session, from reported pongs.
    pub(super) srtt: Option<Duration>,
    /// The endpoint of the current attempt (index into
    /// `PoolConfig::endpoints`).
    pub(super) endpoint: usize,
    /// The running score of smooth weighted round robin.
    pub(super) wrr_score: i64,
}

impl Entry {
    pub(super) fn vacant() -> Self {
        Entry {
            generation: 0,
            phase: Phase::Vacant,
            streams: 0,
            srtt: None,
            endpoint: 0,
            wrr_score: 0,
        }
    }

    /// This place's current attempt.
    pub(super) fn slot(&self, index: usize) -> Slot {
        Slot::new(index, self.generation)
    }

    /// Whether a report about `slot` concerns this place's current attempt.
    pub(super) fn is_current(&self, slot: Slot) -> bool {
        self.generation == slot.generation && !matches!(self.phase, Phase::Vacant)
    }

    /// The public view of the phase; `None` for a vacant slot.
    pub(super) fn state(&self) -> Option<SessionState> {
        match self.phase {
            Phase::Vacant => None,
            Phase::BackingOff => Some(SessionState::BackingOff),
            Phase::Dialing { .. } => Some(SessionState::Dialing),
            Phase::Live { .. } => Some(SessionState::Live),
            Phase::Draining { .. } => Some(SessionState::Draining),
        }
    }

    /// Counted against `max_sessions`: everything but vacant and draining.
    pub(super) fn is_active(&self) -> bool {
        matches!(
            self.phase,
            Phase::BackingOff | Phase::Dialing { .. } | Phase::Live { .. }
        )
    }

    /// A session on its way: dialing, or waiting to redial.
    pub(super) fn is_pending(&self) -> bool {
        matches!(self.phase, Phase::Dialing { .. } | Phase::BackingOff)
    }

    pub(super) fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Live { .. })
    }

    /// Folds a round-trip sample into the estimate (weight 1/8, as TCP and
    /// the session do).
    pub(super) fn rtt_sample(&mut self, sample: Duration) {
        self.srtt = Some(smooth(self.srtt, sample));
    }
}

/// An RTT estimate with `sample` folded in (weight 1/8, as TCP and the
/// session do); the first sample is the estimate. Saturating, so a host's
/// absurd sample cannot make the pool panic.
pub(super) fn smooth(estimate: Option<Duration>, sample: Duration) -> Duration {
    match estimate {
        None => sample,
        Some(smoothed) => smoothed.saturating_mul(7).saturating_add(sample) / 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_about_other_attempts_are_not_current() {
        let mut entry = Entry::vacant();
        assert!(!entry.is_current(entry.slot(0)), "vacant has no attempt");
        entry.generation = 3;
        entry.phase = Phase::Dialing {
            deadline: Instant::ZERO,
        };
        assert!(entry.is_current(Slot::new(0, 3)));
        assert!(!entry.is_current(Slot::new(0, 2)));
        assert_eq!(alloc::format!("{}", entry.slot(2)), "slot 2 (attempt 3)");
    }

    #[test]
    fn rtt_is_smoothed() {
        let mut entry = Entry::vacant();
        entry.rtt_sample(Duration::from_millis(80));
        entry.rtt_sample(Duration::from_millis(160));
        assert_eq!(entry.srtt, Some(Duration::from_millis(90)));
    }
}

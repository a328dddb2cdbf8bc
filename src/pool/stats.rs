//! What the pool can tell about itself: totals and per-session health.

use core::time::Duration;

use super::Pool;
use super::slot::{Phase, SessionState, Slot};

/// Totals over the pool, from [`Pool::stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolStats {
    /// Sessions up and not draining (slow ones included).
    pub live: usize,
    /// Dials asked for and not yet reported.
    pub dialing: usize,
    /// Places waiting out a backoff before their redial.
    pub backing_off: usize,
    /// Sessions finishing their streams after the peer's GoAway.
    pub draining: usize,
    /// Open streams over live and draining sessions, as last reported.
    pub streams: usize,
    /// Dials asked for since the pool started.
    pub dials: u64,
    /// Failed dials, connect timeouts and lost sessions since the pool
    /// started.
    pub failures: u64,
    /// Whether the pool has given up and waits for
    /// [`Pool::resume`].
    pub gave_up: bool,
}

/// One slot's session, from [`Pool::sessions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The slot and its current attempt.
    pub slot: Slot,
    /// What the session is doing.
    pub state: SessionState,
    /// Open streams, as last reported.
    pub streams: usize,
    /// Smoothed round-trip time from reported pongs (weight 1/8 per
    /// sample), if any arrived.
    pub smoothed_rtt: Option<Duration>,
    /// Failures in a row in this place; the next backoff grows with it.
    pub consecutive_failures: u32,
    /// Whether the live session proved healthy (stayed up for
    /// `healthy_after` or answered a ping).
    pub proven_healthy: bool,
    /// Whether the session is live but its RTT is far above the fastest
    /// one's, so it is not picked.
    pub slow: bool,
}

impl Pool {
    /// Totals: sessions by state, streams, dials and failures.
    pub fn stats(&self) -> PoolStats {
        let mut stats = PoolStats {
            dials: self.dials,
            failures: self.failures,
            gave_up: self.gave_up,
            ..PoolStats::default()
        };
        for entry in &self.entries {
            match entry.phase {
                Phase::Vacant => {}
                Phase::BackingOff { .. } => stats.backing_off += 1,
                Phase::Dialing { .. } => stats.dialing += 1,
                Phase::Live { .. } => stats.live += 1,
                Phase::Draining { .. } => stats.draining += 1,
            }
            stats.streams += entry.streams;
        }
        stats
    }

    /// Every occupied slot, by index.
    pub fn sessions(&self) -> impl Iterator<Item = SessionInfo> + '_ {
        let fastest = self.fastest_rtt();
        self.entries
            .iter()
            .enumerate()
            .filter_map(move |(index, entry)| {
                Some(SessionInfo {
                    slot: entry.slot(index),
                    state: entry.state()?,
                    streams: entry.streams,
                    smoothed_rtt: entry.srtt,
                    consecutive_failures: entry.failures,
                    proven_healthy: matches!(entry.phase, Phase::Live { proven: true, .. }),
                    slow: entry.is_live() && !self.is_pickable(entry, fastest),
                })
            })
    }
}

//! What the pool can tell about itself: totals and per-session health.

use core::time::Duration;

use super::Pool;
use super::slot::{Phase, SessionState, Slot};
use crate::time::Instant;

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

/// One endpoint's health and share, from [`Pool::endpoints`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointInfo {
    /// Its index in [`PoolConfig::endpoints`](super::PoolConfig::endpoints).
    pub endpoint: usize,
    /// Its weight (0: never dialed).
    pub weight: u32,
    /// Its sessions that are up and not draining.
    pub live: usize,
    /// Dials to it asked for and not yet reported.
    pub dialing: usize,
    /// Failures in a row (dials, connect timeouts, lost sessions); its next
    /// backoff grows with them, and a session on it proving healthy resets
    /// them.
    pub consecutive_failures: u32,
    /// Until when it is left alone after a failure, if it is now.
    pub down_until: Option<Instant>,
    /// Whether it failed `max_attempts` times in a row and is no longer
    /// dialed (until [`Pool::resume`], or until a session still up there
    /// proves healthy).
    pub given_up: bool,
    /// Smoothed round-trip time over its sessions' pongs, if any arrived.
    pub smoothed_rtt: Option<Duration>,
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
    /// The endpoint of the current attempt (an index into
    /// [`PoolConfig::endpoints`](super::PoolConfig::endpoints)); a slot
    /// waiting to redial may be redialed to another.
    pub endpoint: usize,
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
                Phase::BackingOff => stats.backing_off += 1,
                Phase::Dialing { .. } => stats.dialing += 1,
                Phase::Live { .. } => stats.live += 1,
                Phase::Draining { .. } => stats.draining += 1,
            }
            stats.streams += entry.streams;
        }
        stats
    }

    /// Every endpoint, by index: weight, sessions, failures and backoff,
    /// RTT.
    pub fn endpoints(&self) -> impl Iterator<Item = EndpointInfo> + '_ {
        self.endpoints
            .iter()
            .enumerate()
            .map(move |(endpoint, health)| {
                let on = |phase: fn(&Phase) -> bool| {
                    self.entries
                        .iter()
                        .filter(|e| e.endpoint == endpoint && phase(&e.phase))
                        .count()
                };
                EndpointInfo {
                    endpoint,
                    weight: health.weight,
                    live: on(|p| matches!(p, Phase::Live { .. })),
                    dialing: on(|p| matches!(p, Phase::Dialing { .. })),
                    consecutive_failures: health.failures,
                    down_until: health.down_until.filter(|_| health.is_down(self.now)),
                    given_up: health.given_up,
                    smoothed_rtt: health.srtt,
                }
            })
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
                    endpoint: entry.endpoint,
                    proven_healthy: matches!(entry.phase, Phase::Live { proven: true, .. }),
                    slow: entry.is_live() && !self.is_pickable(entry, fastest),
                })
            })
    }
}

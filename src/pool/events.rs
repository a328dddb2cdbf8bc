//! The host's reports: what happened to a slot's dial or session.
//!
//! Each report returns whether the pool took it. `false` means the slot is
//! not the current attempt in its place, or the report does not fit its
//! state (a success for a dial the pool already abandoned, say); the pool
//! changed nothing, and the host should close whatever the report was
//! about.

use core::time::Duration;

use super::Pool;
use super::slot::{Phase, Slot};
use crate::error::{CloseReason, Delivery, OpenError};
use crate::time::Instant;

impl Pool {
    /// The dial for `slot` produced a session; it is live and can be picked.
    #[must_use = "`false` means the pool does not want this connection: close it"]
    pub fn dial_succeeded(&mut self, now: Instant, slot: Slot) -> bool {
        self.report(now, slot, |pool, index| {
            let entry = &mut pool.entries[index];
            if !matches!(entry.phase, Phase::Dialing { .. }) {
                return false;
            }
            entry.phase = Phase::Live {
                since: pool.now,
                proven: false,
                idle_since: Some(pool.now),
                ping_due: pool
                    .config
                    .effective_ping_interval()
                    .map(|every| pool.now + every),
            };
            true
        })
    }

    /// The dial for `slot` failed; the pool redials after a backoff.
    pub fn dial_failed(&mut self, now: Instant, slot: Slot) -> bool {
        self.report(now, slot, |pool, index| {
            if !matches!(pool.entries[index].phase, Phase::Dialing { .. }) {
                return false;
            }
            pool.fail(index);
            true
        })
    }

    /// The session in `slot` ended without the pool asking
    /// ([`Event::Closed`](crate::Event::Closed) carries the reason).
    ///
    /// A draining session's end is expected and changes nothing else. A
    /// live session closed by the host itself (`LocalClose`,
    /// `LocalCloseTimedOut`, `LocalAbort`) is not a failure: its place is
    /// freed, and redialed only if `min_sessions` needs it. Any other end
    /// (transport closed, keepalive timeout, protocol error, an error GoAway)
    /// is a lost session: it counts as a failure and is redialed after a
    /// backoff.
    pub fn session_closed(&mut self, now: Instant, slot: Slot, reason: CloseReason) -> bool {
        self.report(now, slot, |pool, index| match pool.entries[index].phase {
            Phase::Draining { .. } => {
                pool.vacate(index);
                true
            }
            Phase::Live { .. } => {
                match reason {
                    CloseReason::LocalClose
                    | CloseReason::LocalCloseTimedOut
                    | CloseReason::LocalAbort { .. } => pool.vacate(index),
                    _ => pool.fail(index),
                }
                true
            }
            _ => false,
        })
    }

    /// The session in `slot` now carries `open_streams` streams. Report it
    /// whenever a stream opens or ends (in either direction): it drives
    /// least-loaded picks, scaling out, idle closes and the end of draining.
    pub fn load_changed(&mut self, now: Instant, slot: Slot, open_streams: usize) -> bool {
        self.report(now, slot, |pool, index| {
            let at = pool.now;
            let entry = &mut pool.entries[index];
            match &mut entry.phase {
                Phase::Live { idle_since, .. } => {
                    entry.streams = open_streams;
                    *idle_since = match open_streams {
                        // Idle since the first report of zero, not the last.
                        0 => Some(idle_since.unwrap_or(at)),
                        _ => None,
                    };
                }
                Phase::Draining { .. } if open_streams == 0 => pool.close(index),
                Phase::Draining { .. } => entry.streams = open_streams,
                _ => return false,
            }
            true
        })
    }

    /// A ping on the session in `slot` was answered after `rtt`
    /// ([`Event::Pong`](crate::Event::Pong)). It updates the smoothed RTT,
    /// and proves a live session healthy.
    pub fn pong(&mut self, now: Instant, slot: Slot, rtt: Duration) -> bool {
        self.report(now, slot, |pool, index| {
            let entry = &mut pool.entries[index];
            if !matches!(entry.phase, Phase::Live { .. } | Phase::Draining { .. }) {
                return false;
            }
            entry.rtt_sample(rtt);
            let health = &mut pool.endpoints[entry.endpoint];
            health.srtt = Some(super::slot::smooth(health.srtt, rtt));
            pool.prove_healthy(index);
            true
        })
    }

    /// The peer of the session in `slot` sent GoAway
    /// ([`Event::PeerGoingAway`](crate::Event::PeerGoingAway)): the session
    /// drains. It takes no new streams, a replacement is dialed at once (a
    /// GoAway is not a failure, so without backoff), and the pool closes it
    /// when its last stream ends.
    pub fn peer_go_away(&mut self, now: Instant, slot: Slot) -> bool {
        self.report(now, slot, Pool::drain)
    }

    /// Opening a stream on the session in `slot` failed with `error`. Every
    /// [`OpenError`] means nothing reached the peer, so the open may be
    /// tried again at once on another session
    /// ([`pick_avoiding`](Self::pick_avoiding)); what the pool does about
    /// the session depends on the error:
    ///
    /// - [`PeerGoingAway`](OpenError::PeerGoingAway) is the peer's GoAway,
    ///   and [`IdsExhausted`](OpenError::IdsExhausted) makes the session
    ///   as useless for new streams: either way it drains and is replaced,
    ///   as after [`peer_go_away`](Self::peer_go_away);
    /// - [`SessionClosed`](OpenError::SessionClosed) is the session's end,
    ///   as reported by [`session_closed`](Self::session_closed);
    /// - [`Closing`](OpenError::Closing) and
    ///   [`Blocked`](OpenError::Blocked) change nothing: the session is on
    ///   its way out (its end is reported when it comes), or only busy.
    pub fn open_failed(&mut self, now: Instant, slot: Slot, error: &OpenError) -> bool {
        match *error {
            OpenError::PeerGoingAway | OpenError::IdsExhausted => self.peer_go_away(now, slot),
            OpenError::SessionClosed(reason) => self.session_closed(now, slot, reason),
            // Taken only from a session: a place dialing or waiting to
            // redial has none an open could have failed on.
            OpenError::Closing | OpenError::Blocked => self.report(now, slot, |pool, index| {
                matches!(
                    pool.entries[index].phase,
                    Phase::Live { .. } | Phase::Draining { .. }
                )
            }),
        }
    }

    /// Whether a request that failed with `delivery` after `retries`
    /// earlier retries should run again on another session: only when the
    /// peer never saw it ([`Delivery::NotDelivered`]), and at most
    /// [`PoolConfig::max_retries`](super::PoolConfig::max_retries) times. A
    /// failure that may have been delivered is never retried, since running
    /// the request again could do its work twice.
    #[must_use]
    pub fn may_retry(&self, delivery: Option<Delivery>, retries: u32) -> bool {
        delivery == Some(Delivery::NotDelivered) && retries < self.config.max_retries
    }

    /// Takes the live session in place `index` out of picking after its
    /// peer's GoAway (or anything as final for new streams): it drains
    /// until its last stream ends, or closes at once if it has none, and a
    /// replacement is dialed.
    pub(super) fn drain(&mut self, index: usize) -> bool {
        match self.entries[index].phase {
            Phase::Live { .. } => {
                if self.entries[index].streams == 0 {
                    self.close(index);
                } else {
                    self.entries[index].phase = Phase::Draining { since: self.now };
                    // Make room among the draining before the replacement
                    // takes a place, so the table stays below twice
                    // `max_sessions`.
                    self.limit_draining();
                }
                self.dial_if_room();
                true
            }
            // A second GoAway changes nothing.
            Phase::Draining { .. } => true,
            _ => false,
        }
    }

    /// The common shape of a report: note the time, find the slot's place
    /// if the report is about its current attempt, apply, then act on
    /// whatever became due.
    fn report(
        &mut self,
        now: Instant,
        slot: Slot,
        apply: impl FnOnce(&mut Pool, usize) -> bool,
    ) -> bool {
        self.observe(now);
        let index = slot.index();
        let current = self.entries.get(index).is_some_and(|e| e.is_current(slot));
        let taken = current && apply(self, index);
        self.maintain();
        taken
    }
}

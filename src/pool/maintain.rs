//! Keeping the pool in shape: deadlines, redials, scaling out and in, and
//! giving up. Every report ends with [`Pool::maintain`], so the pool's
//! decisions depend only on its state and the time, never on which report
//! came last.

use super::slot::{Entry, Phase};
use super::{Action, Pool};
use crate::time::Instant;

impl Pool {
    /// Acts on everything that is due: expired deadlines, then too many
    /// draining sessions, idle extras, missing sessions, load, and the
    /// spread over endpoints.
    pub(super) fn maintain(&mut self) {
        self.expire_deadlines();
        self.limit_draining();
        self.close_idle();
        self.replenish();
        self.autoscale();
        self.rebalance();
        // Last, so no session the steps above closed or drained is pinged.
        for index in 0..self.entries.len() {
            self.ping_if_due(index);
        }
    }

    /// Sessions that count against `max_sessions`.
    pub(super) fn active(&self) -> usize {
        self.entries.iter().filter(|e| e.is_active()).count()
    }

    /// Sessions that are up and not draining.
    pub(super) fn live(&self) -> usize {
        self.entries.iter().filter(|e| e.is_live()).count()
    }

    /// Starts a new attempt in place `index` to the endpoint the spread
    /// wants, or leaves it waiting for one while every endpoint is backing
    /// off.
    fn dial(&mut self, index: usize) {
        let Some(endpoint) = self.choose_endpoint() else {
            self.entries[index].phase = Phase::BackingOff;
            return;
        };
        let deadline = self.now + self.config.effective_connect_timeout();
        let entry = &mut self.entries[index];
        // Wrapping is fine: an attempt 2^32 dials old cannot still report.
        entry.generation = entry.generation.wrapping_add(1);
        entry.phase = Phase::Dialing { deadline };
        entry.endpoint = endpoint;
        entry.streams = 0;
        entry.srtt = None;
        entry.wrr_score = 0;
        let slot = entry.slot(index);
        self.dials += 1;
        self.actions.push_back(Action::Dial { slot, endpoint });
    }

    /// Dials in the lowest free place, growing the table only when every
    /// place is taken, so indices stay small.
    pub(super) fn dial_new(&mut self) {
        let index = match self
            .entries
            .iter()
            .position(|e| matches!(e.phase, Phase::Vacant))
        {
            Some(index) => index,
            None => {
                self.entries.push(Entry::vacant());
                self.entries.len() - 1
            }
        };
        self.dial(index);
    }

    /// Dials a new session if the pool has not given up and has room.
    pub(super) fn dial_if_room(&mut self) {
        if !self.gave_up && self.active() < self.config.effective_max() {
            self.dial_new();
        }
    }

    /// Frees place `index`, keeping its generation so reports about the
    /// attempt that was there stay recognisably stale.
    pub(super) fn vacate(&mut self, index: usize) {
        let generation = self.entries[index].generation;
        self.entries[index] = Entry {
            generation,
            ..Entry::vacant()
        };
    }

    /// Tells the host to drop place `index`'s session or dial, and forgets
    /// it.
    pub(super) fn close(&mut self, index: usize) {
        let slot = self.entries[index].slot(index);
        self.actions.push_back(Action::Close { slot });
        self.vacate(index);
    }

    /// Counts a failed dial or a lost session in place `index` against its
    /// endpoint, and redials: at once if another endpoint may be dialed,
    /// else once one comes out of its backoff.
    pub(super) fn fail(&mut self, index: usize) {
        self.failures += 1;
        self.endpoint_failed(self.entries[index].endpoint);
        if self.gave_up {
            self.vacate(index);
            return;
        }
        let entry = &mut self.entries[index];
        entry.phase = Phase::BackingOff;
        entry.streams = 0;
        entry.srtt = None;
    }

    /// Stops dialing: pending redials are dropped; see
    /// [`Action::GaveUp`].
    pub(super) fn give_up(&mut self) {
        self.gave_up = true;
        self.actions.push_back(Action::GaveUp);
        for index in 0..self.entries.len() {
            if matches!(self.entries[index].phase, Phase::BackingOff) {
                self.vacate(index);
            }
        }
    }

    /// Marks a live session as healthy, which resets its endpoint's
    /// backoff.
    pub(super) fn prove_healthy(&mut self, index: usize) {
        let entry = &mut self.entries[index];
        if let Phase::Live { proven, .. } = &mut entry.phase {
            *proven = true;
            self.endpoints[entry.endpoint].reset();
        }
    }

    /// Connect timeouts, redials that an endpoint can take, and sessions
    /// that proved healthy by staying up.
    fn expire_deadlines(&mut self) {
        let now = self.now;
        for index in 0..self.entries.len() {
            match self.entries[index].phase {
                Phase::Dialing { deadline } if deadline <= now => {
                    // The dial may still be running: have the host drop it.
                    let slot = self.entries[index].slot(index);
                    self.actions.push_back(Action::Close { slot });
                    self.fail(index);
                }
                Phase::Live {
                    since,
                    proven: false,
                    ..
                } if since + self.config.healthy_after <= now => self.prove_healthy(index),
                _ => {}
            }
        }
        // After the timeouts, so a dial that just timed out is redialed at
        // once when another endpoint may be dialed.
        for index in 0..self.entries.len() {
            if matches!(self.entries[index].phase, Phase::BackingOff) {
                self.dial(index);
            }
        }
    }

    /// Asks for a ping on place `index`'s live session if one is due, and
    /// schedules the next one interval later, answered or not: a peer that
    /// stops answering is the keepalive's to find out, and the host's
    /// session bounds the pings in flight.
    fn ping_if_due(&mut self, index: usize) {
        let now = self.now;
        let every = self.config.effective_ping_interval();
        let entry = &mut self.entries[index];
        if let Phase::Live { ping_due, .. } = &mut entry.phase
            && ping_due.is_some_and(|due| due <= now)
        {
            *ping_due = every.map(|every| now + every);
            let slot = entry.slot(index);
            self.actions.push_back(Action::Ping { slot });
        }
    }

    /// Closes the oldest draining sessions while more drain than
    /// `max_sessions`, so a peer that keeps sending GoAway to sessions whose
    /// streams never end cannot grow the pool without bound.
    pub(super) fn limit_draining(&mut self) {
        loop {
            let mut draining = 0;
            let mut oldest: Option<(Instant, usize)> = None;
            for (index, entry) in self.entries.iter().enumerate() {
                if let Phase::Draining { since } = entry.phase {
                    draining += 1;
                    if oldest.is_none_or(|(at, _)| since < at) {
                        oldest = Some((since, index));
                    }
                }
            }
            match oldest {
                Some((_, index)) if draining > self.config.effective_max() => self.close(index),
                _ => return,
            }
        }
    }

    /// The idle session beyond `min_sessions` to close next: when it is due,
    /// and where. Longest idle goes first.
    pub(super) fn next_idle_close(&self) -> Option<(Instant, usize)> {
        let timeout = self.config.idle_timeout?;
        if self.live() <= self.config.effective_min() {
            return None;
        }
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| match entry.phase {
                Phase::Live {
                    idle_since: Some(since),
                    ..
                } => Some((since + timeout, index)),
                _ => None,
            })
            .min()
    }

    /// Closes sessions idle for `idle_timeout` while more than
    /// `min_sessions` are live.
    fn close_idle(&mut self) {
        while let Some((due, index)) = self.next_idle_close() {
            if due > self.now {
                return;
            }
            self.close(index);
        }
    }

    /// Dials until `min_sessions` are live, dialing or waiting to redial.
    fn replenish(&mut self) {
        while !self.gave_up && self.active() < self.config.effective_min() {
            self.dial_new();
        }
    }

    /// Dials one more session when every pickable session carries more
    /// than the target, unless one is already on its way: that one is the
    /// answer to the load, and dialing more would overshoot.
    fn autoscale(&mut self) {
        if self.entries.iter().any(|e| e.is_pending()) {
            return;
        }
        let target = self.config.target_streams_per_session;
        let fastest = self.fastest_rtt();
        let mut pickable = self
            .entries
            .iter()
            .filter(|e| self.is_pickable(e, fastest))
            .peekable();
        // With no session up there is no load to measure; min_sessions and
        // on-demand dials in `pick` cover that case.
        if pickable.peek().is_none() {
            return;
        }
        if pickable.all(|e| e.streams > target) {
            self.dial_if_room();
        }
    }
}

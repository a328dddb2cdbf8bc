//! Endpoints: the places sessions are dialed to, each with a weight and a
//! health record, and how the pool spreads sessions over them.
//!
//! Sessions are spread so that every endpoint carries about its weight's
//! share. The pool keeps the spread that minimises the sum over endpoints
//! of `sessions² / weight`: a new session goes to the endpoint where one
//! more session raises that sum least (`(2n + 1) / weight`), and when an
//! endpoint comes back from a backoff, one session moves there from the
//! endpoint where one fewer lowers it most (`(2n - 1) / weight`), if the
//! move lowers the sum. Every move lowers it strictly, so the moves end.

use core::cmp::Ordering;
use core::time::Duration;

use super::Pool;
use super::slot::Phase;
use crate::time::Instant;

/// What the pool knows about one endpoint.
#[derive(Clone, Debug)]
pub(super) struct Health {
    /// Its share of sessions and (under `Weights::Endpoint`) of streams; 0
    /// means never dial it.
    pub(super) weight: u32,
    /// Failures in a row (dials, connect timeouts, lost sessions), reset
    /// when one of its sessions proves healthy.
    pub(super) failures: u32,
    /// Not dialed before this instant: its backoff after a failure.
    pub(super) down_until: Option<Instant>,
    /// It failed `max_attempts` times in a row: not dialed until
    /// [`Pool::resume`], or until a session still up there proves healthy.
    pub(super) given_up: bool,
    /// Smoothed round-trip time over its sessions' pongs.
    pub(super) srtt: Option<Duration>,
}

impl Health {
    pub(super) fn new(weight: u32) -> Self {
        Health {
            weight,
            failures: 0,
            down_until: None,
            given_up: false,
            srtt: None,
        }
    }

    /// Whether it may ever be dialed without a [`Pool::resume`].
    pub(super) fn usable(&self) -> bool {
        self.weight > 0 && !self.given_up
    }

    /// Whether it may be dialed at `now`.
    pub(super) fn available(&self, now: Instant) -> bool {
        self.usable() && !self.is_down(now)
    }

    /// Whether it is waiting out a backoff at `now`.
    pub(super) fn is_down(&self, now: Instant) -> bool {
        self.down_until.is_some_and(|until| until > now)
    }

    /// Forgets its failures (health proven, or the host resumed).
    pub(super) fn reset(&mut self) {
        self.failures = 0;
        self.down_until = None;
        self.given_up = false;
    }
}

/// `(2 * sessions ± 1) / weight` as a fraction, for comparing what adding
/// (`+1`) or removing (`-1`) one session costs on an endpoint. A weight of
/// 0 costs infinitely much to add to and gains infinitely much to remove
/// from.
#[derive(Clone, Copy)]
struct Cost {
    numerator: u64,
    weight: u32,
}

impl Cost {
    fn add(sessions: usize, weight: u32) -> Self {
        Cost {
            numerator: 2 * sessions as u64 + 1,
            weight,
        }
    }

    fn remove(sessions: usize, weight: u32) -> Self {
        Cost {
            numerator: (2 * sessions as u64).saturating_sub(1),
            weight,
        }
    }

    fn cmp(self, other: Cost) -> Ordering {
        match (self.weight, other.weight) {
            (0, 0) => Ordering::Equal,
            (0, _) => Ordering::Greater,
            (_, 0) => Ordering::Less,
            (a, b) => {
                let left = u128::from(self.numerator) * u128::from(b);
                let right = u128::from(other.numerator) * u128::from(a);
                left.cmp(&right)
            }
        }
    }
}

impl Pool {
    /// Sessions dialing or live on each endpoint.
    pub(super) fn sessions_per_endpoint(&self) -> alloc::vec::Vec<usize> {
        let mut counts = alloc::vec![0; self.endpoints.len()];
        for entry in &self.entries {
            if matches!(entry.phase, Phase::Dialing { .. } | Phase::Live { .. }) {
                counts[entry.endpoint] += 1;
            }
        }
        counts
    }

    /// The endpoint a new session should go to: among those that may be
    /// dialed now, the one where it raises the spread's cost least (ties:
    /// fewer sessions, then the higher weight, then the lower index).
    /// `None` while every endpoint is down or given up.
    pub(super) fn choose_endpoint(&self) -> Option<usize> {
        let counts = self.sessions_per_endpoint();
        self.least_costly(&counts)
    }

    fn least_costly(&self, counts: &[usize]) -> Option<usize> {
        let now = self.now;
        (0..self.endpoints.len())
            .filter(|&e| self.endpoints[e].available(now))
            .min_by(|&a, &b| {
                let (wa, wb) = (self.endpoints[a].weight, self.endpoints[b].weight);
                Cost::add(counts[a], wa)
                    .cmp(Cost::add(counts[b], wb))
                    .then(counts[a].cmp(&counts[b]))
                    .then(wb.cmp(&wa))
                    .then(a.cmp(&b))
            })
    }

    /// The earliest instant a down endpoint may be dialed again, if one is
    /// down: a waiting redial, or a move back to it, is due then.
    pub(super) fn next_endpoint_up(&self) -> Option<Instant> {
        self.endpoints
            .iter()
            .filter(|h| h.usable() && h.is_down(self.now))
            .filter_map(|h| h.down_until)
            .min()
    }

    /// Counts a failure of `endpoint` and starts its backoff, unless it is
    /// already backing off: failures during one outage (dials that were
    /// already under way) are the same news. After `max_attempts` in a row
    /// it is given up, and when every endpoint is, the pool.
    pub(super) fn endpoint_failed(&mut self, endpoint: usize) {
        let now = self.now;
        let health = &mut self.endpoints[endpoint];
        if health.is_down(now) || health.given_up {
            return;
        }
        health.failures = health.failures.saturating_add(1);
        let failures = health.failures;
        if self.config.max_attempts.is_some_and(|max| failures >= max) {
            health.given_up = true;
            health.down_until = None;
            // Once: a pool that gave up already (and then saw an endpoint
            // prove healthy and fail again) is still waiting for `resume`.
            if !self.gave_up && !self.endpoints.iter().any(Health::usable) {
                self.give_up();
            }
            return;
        }
        let until = now + self.jitter.delay(&self.config, failures);
        self.endpoints[endpoint].down_until = Some(until);
    }

    /// Moves one session towards the weighted spread, once nothing is
    /// being dialed: from the endpoint where one fewer lowers the cost most
    /// to the one where one more raises it least, when that lowers the
    /// total. The moved session drains (its streams finish) and its
    /// replacement is dialed to the endpoint that gains it. This is how
    /// sessions return to an endpoint that failed and came back.
    pub(super) fn rebalance(&mut self) {
        if self.gave_up || self.entries.iter().any(|e| e.is_pending()) {
            return;
        }
        let counts = self.sessions_per_endpoint();
        let Some(to) = self.least_costly(&counts) else {
            return;
        };
        let from = (0..self.endpoints.len())
            .filter(|&e| counts[e] > 0)
            .max_by(|&a, &b| {
                Cost::remove(counts[a], self.endpoints[a].weight)
                    .cmp(Cost::remove(counts[b], self.endpoints[b].weight))
                    .then(b.cmp(&a))
            });
        let Some(from) = from else { return };
        let gain = Cost::remove(counts[from], self.endpoints[from].weight);
        if Cost::add(counts[to], self.endpoints[to].weight).cmp(gain) != Ordering::Less {
            return;
        }
        // The least loaded of its sessions, so the fewest streams wait.
        let moved = (0..self.entries.len())
            .filter(|&i| self.entries[i].is_live() && self.entries[i].endpoint == from)
            .min_by_key(|&i| (self.entries[i].streams, i));
        if let Some(index) = moved {
            self.drain(index);
        }
    }
}

//! A pool of sessions: how many to keep, when to dial and close them, and
//! which one a new stream should use.
//!
//! Like [`Session`](crate::Session), the [`Pool`] is a sans-IO state
//! machine. It owns no connections and reads no clock: the host reports
//! what happened to each [`Slot`] (a dial succeeded or failed, a session
//! closed, its stream count changed, a pong arrived, the peer sent GoAway)
//! with the current [`Instant`], and the pool answers with [`Action`]s and
//! the next instant it wants [`Pool::handle_timeout`].
//!
//! What it does:
//!
//! - keeps `min_sessions..=max_sessions` sessions live, dialing or waiting
//!   to redial ([`PoolConfig`]);
//! - spreads them over the [endpoints](PoolConfig::endpoints) it is given,
//!   by weight, telling the host which endpoint each dial is for
//!   ([`Action::Dial`]);
//! - dials another session when every pickable session carries more than
//!   `target_streams_per_session` streams, and closes sessions beyond
//!   `min_sessions` that stayed without streams for `idle_timeout`;
//! - keeps health per endpoint ([`EndpointInfo`]: failures, backoff, RTT):
//!   after a failed dial or a lost session the endpoint is left alone for
//!   an exponential backoff with jitter (1 s, x1.6, capped at 120 s,
//!   +/-20 % by default, as gRPC), which resets once a session there
//!   proves healthy (it stayed up for `healthy_after` or answered a ping);
//!   the place is redialed at once to another endpoint if one is up, and
//!   once the endpoint's backoff ends a session moves back to it;
//! - asks for a health ping on every live session each `ping_interval`
//!   ([`Action::Ping`]), whose answers ([`Pool::pong`]) give the RTT;
//! - drains a session whose peer sent GoAway (or that ran out of stream
//!   ids, [`Pool::open_failed`]): no new streams, a replacement is dialed
//!   at once, and it is closed when its last stream ends;
//! - picks a session for a new stream by [`Policy`], never a dialing,
//!   draining or slow one, decides whether a failed request may run again
//!   ([`Pool::may_retry`]), and reports per-session health
//!   ([`SessionInfo`]) and totals ([`PoolStats`]).
//!
//! Behind the crate's `pool` feature (off by default; the async adapters
//! turn it on).
//!
//! # The drive loop
//!
//! After every report, drain [`Pool::poll_action`]; then wait for news from
//! the connections or for [`Pool::poll_timeout`]. Here the "network" is a
//! closure that fails the first dial of each slot.
//!
//! ```
//! use core::time::Duration;
//! use muxplex::pool::{Action, Pool, PoolConfig, SessionState};
//! use muxplex::{CloseReason, Instant};
//!
//! let config = PoolConfig::default()
//!     .with_min_sessions(2)
//!     .with_seed(7);
//! let mut now = Instant::ZERO;
//! let mut pool = Pool::new(config, now);
//! let mut tried = Vec::new();
//!
//! // One round of the host loop: carry out every action the pool asks for.
//! // A real host starts a connection per Dial and reports its outcome
//! // later; this one answers at once.
//! let mut run_actions = |pool: &mut Pool, now: Instant, tried: &mut Vec<usize>| {
//!     while let Some(action) = pool.poll_action() {
//!         match action {
//!             Action::Dial { slot, .. } if tried.contains(&slot.index()) => {
//!                 if !pool.dial_succeeded(now, slot) { /* unwanted now: close it */ }
//!             }
//!             Action::Dial { slot, .. } => {
//!                 tried.push(slot.index());
//!                 pool.dial_failed(now, slot);
//!             }
//!             Action::Close { slot: _ } => { /* drop that connection */ }
//!             Action::Ping { slot: _ } => { /* ping it, report the pong */ }
//!             Action::GaveUp => panic!("retries are unlimited by default"),
//!             _ => {}
//!         }
//!     }
//! };
//!
//! run_actions(&mut pool, now, &mut tried);
//! // Both dials failed; the pool waits out a backoff of about 1 s.
//! let wake = pool.poll_timeout().expect("a redial is scheduled");
//! assert!(wake >= Instant::from_millis(800) && wake <= Instant::from_millis(1_200));
//! while pool.stats().live < 2 {
//!     now = pool.poll_timeout().expect("redials pending");
//!     pool.handle_timeout(now);
//!     run_actions(&mut pool, now, &mut tried);
//! }
//!
//! // Open a stream on the session the policy picks, and say so.
//! let slot = pool.pick(None).expect("two live sessions");
//! pool.load_changed(now, slot, 1);
//! // The least-loaded policy sends the next stream elsewhere.
//! assert_ne!(pool.pick(None), Some(slot));
//!
//! // A lost session is redialed after a backoff.
//! pool.session_closed(now, slot, CloseReason::TransportClosed);
//! let state = pool.sessions().find(|s| s.slot.index() == slot.index()).unwrap().state;
//! assert_eq!(state, SessionState::BackingOff);
//! ```
//!
//! # Slots
//!
//! A [`Slot`] names a place in the pool (its small, reused
//! [`index`](Slot::index)) and one attempt in it (its generation). Every
//! `Dial` carries a fresh attempt; the host reports about that attempt and
//! the pool ignores reports about older ones, returning `false`: whatever
//! such a report is about (a dial that finished after the pool gave up on
//! it, say), the host should close it.

mod backoff;
mod config;
mod endpoint;
#[cfg(test)]
mod endpoint_tests;
mod events;
mod maintain;
mod select;
mod slot;
mod stats;
#[cfg(test)]
mod tests;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

pub use config::{Policy, PoolConfig, Weights};
pub use slot::{SessionState, Slot};
pub use stats::{EndpointInfo, PoolStats, SessionInfo};

use crate::time::Instant;
use backoff::Jitter;
use endpoint::Health;
use slot::Entry;

/// What the pool asks the host to do, from [`Pool::poll_action`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Connect a new session for this slot to `endpoint`, then report
    /// [`Pool::dial_succeeded`] or [`Pool::dial_failed`]. A dial not
    /// reported within the connect timeout counts as failed and is followed
    /// by `Close` for the same slot.
    Dial {
        /// The slot and attempt to report about.
        slot: Slot,
        /// Where to connect: an index into [`PoolConfig::endpoints`].
        endpoint: usize,
    },
    /// Close this slot's session, or abandon its dial. The pool has already
    /// forgotten it: reports about it are ignored, so the host need not
    /// report the close.
    Close {
        /// The slot whose session or dial to drop.
        slot: Slot,
    },
    /// Ping this slot's session (the core's `Session::ping`) and report the
    /// answer's round-trip time with [`Pool::pong`]; a ping that fails or
    /// goes unanswered needs no report. Asked every
    /// [`PoolConfig::ping_interval`] per live session.
    Ping {
        /// The slot whose session to ping.
        slot: Slot,
    },
    /// Every endpoint failed `max_attempts` times in a row, so the pool
    /// stopped dialing: pending redials are dropped, dials still in flight are
    /// honoured if they succeed, lost sessions are not replaced, and live
    /// sessions keep serving. [`Pool::resume`] starts over. Emitted once per
    /// giving up.
    GaveUp,
}

/// The pool state machine; see the [module docs](self) for the drive loop.
#[derive(Clone, Debug)]
pub struct Pool {
    config: PoolConfig,
    /// One entry per place, indexed by [`Slot::index`]. It grows only when
    /// every place is in use, so it stays below `2 * max_sessions` (active
    /// plus draining sessions).
    entries: Vec<Entry>,
    /// One per endpoint, indexed as [`PoolConfig::endpoints`].
    endpoints: Vec<Health>,
    actions: VecDeque<Action>,
    /// The latest time the host supplied; deadlines start from it.
    now: Instant,
    jitter: Jitter,
    /// Where round robin resumes its scan.
    round_robin_next: usize,
    gave_up: bool,
    dials: u64,
    failures: u64,
}

impl Pool {
    /// A pool that starts at once: it asks to dial `min_sessions` sessions.
    #[must_use]
    pub fn new(config: PoolConfig, now: Instant) -> Self {
        let mut pool = Pool {
            jitter: Jitter::new(config.seed),
            endpoints: config
                .effective_endpoints()
                .into_iter()
                .map(Health::new)
                .collect(),
            config,
            entries: Vec::new(),
            actions: VecDeque::new(),
            now,
            round_robin_next: 0,
            gave_up: false,
            dials: 0,
            failures: 0,
        };
        pool.maintain();
        pool
    }

    /// The configuration the pool runs with.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The next thing the host should do, if any. Drain it after every
    /// report and every [`handle_timeout`](Self::handle_timeout).
    #[must_use = "an action taken and dropped is never carried out"]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When the pool next needs [`handle_timeout`](Self::handle_timeout): a
    /// redial, a connect timeout, a session proving healthy by uptime, a
    /// health ping, or an idle session to close. `None` when nothing is
    /// pending.
    #[must_use = "the pool needs `handle_timeout` at this deadline"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let slots = self.entries.iter().filter_map(|entry| match entry.phase {
            slot::Phase::Dialing { deadline } => Some(deadline),
            slot::Phase::Live {
                since,
                proven,
                ping_due,
                ..
            } => {
                let proof = (!proven).then(|| since + self.config.healthy_after);
                [proof, ping_due].into_iter().flatten().min()
            }
            _ => None,
        });
        slots
            .chain(self.next_idle_close().map(|(due, _)| due))
            .chain(self.next_endpoint_up())
            .min()
    }

    /// Feeds the time when [`poll_timeout`](Self::poll_timeout) has passed
    /// (calling it early or often is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.observe(now);
        self.maintain();
    }

    /// Starts over after [`Action::GaveUp`]: forgets every endpoint's
    /// failures and backoff and dials back up to `min_sessions`. Harmless
    /// when the pool has not given up (it ends any backoff, though).
    pub fn resume(&mut self, now: Instant) {
        self.observe(now);
        self.gave_up = false;
        for health in &mut self.endpoints {
            health.reset();
        }
        self.maintain();
    }

    /// Records the host's time; time never goes back, so a late report
    /// cannot move deadlines earlier.
    fn observe(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }
}

//! Property tests of the pool: random operation sequences (dial results,
//! session ends, load changes, pongs, GoAways, failed opens, picks, time
//! passing) drive a pool over one to four weighted endpoints through a
//! model host, which checks after every step that
//!
//! - at most `max_sessions` sessions are live, dialing or backing off, and
//!   at most `max_sessions` drain;
//! - a slot index never has two dials (or a dial and a session) at once,
//!   and stays below `2 * max_sessions`;
//! - the pool's view of dials and sessions matches the host's;
//! - every dial goes to an endpoint that may be dialed (weighted, not given
//!   up, not backing off), and a place waits to redial only while no
//!   endpoint may be dialed;
//! - every backoff an endpoint enters lies within `initial *
//!   multiplier^(n-1)` capped, +/- jitter, for its `n` failures in a row;
//! - a session that answers a ping clears its endpoint's failures and
//!   backoff;
//! - picks return only live, non-draining, non-slow sessions, and a sticky
//!   key moves only when its session stops being pickable or to a session
//!   that just became pickable;
//! - reports about forgotten attempts are refused and change nothing;
//! - pings are asked only for live sessions the host holds;
//!
//! and at the end that, once dials succeed and every endpoint is back,
//! `min_sessions` are live, no redial is left pending, and the sessions are
//! spread by weight (no move between endpoints would bring the spread
//! closer to the weights).

use std::collections::BTreeMap;
use std::time::Duration;

use muxplex::pool::{
    Action, EndpointInfo, Policy, Pool, PoolConfig, SessionInfo, SessionState, Slot, Weights,
};
use muxplex::{CloseReason, Instant, OpenError};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: crate::common::proptest_cases(256),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/pool_props.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// One thing that happens to the pool. `which` picks among the host's
/// dials or sessions, modulo their number.
#[derive(Clone, Debug)]
enum Op {
    DialResult {
        which: u8,
        ok: bool,
    },
    SessionEnd {
        which: u8,
        lost: bool,
    },
    Load {
        which: u8,
        streams: u8,
    },
    Pong {
        which: u8,
        rtt_ms: u16,
    },
    GoAway {
        which: u8,
    },
    /// An open on a session failed; `kind` picks the error.
    OpenFailed {
        which: u8,
        kind: u8,
    },
    /// Time passes, but never beyond the pool's next deadline, so redials
    /// are observed at the very instant they fall due.
    Advance {
        ms: u32,
    },
    Pick {
        key: Option<u8>,
    },
    StaleReport {
        which: u8,
    },
    Resume,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), prop::bool::weighted(0.6))
            .prop_map(|(which, ok)| Op::DialResult { which, ok }),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(which, lost)| Op::SessionEnd { which, lost }),
        4 => (any::<u8>(), 0u8..12).prop_map(|(which, streams)| Op::Load { which, streams }),
        2 => (any::<u8>(), 1u16..400).prop_map(|(which, rtt_ms)| Op::Pong { which, rtt_ms }),
        1 => any::<u8>().prop_map(|which| Op::GoAway { which }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(which, kind)| Op::OpenFailed { which, kind }),
        5 => (0u32..200_000).prop_map(|ms| Op::Advance { ms }),
        3 => prop::option::of(0u8..16).prop_map(|key| Op::Pick { key }),
        1 => any::<u8>().prop_map(|which| Op::StaleReport { which }),
        1 => Just(Op::Resume),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::LeastLoaded),
        Just(Policy::RoundRobin),
        Just(Policy::Sticky),
        Just(Policy::Weighted(Weights::Rtt)),
        Just(Policy::Weighted(Weights::Endpoint)),
    ]
}

fn config() -> impl Strategy<Value = PoolConfig> {
    (
        (0usize..=3, 1usize..=4, 0usize..=6),
        // One to four endpoints; weight 0 among them (all 0 counts as 1).
        prop::collection::vec(0u32..4, 1..=4),
        prop::option::of(10u64..120),
        // A zero connect timeout is clamped to the floor, not already due.
        (0u64..30, 1u64..30),
        prop::option::of(1u32..=6),
        policy(),
        any::<u64>(),
    )
        .prop_map(
            |((min, max, target), endpoints, idle, (connect, healthy), attempts, policy, seed)| {
                PoolConfig::default()
                    .with_endpoints(endpoints)
                    .with_max_sessions(max)
                    .with_min_sessions(min.min(max))
                    .with_target_streams_per_session(target)
                    .with_idle_timeout(idle.map(Duration::from_secs))
                    .with_connect_timeout(Duration::from_secs(connect))
                    .with_healthy_after(Duration::from_secs(healthy))
                    .with_max_attempts(attempts)
                    .with_policy(policy)
                    .with_seed(seed)
            },
        )
}

/// The configurable part of the backoff, drawn widely.
fn backoff_config() -> impl Strategy<Value = PoolConfig> {
    (
        config(),
        100u64..5_000,
        1.0f64..3.0,
        1u64..200,
        0.0f64..=0.5,
    )
        .prop_map(|(config, initial_ms, multiplier, max_s, jitter)| {
            config
                .with_max_attempts(None)
                .with_backoff(
                    Duration::from_millis(initial_ms),
                    multiplier,
                    Duration::from_secs(max_s),
                )
                .with_backoff_jitter(jitter)
        })
}

/// A model host: it carries out the pool's actions, keeps its own view of
/// dials and sessions, and checks the pool against it.
struct Host {
    pool: Pool,
    config: PoolConfig,
    now: Instant,
    dialing: Vec<Slot>,
    /// Live or draining, as far as the host knows.
    sessions: Vec<Slot>,
    /// Attempts the pool told the host to drop.
    forgotten: Vec<Slot>,
    log: Vec<(Instant, Action)>,
    /// The weights the pool goes by: all 1 when none is above 0.
    weights: Vec<u32>,
    /// Each endpoint's backoff end that was already checked.
    downs: BTreeMap<usize, Instant>,
    /// Per sticky key: the last pick, and the pickable set it was made from.
    sticky: BTreeMap<u64, (Slot, Vec<Slot>)>,
}

impl Host {
    fn new(config: PoolConfig) -> Self {
        let weights = match config.endpoints.iter().any(|&w| w > 0) {
            true => config.endpoints.clone(),
            false => vec![1; config.endpoints.len().max(1)],
        };
        let mut host = Host {
            pool: Pool::new(config.clone(), Instant::ZERO),
            config,
            now: Instant::ZERO,
            dialing: Vec::new(),
            sessions: Vec::new(),
            forgotten: Vec::new(),
            log: Vec::new(),
            weights,
            downs: BTreeMap::new(),
            sticky: BTreeMap::new(),
        };
        host.settle();
        host
    }

    fn endpoint(&self, index: usize) -> EndpointInfo {
        self.pool.endpoints().nth(index).expect("configured")
    }

    /// Whether the pool may dial `index` now: weighted, not given up, not
    /// backing off.
    fn available(&self, index: usize) -> bool {
        let endpoint = self.endpoint(index);
        endpoint.weight > 0 && !endpoint.given_up && endpoint.down_until.is_none()
    }

    fn info(&self, slot: Slot) -> Option<SessionInfo> {
        self.pool.sessions().find(|s| s.slot == slot)
    }

    fn pickable(&self) -> Vec<Slot> {
        self.pool
            .sessions()
            .filter(|s| s.state == SessionState::Live && !s.slow)
            .map(|s| s.slot)
            .collect()
    }

    fn apply(&mut self, op: &Op) {
        let now = self.now;
        match *op {
            Op::DialResult { which, ok } if !self.dialing.is_empty() => {
                let slot = self.dialing.remove(usize::from(which) % self.dialing.len());
                if ok {
                    assert!(self.pool.dial_succeeded(now, slot));
                    self.sessions.push(slot);
                } else {
                    assert!(self.pool.dial_failed(now, slot));
                }
            }
            Op::SessionEnd { which, lost } if !self.sessions.is_empty() => {
                let slot = self
                    .sessions
                    .remove(usize::from(which) % self.sessions.len());
                let reason = match lost {
                    true => CloseReason::TransportClosed,
                    false => CloseReason::LocalClose,
                };
                assert!(self.pool.session_closed(now, slot, reason));
            }
            Op::Load { which, streams } if !self.sessions.is_empty() => {
                let slot = self.sessions[usize::from(which) % self.sessions.len()];
                assert!(self.pool.load_changed(now, slot, usize::from(streams)));
            }
            Op::Pong { which, rtt_ms } if !self.sessions.is_empty() => {
                let slot = self.sessions[usize::from(which) % self.sessions.len()];
                let rtt = Duration::from_millis(u64::from(rtt_ms));
                assert!(self.pool.pong(now, slot, rtt));
                let info = self.info(slot).expect("still there");
                if info.state == SessionState::Live {
                    // Health resets the endpoint's backoff.
                    assert!(info.proven_healthy);
                    let endpoint = self.endpoint(info.endpoint);
                    assert_eq!(endpoint.consecutive_failures, 0, "{endpoint:?}");
                    assert_eq!(endpoint.down_until, None, "{endpoint:?}");
                }
            }
            Op::GoAway { which } if !self.sessions.is_empty() => {
                let slot = self.sessions[usize::from(which) % self.sessions.len()];
                assert!(self.pool.peer_go_away(now, slot));
            }
            Op::OpenFailed { which, kind } if !self.sessions.is_empty() => {
                let at = usize::from(which) % self.sessions.len();
                let slot = self.sessions[at];
                let error = match kind % 5 {
                    0 => OpenError::IdsExhausted,
                    1 => OpenError::PeerGoingAway,
                    2 => OpenError::Blocked,
                    3 => OpenError::Closing,
                    _ => OpenError::SessionClosed(CloseReason::TransportClosed),
                };
                assert!(self.pool.open_failed(now, slot, &error));
                if matches!(error, OpenError::SessionClosed(_)) {
                    self.sessions.remove(at);
                }
            }
            Op::Advance { ms } => {
                let mut to = now + Duration::from_millis(u64::from(ms));
                if let Some(due) = self.pool.poll_timeout() {
                    to = to.min(due.max(now));
                }
                self.now = to;
                self.pool.handle_timeout(to);
                // Nothing already due is left, or a host that sleeps until
                // `poll_timeout` would spin.
                let next = self.pool.poll_timeout();
                assert!(next.is_none_or(|due| due > to), "{next:?} at {to:?}");
            }
            Op::Pick { key } => self.pick(key.map(u64::from)),
            Op::StaleReport { which } if !self.forgotten.is_empty() => {
                let slot = self.forgotten[usize::from(which) % self.forgotten.len()];
                let before: Vec<SessionInfo> = self.pool.sessions().collect();
                assert!(!self.pool.dial_succeeded(now, slot));
                assert!(!self.pool.load_changed(now, slot, 3));
                assert!(!self.pool.peer_go_away(now, slot));
                assert_eq!(self.pool.sessions().collect::<Vec<_>>(), before);
            }
            Op::Resume => self.pool.resume(now),
            _ => {}
        }
        self.settle();
    }

    fn pick(&mut self, key: Option<u64>) {
        let pickable = self.pickable();
        let picked = self.pool.pick(key);
        match picked {
            None => assert!(pickable.is_empty(), "nothing picked from {pickable:?}"),
            Some(slot) => assert!(pickable.contains(&slot), "{slot:?} is not pickable"),
        }
        if let (Policy::Sticky, Some(key), Some(slot)) = (&self.config.policy, key, picked) {
            if let Some((owner, then)) = self.sticky.get(&key) {
                // Rendezvous: the key stays unless its owner left, or moves
                // to a session that was not a candidate last time.
                if pickable.contains(owner) {
                    assert!(
                        slot == *owner || !then.contains(&slot),
                        "key {key} moved from {owner:?} to {slot:?}"
                    );
                }
            }
            self.sticky.insert(key, (slot, pickable));
        }
    }

    /// Carries out every action, then checks the invariants.
    fn settle(&mut self) {
        while let Some(action) = self.pool.poll_action() {
            self.log.push((self.now, action));
            match action {
                Action::Dial { slot, endpoint } => self.on_dial(slot, endpoint),
                Action::Close { slot } => {
                    let known = self
                        .dialing
                        .iter()
                        .chain(&self.sessions)
                        .any(|s| *s == slot);
                    assert!(known, "close of unknown {slot:?}");
                    self.dialing.retain(|s| *s != slot);
                    self.sessions.retain(|s| *s != slot);
                    self.forgotten.push(slot);
                }
                Action::GaveUp => assert!(self.config.max_attempts.is_some()),
                Action::Ping { slot } => {
                    assert!(self.sessions.contains(&slot), "ping of unknown {slot:?}");
                    let state = self.info(slot).map(|s| s.state);
                    assert_eq!(state, Some(SessionState::Live), "ping of {slot:?}");
                }
                _ => unreachable!("no other actions exist yet"),
            }
        }
        self.check();
    }

    fn on_dial(&mut self, slot: Slot, endpoint: usize) {
        let busy = self.dialing.iter().chain(&self.sessions);
        assert!(
            busy.clone().all(|s| s.index() != slot.index()),
            "dial of {slot:?} while the place is in use: {:?}",
            busy.collect::<Vec<_>>()
        );
        assert!(
            endpoint < self.weights.len() && self.available(endpoint),
            "dial of {slot:?} to {:?}",
            self.pool.endpoints().nth(endpoint)
        );
        self.dialing.push(slot);
    }

    fn check(&mut self) {
        let stats = self.pool.stats();
        let max = self.config.max_sessions;
        assert!(
            stats.live + stats.dialing + stats.backing_off <= max,
            "{stats:?}"
        );
        assert!(stats.draining <= max, "{stats:?}");
        let sessions: Vec<SessionInfo> = self.pool.sessions().collect();
        let mut pool_dialing: Vec<Slot> = sessions
            .iter()
            .filter(|s| s.state == SessionState::Dialing)
            .map(|s| s.slot)
            .collect();
        let mut pool_sessions: Vec<Slot> = sessions
            .iter()
            .filter(|s| matches!(s.state, SessionState::Live | SessionState::Draining))
            .map(|s| s.slot)
            .collect();
        let (mut dialing, mut open) = (self.dialing.clone(), self.sessions.clone());
        for list in [
            &mut pool_dialing,
            &mut pool_sessions,
            &mut dialing,
            &mut open,
        ] {
            list.sort();
        }
        assert_eq!(pool_dialing, dialing);
        assert_eq!(pool_sessions, open);
        for info in &sessions {
            // Active plus draining places: indices stay small.
            assert!(info.slot.index() < 2 * max, "{info:?}");
            if info.state == SessionState::Draining {
                assert!(
                    info.streams > 0,
                    "an empty draining session stays: {info:?}"
                );
            }
        }
        // A place waits to redial only while no endpoint may be dialed.
        if stats.backing_off > 0 {
            let free = (0..self.weights.len()).find(|&e| self.available(e));
            assert_eq!(free, None, "a redial waits while an endpoint is free");
        }
        // Each backoff an endpoint enters lies within the bounds for its
        // failure count.
        for endpoint in self.pool.endpoints().collect::<Vec<_>>() {
            assert!(
                endpoint.live + endpoint.dialing == 0 || endpoint.weight > 0 || {
                    // Sessions stay on a weight-0 endpoint only if all are 0.
                    self.config.endpoints.iter().all(|&w| w == 0)
                }
            );
            let Some(until) = endpoint.down_until else {
                continue;
            };
            if self.downs.insert(endpoint.endpoint, until) == Some(until) {
                continue;
            }
            let waits = until.saturating_duration_since(self.now);
            let (low, high) = backoff_bounds(&self.config, endpoint.consecutive_failures);
            assert!(
                waits >= low && waits <= high,
                "backoff of {waits:?} after {} failures: outside {low:?}..={high:?}",
                endpoint.consecutive_failures
            );
        }
    }

    /// Whether moving one session between endpoints would bring the spread
    /// closer to the weights (lower the sum of sessions² / weight).
    fn improvable(&self) -> bool {
        let endpoints: Vec<EndpointInfo> = self.pool.endpoints().collect();
        endpoints.iter().any(|from| {
            from.live > 0
                && endpoints.iter().any(|to| {
                    let (nf, nt) = (from.live as u64, to.live as u64);
                    let (wf, wt) = (u64::from(from.weight), u64::from(to.weight));
                    self.available(to.endpoint)
                        && (wf == 0 || (2 * nt + 1) * wf < (2 * nf - 1) * wt)
                })
        })
    }

    /// Lets every dial succeed and time run until the pool is whole.
    fn heal(&mut self) {
        self.pool.resume(self.now);
        self.settle();
        for _ in 0..1_000 {
            // Every dial succeeds before time moves on, including those
            // the successes lead to (a session moving between endpoints).
            while !self.dialing.is_empty() {
                for slot in std::mem::take(&mut self.dialing) {
                    assert!(self.pool.dial_succeeded(self.now, slot));
                    self.sessions.push(slot);
                }
                self.settle();
            }
            let stats = self.pool.stats();
            let whole = stats.live >= self.config.min_sessions
                && stats.dialing == 0
                && stats.backing_off == 0;
            // Whole, every endpoint back, and the sessions spread by
            // weight: no move left that would improve it.
            let back = (0..self.weights.len()).all(|e| self.weights[e] == 0 || self.available(e));
            if whole && back {
                assert!(
                    !self.improvable(),
                    "{:?}",
                    self.pool.endpoints().collect::<Vec<_>>()
                );
                return;
            }
            self.apply(&Op::Advance { ms: u32::MAX });
        }
        panic!(
            "not whole after healing: {:?} {:?}",
            self.pool.stats(),
            self.pool.endpoints().collect::<Vec<_>>()
        );
    }
}

/// The shortest and longest wait before the redial after `failures`
/// consecutive failures, computed from the formula rather than the pool's
/// code.
fn backoff_bounds(config: &PoolConfig, failures: u32) -> (Duration, Duration) {
    let initial = config.backoff_initial.as_secs_f64();
    let cap = config.backoff_max.as_secs_f64();
    let exponent = i32::try_from(failures.saturating_sub(1)).unwrap_or(i32::MAX);
    let base = (initial * config.backoff_multiplier.powi(exponent)).min(cap);
    // A few microseconds of slack for rounding to whole microseconds.
    let slack = 1e-5;
    let low = (base * (1.0 - config.backoff_jitter) - slack).max(0.0);
    let high = base * (1.0 + config.backoff_jitter) + slack;
    (Duration::from_secs_f64(low), Duration::from_secs_f64(high))
}

fn run(config: PoolConfig, ops: &[Op]) -> Host {
    let mut host = Host::new(config);
    for op in ops {
        host.apply(op);
    }
    host
}

proptest! {
    #![proptest_config(proptest_config())]

    /// Bounds, one dial per slot, agreement with the host, health resets
    /// and valid picks hold after every step of any sequence; afterwards,
    /// once dials succeed, min_sessions are restored.
    #[test]
    fn invariants_hold_and_min_sessions_is_restored(
        config in config(),
        ops in prop::collection::vec(op(), 0..120),
    ) {
        let mut host = run(config, &ops);
        host.heal();
    }

    /// Failure-heavy runs under random backoff settings: every redial
    /// comes within the configured bounds for its failure count.
    #[test]
    fn redials_wait_within_backoff_bounds(
        config in backoff_config(),
        ops in prop::collection::vec(
            prop_oneof![
                3 => any::<u8>().prop_map(|which| Op::DialResult { which, ok: false }),
                1 => any::<u8>().prop_map(|which| Op::DialResult { which, ok: true }),
                1 => any::<u8>().prop_map(|which| Op::SessionEnd { which, lost: true }),
                1 => any::<u8>().prop_map(|which| Op::Pong { which, rtt_ms: 20 }),
                4 => (0u32..400_000).prop_map(|ms| Op::Advance { ms }),
            ],
            0..120,
        ),
    ) {
        run(config, &ops);
    }

    /// Sticky picks under churn: a key moves only when its session stops
    /// being pickable or to a session that has just become pickable.
    #[test]
    fn sticky_keys_stay_put(
        config in config(),
        ops in prop::collection::vec(
            prop_oneof![3 => op(), 2 => (0u8..16).prop_map(|k| Op::Pick { key: Some(k) })],
            0..150,
        ),
    ) {
        run(config.with_policy(Policy::Sticky), &ops);
    }

    /// The same seed and the same inputs give the same actions at the same
    /// times, so a run can be replayed.
    #[test]
    fn same_seed_same_actions(
        config in config(),
        ops in prop::collection::vec(op(), 0..120),
    ) {
        let first = run(config.clone(), &ops);
        let second = run(config, &ops);
        prop_assert_eq!(first.log, second.log);
        prop_assert_eq!(first.pool.stats(), second.pool.stats());
    }
}

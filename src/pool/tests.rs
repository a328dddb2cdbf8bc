//! Scenario tests of the pool, one behaviour each.

use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::error::{CloseReason, Delivery, OpenError};

pub(super) fn secs(s: u64) -> Instant {
    Instant::from_millis(s * 1_000)
}

pub(super) fn actions(pool: &mut Pool) -> Vec<Action> {
    core::iter::from_fn(|| pool.poll_action()).collect()
}

pub(super) fn dials(actions: &[Action]) -> Vec<Slot> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial { slot, .. } => Some(*slot),
            _ => None,
        })
        .collect()
}

/// Answers every pending dial with success; returns the new sessions.
pub(super) fn connect_all(pool: &mut Pool, now: Instant) -> Vec<Slot> {
    let mut up = Vec::new();
    loop {
        let new = dials(&actions(pool));
        if new.is_empty() {
            return up;
        }
        for slot in new {
            assert!(pool.dial_succeeded(now, slot));
            up.push(slot);
        }
    }
}

fn state(pool: &Pool, index: usize) -> Option<SessionState> {
    pool.sessions()
        .find(|s| s.slot.index() == index)
        .map(|s| s.state)
}

/// Failures in a row on `endpoint`.
pub(super) fn failures(pool: &Pool, endpoint: usize) -> u32 {
    pool.endpoints()
        .nth(endpoint)
        .expect("configured")
        .consecutive_failures
}

pub(super) fn info(pool: &Pool, slot: Slot) -> SessionInfo {
    pool.sessions().find(|s| s.slot == slot).expect("occupied")
}

#[test]
fn starts_by_dialing_min_sessions_and_tracks_them() {
    let mut pool = Pool::new(PoolConfig::default().with_min_sessions(2), Instant::ZERO);
    let asked = dials(&actions(&mut pool));
    assert_eq!(asked.iter().map(|s| s.index()).collect::<Vec<_>>(), [0, 1]);
    // The connect timeout is the only deadline while dialing.
    assert_eq!(pool.poll_timeout(), Some(secs(20)));
    assert!(pool.dial_succeeded(secs(1), asked[0]));
    let stats = pool.stats();
    assert_eq!((stats.live, stats.dialing, stats.dials), (1, 1, 2));
    // A second success for the same attempt is not a state change.
    assert!(!pool.dial_succeeded(secs(1), asked[0]));
}

#[test]
fn connect_timeout_abandons_the_dial_and_backs_off() {
    let mut pool = Pool::new(PoolConfig::default(), Instant::ZERO);
    let first = dials(&actions(&mut pool))[0];
    pool.handle_timeout(secs(20));
    assert_eq!(actions(&mut pool), [Action::Close { slot: first }]);
    let redial = pool.poll_timeout().unwrap();
    assert!(redial >= Instant::from_millis(20_800) && redial <= Instant::from_millis(21_200));
    pool.handle_timeout(redial);
    let second = dials(&actions(&mut pool))[0];
    assert_eq!(second.index(), first.index());
    assert_ne!(second, first);
    // The abandoned dial finishing late is refused; the host closes it.
    assert!(!pool.dial_succeeded(redial, first));
    assert!(pool.dial_succeeded(redial, second));
    assert_eq!(pool.stats().failures, 1);
}

#[test]
fn backoff_grows_per_failure_and_resets_once_healthy() {
    let config = PoolConfig::default()
        .with_backoff_jitter(0.0)
        .with_ping_interval(None);
    let mut now = Instant::ZERO;
    let mut pool = Pool::new(config, now);
    let mut delays = Vec::new();
    for _ in 0..4 {
        let slot = dials(&actions(&mut pool))[0];
        pool.dial_failed(now, slot);
        let at = pool.poll_timeout().unwrap();
        delays.push(at.saturating_duration_since(now).as_millis());
        now = at;
        pool.handle_timeout(now);
    }
    assert_eq!(delays, [1_000, 1_600, 2_560, 4_096]);
    let slot = connect_all(&mut pool, now)[0];
    assert_eq!(failures(&pool, 0), 4);
    // Lost before proving healthy: the failure count keeps growing.
    pool.session_closed(now, slot, CloseReason::KeepAliveTimeout);
    let at = pool.poll_timeout().unwrap();
    assert_eq!(at.saturating_duration_since(now).as_millis(), 6_553);
    now = at;
    pool.handle_timeout(now);
    let slot = connect_all(&mut pool, now)[0];
    // Ten seconds up proves health.
    now += Duration::from_secs(10);
    assert_eq!(pool.poll_timeout(), Some(now));
    pool.handle_timeout(now);
    assert!(info(&pool, slot).proven_healthy);
    assert_eq!(failures(&pool, 0), 0);
    pool.session_closed(now, slot, CloseReason::TransportClosed);
    let at = pool.poll_timeout().unwrap();
    assert_eq!(at.saturating_duration_since(now), Duration::from_secs(1));
}

#[test]
fn a_pong_proves_health_at_once() {
    let config = PoolConfig::default().with_ping_interval(None);
    let mut pool = Pool::new(config, Instant::ZERO);
    let slot = dials(&actions(&mut pool))[0];
    pool.dial_failed(Instant::ZERO, slot);
    let at = pool.poll_timeout().unwrap();
    pool.handle_timeout(at);
    let slot = connect_all(&mut pool, at)[0];
    assert_eq!(failures(&pool, 0), 1);
    assert!(pool.pong(at, slot, Duration::from_millis(30)));
    let now = info(&pool, slot);
    assert!(now.proven_healthy);
    assert_eq!(failures(&pool, 0), 0);
    assert_eq!(now.smoothed_rtt, Some(Duration::from_millis(30)));
    // Nothing left to wait for: healthy, and idle closes spare min_sessions.
    assert_eq!(pool.poll_timeout(), None);
}

#[test]
fn gives_up_after_max_attempts_until_resumed() {
    let config = PoolConfig::default()
        .with_min_sessions(2)
        .with_max_attempts(Some(2));
    let mut now = Instant::ZERO;
    let mut pool = Pool::new(config, now);
    let first = dials(&actions(&mut pool));
    pool.dial_failed(now, first[0]);
    // The endpoint is already backing off: the same outage, not counted.
    pool.dial_failed(now, first[1]);
    assert_eq!(failures(&pool, 0), 1);
    now = pool.poll_timeout().unwrap();
    pool.handle_timeout(now);
    // Both places redial when the endpoint's backoff ends.
    let retry = dials(&actions(&mut pool));
    assert_eq!(retry.len(), 2);
    pool.dial_failed(now, retry[0]);
    // The endpoint's second failure gives up: nothing is dialed any more,
    // and the dial still in flight is honoured only if it succeeds.
    assert_eq!(actions(&mut pool), [Action::GaveUp]);
    let stats = pool.stats();
    assert!(stats.gave_up);
    assert_eq!(
        (stats.dialing, stats.backing_off, stats.failures),
        (1, 0, 3)
    );
    pool.dial_failed(now, retry[1]);
    assert_eq!(pool.stats().dialing, 0);
    now += Duration::from_secs(1_000);
    pool.handle_timeout(now);
    assert_eq!(pool.pick(None), None);
    assert_eq!(actions(&mut pool), []);
    pool.resume(now);
    assert_eq!(dials(&actions(&mut pool)).len(), 2);
    assert!(!pool.stats().gave_up);
}

#[test]
fn goaway_drains_replaces_and_closes_when_empty() {
    let mut now = Instant::ZERO;
    let mut pool = Pool::new(PoolConfig::default(), now);
    let old = connect_all(&mut pool, now)[0];
    pool.load_changed(now, old, 2);
    now += Duration::from_secs(1);
    assert!(pool.peer_go_away(now, old));
    assert_eq!(state(&pool, old.index()), Some(SessionState::Draining));
    // A replacement at once, no backoff: a GoAway is not a failure.
    let new = connect_all(&mut pool, now);
    assert_eq!(new.len(), 1);
    assert_eq!(pool.stats().failures, 0);
    for _ in 0..10 {
        assert_eq!(pool.pick(None), Some(new[0]));
    }
    pool.load_changed(now, old, 1);
    assert_eq!(actions(&mut pool), []);
    pool.load_changed(now, old, 0);
    assert_eq!(actions(&mut pool), [Action::Close { slot: old }]);
    assert_eq!(state(&pool, old.index()), None);
}

#[test]
fn goaway_on_an_empty_session_closes_it_at_once() {
    let mut pool = Pool::new(PoolConfig::default(), Instant::ZERO);
    let slot = connect_all(&mut pool, Instant::ZERO)[0];
    pool.peer_go_away(Instant::ZERO, slot);
    let next = actions(&mut pool);
    assert_eq!(next[0], Action::Close { slot });
    assert_eq!(dials(&next).len(), 1);
}

#[test]
fn a_draining_session_ending_is_not_a_failure() {
    let mut pool = Pool::new(PoolConfig::default(), Instant::ZERO);
    let slot = connect_all(&mut pool, Instant::ZERO)[0];
    pool.load_changed(Instant::ZERO, slot, 3);
    pool.peer_go_away(Instant::ZERO, slot);
    connect_all(&mut pool, Instant::ZERO);
    assert!(pool.session_closed(Instant::ZERO, slot, CloseReason::TransportClosed));
    let stats = pool.stats();
    assert_eq!((stats.live, stats.draining, stats.failures), (1, 0, 0));
    assert_eq!(actions(&mut pool), []);
}

#[test]
fn too_many_draining_sessions_close_the_oldest() {
    let config = PoolConfig::default().with_max_sessions(1);
    let mut now = Instant::ZERO;
    let mut pool = Pool::new(config, now);
    let first = connect_all(&mut pool, now)[0];
    pool.load_changed(now, first, 1);
    pool.peer_go_away(now, first);
    let second = connect_all(&mut pool, now)[0];
    pool.load_changed(now, second, 1);
    now += Duration::from_secs(1);
    pool.peer_go_away(now, second);
    let next = actions(&mut pool);
    assert!(next.contains(&Action::Close { slot: first }));
    assert_eq!(state(&pool, second.index()), Some(SessionState::Draining));
    assert_eq!(pool.stats().draining, 1);
    assert_eq!(dials(&next).len(), 1);
}

#[test]
fn scales_out_when_every_session_is_above_target() {
    let config = PoolConfig::default()
        .with_max_sessions(3)
        .with_target_streams_per_session(2);
    let now = Instant::ZERO;
    let mut pool = Pool::new(config, now);
    let a = connect_all(&mut pool, now)[0];
    pool.load_changed(now, a, 2);
    assert_eq!(actions(&mut pool), [], "at the target is not above it");
    pool.load_changed(now, a, 3);
    let b = dials(&actions(&mut pool))[0];
    pool.load_changed(now, a, 9);
    assert_eq!(actions(&mut pool), [], "one scale-out at a time");
    assert!(pool.dial_succeeded(now, b));
    pool.load_changed(now, b, 3);
    let c = connect_all(&mut pool, now)[0];
    pool.load_changed(now, c, 3);
    assert_eq!(actions(&mut pool), [], "max_sessions reached");
    assert_eq!(pool.stats().live, 3);
}

#[test]
fn idle_extras_close_but_min_sessions_stay() {
    let config = PoolConfig::default()
        .with_min_sessions(1)
        .with_target_streams_per_session(0)
        .with_idle_timeout(Some(Duration::from_secs(60)))
        .with_ping_interval(None);
    let mut now = Instant::ZERO;
    let mut pool = Pool::new(config, now);
    let a = connect_all(&mut pool, now)[0];
    pool.load_changed(now, a, 1);
    let b = connect_all(&mut pool, now)[0];
    pool.load_changed(now, b, 1);
    connect_all(&mut pool, now);
    assert_eq!(pool.stats().live, 3);
    // Streams end at 10 s on `a` and 20 s on `b`; the third never had any.
    pool.load_changed(secs(10), a, 0);
    pool.load_changed(secs(20), b, 0);
    assert_eq!(pool.poll_timeout(), Some(secs(60)));
    now = secs(60);
    pool.handle_timeout(now);
    assert_eq!(pool.stats().live, 2);
    assert_eq!(pool.poll_timeout(), Some(secs(70)));
    pool.handle_timeout(secs(1_000));
    let closed: Vec<Action> = actions(&mut pool);
    assert_eq!(closed.len(), 2);
    assert_eq!(closed[1], Action::Close { slot: a });
    assert_eq!(pool.stats().live, 1);
    assert_eq!(pool.poll_timeout(), None);
}

#[test]
fn host_closing_a_session_is_not_a_failure() {
    let mut pool = Pool::new(PoolConfig::default(), Instant::ZERO);
    let slot = connect_all(&mut pool, Instant::ZERO)[0];
    pool.session_closed(secs(5), slot, CloseReason::LocalClose);
    // min_sessions is restored at once, without a backoff.
    let again = dials(&actions(&mut pool));
    assert_eq!(again.len(), 1);
    assert_eq!(pool.stats().failures, 0);
}

#[test]
fn reports_for_unknown_slots_change_nothing() {
    let mut pool = Pool::new(PoolConfig::default(), Instant::ZERO);
    let slot = dials(&actions(&mut pool))[0];
    let stranger = Slot::new(7, 1);
    assert!(!pool.dial_failed(Instant::ZERO, stranger));
    assert!(!pool.load_changed(Instant::ZERO, stranger, 3));
    assert!(!pool.pong(Instant::ZERO, slot, Duration::from_millis(1)));
    assert!(!pool.peer_go_away(Instant::ZERO, slot));
    assert!(!pool.session_closed(Instant::ZERO, slot, CloseReason::LocalClose));
    assert_eq!(pool.stats().dialing, 1);
}

#[test]
fn min_sessions_zero_dials_on_demand() {
    let config = PoolConfig::default().with_min_sessions(0);
    let mut pool = Pool::new(config, Instant::ZERO);
    assert_eq!(actions(&mut pool), []);
    assert_eq!(pool.pick(None), None);
    let slot = dials(&actions(&mut pool))[0];
    // A second miss while the dial runs does not dial again.
    assert_eq!(pool.pick(None), None);
    assert_eq!(actions(&mut pool), []);
    assert!(pool.dial_succeeded(Instant::ZERO, slot));
    assert_eq!(pool.pick(None), Some(slot));
}

/// A pool of `n` live sessions under `policy`, with no autoscale.
fn live_pool(n: usize, policy: Policy) -> (Pool, Vec<Slot>) {
    let config = PoolConfig::default()
        .with_min_sessions(n)
        .with_max_sessions(n)
        .with_policy(policy);
    let mut pool = Pool::new(config, Instant::ZERO);
    let slots = connect_all(&mut pool, Instant::ZERO);
    (pool, slots)
}

#[test]
fn least_loaded_follows_reported_load() {
    let (mut pool, s) = live_pool(3, Policy::LeastLoaded);
    assert_eq!(pool.pick(None), Some(s[0]));
    pool.load_changed(Instant::ZERO, s[0], 2);
    pool.load_changed(Instant::ZERO, s[1], 1);
    assert_eq!(pool.pick(None), Some(s[2]));
    pool.load_changed(Instant::ZERO, s[2], 5);
    assert_eq!(pool.pick(None), Some(s[1]));
}

#[test]
fn round_robin_cycles_and_skips_draining() {
    let (mut pool, s) = live_pool(3, Policy::RoundRobin);
    let picks: Vec<_> = (0..4).map(|_| pool.pick(None).unwrap()).collect();
    assert_eq!(picks, [s[0], s[1], s[2], s[0]]);
    pool.load_changed(Instant::ZERO, s[1], 1);
    pool.peer_go_away(Instant::ZERO, s[1]);
    let picks: Vec<_> = (0..4).map(|_| pool.pick(None).unwrap().index()).collect();
    assert!(!picks.contains(&1) && picks.contains(&0) && picks.contains(&2));
}

#[test]
fn sticky_keys_stay_until_their_session_goes() {
    let (mut pool, s) = live_pool(4, Policy::Sticky);
    let owners: Vec<Slot> = (0..64).map(|k| pool.pick(Some(k)).unwrap()).collect();
    // Spread over every session, and stable.
    for slot in &s {
        assert!(owners.contains(slot), "{slot} got no key");
    }
    for k in 0..64 {
        assert_eq!(pool.pick(Some(k)), Some(owners[k as usize]));
    }
    // Losing one session moves its keys only.
    pool.session_closed(Instant::ZERO, s[2], CloseReason::TransportClosed);
    for k in 0..64 {
        let now = pool.pick(Some(k)).unwrap();
        match owners[k as usize] == s[2] {
            true => assert_ne!(now, s[2]),
            false => assert_eq!(now, owners[k as usize]),
        }
    }
}

#[test]
fn weighted_endpoint_shares_match_endpoint_weights() {
    let config = PoolConfig::default()
        .with_endpoints([3, 1, 0])
        .with_min_sessions(3)
        .with_max_sessions(3)
        .with_ping_interval(None)
        .with_policy(Policy::Weighted(Weights::Endpoint));
    let mut pool = Pool::new(config, Instant::ZERO);
    connect_all(&mut pool, Instant::ZERO);
    // Weight 0 is never dialed; the others get sessions by weight.
    let live: Vec<usize> = pool.endpoints().map(|e| e.live).collect();
    assert_eq!(live, [2, 1, 0]);
    let mut counts = [0usize; 3];
    for _ in 0..40 {
        let slot = pool.pick(None).unwrap();
        counts[info(&pool, slot).endpoint] += 1;
    }
    assert_eq!(counts, [30, 10, 0]);
    // Smooth: never more than three picks of endpoint 0 in a row.
    let run: Vec<usize> = (0..8)
        .map(|_| {
            let slot = pool.pick(None).unwrap();
            info(&pool, slot).endpoint
        })
        .collect();
    assert!(!run.windows(4).any(|w| w.iter().all(|&e| e == 0)));
}

#[test]
fn rtt_weights_favour_near_sessions_and_slow_ones_are_skipped() {
    let (mut pool, s) = live_pool(3, Policy::Weighted(Weights::Rtt));
    pool.pong(Instant::ZERO, s[0], Duration::from_millis(10));
    pool.pong(Instant::ZERO, s[1], Duration::from_millis(20));
    pool.pong(Instant::ZERO, s[2], Duration::from_millis(31));
    let mut counts = [0usize; 3];
    for _ in 0..300 {
        counts[pool.pick(None).unwrap().index()] += 1;
    }
    assert_eq!(counts, [200, 100, 0]);
    assert!(info(&pool, s[2]).slow && !info(&pool, s[1]).slow);
}

#[test]
fn slow_sessions_are_never_picked_by_any_policy() {
    for policy in [Policy::LeastLoaded, Policy::RoundRobin, Policy::Sticky] {
        let (mut pool, s) = live_pool(2, policy);
        pool.pong(Instant::ZERO, s[0], Duration::from_millis(400));
        pool.pong(Instant::ZERO, s[1], Duration::from_millis(100));
        pool.load_changed(Instant::ZERO, s[1], 50);
        for key in 0..20 {
            assert_eq!(pool.pick(Some(key)), Some(s[1]));
        }
    }
}

#[test]
fn unmeasured_sessions_weigh_the_average() {
    let (mut pool, s) = live_pool(3, Policy::Weighted(Weights::Rtt));
    pool.pong(Instant::ZERO, s[0], Duration::from_millis(10));
    pool.pong(Instant::ZERO, s[1], Duration::from_millis(20));
    // Weights 100k, 50k and (unmeasured) their average 75k: 4:2:3.
    let mut counts = [0usize; 3];
    for _ in 0..90 {
        counts[pool.pick(None).unwrap().index()] += 1;
    }
    assert_eq!(counts, [40, 20, 30]);
}

#[test]
fn pick_avoiding_goes_elsewhere_unless_alone() {
    for policy in [
        Policy::LeastLoaded,
        Policy::RoundRobin,
        Policy::Sticky,
        Policy::Weighted(Weights::Rtt),
    ] {
        let (mut pool, s) = live_pool(2, policy.clone());
        for key in 0..8 {
            let first = pool.pick(Some(key)).unwrap();
            let other = pool.pick_avoiding(Some(key), first).unwrap();
            assert_ne!(other, first, "{policy:?} key {key}");
        }
        // The sole candidate is still picked: a retry there beats none.
        pool.session_closed(Instant::ZERO, s[1], CloseReason::TransportClosed);
        assert_eq!(pool.pick_avoiding(Some(1), s[0]), Some(s[0]));
        // A stale slot to avoid is no reason to refuse.
        assert_eq!(pool.pick_avoiding(None, s[1]), Some(s[0]));
    }
}

#[test]
fn live_sessions_are_pinged_every_interval_answered_or_not() {
    let config = PoolConfig::default()
        .with_min_sessions(2)
        .with_ping_interval(Some(Duration::from_secs(5)));
    let mut pool = Pool::new(config, Instant::ZERO);
    let asked = dials(&actions(&mut pool));
    // The second session comes up a second later: its pings run a second
    // behind.
    assert!(pool.dial_succeeded(Instant::ZERO, asked[0]));
    assert!(pool.dial_succeeded(secs(1), asked[1]));
    assert_eq!(pool.poll_timeout(), Some(secs(5)));
    pool.handle_timeout(secs(5));
    let first = actions(&mut pool);
    assert_eq!(first.len(), 1);
    let Action::Ping { slot } = first[0] else {
        panic!("expected a ping, got {first:?}")
    };
    assert_eq!(slot.index(), 0);
    assert_eq!(pool.poll_timeout(), Some(secs(6)));
    pool.handle_timeout(secs(6));
    assert!(matches!(actions(&mut pool)[..], [Action::Ping { slot }] if slot.index() == 1));
    // Unanswered, the first is pinged again one interval later; an answer
    // is its RTT sample and its proof of health.
    assert_eq!(pool.poll_timeout(), Some(secs(10)));
    assert!(pool.pong(secs(7), slot, Duration::from_millis(40)));
    assert!(info(&pool, slot).proven_healthy);
    pool.handle_timeout(secs(10));
    assert!(matches!(actions(&mut pool)[..], [Action::Ping { slot }] if slot.index() == 0));
}

#[test]
fn no_pings_without_an_interval_or_for_draining_sessions() {
    let config = PoolConfig::default().with_ping_interval(None);
    let mut pool = Pool::new(config, Instant::ZERO);
    connect_all(&mut pool, Instant::ZERO);
    pool.handle_timeout(secs(3_600));
    assert!(actions(&mut pool).is_empty());

    let config = PoolConfig::default().with_ping_interval(Some(Duration::from_secs(1)));
    let mut pool = Pool::new(config, Instant::ZERO);
    let old = connect_all(&mut pool, Instant::ZERO)[0];
    pool.load_changed(Instant::ZERO, old, 1);
    assert!(pool.peer_go_away(Instant::ZERO, old));
    let new = connect_all(&mut pool, Instant::ZERO)[0];
    pool.handle_timeout(secs(1));
    assert_eq!(actions(&mut pool), [Action::Ping { slot: new }]);
}

#[test]
fn an_open_refused_for_ids_or_goaway_drains_and_replaces_the_session() {
    for error in [OpenError::IdsExhausted, OpenError::PeerGoingAway] {
        let mut pool = Pool::new(PoolConfig::default(), Instant::ZERO);
        let old = connect_all(&mut pool, Instant::ZERO)[0];
        pool.load_changed(Instant::ZERO, old, 3);
        assert!(pool.open_failed(secs(1), old, &error));
        assert_eq!(info(&pool, old).state, SessionState::Draining);
        // Replaced at once, without a backoff: it is no failure.
        let new = dials(&actions(&mut pool));
        assert_eq!(new.len(), 1, "{error:?}");
        assert_ne!(new[0].index(), old.index());
        assert_eq!(pool.stats().failures, 0);
        assert!(pool.dial_succeeded(secs(1), new[0]));
        assert_eq!(pool.pick(None), Some(new[0]));
    }
}

#[test]
fn an_open_refused_by_a_closed_session_reports_its_end() {
    let mut pool = Pool::new(PoolConfig::default(), Instant::ZERO);
    let slot = connect_all(&mut pool, Instant::ZERO)[0];
    let error = OpenError::SessionClosed(CloseReason::TransportClosed);
    assert!(pool.open_failed(secs(1), slot, &error));
    assert_eq!(info(&pool, slot).state, SessionState::BackingOff);
    assert_eq!(pool.stats().failures, 1);
    // A busy or closing session is left as it is.
    let mut pool = Pool::new(PoolConfig::default(), Instant::ZERO);
    let slot = connect_all(&mut pool, Instant::ZERO)[0];
    for error in [OpenError::Blocked, OpenError::Closing] {
        assert!(pool.open_failed(secs(1), slot, &error));
        assert_eq!(info(&pool, slot).state, SessionState::Live);
    }
    assert!(actions(&mut pool).is_empty());
    // About an attempt the pool forgot: refused.
    pool.session_closed(secs(2), slot, CloseReason::LocalClose);
    assert!(!pool.open_failed(secs(2), slot, &OpenError::IdsExhausted));
}

#[test]
fn only_undelivered_requests_are_retried_and_only_max_retries_times() {
    let pool = Pool::new(PoolConfig::default().with_max_retries(2), Instant::ZERO);
    assert!(pool.may_retry(Some(Delivery::NotDelivered), 0));
    assert!(pool.may_retry(Some(Delivery::NotDelivered), 1));
    assert!(!pool.may_retry(Some(Delivery::NotDelivered), 2));
    assert!(!pool.may_retry(Some(Delivery::MaybeDelivered), 0));
    assert!(!pool.may_retry(None, 0));
}

#[test]
fn huge_round_trip_times_do_not_panic() {
    // A host reporting a nonsense RTT (a clock gone wrong, say) gets an
    // estimate that saturates, not an overflow panic in the smoothing or
    // in the slow-session test.
    let (mut pool, slots) = live_pool(2, Policy::Weighted(Weights::Rtt));
    for _ in 0..2 {
        assert!(pool.pong(Instant::ZERO, slots[0], Duration::MAX));
        assert!(pool.pong(Instant::ZERO, slots[1], Duration::MAX));
    }
    assert!(pool.pick(None).is_some());
    assert!(info(&pool, slots[0]).smoothed_rtt.is_some());
    let endpoint = pool.endpoints().next().expect("one endpoint");
    assert!(endpoint.smoothed_rtt.is_some());
}

#[test]
fn giving_up_is_reported_once() {
    let config = PoolConfig::default()
        .with_min_sessions(2)
        .with_max_attempts(Some(1));
    let now = Instant::ZERO;
    let mut pool = Pool::new(config, now);
    let first = dials(&actions(&mut pool));
    pool.dial_failed(now, first[0]);
    let mut gave_up = actions(&mut pool)
        .iter()
        .filter(|a| **a == Action::GaveUp)
        .count();
    assert_eq!(gave_up, 1);
    // The dial still in flight is honoured, proves its endpoint healthy
    // and is then lost: the endpoint is given up again, but the pool had
    // given up already and waits for `resume` as before.
    assert!(pool.dial_succeeded(now, first[1]));
    assert!(pool.pong(now, first[1], Duration::from_millis(5)));
    assert!(pool.session_closed(now, first[1], CloseReason::TransportClosed));
    gave_up += actions(&mut pool)
        .iter()
        .filter(|a| **a == Action::GaveUp)
        .count();
    assert_eq!(gave_up, 1, "one GaveUp per giving up");
    assert!(pool.stats().gave_up);
}

#[test]
fn zero_intervals_never_make_a_deadline_that_is_already_due() {
    // A host loop sleeps until `poll_timeout` and calls `handle_timeout`:
    // a deadline at `now` itself after that call would spin it forever
    // (pinging, or dialing and abandoning, at one instant).
    let config = PoolConfig::default()
        .with_ping_interval(Some(Duration::ZERO))
        .with_connect_timeout(Duration::ZERO)
        .with_backoff(Duration::ZERO, 1.0, Duration::ZERO);
    let mut now = Instant::ZERO;
    let mut pool = Pool::new(config, now);
    for round in 0..20 {
        let slot = dials(&actions(&mut pool)).first().copied();
        if let Some(slot) = slot.filter(|_| round == 10) {
            assert!(pool.dial_succeeded(now, slot));
        }
        let due = pool.poll_timeout().expect("a dial or a ping is pending");
        assert!(due > now, "round {round}: due at {due:?}, now {now:?}");
        now = due;
        pool.handle_timeout(now);
    }
    assert_eq!(pool.stats().live, 1, "the session pinged every round");
}

#[test]
fn an_open_failure_on_a_place_without_a_session_is_not_taken() {
    let mut pool = Pool::new(PoolConfig::default(), Instant::ZERO);
    let slot = dials(&actions(&mut pool))[0];
    // Still dialing: there is no session an open could have failed on.
    assert!(!pool.open_failed(Instant::ZERO, slot, &OpenError::Blocked));
    pool.dial_failed(Instant::ZERO, slot);
    assert_eq!(info(&pool, slot).state, SessionState::BackingOff);
    assert!(!pool.open_failed(Instant::ZERO, slot, &OpenError::Closing));
}

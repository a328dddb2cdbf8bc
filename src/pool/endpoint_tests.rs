//! Scenario tests of the pool over many endpoints, one behaviour each.

use alloc::vec::Vec;
use core::time::Duration;

use super::tests::{actions, connect_all, failures, info, secs};
use super::*;
use crate::error::CloseReason;

/// The endpoint of every dial in `actions`.
fn dialed_endpoints(actions: &[Action]) -> Vec<(Slot, usize)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dial { slot, endpoint } => Some((*slot, *endpoint)),
            _ => None,
        })
        .collect()
}

fn live_per_endpoint(pool: &Pool) -> Vec<usize> {
    pool.endpoints().map(|e| e.live).collect()
}

fn endpoints_config(weights: &[u32], sessions: usize) -> PoolConfig {
    PoolConfig::default()
        .with_endpoints(weights.iter().copied())
        .with_min_sessions(sessions)
        .with_max_sessions(sessions)
        .with_backoff_jitter(0.0)
        .with_ping_interval(None)
}

#[test]
fn sessions_spread_over_endpoints_by_weight() {
    let mut pool = Pool::new(endpoints_config(&[2, 1, 1, 0], 4), Instant::ZERO);
    let asked = dialed_endpoints(&actions(&mut pool));
    let mut per_endpoint = [0; 4];
    for (slot, endpoint) in asked {
        per_endpoint[endpoint] += 1;
        assert!(pool.dial_succeeded(Instant::ZERO, slot));
    }
    assert_eq!(per_endpoint, [2, 1, 1, 0]);
    assert_eq!(live_per_endpoint(&pool), [2, 1, 1, 0]);
    // Every endpoint with a weight gets a session before any gets a
    // second, even when weights differ.
    let mut pool = Pool::new(endpoints_config(&[3, 1], 2), Instant::ZERO);
    connect_all(&mut pool, Instant::ZERO);
    assert_eq!(live_per_endpoint(&pool), [1, 1]);
}

/// The flaw of per-slot weights: a GoAway's replacement took the lowest
/// free slot index, whose weight was another endpoint's (or none), while
/// the draining session kept its own. Weights now belong to endpoints and
/// the replacement is dialed to the endpoint that lost a session.
#[test]
fn endpoint_weights_survive_a_goaway() {
    let config = endpoints_config(&[3, 1], 2).with_policy(Policy::Weighted(Weights::Endpoint));
    let now = Instant::ZERO;
    let mut pool = Pool::new(config, now);
    let up = connect_all(&mut pool, now);
    let on_first = *up.iter().find(|&&s| info(&pool, s).endpoint == 0).unwrap();
    pool.load_changed(now, on_first, 1);
    assert!(pool.peer_go_away(now, on_first));
    let replacement = dialed_endpoints(&actions(&mut pool));
    assert_eq!(replacement.len(), 1);
    let (slot, endpoint) = replacement[0];
    assert_eq!(
        endpoint, 0,
        "the replacement goes where the drained one was"
    );
    assert_ne!(slot.index(), on_first.index());
    assert!(pool.dial_succeeded(now, slot));
    let mut picks = [0; 2];
    for _ in 0..400 {
        let slot = pool.pick(None).unwrap();
        picks[info(&pool, slot).endpoint] += 1;
    }
    assert_eq!(picks, [300, 100]);
}

#[test]
fn a_failing_endpoint_is_left_alone_its_sessions_move_and_come_back() {
    let mut now = Instant::ZERO;
    let mut pool = Pool::new(endpoints_config(&[1, 1, 1], 3), now);
    let up = connect_all(&mut pool, now);
    let on_first = *up.iter().find(|&&s| info(&pool, s).endpoint == 0).unwrap();
    // Endpoint 0 drops its session: it is left alone for a backoff of 1 s,
    // and the place is redialed at once to another endpoint.
    now = secs(1);
    assert!(pool.session_closed(now, on_first, CloseReason::TransportClosed));
    let health = pool.endpoints().next().unwrap();
    assert_eq!(health.consecutive_failures, 1);
    assert_eq!(health.down_until, Some(secs(2)));
    let moved = dialed_endpoints(&actions(&mut pool));
    assert_eq!(moved.len(), 1);
    assert_ne!(moved[0].1, 0);
    assert!(pool.dial_succeeded(now, moved[0].0));
    // Opens go to the healthy endpoints only.
    for _ in 0..10 {
        let slot = pool.pick(None).unwrap();
        assert_ne!(info(&pool, slot).endpoint, 0);
    }
    assert_eq!(pool.poll_timeout(), Some(secs(2)));
    // It fails once more when tried again: 1.6 s this time, and the
    // session dialed there moves away again.
    now = secs(2);
    pool.handle_timeout(now);
    let back = dialed_endpoints(&actions(&mut pool));
    assert_eq!(back.iter().map(|d| d.1).collect::<Vec<_>>(), [0]);
    assert!(pool.dial_failed(now, back[0].0));
    assert_eq!(failures(&pool, 0), 2);
    let health = pool.endpoints().next().unwrap();
    assert_eq!(
        health.down_until,
        Some(secs(2) + Duration::from_millis(1_600))
    );
    let away = dialed_endpoints(&actions(&mut pool));
    assert!(away.len() == 1 && away[0].1 != 0, "{away:?}");
    assert!(pool.dial_succeeded(now, away[0].0));
    // The next time it answers, and one session comes back to it.
    now = pool.poll_timeout().unwrap();
    pool.handle_timeout(now);
    let back = dialed_endpoints(&actions(&mut pool));
    assert_eq!(back.iter().map(|d| d.1).collect::<Vec<_>>(), [0]);
    assert!(pool.dial_succeeded(now, back[0].0));
    assert_eq!(live_per_endpoint(&pool), [1, 1, 1]);
    // Balanced: nothing more moves.
    pool.handle_timeout(now + Duration::from_secs(60));
    assert!(dialed_endpoints(&actions(&mut pool)).is_empty());
}

#[test]
fn an_endpoint_that_keeps_failing_is_given_up_alone() {
    let config = endpoints_config(&[1, 1], 2).with_max_attempts(Some(2));
    let mut pool = Pool::new(config, Instant::ZERO);
    let round = |pool: &mut Pool, now: Instant| {
        let asked = dialed_endpoints(&actions(pool));
        for &(slot, endpoint) in &asked {
            match endpoint {
                0 => assert!(pool.dial_failed(now, slot)),
                _ => assert!(pool.dial_succeeded(now, slot)),
            }
        }
        asked
    };
    // Endpoint 0 fails; its place is redialed to endpoint 1 at once.
    assert_eq!(round(&mut pool, Instant::ZERO).len(), 2);
    assert_eq!(round(&mut pool, Instant::ZERO), [(Slot::new(0, 2), 1)]);
    assert_eq!(live_per_endpoint(&pool), [0, 2]);
    // After its backoff, a session moves back to try it, and it fails a
    // second time: given up, while endpoint 1 keeps serving.
    pool.handle_timeout(secs(1));
    let tried: Vec<usize> = round(&mut pool, secs(1)).iter().map(|d| d.1).collect();
    assert_eq!(tried, [0]);
    let health = pool.endpoints().next().unwrap();
    assert!(health.given_up && health.down_until.is_none());
    let tried: Vec<usize> = round(&mut pool, secs(1)).iter().map(|d| d.1).collect();
    assert_eq!(tried, [1]);
    assert!(!pool.stats().gave_up);
    pool.handle_timeout(secs(1_000));
    assert!(
        round(&mut pool, secs(1_000)).is_empty(),
        "never dialed again"
    );
    // Endpoint 1 failing as often gives the pool up.
    let slot = pool.sessions().next().unwrap().slot;
    assert!(pool.session_closed(secs(1_000), slot, CloseReason::TransportClosed));
    pool.handle_timeout(secs(2_000));
    let asked = dialed_endpoints(&actions(&mut pool));
    assert_eq!(asked.iter().map(|d| d.1).collect::<Vec<_>>(), [1]);
    assert!(pool.dial_failed(secs(2_000), asked[0].0));
    assert_eq!(actions(&mut pool), [Action::GaveUp]);
    // Resuming forgets both records.
    pool.resume(secs(2_000));
    let asked = dialed_endpoints(&actions(&mut pool));
    assert_eq!(asked.iter().map(|d| d.1).collect::<Vec<_>>(), [0]);
}

#[test]
fn rtt_is_kept_per_endpoint() {
    let mut pool = Pool::new(endpoints_config(&[1, 1], 2), Instant::ZERO);
    let up = connect_all(&mut pool, Instant::ZERO);
    for (slot, ms) in [(up[0], 80), (up[0], 160), (up[1], 5)] {
        assert!(pool.pong(Instant::ZERO, slot, Duration::from_millis(ms)));
    }
    let rtts: Vec<_> = pool.endpoints().map(|e| e.smoothed_rtt).collect();
    let first = info(&pool, up[0]).endpoint;
    assert_eq!(rtts[first], Some(Duration::from_millis(90)));
    assert_eq!(rtts[1 - first], Some(Duration::from_millis(5)));
}

#[test]
fn no_endpoints_or_no_weight_is_one_endpoint_each() {
    for (weights, expected) in [(&[][..], 1), (&[0, 0][..], 2)] {
        let pool = Pool::new(endpoints_config(weights, 1), Instant::ZERO);
        let endpoints: Vec<EndpointInfo> = pool.endpoints().collect();
        assert_eq!(endpoints.len(), expected);
        assert!(endpoints.iter().all(|e| e.weight == 1));
    }
}

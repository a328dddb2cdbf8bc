//! Keepalive: a ping after silence, a timeout without a pong, RTT estimate.

use crate::common;

use std::time::Duration;

use muxplex::frame::{Flags, FrameType};
use muxplex::testing::Pair;
use muxplex::{CloseReason, Config, Event, Instant, Session};

fn keepalive_config() -> Config {
    Config::default()
        .with_keepalive_interval(Some(Duration::from_secs(1)))
        .with_keepalive_timeout(Duration::from_millis(500))
}

fn pings(frames: &[muxplex::frame::Frame]) -> usize {
    frames
        .iter()
        .filter(|f| f.header.frame_type == FrameType::Ping && f.header.flags.contains(Flags::SYN))
        .count()
}

#[test]
fn answered_keepalive_keeps_the_session_and_measures_rtt() {
    let mut pair =
        Pair::new(keepalive_config(), keepalive_config()).with_latency(Duration::from_millis(10));
    pair.advance(Duration::from_secs(10));
    assert!(!pair.client.is_closed() && !pair.server.is_closed());
    // Each side pinged and got its answer one round trip later.
    assert_eq!(pair.client.rtt(), Some(Duration::from_millis(20)));
    assert_eq!(pair.server.rtt(), Some(Duration::from_millis(20)));
    // Keepalive answers are not the application's pongs.
    assert!(common::events(&mut pair.client).is_empty());
}

#[test]
fn silence_brings_a_ping_and_traffic_postpones_it() {
    let now = Instant::ZERO;
    let mut session = Session::client(keepalive_config(), now).expect("valid config");
    // The keepalive clock starts when the session is built.
    assert_eq!(session.poll_timeout(), Some(Instant::from_millis(1_000)));

    // Traffic at 0.9 s postpones the ping to 1.9 s.
    let pong = common::header(FrameType::Ping, Flags::ACK, 0, 12345);
    session.handle_input(Instant::from_millis(900), &pong);
    session.handle_timeout(Instant::from_millis(1_000));
    assert_eq!(pings(&common::take_frames(&mut session)), 0);
    assert_eq!(session.poll_timeout(), Some(Instant::from_millis(1_900)));

    session.handle_timeout(Instant::from_millis(1_900));
    assert_eq!(pings(&common::take_frames(&mut session)), 1);
}

#[test]
fn unanswered_ping_closes_with_keepalive_timeout() {
    let now = Instant::ZERO;
    let mut session = Session::client(keepalive_config(), now).expect("valid config");
    session.handle_timeout(Instant::from_millis(0));
    session.handle_timeout(Instant::from_millis(1_000));
    assert_eq!(pings(&common::take_frames(&mut session)), 1);
    assert_eq!(session.poll_timeout(), Some(Instant::from_millis(1_500)));
    // Traffic that is not the pong does not answer the ping.
    let update = common::header(FrameType::WindowUpdate, Flags::NONE, 7, 0);
    session.handle_input(Instant::from_millis(1_200), &update);
    session.handle_timeout(Instant::from_millis(1_499));
    assert!(!session.is_closed());
    session.handle_timeout(Instant::from_millis(1_500));
    assert_eq!(session.close_reason(), Some(CloseReason::KeepAliveTimeout));
    assert_eq!(
        common::events(&mut session),
        vec![Event::Closed(CloseReason::KeepAliveTimeout)]
    );
    assert_eq!(session.poll_timeout(), None);
}

#[test]
fn disabled_keepalive_sets_no_deadline() {
    let now = Instant::ZERO;
    let mut session = Session::client(Config::default().with_keepalive_interval(None), now)
        .expect("valid config");
    assert_eq!(session.poll_timeout(), None);
    session.handle_timeout(Instant::from_millis(3_600_000));
    assert!(common::take_frames(&mut session).is_empty());
    assert!(!session.is_closed());
}

#[test]
fn application_ping_reports_rtt_and_feeds_the_estimate() {
    let mut pair =
        Pair::new(Config::default(), Config::default()).with_latency(Duration::from_millis(30));
    let now = pair.now();
    pair.client.ping(now).unwrap();
    pair.drive();
    let pongs: Vec<_> = common::events(&mut pair.client)
        .into_iter()
        .filter(|e| matches!(e, Event::Pong { .. }))
        .collect();
    assert_eq!(
        pongs,
        vec![Event::Pong {
            rtt: Duration::from_millis(60)
        }]
    );
    assert_eq!(pair.client.rtt(), Some(Duration::from_millis(60)));
}

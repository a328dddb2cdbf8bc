//! Pings: answering the peer's, measuring the round trip of ours, and
//! staying bounded under a flood.

use crate::common;

use std::time::Duration;

use common::{events, header, take_frames};
use muxplex::frame::{Flags, FrameType};
use muxplex::testing::{Pair, Side};
use muxplex::{Config, Event, Instant, PingError, Session};

#[test]
fn a_ping_is_answered_with_the_same_value() {
    let now = Instant::ZERO;
    let mut server = Session::server(Config::default(), now).expect("valid config");
    for value in [0, 0xDEAD_BEEF, u32::MAX] {
        server.handle_input(
            Instant::ZERO,
            &header(FrameType::Ping, Flags::SYN, 0, value),
        );
        let frames = take_frames(&mut server);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].header.frame_type, FrameType::Ping);
        assert_eq!(frames[0].header.flags, Flags::ACK);
        assert_eq!(frames[0].header.stream_id, 0);
        assert_eq!(frames[0].header.length, value);
    }
    assert!(
        events(&mut server).is_empty(),
        "a peer's ping is not an event"
    );
}

/// A ping from `side` over links of one-way `latency` reports twice that
/// as its RTT.
fn round_trip(latency: Duration, side: Side) {
    let mut pair = Pair::new(Config::default(), Config::default()).with_latency(latency);
    pair.advance(Duration::from_millis(1234));
    let now = pair.now();
    pair.session(side).ping(now).unwrap();
    pair.drive();
    assert_eq!(
        events(pair.session(side)),
        [Event::Pong { rtt: 2 * latency }]
    );
}

#[test]
fn pong_reports_rtt_of_twice_the_latency() {
    round_trip(Duration::from_millis(25), Side::Client);
    round_trip(Duration::from_micros(1_500), Side::Server);
}

#[test]
fn several_outstanding_pings_each_get_their_rtt() {
    let latency = Duration::from_millis(10);
    let mut pair = Pair::new(Config::default(), Config::default()).with_latency(latency);
    pair.client.ping(pair.now()).unwrap();
    pair.advance(Duration::from_millis(3));
    pair.client.ping(pair.now()).unwrap();
    pair.drive();
    assert_eq!(
        events(&mut pair.client),
        [
            Event::Pong { rtt: 2 * latency },
            Event::Pong { rtt: 2 * latency }
        ]
    );
}

#[test]
fn unsolicited_pongs_are_ignored() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    client.ping(Instant::ZERO).unwrap();
    let sent = take_frames(&mut client);
    let value = sent[0].header.length;
    client.handle_input(
        Instant::from_millis(5),
        &header(FrameType::Ping, Flags::ACK, 0, value.wrapping_add(1)),
    );
    assert!(events(&mut client).is_empty());
    assert!(!client.is_closed());
    client.handle_input(
        Instant::from_millis(8),
        &header(FrameType::Ping, Flags::ACK, 0, value),
    );
    assert_eq!(
        events(&mut client),
        [Event::Pong {
            rtt: Duration::from_millis(8)
        }]
    );
}

#[test]
fn outstanding_pings_are_limited() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default().with_max_outstanding_pings(2), now)
        .expect("valid config");
    client.ping(Instant::ZERO).unwrap();
    client.ping(Instant::ZERO).unwrap();
    assert_eq!(
        client.ping(Instant::ZERO),
        Err(PingError::TooManyOutstanding)
    );
    let pings = take_frames(&mut client);
    assert_eq!(pings.len(), 2);
    client.handle_input(
        Instant::ZERO,
        &header(FrameType::Ping, Flags::ACK, 0, pings[0].header.length),
    );
    assert_eq!(client.ping(Instant::ZERO), Ok(()), "an answer frees a slot");
}

#[test]
fn a_ping_flood_queues_at_most_the_configured_pongs() {
    let now = Instant::ZERO;
    let mut server =
        Session::server(Config::default().with_max_pending_pongs(8), now).expect("valid config");
    let mut flood = Vec::new();
    for value in 0..1000 {
        flood.extend(header(FrameType::Ping, Flags::SYN, 0, value));
    }
    server.handle_input(Instant::ZERO, &flood);
    let pongs = take_frames(&mut server);
    assert_eq!(pongs.len(), 8);
    assert!(pongs.iter().all(|f| f.header.flags == Flags::ACK));
    assert!(!server.is_closed());

    server.handle_input(Instant::ZERO, &header(FrameType::Ping, Flags::SYN, 0, 4242));
    let later = take_frames(&mut server);
    assert_eq!(later.len(), 1, "answers resume once the queue drained");
    assert_eq!(later[0].header.length, 4242);
}

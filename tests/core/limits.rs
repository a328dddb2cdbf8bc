//! Open backpressure, inbound limits and stream timeouts: none is ever
//! fatal to the session.

use crate::common;

use std::time::Duration;

use muxplex::frame::Flags;
use muxplex::testing::Pair;
use muxplex::{
    Config, Delivery, Event, Instant, OpenError, RESET_REFUSED, RESET_TIMEOUT, ResetBy, ResetCause,
    Session, StreamError, StreamId,
};

fn resets(events: &[Event]) -> Vec<(StreamId, ResetBy, Delivery)> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::StreamReset { id, by, delivery } => Some((id, by, delivery)),
            _ => None,
        })
        .collect()
}

#[test]
fn unacknowledged_opens_are_bounded_and_unblock() {
    let mut pair = Pair::new(
        Config::default().with_max_unacked_outbound(4),
        Config::default(),
    );
    let ids: Vec<StreamId> = (0..4)
        .map(|_| pair.client.open_stream(pair.now()).unwrap())
        .collect();
    assert_eq!(pair.client.open_stream(pair.now()), Err(OpenError::Blocked));
    pair.drive();
    assert_eq!(pair.client.unacknowledged_streams(), 4);
    assert!(common::events(&mut pair.client).is_empty());

    // The server application accepts one: its ACK frees a slot.
    assert_eq!(pair.server.accept_stream(), Some(ids[0]));
    pair.drive();
    assert_eq!(common::events(&mut pair.client), vec![Event::OpenUnblocked]);
    assert_eq!(pair.client.unacknowledged_streams(), 3);
    let fifth = pair.client.open_stream(pair.now()).unwrap();
    assert_eq!(pair.client.open_stream(pair.now()), Err(OpenError::Blocked));
    // A reset stream frees its slot too.
    pair.client.stream(fifth).unwrap().reset(0);
    assert_eq!(common::events(&mut pair.client), vec![Event::OpenUnblocked]);
    assert!(pair.client.open_stream(pair.now()).is_ok());
}

#[test]
fn syn_beyond_the_accept_backlog_is_refused_alone() {
    let server_config = Config::default().with_accept_backlog(3);
    let mut pair = Pair::new(Config::default(), server_config);
    let ids: Vec<StreamId> = (0..5)
        .map(|_| pair.client.open_stream(pair.now()).unwrap())
        .collect();
    for &id in &ids {
        pair.client.stream(id).unwrap().write(b"hi").unwrap();
    }
    pair.drive();
    let refused = resets(&common::events(&mut pair.client));
    assert_eq!(
        refused,
        vec![
            (
                ids[3],
                ResetBy::Peer {
                    code: RESET_REFUSED
                },
                Delivery::NotDelivered
            ),
            (
                ids[4],
                ResetBy::Peer {
                    code: RESET_REFUSED
                },
                Delivery::NotDelivered
            ),
        ]
    );
    assert!(!pair.server.is_closed() && !pair.client.is_closed());
    // The backlog drains and the session takes new streams again.
    for _ in 0..3 {
        assert!(pair.server.accept_stream().is_some());
    }
    let again = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(again).unwrap().write(b"hi").unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(again));
}

#[test]
fn syn_beyond_max_streams_is_refused_alone() {
    let now = Instant::ZERO;
    let mut server =
        Session::server(Config::default().with_max_streams(2), now).expect("valid config");
    for id in [1, 3, 5] {
        server.handle_input(now, &common::data(Flags::SYN, id, b"x"));
    }
    let frames = common::take_frames(&mut server);
    assert_eq!(common::reset_code(&frames, 5), Some(RESET_REFUSED));
    assert_eq!(common::reset_code(&frames, 1), None);
    assert_eq!(server.stream_count(), 2);
    assert!(!server.is_closed());
    // Data for the refused stream is dropped, not fatal.
    server.handle_input(now, &common::data(Flags::NONE, 5, b"more"));
    assert!(!server.is_closed());
}

#[test]
fn open_timeout_resets_an_unacknowledged_stream_only() {
    let config = Config::default().with_open_timeout(Some(Duration::from_secs(5)));
    let mut pair = Pair::new(config, Config::default());
    let ignored = pair.client.open_stream(pair.now()).unwrap();
    pair.client
        .stream(ignored)
        .unwrap()
        .write(b"anyone?")
        .unwrap();
    pair.drive();
    pair.advance(Duration::from_secs(5));

    assert_eq!(
        resets(&common::events(&mut pair.client)),
        vec![(
            ignored,
            ResetBy::Session(ResetCause::OpenTimeout),
            Delivery::MaybeDelivered
        )]
    );
    assert_eq!(
        pair.client.stream(ignored).unwrap().write(b"x"),
        Err(StreamError::Reset {
            by: ResetBy::Session(ResetCause::OpenTimeout),
            delivery: Delivery::MaybeDelivered,
        })
    );
    assert_eq!(pair.client.stream_count(), 1, "kept until released");
    assert!(pair.client.stream(ignored).unwrap().release());
    assert_eq!(pair.client.stream_count(), 0, "released, freed");
    assert!(!pair.client.is_closed());

    // A stream acknowledged in time is left alone.
    let answered = pair.client.open_stream(pair.now()).unwrap();
    pair.client
        .stream(answered)
        .unwrap()
        .write(b"hello")
        .unwrap();
    pair.drive();
    let on_server = std::iter::from_fn(|| pair.server.accept_stream())
        .find(|&id| id == answered)
        .expect("the server saw it");
    assert_eq!(on_server, answered);
    pair.advance(Duration::from_secs(10));
    assert!(resets(&common::events(&mut pair.client)).is_empty());
    assert!(pair.client.stream(answered).is_ok());
}

#[test]
fn stream_close_timeout_resets_a_half_open_stream() {
    let config = Config::default().with_stream_close_timeout(Some(Duration::from_secs(3)));
    let mut pair = Pair::new(config, Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    let now = pair.now();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    pair.drive();
    let accepted = pair.server.accept_stream().unwrap();
    pair.drive();
    // The server never finishes its side.
    pair.advance(Duration::from_secs(3));
    assert_eq!(
        resets(&common::events(&mut pair.client)),
        vec![(
            id,
            ResetBy::Session(ResetCause::StreamCloseTimeout),
            Delivery::Delivered
        )]
    );
    assert!(
        resets(&common::events(&mut pair.server))
            .iter()
            .any(|&(sid, by, _)| sid == accepted
                && by
                    == ResetBy::Peer {
                        code: RESET_TIMEOUT
                    })
    );
    assert!(!pair.client.is_closed());
}

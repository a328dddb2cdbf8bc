//! Retry-safety: every failed outbound stream says whether the peer's
//! application may have it, in the event and in the read/write error.

use crate::common;

use muxplex::frame::{Flags, FrameType};
use muxplex::testing::Pair;
use muxplex::{
    CloseReason, Config, Delivery, Event, Instant, ResetBy, ResetCause, Session, StreamError,
};

#[test]
fn reset_before_ack_is_not_delivered() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    client.stream(id).unwrap().write(b"request").unwrap();
    common::take_frames(&mut client);
    let rst = common::header(FrameType::WindowUpdate, Flags::RST, id.get(), 0);
    client.handle_input(Instant::ZERO, &rst);
    let expected = StreamError::Reset {
        by: ResetBy::Peer { code: 0 },
        delivery: Delivery::NotDelivered,
    };
    assert_eq!(
        common::events(&mut client),
        vec![Event::StreamReset {
            id,
            by: ResetBy::Peer { code: 0 },
            delivery: Delivery::NotDelivered
        }]
    );
    assert_eq!(client.stream(id).unwrap().read(&mut [0; 8]), Err(expected));
}

#[test]
fn reset_after_ack_is_delivered() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"request").unwrap();
    pair.drive();
    let accepted = pair.server.accept_stream().unwrap();
    pair.drive();
    assert_eq!(
        pair.client.stream(id).unwrap().delivery(),
        Delivery::Delivered
    );
    pair.server.stream(accepted).unwrap().reset(42);
    pair.drive();
    assert_eq!(
        pair.client.stream(id).unwrap().write(b"more"),
        Err(StreamError::Reset {
            by: ResetBy::Peer { code: 42 },
            delivery: Delivery::Delivered,
        })
    );
}

#[test]
fn session_lost_before_ack_is_maybe_delivered() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let sent = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(sent).unwrap().write(b"request").unwrap();
    pair.drive();
    // Opened after the last transmit: its SYN never leaves, because the
    // transport ends before the client transmits again.
    let unsent = pair.client.open_stream(pair.now()).unwrap();
    let now = pair.now();
    pair.client.handle_eof(now);

    let lost = CloseReason::TransportClosed;
    assert_eq!(
        pair.client.stream(sent).unwrap().write(b"x"),
        Err(StreamError::SessionClosed {
            reason: lost,
            delivery: Delivery::MaybeDelivered,
        })
    );
    assert_eq!(
        pair.client.stream(unsent).unwrap().read(&mut [0; 4]),
        Err(StreamError::SessionClosed {
            reason: lost,
            delivery: Delivery::NotDelivered,
        })
    );
}

#[test]
fn streams_not_yet_sent_fail_as_not_delivered_after_go_away() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let sent = client.open_stream(now).unwrap();
    common::take_frames(&mut client);
    let unsent = client.open_stream(now).unwrap();
    let go_away = common::header(FrameType::GoAway, Flags::NONE, 0, 0);
    client.handle_input(Instant::ZERO, &go_away);
    let events = common::events(&mut client);
    assert_eq!(
        events,
        vec![
            Event::PeerGoingAway,
            Event::StreamReset {
                id: unsent,
                by: ResetBy::Session(ResetCause::PeerGoingAway),
                delivery: Delivery::NotDelivered,
            }
        ]
    );
    // The stream whose SYN left goes on: the peer decides.
    assert_eq!(client.stream(sent).unwrap().write(b"x"), Ok(1));
    // Nothing goes on the wire for the stream the peer never heard of.
    let frames = common::take_frames(&mut client);
    assert!(frames.iter().all(|f| f.header.stream_id != unsent.get()));
}

#[test]
fn reset_right_after_accept_still_reports_delivered() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"request").unwrap();
    pair.drive();
    // The server application takes the stream and drops it before any
    // frame carried its ACK: the RST carries the ACK instead.
    let accepted = pair.server.accept_stream().unwrap();
    pair.server.stream(accepted).unwrap().reset(5);
    let frames = common::take_frames(&mut pair.server);
    assert_eq!(frames.len(), 1);
    assert!(frames[0].header.flags.contains(Flags::RST | Flags::ACK));
    let mut bytes = frames[0].header.encode().to_vec();
    bytes.extend_from_slice(&frames[0].payload);
    pair.client.handle_input(pair.now(), &bytes);
    assert_eq!(
        common::events(&mut pair.client),
        vec![Event::StreamReset {
            id,
            by: ResetBy::Peer { code: 5 },
            delivery: Delivery::Delivered,
        }]
    );
}

//! Each protocol error closes the session with a reason naming what was
//! wrong, a lone GoAway(1) on the wire and one `Event::Closed`, while data
//! the application already had stays readable.

use crate::common;

use common::{data, events, feed, header, read_all, server_with_stream, take_bytes, take_frames};
use muxplex::frame::Flags;
use muxplex::frame::{FrameError, FrameType};
use muxplex::testing::Pair;
use muxplex::{
    CloseReason, Config, Delivery, Event, GOAWAY_PROTOCOL_ERROR, INITIAL_STREAM_WINDOW, Instant,
    ProtocolError, StreamError, StreamId,
};

/// What the hand-crafted client sent on stream 1 before misbehaving.
const KEPT: &[u8] = b"kept";

/// Feeds `bad` to a server holding unread data on stream 1, whole and one
/// byte at a time, and checks everything a protocol error must do.
fn assert_rejected(bad: &[u8], expected: ProtocolError) {
    for chunk in [bad.len(), 1] {
        let mut server = server_with_stream(KEPT);
        events(&mut server);
        feed(&mut server, bad, chunk);

        let reason = CloseReason::Protocol(expected);
        assert_eq!(server.close_reason(), Some(reason), "chunk {chunk}");
        assert_eq!(events(&mut server), [Event::Closed(reason)]);
        let frames = take_frames(&mut server);
        assert_eq!(frames.len(), 1, "only the GoAway: {frames:?}");
        assert_eq!(frames[0].header.frame_type, FrameType::GoAway);
        assert_eq!(frames[0].header.stream_id, 0);
        assert_eq!(frames[0].header.length, GOAWAY_PROTOCOL_ERROR);

        assert_eq!(
            read_all(&mut server, StreamId::new(1)),
            (
                KEPT.to_vec(),
                Err(StreamError::SessionClosed {
                    reason,
                    delivery: Delivery::Delivered
                })
            ),
            "buffered data survives the error"
        );

        server.handle_input(Instant::ZERO, &data(Flags::SYN, 3, b"later"));
        assert!(
            events(&mut server).is_empty(),
            "input after the error is ignored"
        );
        assert!(take_bytes(&mut server).is_empty());
    }
}

#[test]
fn data_beyond_the_window_is_a_flow_control_violation() {
    let window = INITIAL_STREAM_WINDOW - KEPT.len() as u32;
    assert_rejected(
        &header(FrameType::Data, Flags::NONE, 1, window + 1),
        ProtocolError::FlowControlViolation {
            stream: StreamId::new(1),
            length: window + 1,
            window,
        },
    );
}

#[test]
fn data_filling_the_window_exactly_is_accepted() {
    let mut server = server_with_stream(KEPT);
    let rest = vec![0u8; INITIAL_STREAM_WINDOW as usize - KEPT.len()];
    server.handle_input(Instant::ZERO, &data(Flags::NONE, 1, &rest));
    assert!(!server.is_closed());
    let (got, _) = read_all(&mut server, StreamId::new(1));
    assert_eq!(got.len(), INITIAL_STREAM_WINDOW as usize);
}

#[test]
fn bad_version_is_rejected() {
    assert_rejected(
        &[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
        ProtocolError::Frame(FrameError::UnsupportedVersion(1)),
    );
}

#[test]
fn unknown_frame_type_is_rejected() {
    assert_rejected(
        &[0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
        ProtocolError::Frame(FrameError::UnknownFrameType(4)),
    );
}

#[test]
fn data_frame_above_the_maximum_is_too_large() {
    let max = Config::default().max_stream_window;
    assert_rejected(
        &header(FrameType::Data, Flags::NONE, 1, max + 1),
        ProtocolError::Frame(FrameError::FrameTooLarge {
            stream_id: 1,
            length: max + 1,
            max,
        }),
    );
}

#[test]
fn syn_with_our_parity_is_an_invalid_stream_id() {
    assert_rejected(
        &header(FrameType::WindowUpdate, Flags::SYN, 2, 0),
        ProtocolError::InvalidStreamId {
            stream: StreamId::new(2),
        },
    );
}

#[test]
fn syn_on_stream_zero_is_an_invalid_stream_id() {
    assert_rejected(
        &data(Flags::SYN, 0, b"x"),
        ProtocolError::InvalidStreamId {
            stream: StreamId::new(0),
        },
    );
}

#[test]
fn syn_on_an_open_stream_is_a_duplicate() {
    assert_rejected(
        &data(Flags::SYN, 1, b"again"),
        ProtocolError::DuplicateStream {
            stream: StreamId::new(1),
        },
    );
}

#[test]
fn window_update_overflowing_u32_is_rejected() {
    // Up to exactly u32::MAX is legal; one more overflows.
    let mut bad = header(
        FrameType::WindowUpdate,
        Flags::NONE,
        1,
        u32::MAX - INITIAL_STREAM_WINDOW,
    );
    bad.extend(header(FrameType::WindowUpdate, Flags::NONE, 1, 1));
    assert_rejected(
        &bad,
        ProtocolError::WindowOverflow {
            stream: StreamId::new(1),
        },
    );
}

#[test]
fn the_peer_learns_of_the_error_from_the_goaway() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"hello").unwrap();
    pair.drive();
    // The server breaks the protocol from the client's point of view.
    pair.client
        .handle_input(pair.now(), &header(FrameType::Data, Flags::SYN, 1, 0));
    let reason = CloseReason::Protocol(ProtocolError::InvalidStreamId { stream: id });
    assert_eq!(events(&mut pair.client), [Event::Closed(reason)]);
    pair.drive();
    let peer = CloseReason::PeerGoAway {
        code: GOAWAY_PROTOCOL_ERROR,
    };
    assert!(events(&mut pair.server).contains(&Event::Closed(peer)));
    assert_eq!(pair.server.close_reason(), Some(peer));
    assert_eq!(
        pair.server.open_stream(pair.now()),
        Err(muxplex::OpenError::SessionClosed(peer))
    );
}

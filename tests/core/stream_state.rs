//! What the application can ask about a stream and a session: a stream's
//! status (open, finished either way, reset with its error, which stays
//! readable until the stream is released), why `Session::stream` has no
//! handle, who reset a stream, a transport failure told apart from its end,
//! and when accepting can never succeed again.

use crate::common;

use muxplex::frame::{Flags, FrameType};
use muxplex::testing::Pair;
use muxplex::{
    CloseReason, Config, Delivery, Event, NoStream, ResetBy, ResetCause, Session, StreamError,
    StreamId, StreamStatus,
};

fn pair() -> Pair {
    Pair::new(Config::default(), Config::default())
}

/// A pair with one stream the client opened and the server accepted.
fn pair_with_stream() -> (Pair, StreamId) {
    let mut pair = pair();
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"hi").unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    pair.drive();
    (pair, id)
}

#[test]
fn status_follows_both_directions() {
    let (mut pair, id) = pair_with_stream();
    assert_eq!(pair.client.stream(id).unwrap().status(), StreamStatus::Open);
    let now = pair.now();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    assert_eq!(
        pair.client.stream(id).unwrap().status(),
        StreamStatus::Finished
    );
    pair.drive();
    assert_eq!(
        pair.server.stream(id).unwrap().status(),
        StreamStatus::PeerFinished,
        "the peer's FIN counts before its data is read"
    );
    pair.server.stream(id).unwrap().finish(now).unwrap();
    assert_eq!(
        pair.server.stream(id).unwrap().status(),
        StreamStatus::Closed
    );
}

/// The read that returns the end frees the state itself (our FIN having
/// left): nothing waits for the handle's drop, and the handle stays usable.
#[test]
fn the_read_that_returns_the_end_frees_the_state() {
    let (mut pair, id) = pair_with_stream();
    let now = pair.now();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    pair.server.stream(id).unwrap().finish(now).unwrap();
    pair.drive();
    let mut stream = pair.client.stream(id).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(stream.read(&mut buf), Ok(0));
    assert_eq!(stream.status(), StreamStatus::Closed);
    assert_eq!(stream.read(&mut buf), Ok(0), "the end, again");
    assert_eq!(stream.read_chunk(8), Ok(None));
    assert_eq!(stream.write(b"x"), Err(StreamError::Finished));
    assert_eq!(stream.finish(now), Err(StreamError::Finished));
    assert_eq!(stream.delivery(), Delivery::Delivered);
    assert!(!stream.release(), "nothing left to release");
    assert_eq!(pair.client.stream_count(), 0);
    assert_eq!(pair.client.stream(id).err(), Some(NoStream::Freed));
}

/// A reset stream keeps its error, however often the application looks
/// and however many handles it drops, until it is released.
#[test]
fn a_reset_stays_readable_until_released() {
    let (mut pair, id) = pair_with_stream();
    pair.server.stream(id).unwrap().reset(7);
    pair.drive();
    let reset = StreamStatus::Reset {
        by: ResetBy::Peer { code: 7 },
        delivery: Delivery::Delivered,
    };
    let error = StreamError::Reset {
        by: ResetBy::Peer { code: 7 },
        delivery: Delivery::Delivered,
    };
    for _ in 0..3 {
        let mut stream = pair.client.stream(id).expect("kept until released");
        assert_eq!(stream.status(), reset);
        assert_eq!(stream.read(&mut [0u8; 4]), Err(error));
        assert_eq!(stream.write(b"x"), Err(error));
    }
    assert_eq!(pair.client.stream_count(), 1);
    assert!(pair.client.stream(id).unwrap().release());
    assert_eq!(pair.client.stream_count(), 0);
    assert_eq!(pair.client.stream(id).err(), Some(NoStream::Freed));
}

/// `detach` and `reset` let a reset stream go too.
#[test]
fn detach_or_reset_releases_a_reset_stream() {
    let mut pair = pair();
    let ids: Vec<StreamId> = (0..2)
        .map(|_| {
            let id = pair.client.open_stream(pair.now()).unwrap();
            pair.client.stream(id).unwrap().write(b"hi").unwrap();
            id
        })
        .collect();
    pair.drive();
    while let Some(id) = pair.server.accept_stream() {
        pair.server.stream(id).unwrap().reset(1);
    }
    pair.drive();
    assert_eq!(pair.client.stream_count(), 2);
    let now = pair.now();
    pair.client.stream(ids[0]).unwrap().detach(now);
    pair.client.stream(ids[1]).unwrap().reset(3);
    assert_eq!(pair.client.stream_count(), 0);
    assert!(
        common::take_frames(&mut pair.client).is_empty(),
        "no RST back"
    );
}

#[test]
fn no_stream_says_why() {
    let mut pair = pair();
    assert_eq!(
        pair.client.stream(StreamId::new(1)).err(),
        Some(NoStream::Unknown)
    );
    assert_eq!(
        pair.client.stream(StreamId::new(0)).err(),
        Some(NoStream::Unknown)
    );
    assert_eq!(
        pair.client.stream(StreamId::new(2)).err(),
        Some(NoStream::Unknown),
        "the server opened nothing yet"
    );
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"hi").unwrap();
    pair.drive();
    assert_eq!(pair.server.stream(id).err(), Some(NoStream::NotAccepted));
    assert_eq!(pair.server.accept_stream(), Some(id));
    assert!(pair.server.stream(id).is_ok());
    let now = pair.now();
    pair.server.stream(id).unwrap().detach(now);
    assert_eq!(pair.server.stream(id).err(), Some(NoStream::Detached));
    pair.client.stream(id).unwrap().reset(0);
    assert_eq!(pair.client.stream(id).err(), Some(NoStream::Freed));
    pair.drive();
    assert_eq!(
        pair.server.stream(id).err(),
        Some(NoStream::Freed),
        "a detached stream reset by the peer is gone"
    );
}

/// An RST from the peer carries its code; a session reset says why and
/// has no code of the peer's to confuse with one.
#[test]
fn reset_by_says_who() {
    let mut pair = Pair::new(
        Config::default().with_open_timeout(Some(std::time::Duration::from_secs(1))),
        Config::default(),
    );
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"hi").unwrap();
    pair.drive();
    pair.advance(std::time::Duration::from_secs(2));
    let by = ResetBy::Session(ResetCause::OpenTimeout);
    assert!(
        common::events(&mut pair.client).contains(&Event::StreamReset {
            id,
            by,
            delivery: Delivery::MaybeDelivered,
        })
    );
    assert_eq!(by.code(), Some(muxplex::RESET_TIMEOUT));
    assert_eq!(ResetCause::PeerGoingAway.code(), None);
    assert_eq!(ResetBy::Peer { code: 0 }.code(), Some(0));
}

#[test]
fn a_transport_error_is_not_an_end_of_file() {
    let (mut pair, id) = pair_with_stream();
    let now = pair.now();
    pair.client.handle_transport_error(now);
    assert_eq!(
        pair.client.close_reason(),
        Some(CloseReason::TransportFailed)
    );
    assert_eq!(
        pair.client.stream(id).unwrap().write(b"x"),
        Err(StreamError::SessionClosed {
            reason: CloseReason::TransportFailed,
            delivery: Delivery::Delivered,
        })
    );

    // After the peer's GoAway(0) an end of file is its clean close, but a
    // failure stays a failure.
    for (fail, reason) in [
        (false, CloseReason::PeerGoAway { code: 0 }),
        (true, CloseReason::TransportFailed),
    ] {
        let mut session = Session::client(Config::default(), now).unwrap();
        session.handle_input(now, &common::header(FrameType::GoAway, Flags::NONE, 0, 0));
        match fail {
            true => session.handle_transport_error(now),
            false => session.handle_eof(now),
        }
        assert_eq!(session.close_reason(), Some(reason));
        assert!(common::events(&mut session).contains(&Event::Closed(reason)));
    }
}

#[test]
fn accepts_end_with_closing_or_the_session() {
    let (mut pair, _running) = pair_with_stream();
    assert!(!pair.server.accepts_ended());
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"hi").unwrap();
    pair.drive();
    assert!(!pair.server.accepts_ended());
    let now = pair.now();
    pair.server.close(now);
    assert!(pair.server.is_closing(), "a stream still runs");
    assert!(
        pair.server.accepts_ended(),
        "closing refused the queued SYN"
    );
    assert_eq!(pair.server.accept_stream(), None);

    let mut session = Session::server(Config::default(), now).unwrap();
    session.handle_eof(now);
    assert!(session.accepts_ended());

    // The peer's GoAway(0) stops our opens, not its own.
    let mut session = Session::server(Config::default(), now).unwrap();
    session.handle_input(now, &common::header(FrameType::GoAway, Flags::NONE, 0, 0));
    assert!(!session.accepts_ended());
}

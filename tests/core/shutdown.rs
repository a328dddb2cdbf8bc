//! Graceful close, abort, and the peer's GoAway: every way a session ends
//! gives exactly one `Closed` event with a reason that says which.

use crate::common;

use std::time::Duration;

use muxplex::frame::{Flags, FrameType};
use muxplex::testing::{Pair, Side};
use muxplex::{
    CloseReason, Config, Delivery, Event, OpenError, RESET_REFUSED, ResetBy, ResetCause, Session,
    StreamError, StreamId,
};

fn closed_events(events: &[Event]) -> Vec<CloseReason> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Closed(reason) => Some(*reason),
            _ => None,
        })
        .collect()
}

/// Opens a client stream, writes `data` and lets the server accept it.
fn open_accepted(pair: &mut Pair, data: &[u8]) -> (StreamId, StreamId) {
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(data).unwrap();
    pair.drive();
    let accepted = pair.server.accept_stream().unwrap();
    pair.drive();
    (id, accepted)
}

/// Reads the stream to its end; fails if the end has not arrived.
fn read_all(session: &mut Session, id: StreamId) -> Result<Vec<u8>, StreamError> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let mut stream = session.stream(id).expect("stream is live");
    loop {
        match stream.read(&mut buf)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn graceful_close_lets_streams_finish_then_goes_away() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let (id, accepted) = open_accepted(&mut pair, b"request");

    pair.client.close(pair.now());
    assert!(pair.client.is_closing());
    assert_eq!(pair.client.open_stream(pair.now()), Err(OpenError::Closing));
    // The server may still try to open: refused with an RST, not fatal.
    let refused = pair.server.open_stream(pair.now()).unwrap();
    pair.server.stream(refused).unwrap().write(b"x").unwrap();
    pair.drive();
    let server_events = common::events(&mut pair.server);
    assert!(server_events.contains(&Event::StreamReset {
        id: refused,
        by: ResetBy::Peer {
            code: RESET_REFUSED
        },
        delivery: Delivery::NotDelivered,
    }));
    assert!(!pair.client.is_closed(), "the open stream holds the close");

    // The existing stream completes in both directions.
    let now = pair.now();
    let mut stream = pair.server.stream(accepted).unwrap();
    stream.write(b"response").unwrap();
    stream.finish(now).unwrap();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    pair.drive();
    assert_eq!(read_all(&mut pair.server, accepted).unwrap(), b"request");
    assert_eq!(read_all(&mut pair.client, id).unwrap(), b"response");
    pair.drive();

    assert_eq!(pair.client.close_reason(), Some(CloseReason::LocalClose));
    assert_eq!(
        closed_events(&common::events(&mut pair.client)),
        vec![CloseReason::LocalClose]
    );
    // The server saw GoAway(0): it drains, and opens nothing new.
    assert!(common::events(&mut pair.server).contains(&Event::PeerGoingAway));
    assert_eq!(
        pair.server.open_stream(pair.now()),
        Err(OpenError::PeerGoingAway)
    );
}

#[test]
fn close_timeout_resets_what_is_left() {
    let config = Config::default().with_close_timeout(Duration::from_secs(2));
    let mut pair = Pair::new(config, Config::default());
    let (id, accepted) = open_accepted(&mut pair, b"never finished");
    common::events(&mut pair.server);

    pair.client.close(pair.now());
    pair.advance(Duration::from_millis(1_999));
    assert!(pair.client.is_closing());
    pair.advance(Duration::from_millis(1));

    assert_eq!(
        pair.client.close_reason(),
        Some(CloseReason::LocalCloseTimedOut)
    );
    let client_events = common::events(&mut pair.client);
    assert_eq!(
        closed_events(&client_events),
        vec![CloseReason::LocalCloseTimedOut]
    );
    assert!(client_events.contains(&Event::StreamReset {
        id,
        by: ResetBy::Session(ResetCause::CloseTimeout),
        delivery: Delivery::Delivered,
    }));
    // The server got the RST before the GoAway.
    let server_events = common::events(&mut pair.server);
    let reset_at = server_events
        .iter()
        .position(|e| matches!(e, Event::StreamReset { id, .. } if *id == accepted))
        .expect("server saw the reset");
    let going_away_at = server_events
        .iter()
        .position(|e| *e == Event::PeerGoingAway)
        .expect("server saw the GoAway");
    assert!(reset_at < going_away_at);
}

#[test]
fn abort_sends_go_away_with_its_code() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let (id, _) = open_accepted(&mut pair, b"data");
    pair.client.abort(pair.now(), 7);
    let frames = common::take_frames(&mut pair.client);
    assert!(common::has_go_away(&frames, 7));
    assert_eq!(
        closed_events(&common::events(&mut pair.client)),
        vec![CloseReason::LocalAbort { code: 7 }]
    );
    assert!(matches!(
        pair.client.stream(id).unwrap().write(b"more"),
        Err(StreamError::SessionClosed {
            reason: CloseReason::LocalAbort { code: 7 },
            delivery: Delivery::Delivered,
        })
    ));
    let now = pair.now();

    let mut server = Session::server(Config::default(), now).expect("valid config");
    let mut wire_bytes = Vec::new();
    for f in &frames {
        wire_bytes.extend_from_slice(&f.header.encode());
    }
    server.handle_input(muxplex::Instant::ZERO, &wire_bytes);
    assert_eq!(
        closed_events(&common::events(&mut server)),
        vec![CloseReason::PeerGoAway { code: 7 }]
    );
}

#[test]
fn peer_go_away_normal_drains_existing_streams() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let (id, accepted) = open_accepted(&mut pair, b"before");
    // A peer's GoAway(0) while streams are open, as go-yamux sends on close.
    let go_away = common::header(FrameType::GoAway, Flags::NONE, 0, 0);
    let now = pair.now();
    pair.client.handle_input(now, &go_away);
    assert!(common::events(&mut pair.client).contains(&Event::PeerGoingAway));
    assert!(!pair.client.is_closed());
    assert_eq!(
        pair.client.open_stream(pair.now()),
        Err(OpenError::PeerGoingAway)
    );
    // The existing stream still works both ways.
    pair.client
        .stream(id)
        .unwrap()
        .write(b" and after")
        .unwrap();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    pair.server.stream(accepted).unwrap().finish(now).unwrap();
    pair.drive();
    assert_eq!(
        read_all(&mut pair.server, accepted).unwrap(),
        b"before and after"
    );
    assert_eq!(read_all(&mut pair.client, id).unwrap(), b"");
    pair.drive();
    assert_eq!(pair.client.stream_count(), 0);
    assert!(
        !pair.client.is_closed(),
        "draining does not end the session"
    );
}

#[test]
fn peer_go_away_can_be_made_terminal() {
    let config = Config::default().with_terminate_on_peer_go_away(true);
    let mut session = Session::client(config, muxplex::Instant::ZERO).expect("valid config");
    let go_away = common::header(FrameType::GoAway, Flags::NONE, 0, 0);
    session.handle_input(muxplex::Instant::ZERO, &go_away);
    assert_eq!(
        closed_events(&common::events(&mut session)),
        vec![CloseReason::PeerGoAway { code: 0 }]
    );
}

/// A way to end a session, by name.
type Ending = (&'static str, fn(&mut Pair));

#[test]
fn every_end_is_reported_once() {
    let ends: [Ending; 4] = [
        ("eof", |pair| pair.close_transport(Side::Server)),
        ("abort", |pair| pair.client.abort(pair.now(), 2)),
        ("close", |pair| pair.client.close(pair.now())),
        ("peer error", |pair| pair.server.abort(pair.now(), 1)),
    ];
    for (name, end) in ends {
        let mut pair = Pair::new(Config::default(), Config::default());
        end(&mut pair);
        pair.drive();
        // Later inputs cannot end it again.
        pair.client.abort(pair.now(), 9);
        pair.client.handle_eof(pair.now());
        let closes = closed_events(&common::events(&mut pair.client));
        assert_eq!(closes.len(), 1, "{name}: {closes:?}");
    }
}

#[test]
fn the_peers_graceful_close_is_reported_as_such() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let (id, accepted) = open_accepted(&mut pair, b"last request");
    let now = pair.now();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    let now = pair.now();
    pair.server.stream(accepted).unwrap().finish(now).unwrap();
    pair.drive();
    assert_eq!(
        read_all(&mut pair.server, accepted).unwrap(),
        b"last request"
    );
    assert_eq!(read_all(&mut pair.client, id).unwrap(), b"");
    pair.client.close(pair.now());
    pair.drive();
    // The client is done and hangs up; the server saw its GoAway(0) first.
    pair.close_transport(Side::Client);
    pair.drive();
    assert_eq!(pair.client.close_reason(), Some(CloseReason::LocalClose));
    assert_eq!(
        closed_events(&common::events(&mut pair.server)),
        vec![CloseReason::PeerGoAway { code: 0 }]
    );
}

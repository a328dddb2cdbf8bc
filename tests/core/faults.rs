//! Fault injection in the simulator: a transport cut at any byte, input
//! corrupted or truncated, and a hostile peer's well-formed but abusive
//! frames mixed into a real session. Each ends as predicted, with the
//! retry-safety of every outbound stream as predicted, and the other side
//! always sees the session end instead of hanging.

use crate::common;

use muxplex::frame::{Flags, FrameError, FrameType};
use muxplex::testing::{Chunking, Pair, Side};
use muxplex::{CloseReason, Config, Delivery, ProtocolError, Session, StreamError, StreamId};

use common::{data, header};

/// Outbound streams of the two kinds a lost session distinguishes (a third,
/// never transmitted, is covered in `retry_safety.rs`).
struct Outbound {
    acknowledged: Vec<StreamId>,
    sent_unacknowledged: Vec<StreamId>,
}

/// Opens streams on the client in two phases: accepted by the server (so
/// acknowledged), and transmitted but never accepted. The acknowledged
/// ones keep a transfer going.
fn outbound_streams(pair: &mut Pair) -> Outbound {
    let open = |pair: &mut Pair, count: usize, bytes: usize| -> Vec<StreamId> {
        (0..count)
            .map(|_| {
                let id = pair.client.open_stream(pair.now()).unwrap();
                let payload = common::pattern(u64::from(id.get()), bytes);
                pair.client.stream(id).unwrap().write(&payload).unwrap();
                id
            })
            .collect()
    };
    let acknowledged = open(pair, 3, 1_000);
    pair.drive();
    while pair.server.accept_stream().is_some() {}
    pair.drive();
    let sent_unacknowledged = open(pair, 3, 100);
    pair.drive();
    // More data both ways on the acknowledged streams keeps the link busy
    // when the cut comes.
    for &id in &acknowledged {
        pair.client
            .stream(id)
            .unwrap()
            .write(&[7; 100_000])
            .unwrap();
        pair.server
            .stream(id)
            .unwrap()
            .write(&[8; 100_000])
            .unwrap();
    }
    Outbound {
        acknowledged,
        sent_unacknowledged,
    }
}

/// What a write on `id` reports once the session is gone.
fn delivery_after_loss(session: &mut Session, id: StreamId) -> Delivery {
    match session.stream(id).expect("state kept").write(b"x") {
        Err(StreamError::SessionClosed { delivery, .. }) => delivery,
        other => panic!("stream {id}: expected the session's end, got {other:?}"),
    }
}

fn check_retry_safety(session: &mut Session, streams: &Outbound) {
    for &id in &streams.acknowledged {
        assert_eq!(delivery_after_loss(session, id), Delivery::Delivered);
    }
    for &id in &streams.sent_unacknowledged {
        assert_eq!(delivery_after_loss(session, id), Delivery::MaybeDelivered);
    }
}

#[test]
fn a_cut_at_any_byte_ends_both_sides_with_the_right_retry_safety() {
    for seed in 0..40u64 {
        let mut pair = Pair::new(Config::default(), Config::default())
            .with_seed(seed)
            .with_chunking(Chunking::Random { max: 3_000 });
        let streams = outbound_streams(&mut pair);
        // Each side has about 300 KB to send.
        let at = pair.rng().range(0, 250_000);
        let from = if seed % 2 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        pair.cut_transport(from, at);
        pair.drive();
        for side in [Side::Client, Side::Server] {
            assert_eq!(
                pair.session(side).close_reason(),
                Some(CloseReason::TransportClosed),
                "seed {seed}: {side:?} did not see the end"
            );
        }
        check_retry_safety(&mut pair.client, &streams);
    }
}

#[test]
fn corrupted_input_is_a_typed_error_and_the_peer_learns_of_it() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let streams = outbound_streams(&mut pair);
    pair.drive();
    // The next byte the client sends is a version byte.
    pair.corrupt_next_byte(Side::Client, 0x01);
    let id = streams.acknowledged[0];
    pair.client.stream(id).unwrap().write(b"garbled").unwrap();
    pair.drive();
    assert_eq!(
        pair.server.close_reason(),
        Some(CloseReason::Protocol(ProtocolError::Frame(
            FrameError::UnsupportedVersion(1)
        )))
    );
    assert_eq!(
        pair.client.close_reason(),
        Some(CloseReason::PeerGoAway { code: 1 })
    );
    // Data the server had before the error is still there.
    let accepted = streams.acknowledged[0];
    let (got, end) = common::read_all(&mut pair.server, accepted);
    assert_eq!(got.len(), 101_000);
    assert!(matches!(end, Err(StreamError::SessionClosed { .. })));
    check_retry_safety(&mut pair.client, &streams);
}

#[test]
fn truncated_input_ends_the_session_not_hangs_it() {
    for keep in [1, 5, 11, 12, 13, 20] {
        let mut pair = Pair::new(Config::default(), Config::default());
        let id = pair.client.open_stream(pair.now()).unwrap();
        pair.client
            .stream(id)
            .unwrap()
            .write(b"0123456789")
            .unwrap();
        pair.cut_transport(Side::Client, keep);
        pair.drive();
        assert_eq!(
            pair.server.close_reason(),
            Some(CloseReason::TransportClosed)
        );
        assert_eq!(
            pair.client.close_reason(),
            Some(CloseReason::TransportClosed)
        );
        assert_eq!(
            delivery_after_loss(&mut pair.client, id),
            Delivery::MaybeDelivered
        );
    }
}

/// A peer that repeats the SYN of a stream it already opened breaks the
/// protocol: the victim says which stream, and the offender learns it.
#[test]
fn a_duplicate_syn_mid_session_is_a_protocol_error() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let streams = outbound_streams(&mut pair);
    pair.drive();
    let id = streams.acknowledged[1];
    pair.inject(Side::Client, &data(Flags::SYN, id.get(), b"again"));
    pair.drive();
    assert_eq!(
        pair.server.close_reason(),
        Some(CloseReason::Protocol(ProtocolError::DuplicateStream {
            stream: id
        }))
    );
    assert_eq!(
        pair.client.close_reason(),
        Some(CloseReason::PeerGoAway { code: 1 })
    );
    check_retry_safety(&mut pair.client, &streams);
}

#[test]
fn a_window_overflow_mid_session_is_a_protocol_error() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let streams = outbound_streams(&mut pair);
    pair.drive();
    let id = streams.acknowledged[2];
    pair.inject(
        Side::Server,
        &header(FrameType::WindowUpdate, Flags::NONE, id.get(), u32::MAX),
    );
    pair.drive();
    assert_eq!(
        pair.client.close_reason(),
        Some(CloseReason::Protocol(ProtocolError::WindowOverflow {
            stream: id
        }))
    );
    assert_eq!(
        pair.server.close_reason(),
        Some(CloseReason::PeerGoAway { code: 1 })
    );
}

/// Abuse the protocol tolerates: data after FIN and a pong nobody asked
/// for are dropped, and the session carries on.
#[test]
fn tolerated_abuse_leaves_the_session_working() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"request").unwrap();
    let now = pair.now();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    pair.inject(Side::Client, &data(Flags::NONE, id.get(), b"after fin"));
    pair.inject(Side::Client, &header(FrameType::Ping, Flags::ACK, 0, 99));
    pair.drive();
    assert!(!pair.server.is_closed() && !pair.client.is_closed());
    let (got, end) = common::read_all(&mut pair.server, id);
    assert_eq!((got.as_slice(), end), (&b"request"[..], Ok(())));
    let now = pair.now();
    let mut stream = pair.server.stream(id).unwrap();
    stream.write(b"response").unwrap();
    stream.finish(now).unwrap();
    pair.drive();
    let (got, end) = common::read_all(&mut pair.client, id);
    assert_eq!((got.as_slice(), end), (&b"response"[..], Ok(())));
}

//! Liberal acceptance: FIN and RST on WindowUpdates, RST codes, data on a
//! SYN, and frames for unknown or closed streams, as real peers send them.

use crate::common;

use common::{data, events, feed, header, read_all, server_with_stream, take_frames};
use muxplex::frame::{Flags, FrameType};
use muxplex::{Config, Delivery, Event, Instant, ResetBy, Session, StreamError, StreamId};

const ONE: StreamId = StreamId::new(1);

#[test]
fn fin_on_a_window_update_ends_the_stream() {
    let mut server = server_with_stream(b"body");
    server.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::FIN, 1, 0),
    );
    assert_eq!(events(&mut server), [Event::Readable(ONE)]);
    assert_eq!(read_all(&mut server, ONE), (b"body".to_vec(), Ok(())));
}

#[test]
fn fin_with_a_grant_applies_both() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    client.stream(id).unwrap().write(&vec![0; 300_000]).unwrap();
    take_frames(&mut client);
    client.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::ACK | Flags::FIN, 1, 500),
    );
    assert_eq!(client.stream(id).unwrap().write_capacity(), 500);
    assert!(client.stream(id).unwrap().delivery() == Delivery::Delivered);
    assert_eq!(read_all(&mut client, id), (Vec::new(), Ok(())));
}

#[test]
fn rst_on_a_window_update_surfaces_its_code() {
    let mut server = server_with_stream(b"dropped");
    events(&mut server);
    server.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::RST, 1, 0xC0DE),
    );
    assert_eq!(
        events(&mut server),
        [Event::StreamReset {
            id: ONE,
            by: ResetBy::Peer { code: 0xC0DE },
            delivery: Delivery::Delivered,
        }]
    );
    let reset = StreamError::Reset {
        by: ResetBy::Peer { code: 0xC0DE },
        delivery: Delivery::Delivered,
    };
    assert_eq!(read_all(&mut server, ONE), (Vec::new(), Err(reset)));
    assert!(!server.is_closed());
}

#[test]
fn syn_with_a_payload_delivers_it() {
    let now = Instant::ZERO;
    let mut server = Session::server(Config::default(), now).expect("valid config");
    let mut wire = data(Flags::SYN, 1, b"carried on the SYN");
    wire.extend(data(Flags::FIN, 1, b", then more"));
    feed(&mut server, &wire, 3);
    assert_eq!(events(&mut server), [Event::IncomingStream(ONE)]);
    assert_eq!(server.accept_stream(), Some(ONE));
    assert_eq!(
        read_all(&mut server, ONE),
        (b"carried on the SYN, then more".to_vec(), Ok(()))
    );
}

#[test]
fn frames_for_unknown_streams_are_dropped() {
    let mut wire = data(Flags::NONE, 5, &[0xAA; 5000]);
    wire.extend(header(FrameType::WindowUpdate, Flags::NONE, 7, 100));
    wire.extend(data(Flags::FIN, 9, b"orphan"));
    wire.extend(header(FrameType::WindowUpdate, Flags::RST, 11, 3));
    wire.extend(data(Flags::ACK, 4, b"ours, never opened"));
    // The payloads above must be skipped exactly, or this frame is garbled.
    wire.extend(data(Flags::SYN, 3, b"still works"));
    for chunk in [wire.len(), 1, 7] {
        let now = Instant::ZERO;
        let mut server = Session::server(Config::default(), now).expect("valid config");
        feed(&mut server, &wire, chunk);
        assert!(
            !server.is_closed(),
            "chunk {chunk}: {:?}",
            server.close_reason()
        );
        let id = StreamId::new(3);
        assert_eq!(events(&mut server), [Event::IncomingStream(id)]);
        assert_eq!(server.stream_count(), 1, "nothing kept for unknown ids");
        assert_eq!(server.accept_stream(), Some(id));
        assert_eq!(read_all(&mut server, id).0, b"still works");
        assert_eq!(
            take_frames(&mut server).len(),
            1,
            "only the ACK, no reply to strays"
        );
    }
}

#[test]
fn frames_for_closed_streams_are_dropped() {
    let mut server = server_with_stream(b"request");
    server.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::FIN, 1, 0),
    );
    assert_eq!(read_all(&mut server, ONE), (b"request".to_vec(), Ok(())));
    let now = Instant::ZERO;
    server.stream(ONE).unwrap().finish(now).unwrap();
    take_frames(&mut server);
    assert_eq!(server.stream_count(), 0);
    events(&mut server);

    let mut wire = data(Flags::NONE, 1, &[1; 3000]);
    wire.extend(header(FrameType::WindowUpdate, Flags::NONE, 1, 4096));
    wire.extend(data(Flags::FIN, 1, b"late"));
    wire.extend(data(Flags::SYN, 3, b"next"));
    server.handle_input(Instant::ZERO, &wire);
    assert!(!server.is_closed());
    assert_eq!(
        events(&mut server),
        [Event::IncomingStream(StreamId::new(3))]
    );
    assert_eq!(server.stream_count(), 1);
    assert_eq!(server.accept_stream(), Some(StreamId::new(3)));
    assert_eq!(read_all(&mut server, StreamId::new(3)).0, b"next");
}

#[test]
fn data_after_fin_is_dropped() {
    let mut server = server_with_stream(b"all of it");
    let mut wire = header(FrameType::WindowUpdate, Flags::FIN, 1, 0);
    wire.extend(data(Flags::NONE, 1, b"too late"));
    server.handle_input(Instant::ZERO, &wire);
    assert!(!server.is_closed());
    assert_eq!(read_all(&mut server, ONE), (b"all of it".to_vec(), Ok(())));
}

#[test]
fn data_after_a_local_reset_is_dropped() {
    let mut server = server_with_stream(b"first");
    server.stream(ONE).unwrap().reset(1);
    let frames = take_frames(&mut server);
    assert_eq!(frames.len(), 1);
    assert!(frames[0].header.flags.contains(Flags::RST));
    // The peer had sent more before it saw our RST.
    server.handle_input(Instant::ZERO, &data(Flags::NONE, 1, &[2; 1000]));
    server.handle_input(Instant::ZERO, &data(Flags::SYN, 3, b"ok"));
    assert!(!server.is_closed());
    assert_eq!(server.accept_stream(), Some(StreamId::new(3)));
    assert_eq!(read_all(&mut server, StreamId::new(3)).0, b"ok");
}

#[test]
fn unknown_flag_bits_are_ignored() {
    let now = Instant::ZERO;
    let mut server = Session::server(Config::default(), now).expect("valid config");
    server.handle_input(
        Instant::ZERO,
        &data(Flags::SYN | Flags::from_bits(0x8000), 1, b"x"),
    );
    assert!(!server.is_closed());
    assert_eq!(server.accept_stream(), Some(ONE));
    assert_eq!(read_all(&mut server, ONE).0, b"x");
}

/// The `yamux` crate sends a stream its application closed before writing
/// as a bare FIN, without SYN: it still arrives as an (empty) stream.
#[test]
fn bare_fin_on_a_new_peer_id_opens_an_empty_stream() {
    for frame_type in [FrameType::Data, FrameType::WindowUpdate] {
        let now = Instant::ZERO;
        let mut server = Session::server(Config::default(), now).expect("valid config");
        feed(&mut server, &header(frame_type, Flags::FIN, 1, 0), 1);
        assert_eq!(events(&mut server), [Event::IncomingStream(ONE)]);
        assert_eq!(server.accept_stream(), Some(ONE));
        assert_eq!(read_all(&mut server, ONE), (Vec::new(), Ok(())));
        assert_eq!(events(&mut server), [Event::Readable(ONE)]);
        // A late FIN for a lower id, or one with our parity, opens nothing.
        feed(&mut server, &header(frame_type, Flags::FIN, 1, 0), 1);
        feed(&mut server, &header(frame_type, Flags::FIN, 2, 0), 1);
        assert!(events(&mut server).is_empty());
        assert!(!server.is_closed());
    }
}

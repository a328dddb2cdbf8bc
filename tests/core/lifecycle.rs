//! A stream's life: opening (SYN on the first frame, ACK at accept),
//! half-close in each direction, reset, freeing of state, and the end of
//! the transport.

use crate::common;

use common::{
    data, decode_all, events, header, read_all, server_with_stream, take_bytes, take_frames,
};
use muxplex::frame::{Flags, FrameType};
use muxplex::testing::{Pair, Side};
use muxplex::{
    CloseReason, Config, Delivery, Event, Instant, OpenError, ResetBy, Session, StreamError,
    StreamId,
};

fn pair() -> Pair {
    Pair::new(Config::default(), Config::default())
}

#[test]
fn syn_rides_on_the_first_data_frame() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    assert_eq!(id, StreamId::new(1));
    assert_eq!(client.stream(id).unwrap().write(b"hello"), Ok(5));

    let frames = take_frames(&mut client);
    assert_eq!(frames.len(), 1, "no separate SYN frame: {frames:?}");
    let first = &frames[0];
    assert_eq!(first.header.frame_type, FrameType::Data);
    assert_eq!(first.header.flags, Flags::SYN);
    assert_eq!(first.header.stream_id, 1);
    assert_eq!(&first.payload[..], b"hello");
}

/// hashicorp/yamux and go-yamux apply a frame's flags before reading its
/// payload, so a FIN on a Data frame with payload loses that payload there:
/// the FIN must follow in a zero-length WindowUpdate of its own, in the same
/// transmission, whether the stream is finished before or after its data
/// leaves.
#[test]
fn fin_never_rides_on_a_data_frame_with_payload() {
    for finish_before_transmit in [true, false] {
        let now = Instant::ZERO;
        let mut client = Session::client(Config::default(), now).expect("valid config");
        let id = client.open_stream(now).unwrap();
        assert_eq!(client.stream(id).unwrap().write(b"hello"), Ok(5));
        let mut frames = Vec::new();
        if !finish_before_transmit {
            frames.extend(take_frames(&mut client));
        }
        client.stream(id).unwrap().finish(now).unwrap();
        frames.extend(take_frames(&mut client));

        let shapes: Vec<_> = frames
            .iter()
            .map(|f| (f.header.frame_type, f.header.flags, f.header.length))
            .collect();
        assert_eq!(
            shapes,
            [
                (FrameType::Data, Flags::SYN, 5),
                (FrameType::WindowUpdate, Flags::FIN, 0),
            ],
            "finish before transmit: {finish_before_transmit}"
        );
    }
}

#[test]
fn open_without_data_sends_a_bare_syn() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    let frames = take_frames(&mut client);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].header.frame_type, FrameType::WindowUpdate);
    assert_eq!(frames[0].header.flags, Flags::SYN);
    assert_eq!(frames[0].header.stream_id, id.get());
    assert_eq!(frames[0].header.length, 0);
}

#[test]
fn data_flows_before_the_ack_and_ack_waits_for_accept() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let mut server = Session::server(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    client.stream(id).unwrap().write(b"first ").unwrap();
    let syn = take_bytes(&mut client);
    client.stream(id).unwrap().write(b"second").unwrap();
    let more = take_frames(&mut client);
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].header.flags, Flags::NONE, "SYN is sent only once");
    assert_eq!(
        client.stream(id).unwrap().delivery(),
        Delivery::MaybeDelivered
    );

    server.handle_input(Instant::ZERO, &syn);
    server.handle_input(Instant::ZERO, &data(Flags::NONE, 1, b"second"));
    assert_eq!(events(&mut server), [Event::IncomingStream(id)]);
    assert!(
        take_bytes(&mut server).is_empty(),
        "nothing, in particular no ACK, before the application accepts"
    );

    assert_eq!(server.accept_stream(), Some(id));
    let ack = take_bytes(&mut server);
    let frames = decode_all(&ack);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].header.frame_type, FrameType::WindowUpdate);
    assert_eq!(frames[0].header.flags, Flags::ACK);
    assert_eq!(frames[0].header.stream_id, 1);
    assert_eq!(events(&mut server), [Event::Readable(id)]);
    assert_eq!(
        read_all(&mut server, id),
        (b"first second".to_vec(), Err(StreamError::Blocked))
    );

    client.handle_input(Instant::ZERO, &ack);
    assert!(client.stream(id).unwrap().delivery() == Delivery::Delivered);
}

#[test]
fn ack_rides_on_the_first_reply_after_accept() {
    let now = Instant::ZERO;
    let mut server = Session::server(Config::default(), now).expect("valid config");
    server.handle_input(Instant::ZERO, &data(Flags::SYN, 1, b"hi"));
    let id = server.accept_stream().unwrap();
    server.stream(id).unwrap().write(b"yo").unwrap();
    let frames = take_frames(&mut server);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].header.frame_type, FrameType::Data);
    assert_eq!(frames[0].header.flags, Flags::ACK);
    assert_eq!(&frames[0].payload[..], b"yo");
}

/// One side finishes while the other keeps writing over several rounds;
/// `client_finishes` picks which side goes first.
fn half_close(client_finishes: bool) {
    let mut pair = pair();
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"open").unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    assert_eq!(read_all(&mut pair.server, id).0, b"open");

    let (closer, writer) = if client_finishes {
        (Side::Client, Side::Server)
    } else {
        (Side::Server, Side::Client)
    };
    let now = pair.now();
    pair.session(closer)
        .stream(id)
        .unwrap()
        .finish(now)
        .unwrap();
    pair.drive();
    assert_eq!(
        pair.session(closer).stream(id).unwrap().write(b"late"),
        Err(StreamError::Finished)
    );
    assert_eq!(read_all(pair.session(writer), id), (Vec::new(), Ok(())));

    let mut expected = Vec::new();
    let mut received = Vec::new();
    for round in 0..5u8 {
        let chunk = vec![round; 1000 + usize::from(round)];
        let mut stream = pair.session(writer).stream(id).unwrap();
        assert_eq!(stream.write(&chunk), Ok(chunk.len()));
        expected.extend_from_slice(&chunk);
        pair.drive();
        let (got, end) = read_all(pair.session(closer), id);
        assert_eq!(end, Err(StreamError::Blocked), "writer has not finished");
        received.extend_from_slice(&got);
    }
    assert_eq!(received, expected);
    let now = pair.now();

    pair.session(writer)
        .stream(id)
        .unwrap()
        .finish(now)
        .unwrap();
    pair.drive();
    assert_eq!(read_all(pair.session(closer), id), (Vec::new(), Ok(())));
    pair.drive();
    assert_eq!(pair.client.stream_count(), 0);
    assert_eq!(pair.server.stream_count(), 0);
    assert!(pair.client.stream(id).is_err());
}

#[test]
fn client_half_close_server_keeps_writing() {
    half_close(true);
}

#[test]
fn server_half_close_client_keeps_writing() {
    half_close(false);
}

#[test]
fn local_reset_sends_rst_with_code_and_peer_sees_it() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let mut server = Session::server(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    client.stream(id).unwrap().write(b"data").unwrap();
    common::settle(&mut client, &mut server);
    assert_eq!(server.accept_stream(), Some(id));
    common::settle(&mut client, &mut server);
    events(&mut server);

    client.stream(id).unwrap().reset(42);
    assert_eq!(client.stream_count(), 0, "local reset frees at once");
    assert!(client.stream(id).is_err());
    let rst = take_bytes(&mut client);
    let frames = decode_all(&rst);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].header.frame_type, FrameType::WindowUpdate);
    assert_eq!(frames[0].header.flags, Flags::RST);
    assert_eq!(frames[0].header.stream_id, id.get());
    assert_eq!(frames[0].header.length, 42);

    server.handle_input(Instant::ZERO, &rst);
    assert_eq!(
        events(&mut server),
        [Event::StreamReset {
            id,
            by: ResetBy::Peer { code: 42 },
            delivery: Delivery::Delivered
        }]
    );
    let peer_reset = StreamError::Reset {
        by: ResetBy::Peer { code: 42 },
        delivery: Delivery::Delivered,
    };
    let mut stream = server.stream(id).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(
        stream.read(&mut buf),
        Err(peer_reset),
        "buffered data is dropped"
    );
    assert_eq!(stream.write(b"x"), Err(peer_reset));
    assert_eq!(stream.read_chunk(8), Err(peer_reset));
    assert_eq!(stream.finish(now), Err(peer_reset));
    assert_eq!(
        server.stream_count(),
        1,
        "dropping the handle frees nothing: the error stays readable"
    );
    let mut stream = server.stream(id).expect("kept until released");
    assert_eq!(stream.read(&mut buf), Err(peer_reset), "still readable");
    assert!(stream.release());
    assert_eq!(server.stream_count(), 0, "freed once released");
    assert_eq!(server.stream(id).err(), Some(muxplex::NoStream::Freed));
    assert!(take_bytes(&mut server).is_empty(), "no RST is sent back");
}

#[test]
fn reset_before_the_syn_left_sends_nothing() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    client.stream(id).unwrap().write(b"never sent").unwrap();
    client.stream(id).unwrap().reset(3);
    assert!(take_bytes(&mut client).is_empty());
    assert_eq!(client.stream_count(), 0);
}

#[test]
fn rst_on_a_data_frame_resets_the_stream() {
    let mut server = server_with_stream(b"buffered");
    let id = StreamId::new(1);
    assert_eq!(events(&mut server), [Event::Readable(id)]);
    server.handle_input(Instant::ZERO, &data(Flags::RST, 1, b"ignored"));
    assert_eq!(
        events(&mut server),
        [Event::StreamReset {
            id,
            by: ResetBy::Peer { code: 0 },
            delivery: Delivery::Delivered
        }]
    );
    let (got, end) = read_all(&mut server, id);
    assert!(got.is_empty(), "a reset drops buffered data");
    assert_eq!(
        end,
        Err(StreamError::Reset {
            by: ResetBy::Peer { code: 0 },
            delivery: Delivery::Delivered
        })
    );
    assert!(!server.is_closed());
}

#[test]
fn peer_reset_before_accept_is_reported_at_accept() {
    let now = Instant::ZERO;
    let mut server = Session::server(Config::default(), now).expect("valid config");
    server.handle_input(Instant::ZERO, &data(Flags::SYN, 1, b"x"));
    server.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::RST, 1, 5),
    );
    let id = StreamId::new(1);
    assert_eq!(events(&mut server), [Event::IncomingStream(id)]);
    assert_eq!(server.accept_stream(), Some(id));
    assert_eq!(
        events(&mut server),
        [Event::StreamReset {
            id,
            by: ResetBy::Peer { code: 5 },
            delivery: Delivery::Delivered
        }]
    );
    assert_eq!(
        read_all(&mut server, id).1,
        Err(StreamError::Reset {
            by: ResetBy::Peer { code: 5 },
            delivery: Delivery::Delivered
        })
    );
    assert_eq!(server.stream_count(), 1, "kept until released");
    assert!(server.stream(id).unwrap().release());
    assert_eq!(server.stream_count(), 0);
}

#[test]
fn state_is_freed_when_both_directions_end() {
    let mut pair = pair();
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"request").unwrap();
    let now = pair.now();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    pair.drive();
    assert_eq!(
        pair.client.stream_count(),
        1,
        "client has not read the reply"
    );
    assert_eq!(pair.server.stream_count(), 1, "not yet accepted");

    assert_eq!(pair.server.accept_stream(), Some(id));
    assert_eq!(
        read_all(&mut pair.server, id),
        (b"request".to_vec(), Ok(()))
    );
    assert_eq!(pair.server.stream_count(), 1, "server has not finished");
    pair.server.stream(id).unwrap().write(b"reply").unwrap();
    let now = pair.now();
    pair.server.stream(id).unwrap().finish(now).unwrap();
    pair.drive();
    assert_eq!(pair.server.stream_count(), 0, "freed when its FIN left");

    assert_eq!(pair.client.stream_count(), 1, "reply not yet read");
    assert_eq!(read_all(&mut pair.client, id), (b"reply".to_vec(), Ok(())));
    assert_eq!(pair.client.stream_count(), 0, "freed at end of stream");
}

/// Many short request/reply streams, a few at a time: state must not
/// accumulate however many streams the session has carried.
#[test]
fn twenty_thousand_short_streams_keep_state_bounded() {
    const BATCH: usize = 8;
    let mut pair = pair();
    let mut peak = 0;
    for batch in 0..20_000 / BATCH {
        let mut ids = Vec::new();
        for i in 0..BATCH {
            let id = pair.client.open_stream(pair.now()).unwrap();
            let now = pair.now();
            let mut stream = pair.client.stream(id).unwrap();
            stream.write(&[(batch + i) as u8; 16]).unwrap();
            stream.finish(now).unwrap();
            ids.push(id);
        }
        pair.drive();
        for &id in &ids {
            assert_eq!(pair.server.accept_stream(), Some(id));
            let (request, end) = read_all(&mut pair.server, id);
            assert_eq!((request.len(), end), (16, Ok(())));
            let now = pair.now();
            let mut stream = pair.server.stream(id).unwrap();
            stream.write(&request[..4]).unwrap();
            stream.finish(now).unwrap();
        }
        peak = peak
            .max(pair.client.stream_count())
            .max(pair.server.stream_count());
        pair.drive();
        for &id in &ids {
            let (reply, end) = read_all(&mut pair.client, id);
            assert_eq!((reply.len(), end), (4, Ok(())));
        }
        events(&mut pair.client);
        events(&mut pair.server);
        assert_eq!(pair.client.stream_count(), 0, "batch {batch}");
        assert_eq!(pair.server.stream_count(), 0, "batch {batch}");
    }
    assert!(peak <= BATCH, "peak {peak}");
}

#[test]
fn eof_closes_once_and_keeps_buffered_data_readable() {
    let mut pair = pair();
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"buffered").unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    events(&mut pair.server);

    pair.close_transport(Side::Client);
    pair.drive();
    assert_eq!(
        events(&mut pair.server),
        [Event::Closed(CloseReason::TransportClosed)]
    );
    pair.server.handle_eof(pair.now());
    assert!(
        events(&mut pair.server).is_empty(),
        "Closed is reported once"
    );
    assert_eq!(
        pair.server.close_reason(),
        Some(CloseReason::TransportClosed)
    );

    let closed = StreamError::SessionClosed {
        reason: CloseReason::TransportClosed,
        delivery: Delivery::Delivered,
    };
    let now = pair.now();
    let mut stream = pair.server.stream(id).unwrap();
    assert_eq!(stream.write(b"reply"), Err(closed));
    assert_eq!(stream.finish(now), Err(closed));
    assert_eq!(
        read_all(&mut pair.server, id),
        (b"buffered".to_vec(), Err(closed))
    );
    assert_eq!(
        pair.server.open_stream(pair.now()),
        Err(OpenError::SessionClosed(CloseReason::TransportClosed))
    );
    assert!(
        take_bytes(&mut pair.server).is_empty(),
        "no GoAway after EOF"
    );
}

#[test]
fn zero_sized_reads_neither_consume_nor_end_the_stream() {
    let mut server = server_with_stream(b"data");
    let id = StreamId::new(1);
    server.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::FIN, 1, 0),
    );
    let now = Instant::ZERO;
    // With our FIN gone too, a wrongly reported end would free the stream
    // and lose the data.
    server.stream(id).unwrap().finish(now).unwrap();
    take_bytes(&mut server);
    let mut stream = server.stream(id).unwrap();
    assert_eq!(stream.read(&mut []), Ok(0));
    let chunk = stream.read_chunk(0);
    assert!(
        matches!(&chunk, Ok(Some(c)) if c.is_empty()),
        "data is still buffered, so this is not the end: {chunk:?}"
    );
    assert_eq!(read_all(&mut server, id), (b"data".to_vec(), Ok(())));
    assert_eq!(server.stream_count(), 0);
}

#[test]
fn peer_goaway_zero_drains_existing_streams() {
    let mut pair = pair();
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"before").unwrap();
    pair.drive();
    pair.client.handle_input(
        pair.now(),
        &header(FrameType::GoAway, Flags::NONE, 0, muxplex::GOAWAY_NORMAL),
    );
    pair.client.handle_input(
        pair.now(),
        &header(FrameType::GoAway, Flags::NONE, 0, muxplex::GOAWAY_NORMAL),
    );
    assert_eq!(events(&mut pair.client), [Event::PeerGoingAway]);
    assert_eq!(
        pair.client.open_stream(pair.now()),
        Err(OpenError::PeerGoingAway)
    );
    assert!(!pair.client.is_closed());

    pair.client.stream(id).unwrap().write(b" after").unwrap();
    let now = pair.now();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    assert_eq!(
        read_all(&mut pair.server, id),
        (b"before after".to_vec(), Ok(()))
    );
}

#[test]
fn abort_sends_goaway_and_fails_streams() {
    let mut pair = pair();
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"request").unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    pair.server.stream(id).unwrap().write(b"reply").unwrap();
    pair.drive();
    events(&mut pair.client);

    pair.client.stream(id).unwrap().write(&[0; 50_000]).unwrap();
    pair.client.abort(pair.now(), 7);
    let reason = CloseReason::LocalAbort { code: 7 };
    assert_eq!(events(&mut pair.client), [Event::Closed(reason)]);
    let frames = take_frames(&mut pair.client);
    assert_eq!(frames.len(), 1, "queued data is dropped: {frames:?}");
    assert_eq!(frames[0].header.frame_type, FrameType::GoAway);
    assert_eq!(frames[0].header.length, 7);
    let closed = StreamError::SessionClosed {
        reason,
        delivery: Delivery::Delivered,
    };
    assert_eq!(
        read_all(&mut pair.client, id),
        (b"reply".to_vec(), Err(closed))
    );

    pair.server
        .handle_input(pair.now(), &header(FrameType::GoAway, Flags::NONE, 0, 7));
    let peer = CloseReason::PeerGoAway { code: 7 };
    assert!(events(&mut pair.server).contains(&Event::Closed(peer)));
    assert_eq!(
        read_all(&mut pair.server, id),
        (
            b"request".to_vec(),
            Err(StreamError::SessionClosed {
                reason: peer,
                delivery: Delivery::Delivered
            })
        )
    );
}

#[test]
fn readable_is_raised_once_until_a_read_drains_the_buffer() {
    let mut server = server_with_stream(b"0123456789");
    let id = StreamId::new(1);
    assert_eq!(events(&mut server), [Event::Readable(id)]);

    let mut buf = [0u8; 4];
    assert_eq!(server.stream(id).unwrap().read(&mut buf), Ok(4));
    server.handle_input(Instant::ZERO, &data(Flags::NONE, 1, b"more"));
    assert!(
        events(&mut server).is_empty(),
        "not drained: no second event"
    );

    let mut buf = [0u8; 10];
    assert_eq!(server.stream(id).unwrap().read(&mut buf), Ok(10));
    assert_eq!(&buf, b"456789more");
    // Drained exactly, without a read that came back empty.
    server.handle_input(Instant::ZERO, &data(Flags::NONE, 1, b"again"));
    assert_eq!(events(&mut server), [Event::Readable(id)]);
    server.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::FIN, 1, 0),
    );
    assert!(events(&mut server).is_empty());
    assert_eq!(read_all(&mut server, id), (b"again".to_vec(), Ok(())));
}

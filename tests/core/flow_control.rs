//! Per-stream flow control: a writer stops at the peer's window, credit
//! comes back at half the window as the reader reads, and WindowUpdates
//! add up.

use crate::common;

use common::{data, events, header, pattern, read_all, settle, take_bytes, take_frames};
use muxplex::frame::{Flags, FrameType};
use muxplex::testing::Pair;
use muxplex::{Config, Event, INITIAL_STREAM_WINDOW, Instant, Session, StreamError, StreamId};

const WINDOW: usize = INITIAL_STREAM_WINDOW as usize;

#[test]
fn writer_blocks_at_the_window_and_resumes_after_reads() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let payload = pattern(1, 3 * WINDOW + 12_345);
    let id = pair.client.open_stream(pair.now()).unwrap();

    let first = pair.client.stream(id).unwrap().write(&payload).unwrap();
    assert_eq!(first, WINDOW, "a write takes only what the window allows");
    let mut written = first;
    pair.drive();
    assert_eq!(
        pair.client.stream(id).unwrap().write(&payload[written..]),
        Err(StreamError::Blocked)
    );
    assert!(
        !events(&mut pair.client).contains(&Event::Writable(id)),
        "no credit before the reader reads"
    );

    assert_eq!(pair.server.accept_stream(), Some(id));
    let mut received = Vec::new();
    let mut writable_events = 0;
    while written < payload.len() || received.len() < payload.len() {
        let (got, _) = read_all(&mut pair.server, id);
        assert!(!got.is_empty(), "stalled after {written} bytes written");
        received.extend_from_slice(&got);
        pair.drive();
        for event in events(&mut pair.client) {
            if event == Event::Writable(id) {
                writable_events += 1;
                let n = pair
                    .client
                    .stream(id)
                    .unwrap()
                    .write(&payload[written..])
                    .unwrap();
                assert!(n > 0, "Writable means a write makes progress");
                written += n;
                pair.drive();
            }
        }
    }
    assert!(
        writable_events >= 3,
        "only {writable_events} Writable events"
    );
    assert_eq!(received.len(), payload.len());
    assert!(received == payload, "data corrupted or reordered");
}

#[test]
fn credit_is_returned_at_half_the_window() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let mut server = Session::server(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    assert_eq!(
        client.stream(id).unwrap().write(&vec![7; WINDOW]),
        Ok(WINDOW)
    );
    settle(&mut client, &mut server);
    assert_eq!(server.accept_stream(), Some(id));
    take_bytes(&mut server); // the ACK

    let half = WINDOW / 2;
    let mut buf = vec![0u8; half - 1];
    assert_eq!(server.stream(id).unwrap().read(&mut buf), Ok(half - 1));
    assert!(
        take_frames(&mut server).is_empty(),
        "no grant below half the window"
    );

    assert_eq!(server.stream(id).unwrap().read(&mut buf[..1]), Ok(1));
    // The first grant also sends a ping: auto-tuning needs a round-trip
    // sample before it can judge whether the window limits the peer.
    let frames: Vec<_> = take_frames(&mut server)
        .into_iter()
        .filter(|f| f.header.frame_type != FrameType::Ping)
        .collect();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].header.frame_type, FrameType::WindowUpdate);
    assert_eq!(frames[0].header.stream_id, id.get());
    assert_eq!(frames[0].header.length, half as u32);

    assert_eq!(client.stream(id).unwrap().write_capacity(), 0);
    client.handle_input(Instant::ZERO, &frames[0].header.encode());
    assert_eq!(client.stream(id).unwrap().write_capacity(), half);
}

#[test]
fn window_updates_are_additive() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    assert_eq!(
        client.stream(id).unwrap().write(&vec![1; WINDOW + 10]),
        Ok(WINDOW)
    );
    let sent: usize = take_frames(&mut client)
        .iter()
        .map(|f| f.payload.len())
        .sum();
    assert_eq!(sent, WINDOW);
    assert_eq!(
        client.stream(id).unwrap().write(b"x"),
        Err(StreamError::Blocked)
    );

    client.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::ACK, id.get(), 1000),
    );
    assert_eq!(events(&mut client), [Event::Writable(id)]);
    client.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::NONE, id.get(), 2000),
    );
    client.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::NONE, id.get(), 0),
    );
    assert_eq!(client.stream(id).unwrap().write_capacity(), 3000);
    assert_eq!(client.stream(id).unwrap().write(&[2; 4000]), Ok(3000));
    let frames = take_frames(&mut client);
    assert_eq!(frames.iter().map(|f| f.payload.len()).sum::<usize>(), 3000);
    assert_eq!(
        client.stream(id).unwrap().write(b"x"),
        Err(StreamError::Blocked)
    );
}

#[test]
fn receiver_grants_more_only_as_it_reads() {
    // A peer that fills the window exactly is fine; the session grants
    // nothing until the application reads, so a full window is all it
    // ever has to buffer.
    let mut server = common::server_with_stream(&[]);
    let id = StreamId::new(1);
    let chunk = vec![9u8; 16 * 1024];
    for _ in 0..WINDOW / chunk.len() {
        server.handle_input(Instant::ZERO, &data(Flags::NONE, 1, &chunk));
    }
    assert!(!server.is_closed());
    assert!(
        take_frames(&mut server).is_empty(),
        "no grant without reads"
    );
    let (got, end) = read_all(&mut server, id);
    assert_eq!((got.len(), end), (WINDOW, Err(StreamError::Blocked)));
    let grants: u32 = take_frames(&mut server)
        .iter()
        .filter(|f| f.header.frame_type == FrameType::WindowUpdate)
        .map(|f| f.header.length)
        .sum();
    assert_eq!(
        grants, INITIAL_STREAM_WINDOW,
        "everything read is granted back"
    );
}

#[test]
fn unsent_counts_written_bytes_until_a_frame_takes_them() {
    let config = Config::default().with_max_frame_size(1_000);
    let now = Instant::ZERO;
    let mut client = Session::client(config, now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    assert_eq!(
        client.stream(id).unwrap().write(&[7; 2_500]).unwrap(),
        2_500
    );
    assert_eq!(client.stream(id).unwrap().unsent(), 2_500);

    // The SYN goes first, on the first Data frame; each frame takes 1,000.
    let mut left = Vec::new();
    while let Some(frame) = client.poll_transmit_frame() {
        left.push(client.stream(id).unwrap().unsent());
        assert!(!frame.is_empty());
    }
    assert_eq!(left, [1_500, 500, 0]);
}

#[test]
fn handed_over_chunks_respect_the_window_and_arrive_intact() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let mut server = Session::server(Config::default(), now).expect("valid config");
    let payload = pattern(9, WINDOW + 50_000);
    let id = client.open_stream(now).unwrap();

    // Small and large chunks; the one that crosses the window is cut.
    let small = bytes::Bytes::copy_from_slice(&payload[..100]);
    assert_eq!(client.stream(id).unwrap().write_chunk(small), Ok(100));
    let large = bytes::Bytes::copy_from_slice(&payload[100..]);
    assert_eq!(
        client.stream(id).unwrap().write_chunk(large),
        Ok(WINDOW - 100),
        "only what the window allows is taken"
    );
    let rest = bytes::Bytes::copy_from_slice(&payload[WINDOW..]);
    assert_eq!(
        client.stream(id).unwrap().write_chunk(rest.clone()),
        Err(StreamError::Blocked)
    );
    settle(&mut client, &mut server);
    assert_eq!(server.accept_stream(), Some(id));
    let (mut received, _) = read_all(&mut server, id);
    settle(&mut client, &mut server);
    assert!(events(&mut client).contains(&Event::Writable(id)));
    assert_eq!(client.stream(id).unwrap().write_chunk(rest), Ok(50_000));
    settle(&mut client, &mut server);
    received.extend(read_all(&mut server, id).0);
    assert!(received == payload, "data corrupted or reordered");
}

//! What goes on the wire in which order: frames no larger than
//! `max_frame_size`, round-robin between streams, priorities, and control
//! frames ahead of queued data.

use crate::common;

use bytes::Bytes;
use common::{decode_all, header, pattern, server_with_stream, take_bytes, take_frames};
use muxplex::frame::{Flags, FrameType};
use muxplex::testing::{Chunking, Pair};
use muxplex::{Config, Instant, Session, StreamId, StreamStatus};
use std::time::Duration;

#[test]
fn data_frames_never_exceed_max_frame_size() {
    for max in [1u32, 700, 16 * 1024] {
        let config = Config::default().with_max_frame_size(max);
        let now = Instant::ZERO;
        let mut client = Session::client(config, now).expect("valid config");
        let id = client.open_stream(now).unwrap();
        let payload = pattern(u64::from(max), 100_003);
        let mut written = 0;
        for size in [1, 999, 40_000, 59_003] {
            let n = client
                .stream(id)
                .unwrap()
                .write(&payload[written..written + size]);
            assert_eq!(n, Ok(size));
            written += size;
        }
        let frames = take_frames(&mut client);
        let mut sent = Vec::new();
        for frame in &frames {
            assert_eq!(frame.header.frame_type, FrameType::Data);
            assert!(
                frame.payload.len() as u32 <= max,
                "{} > {max}",
                frame.payload.len()
            );
            sent.extend_from_slice(&frame.payload);
        }
        // A frame ends early only at the end of a buffered part, and then
        // at least half full.
        let (last, others) = frames.split_last().expect("frames");
        assert!(!last.payload.is_empty());
        for frame in others {
            assert!(
                frame.payload.len() >= (max as usize).div_ceil(2),
                "a frame of {} under a maximum of {max}",
                frame.payload.len()
            );
        }
        assert!(sent == payload);
    }
}

#[test]
fn small_frames_arrive_intact_through_a_pair() {
    let config = Config::default().with_max_frame_size(333);
    let mut pair = Pair::new(config.clone(), config)
        .with_seed(3)
        .with_chunking(Chunking::Random { max: 100 });
    let id = pair.client.open_stream(pair.now()).unwrap();
    let payload = pattern(9, 50_000);
    pair.client.stream(id).unwrap().write(&payload).unwrap();
    let now = pair.now();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    let (got, end) = common::read_all(&mut pair.server, id);
    assert_eq!(end, Ok(()));
    assert!(got == payload);
}

#[test]
fn streams_take_turns_frame_by_frame() {
    let now = Instant::ZERO;
    let mut client =
        Session::client(Config::default().with_max_frame_size(1024), now).expect("valid config");
    let a = client.open_stream(now).unwrap();
    let b = client.open_stream(now).unwrap();
    client.stream(a).unwrap().write(&[b'a'; 20 * 1024]).unwrap();
    client.stream(b).unwrap().write(&[b'b'; 20 * 1024]).unwrap();
    let order: Vec<u32> = take_frames(&mut client)
        .iter()
        .map(|f| {
            assert_eq!(f.header.frame_type, FrameType::Data);
            f.header.stream_id
        })
        .collect();
    assert_eq!(order.len(), 40);
    let alternating: Vec<u32> = (0..40).map(|i| [a, b][i % 2].get()).collect();
    assert_eq!(order, alternating);
}

/// Turns are equal in bytes, not frames: a stream fed chunks of half a
/// frame (each sent as a frame of its own) gets as many bytes as one fed
/// large writes (sent in full frames), never more than a frame apart.
#[test]
fn equal_priorities_share_bytes_whatever_the_frame_sizes() {
    const FRAME: usize = 16 * 1024;
    const EACH: usize = 8 * FRAME;
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let chunked = client.open_stream(now).unwrap();
    let whole = client.open_stream(now).unwrap();
    for _ in 0..EACH / (FRAME / 2) {
        let chunk = Bytes::from(vec![b'c'; FRAME / 2]);
        assert_eq!(
            client.stream(chunked).unwrap().write_chunk(chunk),
            Ok(FRAME / 2)
        );
    }
    assert_eq!(client.stream(whole).unwrap().write(&[b'w'; EACH]), Ok(EACH));
    let (mut sent_chunked, mut sent_whole) = (0, 0);
    let mut chunked_frames = 0;
    for frame in take_frames(&mut client) {
        if sent_chunked == EACH || sent_whole == EACH {
            break;
        }
        let id = StreamId::new(frame.header.stream_id);
        if id == chunked {
            sent_chunked += frame.payload.len();
            chunked_frames += 1;
        } else {
            assert_eq!(id, whole);
            sent_whole += frame.payload.len();
        }
        assert!(
            sent_chunked.abs_diff(sent_whole) <= FRAME,
            "{sent_chunked} bytes for the chunked stream, {sent_whole} for the other"
        );
    }
    assert!(
        chunked_frames > EACH / FRAME,
        "the chunks went out as smaller frames"
    );
    assert_eq!((sent_chunked, sent_whole), (EACH, EACH - FRAME));
}

#[test]
fn higher_priority_goes_first() {
    let now = Instant::ZERO;
    let mut client =
        Session::client(Config::default().with_max_frame_size(1000), now).expect("valid config");
    let low = client.open_stream(now).unwrap();
    let high = client.open_stream(now).unwrap();
    client.stream(low).unwrap().write(&[0; 5000]).unwrap();
    client.stream(high).unwrap().write(&[1; 5000]).unwrap();
    // Set after the writes: the queued entry must move to the new level.
    client.stream(high).unwrap().set_priority(5);
    // (The low stream's SYN goes ahead in a WindowUpdate of its own.)
    let order: Vec<u32> = take_frames(&mut client)
        .iter()
        .filter(|f| f.header.frame_type == FrameType::Data)
        .map(|f| f.header.stream_id)
        .collect();
    let expected: Vec<u32> = [high.get(); 5].into_iter().chain([low.get(); 5]).collect();
    assert_eq!(order, expected);
}

/// A stream opened with data behind a busy higher priority: its data waits,
/// but its SYN goes out at once (in a WindowUpdate), so the open timeout
/// finds it acknowledged instead of resetting it as never delivered. Also
/// when the higher priority arrives only while the stream already waits its
/// turn among equals.
#[test]
fn an_opening_does_not_wait_behind_a_higher_priority() {
    let now = Instant::ZERO;
    let timeout = Duration::from_secs(5);
    let config = Config::default().with_open_timeout(Some(timeout));
    for busy_first in [true, false] {
        let mut client = Session::client(config.clone(), now).expect("valid config");
        let mut server = Session::server(Config::default(), now).expect("valid config");
        let open_busy = |client: &mut Session| {
            let busy = client.open_stream(now).unwrap();
            client.stream(busy).unwrap().set_priority(1);
            assert_eq!(
                client.stream(busy).unwrap().write(&[1; 200_000]),
                Ok(200_000)
            );
            busy
        };
        let mut busy = None;
        if busy_first {
            busy = Some(open_busy(&mut client));
        }
        let equal = client.open_stream(now).unwrap();
        assert_eq!(
            client.stream(equal).unwrap().write(&[2; 100_000]),
            Ok(100_000)
        );
        let low = client.open_stream(now).unwrap();
        assert_eq!(client.stream(low).unwrap().write(b"hello"), Ok(5));
        let mut syn_seen = false;
        let mut pass_frame = |client: &mut Session, server: &mut Session| {
            let frame = client.poll_transmit_frame().expect("a frame");
            let mut bytes = frame.header().to_vec();
            bytes.extend_from_slice(frame.payload());
            for frame in decode_all(&bytes) {
                if frame.header.stream_id == low.get() && frame.header.flags.contains(Flags::SYN) {
                    assert!(frame.payload.is_empty(), "the data still waits its turn");
                    syn_seen = true;
                }
            }
            server.handle_input(now, &bytes);
        };
        if !busy_first {
            // `equal` goes first; `low` waits for its turn, then the busy
            // stream arrives above both.
            pass_frame(&mut client, &mut server);
            busy = Some(open_busy(&mut client));
        }
        // A few frames: `busy` and `equal` have far more queued.
        for _ in 0..4 {
            pass_frame(&mut client, &mut server);
        }
        assert!(
            syn_seen,
            "the low stream's SYN went out (busy first: {busy_first})"
        );
        while server.accept_stream().is_some() {}
        let answer = take_bytes(&mut server);
        client.handle_input(now, &answer);
        client.handle_timeout(now + timeout * 2);
        for id in [busy.unwrap(), equal, low] {
            assert_eq!(client.stream(id).unwrap().status(), StreamStatus::Open);
        }
    }
}

/// A client with a lot of data queued and nothing sent yet.
fn client_with_queued_data() -> Session {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    assert_eq!(client.stream(id).unwrap().write(&[5; 200_000]), Ok(200_000));
    client
}

#[test]
fn pong_goes_before_queued_data() {
    let mut client = client_with_queued_data();
    client.handle_input(Instant::ZERO, &header(FrameType::Ping, Flags::SYN, 0, 77));
    let frames = take_frames(&mut client);
    assert_eq!(frames[0].header.frame_type, FrameType::Ping);
    assert_eq!(frames[0].header.flags, Flags::ACK);
    assert_eq!(frames[0].header.length, 77);
    let data: usize = frames[1..]
        .iter()
        .inspect(|f| assert_eq!(f.header.frame_type, FrameType::Data))
        .map(|f| f.payload.len())
        .sum();
    assert_eq!(data, 200_000);
}

#[test]
fn pong_waits_for_a_frame_already_half_written() {
    let mut client = client_with_queued_data();
    let mut wire = vec![0u8; 5];
    assert_eq!(client.poll_transmit(&mut wire), 5);
    client.handle_input(Instant::ZERO, &header(FrameType::Ping, Flags::SYN, 0, 78));
    wire.extend(take_bytes(&mut client));
    let frames = decode_all(&wire);
    assert_eq!(
        frames[0].header.frame_type,
        FrameType::Data,
        "finished first"
    );
    assert_eq!(frames[0].payload.len(), 16 * 1024);
    assert_eq!(frames[1].header.frame_type, FrameType::Ping);
    assert_eq!(frames[1].header.length, 78);
    assert!(
        frames[2..]
            .iter()
            .all(|f| f.header.frame_type == FrameType::Data)
    );
}

#[test]
fn window_update_goes_before_queued_data() {
    let mut server = server_with_stream(&[3; 200_000]);
    let id = StreamId::new(1);
    assert_eq!(server.stream(id).unwrap().write(&[4; 100_000]), Ok(100_000));
    let mut buf = vec![0u8; 128 * 1024];
    assert_eq!(server.stream(id).unwrap().read(&mut buf), Ok(buf.len()));
    let mut frames = take_frames(&mut server);
    // The first grant brings a ping for auto-tuning's first round-trip
    // sample; it is a control frame too, so it also goes before the data.
    assert_eq!(frames[1].header.frame_type, FrameType::Ping);
    frames.remove(1);
    assert_eq!(frames[0].header.frame_type, FrameType::WindowUpdate);
    assert_eq!(frames[0].header.length, 128 * 1024);
    assert_eq!(frames.len(), 1 + 100_000usize.div_ceil(16 * 1024));
    assert!(
        frames[1..]
            .iter()
            .all(|f| f.header.frame_type == FrameType::Data)
    );
}

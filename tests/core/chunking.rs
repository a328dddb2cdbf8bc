//! How the transport splits the byte stream makes no difference: the same
//! exchange delivered one byte at a time, in odd pieces or whole gives the
//! same frames on the wire, the same events and the same data.

use crate::common;

use std::collections::BTreeMap;

use common::{pattern, take_bytes};
use muxplex::{Config, Delivery, Event, Instant, ResetBy, Session, StreamError, StreamId};

/// Everything observable about one run, per side (client, server).
#[derive(Debug, Default, PartialEq)]
struct Transcript {
    wire: [Vec<u8>; 2],
    events: [Vec<Event>; 2],
    received: [BTreeMap<StreamId, Vec<u8>>; 2],
}

/// Data one side still has to write on a stream, and whether it finishes
/// after it.
struct Outgoing {
    data: Vec<u8>,
    written: usize,
    finish: bool,
}

/// One side's application: accepts every stream, reads everything, writes
/// what it owes. The server answers each client stream with a reply and
/// resets the stream on which it reads "reset me"; a reset stream is
/// released by reading its error. Returns whether it did
/// anything.
fn act(
    session: &mut Session,
    side: usize,
    out: &mut BTreeMap<StreamId, Outgoing>,
    t: &mut Transcript,
) -> bool {
    let mut acted = false;
    let mut writable = Vec::new();
    while let Some(event) = session.poll_event() {
        acted = true;
        t.events[side].push(event);
        match event {
            Event::IncomingStream(_) => {
                let id = session.accept_stream().unwrap();
                out.insert(
                    id,
                    Outgoing {
                        data: pattern(u64::from(id.get()) + 100, 70_000),
                        written: 0,
                        finish: true,
                    },
                );
                writable.push(id);
            }
            Event::Readable(id) => {
                let (got, end) = common::read_all(session, id);
                if got == b"reset me" {
                    session.stream(id).unwrap().reset(9);
                    out.remove(&id);
                } else {
                    assert!(matches!(end, Ok(()) | Err(StreamError::Blocked)), "{end:?}");
                }
                t.received[side].entry(id).or_default().extend(got);
            }
            Event::Writable(id) => writable.push(id),
            Event::StreamReset { id, by, delivery } => {
                let end = common::read_all(session, id).1;
                assert_eq!(end, Err(StreamError::Reset { by, delivery }));
                // The error stays readable until the stream is released.
                assert!(session.stream(id).unwrap().release());
                out.remove(&id);
            }
            _ => {}
        }
    }
    for id in writable {
        let Some(o) = out.get_mut(&id) else { continue };
        let mut stream = session.stream(id).unwrap();
        if o.written < o.data.len() {
            match stream.write(&o.data[o.written..]) {
                Ok(n) => o.written += n,
                Err(StreamError::Blocked) => {}
                Err(e) => panic!("write failed: {e}"),
            }
        }
        if o.written == o.data.len() {
            if o.finish {
                let now = Instant::ZERO;
                stream.finish(now).unwrap();
            }
            out.remove(&id);
        }
        acted = true;
    }
    acted
}

/// Runs the scripted exchange, cutting each transmission into pieces of
/// `chunk` bytes (or not at all), fed by `handle_input`.
fn run(chunk: Option<usize>) -> Transcript {
    run_with(&mut |len| chunk.unwrap_or(len), false)
}

/// Runs the scripted exchange, cutting each transmission into pieces whose
/// sizes `next` picks (given what is left), fed by `handle_input_bytes`
/// if `shared`, else by `handle_input`.
fn run_with(next: &mut dyn FnMut(usize) -> usize, shared: bool) -> Transcript {
    let mut t = Transcript::default();
    let now = Instant::ZERO;
    let mut sessions = [
        Session::client(Config::default(), now).expect("valid config"),
        Session::server(Config::default(), now).expect("valid config"),
    ];
    let mut outs: [BTreeMap<StreamId, Outgoing>; 2] = Default::default();
    let big = sessions[0].open_stream(now).unwrap();
    let small = sessions[0].open_stream(now).unwrap();
    let pushed = sessions[1].open_stream(now).unwrap();
    for (side, id, data, finish) in [
        (0, big, pattern(1, 300_000), true),
        (0, small, b"reset me".to_vec(), false),
        (1, pushed, pattern(2, 50_000), true),
    ] {
        let mut stream = sessions[side].stream(id).unwrap();
        let written = stream.write(&data).unwrap();
        if written == data.len() && finish {
            stream.finish(now).unwrap();
        }
        if written < data.len() {
            let rest = Outgoing {
                data,
                written,
                finish,
            };
            outs[side].insert(id, rest);
        }
    }
    sessions[0].ping(Instant::ZERO).unwrap();

    loop {
        let mut busy = false;
        for side in 0..2 {
            busy |= act(&mut sessions[side], side, &mut outs[side], &mut t);
        }
        for side in 0..2 {
            let bytes = take_bytes(&mut sessions[side]);
            busy |= !bytes.is_empty();
            let all = bytes::Bytes::from(bytes.clone());
            let mut at = 0;
            while at < all.len() {
                let len = next(all.len() - at).clamp(1, all.len() - at);
                let piece = all.slice(at..at + len);
                if shared {
                    sessions[1 - side].handle_input_bytes(Instant::ZERO, piece);
                } else {
                    sessions[1 - side].handle_input(Instant::ZERO, &piece);
                }
                at += len;
            }
            t.wire[side].extend(bytes);
        }
        if !busy {
            break;
        }
    }
    let [client, server] = sessions;
    assert!(!client.is_closed() && !server.is_closed());
    assert_eq!(client.stream_count(), 0);
    assert_eq!(server.stream_count(), 0);
    t
}

#[test]
fn one_byte_at_a_time_behaves_like_whole_delivery() {
    let whole = run(None);
    // The exchange did what the script says, so the comparison means something.
    let big = StreamId::new(1);
    let small = StreamId::new(3);
    let pushed = StreamId::new(2);
    assert!(whole.received[1][&big] == pattern(1, 300_000));
    assert!(whole.received[0][&pushed] == pattern(2, 50_000));
    assert!(whole.received[0][&big] == pattern(101, 70_000));
    assert!(
        !whole.received[0].contains_key(&small),
        "reset before any reply"
    );
    assert!(whole.events[0].contains(&Event::StreamReset {
        id: small,
        by: ResetBy::Peer { code: 9 },
        delivery: Delivery::Delivered
    }));
    assert!(
        whole.events[0]
            .iter()
            .any(|e| matches!(e, Event::Pong { .. }))
    );
    assert!(
        whole.events[0].contains(&Event::Writable(big)),
        "window was exercised"
    );

    for chunk in [1, 5, 4099] {
        let split = run(Some(chunk));
        assert!(
            split == whole,
            "pieces of {chunk} bytes changed the outcome"
        );
    }
}

#[test]
fn shared_input_behaves_like_copied_input() {
    let whole = run(None);
    // Fixed sizes: whole frames, payloads split at every kind of boundary.
    for chunk in [1, 5, 4099, 8 * 1024 + 11, 20_000, 70_000, usize::MAX] {
        let shared = run_with(&mut |_| chunk, true);
        assert!(shared == whole, "shared pieces of {chunk} bytes differ");
    }
    // Random sizes, including ones that hold whole 16 KiB payloads.
    for seed in 1..=20u64 {
        let mut state = seed;
        let mut random = |_: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match (state >> 33) % 4 {
                0 => (state >> 40) as usize % 16 + 1,
                1 => (state >> 40) as usize % 5000 + 1,
                _ => (state >> 40) as usize % 70_000 + 1,
            }
        };
        let shared = run_with(&mut random, seed % 2 == 0);
        assert!(shared == whole, "random pieces (seed {seed}) differ");
    }
}

/// A large payload that lies whole in shared input reaches the reader as a
/// slice of that input; a small one is copied.
#[test]
fn shared_input_is_sliced_not_copied() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let mut server = Session::server(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    client
        .stream(id)
        .unwrap()
        .write(&pattern(3, 20_000))
        .unwrap();
    let input = bytes::Bytes::from(take_bytes(&mut client));
    server.handle_input_bytes(Instant::ZERO, input.clone());
    let accepted = server.accept_stream().unwrap();
    let mut stream = server.stream(accepted).unwrap();
    let range = input.as_ptr_range();
    let mut chunks = 0;
    let mut got = Vec::new();
    while let Ok(Some(chunk)) = stream.read_chunk(usize::MAX) {
        if chunk.len() >= 8 * 1024 {
            assert!(range.contains(&chunk.as_ptr()), "payload was copied");
        }
        got.extend_from_slice(&chunk);
        chunks += 1;
    }
    assert!(chunks >= 2);
    assert_eq!(got, pattern(3, 20_000));
}

/// A client with several kinds of frames queued: SYN with data, a second
/// stream's data and FIN, and a ping.
fn loaded_client() -> Session {
    let now = Instant::ZERO;
    let mut client =
        Session::client(Config::default().with_max_frame_size(1000), now).expect("valid config");
    let a = client.open_stream(now).unwrap();
    let b = client.open_stream(now).unwrap();
    client.stream(a).unwrap().write(&pattern(5, 4321)).unwrap();
    client.stream(b).unwrap().write(&pattern(6, 2500)).unwrap();
    client.stream(b).unwrap().finish(now).unwrap();
    client.ping(Instant::ZERO).unwrap();
    client
}

#[test]
fn output_is_the_same_however_it_is_drained() {
    let whole = take_bytes(&mut loaded_client());
    // Five and three Data frames, the second stream's FIN in a frame of
    // its own, and the ping.
    assert_eq!(common::decode_all(&whole).len(), 5 + 3 + 1 + 1);

    let mut client = loaded_client();
    let mut tiny = Vec::new();
    let mut byte = [0u8; 1];
    while client.poll_transmit(&mut byte) == 1 {
        tiny.push(byte[0]);
    }
    assert!(tiny == whole, "one byte at a time");

    // Vectored form, starting mid-frame after a partial copy.
    let mut client = loaded_client();
    let mut mixed = vec![0u8; 7];
    assert_eq!(client.poll_transmit(&mut mixed), 7);
    while let Some(transmit) = client.poll_transmit_frame() {
        mixed.extend_from_slice(transmit.header());
        mixed.extend_from_slice(transmit.payload());
    }
    assert!(mixed == whole, "poll_transmit_frame");
}

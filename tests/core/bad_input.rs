//! Hostile input: random bytes and random frame sequences, interleaved with
//! random application calls. The session must never panic, must either stay
//! open or close with a typed reason (and a GoAway(1) for a protocol
//! error), must only ever transmit well-formed frames, and must never take
//! in or send out more than the windows allow.

use crate::common;

use std::collections::BTreeMap;

use muxplex::frame::{Flags, Frame, FrameDecoder, FrameType, Header};
use muxplex::testing::Rng;
use muxplex::{
    CloseReason, Config, Event, GOAWAY_PROTOCOL_ERROR, INITIAL_STREAM_WINDOW, Instant,
    MAX_FRAME_SIZE_LIMIT, Session, StreamId,
};

/// Decodes a whole transmission into frames with their start offsets, so a
/// test can tell what was sent after a given point.
fn frames_with_offsets(bytes: &[u8]) -> Vec<(usize, Frame)> {
    let mut decoder = FrameDecoder::new(MAX_FRAME_SIZE_LIMIT);
    let mut input = bytes;
    let mut start = 0;
    let mut frames = Vec::new();
    while !input.is_empty() {
        if !decoder.is_mid_frame() {
            start = bytes.len() - input.len();
        }
        match decoder.decode(&mut input) {
            Ok(Some(frame)) => frames.push((start, frame)),
            Ok(None) => {}
            Err(e) => panic!("session transmitted a malformed frame: {e}"),
        }
    }
    assert!(!decoder.is_mid_frame(), "transmission ended mid-frame");
    frames
}

/// Feeds `bytes` in random pieces.
fn feed_randomly(session: &mut Session, now: Instant, bytes: &[u8], rng: &mut Rng) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = rng.range(1, rest.len().min(64));
        session.handle_input(now, &rest[..n]);
        rest = &rest[n..];
    }
}

/// Checks how a session ended (or not) against its events and everything
/// it transmitted; `closed_at` is how many bytes it had transmitted when
/// the test first saw it closed.
fn check_outcome(session: &Session, events: &[Event], output: &[u8], closed_at: Option<usize>) {
    let closes: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Closed(_)))
        .collect();
    let frames = frames_with_offsets(output);
    let max_frame = session.config().max_frame_size as usize;
    for (_, frame) in &frames {
        assert!(
            frame.payload.len() <= max_frame,
            "oversized frame {frame:?}"
        );
    }
    let Some(reason) = session.close_reason() else {
        assert!(closes.is_empty(), "Closed event on an open session");
        return;
    };
    assert_eq!(closes, [&Event::Closed(reason)], "exactly one Closed event");
    let after: Vec<&Frame> = frames
        .iter()
        .filter(|(start, _)| *start >= closed_at.expect("close was seen"))
        .map(|(_, frame)| frame)
        .collect();
    match reason {
        CloseReason::Protocol(_) => {
            assert_eq!(after.len(), 1, "only the GoAway after the error: {after:?}");
            assert_eq!(after[0].header.frame_type, FrameType::GoAway);
            assert_eq!(after[0].header.length, GOAWAY_PROTOCOL_ERROR);
        }
        CloseReason::PeerGoAway { code } => {
            assert_ne!(code, 0, "GoAway(0) drains, it does not close");
            assert!(
                after.is_empty(),
                "nothing sent after the peer left: {after:?}"
            );
        }
        other => panic!("closed for a reason the input cannot cause: {other}"),
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(0xBAD);
    let mut closed = 0;
    for case in 0..4000 {
        let mut session = if case % 2 == 0 {
            let now = Instant::ZERO;
            Session::client(Config::default(), now).expect("valid config")
        } else {
            let now = Instant::ZERO;
            Session::server(Config::default(), now).expect("valid config")
        };
        let len = rng.range(0, 300);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        // Make some headers plausible, or nearly every case would stop at
        // the version byte.
        for at in (0..len).step_by(12) {
            if rng.chance(3, 4) {
                bytes[at] = 0;
                if at + 1 < len {
                    bytes[at + 1] %= 5;
                }
            }
        }
        feed_randomly(&mut session, Instant::ZERO, &bytes, &mut rng);
        let events = common::events(&mut session);
        let output = common::take_bytes(&mut session);
        closed += usize::from(session.is_closed());
        check_outcome(&session, &events, &output, session.is_closed().then_some(0));
    }
    assert!(
        closed > 100 && closed < 3900,
        "{closed} of 4000 closed: too uniform to test much"
    );
}

/// What the fuzzing application knows about one stream id.
#[derive(Default)]
struct Ledger {
    /// How many times a stream with this id came to exist.
    incarnations: u64,
    /// Bytes the application read.
    read: u64,
    /// Window the session granted the peer in WindowUpdates it sent.
    granted: u64,
    /// Data bytes the session sent.
    sent: u64,
    /// Window the peer granted in WindowUpdates we fed.
    peer_granted: u64,
}

/// A random frame from a peer that is `peer_is_client`, mostly plausible,
/// sometimes not. Most SYNs open `next_open`, the peer's next fresh id, so
/// that cases get past opening streams.
fn random_frame(rng: &mut Rng, peer_is_client: bool, next_open: &mut u32) -> (Header, Vec<u8>) {
    let frame_type = match rng.range(0, 99) {
        0..=54 => FrameType::Data,
        55..=84 => FrameType::WindowUpdate,
        85..=96 => FrameType::Ping,
        _ => FrameType::GoAway,
    };
    let mut flags = Flags::NONE;
    for (flag, one_in) in [
        (Flags::SYN, 8),
        (Flags::ACK, 4),
        (Flags::FIN, 8),
        (Flags::RST, 12),
    ] {
        if rng.chance(1, one_in) {
            flags |= flag;
        }
    }
    if rng.chance(1, 30) {
        flags = Flags::from_bits(rng.next_u64() as u16);
    }
    let peer_parity = u32::from(peer_is_client);
    let used = (*next_open / 2) as usize;
    let stream_id = match rng.range(0, 39) {
        _ if flags.contains(Flags::SYN) && rng.chance(4, 5) => {
            *next_open += 2;
            *next_open - 2
        }
        0 => 0,
        1 => rng.next_u64() as u32,
        // Some of our own ids, mostly ids the peer opened (or will).
        2..=5 => 2 * rng.range(1, 4) as u32 - peer_parity,
        _ => 2 * rng.range(0, used) as u32 + peer_parity,
    };
    let length = match frame_type {
        FrameType::Data if rng.chance(1, 60) => rng.range(1, 40_000_000) as u32,
        FrameType::Data => rng.range(0, 3000) as u32,
        FrameType::GoAway if rng.chance(9, 10) => 0,
        _ if rng.chance(1, 10) => rng.next_u64() as u32,
        _ => rng.range(0, 300_000) as u32,
    };
    let payload_len = if frame_type == FrameType::Data {
        (length as usize).min(4000)
    } else {
        0
    };
    let payload = (0..payload_len).map(|_| rng.next_u64() as u8).collect();
    (Header::new(frame_type, flags, stream_id, length), payload)
}

/// One random case: random frames interleaved with random application
/// calls, then every invariant checked.
fn fuzz_case(seed: u64) {
    let mut rng = Rng::new(seed);
    let is_client = rng.chance(1, 2);
    let config = Config::default().with_max_frame_size(rng.range(1, 20_000) as u32);
    let mut session = if is_client {
        let now = Instant::ZERO;
        Session::client(config, now).expect("valid config")
    } else {
        let now = Instant::ZERO;
        Session::server(config, now).expect("valid config")
    };
    let mut now = Instant::ZERO;
    let mut ledger: BTreeMap<u32, Ledger> = BTreeMap::new();
    let mut known: Vec<StreamId> = Vec::new();
    let mut events = Vec::new();
    let mut output = Vec::new();
    let mut closed_at = None;
    let mut next_open = if is_client { 2 } else { 1 };

    for _ in 0..rng.range(1, 80) {
        now += core::time::Duration::from_micros(rng.range(0, 5000) as u64);
        match rng.range(0, 9) {
            0..=4 => {
                let (header, payload) = random_frame(&mut rng, !is_client, &mut next_open);
                let mut bytes = header.encode().to_vec();
                if rng.chance(1, 100) {
                    bytes[rng.range(0, 1)] = rng.next_u64() as u8;
                }
                bytes.extend_from_slice(&payload);
                if header.frame_type == FrameType::WindowUpdate
                    && !header.flags.contains(Flags::RST)
                {
                    ledger.entry(header.stream_id).or_default().peer_granted +=
                        u64::from(header.length);
                }
                feed_randomly(&mut session, now, &bytes, &mut rng);
            }
            5 => {
                let mut buf = vec![0u8; rng.range(1, 40_000)];
                let n = session.poll_transmit(&mut buf);
                output.extend_from_slice(&buf[..n]);
            }
            6 => {
                if let Ok(id) = session.open_stream(now) {
                    ledger.entry(id.get()).or_default().incarnations += 1;
                    known.push(id);
                }
            }
            7 => {
                let _ = session.ping(now);
            }
            _ => {
                if let Some(&id) = known.get(rng.range(0, known.len().saturating_sub(1))) {
                    stream_action(&mut session, id, &mut rng, &mut ledger);
                }
            }
        }
        while let Some(event) = session.poll_event() {
            match event {
                Event::IncomingStream(id) => {
                    ledger.entry(id.get()).or_default().incarnations += 1;
                    // Leave some waiting, accepted by a later event or at the end.
                    if rng.chance(3, 4) {
                        match session.accept_stream() {
                            Some(id) => known.push(id),
                            None => assert!(session.is_closed(), "announced, not acceptable"),
                        }
                    }
                }
                Event::Readable(id) | Event::Writable(id) | Event::StreamReset { id, .. } => {
                    let existed = ledger.get(&id.get()).is_some_and(|e| e.incarnations > 0);
                    assert!(existed, "event for a stream that never existed: {id:?}");
                }
                _ => {}
            }
            events.push(event);
        }
        if closed_at.is_none() && session.is_closed() {
            closed_at = Some(output.len());
        }
    }

    // Settle the books: everything granted so far, then everything read.
    output.extend(common::take_bytes(&mut session));
    let frames = frames_with_offsets(&output);
    for (_, frame) in &frames {
        let entry = ledger.entry(frame.header.stream_id).or_default();
        match frame.header.frame_type {
            FrameType::WindowUpdate if !frame.header.flags.contains(Flags::RST) => {
                entry.granted += u64::from(frame.header.length);
            }
            FrameType::Data => entry.sent += frame.payload.len() as u64,
            _ => {}
        }
    }
    while let Some(id) = session.accept_stream() {
        known.push(id);
    }
    for &id in &known {
        if session.stream(id).is_ok() {
            let (data, _) = common::read_all(&mut session, id);
            ledger.entry(id.get()).or_default().read += data.len() as u64;
        }
    }
    events.extend(common::events(&mut session));
    check_outcome(&session, &events, &output, closed_at);

    let window = u64::from(INITIAL_STREAM_WINDOW);
    let mut incarnations = 0;
    for (id, entry) in &ledger {
        incarnations += entry.incarnations;
        assert!(
            entry.read <= entry.incarnations * window + entry.granted,
            "stream {id}: took in {} bytes with {} of window",
            entry.read,
            entry.incarnations * window + entry.granted
        );
        assert!(
            entry.sent <= entry.incarnations * window + entry.peer_granted,
            "stream {id}: sent {} bytes beyond the peer's window",
            entry.sent
        );
    }
    assert!(session.stream_count() as u64 <= incarnations);
}

/// A random application call on one stream; errors are fine, panics not.
fn stream_action(
    session: &mut Session,
    id: StreamId,
    rng: &mut Rng,
    ledger: &mut BTreeMap<u32, Ledger>,
) {
    let Ok(mut stream) = session.stream(id) else {
        return;
    };
    match rng.range(0, 5) {
        0 => {
            let _ = stream.write(&vec![7u8; rng.range(0, 300_000)]);
        }
        1 => {
            let mut buf = vec![0u8; rng.range(0, 5000)];
            if let Ok(n) = stream.read(&mut buf) {
                ledger.entry(id.get()).or_default().read += n as u64;
            }
        }
        2 => {
            if let Ok(Some(chunk)) = stream.read_chunk(rng.range(0, 5000)) {
                ledger.entry(id.get()).or_default().read += chunk.len() as u64;
            }
        }
        3 => {
            let now = Instant::ZERO;
            let _ = stream.finish(now);
        }
        4 => stream.reset(rng.range(0, 3) as u32),
        _ => stream.set_priority(rng.range(0, 3) as i32 - 1),
    }
}

#[test]
fn random_frames_with_random_calls_keep_every_invariant() {
    for seed in 0..3000 {
        fuzz_case(seed);
    }
}

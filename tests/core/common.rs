//! Helpers shared by the integration tests.

use muxplex::frame::{Flags, Frame, FrameDecoder, FrameType, Header};
use muxplex::testing::Rng;
use muxplex::{Event, Instant, MAX_FRAME_SIZE_LIMIT, Session, StreamError, StreamId};

/// Drains everything the session wants to send, as raw bytes, so a test can
/// inspect or forward exactly what would hit the wire.
pub(crate) fn take_bytes(session: &mut Session) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = session.poll_transmit(&mut buf);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Decodes a complete transmission. Panics on a malformed or truncated one:
/// a drained session must only ever have produced whole, valid frames.
pub(crate) fn decode_all(bytes: &[u8]) -> Vec<Frame> {
    let mut decoder = FrameDecoder::new(MAX_FRAME_SIZE_LIMIT);
    let mut input = bytes;
    let mut frames = Vec::new();
    while !input.is_empty() {
        match decoder.decode(&mut input) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => {}
            Err(e) => panic!("session transmitted a malformed frame: {e}"),
        }
    }
    assert!(!decoder.is_mid_frame(), "transmission ended mid-frame");
    frames
}

/// Drains and decodes what the session wants to send, so tests assert on
/// frames rather than bytes.
pub(crate) fn take_frames(session: &mut Session) -> Vec<Frame> {
    decode_all(&take_bytes(session))
}

/// Wire bytes of a frame without payload, to play a hand-crafted peer.
pub(crate) fn header(frame_type: FrameType, flags: Flags, stream_id: u32, length: u32) -> Vec<u8> {
    Header::new(frame_type, flags, stream_id, length)
        .encode()
        .to_vec()
}

/// Wire bytes of a Data frame carrying `payload`, to play a hand-crafted
/// peer.
pub(crate) fn data(flags: Flags, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = header(FrameType::Data, flags, stream_id, payload.len() as u32);
    bytes.extend_from_slice(payload);
    bytes
}

/// Feeds `bytes` in pieces of `chunk` bytes, to check that how the
/// transport splits input makes no difference.
pub(crate) fn feed(session: &mut Session, bytes: &[u8], chunk: usize) {
    for piece in bytes.chunks(chunk.max(1)) {
        session.handle_input(Instant::ZERO, piece);
    }
}

/// Drains the session's event queue.
pub(crate) fn events(session: &mut Session) -> Vec<Event> {
    core::iter::from_fn(|| session.poll_event()).collect()
}

/// Moves bytes both ways between two sessions until neither has anything
/// to send, for tests that need a plain lossless link without a `Pair`.
pub(crate) fn settle(a: &mut Session, b: &mut Session) {
    loop {
        let to_b = take_bytes(a);
        b.handle_input(Instant::ZERO, &to_b);
        let to_a = take_bytes(b);
        a.handle_input(Instant::ZERO, &to_a);
        if to_a.is_empty() && to_b.is_empty() {
            return;
        }
    }
}

/// Reads a stream until it reports something other than data; returns the
/// data and how reading stopped (`Ok(())` for the end of the stream), so a
/// test can assert on both.
pub(crate) fn read_all(session: &mut Session, id: StreamId) -> (Vec<u8>, Result<(), StreamError>) {
    let mut stream = session.stream(id).expect("stream is open");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (out, Ok(())),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Err(e)),
        }
    }
}

/// Deterministic pseudo-random bytes, so a receiver can check content and
/// order, not just length.
pub(crate) fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A server session that has accepted stream 1 from a hand-crafted client
/// which sent `payload` on its SYN. Its ACK has been drained, so its output
/// starts empty. Used by tests that play a hostile or unusual client.
pub(crate) fn server_with_stream(payload: &[u8]) -> Session {
    let mut server =
        Session::server(muxplex::Config::default(), Instant::ZERO).expect("valid config");
    server.handle_input(Instant::ZERO, &data(Flags::SYN, 1, payload));
    assert_eq!(
        events(&mut server),
        [Event::IncomingStream(StreamId::new(1))]
    );
    assert_eq!(server.accept_stream(), Some(StreamId::new(1)));
    let ack = take_frames(&mut server);
    assert_eq!(ack.len(), 1);
    assert!(ack[0].header.flags.contains(Flags::ACK));
    server
}

/// Whether `frames` hold a GoAway with `code`.
pub(crate) fn has_go_away(frames: &[Frame], code: u32) -> bool {
    frames
        .iter()
        .any(|f| f.header.frame_type == FrameType::GoAway && f.header.length == code)
}

/// The code of the RST `frames` hold for `stream`, if any.
pub(crate) fn reset_code(frames: &[Frame], stream: u32) -> Option<u32> {
    frames
        .iter()
        .find(|f| f.header.stream_id == stream && f.header.flags.contains(Flags::RST))
        .map(|f| f.header.length)
}

/// Cases per property test: `default`, or `MUXPLEX_PROPTEST_CASES` when set
/// (CI runs the property tests deeper than a local `cargo test`).
pub(crate) fn proptest_cases(default: u32) -> u32 {
    std::env::var("MUXPLEX_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

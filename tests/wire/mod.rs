//! Raw wire access for tests that play the peer by hand: craft frames a
//! real peer might send, and decode what a session sends back.

#![allow(dead_code)] // Each test binary uses a different subset.

use muxplex::Session;
use muxplex::frame::{Flags, Frame, FrameDecoder, FrameType, Header};

/// One encoded frame without payload (Data frames get `payload`).
pub fn frame(frame_type: FrameType, flags: Flags, stream: u32, length: u32) -> Vec<u8> {
    Header::new(frame_type, flags, stream, length)
        .encode()
        .to_vec()
}

/// One Data frame with its payload.
pub fn data(flags: Flags, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = frame(FrameType::Data, flags, stream, payload.len() as u32);
    bytes.extend_from_slice(payload);
    bytes
}

/// Everything the session wants to send, decoded into frames.
pub fn drain(session: &mut Session) -> Vec<Frame> {
    let mut wire = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = session.poll_transmit(&mut buf);
        if n == 0 {
            break;
        }
        wire.extend_from_slice(&buf[..n]);
    }
    let mut decoder = FrameDecoder::new(u32::MAX);
    let mut input = &wire[..];
    let mut frames = Vec::new();
    while let Some(frame) = decoder
        .decode(&mut input)
        .expect("a session sends valid frames")
    {
        frames.push(frame);
    }
    assert!(
        input.is_empty() && !decoder.is_mid_frame(),
        "frames end cleanly"
    );
    frames
}

/// Every event the session has queued.
pub fn events(session: &mut Session) -> Vec<muxplex::Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

/// Whether `frames` hold a GoAway with `code`.
pub fn has_go_away(frames: &[Frame], code: u32) -> bool {
    frames
        .iter()
        .any(|f| f.header.frame_type == FrameType::GoAway && f.header.length == code)
}

/// Whether `frames` hold an RST for `stream`, and with which code.
pub fn reset_code(frames: &[Frame], stream: u32) -> Option<u32> {
    frames
        .iter()
        .find(|f| f.header.stream_id == stream && f.header.flags.contains(Flags::RST))
        .map(|f| f.header.length)
}

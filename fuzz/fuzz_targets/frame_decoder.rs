//! The frame decoder on arbitrary bytes, cut at arbitrary points: it must
//! never panic, and whole-input and piecewise decoding must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muxplex::frame::{Frame, FrameDecoder, FrameError};

/// Decodes `input` fed in pieces of the given sizes (cycled).
fn decode(input: &[u8], pieces: &[u8]) -> (Vec<Frame>, Option<FrameError>) {
    let mut decoder = FrameDecoder::new(64 * 1024);
    let mut frames = Vec::new();
    let mut rest = input;
    let mut sizes = pieces.iter().cycle();
    while !rest.is_empty() {
        let size = usize::from(sizes.next().copied().unwrap_or(255))
            .max(1)
            .min(rest.len());
        let (mut piece, tail) = rest.split_at(size);
        rest = tail;
        while !piece.is_empty() {
            match decoder.decode(&mut piece) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => assert!(piece.is_empty(), "None only once input is used up"),
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| usize::from(b) % 16);
    let (pieces, input) = data
        .get(1..)
        .unwrap_or_default()
        .split_at(split.min(data.len().saturating_sub(1)));
    let whole = decode(input, &[]);
    let piecewise = decode(input, pieces);
    assert_eq!(whole, piecewise);
    for frame in &whole.0 {
        assert_eq!(frame.payload.len() as u32, frame.header.payload_len());
    }
});

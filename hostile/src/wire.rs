//! The yamux wire format, as the hostile client writes and reads it: a
//! 12-byte big-endian header (version 0, type, flags, stream id, length),
//! then, for Data frames only, `length` bytes of payload.

/// Data frame: `length` bytes of payload follow.
pub(crate) const DATA: u8 = 0;
/// Window update: `length` is an additive delta to the stream's window.
pub(crate) const WINDOW_UPDATE: u8 = 1;
/// Ping: `length` is an opaque value echoed back.
pub(crate) const PING: u8 = 2;
/// GoAway: `length` is the code (0 normal, 1 protocol error, 2 internal).
pub(crate) const GO_AWAY: u8 = 3;

/// Opens a stream (or, on a ping, asks for a pong).
pub(crate) const SYN: u16 = 1;
/// Acknowledges a stream (or, on a ping, is the pong).
pub(crate) const ACK: u16 = 2;
/// Half-closes a stream: the sender sends no more.
pub(crate) const FIN: u16 = 4;
/// Resets a stream.
pub(crate) const RST: u16 = 8;

/// The size of a frame header.
pub(crate) const HEADER_LEN: usize = 12;
/// The window each stream starts with, in each direction.
pub(crate) const INITIAL_WINDOW: u32 = 256 * 1024;

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// Frame type: [`DATA`], [`WINDOW_UPDATE`], [`PING`] or [`GO_AWAY`].
    pub kind: u8,
    /// Flags: [`SYN`], [`ACK`], [`FIN`], [`RST`].
    pub flags: u16,
    /// Stream id (0 for the session).
    pub stream: u32,
    /// Payload length, window delta, ping value or GoAway code.
    pub length: u32,
}

impl Header {
    /// Whether all of `flags` are set.
    pub(crate) fn has(&self, flags: u16) -> bool {
        self.flags & flags == flags
    }
}

/// Encodes a header.
pub(crate) fn header(kind: u8, flags: u16, stream: u32, length: u32) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[1] = kind;
    out[2..4].copy_from_slice(&flags.to_be_bytes());
    out[4..8].copy_from_slice(&stream.to_be_bytes());
    out[8..12].copy_from_slice(&length.to_be_bytes());
    out
}

/// Appends a frame without payload (window update, ping, GoAway, or an
/// empty Data frame).
pub(crate) fn push_frame(out: &mut Vec<u8>, kind: u8, flags: u16, stream: u32, length: u32) {
    out.extend_from_slice(&header(kind, flags, stream, length));
}

/// Appends a Data frame carrying `payload`.
pub(crate) fn push_data(out: &mut Vec<u8>, flags: u16, stream: u32, payload: &[u8]) {
    let length = u32::try_from(payload.len()).expect("payload below 4 GiB");
    out.extend_from_slice(&header(DATA, flags, stream, length));
    out.extend_from_slice(payload);
}

/// The payload byte at `offset` of stream `stream`: differs per stream and
/// per position, so a swapped, lost or repeated byte shows in an echo.
pub(crate) fn pattern_byte(stream: u32, offset: usize) -> u8 {
    (stream as usize)
        .wrapping_mul(31)
        .wrapping_add(offset.wrapping_mul(7))
        .wrapping_add(offset / 251) as u8
}

/// `len` payload bytes of stream `stream` from `offset` on.
pub(crate) fn pattern(stream: u32, offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len)
        .map(|i| pattern_byte(stream, i))
        .collect()
}

/// What the decoder found in the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Item<'a> {
    /// A complete header; a Data header's payload follows as
    /// [`Item::Payload`] pieces.
    Header(Header),
    /// A piece of the payload of the last Data header.
    Payload(&'a [u8]),
}

/// An incremental frame decoder: feed it the transport's bytes in any
/// chunking.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    partial: [u8; HEADER_LEN],
    have: usize,
    payload_left: usize,
}

impl Decoder {
    /// Decodes `input`, calling `on_item` for each header and payload piece.
    pub(crate) fn feed<'a>(&mut self, mut input: &'a [u8], mut on_item: impl FnMut(Item<'a>)) {
        while !input.is_empty() {
            if self.payload_left > 0 {
                let n = self.payload_left.min(input.len());
                on_item(Item::Payload(&input[..n]));
                self.payload_left -= n;
                input = &input[n..];
                continue;
            }
            let n = (HEADER_LEN - self.have).min(input.len());
            self.partial[self.have..self.have + n].copy_from_slice(&input[..n]);
            self.have += n;
            input = &input[n..];
            if self.have < HEADER_LEN {
                return;
            }
            self.have = 0;
            let b = self.partial;
            let header = Header {
                kind: b[1],
                flags: u16::from_be_bytes([b[2], b[3]]),
                stream: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                length: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            };
            if header.kind == DATA {
                self.payload_left = header.length as usize;
            }
            on_item(Item::Header(header));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_frames_in_any_chunking() {
        let mut wire = Vec::new();
        push_data(&mut wire, SYN, 1, b"hello");
        push_frame(&mut wire, PING, ACK, 0, 7);
        for chunk in [1, 3, 12, 100] {
            let mut decoder = Decoder::default();
            let mut headers = Vec::new();
            let mut payload = Vec::new();
            for piece in wire.chunks(chunk) {
                decoder.feed(piece, |item| match item {
                    Item::Header(h) => headers.push(h),
                    Item::Payload(p) => payload.extend_from_slice(p),
                });
            }
            assert_eq!(payload, b"hello");
            assert_eq!(headers.len(), 2);
            assert_eq!(
                (headers[0].kind, headers[0].stream, headers[0].length),
                (DATA, 1, 5)
            );
            assert!(headers[0].has(SYN));
            assert_eq!((headers[1].kind, headers[1].length), (PING, 7));
            assert!(headers[1].has(ACK));
        }
    }
}

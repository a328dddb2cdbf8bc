//! The yamux frame codec: the 12-byte header and Data payloads.
//!
//! Every frame starts with a big-endian header:
//!
//! | bytes | field     | meaning                                          |
//! |-------|-----------|--------------------------------------------------|
//! | 0     | version   | always 0                                         |
//! | 1     | type      | 0 Data, 1 WindowUpdate, 2 Ping, 3 GoAway         |
//! | 2..4  | flags     | SYN 1, ACK 2, FIN 4, RST 8                       |
//! | 4..8  | stream id | 0 for the session itself                         |
//! | 8..12 | length    | payload length, window delta, ping value or code |
//!
//! Only Data frames carry a payload. [`FrameDecoder`] accepts input split at
//! any byte boundary; the session uses the lower-level [`HeaderBuffer`] so it
//! can judge a header (window, stream state) before it buffers the payload.

use core::fmt;

use bytes::{Bytes, BytesMut};

/// Length of every yamux header in bytes.
pub const HEADER_LEN: usize = 12;

/// The only protocol version yamux defines.
pub const PROTOCOL_VERSION: u8 = 0;

/// The kind of a frame, from the header's type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameType {
    /// Stream data; the length is the payload length.
    Data,
    /// A stream window grant; the length is an additive delta.
    WindowUpdate,
    /// A ping (SYN) or its answer (ACK); the length is an opaque value.
    Ping,
    /// The session is ending; the length is the reason code.
    GoAway,
}

impl FrameType {
    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Data),
            1 => Some(Self::WindowUpdate),
            2 => Some(Self::Ping),
            3 => Some(Self::GoAway),
            _ => None,
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            Self::Data => 0,
            Self::WindowUpdate => 1,
            Self::Ping => 2,
            Self::GoAway => 3,
        }
    }
}

/// The flag bits of a header.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u16);

impl Flags {
    /// No flags.
    pub const NONE: Flags = Flags(0);
    /// Opens a stream, or asks for a pong.
    pub const SYN: Flags = Flags(1);
    /// Acknowledges a stream, or answers a ping.
    pub const ACK: Flags = Flags(2);
    /// Half-closes the sender's direction of a stream.
    pub const FIN: Flags = Flags(4);
    /// Resets a stream in both directions.
    pub const RST: Flags = Flags(8);

    /// Flags from their wire bits; unknown bits are kept and ignored.
    pub const fn from_bits(bits: u16) -> Self {
        Flags(bits)
    }

    /// The wire bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Flags::SYN, "SYN"),
            (Flags::ACK, "ACK"),
            (Flags::FIN, "FIN"),
            (Flags::RST, "RST"),
        ];
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("NONE")?;
        }
        Ok(())
    }
}

/// A decoded or to-be-encoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// The frame type.
    pub frame_type: FrameType,
    /// The flag bits.
    pub flags: Flags,
    /// The stream the frame belongs to; 0 for session frames.
    pub stream_id: u32,
    /// Payload length (Data), window delta (WindowUpdate), opaque value
    /// (Ping) or reason code (GoAway).
    pub length: u32,
}

impl Header {
    /// A header from its parts.
    pub const fn new(frame_type: FrameType, flags: Flags, stream_id: u32, length: u32) -> Self {
        Header {
            frame_type,
            flags,
            stream_id,
            length,
        }
    }

    /// The 12 wire bytes of this header.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = PROTOCOL_VERSION;
        out[1] = self.frame_type.to_byte();
        out[2..4].copy_from_slice(&self.flags.bits().to_be_bytes());
        out[4..8].copy_from_slice(&self.stream_id.to_be_bytes());
        out[8..12].copy_from_slice(&self.length.to_be_bytes());
        out
    }

    /// Parses 12 wire bytes, rejecting an unknown version or type.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Self, FrameError> {
        if bytes[0] != PROTOCOL_VERSION {
            return Err(FrameError::UnsupportedVersion(bytes[0]));
        }
        let frame_type =
            FrameType::from_byte(bytes[1]).ok_or(FrameError::UnknownFrameType(bytes[1]))?;
        Ok(Header {
            frame_type,
            flags: Flags(u16::from_be_bytes([bytes[2], bytes[3]])),
            stream_id: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            length: u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
        })
    }

    /// How many payload bytes follow this header on the wire.
    pub fn payload_len(&self) -> u32 {
        match self.frame_type {
            FrameType::Data => self.length,
            _ => 0,
        }
    }
}

/// A malformed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameError {
    /// The version byte was not 0.
    UnsupportedVersion(u8),
    /// The type byte named no yamux frame type.
    UnknownFrameType(u8),
    /// A Data frame announced a payload above the configured maximum.
    FrameTooLarge {
        /// The stream the frame was for.
        stream_id: u32,
        /// The announced payload length.
        length: u32,
        /// The largest payload accepted.
        max: u32,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::UnsupportedVersion(v) => write!(f, "unsupported yamux version {v}"),
            FrameError::UnknownFrameType(t) => write!(f, "unknown yamux frame type {t}"),
            FrameError::FrameTooLarge {
                stream_id,
                length,
                max,
            } => write!(
                f,
                "data frame of {length} bytes on stream {stream_id} exceeds the maximum of {max}"
            ),
        }
    }
}

impl core::error::Error for FrameError {}

/// Collects the 12 bytes of a header from input split anywhere.
#[derive(Clone, Debug, Default)]
pub struct HeaderBuffer {
    bytes: [u8; HEADER_LEN],
    filled: usize,
}

impl HeaderBuffer {
    /// Takes header bytes from the front of `input`; returns the header once
    /// all 12 bytes are in, and starts over for the next one.
    pub fn fill(&mut self, input: &mut &[u8]) -> Result<Option<Header>, FrameError> {
        let take = (HEADER_LEN - self.filled).min(input.len());
        self.bytes[self.filled..self.filled + take].copy_from_slice(&input[..take]);
        *input = &input[take..];
        self.filled += take;
        if self.filled < HEADER_LEN {
            return Ok(None);
        }
        self.filled = 0;
        Header::decode(&self.bytes).map(Some)
    }

    /// Whether part of a header has been collected.
    pub fn is_partial(&self) -> bool {
        self.filled > 0
    }
}

/// A complete decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The payload: empty for every type but Data.
    pub payload: Bytes,
}

/// An incremental decoder of whole frames from input split at any boundary.
#[derive(Debug)]
pub struct FrameDecoder {
    header: HeaderBuffer,
    payload: Option<(Header, BytesMut)>,
    max_data_len: u32,
}

impl FrameDecoder {
    /// A decoder that rejects Data payloads longer than `max_data_len`.
    #[must_use]
    pub fn new(max_data_len: u32) -> Self {
        FrameDecoder {
            header: HeaderBuffer::default(),
            payload: None,
            max_data_len,
        }
    }

    /// Consumes bytes from the front of `input` and returns the next whole
    /// frame, or `None` once `input` is used up mid-frame. Call again while
    /// `input` is not empty. After an error the stream of frames is corrupt
    /// and the decoder must not be used further.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<Frame>, FrameError> {
        if self.payload.is_none() {
            let Some(header) = self.header.fill(input)? else {
                return Ok(None);
            };
            let len = header.payload_len();
            if len > self.max_data_len {
                return Err(FrameError::FrameTooLarge {
                    stream_id: header.stream_id,
                    length: len,
                    max: self.max_data_len,
                });
            }
            if len == 0 {
                return Ok(Some(Frame {
                    header,
                    payload: Bytes::new(),
                }));
            }
            self.payload = Some((header, BytesMut::with_capacity(len as usize)));
        }
        let (header, buf) = self.payload.as_mut().expect("payload state set above");
        let want = header.length as usize - buf.len();
        let take = want.min(input.len());
        buf.extend_from_slice(&input[..take]);
        *input = &input[take..];
        if take < want {
            return Ok(None);
        }
        let (header, buf) = self.payload.take().expect("payload state set above");
        Ok(Some(Frame {
            header,
            payload: buf.freeze(),
        }))
    }

    /// Whether a frame has been started but not finished.
    pub fn is_mid_frame(&self) -> bool {
        self.payload.is_some() || self.header.is_partial()
    }
}

/// Appends a header and its payload to `out`.
pub fn encode_frame(header: &Header, payload: &[u8], out: &mut BytesMut) {
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn header_round_trips() {
        let header = Header::new(FrameType::WindowUpdate, Flags::SYN | Flags::ACK, 7, 1 << 20);
        let bytes = header.encode();
        assert_eq!(bytes, [0, 1, 0, 3, 0, 0, 0, 7, 0, 0x10, 0, 0]);
        assert_eq!(Header::decode(&bytes), Ok(header));
    }

    #[test]
    fn decodes_one_byte_at_a_time() {
        let mut wire = BytesMut::new();
        encode_frame(
            &Header::new(FrameType::Data, Flags::SYN, 1, 3),
            b"abc",
            &mut wire,
        );
        encode_frame(
            &Header::new(FrameType::Ping, Flags::SYN, 0, 9),
            b"",
            &mut wire,
        );
        let mut decoder = FrameDecoder::new(16);
        let mut frames = Vec::new();
        for byte in wire.iter() {
            let mut input: &[u8] = core::slice::from_ref(byte);
            while let Some(frame) = decoder.decode(&mut input).unwrap() {
                frames.push(frame);
            }
            assert!(input.is_empty());
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(&frames[0].payload[..], b"abc");
        assert_eq!(frames[1].header.length, 9);
        assert!(!decoder.is_mid_frame());
    }

    #[test]
    fn rejects_bad_headers() {
        let mut decoder = FrameDecoder::new(4);
        let mut bad_version: &[u8] = &[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(
            decoder.decode(&mut bad_version),
            Err(FrameError::UnsupportedVersion(1))
        );
        let mut decoder = FrameDecoder::new(4);
        let mut bad_type: &[u8] = &[0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(
            decoder.decode(&mut bad_type),
            Err(FrameError::UnknownFrameType(4))
        );
        let mut decoder = FrameDecoder::new(4);
        let mut too_long: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5];
        assert_eq!(
            decoder.decode(&mut too_long),
            Err(FrameError::FrameTooLarge {
                stream_id: 1,
                length: 5,
                max: 4
            })
        );
    }

    #[test]
    fn window_update_length_is_not_a_payload() {
        let mut decoder = FrameDecoder::new(0);
        let mut input: &[u8] =
            &Header::new(FrameType::WindowUpdate, Flags::NONE, 3, 1 << 30).encode();
        let frame = decoder.decode(&mut input).unwrap().unwrap();
        assert_eq!(frame.header.length, 1 << 30);
        assert!(frame.payload.is_empty());
    }
}

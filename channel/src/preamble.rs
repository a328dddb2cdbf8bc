//! The preamble codec: the open message a channel's opener sends as the
//! stream's first bytes, and the answer the accepting end sends back. The
//! byte layout is in the [crate documentation](crate#wire-format).
//!
//! Decoding is incremental: the decoders take any chunking, one byte at a
//! time included, consume exactly the bytes of their message (what follows
//! is the channel's data) and check every length against [`Limits`] as soon
//! as the header has arrived, before the body is buffered.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The first four bytes of every preamble message: ASCII `mxch`. A stream
/// that starts otherwise is not a channel.
pub const MAGIC: [u8; 4] = *b"mxch";

/// The preamble version this crate speaks, byte 4 of every message.
pub const VERSION: u8 = 1;

/// The fixed header of an open message, in bytes.
pub const OPEN_HEADER_LEN: usize = 13;

/// The fixed header of an answer (accept or reject), in bytes.
pub const ANSWER_HEADER_LEN: usize = 10;

const KIND_OPEN: u8 = 0x01;
const KIND_ACCEPT: u8 = 0x02;
const KIND_REJECT: u8 = 0x03;

/// A length-prefixed field of the preamble.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The protocol name of an open message (UTF-8, 1 to 255 bytes).
    Protocol,
    /// The id bytes of an open message.
    Id,
    /// The handshake payload of an open or accept message.
    Handshake,
    /// The reason text of a reject message (UTF-8).
    Reason,
}

impl Field {
    /// The most the field's length prefix can say.
    const fn wire_max(self) -> usize {
        match self {
            Field::Protocol => u8::MAX as usize,
            Field::Id | Field::Reason => u16::MAX as usize,
            Field::Handshake => u32::MAX as usize,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Protocol => "protocol name",
            Field::Id => "id",
            Field::Handshake => "handshake payload",
            Field::Reason => "reject reason",
        })
    }
}

/// The largest field lengths an end sends or accepts. A message over the
/// receiver's limits is a decode error, so both ends need compatible
/// limits; the defaults are the same everywhere.
///
/// A limit above what the field's length prefix can carry (255 for the
/// protocol, 65,535 for the id and the reason, 2^32 - 1 for a handshake)
/// is that maximum. With the defaults an open message is at most
/// 13 + 255 + 1,024 + 16,384 = 17,676 bytes ([`max_open_len`](Self::max_open_len)),
/// an answer at most 10 + 16,384 ([`max_answer_len`](Self::max_answer_len)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Protocol name bytes (default 255, the wire's maximum).
    pub max_protocol: usize,
    /// Id bytes (default 1,024).
    pub max_id: usize,
    /// Handshake payload bytes, either way (default 16 KiB).
    pub max_handshake: usize,
    /// Reject reason bytes (default 1,024).
    pub max_reason: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_protocol: 255,
            max_id: 1024,
            max_handshake: 16 * 1024,
            max_reason: 1024,
        }
    }
}

impl Limits {
    /// The longest `field` may be, within what its prefix can carry.
    pub fn max(&self, field: Field) -> usize {
        let configured = match field {
            Field::Protocol => self.max_protocol,
            Field::Id => self.max_id,
            Field::Handshake => self.max_handshake,
            Field::Reason => self.max_reason,
        };
        configured.min(field.wire_max())
    }

    /// The longest open message within these limits.
    pub fn max_open_len(&self) -> usize {
        OPEN_HEADER_LEN
            .saturating_add(self.max(Field::Protocol))
            .saturating_add(self.max(Field::Id))
            .saturating_add(self.max(Field::Handshake))
    }

    /// The longest answer within these limits.
    pub fn max_answer_len(&self) -> usize {
        ANSWER_HEADER_LEN.saturating_add(self.max(Field::Handshake).max(self.max(Field::Reason)))
    }

    fn check(&self, field: Field, len: usize) -> Result<(), FieldError> {
        let max = self.max(field);
        match len > max {
            true => Err(FieldError::TooLong { field, len, max }),
            false => Ok(()),
        }
    }

    /// The checks an open message's lengths must pass, sending or receiving.
    fn check_open(&self, protocol: usize, id: usize, handshake: usize) -> Result<(), FieldError> {
        if protocol == 0 {
            return Err(FieldError::EmptyProtocol);
        }
        self.check(Field::Protocol, protocol)?;
        self.check(Field::Id, id)?;
        self.check(Field::Handshake, handshake)
    }
}

/// A field that breaks the [`Limits`] (or the format): why a message
/// cannot be encoded, and one of the reasons one cannot be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldError {
    /// The protocol name is empty.
    EmptyProtocol,
    /// A field is longer than the limit allows.
    TooLong {
        /// Which field.
        field: Field,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::EmptyProtocol => f.write_str("the protocol name is empty"),
            FieldError::TooLong { field, len, max } => {
                write!(
                    f,
                    "the {field} has {len} bytes, more than the limit of {max}"
                )
            }
        }
    }
}

impl core::error::Error for FieldError {}

/// Why bytes received are not a valid preamble message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The first bytes are not [`MAGIC`]: the stream is not a channel.
    BadMagic,
    /// The message is of a preamble version this end does not speak.
    UnsupportedVersion(u8),
    /// The message kind (byte 5) is not one expected here.
    UnknownKind(u8),
    /// A length breaks the limits, or the protocol name is empty.
    Field(FieldError),
    /// A text field (protocol name, reject reason) is not UTF-8.
    NotUtf8(Field),
    /// The decoder already returned its message.
    Finished,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadMagic => f.write_str("not a channel preamble (bad magic bytes)"),
            DecodeError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "preamble version {v} is not supported (this end speaks {VERSION})"
                )
            }
            DecodeError::UnknownKind(k) => write!(f, "unknown preamble message kind {k:#04x}"),
            DecodeError::Field(e) => write!(f, "invalid preamble: {e}"),
            DecodeError::NotUtf8(field) => write!(f, "the {field} is not UTF-8"),
            DecodeError::Finished => f.write_str("the decoder already returned its message"),
        }
    }
}

impl core::error::Error for DecodeError {}

impl From<FieldError> for DecodeError {
    fn from(error: FieldError) -> Self {
        DecodeError::Field(error)
    }
}

/// The code of a [`Reject`]. Codes below [`RejectCode::APPLICATION`] are
/// this crate's; an application rejecting a channel itself uses codes
/// from `APPLICATION` up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RejectCode(pub u16);

impl RejectCode {
    /// Nobody listens for the channel's protocol and id.
    pub const NO_LISTENER: RejectCode = RejectCode(1);
    /// The listener's backlog of channels not yet accepted is full.
    pub const BACKLOG_FULL: RejectCode = RejectCode(2);
    /// The open message was malformed (the reason names the fault).
    pub const MALFORMED: RejectCode = RejectCode(3);
    /// The open message is of a preamble version the acceptor does not
    /// speak.
    pub const UNSUPPORTED_VERSION: RejectCode = RejectCode(4);
    /// The open message did not complete within the acceptor's deadline.
    pub const TIMEOUT: RejectCode = RejectCode(5);
    /// The listener went away before accepting the channel.
    pub const LISTENER_CLOSED: RejectCode = RejectCode(6);
    /// The first code free for applications.
    pub const APPLICATION: RejectCode = RejectCode(0x100);
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            RejectCode::NO_LISTENER => "no listener",
            RejectCode::BACKLOG_FULL => "backlog full",
            RejectCode::MALFORMED => "malformed preamble",
            RejectCode::UNSUPPORTED_VERSION => "unsupported version",
            RejectCode::TIMEOUT => "preamble timeout",
            RejectCode::LISTENER_CLOSED => "listener closed",
            _ => return write!(f, "code {}", self.0),
        };
        write!(f, "{name} ({})", self.0)
    }
}

/// The open message: which channel the opener wants, with an optional
/// handshake payload for the listener.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Open {
    /// The protocol name (UTF-8, not empty).
    pub protocol: String,
    /// The id bytes (may be empty).
    pub id: Vec<u8>,
    /// The handshake payload (empty for none).
    pub handshake: Vec<u8>,
}

impl Open {
    /// The open message for `protocol` and `id`, with `handshake` (empty
    /// for none).
    pub fn new(protocol: &str, id: &[u8], handshake: &[u8]) -> Self {
        Open {
            protocol: String::from(protocol),
            id: id.to_vec(),
            handshake: handshake.to_vec(),
        }
    }

    /// The encoded message, or why it breaks `limits`.
    pub fn encode(&self, limits: &Limits) -> Result<Vec<u8>, FieldError> {
        let (p, i, h) = (self.protocol.len(), self.id.len(), self.handshake.len());
        limits.check_open(p, i, h)?;
        let mut out = Vec::with_capacity(OPEN_HEADER_LEN + p + i + h);
        header(&mut out, KIND_OPEN);
        // The checks above keep each length within its prefix.
        out.push(p as u8);
        out.extend_from_slice(&(i as u16).to_be_bytes());
        out.extend_from_slice(&(h as u32).to_be_bytes());
        out.extend_from_slice(self.protocol.as_bytes());
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.handshake);
        Ok(out)
    }
}

/// A refusal: a code and a human-readable reason.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reject {
    /// Why, for programs.
    pub code: RejectCode,
    /// Why, for people (UTF-8; may be empty).
    pub reason: String,
}

impl Reject {
    /// A reject whose reason is cut (at a character boundary) to fit
    /// `limits`, so that it always encodes.
    pub fn fitted(code: RejectCode, reason: &str, limits: &Limits) -> Self {
        let mut end = reason.len().min(limits.max(Field::Reason));
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        Reject {
            code,
            reason: String::from(&reason[..end]),
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.reason)
    }
}

/// The accepting end's answer to an open message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Answer {
    /// The channel is open; the listener's handshake payload (empty for
    /// none).
    Accept {
        /// The listener's handshake payload.
        handshake: Vec<u8>,
    },
    /// The channel is refused.
    Reject(Reject),
}

impl Answer {
    /// The encoded message, or why it breaks `limits`.
    pub fn encode(&self, limits: &Limits) -> Result<Vec<u8>, FieldError> {
        let mut out = Vec::new();
        match self {
            Answer::Accept { handshake } => {
                limits.check(Field::Handshake, handshake.len())?;
                out.reserve_exact(ANSWER_HEADER_LEN + handshake.len());
                header(&mut out, KIND_ACCEPT);
                out.extend_from_slice(&(handshake.len() as u32).to_be_bytes());
                out.extend_from_slice(handshake);
            }
            Answer::Reject(Reject { code, reason }) => {
                limits.check(Field::Reason, reason.len())?;
                out.reserve_exact(ANSWER_HEADER_LEN + reason.len());
                header(&mut out, KIND_REJECT);
                out.extend_from_slice(&code.0.to_be_bytes());
                out.extend_from_slice(&(reason.len() as u16).to_be_bytes());
                out.extend_from_slice(reason.as_bytes());
            }
        }
        Ok(out)
    }
}

/// Bytes 0 to 5 of every message.
fn header(out: &mut Vec<u8>, kind: u8) {
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind);
}

/// The part both decoders share: checks the common header bytes as they
/// arrive, learns the message's length from its fixed header and collects
/// exactly that many bytes.
#[derive(Debug)]
struct Framer {
    limits: Limits,
    header_len: usize,
    buf: Vec<u8>,
    /// The whole message's length, once the header has arrived.
    total: Option<usize>,
    /// The error returned once, returned again on every later call.
    failed: Option<DecodeError>,
    finished: bool,
}

impl Framer {
    fn new(limits: Limits, header_len: usize) -> Self {
        Framer {
            limits,
            header_len,
            buf: Vec::new(),
            total: None,
            failed: None,
            finished: false,
        }
    }

    fn needed(&self) -> usize {
        if self.failed.is_some() || self.finished {
            return 0;
        }
        self.total.unwrap_or(self.header_len) - self.buf.len()
    }

    /// Takes what it needs from the front of `input`; the whole message
    /// once it is complete. `kind_ok` says whether byte 5 is a kind this
    /// decoder takes, `body_len` reads (and checks) the body's length from
    /// the complete header.
    fn feed(
        &mut self,
        input: &mut &[u8],
        kind_ok: fn(u8) -> bool,
        body_len: fn(&[u8], &Limits) -> Result<usize, DecodeError>,
    ) -> Result<Option<Vec<u8>>, DecodeError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.finished {
            return Err(DecodeError::Finished);
        }
        let result = self.collect(input, kind_ok, body_len);
        self.remember(result)
    }

    /// Keeps an error for later calls (also one found in a complete
    /// message's body).
    fn remember<T>(&mut self, result: Result<T, DecodeError>) -> Result<T, DecodeError> {
        if let Err(error) = &result {
            self.failed = Some(*error);
        }
        result
    }

    fn collect(
        &mut self,
        input: &mut &[u8],
        kind_ok: fn(u8) -> bool,
        body_len: fn(&[u8], &Limits) -> Result<usize, DecodeError>,
    ) -> Result<Option<Vec<u8>>, DecodeError> {
        // The header byte by byte, so a stream that is not a channel is
        // known from its first differing byte (the byte stays in `input`).
        while self.total.is_none() {
            let Some((&byte, rest)) = input.split_first() else {
                return Ok(None);
            };
            match self.buf.len() {
                at @ 0..4 if byte != MAGIC[at] => return Err(DecodeError::BadMagic),
                4 if byte != VERSION => return Err(DecodeError::UnsupportedVersion(byte)),
                5 if !kind_ok(byte) => return Err(DecodeError::UnknownKind(byte)),
                _ => {}
            }
            self.buf.push(byte);
            *input = rest;
            if self.buf.len() == self.header_len {
                let body = body_len(&self.buf, &self.limits)?;
                self.total = Some(self.header_len + body);
            }
        }
        let take = self.needed().min(input.len());
        let (now, rest) = input.split_at(take);
        self.grow_for(now.len());
        self.buf.extend_from_slice(now);
        *input = rest;
        if self.needed() > 0 {
            return Ok(None);
        }
        self.finished = true;
        Ok(Some(core::mem::take(&mut self.buf)))
    }
}

impl Framer {
    /// Makes room for `more` bytes of the message: by doubling, never past
    /// the message's length, and never ahead of the bytes that came (a
    /// header alone does not reserve its whole body).
    fn grow_for(&mut self, more: usize) {
        let len = self.buf.len() + more;
        if len > self.buf.capacity() {
            let total = self.total.unwrap_or(self.header_len);
            let target = len.max(self.buf.capacity() * 2).min(total);
            self.buf.reserve_exact(target - self.buf.len());
        }
    }
}

fn be16(bytes: &[u8]) -> usize {
    u16::from_be_bytes([bytes[0], bytes[1]]) as usize
}

fn be32(bytes: &[u8]) -> usize {
    // Saturates on 16-bit targets, where no message can be that long and
    // the limit check refuses it.
    usize::try_from(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        .unwrap_or(usize::MAX)
}

fn utf8(bytes: &[u8], field: Field) -> Result<String, DecodeError> {
    core::str::from_utf8(bytes)
        .map(String::from)
        .map_err(|_| DecodeError::NotUtf8(field))
}

/// Decodes an [`Open`] message from any chunking of the stream's first
/// bytes.
///
/// ```
/// use muxplex_channel::preamble::{Limits, Open, OpenDecoder};
///
/// let open = Open::new("chat/v1", &[7], b"hi");
/// let mut wire = open.encode(&Limits::default()).unwrap();
/// wire.extend_from_slice(b"channel data");
///
/// let mut decoder = OpenDecoder::new(Limits::default());
/// let mut input = &wire[..];
/// let decoded = loop {
///     // Three bytes at a time, as a stream might deliver them.
///     let mut chunk = &input[..3.min(input.len())];
///     let offered = chunk.len();
///     let result = decoder.decode(&mut chunk).unwrap();
///     input = &input[offered - chunk.len()..];
///     if let Some(open) = result {
///         break open;
///     }
/// };
/// assert_eq!(decoded, open);
/// assert_eq!(input, b"channel data");
/// ```
#[derive(Debug)]
pub struct OpenDecoder(Framer);

impl OpenDecoder {
    /// A decoder that refuses fields over `limits`.
    pub fn new(limits: Limits) -> Self {
        OpenDecoder(Framer::new(limits, OPEN_HEADER_LEN))
    }

    /// How many more bytes the message needs at least (exactly, once the
    /// header is in); 0 once it returned its message or an error. Reading
    /// no more than this from the stream leaves the channel's data unread.
    pub fn needed(&self) -> usize {
        self.0.needed()
    }

    /// Takes bytes from the front of `input`, at most up to the message's
    /// end; returns the message once complete. After an error in the magic
    /// (at the first byte that differs), the version or the kind, `input`
    /// starts at that byte; after one in a length, right after the header;
    /// after a text that is not UTF-8, after the message. Every later call
    /// returns the same error.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<Open>, DecodeError> {
        let Some(message) = self.0.feed(
            input,
            |kind| kind == KIND_OPEN,
            |header, limits| {
                let (p, i, h) = (header[6] as usize, be16(&header[7..]), be32(&header[9..]));
                limits.check_open(p, i, h)?;
                Ok(p + i + h)
            },
        )?
        else {
            return Ok(None);
        };
        let p = message[6] as usize;
        let i = be16(&message[7..]);
        let body = &message[OPEN_HEADER_LEN..];
        Ok(Some(Open {
            protocol: self.0.remember(utf8(&body[..p], Field::Protocol))?,
            id: body[p..p + i].to_vec(),
            handshake: body[p + i..].to_vec(),
        }))
    }

    /// The bytes taken so far and not yet returned as a message: for a
    /// stream that turned out not to be a channel
    /// ([`DecodeError::BadMagic`]), what it started with.
    pub fn consumed(&self) -> &[u8] {
        &self.0.buf
    }
}

/// Decodes an [`Answer`] from any chunking of the bytes the accepting end
/// sends first; see [`OpenDecoder`] for how input is taken.
#[derive(Debug)]
pub struct AnswerDecoder(Framer);

impl AnswerDecoder {
    /// A decoder that refuses fields over `limits`.
    pub fn new(limits: Limits) -> Self {
        AnswerDecoder(Framer::new(limits, ANSWER_HEADER_LEN))
    }

    /// As [`OpenDecoder::needed`].
    pub fn needed(&self) -> usize {
        self.0.needed()
    }

    /// As [`OpenDecoder::decode`].
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<Answer>, DecodeError> {
        let Some(message) = self.0.feed(
            input,
            |kind| kind == KIND_ACCEPT || kind == KIND_REJECT,
            |header, limits| {
                if header[5] == KIND_ACCEPT {
                    let len = be32(&header[6..]);
                    limits.check(Field::Handshake, len)?;
                    Ok(len)
                } else {
                    let len = be16(&header[8..]);
                    limits.check(Field::Reason, len)?;
                    Ok(len)
                }
            },
        )?
        else {
            return Ok(None);
        };
        let body = &message[ANSWER_HEADER_LEN..];
        Ok(Some(match message[5] {
            KIND_ACCEPT => Answer::Accept {
                handshake: body.to_vec(),
            },
            _ => Answer::Reject(Reject {
                code: RejectCode(u16::from_be_bytes([message[6], message[7]])),
                reason: self.0.remember(utf8(body, Field::Reason))?,
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generous limits, as for large handshakes.
    fn large_limits() -> Limits {
        Limits {
            max_handshake: 256 << 20,
            ..Limits::default()
        }
    }

    /// A peer that sends a header declaring a long body, and little of it,
    /// must not make the receiver reserve the whole body at once: the
    /// buffer grows with the bytes that came.
    #[test]
    fn a_declared_length_is_not_allocated_before_its_bytes_come() {
        let mut open = OpenDecoder::new(large_limits());
        // An open header declaring a 256 MiB handshake, and 100 bytes of it.
        let mut wire = b"mxch\x01\x01\x01\x00\x00\x10\x00\x00\x00p".to_vec();
        wire.extend_from_slice(&[0; 100]);
        assert_eq!(open.decode(&mut &wire[..]), Ok(None));
        assert!(open.0.buf.capacity() < 4096, "{}", open.0.buf.capacity());

        let mut answer = AnswerDecoder::new(large_limits());
        let header = b"mxch\x01\x02\x10\x00\x00\x00";
        assert_eq!(answer.decode(&mut &header[..]), Ok(None));
        assert!(
            answer.0.buf.capacity() < 4096,
            "{}",
            answer.0.buf.capacity()
        );
    }

    /// Growing by the chunk still reaches the whole message, byte by byte
    /// too, without holding more than it declared.
    #[test]
    fn the_buffer_grows_to_the_message_and_no_further() {
        let open = Open::new("p", b"id", &[9; 5000]);
        let wire = open.encode(&Limits::default()).unwrap();
        let mut decoder = OpenDecoder::new(Limits::default());
        for byte in &wire[..wire.len() - 1] {
            assert_eq!(decoder.decode(&mut &[*byte][..]), Ok(None));
            assert!(decoder.0.buf.capacity() <= wire.len());
        }
        assert_eq!(decoder.decode(&mut &wire[wire.len() - 1..]), Ok(Some(open)));
    }
}

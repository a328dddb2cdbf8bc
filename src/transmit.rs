//! Outbound frames on their way to the transport.

use bytes::{Buf, Bytes};

use crate::frame::{HEADER_LEN, Header};
use crate::stream_id::StreamId;

/// One frame (or what is left of it) to write to the transport, from
/// [`Session::poll_transmit_frame`](crate::Session::poll_transmit_frame).
/// Write [`header`](Self::header) then [`payload`](Self::payload), for
/// example as one vectored write; the payload is shared, not copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    header: [u8; HEADER_LEN],
    header_sent: usize,
    payload: Bytes,
}

impl Transmit {
    pub(crate) fn new(header: Header, payload: Bytes) -> Self {
        Transmit {
            header: header.encode(),
            header_sent: 0,
            payload,
        }
    }

    /// The header bytes not yet written (all 12 unless a copy into a
    /// caller buffer split this frame).
    pub fn header(&self) -> &[u8] {
        &self.header[self.header_sent..]
    }

    /// The payload bytes not yet written.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Total bytes left: header and payload.
    pub fn len(&self) -> usize {
        self.header().len() + self.payload.len()
    }

    /// Whether nothing is left to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether some bytes of this frame were already written, so it must
    /// be finished before anything else goes out.
    pub(crate) fn is_started(&self) -> bool {
        self.header_sent > 0
    }

    /// Copies as much as fits into `buf` and advances past it.
    pub(crate) fn copy_into(&mut self, buf: &mut [u8]) -> usize {
        let header = &self.header[self.header_sent..];
        let from_header = header.len().min(buf.len());
        buf[..from_header].copy_from_slice(&header[..from_header]);
        self.header_sent += from_header;
        let rest = &mut buf[from_header..];
        let from_payload = self.payload.len().min(rest.len());
        rest[..from_payload].copy_from_slice(&self.payload[..from_payload]);
        self.payload.advance(from_payload);
        from_header + from_payload
    }
}

/// A frame waiting in the control queue, which drains before any data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    /// Answer the peer's ping with this value.
    Pong(u32),
    /// Our ping with this value.
    Ping(u32),
    /// End the session with this code.
    GoAway(u32),
    /// Reset a stream whose state is already gone, with the ACK it still
    /// owed the peer if `ack`.
    Reset { id: StreamId, code: u32, ack: bool },
    /// A stream needs a frame without data (window grant, SYN, ACK, FIN);
    /// built from the stream's state when it is sent.
    Stream(StreamId),
}

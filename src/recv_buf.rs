//! A stream's received, not yet read data.
//!
//! Large payloads are kept as the `Bytes` they arrived in, so reading them
//! with `read_chunk` copies nothing. Small payloads are packed together into
//! a tail buffer instead: a peer sending one-byte frames would otherwise
//! cost us a chunk header and an allocation per byte. A chunk that is a
//! slice of the host's input is accounted in [`Pins`] until it goes.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::pins::{PinId, Pins};

/// Payloads up to this size are packed into the tail.
const SMALL_PAYLOAD: usize = 512;
/// The tail becomes a chunk of its own once it holds this much.
const TAIL_LIMIT: usize = 4096;

/// A stream's received data. Empty, it is a null pointer and a count: most
/// streams of a busy session sit idle, and the queue and tail (72 bytes)
/// inline in every stream's state made up a third of an idle stream's
/// memory. They are allocated with the first payload and freed when the
/// application has read everything.
#[derive(Debug, Default)]
pub(crate) struct RecvBuffer {
    parts: Option<Box<Parts>>,
    len: u32,
}

#[derive(Debug, Default)]
struct Parts {
    /// Whole chunks, oldest first; all older than the tail. Each names the
    /// input it is a slice of, if any.
    chunks: VecDeque<(Bytes, PinId)>,
    /// Packed small payloads, newest data.
    tail: BytesMut,
}

impl RecvBuffer {
    /// Buffered bytes.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a payload, a slice of input `pin` (or `PinId::NONE`), which
    /// the caller has registered with `pins`: kept as a chunk, the slice
    /// is counted there. The caller has checked it fits the window, so the
    /// total stays within a u32.
    pub(crate) fn push(&mut self, data: Bytes, pin: PinId, pins: &mut Pins) {
        if data.len() <= SMALL_PAYLOAD {
            self.pack(&data);
        } else {
            pins.add(pin, data.len());
            self.append(data, pin);
        }
    }

    /// Appends a payload the caller lends: small ones are copied into the
    /// tail, larger ones into a chunk of their own (one copy either way).
    /// The caller has checked it fits the window.
    pub(crate) fn push_slice(&mut self, data: &[u8]) {
        if data.len() <= SMALL_PAYLOAD {
            self.pack(data);
        } else {
            self.append(Bytes::copy_from_slice(data), PinId::NONE);
        }
    }

    /// Copies a small payload into the tail.
    fn pack(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.len += data.len() as u32;
        let parts = self.parts.get_or_insert_default();
        // Growth by doubling keeps the tail's capacity within twice its
        // contents, so a trickle on many streams reserves little.
        parts.tail.extend_from_slice(data);
        if parts.tail.len() >= TAIL_LIMIT {
            parts.seal_tail();
        }
    }

    /// Queues a (non-empty) chunk behind the tail, which it seals.
    fn append(&mut self, chunk: Bytes, pin: PinId) {
        self.len += chunk.len() as u32;
        let parts = self.parts.get_or_insert_default();
        parts.seal_tail();
        parts.chunks.push_back((chunk, pin));
    }

    /// Copies buffered data into `buf`; returns how many bytes.
    pub(crate) fn read_into(&mut self, buf: &mut [u8], pins: &mut Pins) -> usize {
        let Some(parts) = self.parts.as_mut() else {
            return 0;
        };
        let mut copied = 0;
        while copied < buf.len() {
            if parts.chunks.is_empty() {
                parts.seal_tail();
            }
            let Some((front, pin)) = parts.chunks.front_mut() else {
                break;
            };
            let take = front.len().min(buf.len() - copied);
            buf[copied..copied + take].copy_from_slice(&front[..take]);
            front.advance(take);
            pins.read(*pin, take);
            if front.is_empty() {
                pins.release(*pin, 0);
                parts.chunks.pop_front();
            }
            copied += take;
        }
        self.consumed(copied);
        copied
    }

    /// Takes up to `max` (non-zero) bytes without copying. What it returns
    /// belongs to the application, and no longer counts as pinned.
    pub(crate) fn read_chunk(&mut self, max: usize, pins: &mut Pins) -> Option<Bytes> {
        let parts = self.parts.as_mut()?;
        if parts.chunks.is_empty() {
            parts.seal_tail();
        }
        let (front, pin) = parts.chunks.front_mut()?;
        let chunk = if front.len() <= max {
            let (chunk, pin) = parts.chunks.pop_front()?;
            pins.release(pin, chunk.len());
            chunk
        } else {
            pins.read(*pin, max);
            front.split_to(max)
        };
        self.consumed(chunk.len());
        Some(chunk)
    }

    /// Counts bytes read; once nothing is left, the parts go.
    fn consumed(&mut self, bytes: usize) {
        self.len -= bytes as u32;
        if self.len == 0 {
            self.parts = None;
        }
    }

    /// Copies every chunk that is a slice of an input into memory of its
    /// own, so that the inputs can be freed.
    pub(crate) fn unpin(&mut self, pins: &mut Pins) {
        let Some(parts) = self.parts.as_mut() else {
            return;
        };
        for (chunk, pin) in parts.chunks.iter_mut() {
            if *pin != PinId::NONE {
                pins.release(*pin, chunk.len());
                *chunk = Bytes::copy_from_slice(chunk);
                *pin = PinId::NONE;
            }
        }
    }

    /// Drops everything and releases the memory.
    pub(crate) fn clear(&mut self, pins: &mut Pins) {
        if let Some(parts) = self.parts.take() {
            for (chunk, pin) in parts.chunks {
                pins.release(pin, chunk.len());
            }
        }
        self.len = 0;
    }
}

impl Parts {
    /// Moves the tail into the chunk queue, keeping order.
    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.chunks
                .push_back((self.tail.split().freeze(), PinId::NONE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_payloads_pack_and_keep_order() {
        let mut pins = Pins::default();
        let mut buffer = RecvBuffer::default();
        for byte in 0..=255u8 {
            buffer.push(Bytes::copy_from_slice(&[byte]), PinId::NONE, &mut pins);
        }
        buffer.push(Bytes::from(alloc::vec![7u8; 1000]), PinId::NONE, &mut pins);
        buffer.push(Bytes::from_static(b"end"), PinId::NONE, &mut pins);
        assert_eq!(buffer.len(), 256 + 1000 + 3);
        // The 256 one-byte payloads share one allocation.
        assert_eq!(buffer.parts.as_ref().unwrap().chunks.len(), 2);
        let mut out = [0u8; 300];
        assert_eq!(buffer.read_into(&mut out, &mut pins), 300);
        assert!(out[..256].iter().enumerate().all(|(i, &b)| b == i as u8));
        assert!(out[256..].iter().all(|&b| b == 7));
        let chunk = buffer.read_chunk(usize::MAX, &mut pins).unwrap();
        assert_eq!(chunk.len(), 956);
        assert_eq!(&buffer.read_chunk(2, &mut pins).unwrap()[..], b"en");
        assert_eq!(&buffer.read_chunk(9, &mut pins).unwrap()[..], b"d");
        assert!(buffer.is_empty());
        assert!(buffer.parts.is_none(), "freed once read");
        assert_eq!(buffer.read_chunk(9, &mut pins), None);
    }

    #[test]
    fn slices_pin_their_input_until_read_copied_or_dropped() {
        let mut pins = Pins::default();
        let input = Bytes::from(alloc::vec![1u8; 64 * 1024]);
        let mut a = RecvBuffer::default();
        let mut b = RecvBuffer::default();
        let pin = pins.pin(input.len());
        a.push(input.slice(..8 * 1024), pin, &mut pins);
        b.push(input.slice(8 * 1024..24 * 1024), pin, &mut pins);
        pins.release(pin, 0);
        assert_eq!(pins.pinned(), 64 * 1024);

        // Partly read, a slice still pins the input; read whole, it lets go.
        let mut out = [0u8; 4096];
        assert_eq!(a.read_into(&mut out, &mut pins), 4096);
        assert_eq!(pins.pinned(), 64 * 1024);
        assert_eq!(a.read_chunk(usize::MAX, &mut pins).unwrap().len(), 4096);
        assert_eq!(pins.pinned(), 64 * 1024, "b still holds it");

        // Copied out, the last slice frees the input but keeps its data.
        b.unpin(&mut pins);
        assert_eq!(pins.pinned(), 0);
        assert_eq!(b.len(), 16 * 1024);

        let pin = pins.pin(input.len());
        b.push(input.slice(24 * 1024..), pin, &mut pins);
        pins.release(pin, 0);
        assert_eq!(pins.pinned(), 64 * 1024);
        b.clear(&mut pins);
        assert_eq!(pins.pinned(), 0, "dropped slices let go");
    }
}

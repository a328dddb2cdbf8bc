//! A stream's written, not yet framed data.
//!
//! Writes are appended to a tail buffer, and frames are cut from the front
//! without copying. When a write does not fit the tail, the tail is filled
//! up, set aside, and a new one begins: the bytes already buffered are
//! never moved. (Growing one buffer instead meant copying everything still
//! pending into a larger one: in the bulk benchmarks those copies added up
//! to 0.9 to 1.5 times the bytes written.)

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Chunks handed over whole (`push_chunk`) of at least this size become
/// parts of their own rather than being copied.
const OWN_PART_MIN: usize = 4 * 1024;

/// A stream's unsent data: parts, oldest first; writes go to the last.
/// Empty, it is a null pointer and a count: idle streams' memory is a
/// target, and the queue inline (32 bytes) made up a quarter of an idle
/// stream's state.
#[derive(Debug, Default)]
pub(crate) struct SendBuffer {
    /// Never holds an empty part, and is freed once empty. Boxed on
    /// purpose (clippy's `box_collection` assumes the inline size does not
    /// matter; here it is the point).
    #[allow(clippy::box_collection)]
    parts: Option<Box<VecDeque<BytesMut>>>,
    /// The bytes in `parts`, kept so that asking costs nothing: it is asked
    /// for every frame. Within a u32, as the stream's window bounds it.
    len: u32,
}

impl SendBuffer {
    /// Buffered bytes.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The parts, allocated for the first.
    fn parts_mut(&mut self) -> &mut VecDeque<BytesMut> {
        self.parts.get_or_insert_default()
    }

    fn front_len(&self) -> usize {
        self.parts
            .as_ref()
            .and_then(|parts| parts.front())
            .map_or(0, BytesMut::len)
    }

    /// Appends `data`; the caller has checked that the total stays within
    /// `limit` (what the peer's window lets the stream buffer).
    ///
    /// Each new part is as large as everything already buffered, so the
    /// capacity doubles with each part as it did when one buffer grew, and
    /// never past `limit` in total (or the write itself, if larger).
    pub(crate) fn push(&mut self, data: &[u8], limit: usize) {
        if data.is_empty() {
            return;
        }
        self.len += data.len() as u32;
        let parts = self.parts_mut();
        let room = parts.back().map_or(0, |tail| tail.capacity() - tail.len());
        if data.len() <= room {
            parts.back_mut().expect("room").extend_from_slice(data);
            return;
        }
        let pending = self.len() - data.len();
        let (head, rest) = data.split_at(room);
        let size = if pending == 0 {
            // A first part: sized for the write, rounded up so that the
            // small writes that follow share it.
            rest.len()
                .checked_next_power_of_two()
                .map_or(rest.len(), |size| size.min(limit).max(rest.len()))
        } else {
            pending
                .min(limit.saturating_sub(pending + head.len()))
                .max(rest.len())
        };
        let parts = self.parts_mut();
        if let Some(tail) = parts.back_mut() {
            tail.extend_from_slice(head);
        }
        let mut part = BytesMut::with_capacity(size);
        part.extend_from_slice(rest);
        parts.push_back(part);
    }

    /// Appends `data` without copying it when it is large (it becomes a
    /// part of its own; a `Bytes` that is not the only handle on its memory
    /// is copied once). Small chunks are copied into the tail, as `push`
    /// would. The caller has checked the total stays within `limit`.
    pub(crate) fn push_chunk(&mut self, data: Bytes, limit: usize) {
        if data.len() <= OWN_PART_MIN {
            self.push(&data, limit);
        } else {
            self.len += data.len() as u32;
            self.parts_mut().push_back(BytesMut::from(data));
        }
    }

    /// Takes `max` bytes from the front (all of them, if fewer), without
    /// copying. A frame that straddles two parts ends early at the first
    /// part's end if that leaves it at least half full; only a smaller
    /// piece is joined with what follows, so frames stay at least half
    /// full. Written parts double in size, so the join is rare and costs
    /// at most one frame; chunks handed over whole (8 KiB `write_chunk`s
    /// under 16 KiB frames, say) go out as they are, instead of each frame
    /// copying two of them together.
    pub(crate) fn take(&mut self, max: usize) -> Bytes {
        let max = max.min(self.len());
        let front = self.front_len();
        if front >= max {
            return self.take_from_front(max);
        }
        if front >= max.div_ceil(2) {
            return self.take_from_front(front);
        }
        let mut joined = BytesMut::with_capacity(max);
        while joined.len() < max {
            let piece = self.take_from_front(max - joined.len());
            joined.extend_from_slice(&piece);
        }
        joined.freeze()
    }

    /// Takes up to `max` bytes of the oldest part.
    fn take_from_front(&mut self, max: usize) -> Bytes {
        let Some(parts) = self.parts.as_deref_mut() else {
            return Bytes::new();
        };
        let Some(front) = parts.front_mut() else {
            return Bytes::new();
        };
        let payload = if front.len() <= max {
            parts.pop_front().expect("checked above").freeze()
        } else {
            front.split_to(max).freeze()
        };
        self.len -= payload.len() as u32;
        if self.len == 0 {
            // Sent empty, the buffer is dropped rather than kept for
            // reuse: it is as large as the most the stream ever wrote
            // ahead, and a stream with nothing to send should not hold it.
            self.parts = None;
        }
        payload
    }

    /// Drops everything and releases the memory.
    pub(crate) fn clear(&mut self) {
        *self = SendBuffer::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keep_order_and_frames_stay_at_least_half_full() {
        let limit = 1 << 20;
        let mut buffer = SendBuffer::default();
        let mut expected = alloc::vec::Vec::new();
        for i in 0..200u32 {
            let chunk: alloc::vec::Vec<u8> = (0..(i * 37 % 3000)).map(|b| (b + i) as u8).collect();
            buffer.push(&chunk, limit);
            expected.extend_from_slice(&chunk);
            assert_eq!(buffer.len(), expected.len());
        }
        assert!(
            buffer.parts.as_ref().unwrap().len() > 1,
            "the writes outgrew the first part"
        );
        let mut sent = alloc::vec::Vec::new();
        let mut frames = 0;
        while !buffer.is_empty() {
            let frame = buffer.take(1000);
            assert!(frame.len() >= 500 || buffer.is_empty(), "short frame");
            sent.extend_from_slice(&frame);
            frames += 1;
        }
        assert!(frames <= expected.len() / 1000 + 8, "{frames} frames");
        assert_eq!(sent, expected);
        assert!(buffer.parts.is_none(), "freed once sent");
    }

    #[test]
    fn capacity_stays_within_the_limit() {
        let limit = 256 * 1024;
        let mut buffer = SendBuffer::default();
        let write = [1u8; 1000];
        while buffer.len() + write.len() <= limit {
            buffer.push(&write, limit);
        }
        let parts = buffer.parts.as_ref().unwrap();
        let capacity: usize = parts.iter().map(BytesMut::capacity).sum();
        assert!(capacity <= limit, "{capacity} > {limit}");
    }

    #[test]
    fn large_chunks_are_kept_without_copying_small_ones_are_packed() {
        let limit = 1 << 20;
        let mut buffer = SendBuffer::default();
        buffer.push(b"head", limit);
        let large = Bytes::from(alloc::vec![9u8; 32 * 1024]);
        let at = large.as_ptr();
        buffer.push_chunk(large, limit);
        buffer.push_chunk(Bytes::from_static(b"tail"), limit);
        let parts = buffer.parts.as_ref().unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].as_ptr(), at, "the large chunk was not copied");
        let mut sent = alloc::vec::Vec::new();
        while !buffer.is_empty() {
            sent.extend_from_slice(&buffer.take(10_000));
        }
        assert_eq!(&sent[..4], b"head");
        assert!(sent[4..4 + 32 * 1024].iter().all(|&b| b == 9));
        assert_eq!(&sent[4 + 32 * 1024..], b"tail");
    }

    #[test]
    fn chunks_under_the_frame_size_go_out_uncopied() {
        let limit = 1 << 20;
        let chunks: alloc::vec::Vec<Bytes> = (0..4u8)
            .map(|i| Bytes::from(alloc::vec![i; 8 * 1024]))
            .collect();
        let mut buffer = SendBuffer::default();
        let at: alloc::vec::Vec<*const u8> = chunks.iter().map(|c| c.as_ptr()).collect();
        for chunk in chunks {
            buffer.push_chunk(chunk, limit);
        }
        for (i, &at) in at.iter().enumerate() {
            let frame = buffer.take(16 * 1024);
            assert_eq!(frame.len(), 8 * 1024);
            assert_eq!(frame.as_ptr(), at, "frame {i} was copied");
        }
        assert!(buffer.is_empty());
    }
}

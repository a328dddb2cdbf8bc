//! The buffer a transport is read into.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// The buffer's size while reads are small.
const READ_BUFFER: usize = 64 * 1024;

/// Its size while reads fill all the room they are given: more was waiting
/// in the transport, and larger reads mean fewer of them, each waking the
/// streams' readers once.
const READ_BUFFER_BULK: usize = 256 * 1024;

/// The room is renewed below this, so reads stay large.
const MIN_READ: usize = 16 * 1024;

/// Small reads in a row after which the buffer shrinks back.
const SMALL_READS: u32 = 64;

/// Spent buffers kept for reuse while the application still holds slices
/// of them.
const SPARE_BUFFERS: usize = 2;

/// Where a transport is read into. A read that fills most of the room is
/// handed to the session whole ([`take`](Self::take) gives it as `Bytes` of
/// its own, for `Session::handle_input_bytes`), which keeps large payloads
/// as slices of it instead of copying them and lets the session account
/// what they pin; a shorter read is copied into the session
/// ([`read`](Self::read)), and the room is read into again.
///
/// The room is either zeroed memory (its length is the room, for readers
/// that take `&mut [u8]`) or, made with `into_spare_capacity`, the spare
/// capacity of an empty `BytesMut` (for readers that fill uninitialized
/// memory, as tokio's `ReadBuf` does), so it is never zeroed.
///
/// Slices handed out are mostly read (and dropped) by the application after
/// the room has run out, so a spent buffer cannot be renewed in place at
/// once; let go, it went back to the allocator, which returned it to the
/// system, and the next buffer page-faulted on fresh memory (most of a bulk
/// transfer's page faults). So a few spent buffers are kept, and one whose
/// slices are all gone is renewed instead of allocating. The buffer grows
/// to 256 KiB while reads fill it and shrinks back to 64 KiB (letting the
/// spares go) once they are small; dropped, it lets everything go (a
/// transport gone quiet need hold no read memory).
#[derive(Debug)]
pub struct ReadBuffer {
    room: BytesMut,
    spent: VecDeque<BytesMut>,
    /// The size of the next renewal.
    size: usize,
    /// What it grows to while reads fill it.
    bulk_size: usize,
    /// Reads in a row that took under a quarter of `READ_BUFFER`.
    small_reads: u32,
    /// The room is spare capacity, not zeroed length.
    into_spare_capacity: bool,
}

impl ReadBuffer {
    /// An empty buffer; it allocates at the first [`room`](Self::room).
    /// With `into_spare_capacity`, the room is an empty `BytesMut`'s spare
    /// capacity (to be appended to); otherwise it is zeroed length.
    pub fn new(into_spare_capacity: bool) -> Self {
        ReadBuffer {
            room: BytesMut::new(),
            spent: VecDeque::with_capacity(SPARE_BUFFERS + 1),
            size: READ_BUFFER,
            bulk_size: READ_BUFFER_BULK,
            small_reads: 0,
            into_spare_capacity,
        }
    }

    /// Like [`new`](Self::new), but the buffer stays at 64 KiB: for a host
    /// with many connections that read in bursts (a server's), where a
    /// burst should not leave each of them with 256 KiB buffers. The async
    /// driver reads this way, as it did before the buffer was shared.
    pub fn without_growth(into_spare_capacity: bool) -> Self {
        ReadBuffer {
            bulk_size: READ_BUFFER,
            ..Self::new(into_spare_capacity)
        }
    }

    /// The room to read into, renewed first if it runs low: read into its
    /// length (zeroed), or append to it (spare capacity), then pass the
    /// number of bytes read to [`take`](Self::take).
    pub fn room(&mut self) -> &mut BytesMut {
        if self.into_spare_capacity {
            // What a short read left was copied out.
            self.room.clear();
        }
        if self.room_size() < MIN_READ {
            self.renew();
        }
        &mut self.room
    }

    /// The first `n` bytes of the room, just read: the whole room as
    /// `Bytes` if they fill most of it, else `None`, and they are to be
    /// copied from [`read`](Self::read) before the next read.
    pub fn take(&mut self, n: usize) -> Option<Bytes> {
        let room = self.room_size();
        if n == room {
            self.size = self.bulk_size;
        }
        if n >= READ_BUFFER / 4 {
            self.small_reads = 0;
        } else if self.size != READ_BUFFER {
            self.small_reads += 1;
            if self.small_reads >= SMALL_READS {
                self.size = READ_BUFFER;
                self.spent.clear();
            }
        }
        if n * 4 < room * 3 {
            return None;
        }
        let input = self.room.split_to(n);
        // The rest of the room shares the allocation: retired, it is
        // renewed in place once the session and the application have
        // dropped every slice of it.
        let mut rest = std::mem::take(&mut self.room);
        rest.clear();
        self.spent.push_back(rest);
        Some(input.freeze())
    }

    /// The first `n` bytes of the room, when [`take`](Self::take) left them
    /// there.
    pub fn read(&self, n: usize) -> &[u8] {
        &self.room[..n]
    }

    /// The room a read was (or is) given: for spare capacity, the whole
    /// capacity, since [`room`](Self::room) empties it first and the read
    /// appends.
    fn room_size(&self) -> usize {
        if self.into_spare_capacity {
            self.room.capacity()
        } else {
            self.room.len()
        }
    }

    fn renew(&mut self) {
        let size = self.size;
        let reusable = self
            .spent
            .iter_mut()
            .position(|buffer| buffer.try_reclaim(size));
        self.room = match reusable {
            Some(at) => self.spent.remove(at).expect("found above"),
            None => {
                if self.spent.len() > SPARE_BUFFERS {
                    // Freed once its slices are gone.
                    self.spent.pop_front();
                }
                BytesMut::with_capacity(size)
            }
        };
        if !self.into_spare_capacity {
            self.room.resize(size, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `n` bytes of `byte` into the room, as a transport would.
    fn fill(buffer: &mut ReadBuffer, n: usize, byte: u8) {
        let room = buffer.room();
        if room.is_empty() {
            room.extend(std::iter::repeat_n(byte, n));
        } else {
            room[..n].fill(byte);
        }
    }

    #[test]
    fn a_large_read_is_handed_over_whole_and_a_short_one_copied() {
        for spare in [false, true] {
            let mut buffer = ReadBuffer::new(spare);
            fill(&mut buffer, READ_BUFFER, 7);
            let whole = buffer.take(READ_BUFFER).expect("a full room");
            assert_eq!(whole.len(), READ_BUFFER);
            assert!(whole.iter().all(|&b| b == 7));

            fill(&mut buffer, 100, 9);
            assert_eq!(buffer.take(100), None, "spare: {spare}");
            assert_eq!(buffer.read(100), [9; 100]);
        }
    }

    /// The memory of a handed-over read is read into again once its
    /// slices are gone, rather than given back to the allocator.
    #[test]
    fn a_spent_buffer_is_reused_once_its_slices_are_gone() {
        for spare in [false, true] {
            let mut buffer = ReadBuffer::new(spare);
            // Most of the room, not all of it (which grows the next one).
            let n = READ_BUFFER * 7 / 8;
            fill(&mut buffer, n, 1);
            let first = buffer.take(n).expect("most of the room");
            let at = first.as_ptr();
            assert_eq!(buffer.spent.len(), 1, "kept for reuse");
            // Still held: the next room is other memory.
            assert_ne!(buffer.room().as_ptr(), at, "spare: {spare}");
            fill(&mut buffer, n, 2);
            let second = buffer.take(n).expect("most of the room");
            assert_eq!(buffer.spent.len(), 2);
            drop(first);
            // Renewed from the spares, not from the allocator (which might
            // hand out the same address again).
            assert_eq!(buffer.room().as_ptr(), at, "spare: {spare}");
            assert_eq!(buffer.spent.len(), 1);
            drop(second);
        }
    }

    #[test]
    fn a_buffer_without_growth_stays_at_its_size() {
        for (mut buffer, grown) in [
            (ReadBuffer::new(true), READ_BUFFER_BULK),
            (ReadBuffer::without_growth(true), READ_BUFFER),
        ] {
            let room = buffer.room().capacity();
            buffer.room().extend(std::iter::repeat_n(0, room));
            assert!(buffer.take(room).is_some());
            let got = buffer.room().capacity();
            assert!(got >= grown, "{got} {grown}");
            assert!(buffer.room().capacity() < grown * 2);
        }
    }
}

//! The bytes taken from the session that the transport has not accepted yet.

use alloc::boxed::Box;
use alloc::vec;

use muxplex::Session;

/// A fixed-size buffer between [`Session::poll_transmit`] and the transport.
///
/// The session gives out bytes only once; a transport may take fewer than
/// offered, so the rest must wait here. Its size is fixed at construction,
/// so the adapter's own memory stays bounded however slow the transport.
#[derive(Debug)]
pub(crate) struct Outbox {
    buf: Box<[u8]>,
    /// Unsent bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl Outbox {
    /// A buffer of `capacity` bytes; at least one, or no byte could ever
    /// move.
    pub(crate) fn new(capacity: usize) -> Self {
        Outbox {
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// Tops the buffer up from the session. Unsent bytes move to the front
    /// first, so writes stay as large as the buffer allows; the copy is at
    /// most one buffer per write.
    pub(crate) fn refill(&mut self, session: &mut Session) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        self.end += session.poll_transmit(&mut self.buf[self.end..]);
    }

    /// The bytes waiting for the transport.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Whether nothing waits for the transport.
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Forgets the first `n` pending bytes, which the transport took.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n.min(self.end - self.start);
    }
}

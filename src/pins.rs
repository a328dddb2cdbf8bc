//! Accounting for the input buffers that received payloads keep alive.
//!
//! A large payload handed over in [`Session::handle_input_bytes`] is kept as
//! a slice of the host's input rather than copied, and a slice keeps the
//! whole input allocated until it is read. A peer could exploit that: a
//! small payload for a stream nobody reads, followed by a large one for a
//! stream that does not exist, pins a large input for a few bytes. So the
//! session counts what its unread slices pin against what they hold, and
//! once the inputs pinned pass 1.125 times the bytes held (plus a little
//! slack, so that ordinary traffic never pays for it) it copies every slice
//! into memory of its own, which releases the inputs. Each compaction
//! copies less than the input that arrived since the previous one, so the
//! cost is at most one more copy per byte received, and only under such a
//! pattern.
//!
//! [`Session::handle_input_bytes`]: crate::Session::handle_input_bytes

use alloc::vec::Vec;

/// Pinned input the session tolerates beyond 1.125 times what it holds.
const SLACK: usize = 1024 * 1024;

/// Which input a received chunk is a slice of, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PinId(u32);

impl PinId {
    /// A chunk in memory of its own.
    pub(crate) const NONE: PinId = PinId(u32::MAX);
}

/// One input some chunks still hold.
#[derive(Clone, Copy, Debug)]
struct PinnedInput {
    len: usize,
    chunks: u32,
}

/// The inputs kept alive by unread chunks, and the bytes those chunks hold.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    /// Indexed by `PinId`; an entry with no chunks is free for reuse.
    inputs: Vec<PinnedInput>,
    free: Vec<u32>,
    /// The length of every input some chunk still holds.
    pinned: usize,
    /// Unread bytes of the chunks that hold them.
    held: usize,
}

impl Pins {
    /// Registers an input of `len` bytes that chunks are about to slice.
    /// The input being fed holds it as a chunk would, until it is
    /// [`release`](Self::release)d with 0 unread bytes once fed, so that a
    /// slice dropped at once cannot free it while later ones still come.
    pub(crate) fn pin(&mut self, len: usize) -> PinId {
        let input = PinnedInput { len, chunks: 1 };
        self.pinned += len;
        match self.free.pop() {
            Some(index) => {
                self.inputs[index as usize] = input;
                PinId(index)
            }
            None => {
                self.inputs.push(input);
                PinId(self.inputs.len() as u32 - 1)
            }
        }
    }

    /// A chunk of `bytes` now holds input `id` (if any).
    pub(crate) fn add(&mut self, id: PinId, bytes: usize) {
        if id == PinId::NONE {
            return;
        }
        self.inputs[id.0 as usize].chunks += 1;
        self.held += bytes;
    }

    /// `bytes` of a chunk holding `id` were read; the chunk goes on.
    pub(crate) fn read(&mut self, id: PinId, bytes: usize) {
        if id != PinId::NONE {
            self.held -= bytes;
        }
    }

    /// A chunk holding `id`, with `unread` bytes left, is gone (read
    /// whole, handed to the application, copied or dropped).
    pub(crate) fn release(&mut self, id: PinId, unread: usize) {
        if id == PinId::NONE {
            return;
        }
        self.held -= unread;
        let input = &mut self.inputs[id.0 as usize];
        input.chunks -= 1;
        if input.chunks == 0 {
            self.pinned -= input.len;
            self.free.push(id.0);
        }
        if self.pinned == 0 {
            // Nothing pinned: let the bookkeeping of a past burst go.
            self.inputs = Vec::new();
            self.free = Vec::new();
        }
    }

    /// Whether the pinned inputs have grown too large for what they hold.
    pub(crate) fn needs_compaction(&self) -> bool {
        self.pinned > self.held + self.held / 8 + SLACK
    }

    /// Bytes of input kept alive by unread chunks.
    #[cfg(test)]
    pub(crate) fn pinned(&self) -> usize {
        self.pinned
    }
}

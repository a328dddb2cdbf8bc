//! The global allocator: a bump allocator over a static array, written for
//! this measurement, not for production firmware. It hands memory out from
//! the bottom of [`HEAP_SIZE`] bytes and gets it back only when the newest
//! block is freed, or when every block has been freed. A real firmware
//! would use a general allocator (the `embedded-alloc` crate, say); either
//! way the allocator's code is a few hundred bytes of the total.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

/// Bytes of RAM the session may allocate from.
pub(crate) const HEAP_SIZE: usize = 48 * 1024;

/// The heap's memory and bookkeeping.
pub(crate) struct Bump {
    memory: UnsafeCell<[u8; HEAP_SIZE]>,
    /// Offset of the first free byte.
    next: UnsafeCell<usize>,
    /// Blocks handed out and not freed yet.
    live: UnsafeCell<usize>,
}

// SAFETY: the firmware is single-threaded and allocates from no interrupt
// handler, so no two calls of the allocator ever overlap.
unsafe impl Sync for Bump {}

impl Bump {
    /// An empty heap.
    pub(crate) const fn new() -> Self {
        Bump {
            memory: UnsafeCell::new([0; HEAP_SIZE]),
            next: UnsafeCell::new(0),
            live: UnsafeCell::new(0),
        }
    }
}

// SAFETY: every block returned lies inside `memory`, is aligned as asked
// and is never handed out again while live: `next` only moves back over a
// block that was just freed (the newest one) or when no block is live.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded, see `Sync` above; no reference to these
        // cells outlives this call.
        let (next, live) = unsafe { (&mut *self.next.get(), &mut *self.live.get()) };
        let base = self.memory.get().cast::<u8>();
        let start = (base as usize + *next).next_multiple_of(layout.align()) - base as usize;
        match start.checked_add(layout.size()) {
            Some(end) if end <= HEAP_SIZE => {
                *next = end;
                *live += 1;
                // SAFETY: `start <= end <= HEAP_SIZE`, inside `memory`.
                unsafe { base.add(start) }
            }
            _ => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let (next, live) = unsafe { (&mut *self.next.get(), &mut *self.live.get()) };
        let base = self.memory.get().cast::<u8>();
        *live -= 1;
        let offset = block as usize - base as usize;
        if *live == 0 {
            *next = 0;
        } else if offset + layout.size() == *next {
            *next = offset;
        }
    }
}

//! The driver's output queue: frames taken from the session, not yet
//! written to the transport.
//!
//! Small frames (and every header) are copied into one buffer, so many of
//! them cost one write; large payloads stay the `Bytes` the session shares
//! with the stream's send buffer and go out by vectored writes, so bulk
//! data is not copied in user space on its way out.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes};
use muxplex::Session;

/// Size of the copy buffer, and how many bytes one fill takes at most from
/// the session when every frame is copied.
pub(crate) const IO_BUFFER_SIZE: usize = 64 * 1024;

/// Payloads up to this size are copied into the buffer with their header.
const COPY_LIMIT: usize = 4 * 1024;

/// The most bytes one fill takes from the session when payloads are shared:
/// frames taken count as sent (their writers are unblocked), so this bounds
/// what the driver holds beyond the streams' windows.
const FILL_LIMIT: usize = 256 * 1024;

/// Buffers handed to one vectored write (Linux's `IOV_MAX` is 1024).
pub(crate) const MAX_SLICES: usize = 64;

/// One piece of output, in order.
#[derive(Debug)]
enum Segment {
    /// `buf[start..end]`.
    Copied { start: usize, end: usize },
    /// A shared payload.
    Shared(Bytes),
}

#[derive(Debug)]
pub(crate) struct Output {
    buf: Box<[u8]>,
    /// Bytes of `buf` in use by segments.
    used: usize,
    segments: VecDeque<Segment>,
    /// Bytes in `segments`.
    pending: usize,
}

impl Output {
    pub(crate) fn new() -> Self {
        Output {
            buf: vec![0; IO_BUFFER_SIZE].into_boxed_slice(),
            used: 0,
            segments: VecDeque::new(),
            pending: 0,
        }
    }

    /// Bytes taken from the session and not yet written.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Takes frames from the session (the queue must be empty); returns
    /// whether it took any. With `vectored` false, everything is copied.
    pub(crate) fn fill(&mut self, session: &mut Session, vectored: bool) -> bool {
        debug_assert!(self.is_empty());
        self.segments.clear();
        self.used = 0;
        if !vectored {
            let n = session.poll_transmit(&mut self.buf);
            self.push_copied(n);
            return n > 0;
        }
        // Room for any frame that is copied whole: the header of a shared
        // payload, or a small frame.
        while self.pending < FILL_LIMIT
            && self.segments.len() + 2 <= MAX_SLICES
            && self.used + 12 + COPY_LIMIT <= self.buf.len()
        {
            let Some(frame) = session.poll_transmit_frame() else {
                break;
            };
            let header = frame.header();
            let start = self.used;
            self.buf[start..start + header.len()].copy_from_slice(header);
            let payload = frame.payload();
            if payload.len() <= COPY_LIMIT {
                let at = start + header.len();
                self.buf[at..at + payload.len()].copy_from_slice(payload);
                self.push_copied(header.len() + payload.len());
            } else {
                self.push_copied(header.len());
                self.pending += payload.len();
                self.segments.push_back(Segment::Shared(payload.clone()));
            }
        }
        !self.is_empty()
    }

    /// Records `n` bytes just copied at `buf[used..]`.
    fn push_copied(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let (start, end) = (self.used, self.used + n);
        self.used = end;
        self.pending += n;
        if let Some(Segment::Copied { end: last, .. }) = self.segments.back_mut()
            && *last == start
        {
            *last = end;
            return;
        }
        self.segments.push_back(Segment::Copied { start, end });
    }

    /// The pending bytes as slices for one vectored write; returns how
    /// many of `out` were set.
    pub(crate) fn slices<'a>(&'a self, out: &mut [IoSlice<'a>; MAX_SLICES]) -> usize {
        let mut count = 0;
        for (slot, segment) in out.iter_mut().zip(&self.segments) {
            *slot = IoSlice::new(match segment {
                Segment::Copied { start, end } => &self.buf[*start..*end],
                Segment::Shared(bytes) => bytes,
            });
            count += 1;
        }
        count
    }

    /// The first pending segment, for a plain write.
    pub(crate) fn first(&self) -> &[u8] {
        match self.segments.front() {
            Some(Segment::Copied { start, end }) => &self.buf[*start..*end],
            Some(Segment::Shared(bytes)) => bytes,
            None => &[],
        }
    }

    /// Drops `n` written bytes from the front.
    pub(crate) fn advance(&mut self, mut n: usize) {
        self.pending -= n;
        while n > 0 {
            let front = self.segments.front_mut().expect("wrote more than pending");
            let len = match front {
                Segment::Copied { start, end } => *end - *start,
                Segment::Shared(bytes) => bytes.len(),
            };
            if n < len {
                match front {
                    Segment::Copied { start, .. } => *start += n,
                    Segment::Shared(bytes) => bytes.advance(n),
                }
                return;
            }
            n -= len;
            self.segments.pop_front();
        }
    }
}

//! The writer's batch: frames taken from the session and not yet written
//! to the transport.
//!
//! Headers and small payloads are copied into one buffer, so many small
//! frames cost one system call; large payloads stay the [`Bytes`] the
//! session shares with the stream's send buffer and go out by vectored
//! writes, so bulk data is not copied again on its way to the transport.
//! A writer that turns out not to write vectored (std's default
//! `write_vectored` writes only the first buffer) gets every frame copied
//! instead.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, IoSlice, Write};

use bytes::{Buf, Bytes};
use muxplex::Session;

/// Size of the copy buffer: with copying only, one batch takes at most this
/// much from the session.
const COPY_BUFFER: usize = 64 * 1024;

/// Payloads up to this size are copied with their header; larger ones are
/// shared.
const COPY_LIMIT: usize = 4 * 1024;

/// The most bytes one batch takes from the session when payloads are
/// shared. Frames taken count as sent (their writers may go on), so this
/// bounds what the batch holds beyond the streams' windows.
const BATCH_LIMIT: usize = 256 * 1024;

/// Buffers handed to one vectored write (Linux's `IOV_MAX` is 1024).
const MAX_SLICES: usize = 64;

/// Vectored writes in a row that took exactly their first buffer after
/// which the writer is taken for one that does not write vectored.
const FIRST_ONLY_LIMIT: u8 = 4;

/// One piece of output, in order.
#[derive(Debug)]
enum Segment {
    /// `copied[start..end]`.
    Copied { start: usize, end: usize },
    /// A shared payload.
    Shared(Bytes),
}

#[derive(Debug)]
pub(crate) struct Batch {
    copied: Box<[u8]>,
    /// Bytes of `copied` in use by segments.
    used: usize,
    segments: VecDeque<Segment>,
    /// Bytes in `segments`.
    pending: usize,
    /// Whether payloads are shared and written by vectored writes.
    vectored: bool,
    /// Vectored writes in a row that took exactly their first buffer.
    first_only: u8,
}

impl Batch {
    pub(crate) fn new() -> Self {
        Batch {
            copied: vec![0; COPY_BUFFER].into_boxed_slice(),
            used: 0,
            segments: VecDeque::new(),
            pending: 0,
            vectored: true,
            first_only: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Drops what is left, after a failed write.
    pub(crate) fn clear(&mut self) {
        self.segments.clear();
        self.used = 0;
        self.pending = 0;
    }

    /// Takes frames from the session into the (empty) batch; returns
    /// whether it took any.
    pub(crate) fn fill(&mut self, session: &mut Session) -> bool {
        debug_assert!(self.is_empty());
        self.segments.clear();
        self.used = 0;
        if !self.vectored {
            let n = session.poll_transmit(&mut self.copied);
            self.push_copied(n);
            return n > 0;
        }
        // Room for any frame that is copied whole: the header of a shared
        // payload, or a small frame.
        while self.pending < BATCH_LIMIT
            && self.segments.len() + 2 <= MAX_SLICES
            && self.used + muxplex::frame::HEADER_LEN + COPY_LIMIT <= self.copied.len()
        {
            let Some(frame) = session.poll_transmit_frame() else {
                break;
            };
            let header = frame.header();
            let payload = frame.payload();
            let start = self.used;
            let at = start + header.len();
            self.copied[start..at].copy_from_slice(header);
            if payload.len() <= COPY_LIMIT {
                self.copied[at..at + payload.len()].copy_from_slice(payload);
                self.push_copied(header.len() + payload.len());
            } else {
                self.push_copied(header.len());
                self.pending += payload.len();
                self.segments.push_back(Segment::Shared(payload.clone()));
            }
        }
        !self.is_empty()
    }

    /// Records `n` bytes just copied at `copied[used..]`.
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

    fn segment<'a>(&'a self, segment: &'a Segment) -> &'a [u8] {
        match segment {
            Segment::Copied { start, end } => &self.copied[*start..*end],
            Segment::Shared(bytes) => bytes,
        }
    }

    /// Writes the whole batch, then flushes the writer. On an error the
    /// batch is left as it was after the last successful write.
    pub(crate) fn write_all(&mut self, writer: &mut impl Write) -> io::Result<()> {
        while !self.is_empty() {
            let written = if self.vectored && self.segments.len() > 1 {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let count = self.segments.len().min(MAX_SLICES);
                for (slot, segment) in slices.iter_mut().zip(&self.segments) {
                    *slot = IoSlice::new(self.segment(segment));
                }
                let first = slices[0].len();
                let written = writer.write_vectored(&slices[..count]);
                if let Ok(n) = written {
                    self.note_vectored(n, first);
                }
                written
            } else {
                let first = self.segments.front().expect("pending bytes");
                writer.write(self.segment(first))
            };
            match written {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.advance(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        writer.flush()
    }

    /// A writer may implement only `write` (std's default `write_vectored`
    /// writes the first buffer alone): then every header would cost a
    /// write of its own. After a few such writes in a row, frames are
    /// copied instead, for the rest of the connection.
    fn note_vectored(&mut self, written: usize, first: usize) {
        if written == first && written < self.pending {
            self.first_only += 1;
            if self.first_only >= FIRST_ONLY_LIMIT {
                self.vectored = false;
            }
        } else {
            self.first_only = 0;
        }
    }

    /// Drops `n` written bytes from the front.
    fn advance(&mut self, mut n: usize) {
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

//! A host-side queue for the session's frames on their way to a transport
//! that takes bytes in pieces (a socket).
//!
//! Headers and small payloads are copied into one buffer, so many small
//! frames cost one write; large payloads stay the [`Bytes`] the session
//! shares with the stream's send buffer and go out by vectored writes, so
//! bulk data is not copied again on its way out. A transport that turns out
//! not to write vectored gets every frame copied instead.

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use bytes::{Buf, Bytes};

use crate::frame::HEADER_LEN;
use crate::session::Session;

/// Size of the copy buffer while fills are light: room for any frame that
/// is copied whole, and for the headers of many shared payloads.
const SMALL_COPY_BUFFER: usize = 8 * 1024;

/// Size of the copy buffer once a fill used more than half of the small
/// one, by default: with copying only, one fill takes at most this much
/// from the session.
const COPY_BUFFER: usize = 64 * 1024;

/// Payloads up to this size are copied with their header; larger ones are
/// shared.
const COPY_LIMIT: usize = 4 * 1024;

/// The most bytes one fill takes from the session when payloads are
/// shared. Frames taken count as sent (their writers may go on), so this
/// bounds what the queue holds beyond the streams' windows.
const FILL_LIMIT: usize = 256 * 1024;

/// Vectored writes in a row that took exactly their first buffer, after
/// which the transport is taken for one that does not write vectored.
const FIRST_ONLY_LIMIT: u8 = 4;

/// One piece of output, in order.
#[derive(Debug)]
enum Segment {
    /// `copied[start..end]`.
    Copied { start: usize, end: usize },
    /// A shared payload.
    Shared(Bytes),
}

/// Frames taken from a [`Session`] and not yet written to the transport.
///
/// The loop: when the queue [`is_empty`](Self::is_empty),
/// [`fill`](Self::fill) it; write its [`chunks`](Self::chunks) (one
/// vectored write) or its [`first`](Self::first) chunk; report what the
/// transport took with [`advance`](Self::advance) (and, after a vectored
/// write, [`note_vectored_write`](Self::note_vectored_write)).
///
/// The copy buffer is allocated by the first fill and released once the
/// queue is written out after a light fill, so an idle connection holds
/// none; it grows to its capacity (64 KiB by default, see
/// [`with_capacity`](Self::with_capacity)) while fills are heavy.
#[derive(Debug)]
pub struct TransmitQueue {
    /// Empty (no allocation) while the queue is idle.
    copied: Vec<u8>,
    /// The most `copied` grows to (a `u32`, so the queue stays small: see
    /// issue 12's idle connections).
    capacity: u32,
    /// Bytes of `copied` in use by segments.
    used: usize,
    segments: VecDeque<Segment>,
    /// Bytes in `segments`.
    pending: usize,
    /// Whether payloads are shared, for vectored writes.
    vectored: bool,
    /// Vectored writes in a row that took exactly their first buffer.
    first_only: u8,
    /// The last fill used more than half of the small buffer: the next
    /// buffer is the large one, and it is kept between fills.
    heavy: bool,
}

impl Default for TransmitQueue {
    fn default() -> Self {
        Self::new(true)
    }
}

impl TransmitQueue {
    /// The most chunks [`chunks`](Self::chunks) gives: what one vectored
    /// write should be offered (Linux accepts up to 1,024).
    pub const MAX_CHUNKS: usize = 64;

    /// An empty queue; it allocates nothing until the first fill. With
    /// `vectored` false (the transport has no vectored writes), every frame
    /// is copied.
    #[must_use]
    pub fn new(vectored: bool) -> Self {
        Self::with_capacity(vectored, COPY_BUFFER)
    }

    /// An empty queue whose copy buffer holds at most `capacity` bytes (at
    /// least one, or no byte could move), for a host whose memory is
    /// small: with every frame copied, that bounds what the queue holds
    /// (shared payloads come on top, at most 256 KiB per fill). A queue of
    /// at most 8 KiB keeps its buffer once it has one, sparing a small heap
    /// the churn of releasing it after every light fill. Frames larger than
    /// the buffer go out in pieces, as the session gives them.
    #[must_use]
    pub fn with_capacity(vectored: bool, capacity: usize) -> Self {
        let capacity = capacity.clamp(1, u32::MAX as usize);
        TransmitQueue {
            copied: Vec::new(),
            capacity: capacity as u32,
            used: 0,
            segments: VecDeque::new(),
            pending: 0,
            // Sharing payloads needs room for a header and a small frame.
            vectored: vectored && capacity >= HEADER_LEN + COPY_LIMIT,
            first_only: 0,
            heavy: false,
        }
    }

    /// The copy buffer's size for a light fill.
    fn small(&self) -> usize {
        SMALL_COPY_BUFFER.min(self.capacity as usize)
    }

    /// Bytes taken from the session and not yet written.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Whether everything taken from the session was written.
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Whether payloads are shared for vectored writes (rather than all
    /// copied into one buffer).
    pub fn is_vectored(&self) -> bool {
        self.vectored
    }

    /// Drops what is left, after a failed write.
    pub fn clear(&mut self) {
        self.segments.clear();
        self.used = 0;
        self.pending = 0;
    }

    /// Takes frames from the session into the queue, behind what it still
    /// holds; returns whether it took any. Filling a queue that is not
    /// empty appends (as far as its limits allow), so nothing taken from
    /// the session is ever lost; filling when it is empty keeps the copy
    /// buffer from being split over many fills.
    pub fn fill(&mut self, session: &mut Session) -> bool {
        if !session.may_transmit() {
            return false;
        }
        if self.is_empty() {
            self.clear();
            let size = if self.heavy {
                self.capacity as usize
            } else {
                self.small()
            };
            if self.copied.len() < size {
                self.copied = vec![0; size];
            }
        }
        let before = self.pending;
        if !self.vectored {
            self.compact();
            let n = session.poll_transmit(&mut self.copied[self.used..]);
            self.push_copied(n);
            self.heavy = self.used > self.small() / 2;
            self.release_if_idle();
            return n > 0;
        }
        // Room for any frame that is copied whole: the header of a shared
        // payload, or a small frame.
        while self.pending < FILL_LIMIT
            && self.segments.len() + 2 <= Self::MAX_CHUNKS
            && self.used + HEADER_LEN + COPY_LIMIT <= self.copied.len()
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
        self.heavy = self.used > self.small() / 2;
        self.release_if_idle();
        self.pending > before
    }

    /// Moves what the transport has not taken yet to the front of the copy
    /// buffer, so the fill behind it has all the room there is: with every
    /// frame copied, the pending bytes are one segment. The copy is at most
    /// one buffer per write, and only a partial write leaves anything.
    fn compact(&mut self) {
        if self.segments.len() != 1 {
            return;
        }
        if let Some(Segment::Copied { start, end }) = self.segments.front_mut()
            && *start > 0
        {
            self.copied.copy_within(*start..*end, 0);
            *end -= *start;
            *start = 0;
            self.used = *end;
        }
    }

    /// Lets the copy buffer go once everything is written after a light
    /// fill: nothing to keep it for (but a small queue keeps it, see
    /// [`with_capacity`](Self::with_capacity)).
    fn release_if_idle(&mut self) {
        if self.pending == 0 && !self.heavy {
            self.used = 0;
            if self.capacity as usize > SMALL_COPY_BUFFER {
                self.copied = Vec::new();
                // Its room for segments too (160 bytes and more, kept for
                // good by an idle connection otherwise).
                self.segments = VecDeque::new();
            }
        }
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

    /// The pending bytes, in order, as up to `out.len()` chunks for one
    /// vectored write; returns how many of `out` were set.
    pub fn chunks<'a>(&'a self, out: &mut [&'a [u8]]) -> usize {
        let mut count = 0;
        for (slot, segment) in out.iter_mut().zip(&self.segments) {
            *slot = self.segment(segment);
            count += 1;
        }
        count
    }

    /// The first pending chunk, for a plain write (empty if none).
    pub fn first(&self) -> &[u8] {
        self.segments
            .front()
            .map_or(&[][..], |segment| self.segment(segment))
    }

    /// Drops `n` written bytes from the front; `n` is at most
    /// [`pending`](Self::pending).
    pub fn advance(&mut self, mut n: usize) {
        assert!(n <= self.pending, "wrote more than was pending");
        self.pending -= n;
        while n > 0 {
            let front = self.segments.front_mut().expect("checked above");
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
        self.release_if_idle();
    }

    /// Reports a vectored write of `chunks` chunks, the first `first` bytes
    /// long, that took `written` bytes (call it before
    /// [`advance`](Self::advance)). A transport may claim vectored writes
    /// and still write only the first buffer each time (std's default
    /// `write_vectored`, compat layers that do not forward them): then every
    /// header would cost a write of its own. After a few such writes in a
    /// row, the queue copies frames instead, for the rest of the connection.
    pub fn note_vectored_write(&mut self, written: usize, first: usize, chunks: usize) {
        if chunks > 1 && written == first && written < self.pending {
            self.first_only += 1;
            if self.first_only >= FIRST_ONLY_LIMIT {
                self.vectored = false;
            }
        } else {
            self.first_only = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Role};
    use crate::time::Instant;
    use alloc::vec::Vec;

    /// A session with one stream holding `len` bytes to send.
    fn session_with(len: usize) -> Session {
        let mut session =
            Session::new(Role::Client, Config::default(), Instant::ZERO).expect("valid config");
        let id = session.open_stream(Instant::ZERO).expect("open");
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        assert_eq!(session.stream(id).expect("open").write(&data), Ok(len));
        session
    }

    /// Everything the queue gives, written `step` bytes at a time, either
    /// vectored or chunk by chunk.
    fn drain(session: &mut Session, queue: &mut TransmitQueue, step: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        while !queue.is_empty() || queue.fill(session) {
            let (taken, _, _) = write_vectored(queue, step, &mut wire);
            queue.advance(taken);
        }
        wire
    }

    /// One vectored write of at most `step` bytes onto `wire` (the queue is
    /// not advanced); returns the bytes taken, the first chunk's length and
    /// how many chunks were offered.
    fn write_vectored(
        queue: &TransmitQueue,
        step: usize,
        wire: &mut Vec<u8>,
    ) -> (usize, usize, usize) {
        let mut chunks = [&[][..]; TransmitQueue::MAX_CHUNKS];
        let count = queue.chunks(&mut chunks);
        let mut taken = 0;
        for chunk in &chunks[..count] {
            let n = chunk.len().min(step - taken);
            wire.extend_from_slice(&chunk[..n]);
            taken += n;
            if taken == step {
                break;
            }
        }
        (taken, chunks[0].len(), count)
    }

    #[test]
    fn shared_and_copied_output_are_the_same_bytes() {
        let len = 100_000;
        let mut a = session_with(len);
        let mut b = session_with(len);
        let vectored = drain(&mut a, &mut TransmitQueue::new(true), 5_003);
        let copied = drain(&mut b, &mut TransmitQueue::new(false), 3_001);
        assert_eq!(vectored, copied);
        assert!(vectored.len() > len);
    }

    /// An idle queue holds no copy buffer (nor room for segments): none
    /// before the first fill, and none once a light fill is written out; a
    /// heavy fill's large buffer is kept until a light one follows.
    #[test]
    fn the_copy_buffer_is_held_only_while_output_waits() {
        for vectored in [true, false] {
            let mut queue = TransmitQueue::new(vectored);
            assert_eq!(queue.copied.capacity(), 0);
            let mut light = session_with(100);
            drain(&mut light, &mut queue, 1_000);
            assert_eq!(queue.copied.capacity(), 0, "vectored: {vectored}");
            assert_eq!(queue.segments.capacity(), 0, "vectored: {vectored}");

            let mut heavy = session_with(200_000);
            drain(&mut heavy, &mut queue, 70_000);
            if !vectored {
                assert_eq!(queue.copied.len(), COPY_BUFFER, "grown for copies");
            }
            drain(&mut light_session(), &mut queue, 1_000);
            assert_eq!(queue.copied.capacity(), 0, "vectored: {vectored}");
        }
    }

    /// A session with a ping to send, the lightest output there is.
    fn light_session() -> Session {
        let mut session =
            Session::new(Role::Client, Config::default(), Instant::ZERO).expect("valid config");
        session.ping(Instant::ZERO).expect("ping");
        session
    }

    /// Everything the queue gives, filling it on every turn, empty or not,
    /// and writing at most `step` bytes of its first chunk; `each` looks at
    /// the queue after every fill.
    fn drain_filling(
        session: &mut Session,
        queue: &mut TransmitQueue,
        step: usize,
        mut each: impl FnMut(&TransmitQueue),
    ) -> Vec<u8> {
        let mut wire = Vec::new();
        loop {
            let took = queue.fill(session);
            if !took && queue.is_empty() {
                return wire;
            }
            each(queue);
            let n = queue.first().len().min(step);
            wire.extend_from_slice(&queue.first()[..n]);
            queue.advance(n);
        }
    }

    /// Issue 13: filling a queue that still held bytes cleared it, so the
    /// frames it held were lost and the byte stream corrupted (in release
    /// builds; debug builds panicked on an assertion).
    #[test]
    fn filling_a_non_empty_queue_loses_nothing() {
        for vectored in [true, false] {
            let len = 200_000;
            let mut reference = session_with(len);
            let expected = drain(&mut reference, &mut TransmitQueue::new(vectored), 7_001);
            let mut session = session_with(len);
            let mut queue = TransmitQueue::new(vectored);
            let wire = drain_filling(&mut session, &mut queue, 1_000, |_| {});
            assert_eq!(wire, expected, "vectored: {vectored}");
        }
    }

    /// A queue of small capacity (the embedded adapter's) holds at most
    /// that much, however the transport takes it, and loses nothing.
    #[test]
    fn a_small_queue_holds_at_most_its_capacity() {
        let len = 20_000;
        let expected = drain(
            &mut session_with(len),
            &mut TransmitQueue::new(false),
            4_096,
        );
        for capacity in [1, 13, 100, 1_024] {
            for vectored in [true, false] {
                let mut session = session_with(len);
                let mut queue = TransmitQueue::with_capacity(vectored, capacity);
                let wire = drain_filling(&mut session, &mut queue, 7, |queue| {
                    assert!(queue.pending() <= capacity, "capacity {capacity}");
                });
                assert_eq!(wire, expected, "capacity {capacity}");
            }
        }
    }

    /// What a partial write leaves moves to the front, so the next fill has
    /// the whole buffer behind it.
    #[test]
    fn a_fill_after_a_partial_write_has_all_the_room() {
        let mut session = session_with(10_000);
        let mut queue = TransmitQueue::with_capacity(false, 100);
        assert!(queue.fill(&mut session));
        assert_eq!(queue.pending(), 100);
        queue.advance(60);
        assert!(queue.fill(&mut session));
        assert_eq!(queue.pending(), 100);
    }

    /// A session with streams holding writes of these sizes, and a ping.
    fn session_with_writes(lens: &[usize]) -> Session {
        let mut session = light_session();
        for (n, &len) in lens.iter().enumerate() {
            let id = session.open_stream(Instant::ZERO).expect("open");
            let data: Vec<u8> = (0..len).map(|i| (i + n) as u8).collect();
            let mut stream = session.stream(id).expect("open");
            if n % 2 == 0 {
                assert_eq!(stream.write(&data), Ok(len));
            } else {
                assert_eq!(stream.write_chunk(data.into()), Ok(len));
            }
        }
        session
    }

    proptest::proptest! {
        // Under Miri every case takes seconds: a few still check the logic
        // for undefined behaviour, the full count runs in the normal tests.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            if cfg!(miri) { 2 } else { 256 }
        ))]
        /// However the transport takes the bytes (vectored or not, any
        /// split, a switch to copying midway), whenever the host fills, and
        /// whatever the capacity, the wire carries what the session gave.
        #[test]
        fn partial_writes_lose_nothing(
            lens in proptest::collection::vec(0..40_000usize, 1..5),
            capacity in proptest::prop_oneof![1..200usize, 4_000..70_000usize],
            vectored: bool,
            writes in proptest::collection::vec((1..20_000usize, proptest::bool::ANY), 1..50),
            switch_at in 0..60usize,
        ) {
            let expected = drain(
                &mut session_with_writes(&lens),
                &mut TransmitQueue::new(false),
                usize::MAX,
            );
            let mut session = session_with_writes(&lens);
            let mut queue = TransmitQueue::with_capacity(vectored, capacity);
            let mut wire = Vec::new();
            for turn in 0.. {
                let (step, fill_anyway) = writes[turn % writes.len()];
                if queue.is_empty() || fill_anyway {
                    queue.fill(&mut session);
                }
                if queue.is_empty() && !session.may_transmit() {
                    break;
                }
                let (taken, first, count) = write_vectored(&queue, step, &mut wire);
                if turn == switch_at && count > 1 {
                    // A transport that turns out to take only first buffers.
                    for _ in 0..FIRST_ONLY_LIMIT {
                        queue.note_vectored_write(first, first, count);
                    }
                }
                queue.advance(taken);
            }
            proptest::prop_assert_eq!(wire, expected);
        }
    }

    #[test]
    fn a_transport_writing_only_first_buffers_gets_copies() {
        let mut session = session_with(256 * 1024);
        let mut queue = TransmitQueue::new(true);
        for _ in 0..FIRST_ONLY_LIMIT {
            if queue.is_empty() {
                assert!(queue.fill(&mut session));
            }
            let mut chunks = [&[][..]; TransmitQueue::MAX_CHUNKS];
            let count = queue.chunks(&mut chunks);
            let first = chunks[0].len();
            assert!(count > 1, "a header and a shared payload");
            queue.note_vectored_write(first, first, count);
            queue.advance(first);
        }
        assert!(!queue.is_vectored());
    }
}

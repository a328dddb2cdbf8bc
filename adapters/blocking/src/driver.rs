//! The two background threads: one feeds what the transport delivers into
//! the session, the other keeps the session's timers and writes the output
//! nobody else does (see [`Shared`] for who writes). Reading never waits
//! for writing, so two peers that both write a lot cannot stall each
//! other.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read};
use std::sync::Arc;
use std::thread;

use bytes::{Bytes, BytesMut};
use muxplex::GOAWAY_INTERNAL_ERROR;

use crate::shared::{Sender, Shared, Via};

/// The read buffer's size while reads are small.
const READ_BUFFER: usize = 64 * 1024;

/// Its size while reads fill all the room they are given: more was waiting
/// in the transport, and larger reads mean fewer of them, each waking the
/// streams' readers once.
const READ_BUFFER_BULK: usize = 256 * 1024;

/// The read buffer's free room is renewed below this, so reads stay large.
const MIN_READ: usize = 16 * 1024;

/// Small reads in a row after which the read buffer shrinks back.
const SMALL_READS: u32 = 64;

/// Spent read buffers kept for reuse while the application still holds
/// slices of them.
const SPARE_BUFFERS: usize = 2;

/// Where the transport is read into: a `BytesMut` whose length is the
/// zeroed room. A read that fills most of it is handed to the session
/// whole, as `Bytes` of its own, which keeps large payloads as slices of it
/// instead of copying them (and lets the session account what they pin);
/// a shorter read is copied in, and the room is read into again.
///
/// Those slices are mostly read (and dropped) by another thread after the
/// room has run out, so the buffer cannot be renewed in place at once; left
/// to that thread to free, the allocation went back to the allocator, which
/// returned it to the system, and zeroing the next buffer page-faulted on
/// fresh memory (most of a bulk transfer's page faults). So a few spent
/// buffers are kept, and one whose slices are all gone is renewed instead
/// of allocating. The buffer grows while reads fill it and shrinks back
/// (letting the spares go) once they are small.
struct ReadBuffer {
    room: BytesMut,
    spent: VecDeque<BytesMut>,
    /// The size of the next renewal.
    size: usize,
    /// Reads in a row that took under a quarter of `READ_BUFFER`.
    small_reads: u32,
}

impl ReadBuffer {
    fn new() -> Self {
        ReadBuffer {
            room: BytesMut::new(),
            spent: VecDeque::with_capacity(SPARE_BUFFERS + 1),
            size: READ_BUFFER,
            small_reads: 0,
        }
    }

    /// The room to read into, renewed first if it runs low.
    fn room(&mut self) -> &mut BytesMut {
        if self.room.len() < MIN_READ {
            let mut spent = std::mem::take(&mut self.room);
            spent.clear();
            if spent.capacity() > 0 {
                self.spent.push_back(spent);
            }
            let size = self.size;
            let reusable = self
                .spent
                .iter_mut()
                .position(|buffer| buffer.try_reclaim(size));
            self.room = match reusable {
                Some(at) => self.spent.remove(at).expect("found above"),
                None => {
                    if self.spent.len() > SPARE_BUFFERS {
                        // Freed once its slices are read.
                        self.spent.pop_front();
                    }
                    BytesMut::with_capacity(size)
                }
            };
            self.room.resize(size, 0);
        }
        &mut self.room
    }

    /// Takes the first `n` bytes of the room, just read: the whole room as
    /// `Bytes` if they fill most of it, else `None`, and they are to be
    /// copied from [`read`](Self::read) before the next read.
    fn take(&mut self, n: usize) -> Option<Bytes> {
        if n == self.room.len() {
            self.size = READ_BUFFER_BULK;
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
        if n * 4 < self.room.len() * 3 {
            return None;
        }
        let mut input = std::mem::take(&mut self.room);
        input.truncate(n);
        Some(input.freeze())
    }

    /// The first `n` bytes of the room, when [`take`](Self::take) left them
    /// there.
    fn read(&self, n: usize) -> &[u8] {
        &self.room[..n]
    }
}

/// Starts both threads.
pub(crate) fn spawn<R>(shared: &Arc<Shared>, reader: R) -> io::Result<()>
where
    R: Read + Send + 'static,
{
    let for_writer = Arc::clone(shared);
    thread::Builder::new()
        .name("muxplex-writer".into())
        .spawn(move || write_loop(&for_writer))?;
    let for_reader = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name("muxplex-reader".into())
        .spawn(move || read_loop(&for_reader, reader));
    if let Err(e) = spawned {
        // The writer is already running; ending the session stops it.
        let mut state = shared.lock();
        let now = shared.now();
        state.session.abort(now, GOAWAY_INTERNAL_ERROR);
        shared.settle(&mut state);
        return Err(e);
    }
    Ok(())
}

/// Feeds the transport's bytes to the session until end of file or an
/// error, both of which end the session. Once the session has ended for
/// another reason the loop goes on, discarding input, until the peer
/// closes: the writer thread has closed our direction by then.
fn read_loop<R: Read>(shared: &Shared, mut reader: R) {
    let mut buf = ReadBuffer::new();
    loop {
        let read = match reader.read(buf.room()) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            read => read,
        };
        let (n, shared_input) = match read {
            Ok(n) if n > 0 => (n, buf.take(n)),
            _ => (0, None),
        };
        let mut state = shared.lock();
        let now = shared.now();
        match shared_input {
            Some(input) => state.session.handle_input_bytes(now, input),
            None if n > 0 => state.session.handle_input(now, buf.read(n)),
            None if read.is_err() => state.session.handle_transport_error(now),
            None => state.session.handle_eof(now),
        }
        shared.settle(&mut state);
        let state = shared.transmit(state, Via::Reader);
        drop(state);
        if matches!(read, Ok(0) | Err(_)) {
            return;
        }
    }
}

/// Runs the session's timers, writes the output handed to it, and once the
/// session has ended and its last frames (a GoAway) are out, drops the
/// writer, which closes our direction of the transport.
fn write_loop(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        let now = shared.now();
        if state.session.poll_timeout().is_some_and(|at| at <= now) {
            state.session.handle_timeout(now);
            shared.settle(&mut state);
        }
        state = shared.transmit(state, Via::Writer);
        if state.session.is_closed() && state.sender == Sender::Idle {
            break;
        }
        state = shared.writer_sleep(state);
    }
    drop(shared.close_output(state));
}

//! The two background threads: one feeds what the transport delivers into
//! the session, the other writes what the session produces and keeps its
//! timers. Reading never waits for writing, so two peers that both write
//! a lot cannot stall each other.

use std::io::{self, ErrorKind, Read, Write};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use muxplex::GOAWAY_INTERNAL_ERROR;

use crate::shared::Shared;

/// Frames are gathered into writes of about this size (a frame is never
/// split, so one write may exceed it by up to a frame): many small frames
/// then cost one system call, and the lock is held only to copy them.
const BATCH: usize = 64 * 1024;

/// Bytes taken from the transport per read.
const READ_BUFFER: usize = 64 * 1024;

/// Starts both threads.
pub(crate) fn spawn<R, W>(shared: &Arc<Shared>, reader: R, writer: W) -> io::Result<()>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let for_writer = Arc::clone(shared);
    thread::Builder::new()
        .name("muxplex-writer".into())
        .spawn(move || write_loop(&for_writer, writer))?;
    let for_reader = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name("muxplex-reader".into())
        .spawn(move || read_loop(&for_reader, reader));
    if let Err(e) = spawned {
        // The writer is already running; ending the session stops it.
        let mut state = shared.lock();
        state.session.abort(GOAWAY_INTERNAL_ERROR);
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
    let mut buf = vec![0; READ_BUFFER];
    loop {
        let read = match reader.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            read => read,
        };
        let mut state = shared.lock();
        let now = shared.now();
        match read {
            Ok(n) if n > 0 => state.session.handle_input(now, &buf[..n]),
            // End of file, or a failed transport, which is as final.
            _ => state.session.handle_eof(now),
        }
        shared.settle(&mut state);
        if matches!(read, Ok(0) | Err(_)) {
            return;
        }
    }
}

/// Writes the session's output and runs its timers until the session has
/// ended and its last frames (a GoAway) are out; then drops the writer,
/// which closes our direction of the transport.
fn write_loop<W: Write>(shared: &Shared, mut writer: W) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut state = shared.lock();
    loop {
        let now = shared.now();
        if state.session.poll_timeout().is_some_and(|at| at <= now) {
            state.session.handle_timeout(now);
            shared.settle(&mut state);
        }

        batch.clear();
        while batch.len() < BATCH {
            let Some(frame) = state.session.poll_transmit_frame() else {
                break;
            };
            batch.extend_from_slice(frame.header());
            batch.extend_from_slice(frame.payload());
        }
        if !batch.is_empty() {
            // Frames leaving may raise Writable or free streams.
            shared.settle(&mut state);
            state.batches_taken += 1;
            let taken = state.batches_taken;
            drop(state);
            let written = writer.write_all(&batch).and_then(|()| writer.flush());
            state = shared.lock();
            match written {
                Ok(()) => state.batches_written = taken,
                Err(_) => {
                    // The core has no separate input for a failed write;
                    // for the session it is the transport's end all the same.
                    state.session.handle_eof(shared.now());
                    shared.settle(&mut state);
                    break;
                }
            }
            shared.written_cv.notify_all();
            continue;
        }

        if state.session.is_closed() {
            break;
        }
        state = match state.session.poll_timeout() {
            None => shared.wait(&shared.writer_cv, state),
            Some(at) => {
                let left = Duration::from_micros(at.as_micros().saturating_sub(now.as_micros()));
                shared
                    .writer_cv
                    .wait_timeout(state, left)
                    .map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard)
            }
        };
    }
    state.writer_done = true;
    shared.written_cv.notify_all();
}

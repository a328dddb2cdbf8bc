//! The two background threads: one feeds what the transport delivers into
//! the session, the other keeps the session's timers and writes the output
//! nobody else does (see [`Shared`] for who writes). Reading never waits
//! for writing, so two peers that both write a lot cannot stall each
//! other.

use std::io::{self, ErrorKind, Read};
use std::sync::Arc;
use std::thread;

use bytes::BytesMut;
use muxplex::GOAWAY_INTERNAL_ERROR;

use crate::shared::{Sender, Shared, Via};

/// Bytes taken from the transport per read, at most.
const READ_BUFFER: usize = 64 * 1024;

/// The read buffer's free room is renewed below this, so reads stay large.
const MIN_READ: usize = 16 * 1024;

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
///
/// The transport is read into a `BytesMut` whose length is the zeroed room
/// still free; what is read is split off and handed to the session as
/// `Bytes`, which keeps large payloads as slices of it instead of copying
/// them. The room is renewed (the allocation reused once those slices are
/// read) when it runs low.
fn read_loop<R: Read>(shared: &Shared, mut reader: R) {
    let mut buf = BytesMut::new();
    loop {
        if buf.len() < MIN_READ {
            buf.clear();
            buf.resize(READ_BUFFER, 0);
        }
        let read = match reader.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            read => read,
        };
        let input = match read {
            Ok(n) if n > 0 => Some(buf.split_to(n).freeze()),
            _ => None,
        };
        let mut state = shared.lock();
        let now = shared.now();
        match input {
            Some(input) => state.session.handle_input_bytes(now, input),
            // End of file, or a failed transport, which is as final.
            _ => state.session.handle_eof(now),
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

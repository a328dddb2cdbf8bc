//! The two background threads: one feeds what the transport delivers into
//! the session, the other keeps the session's timers and writes the output
//! nobody else does (see [`Shared`] for who writes). Reading never waits
//! for writing, so two peers that both write a lot cannot stall each
//! other.

use std::io::{self, ErrorKind, Read};
use std::sync::Arc;
use std::thread;

use muxplex::GOAWAY_INTERNAL_ERROR;
use muxplex_host::ReadBuffer;

use crate::shared::{Sender, Shared, Via};

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
    let mut buf = ReadBuffer::new(false);
    loop {
        let read = match reader.read(buf.room()) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            read => read,
        };
        let (n, shared_input) = match read {
            Ok(n) if n > 0 => (n, buf.take(n)),
            _ => (0, None),
        };
        let read = read.map_err(|e| shared.transport_failed(e));
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

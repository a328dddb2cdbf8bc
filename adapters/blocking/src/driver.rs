//! The two background threads, and reading the transport.
//!
//! The writer thread keeps the session's timers and writes the output
//! nobody else does (see [`Shared`] for who writes).
//!
//! # Who reads
//!
//! Reading the transport is a role one thread holds at a time
//! ([`State::reading`](crate::shared::State)). An application thread whose
//! read or write on a stream would block takes it when it is free, if the
//! transport is a TCP socket: it reads the socket itself and feeds the
//! session, until its own stream can go on, as a thread reading a
//! `TcpStream` would, so a round trip wakes no other thread. It reads with
//! a short timeout ([`LEAD_TIMEOUT`]), so that a local event its stream
//! waits for (a reset from another thread, the session's end) is seen
//! soon, and it leaves the role to the reader thread after one timeout
//! without input, so that an idle wait costs no polling. Other threads
//! sleep on their condition variables and are woken by the events the
//! reading thread's input raises.
//!
//! The reader thread holds the role whenever nobody else does, so the
//! peer's pings, window updates and new streams are read while no
//! application thread waits. Once its input woke a waiting application
//! thread, it leaves the role free for [`GRACE`], in which that thread
//! can take it back; a thread that will not (it goes to sleep, or drops
//! its stream) ends the grace at once, so that input arriving meanwhile
//! is read without waiting for the grace to run out. Transports other
//! than TCP cannot interrupt a read, so only the reader thread reads them.
//!
//! Nobody who reads waits for the transport's write (two peers that both
//! write a lot would stall each other): the frames input produces go to
//! the writer thread.

use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use muxplex::GOAWAY_INTERNAL_ERROR;
use muxplex_host::ReadBuffer;

use crate::shared::{Guard, Sender, Shared, Via};

/// How long an application thread's read of the socket blocks before it
/// looks at its stream again: bounds how late it sees a local event.
const LEAD_TIMEOUT: Duration = Duration::from_millis(5);

/// How long the reader thread leaves the role free, after its input woke
/// an application thread, before it reads again itself; also how often it
/// looks whether the role is free while an application thread holds it.
const GRACE: Duration = Duration::from_millis(1);

/// The transport's read half.
pub(crate) enum Source {
    /// A TCP socket, whose reads can time out.
    Tcp(TcpStream),
    /// Any other reader.
    Other(Box<dyn Read + Send>),
}

/// The read half and its buffer: locked only by the thread that holds the
/// reading role, so it is never contended.
pub(crate) struct Input {
    source: Source,
    buf: ReadBuffer,
    /// Whether the socket's read timeout is set to [`LEAD_TIMEOUT`].
    timed: bool,
}

impl Input {
    pub(crate) fn new(source: Source) -> Self {
        Input {
            source,
            buf: ReadBuffer::new(false),
            timed: false,
        }
    }

    /// Whether an application thread may read: its read must time out.
    pub(crate) fn can_lead(&self) -> bool {
        matches!(self.source, Source::Tcp(_))
    }

    /// One read, with the timeout an application thread needs (`timed`)
    /// or none. `None`: it timed out.
    fn read(&mut self, timed: bool) -> Option<io::Result<usize>> {
        if let Source::Tcp(tcp) = &self.source
            && self.timed != timed
            && tcp.set_read_timeout(timed.then_some(LEAD_TIMEOUT)).is_ok()
        {
            self.timed = timed;
        }
        loop {
            let read = match &mut self.source {
                Source::Tcp(tcp) => tcp.read(self.buf.room()),
                Source::Other(reader) => reader.read(self.buf.room()),
            };
            match read {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // Only our own timeouts (or the lingering close's) make a
                // socket's read time out: the constructor refuses others.
                Err(e)
                    if matches!(self.source, Source::Tcp(_))
                        && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return None;
                }
                read => return Some(read),
            }
        }
    }
}

/// What one read brought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Input, fed to the session; `true` if it woke a stream's waiter.
    Input(bool),
    /// Nothing before the timeout.
    TimedOut,
    /// End of file or an error: nothing more to read.
    Ended,
}

/// Starts both threads.
pub(crate) fn spawn(shared: &Arc<Shared>) -> io::Result<()> {
    let for_writer = Arc::clone(shared);
    thread::Builder::new()
        .name("muxplex-writer".into())
        .spawn(move || write_loop(&for_writer))?;
    let for_reader = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name("muxplex-reader".into())
        .spawn(move || read_loop(&for_reader));
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

/// Reads once as the holder of the reading role, which the caller took
/// (set `reading`), and feeds the result to the session; gives the role
/// up. End of file or an error ends the session and the reading for good.
/// Once the session has ended for another reason, input is still read
/// (and discarded by the session) until the peer closes: the writer thread
/// has closed our direction by then.
pub(crate) fn read_once<'a>(
    shared: &'a Shared,
    state: Guard<'a>,
    app: bool,
) -> (Guard<'a>, Outcome) {
    debug_assert!(state.reading);
    drop(state);
    let mut input = shared.lock_input();
    let read = input.read(app);
    let mut state = shared.lock();
    let now = shared.now();
    let outcome = match read {
        None => Outcome::TimedOut,
        Some(Ok(n)) if n > 0 => {
            match input.buf.take(n) {
                Some(bytes) => state.session.handle_input_bytes(now, bytes),
                None => state.session.handle_input(now, input.buf.read(n)),
            }
            Outcome::Input(false)
        }
        Some(Ok(_)) => {
            state.session.handle_eof(now);
            Outcome::Ended
        }
        Some(Err(error)) => {
            shared.transport_failed(error);
            state.session.handle_transport_error(now);
            Outcome::Ended
        }
    };
    drop(input);
    state.reading = false;
    if outcome == Outcome::Ended {
        state.input_done = true;
    }
    shared.settle(&mut state);
    let woke = state.wakes_streams();
    let state = shared.transmit(state, Via::Reader);
    match outcome {
        Outcome::Input(_) => (state, Outcome::Input(woke)),
        other => (state, other),
    }
}

/// Holds the reading role whenever nobody else does, until the input ends.
fn read_loop(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if state.input_done {
            return;
        }
        let free_since = state.free_since;
        let waited = free_since.map(|at| at.elapsed());
        if state.reading || waited.is_some_and(|waited| waited < GRACE) {
            // An application thread reads, or may take the role back.
            let left = GRACE.saturating_sub(waited.unwrap_or_default());
            state = shared.reader_sleep(state, left);
            continue;
        }
        state.free_since = None;
        state.reading = true;
        let outcome;
        (state, outcome) = read_once(shared, state, false);
        if outcome == Outcome::Input(true) && state.can_lead {
            // The woken thread may read next.
            state.free_since = Some(std::time::Instant::now());
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

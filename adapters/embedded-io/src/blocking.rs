//! The blocking driver: a session over `embedded_io` traits, polled from
//! the host's main loop.

use alloc::boxed::Box;
use alloc::vec;

use embedded_io::{Read, ReadReady, Write, WriteReady};
use muxplex::{Instant, Session, TransmitQueue};

use crate::DEFAULT_BUFFER_SIZE;
use crate::error::Error;

/// At most this many reads per [`Driver::poll`]: a peer that sends without
/// pause must not keep `poll` from returning to the host's loop (or from
/// writing our own output, which the peer may be waiting for).
const READS_PER_POLL: usize = 8;

/// A [`Session`] driven over a blocking `embedded_io` transport without
/// ever blocking: it reads only when [`ReadReady`] says a read will not
/// wait and writes only when [`WriteReady`] says a write will not wait.
///
/// The host calls [`poll`](Self::poll) from its main loop with the current
/// time, and uses [`session_mut`](Self::session_mut) for everything else:
/// opening and accepting streams, reading and writing them, and draining
/// [`Session::poll_event`]. The driver makes no protocol decisions.
///
/// Output the transport has no room for waits in a buffer of fixed size
/// (see [`with_capacity`](Self::with_capacity)); the session keeps the rest,
/// so no byte is lost and memory stays bounded.
///
/// [`Write::flush`] is never called, since it may block: a transport that
/// holds bytes until flushed needs the host to flush it through
/// [`transport_mut`](Self::transport_mut).
#[derive(Debug)]
pub struct Driver<T> {
    transport: T,
    session: Session,
    input: Box<[u8]>,
    output: TransmitQueue,
}

impl<T> Driver<T>
where
    T: Read + Write + ReadReady + WriteReady,
{
    /// A driver with [`DEFAULT_BUFFER_SIZE`] bytes each for reading and for
    /// output waiting on the transport.
    #[must_use]
    pub fn new(transport: T, session: Session) -> Self {
        Self::with_capacity(transport, session, DEFAULT_BUFFER_SIZE, DEFAULT_BUFFER_SIZE)
    }

    /// A driver that reads at most `read` bytes per transport read and holds
    /// at most `write` bytes of output the transport has not taken yet.
    /// Sizes of zero are raised to one, the least that makes progress.
    pub fn with_capacity(transport: T, session: Session, read: usize, write: usize) -> Self {
        Driver {
            transport,
            session,
            input: vec![0; read.max(1)].into_boxed_slice(),
            // embedded-io has no vectored writes: every frame is copied.
            output: TransmitQueue::with_capacity(false, write),
        }
    }

    /// Does whatever the transport allows now, without waiting: reads what
    /// is ready into the session, passes `now` to the session's timers if a
    /// deadline has come, and writes pending output while the transport is
    /// ready. Call it from the main loop, and after using the session, with
    /// `now` from the host's monotonic clock; then drain the session's
    /// events.
    ///
    /// The end of the transport's input closes the session (an
    /// [`Event::Closed`](muxplex::Event::Closed) follows); the driver then
    /// stops reading, but keeps writing whatever the session still sends.
    pub fn poll(&mut self, now: Instant) -> Result<(), Error<T::Error>> {
        self.receive(now)?;
        if self.session.poll_timeout().is_some_and(|at| at <= now) {
            self.session.handle_timeout(now);
        }
        self.send()
    }

    /// When the session next needs [`poll`](Self::poll) even if the
    /// transport stays quiet (keepalive, timeouts); `None` if it does not.
    /// The host may sleep until then, or until the transport is ready to
    /// read or, while [`is_flushed`](Self::is_flushed) is false, to write.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    /// Whether, as of the last [`poll`](Self::poll), everything the session
    /// produced was handed to the transport. After the session closes, a
    /// host polls until this holds so its final GoAway goes out; commands
    /// given since the last poll may have queued more.
    pub fn is_flushed(&self) -> bool {
        self.output.is_empty()
    }

    /// The session, for queries.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session, for streams, commands and events.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, for what the driver leaves to the host, such as
    /// flushing. Bytes read from or written to it behind the driver's back
    /// corrupt the session's byte stream.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The transport and the session, taking the driver apart. Output not
    /// yet taken by the transport is dropped.
    pub fn into_parts(self) -> (T, Session) {
        (self.transport, self.session)
    }

    fn receive(&mut self, now: Instant) -> Result<(), Error<T::Error>> {
        for _ in 0..READS_PER_POLL {
            // A closed session has no use for input, and a reader at end of
            // file stays ready: stopping here keeps it from spinning.
            if self.session.is_closed() || !self.transport.read_ready().map_err(Error::Read)? {
                break;
            }
            match self.transport.read(&mut self.input).map_err(Error::Read)? {
                0 => self.session.handle_eof(now),
                n => self.session.handle_input(now, &self.input[..n]),
            }
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), Error<T::Error>> {
        loop {
            self.output.fill(&mut self.session);
            if self.output.is_empty() || !self.transport.write_ready().map_err(Error::Write)? {
                return Ok(());
            }
            match self
                .transport
                .write(self.output.first())
                .map_err(Error::Write)?
            {
                0 => return Err(Error::WriteZero),
                n => self.output.advance(n),
            }
        }
    }
}

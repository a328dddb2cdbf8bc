//! The async driver: a session over `embedded_io_async` traits, with time
//! from the host.

use alloc::boxed::Box;
use alloc::vec;
use core::future::{Future, pending, poll_fn};
use core::pin::pin;
use core::task::Poll;

use embedded_io_async::{Read, Write};
use muxplex::{Event, Instant, Session, TransmitQueue};

use crate::DEFAULT_BUFFER_SIZE;
use crate::error::Error;

/// The host's monotonic clock and timer, so the driver needs no runtime.
///
/// With embassy, `now` reads `embassy_time::Instant::now()` as
/// microseconds and `sleep_until` awaits `embassy_time::Timer::at`.
pub trait Clock {
    /// The current time, as microseconds since an origin of the host's
    /// choosing. It must never go backwards.
    fn now(&self) -> Instant;

    /// Completes once [`now`](Self::now) has reached `deadline`, at once if
    /// it already has. Dropping the future early must be harmless: the
    /// driver drops it whenever the transport has news first.
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()>;
}

/// What ended one wait on the transport and the clock.
enum Wake {
    Read(usize),
    Wrote(usize),
    Flushed,
    Deadline,
}

/// A [`Session`] driven over an `embedded_io_async` transport, given as a
/// read half and a write half (such as embassy-net's `TcpSocket::split` or
/// embassy's `BufferedUart::split`).
///
/// Each call to [`step`](Self::step) reads, writes and keeps the session's
/// timers until the session has an event, and returns it. Between steps the
/// application uses [`session_mut`](Self::session_mut) to act on it:
/// accept and open streams, read and write them.
///
/// Reading and writing run concurrently: waiting for a write while not
/// reading could deadlock two peers that both send more than the transport
/// buffers. So the halves' `read` and `write` must be cancel-safe (a dropped
/// future has no effect), as embedded-io-async encourages and embassy's
/// buffered transports are: whichever of reading, writing and the timer
/// finishes first, the others are dropped. For the same reason `step`
/// itself is cancel-safe, so an application can race it against its own
/// work (a button, a sensor) and come back.
#[derive(Debug)]
pub struct AsyncDriver<R, W, C> {
    reader: R,
    writer: W,
    clock: C,
    session: Session,
    input: Box<[u8]>,
    output: TransmitQueue,
    /// Whether bytes were written since the writer was last flushed.
    unflushed: bool,
}

impl<R, W, C> AsyncDriver<R, W, C>
where
    R: Read,
    W: Write<Error = R::Error>,
    C: Clock,
{
    /// A driver with [`DEFAULT_BUFFER_SIZE`] bytes each for reading and for
    /// output waiting on the transport.
    #[must_use]
    pub fn new(reader: R, writer: W, clock: C, session: Session) -> Self {
        let size = DEFAULT_BUFFER_SIZE;
        Self::with_capacity(reader, writer, clock, session, size, size)
    }

    /// A driver that reads at most `read` bytes per transport read and holds
    /// at most `write` bytes of output the transport has not taken yet.
    /// Sizes of zero are raised to one, the least that makes progress.
    pub fn with_capacity(
        reader: R,
        writer: W,
        clock: C,
        session: Session,
        read: usize,
        write: usize,
    ) -> Self {
        AsyncDriver {
            reader,
            writer,
            clock,
            session,
            input: vec![0; read.max(1)].into_boxed_slice(),
            // embedded-io has no vectored writes: every frame is copied.
            output: TransmitQueue::with_capacity(false, write),
            unflushed: false,
        }
    }

    /// The session, for queries.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session, for streams, commands and events.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Runs the session until it has an event for the application and
    /// returns it: reads the transport into the session, writes (and then
    /// flushes) its output, and keeps its timers with the [`Clock`].
    ///
    /// `Ok(None)` means the session has ended and every event was
    /// returned; what the session still had to send (such as the GoAway of
    /// a close) is then left for [`flush`](Self::flush).
    pub async fn step(&mut self) -> Result<Option<Event>, Error<R::Error>> {
        loop {
            if let Some(event) = self.session.poll_event() {
                return Ok(Some(event));
            }
            if self.session.is_closed() {
                return Ok(None);
            }
            // Checked here, not only when the timer wins the race below, so
            // a transport that is always ready cannot starve the timers.
            let now = self.clock.now();
            if self.session.poll_timeout().is_some_and(|at| at <= now) {
                self.session.handle_timeout(now);
                continue;
            }
            self.output.fill(&mut self.session);
            match self.wait().await? {
                Wake::Read(0) => self.session.handle_eof(self.clock.now()),
                Wake::Read(n) => {
                    let now = self.clock.now();
                    self.session.handle_input(now, &self.input[..n]);
                }
                Wake::Wrote(0) => return Err(Error::WriteZero),
                Wake::Wrote(n) => {
                    self.output.advance(n);
                    self.unflushed = true;
                }
                Wake::Flushed => self.unflushed = false,
                Wake::Deadline => {} // handled at the top of the loop
            }
        }
    }

    /// Writes everything the session has to send and flushes the writer,
    /// without reading. Meant for after the session ended, so a GoAway
    /// reaches the peer: it waits for as long as the transport does, so a
    /// host whose peer may have stopped reading races it against a timer.
    pub async fn flush(&mut self) -> Result<(), Error<R::Error>> {
        loop {
            self.output.fill(&mut self.session);
            if self.output.is_empty() {
                break;
            }
            let n = self.writer.write(self.output.first()).await;
            match n.map_err(Error::Write)? {
                0 => return Err(Error::WriteZero),
                n => self.output.advance(n),
            }
            self.unflushed = true;
        }
        if self.unflushed {
            self.writer.flush().await.map_err(Error::Write)?;
            self.unflushed = false;
        }
        Ok(())
    }

    /// Waits for the first of: input, the transport taking output (or
    /// finishing a flush), and the session's next deadline.
    async fn wait(&mut self) -> Result<Wake, Error<R::Error>> {
        let deadline = self.session.poll_timeout();
        let output = self.output.first();
        let unflushed = self.unflushed;
        let (writer, clock) = (&mut self.writer, &self.clock);
        let mut read = pin!(self.reader.read(&mut self.input));
        let mut write = pin!(async move {
            if !output.is_empty() {
                writer.write(output).await.map(Wake::Wrote)
            } else if unflushed {
                writer.flush().await.map(|()| Wake::Flushed)
            } else {
                pending().await
            }
        });
        let mut sleep = pin!(async move {
            match deadline {
                Some(at) => clock.sleep_until(at).await,
                None => pending().await,
            }
        });
        // Input first: it is what the peer waits on us for, and handling it
        // is what frees the peer to read our output.
        poll_fn(|cx| {
            if let Poll::Ready(result) = read.as_mut().poll(cx) {
                return Poll::Ready(result.map(Wake::Read).map_err(Error::Read));
            }
            if let Poll::Ready(result) = write.as_mut().poll(cx) {
                return Poll::Ready(result.map_err(Error::Write));
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(Wake::Deadline));
            }
            Poll::Pending
        })
        .await
    }
}

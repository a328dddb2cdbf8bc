//! The future that moves bytes between the session and the transport.

use std::fmt;

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use muxplex::{Delivery, Instant, TransmitQueue};
use muxplex_host::ReadBuffer;

use crate::error::{Error, TransportError};
use crate::io::{TransportRead, TransportWrite};
use crate::shared::{Inner, Lost, Shared, register};

/// What the driver reads first, on the stack, while it holds no read
/// buffer: an idle connection keeps no read memory, and a small message
/// costs no allocation. A read that fills it means more is waiting, and the
/// driver moves to a [`ReadBuffer`] of 64 KiB until the transport runs
/// dry.
const FIRST_READ: usize = 2 * 1024;

/// Rounds of reading and writing in one poll before the driver yields, so
/// a busy connection cannot starve the other tasks of its executor.
const ROUNDS_PER_POLL: usize = 64;

/// A batch smaller than this waits one yield before it is written, so the
/// frames the woken application queues next join it (see `round`).
const COALESCE_BELOW: usize = 16 * 1024;

/// Drives one connection: reads the transport into the session, writes the
/// session's frames to the transport, and feeds the session its deadlines.
///
/// Spawn it (or poll it alongside the application). It resolves once the
/// session has ended and its last frames are out: `Ok(())` after a clean
/// end (either side closed, or the peer's transport reached EOF),
/// [`Error::Transport`] with the transport's own error otherwise. The same
/// outcome is what [`Connection::closed`](crate::Connection::closed)
/// returns, so a spawned driver's result is not lost with its task.
/// Dropping it early ends the connection: every waiting stream operation
/// then fails ([`Error::DriverGone`]) instead of hanging.
#[must_use = "a driver moves no bytes unless it is polled or spawned"]
pub struct Driver<T> {
    shared: Arc<Shared>,
    transport: T,
    /// Where bulk input is read into (see [`ReadBuffer`]): made when a
    /// read on the stack filled its room, so more is waiting, and dropped
    /// once the transport runs dry. Boxed, so an idle driver's future is
    /// that much smaller (issue 12: idle connections).
    read_buf: Option<Box<ReadBuffer>>,
    /// See [`TransportRead::reads_into_spare_capacity`].
    read_uninit: bool,
    /// Frames taken from the session and not yet written.
    output: TransmitQueue,
    /// Bytes were written since the last flush.
    needs_flush: bool,
    /// The transport's input ended (or failed); it is not read again.
    read_closed: bool,
    /// Since when the transport has taken none of the output waiting for
    /// it (a write or close that stays pending), for `Config::write_timeout`;
    /// once our output is closed, since when we wait for the peer's EOF.
    /// (As a flag and an instant rather than an `Option`, which takes a
    /// word more: the future then fits a smaller tokio task, issue 12.)
    write_stalled: bool,
    write_stalled_at: Instant,
    /// Our direction of the transport is closed (after the session's last
    /// frames). The transport is still read, and what arrives discarded,
    /// until the peer's EOF: dropped with unread input, a TCP socket
    /// answers with a reset, and the kernel discards what it had not yet
    /// sent of our last frames.
    output_closed: bool,
    /// The batch in the queue has waited its one yield (see `round`).
    coalesced: bool,
    /// `round` asks `poll` to yield before the batch is written.
    yield_to_coalesce: bool,
    done: bool,
}

impl<T> fmt::Debug for Driver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("unwritten", &self.output.pending())
            .field("read_closed", &self.read_closed)
            .field("done", &self.done)
            .finish()
    }
}

impl<T> Driver<T>
where
    T: TransportRead + TransportWrite + Unpin,
{
    pub(crate) fn new(shared: Arc<Shared>, transport: T) -> Self {
        let output = TransmitQueue::new(transport.is_write_vectored());
        let read_uninit = transport.reads_into_spare_capacity();
        Driver {
            shared,
            transport,
            read_buf: None,
            read_uninit,
            output,
            needs_flush: false,
            read_closed: false,
            write_stalled: false,
            write_stalled_at: Instant::ZERO,
            output_closed: false,
            coalesced: false,
            yield_to_coalesce: false,
            done: false,
        }
    }

    /// One round: read what is there, fire a due deadline, write what the
    /// session has. Returns whether anything happened.
    fn round(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let mut progress = false;

        if !self.read_closed {
            match self.read(cx) {
                Ok(read) => progress |= read,
                // Lingering for the peer's EOF: its failure ends that too.
                Err(_) if self.output_closed => {
                    self.read_closed = true;
                    progress = true;
                }
                Err(e) => return Err(e),
            }
        }

        {
            let mut inner = self.shared.lock();
            // The timer is armed exactly when there is a deadline ahead.
            // Time comes from the timer's clock, on which a fired sleep has
            // reached its deadline, so the session always finds the
            // deadline due and moves it: a fired timer cannot spin.
            let write_timeout = inner.session.config().write_timeout;
            let stall_deadline = self.write_stalled_since().zip(write_timeout);
            let stall_deadline = stall_deadline.map(|(since, timeout)| since + timeout);
            let session_deadline = inner.session.poll_timeout();
            if let Some(deadline) = session_deadline.into_iter().chain(stall_deadline).min()
                && inner.poll_deadline(cx, deadline).is_ready()
            {
                let now = inner.now();
                if stall_deadline.is_some_and(|at| at <= now) {
                    if self.output_closed {
                        // The peer never closed: stop waiting for it.
                        self.read_closed = true;
                        self.write_stalled = false;
                        return Ok(true);
                    }
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the transport accepted no output within the write timeout",
                    ));
                }
                inner.session.handle_timeout(now);
                inner.dispatch_events();
                progress = true;
            }
        }

        loop {
            // Batch: everything the session has, up to a full buffer of
            // copies (or a bounded run of shared payloads), goes out in one
            // write. The queue is topped up before every write, not only
            // once it is empty, so frames queued while a write was pending
            // ride along instead of following in a write of their own.
            let was_empty = self.output.is_empty();
            {
                let mut inner = self.shared.lock();
                if self.output.fill(&mut inner.session) {
                    // Sending can unblock writers (their data left the
                    // buffer).
                    inner.dispatch_events();
                }
            }
            if self.output.is_empty() {
                break;
            }
            if was_empty && !self.coalesced && self.output.pending() < COALESCE_BELOW {
                // A small batch, just produced: what woke us (an accept, a
                // write, the input just read) has usually woken the task
                // that will queue the next frames at once (the response,
                // the FIN after the data). Let it run first, so that they
                // leave in this write rather than a second small one, which
                // Nagle's algorithm would hold until the peer's delayed ACK
                // (40 ms and more on sockets without TCP_NODELAY).
                self.coalesced = true;
                self.yield_to_coalesce = true;
                return Ok(progress);
            }
            let written = if self.output.is_vectored() {
                let mut chunks = [&[][..]; TransmitQueue::MAX_CHUNKS];
                let count = self.output.chunks(&mut chunks);
                let slices: [IoSlice<'_>; TransmitQueue::MAX_CHUNKS] =
                    std::array::from_fn(|i| IoSlice::new(chunks[i]));
                let written = self.transport.poll_write_vectored(cx, &slices[..count]);
                if let Poll::Ready(Ok(n)) = written {
                    self.output.note_vectored_write(n, chunks[0].len(), count);
                }
                written
            } else {
                self.transport.poll_write(cx, self.output.first())
            };
            match written {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => {
                    self.output.advance(n);
                    self.coalesced = false;
                    self.needs_flush = true;
                    self.write_stalled = false;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {
                    self.note_write_stall();
                    break;
                }
            }
        }

        if self.needs_flush && self.output.is_empty() {
            match self.transport.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }

    /// See `write_stalled`.
    fn write_stalled_since(&self) -> Option<Instant> {
        self.write_stalled.then_some(self.write_stalled_at)
    }

    /// The transport took none of the output offered: the write timeout
    /// runs from the first such moment until it takes some.
    fn note_write_stall(&mut self) {
        if !self.write_stalled {
            self.write_stalled = true;
            self.write_stalled_at = self.shared.lock().now();
        }
    }

    /// Reads what the transport has into the session (see `read_buf`).
    /// The transport is read without the lock held: handles stay usable
    /// while the driver waits on I/O.
    fn read(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let Some(buffer) = &mut self.read_buf else {
            let mut first = [0u8; FIRST_READ];
            let n = match self.transport.poll_read(cx, &mut first) {
                Poll::Ready(result) => result?,
                Poll::Pending => return Ok(false),
            };
            self.input(&first[..n]);
            if n == FIRST_READ {
                self.read_buf = Some(Box::new(ReadBuffer::without_growth(self.read_uninit)));
            }
            return Ok(true);
        };
        let room = buffer.room();
        let read = if self.read_uninit {
            self.transport.poll_read_buf(cx, room)
        } else {
            self.transport.poll_read(cx, room)
        };
        let n = match read {
            Poll::Ready(result) => result?,
            Poll::Pending => {
                // Dry: back to reading on the stack, holding nothing.
                self.read_buf = None;
                return Ok(false);
            }
        };
        let mut inner = self.shared.lock();
        match buffer.take(n) {
            Some(input) => {
                let now = inner.now();
                inner.session.handle_input_bytes(now, input);
                inner.dispatch_events();
            }
            None => self.read_closed |= feed(&mut inner, buffer.read(n)),
        }
        Ok(true)
    }

    /// Feeds copied input to the session (see [`feed`]).
    fn input(&mut self, bytes: &[u8]) {
        let mut inner = self.shared.lock();
        self.read_closed |= feed(&mut inner, bytes);
    }

    /// Whether the session is over and every byte it produced is out.
    fn finished_sending(&self) -> bool {
        self.output.is_empty() && !self.needs_flush && self.shared.lock().session.is_closed()
    }

    /// Marks the connection as over and wakes everyone, so no handle waits
    /// for a driver that will not run again.
    fn finish(&mut self, lost: Option<Lost>) {
        self.done = true;
        self.shared.lock().driver_ended(lost);
    }
}

/// Feeds copied input to the session; no input is the end of the
/// transport's, and then returns true.
fn feed(inner: &mut Inner, bytes: &[u8]) -> bool {
    let now = inner.now();
    if bytes.is_empty() {
        inner.session.handle_eof(now);
    } else {
        inner.session.handle_input(now, bytes);
    }
    inner.dispatch_events();
    bytes.is_empty()
}

impl<T> Future for Driver<T>
where
    T: TransportRead + TransportWrite + Unpin,
{
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(Ok(()));
        }
        // Registered before looking at the session, so a command issued
        // after that look still wakes us.
        register(&mut this.shared.lock().driver_waker, cx.waker());

        for _ in 0..ROUNDS_PER_POLL {
            match this.round(cx) {
                Ok(_) if this.yield_to_coalesce => {
                    this.yield_to_coalesce = false;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Ok(true) => {}
                Ok(false) => {
                    if this.finished_sending() {
                        // The session is over and flushed: end our output so
                        // the peer sees EOF. A failure here changes nothing
                        // for the session, which has already ended.
                        if !this.output_closed {
                            if this.transport.poll_close(cx).is_pending() {
                                this.note_write_stall();
                                return Poll::Pending;
                            }
                            this.output_closed = true;
                            // The write timeout now bounds the wait for EOF.
                            this.write_stalled = false;
                            this.note_write_stall();
                            continue;
                        }
                        if this.read_closed {
                            this.finish(None);
                            return Poll::Ready(Ok(()));
                        }
                    }
                    return Poll::Pending;
                }
                Err(e) => {
                    let error = TransportError::from(e);
                    this.finish(Some(Lost::Transport(error.clone())));
                    return Poll::Ready(Err(Error::Transport {
                        error,
                        delivery: Delivery::NotDelivered,
                    }));
                }
            }
        }
        // Still busy: let other tasks run, then continue.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T> Drop for Driver<T> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Dropped while only waiting for the peer's EOF, everything of ours
        // is out: nothing was lost.
        let lost = (!self.output_closed).then_some(Lost::DriverGone);
        self.shared.lock().driver_ended(lost);
    }
}

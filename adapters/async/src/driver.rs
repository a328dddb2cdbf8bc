//! The future that moves bytes between the session and the transport.

use std::fmt;

use bytes::BytesMut;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use muxplex::TransmitQueue;

use crate::io::{TransportRead, TransportWrite};
use crate::shared::{Lost, Shared, register};

/// How many bytes the driver reads at a time. (Frames go out through a
/// [`TransmitQueue`], which copies small frames into a 64 KiB buffer so
/// that many of them cost one system call.)
pub const IO_BUFFER_SIZE: usize = 64 * 1024;

/// The read buffer's free room is renewed below this, so that reads stay
/// large.
const MIN_READ: usize = 16 * 1024;

/// Rounds of reading and writing in one poll before the driver yields, so
/// a busy connection cannot starve the other tasks of its executor.
const ROUNDS_PER_POLL: usize = 64;

/// Drives one connection: reads the transport into the session, writes the
/// session's frames to the transport, and feeds the session its deadlines.
///
/// Spawn it (or poll it alongside the application). It resolves once the
/// session has ended and its last frames are out: `Ok(())` after a clean
/// end (either side closed, or the peer's transport reached EOF), the
/// transport's error otherwise. Dropping it early ends the connection:
/// every waiting stream operation then fails instead of hanging.
pub struct Driver<T> {
    shared: Arc<Shared>,
    transport: T,
    /// Where the transport is read into: its spare capacity when the
    /// transport reads into uninitialized memory (`read_uninit`), else its
    /// length is the zeroed room still free. What is read is split off and
    /// handed to the session as `Bytes`, which keeps large payloads as
    /// slices of it (no copy); the room is renewed (the allocation reused
    /// once those are read) when it runs low.
    read_buf: BytesMut,
    /// See [`TransportRead::reads_into_spare_capacity`].
    read_uninit: bool,
    /// Frames taken from the session and not yet written.
    output: TransmitQueue,
    /// Bytes were written since the last flush.
    needs_flush: bool,
    /// The transport's input ended (or failed); it is not read again.
    read_closed: bool,
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
            read_buf: BytesMut::new(),
            read_uninit,
            output,
            needs_flush: false,
            read_closed: false,
            done: false,
        }
    }

    /// One round: read what is there, fire a due deadline, write what the
    /// session has. Returns whether anything happened.
    fn round(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let mut progress = false;

        if !self.read_closed {
            // The transport is read without the lock held: handles stay
            // usable while the driver waits on I/O.
            let read = if self.read_uninit {
                // Everything read is split off at once: the buffer's length
                // stays 0, and its spare capacity is the room.
                if self.read_buf.capacity() < MIN_READ {
                    self.read_buf.reserve(IO_BUFFER_SIZE);
                }
                self.transport.poll_read_buf(cx, &mut self.read_buf)
            } else {
                if self.read_buf.len() < MIN_READ {
                    self.read_buf.clear();
                    self.read_buf.resize(IO_BUFFER_SIZE, 0);
                }
                self.transport.poll_read(cx, &mut self.read_buf)
            };
            match read {
                Poll::Ready(Ok(0)) => {
                    self.read_closed = true;
                    let mut inner = self.shared.lock();
                    let now = inner.now();
                    inner.session.handle_eof(now);
                    inner.dispatch_events();
                    progress = true;
                }
                Poll::Ready(Ok(n)) => {
                    let mut inner = self.shared.lock();
                    let now = inner.now();
                    let input = self.read_buf.split_to(n).freeze();
                    inner.session.handle_input_bytes(now, input);
                    inner.dispatch_events();
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }

        {
            let mut inner = self.shared.lock();
            // The timer is armed exactly when there is a deadline ahead.
            // Time comes from the timer's clock, on which a fired sleep has
            // reached its deadline, so the session always finds the
            // deadline due and moves it: a fired timer cannot spin.
            if let Some(deadline) = inner.session.poll_timeout()
                && inner.poll_deadline(cx, deadline).is_ready()
            {
                let now = inner.now();
                inner.session.handle_timeout(now);
                inner.dispatch_events();
                progress = true;
            }
        }

        loop {
            if self.output.is_empty() {
                // Batch: everything the session has, up to a full buffer
                // of copies (or a bounded run of shared payloads), goes
                // out in one write.
                let mut inner = self.shared.lock();
                let took = self.output.fill(&mut inner.session);
                // Sending can unblock writers (their data left the buffer).
                inner.dispatch_events();
                drop(inner);
                if !took {
                    break;
                }
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
                    self.needs_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
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

impl<T> Future for Driver<T>
where
    T: TransportRead + TransportWrite + Unpin,
{
    type Output = io::Result<()>;

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
                Ok(true) => {}
                Ok(false) => {
                    if this.finished_sending() {
                        // The session is over and flushed: end our output so
                        // the peer sees EOF. A failure here changes nothing
                        // for the session, which has already ended.
                        if this.transport.poll_close(cx).is_pending() {
                            return Poll::Pending;
                        }
                        this.finish(None);
                        return Poll::Ready(Ok(()));
                    }
                    return Poll::Pending;
                }
                Err(e) => {
                    this.finish(Some(Lost::Transport(e.kind())));
                    return Poll::Ready(Err(e));
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
        self.shared.lock().driver_ended(Some(Lost::DriverGone));
    }
}

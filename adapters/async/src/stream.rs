//! One stream of a connection, as poll-based read/write primitives that
//! runtime adapters wrap in their I/O traits.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use muxplex::{Delivery, NoStream, ResetBy, StreamError, StreamId, StreamStatus};

use crate::error::Error;
use crate::shared::{Inner, Shared, register};

mod chunks;

/// One bidirectional stream of a [`Connection`](crate::Connection).
///
/// The methods take `&self`, so one task may read while another writes.
/// One task at a time per direction, though: of two tasks both waiting to
/// read (or both to write), only the one that polled last is woken, as
/// with tokio's `&TcpStream`; share a direction behind a lock.
/// It implements [`futures_io::AsyncRead`] and [`futures_io::AsyncWrite`]
/// (also for `&Stream`); `poll_close` finishes our direction.
///
/// # Dropping
///
/// Dropping a stream finishes it if it is still open for writing, so
/// everything written is still delivered, followed by the end of the
/// stream, as when a TCP socket is dropped. Whatever the peer still sends
/// is read and discarded, and the stream's state is freed when the peer
/// finishes; a peer that never does is reset after
/// [`Config::stream_close_timeout`](muxplex::Config::stream_close_timeout).
/// It is not reset on drop, because a reset throws away written data not
/// yet sent, and "write the answer, then drop" must deliver the answer.
/// Call [`reset`](Self::reset) to abandon a stream at once instead.
pub struct Stream {
    id: StreamId,
    shared: Arc<Shared>,
    /// `EOF`, `FINISHED` and `RESET`; changed only under the shared lock,
    /// so relaxed ordering is enough. Kept here rather than in a map in the
    /// shared state, so that an idle stream costs the adapter no memory.
    /// A reset by the peer or the session, and the session's end, are the
    /// core's to remember: it keeps a reset stream until this handle goes.
    /// With `RESET`, also the delivery of the application's own reset (see
    /// [`DELIVERY_SHIFT`]).
    flags: AtomicU8,
    /// The code of the application's own reset, once `RESET` is set: the
    /// core frees a stream the application resets, so only this handle
    /// remembers it. Kept as a code and two bits of `flags` rather than an
    /// `Error` behind a lock, so a handle is 24 bytes (issue 12: idle
    /// streams).
    reset_code: AtomicU32,
}

/// Writes of at least this many bytes are copied outside the lock.
const COPY_UNLOCKED_MIN: usize = 4 * 1024;

/// Chunks (frames' payloads) one read takes at most.
const READ_CHUNKS: usize = 8;

/// Reads of at least this many bytes wake the driver; see `poll_read`.
const WAKE_AFTER_READ: usize = 1024;

/// A read returned the end of the stream.
const EOF: u8 = 1;
/// Our direction was finished.
const FINISHED: u8 = 2;
/// The application reset the stream, with `reset_code`.
const RESET: u8 = 4;
/// Where the delivery of the application's own reset sits in `flags`:
/// two bits, `DELIVERIES` in order.
const DELIVERY_SHIFT: u8 = 3;
/// The deliveries a reset records, by their code in `flags`.
const DELIVERIES: [Delivery; 3] = [
    Delivery::NotDelivered,
    Delivery::MaybeDelivered,
    Delivery::Delivered,
];

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("id", &self.id).finish()
    }
}

impl Stream {
    /// A handle for a stream just opened or accepted.
    pub(crate) fn new(id: StreamId, shared: Arc<Shared>, _inner: &mut Inner) -> Self {
        Stream {
            id,
            shared,
            flags: AtomicU8::new(0),
            reset_code: AtomicU32::new(0),
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags.load(Ordering::Relaxed) & flag != 0
    }

    fn set(&self, flag: u8) {
        self.flags.fetch_or(flag, Ordering::Relaxed);
    }

    /// The application's own reset, if it reset the stream.
    fn error(&self) -> Option<Error> {
        let flags = self.flags.load(Ordering::Relaxed);
        if flags & RESET == 0 {
            return None;
        }
        let delivery = DELIVERIES[usize::from(flags >> DELIVERY_SHIFT) & 3];
        Some(Error::Reset {
            by: ResetBy::Application {
                code: self.reset_code.load(Ordering::Relaxed),
            },
            delivery,
        })
    }

    /// The stream's id (odd when the client opened it, even for the server).
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Reads received bytes into `buf`. `Ready(Ok(0))` for a non-empty
    /// `buf` is the end of the stream (the peer finished); a reset or the
    /// connection's end is an error, after any bytes already received.
    #[must_use = "the bytes read, or the error, must be handled"]
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, Error>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        if self.has(EOF) {
            return Poll::Ready(Ok(0));
        }
        if let Some(error) = self.error() {
            return Poll::Ready(Err(error));
        }
        // Received data is taken as shared chunks under the lock and copied
        // out after it is released, so the driver and the other streams do
        // not wait for the copy.
        let mut chunks: [Bytes; READ_CHUNKS] = Default::default();
        let mut count = 0;
        let mut total = 0;
        while count < READ_CHUNKS && total < buf.len() {
            let max = buf.len() - total;
            match with_stream(inner, self.id, |stream| stream.read_chunk(max)) {
                Some(Ok(Some(chunk))) if !chunk.is_empty() => {
                    total += chunk.len();
                    chunks[count] = chunk;
                    count += 1;
                }
                Some(Ok(Some(_))) => break,
                Some(Ok(None)) => {
                    self.set(EOF);
                    break;
                }
                Some(Err(StreamError::Blocked)) | None if count > 0 => break,
                Some(Err(StreamError::Blocked)) => {
                    return self.blocked_or_dead(inner, cx, Direction::Read);
                }
                // Freed: the core read the end to us already.
                None => {
                    self.set(EOF);
                    break;
                }
                // Reported after the data already taken: the core keeps
                // the error for the next read.
                Some(Err(_)) if count > 0 => break,
                Some(Err(error)) => return Poll::Ready(Err(self.fail(inner, error))),
            }
        }
        // Reading may have freed window to grant back to the peer.
        // Large reads also wake the driver when nothing is due: an
        // application consuming bulk data wants it to read on, and
        // under load a runtime checks the transport's readiness
        // only every so many tasks. Small reads do not, so a
        // request-sized read costs no extra driver round.
        if total >= WAKE_AFTER_READ || inner.session.may_transmit() {
            inner.wake_driver();
        }
        drop(guard);
        let mut at = 0;
        for chunk in &chunks[..count] {
            buf[at..at + chunk.len()].copy_from_slice(chunk);
            at += chunk.len();
        }
        Poll::Ready(Ok(total))
    }

    /// Buffers bytes to send; returns how many were taken (all of `data` or
    /// as much as the peer's window and the session's send budget allow).
    /// Pending while neither has room. Taken means buffered in the session,
    /// not yet on the wire: an abort or a lost transport can still drop it.
    #[must_use = "a write may take only part of the data, or fail"]
    pub fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<Result<usize, Error>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        if let Some(error) = self.write_precheck(inner) {
            return Poll::Ready(Err(error));
        }
        if data.len() >= COPY_UNLOCKED_MIN {
            let room = with_stream(inner, self.id, |stream| stream.write_capacity()).unwrap_or(0);
            if room > 0 {
                // A large write is copied with the lock released, so the
                // driver and the other streams do not wait for the copy
                // (nor for the page faults of fresh memory). Only writes
                // to this stream use its room; should another task have
                // written to it meanwhile, `write_chunk` takes what fits.
                drop(guard);
                let chunk = Bytes::copy_from_slice(&data[..room.min(data.len())]);
                let mut guard = self.shared.lock();
                let inner = &mut *guard;
                if let Some(error) = self.write_precheck(inner) {
                    return Poll::Ready(Err(error));
                }
                let result = with_stream(inner, self.id, |stream| stream.write_chunk(chunk));
                return self.written(inner, cx, result);
            }
        }
        let result = with_stream(inner, self.id, |stream| stream.write(data));
        self.written(inner, cx, result)
    }

    /// The outcome of a write to the core (`None`: the core no longer knows
    /// the stream).
    fn written(
        &self,
        inner: &mut Inner,
        cx: &mut Context<'_>,
        result: Option<Result<usize, StreamError>>,
    ) -> Poll<Result<usize, Error>> {
        match result {
            // Freed: over both ways, so finished for writing.
            None => Poll::Ready(Err(Error::Finished)),
            Some(Ok(n)) => {
                inner.wake_driver();
                Poll::Ready(Ok(n))
            }
            Some(Err(StreamError::Blocked)) => self.blocked_or_dead(inner, cx, Direction::Write),
            Some(Err(error)) => Poll::Ready(Err(self.fail(inner, error))),
        }
    }

    /// Ready at once: written bytes are already the session's, and the
    /// driver sends them as the peer's window allows. Fails if the stream
    /// can no longer send: it was reset, or the connection has ended (or
    /// its driver is gone), so what was written and not yet sent never
    /// leaves.
    #[must_use = "a flush may fail"]
    pub fn poll_flush(&self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        match self.write_precheck(inner) {
            // Flushing after finishing is harmless.
            Some(Error::Finished) => return Poll::Ready(Ok(())),
            Some(error) => return Poll::Ready(Err(error)),
            None => {}
        }
        // Freed without a reset: over both ways, so nothing is left to send.
        let delivery = match inner.session.stream(self.id) {
            Ok(stream) => match stream.status() {
                StreamStatus::Reset { by, delivery } => {
                    return Poll::Ready(Err(Error::Reset { by, delivery }));
                }
                _ => stream.delivery(),
            },
            Err(_) => return Poll::Ready(Ok(())),
        };
        match inner.connection_error(delivery) {
            Some(error) => Poll::Ready(Err(error)),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Half-closes our direction: FIN follows the bytes already written.
    /// Reading goes on until the peer finishes. Finishing twice is fine.
    #[must_use = "finishing may fail"]
    pub fn poll_finish(&self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(self.finish())
    }

    /// [`poll_finish`](Self::poll_finish), which never waits.
    pub(crate) fn finish(&self) -> Result<(), Error> {
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        match self.write_precheck(inner) {
            Some(Error::Finished) => return Ok(()),
            Some(error) => return Err(error),
            None => {}
        }
        let now = inner.now();
        let result = with_stream(inner, self.id, |stream| stream.finish(now));
        match result.unwrap_or(Err(StreamError::Finished)) {
            Ok(()) | Err(StreamError::Finished) => {
                self.set(FINISHED);
                inner.wake_driver();
                Ok(())
            }
            Err(error) => Err(self.fail(inner, error)),
        }
    }

    /// Resets the stream in both directions with `code` (0 for none);
    /// buffered data either way is dropped. Later operations fail with
    /// [`Error::Reset`] by [`ResetBy::Application`]. A stream already over
    /// (finished both ways, or reset by the peer or the session, whose
    /// reset it keeps reporting) stays as it is.
    pub fn reset(&self, code: u32) {
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        let Ok(stream) = inner.session.stream(self.id) else {
            return;
        };
        if let StreamStatus::Reset { .. } = stream.status() {
            return;
        }
        let delivery = stream.delivery();
        stream.reset(code);
        let delivery = DELIVERIES
            .iter()
            .position(|known| *known == delivery)
            // A delivery this adapter does not know yet: the cautious one.
            .unwrap_or(1) as u8;
        self.reset_code.store(code, Ordering::Relaxed);
        self.set(RESET | delivery << DELIVERY_SHIFT);
        // Whoever waits on this stream must see the reset now.
        inner.wake_stream(self.id);
        inner.wake_driver();
    }

    /// The error a write must report before touching the session.
    fn write_precheck(&self, _inner: &mut Inner) -> Option<Error> {
        if let Some(error) = self.error() {
            return Some(error);
        }
        self.has(FINISHED).then_some(Error::Finished)
    }

    /// Nothing to do now: wait for the event, unless the driver is gone
    /// and no event will ever come.
    fn blocked_or_dead(
        &self,
        inner: &mut Inner,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<Result<usize, Error>> {
        if inner.driver_done {
            let error =
                inner
                    .connection_error(Delivery::MaybeDelivered)
                    .unwrap_or(Error::DriverGone {
                        delivery: Delivery::MaybeDelivered,
                    });
            return Poll::Ready(Err(error));
        }
        let wakers = inner.wakers.entry(self.id).or_default();
        match direction {
            Direction::Read => register(&mut wakers.read, cx.waker()),
            Direction::Write => register(&mut wakers.write, cx.waker()),
        }
        Poll::Pending
    }

    /// The core's error in the adapter's terms. Nothing is recorded: the
    /// core keeps a reset stream (and a stream of an ended session) until
    /// this handle goes, so every later call hears the same.
    fn fail(&self, inner: &mut Inner, error: StreamError) -> Error {
        Error::from_stream(error, |reason, delivery| {
            inner.closed_error(reason, delivery)
        })
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}

/// Runs `f` on the core's handle, which is dropped before the caller
/// touches the rest of the state again; `None` when the core has freed the
/// stream, which for a live handle not reset by the application means it
/// is over both ways (the handle neither detaches nor releases it while
/// it lives).
fn with_stream<R>(
    inner: &mut Inner,
    id: StreamId,
    f: impl FnOnce(&mut muxplex::Stream<'_>) -> R,
) -> Option<R> {
    match inner.session.stream(id) {
        Ok(mut stream) => Some(f(&mut stream)),
        Err(gone) => {
            debug_assert_eq!(gone, NoStream::Freed, "a live handle's stream");
            None
        }
    }
}

impl Drop for Stream {
    /// See the type's docs: finish, then discard what the peer still sends.
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.wakers.remove(&self.id);
        // Finishes and drains a running stream, releases a reset one; one
        // the application reset is gone already.
        inner.detach(self.id);
    }
}

//! One stream of a connection, as poll-based read/write primitives that
//! runtime adapters wrap in their I/O traits.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use muxplex::{Delivery, StreamError, StreamId};

use crate::error::Error;
use crate::shared::{Inner, Shared, register};

/// One bidirectional stream of a [`Connection`](crate::Connection).
///
/// The methods take `&self`, so one task may read while another writes.
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
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("id", &self.id).finish()
    }
}

impl Stream {
    /// A handle for a stream just opened or accepted; its slot is created
    /// here so events find its wakers.
    pub(crate) fn new(id: StreamId, shared: Arc<Shared>, inner: &mut Inner) -> Self {
        inner.slots.entry(id).or_default();
        Stream { id, shared }
    }

    /// The stream's id (odd when the client opened it, even for the server).
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Reads received bytes into `buf`. `Ready(Ok(0))` for a non-empty
    /// `buf` is the end of the stream (the peer finished); a reset or the
    /// connection's end is an error, after any bytes already received.
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, Error>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        let slot = inner.slots.entry(self.id).or_default();
        if slot.eof {
            return Poll::Ready(Ok(0));
        }
        if let Some(error) = slot.error {
            return Poll::Ready(Err(error));
        }
        let Some(result) = with_stream(inner, self.id, |stream| stream.read(buf)) else {
            return Poll::Ready(Err(self.gone(inner)));
        };
        match result {
            Ok(n) => {
                if n == 0 {
                    slot_of(inner, self.id).eof = true;
                }
                // Reading may have freed window to grant back to the peer.
                inner.wake_driver();
                Poll::Ready(Ok(n))
            }
            Err(StreamError::Blocked) => self.blocked_or_dead(inner, cx, Direction::Read),
            Err(error) => Poll::Ready(Err(self.fail(inner, error))),
        }
    }

    /// Buffers bytes to send; returns how many were taken (all of `data` or
    /// as much as the peer's window allows). Pending while the window is
    /// exhausted.
    pub fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<Result<usize, Error>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        if let Some(error) = self.write_precheck(inner) {
            return Poll::Ready(Err(error));
        }
        let Some(result) = with_stream(inner, self.id, |stream| stream.write(data)) else {
            return Poll::Ready(Err(self.gone(inner)));
        };
        match result {
            Ok(n) => {
                inner.wake_driver();
                Poll::Ready(Ok(n))
            }
            Err(StreamError::Blocked) => self.blocked_or_dead(inner, cx, Direction::Write),
            Err(error) => Poll::Ready(Err(self.fail(inner, error))),
        }
    }

    /// Ready at once: written bytes are already the session's, and the
    /// driver sends them as the peer's window allows. Fails if the stream
    /// can no longer send.
    pub fn poll_flush(&self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut inner = self.shared.lock();
        match self.write_precheck(&mut inner) {
            // Flushing after finishing is harmless.
            Some(Error::Finished) | None => Poll::Ready(Ok(())),
            Some(error) => Poll::Ready(Err(error)),
        }
    }

    /// Half-closes our direction: FIN follows the bytes already written.
    /// Reading goes on until the peer finishes. Finishing twice is fine.
    pub fn poll_finish(&self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        match self.write_precheck(inner) {
            Some(Error::Finished) => return Poll::Ready(Ok(())),
            Some(error) => return Poll::Ready(Err(error)),
            None => {}
        }
        let Some(result) = with_stream(inner, self.id, |stream| stream.finish()) else {
            return Poll::Ready(Err(self.gone(inner)));
        };
        match result {
            Ok(()) | Err(StreamError::Finished) => {
                slot_of(inner, self.id).finished = true;
                inner.wake_driver();
                Poll::Ready(Ok(()))
            }
            Err(error) => Poll::Ready(Err(self.fail(inner, error))),
        }
    }

    /// Resets the stream in both directions with `code` (0 for none);
    /// buffered data either way is dropped. Later operations fail with
    /// [`Error::Reset`].
    pub fn reset(&self, code: u32) {
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        let mut delivery = Delivery::MaybeDelivered;
        if let Some(stream) = inner.session.stream(self.id) {
            delivery = stream.delivery();
            stream.reset(code);
        }
        let slot = slot_of(inner, self.id);
        if slot.error.is_none() {
            slot.error = Some(Error::Reset {
                code,
                by_peer: false,
                delivery,
            });
        }
        // Whoever waits on this stream must see the reset now.
        if let Some(waker) = slot.read_waker.take() {
            waker.wake();
        }
        if let Some(waker) = slot.write_waker.take() {
            waker.wake();
        }
        inner.wake_driver();
    }

    /// The error a write must report before touching the session.
    fn write_precheck(&self, inner: &mut Inner) -> Option<Error> {
        let slot = slot_of(inner, self.id);
        if let Some(error) = slot.error {
            return Some(error);
        }
        slot.finished.then_some(Error::Finished)
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
        let slot = slot_of(inner, self.id);
        match direction {
            Direction::Read => register(&mut slot.read_waker, cx.waker()),
            Direction::Write => register(&mut slot.write_waker, cx.waker()),
        }
        Poll::Pending
    }

    /// Records a terminal error so every later call reports it, even once
    /// the core has freed the stream.
    fn fail(&self, inner: &mut Inner, error: StreamError) -> Error {
        let error = Error::from_stream(error, |reason, delivery| {
            inner.closed_error(reason, delivery)
        });
        slot_of(inner, self.id).error = Some(error);
        error
    }

    /// The core no longer knows the stream although this handle recorded
    /// nothing final: it was released after a reset seen through another
    /// path, or the session is gone. Either way it cannot go on.
    fn gone(&self, inner: &mut Inner) -> Error {
        // Nothing says how far the stream got, so assume the worst case
        // a retry must respect.
        let delivery = Delivery::MaybeDelivered;
        let error = inner.connection_error(delivery).unwrap_or(Error::Reset {
            code: 0,
            by_peer: true,
            delivery,
        });
        slot_of(inner, self.id).error = Some(error);
        error
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}

/// Runs `f` on the core's handle, which is dropped before the caller
/// touches the rest of the state again.
fn with_stream<R>(
    inner: &mut Inner,
    id: StreamId,
    f: impl FnOnce(&mut muxplex::Stream<'_>) -> R,
) -> Option<R> {
    let mut stream = inner.session.stream(id)?;
    Some(f(&mut stream))
}

fn slot_of(inner: &mut Inner, id: StreamId) -> &mut crate::shared::Slot {
    inner.slots.entry(id).or_default()
}

impl Drop for Stream {
    /// See the type's docs: finish, then discard what the peer still sends.
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let slot = inner.slots.remove(&self.id).unwrap_or_default();
        // A stream that reported its error is over (a reset one is freed
        // already); there is nothing to finish or drain.
        if slot.error.is_none() {
            inner.detach(self.id);
        }
    }
}

//! Zero-copy reads and writes, priority and delivery on [`Stream`]: kept
//! apart from the byte-slice I/O so the two evolve separately.

use std::future::poll_fn;
use std::task::{Context, Poll};

use bytes::Bytes;
use muxplex::{Delivery, StreamError, StreamStats};

use super::{Direction, EOF, Stream, with_stream};
use crate::error::Error;

impl Stream {
    /// Sets the stream's send priority: higher goes first, round-robin
    /// among equals (0 by default). A stream the session no longer knows
    /// is left alone.
    pub fn set_priority(&self, priority: i32) {
        let mut inner = self.shared.lock();
        with_stream(&mut inner, self.id, |stream| stream.set_priority(priority));
    }

    /// Whether the peer's application has the stream (it acknowledged it),
    /// so whether retrying its request elsewhere is safe. Once the session
    /// forgot the stream (after a reset, or the end), the delivery its
    /// error recorded, else [`Delivery::MaybeDelivered`].
    pub fn delivery(&self) -> Delivery {
        let mut inner = self.shared.lock();
        if let Some(delivery) = with_stream(&mut inner, self.id, |stream| stream.delivery()) {
            return delivery;
        }
        self.error()
            .and_then(|error| error.delivery())
            .unwrap_or(Delivery::MaybeDelivered)
    }

    /// The stream's counters ([`muxplex::Stream::stats`]): bytes each way,
    /// its windows now, what it buffers and how long its writes waited for
    /// the peer's window. All zero once the session has forgotten it.
    pub fn stats(&self) -> StreamStats {
        let mut inner = self.shared.lock();
        with_stream(&mut inner, self.id, |stream| stream.stats()).unwrap_or_default()
    }

    /// Takes up to `max` received bytes as one shared chunk (no copy):
    /// `Ready(Ok(None))` is the end of the stream; errors as
    /// [`poll_read`](Self::poll_read).
    #[must_use = "the chunk read, or the error, must be handled"]
    pub fn poll_read_chunk(
        &self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<Result<Option<Bytes>, Error>> {
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        if self.has(EOF) {
            return Poll::Ready(Ok(None));
        }
        if let Some(error) = self.error() {
            return Poll::Ready(Err(error));
        }
        match with_stream(inner, self.id, |stream| stream.read_chunk(max)) {
            Some(Ok(Some(chunk))) => {
                if inner.session.may_transmit() {
                    inner.wake_driver();
                }
                Poll::Ready(Ok(Some(chunk)))
            }
            Some(Ok(None)) => {
                self.set(EOF);
                Poll::Ready(Ok(None))
            }
            Some(Err(StreamError::Blocked)) => {
                match self.blocked_or_dead(inner, cx, Direction::Read) {
                    Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                    _ => Poll::Pending,
                }
            }
            Some(Err(error)) => Poll::Ready(Err(self.fail(inner, error))),
            // Freed: the core read the end to us already.
            None => {
                self.set(EOF);
                Poll::Ready(Ok(None))
            }
        }
    }

    /// Reads the next chunk of at most `max` bytes without copying it;
    /// `None` at the end of the stream.
    pub async fn read_chunk(&self, max: usize) -> Result<Option<Bytes>, Error> {
        poll_fn(|cx| self.poll_read_chunk(cx, max)).await
    }

    /// Hands `data` to the session without copying it; returns how many
    /// bytes were taken (a prefix, as much as the window and the send
    /// budget allow), as [`poll_write`](Self::poll_write).
    #[must_use = "a write may take only part of the data, or fail"]
    pub fn poll_write_chunk(
        &self,
        cx: &mut Context<'_>,
        data: &Bytes,
    ) -> Poll<Result<usize, Error>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        if let Some(error) = self.write_precheck(inner) {
            return Poll::Ready(Err(error));
        }
        let result = with_stream(inner, self.id, |stream| stream.write_chunk(data.clone()));
        self.written(inner, cx, result)
    }

    /// Writes all of `data` without copying it, waiting for window as
    /// needed.
    pub async fn write_chunk(&self, mut data: Bytes) -> Result<(), Error> {
        while !data.is_empty() {
            let n = poll_fn(|cx| self.poll_write_chunk(cx, &data)).await?;
            let _ = data.split_to(n);
        }
        Ok(())
    }
}

//! A stream the pool handed out, and the lease that counts it in its
//! session's load until it is dropped.

use std::fmt;
use std::io;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use muxplex::pool::Slot;

use super::state::Shared;
use crate::stream::Stream;

/// Counts one stream in its session's load, as the core pool balances,
/// scales out and closes idle sessions by it. Dropping it reports the
/// stream gone.
pub struct Lease {
    shared: Arc<Shared>,
    slot: Slot,
}

impl Lease {
    /// A lease on `slot`, whose load the caller already raised.
    pub(super) fn new(shared: Arc<Shared>, slot: Slot) -> Self {
        Lease { shared, slot }
    }

    /// The session (slot and attempt) the stream belongs to.
    pub fn slot(&self) -> Slot {
        self.slot
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").field("slot", &self.slot).finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.shared.lock().adjust_load(self.slot, false);
    }
}

/// A [`Stream`] opened through a [`Pool`](super::Pool). It derefs to the
/// stream and implements the same futures-io traits; dropping it finishes
/// the stream (as dropping a [`Stream`] does) and then tells the pool the
/// session carries one stream fewer.
pub struct PooledStream {
    // Dropped in this order: the stream finishes, then the load drops.
    stream: Stream,
    lease: Lease,
}

impl PooledStream {
    pub(super) fn new(stream: Stream, lease: Lease) -> Self {
        PooledStream { stream, lease }
    }

    /// The session (slot and attempt) the stream was opened on.
    pub fn slot(&self) -> Slot {
        self.lease.slot
    }

    /// The stream and its lease, for wrappers that hold them in their own
    /// types; keep the lease as long as the stream, or the pool undercounts
    /// the session's load.
    pub fn into_parts(self) -> (Stream, Lease) {
        (self.stream, self.lease)
    }
}

impl fmt::Debug for PooledStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledStream")
            .field("id", &self.stream.id())
            .field("slot", &self.lease.slot)
            .finish()
    }
}

impl Deref for PooledStream {
    type Target = Stream;

    fn deref(&self) -> &Stream {
        &self.stream
    }
}

impl futures_io::AsyncRead for PooledStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read(cx, buf).map_err(io::Error::from)
    }
}

impl futures_io::AsyncWrite for PooledStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write(cx, buf).map_err(io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_flush(cx).map_err(io::Error::from)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_finish(cx).map_err(io::Error::from)
    }
}

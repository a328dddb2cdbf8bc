//! The two small traits a runtime implements to host a [`Driver`]: a byte
//! transport and a timer.
//!
//! They are deliberately minimal, poll-based and `&mut self`, so a runtime
//! adapter is a few lines of forwarding and the driver needs no pinning of
//! its own.
//!
//! [`Driver`]: crate::Driver

use std::io::{self, IoSlice};

use bytes::BytesMut;
use std::task::{Context, Poll};
use std::time::Instant;

/// The reading half of a transport: bytes from the peer.
pub trait TransportRead {
    /// Reads into `buf`; `Ok(0)` (for a non-empty `buf`) is the end of the
    /// peer's output. On `Pending` the task is woken when bytes arrive.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Reads into the spare capacity of `buf`, appending what was read;
    /// `Ok(0)` is the end of the peer's output. The driver calls it only
    /// when [`reads_into_spare_capacity`](Self::reads_into_spare_capacity)
    /// says so. The default zeroes the spare capacity and calls
    /// [`poll_read`](Self::poll_read): correct, only slower.
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        let filled = buf.len();
        buf.resize(buf.capacity(), 0);
        let result = self.poll_read(cx, &mut buf[filled..]);
        let read = match result {
            Poll::Ready(Ok(n)) => n,
            _ => 0,
        };
        buf.truncate(filled + read);
        result
    }

    /// Whether [`poll_read_buf`](Self::poll_read_buf) reads into memory
    /// nobody zeroed first (tokio's `ReadBuf` can). If not (the default),
    /// the driver keeps zeroed room to read into with
    /// [`poll_read`](Self::poll_read), zeroing each buffer once.
    fn reads_into_spare_capacity(&self) -> bool {
        false
    }
}

/// The writing half of a transport: bytes to the peer.
pub trait TransportWrite {
    /// Writes some of `buf`; returns how many bytes were taken.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Writes some of `bufs`, in order; returns how many bytes were taken.
    /// The default writes the first non-empty buffer with
    /// [`poll_write`](Self::poll_write).
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let buf = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        self.poll_write(cx, buf)
    }

    /// Whether [`poll_write_vectored`](Self::poll_write_vectored) writes
    /// several buffers at once. If not (the default), the driver copies
    /// frames into one buffer instead, so that each write stays large.
    fn is_write_vectored(&self) -> bool {
        false
    }

    /// Pushes buffered bytes (for example in a TLS layer) to the peer.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Ends our output (a TCP half-close), once the session has nothing
    /// more to send.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// The clock and timer the driver runs the session's deadlines on
/// (keepalive, graceful close, stream timeouts).
///
/// Both come from one place so that they agree: a runtime with a virtual
/// clock (tokio's paused time) answers [`now`](Self::now) from that clock,
/// and its sleeps end by it too. The driver asks about one deadline at a
/// time and may move it between calls; an implementation keeps a single
/// sleep and re-arms it.
pub trait Timer {
    /// Ready once `deadline` has passed, that is once [`now`](Self::now)
    /// returns `deadline` or later; otherwise arranges for the task to be
    /// woken then.
    fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()>;

    /// The current time on the clock the sleeps follow.
    fn now(&self) -> Instant;
}

/// A boxed timer is a timer, so a runtime can hand out timers without the
/// pool naming their type.
impl<T: Timer + ?Sized> Timer for Box<T> {
    fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        (**self).poll_sleep_until(cx, deadline)
    }

    fn now(&self) -> Instant {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// Reads come from a fixed script, one piece per call.
    struct Script(Vec<&'static [u8]>);

    impl TransportRead for Script {
        fn poll_read(&mut self, _: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            let Some(piece) = self.0.first_mut() else {
                return Poll::Pending;
            };
            let n = piece.len().min(buf.len());
            buf[..n].copy_from_slice(&piece[..n]);
            *piece = &piece[n..];
            if piece.is_empty() {
                self.0.remove(0);
            }
            Poll::Ready(Ok(n))
        }
    }

    #[test]
    fn the_default_read_buf_appends_what_poll_read_gives() {
        let mut transport = Script(vec![b"hello", b" world"]);
        let mut cx = Context::from_waker(Waker::noop());
        let mut buf = BytesMut::with_capacity(8);
        buf.extend_from_slice(b">");
        assert!(matches!(
            transport.poll_read_buf(&mut cx, &mut buf),
            Poll::Ready(Ok(5))
        ));
        assert_eq!(&buf[..], b">hello");
        // Only the spare capacity is offered: two of " world" fit.
        assert!(matches!(
            transport.poll_read_buf(&mut cx, &mut buf),
            Poll::Ready(Ok(2))
        ));
        assert_eq!(&buf[..], b">hello w");
        buf.clear();
        buf.reserve(16);
        assert!(matches!(
            transport.poll_read_buf(&mut cx, &mut buf),
            Poll::Ready(Ok(4))
        ));
        assert!(transport.poll_read_buf(&mut cx, &mut buf).is_pending());
        assert_eq!(&buf[..], b"orld");
    }
}

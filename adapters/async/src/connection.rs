//! The application's handle on a connection: open, accept, close.

use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use muxplex::{CloseReason, Config, GOAWAY_NORMAL, Role, Session};

use crate::driver::Driver;
use crate::error::Error;
use crate::io::{Timer, TransportRead, TransportWrite};
use crate::shared::{Shared, register_in};
use crate::stream::Stream;

/// A handle on one multiplexed connection. Clones share the connection.
///
/// It does nothing by itself: the [`Driver`] returned with it moves bytes
/// between the session and the transport and must be polled (spawned) for
/// anything to happen.
///
/// When every `Connection` handle and every [`Stream`] is dropped, nobody
/// can use the session again, so it is closed (GoAway(0)) and the driver
/// finishes.
pub struct Connection {
    shared: Arc<Shared>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.shared.lock();
        f.debug_struct("Connection")
            .field("role", &inner.session.role())
            .field("close_reason", &inner.session.close_reason())
            .finish()
    }
}

impl Clone for Connection {
    fn clone(&self) -> Self {
        self.shared.lock().connection_handles += 1;
        Connection {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.connection_handles -= 1;
        inner.close_if_unused();
    }
}

impl Connection {
    /// A connection over `transport`, as the given end, with `timer` for
    /// the session's deadlines. Poll (spawn) the returned [`Driver`]; it
    /// finishes when the session has ended and its last bytes are out.
    pub fn new<T, Tm>(
        transport: T,
        timer: Tm,
        role: Role,
        config: Config,
    ) -> (Connection, Driver<T, Tm>)
    where
        T: TransportRead + TransportWrite + Unpin,
        Tm: Timer + Unpin,
    {
        let shared = Shared::new(Session::new(role, config));
        let driver = Driver::new(Arc::clone(&shared), transport, timer);
        (Connection { shared }, driver)
    }

    /// Opens a stream. It needs no round trip: the SYN rides on the
    /// stream's first frame, so data may be written at once.
    pub async fn open_stream(&self) -> Result<Stream, Error> {
        poll_fn(|cx| self.poll_open_stream(cx)).await
    }

    /// Poll form of [`open_stream`](Self::open_stream).
    pub fn poll_open_stream(&self, _cx: &mut Context<'_>) -> Poll<Result<Stream, Error>> {
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        if let Some(error) = inner.connection_error() {
            return Poll::Ready(Err(error));
        }
        // The core never makes an open wait yet; once it can report that
        // too many streams await the peer's ACK, this is where the task
        // will wait for the event that unblocks it.
        match inner.session.open_stream() {
            Ok(id) => {
                let stream = Stream::new(id, Arc::clone(&self.shared), inner);
                inner.wake_driver();
                Poll::Ready(Ok(stream))
            }
            Err(error) => Poll::Ready(Err(Error::from_open(error, |reason| {
                inner.closed_error(reason)
            }))),
        }
    }

    /// Waits for the next stream the peer opens. Accepting sends the ACK.
    /// Fails once the connection has ended.
    pub async fn accept_stream(&self) -> Result<Stream, Error> {
        poll_fn(|cx| self.poll_accept_stream(cx)).await
    }

    /// Poll form of [`accept_stream`](Self::accept_stream).
    pub fn poll_accept_stream(&self, cx: &mut Context<'_>) -> Poll<Result<Stream, Error>> {
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        if let Some(id) = inner.session.accept_stream() {
            let stream = Stream::new(id, Arc::clone(&self.shared), inner);
            // The ACK (and any credit) must go out.
            inner.wake_driver();
            // Accepting can raise events (a reset that came before the
            // accept, data already buffered); hand them out now.
            inner.dispatch_events();
            return Poll::Ready(Ok(stream));
        }
        if let Some(error) = inner.connection_error() {
            return Poll::Ready(Err(error));
        }
        register_in(&mut inner.accept_wakers, cx.waker());
        Poll::Pending
    }

    /// Closes the connection and waits until the driver has sent the
    /// GoAway and shut the transport down.
    ///
    /// For now this ends every stream at once (the core's `abort` with
    /// GoAway(0)): finish and read your streams before closing. It will
    /// become a graceful drain when the core grows one.
    pub async fn close(&self) -> Result<(), Error> {
        {
            let mut inner = self.shared.lock();
            if !inner.session.is_closed() {
                inner.session.abort(GOAWAY_NORMAL);
                inner.dispatch_events();
            }
            inner.wake_driver();
        }
        poll_fn(|cx| self.poll_driver_done(cx)).await
    }

    /// Ready once the driver has finished: `Ok` when the session ended
    /// cleanly on the wire, the transport's error otherwise.
    fn poll_driver_done(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut inner = self.shared.lock();
        if !inner.driver_done {
            register_in(&mut inner.done_wakers, cx.waker());
            return Poll::Pending;
        }
        match inner.connection_error() {
            Some(error @ (Error::Transport(_) | Error::DriverGone)) => Poll::Ready(Err(error)),
            _ => Poll::Ready(Ok(())),
        }
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared.lock().session.close_reason()
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().session.is_closed()
    }

    /// Which end of the transport this is.
    pub fn role(&self) -> Role {
        self.shared.lock().session.role()
    }
}

//! The application's handle on a connection: open, accept, close.

use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use muxplex::{CloseReason, Config, Delivery, Instant, OpenError, Role, Session, SessionStats};

use crate::driver::Driver;
use crate::error::Error;
use crate::io::{Timer, TransportRead, TransportWrite};
use crate::shared::{Shared, Waiting};
use crate::stream::Stream;

/// A handle on one multiplexed connection. Clones share the connection.
///
/// It does nothing by itself: the [`Driver`] returned with it moves bytes
/// between the session and the transport and must be polled (spawned) for
/// anything to happen.
///
/// # Ending
///
/// - [`close`](Self::close) is graceful and waits for the end.
/// - [`abort`](Self::abort) ends at once and does not wait.
/// - Dropping the last `Connection` handle starts a graceful close without
///   waiting: [`Stream`]s still held keep working until they finish
///   (bounded by [`Config::close_timeout`]), and no new stream is opened
///   or accepted.
/// - When the transport ends or fails, or the driver is dropped, the
///   session ends and every waiting operation fails at once.
///
/// [`closed`](Self::closed) waits for the end, however it comes.
pub struct Connection {
    shared: Arc<Shared>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.shared.lock();
        f.debug_struct("Connection")
            .field("role", &inner.session.role())
            .field("streams", &inner.session.stream_count())
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
        if inner.connection_handles == 0 {
            inner.close();
        }
    }
}

/// A ping in flight for [`Connection::ping`]; dropping it before the
/// answer abandons the ping, so its pong is not taken for a later one's.
struct PingWaiting {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for PingWaiting {
    fn drop(&mut self) {
        self.shared.lock().abandon_ping(self.id);
    }
}

impl Connection {
    /// A connection over `transport`, as the given end, with `timer` for
    /// the session's clock and deadlines. Poll (spawn) the returned
    /// [`Driver`]; it finishes when the session has ended and its last
    /// bytes are out.
    ///
    /// # Panics
    ///
    /// If `config` is invalid ([`Config::validate`] names the field); check
    /// a configuration built from outside input with it first.
    #[must_use = "the connection makes no progress until its driver is polled or spawned"]
    pub fn new<T, Tm>(
        transport: T,
        timer: Tm,
        role: Role,
        config: Config,
    ) -> (Connection, Driver<T>)
    where
        T: TransportRead + TransportWrite + Unpin,
        Tm: Timer + Send + 'static,
    {
        // The session's clock starts at 0 when the connection is created
        // (see `Shared::new`).
        let session = match Session::new(role, config, Instant::ZERO) {
            Ok(session) => session,
            Err(error) => panic!("invalid muxplex Config: {error}"),
        };
        let shared = Shared::new(session, Box::new(timer));
        let driver = Driver::new(Arc::clone(&shared), transport);
        (Connection { shared }, driver)
    }

    /// Opens a stream. It needs no round trip: the SYN rides on the
    /// stream's first frame, so data may be written at once.
    ///
    /// Waits while [`Config::max_unacked_outbound`] streams await the
    /// peer's acknowledgement. Fails with [`Error::Open`] while the session
    /// is closing or after the peer's GoAway, and with the session's error
    /// once it has ended.
    pub async fn open_stream(&self) -> Result<Stream, Error> {
        poll_fn(|cx| self.poll_open_stream(cx)).await
    }

    /// Poll form of [`open_stream`](Self::open_stream).
    #[must_use = "a stream opened and dropped is finished at once"]
    pub fn poll_open_stream(&self, cx: &mut Context<'_>) -> Poll<Result<Stream, Error>> {
        let mut inner = self.shared.lock();
        let inner = &mut *inner;
        if let Some(error) = inner.connection_error(Delivery::NotDelivered) {
            return Poll::Ready(Err(error));
        }
        let now = inner.now();
        match inner.session.open_stream(now) {
            Ok(id) => {
                let stream = Stream::new(id, Arc::clone(&self.shared), inner);
                inner.wake_driver();
                Poll::Ready(Ok(stream))
            }
            Err(OpenError::Blocked) => {
                // `OpenUnblocked` (or the session's end) wakes us.
                inner.waiters.register(Waiting::Open, cx.waker());
                Poll::Pending
            }
            Err(error) => Poll::Ready(Err(Error::from_open(error, |reason, delivery| {
                inner.closed_error(reason, delivery)
            }))),
        }
    }

    /// Waits for the next stream the peer opens. Accepting sends the ACK,
    /// so the peer learns its stream reached the application. Fails once
    /// the session is closing or has ended, so an accept loop ends with
    /// the connection.
    pub async fn accept_stream(&self) -> Result<Stream, Error> {
        poll_fn(|cx| self.poll_accept_stream(cx)).await
    }

    /// Poll form of [`accept_stream`](Self::accept_stream).
    #[must_use = "a stream accepted and dropped is finished at once"]
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
        // The core says whether a stream can still come; the driver's end
        // stops everything too.
        if inner.session.accepts_ended() || inner.driver_done {
            let error = inner.connection_error(Delivery::NotDelivered).unwrap_or({
                // Still running: closing, or the peer used its last id.
                match inner.session.is_closing() {
                    true => Error::Open(OpenError::Closing),
                    false => Error::Open(OpenError::IdsExhausted),
                }
            });
            return Poll::Ready(Err(error));
        }
        inner.waiters.register(Waiting::Accept, cx.waker());
        Poll::Pending
    }

    /// Closes the connection gracefully and waits until the driver has
    /// finished: no new streams either way, the open ones may finish (until
    /// [`Config::close_timeout`], after which they are reset), then
    /// GoAway(0) goes out and the transport is shut down.
    ///
    /// Returns why the session ended: [`CloseReason::LocalClose`],
    /// [`CloseReason::LocalCloseTimedOut`] if streams had to be reset, or
    /// whatever ended it first. Streams the calling task holds open keep
    /// the close waiting, so finish (or drop) them first. Fails if the
    /// transport failed or the driver was dropped, since then the last
    /// frames may not have left.
    pub async fn close(&self) -> Result<CloseReason, Error> {
        self.shared.lock().close();
        self.closed().await
    }

    /// A bounded [`close`](Self::close): open streams may finish within
    /// `timeout` (instead of [`Config::close_timeout`]); what is left then
    /// is reset, GoAway(0) goes out, and this waits for the driver to
    /// finish, as `close` does. Returns [`CloseReason::LocalCloseTimedOut`]
    /// if streams had to be reset. On a connection already closing it can
    /// only bring the deadline forward.
    pub async fn close_within(&self, timeout: Duration) -> Result<CloseReason, Error> {
        {
            let mut inner = self.shared.lock();
            let now = inner.now();
            inner.session.close_within(now, timeout);
            // Openers and acceptors fail now, the driver sees the deadline.
            inner.close();
        }
        self.closed().await
    }

    /// Ends the session at once with GoAway(`code`) and returns without
    /// waiting; every stream's reads and writes fail from now on (data
    /// already received stays readable). Data that stream writes had
    /// buffered and not yet sent is dropped: a write returning means the
    /// data was buffered, not sent. A graceful close, then
    /// [`closed`](Self::closed), is what delivers everything written.
    pub fn abort(&self, code: u32) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.session.abort(now, code);
        inner.dispatch_events();
        inner.wake_driver();
    }

    /// Waits until the session has ended, however it ends (a close, the
    /// peer, a keepalive timeout, the transport), and its driver has
    /// finished: the session's last frames (a GoAway) are written and our
    /// direction of the transport is closed, or the transport failed (a
    /// stuck one within [`Config::write_timeout`](muxplex::Config)). A
    /// process may exit once it returns without cutting its last words
    /// short. It does not end the session itself.
    ///
    /// Returns the driver's outcome: why the session ended when its end
    /// went out cleanly, [`Error::Transport`] (with the transport's own
    /// error) if the transport failed, [`Error::DriverGone`] if the driver
    /// was dropped first. So a driver spawned and forgotten still has its
    /// result seen.
    pub async fn closed(&self) -> Result<CloseReason, Error> {
        poll_fn(|cx| self.poll_driver_done(cx)).await
    }

    /// Why the session ended, once it has and its driver has finished,
    /// whatever the driver's outcome (a pool redials on any end).
    pub(crate) async fn ended(&self) -> CloseReason {
        poll_fn(|cx| {
            let mut inner = self.shared.lock();
            match inner.session.close_reason() {
                Some(reason) if inner.driver_done => Poll::Ready(reason),
                _ => {
                    inner.waiters.register(Waiting::Done, cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Resolves once the peer has sent GoAway(0) while the session still
    /// runs (it takes no new streams; existing ones go on), or with the
    /// reason the session ended if that came first. A pool uses it to
    /// replace a draining session before any open runs into it.
    pub async fn peer_going_away(&self) -> Result<(), CloseReason> {
        poll_fn(|cx| {
            let mut inner = self.shared.lock();
            if let Some(reason) = inner.session.close_reason() {
                return Poll::Ready(Err(reason));
            }
            if inner.session.is_peer_going_away() {
                return Poll::Ready(Ok(()));
            }
            inner.waiters.register(Waiting::GoingAway, cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Measures the round-trip time: sends a ping and waits for its answer.
    ///
    /// The ping leaves when the future is first polled, and the time runs
    /// from then until the driver reads the pong, on the connection's timer
    /// (a runtime's virtual clock counts as well). Each answer also updates
    /// the smoothed estimate, [`rtt`](Self::rtt).
    ///
    /// Fails with [`Error::Ping`] when
    /// [`Config::max_outstanding_pings`] pings (this end's keepalive and
    /// measurement pings included) already await their answer, and with the
    /// session's error once it has ended, including while the ping waits:
    /// a connection that ends never leaves it hanging. Several pings may
    /// wait at once; answers are matched to pings in the order the pings
    /// were sent, as peers answer them. Dropping the future abandons the
    /// ping: its answer, when it comes, is ignored.
    pub fn ping(&self) -> impl Future<Output = Result<Duration, Error>> + Send + 'static {
        let shared = Arc::clone(&self.shared);
        async move {
            let id = shared.lock().start_ping()?;
            let waiting = PingWaiting { shared, id };
            poll_fn(|cx| waiting.shared.lock().poll_ping(cx, waiting.id)).await
        }
    }

    /// The smoothed round-trip time (weight 1/8 per sample, as TCP's),
    /// once any ping of this end was answered: those of
    /// [`ping`](Self::ping), keepalive pings, and the pings the session
    /// sends to size its receive windows.
    pub fn rtt(&self) -> Option<Duration> {
        self.shared.lock().session.rtt()
    }

    /// The session's counters ([`Session::stats`]): frames and bytes each
    /// way, streams refused and reset (by whom and why), round trips,
    /// writes that waited for the peer's window or the send budget, bytes
    /// buffered, GoAways.
    pub fn stats(&self) -> SessionStats {
        self.shared.lock().session.stats()
    }

    /// Ready once the driver has finished: why the session ended when it
    /// ended cleanly on the wire, the transport's error otherwise.
    fn poll_driver_done(&self, cx: &mut Context<'_>) -> Poll<Result<CloseReason, Error>> {
        let mut inner = self.shared.lock();
        if !inner.driver_done {
            inner.waiters.register(Waiting::Done, cx.waker());
            return Poll::Pending;
        }
        // A finished driver always leaves an error behind: the session's
        // end, or the loss that ended it.
        let delivery = Delivery::NotDelivered;
        match inner.connection_error(delivery) {
            Some(Error::Closed { reason, .. }) => Poll::Ready(Ok(reason)),
            error => Poll::Ready(Err(error.unwrap_or(Error::DriverGone { delivery }))),
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

    /// How many streams the session holds state for, including dropped
    /// streams waiting for the peer to finish (see [`Stream`]).
    pub fn stream_count(&self) -> usize {
        self.shared.lock().session.stream_count()
    }

    /// Whether the peer has sent GoAway(0): it takes no new streams (see
    /// [`peer_going_away`](Self::peer_going_away) to wait for it).
    pub fn is_peer_going_away(&self) -> bool {
        self.shared.lock().session.is_peer_going_away()
    }

    /// Which end of the transport this is.
    pub fn role(&self) -> Role {
        self.shared.lock().session.role()
    }
}

//! [muxplex] under smol: many yamux streams over one transport, each a
//! [`futures_io::AsyncRead`] + [`futures_io::AsyncWrite`].
//!
//! ```
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use muxplex_smol::{CloseReason, Config, Connection, Role};
//! use smol::net::{TcpListener, TcpStream};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! smol::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let address = listener.local_addr()?;
//!
//!     // The server echoes every stream it accepts.
//!     let server = smol::spawn(async move {
//!         let (tcp, _) = listener.accept().await?;
//!         let server = Connection::spawn(tcp, Role::Server, Config::default(), smol::spawn);
//!         // Ends with an error once the client has closed the connection.
//!         while let Ok(stream) = server.accept_stream().await {
//!             smol::spawn(async move {
//!                 // `&Stream` reads and writes too, so one stream can be
//!                 // copied onto itself.
//!                 futures_lite::io::copy(&stream, &mut &stream).await?;
//!                 (&stream).close().await // finish: FIN after the echo
//!             })
//!             .detach();
//!         }
//!         std::io::Result::Ok(())
//!     });
//!
//!     let tcp = TcpStream::connect(address).await?;
//!     // The driver's task is detached: it runs until the connection ends.
//!     let client = Connection::spawn(tcp, Role::Client, Config::default(), smol::spawn);
//!     let mut stream = client.open_stream().await?;
//!     stream.write_all(b"hello").await?;
//!     stream.close().await?; // half-close: we send no more
//!     let mut echoed = Vec::new();
//!     stream.read_to_end(&mut echoed).await?;
//!     assert_eq!(echoed, b"hello");
//!
//!     drop(stream);
//!     assert_eq!(client.close().await?, CloseReason::LocalClose);
//!     server.await?;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! [`Connection::new`] returns the connection and its [`Driver`], a future
//! that moves the bytes; run it on any executor. [`Connection::spawn`]
//! hands it to a spawn function of your choice (`smol::spawn`, an
//! `Executor`'s `spawn`, ...) and detaches the task. Timers come from async-io, whose reactor
//! smol runs. Streams are [`muxplex_async::Stream`] itself, which
//! implements the futures-io traits: `close` finishes our direction (FIN)
//! and reading goes on; dropping a stream finishes it too, so what was
//! written is delivered, and [`Stream::reset`] abandons it. Connection
//! semantics are those of [`muxplex_async::Connection`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::Stream as _;

mod pool;

/// The core crate, as this adapter uses it.
pub use muxplex as core;
pub use muxplex::pool::{
    EndpointInfo, Policy, PoolConfig, PoolStats, SessionInfo, SessionState, Weights,
};
pub use muxplex::{
    CloseReason, Config, Delivery, OpenError, PingError, Role, SessionStats, StreamError, StreamId,
    StreamStats,
};
pub use muxplex_async::pool::{BoxFuture, PoolOptions, PooledStream, Retryable};
pub use muxplex_async::{Error, Incoming, ReadHalf, Stream, TransportError, WriteHalf};
pub use pool::Pool;

/// The future that drives a connection over transport `T`; see
/// [`muxplex_async::Driver`]. Spawn it, or let [`Connection::spawn`] do so.
pub type Driver<T> = muxplex_async::Driver<FuturesIo<T>>;

/// A multiplexed connection; clones share it. See
/// [`muxplex_async::Connection`] for the semantics.
#[derive(Clone, Debug)]
pub struct Connection {
    inner: muxplex_async::Connection,
}

impl Connection {
    /// A connection over `io` as the given end, and the [`Driver`] that
    /// must run (be spawned) for it to make progress.
    #[must_use = "the connection makes no progress until its driver is polled or spawned"]
    pub fn new<T>(io: T, role: Role, config: Config) -> (Connection, Driver<T>)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (inner, driver) =
            muxplex_async::Connection::new(FuturesIo(io), SmolTimer::default(), role, config);
        (Connection { inner }, driver)
    }

    /// Like [`new`](Self::new), handing the driver to `spawn` (`smol::spawn`,
    /// or `|driver| executor.spawn(driver)`) and detaching its task, so the
    /// driver runs until the connection ends: a smol `Task` dropped by
    /// mistake would cancel it, and writes would then be buffered for a
    /// driver that never sends them. The driver's outcome is what
    /// [`closed`](Self::closed) returns.
    pub fn spawn<T, S>(io: T, role: Role, config: Config, spawn: S) -> Connection
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: FnOnce(Driver<T>) -> async_task::Task<Result<(), Error>>,
    {
        let (connection, driver) = Self::new(io, role, config);
        spawn(driver).detach();
        connection
    }

    /// Opens a stream, waiting while too many await the peer's ACK; see
    /// [`muxplex_async::Connection::open_stream`].
    pub async fn open_stream(&self) -> Result<Stream, Error> {
        self.inner.open_stream().await
    }

    /// Waits for the next stream the peer opens; fails once the
    /// connection is closing or has ended.
    pub async fn accept_stream(&self) -> Result<Stream, Error> {
        self.inner.accept_stream().await
    }

    /// Closes the connection gracefully and waits until the driver is
    /// done; returns why the session ended. See
    /// [`muxplex_async::Connection::close`].
    pub async fn close(&self) -> Result<CloseReason, Error> {
        self.inner.close().await
    }

    /// A bounded [`close`](Self::close): open streams may finish within
    /// `timeout`, then the rest are reset. See
    /// [`muxplex_async::Connection::close_within`].
    pub async fn close_within(&self, timeout: Duration) -> Result<CloseReason, Error> {
        self.inner.close_within(timeout).await
    }

    /// The streams the peer opens, ending with `None` at a clean end; see
    /// [`Incoming`].
    pub fn incoming(&self) -> Incoming {
        self.inner.incoming()
    }

    /// Which end of the transport this is.
    pub fn role(&self) -> Role {
        self.inner.role()
    }

    /// Resolves once the peer has sent GoAway(0), or with the reason the
    /// session ended first; see [`muxplex_async::Connection::peer_going_away`].
    pub async fn peer_going_away(&self) -> Result<(), CloseReason> {
        self.inner.peer_going_away().await
    }

    /// Whether the peer has sent GoAway(0).
    pub fn is_peer_going_away(&self) -> bool {
        self.inner.is_peer_going_away()
    }

    /// Ends the session at once with GoAway(`code`), without waiting.
    pub fn abort(&self, code: u32) {
        self.inner.abort(code);
    }

    /// Waits until the session has ended, however it ends, and its driver
    /// has finished; returns the driver's outcome: why the session ended,
    /// or the transport's error. See [`muxplex_async::Connection::closed`].
    pub async fn closed(&self) -> Result<CloseReason, Error> {
        self.inner.closed().await
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.inner.close_reason()
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// How many streams the session holds state for, including dropped
    /// streams waiting for the peer to finish.
    pub fn stream_count(&self) -> usize {
        self.inner.stream_count()
    }

    /// Sends a ping and returns the round-trip time once it is answered;
    /// fails with [`Error::Ping`] when too many pings are outstanding, and
    /// with the connection's error if it ends first. See
    /// [`muxplex_async::Connection::ping`].
    pub async fn ping(&self) -> Result<Duration, Error> {
        self.inner.ping().await
    }

    /// The smoothed round-trip time, once a ping of this end was answered.
    pub fn rtt(&self) -> Option<Duration> {
        self.inner.rtt()
    }

    /// The session's counters; see [`muxplex_async::Connection::stats`].
    pub fn stats(&self) -> SessionStats {
        self.inner.stats()
    }

    /// The runtime-agnostic handle underneath.
    pub fn as_async(&self) -> &muxplex_async::Connection {
        &self.inner
    }
}

/// A futures-io `AsyncRead + AsyncWrite` seen as a muxplex transport.
#[derive(Debug)]
pub struct FuturesIo<T>(pub T);

impl<T: AsyncRead + Unpin> muxplex_async::TransportRead for FuturesIo<T> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> muxplex_async::TransportWrite for FuturesIo<T> {
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    /// futures-io cannot say; async-io's sockets write vectors in one
    /// system call, and other writers fall back to writing the first
    /// buffer, which is correct, only with more calls.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// The session's clock and deadlines: the system clock, which async-io's
/// timers follow, and one re-armed async-io timer.
#[derive(Debug)]
pub struct SmolTimer {
    timer: async_io::Timer,
    /// The deadline the timer is set for, if any.
    armed: Option<Instant>,
    /// The timer fired for `armed`.
    fired: bool,
}

impl Default for SmolTimer {
    fn default() -> Self {
        SmolTimer {
            timer: async_io::Timer::never(),
            armed: None,
            fired: false,
        }
    }
}

impl muxplex_async::Timer for SmolTimer {
    fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        if self.armed != Some(deadline) {
            // Re-arming only on a change keeps the reactor's timer queue
            // quiet while the deadline stays put.
            self.timer.set_at(deadline);
            self.armed = Some(deadline);
            self.fired = false;
        }
        // A one-shot async-io timer fires once and is pending forever
        // after; the contract is "ready once the deadline has passed", so
        // a deadline that fired stays ready.
        if self.fired {
            return Poll::Ready(());
        }
        match Pin::new(&mut self.timer).poll_next(cx) {
            Poll::Ready(_) => {
                self.fired = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muxplex_async::Timer as _;
    use std::task::Waker;
    use std::time::Duration;

    #[test]
    fn a_deadline_that_passed_stays_ready() {
        let mut timer = SmolTimer::default();
        let mut cx = Context::from_waker(Waker::noop());
        let past = Instant::now();
        assert!(timer.poll_sleep_until(&mut cx, past).is_ready());
        // Asked again about the same instant: still passed.
        assert!(timer.poll_sleep_until(&mut cx, past).is_ready());
        let future = Instant::now() + Duration::from_secs(3600);
        assert!(timer.poll_sleep_until(&mut cx, future).is_pending());
        assert!(timer.poll_sleep_until(&mut cx, past).is_ready());
    }
}

//! [muxplex] under tokio: many yamux streams over one transport, each a
//! [`tokio::io::AsyncRead`] + [`tokio::io::AsyncWrite`].
//!
//! ```
//! use muxplex_tokio::{CloseReason, Config, Connection, Role};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Any AsyncRead + AsyncWrite works; a TcpStream is the usual choice.
//! let (a, b) = tokio::io::duplex(64 * 1024);
//! let client = Connection::spawn(a, Role::Client, Config::default());
//! let server = Connection::spawn(b, Role::Server, Config::default());
//!
//! // The server echoes every stream it accepts.
//! tokio::spawn(async move {
//!     while let Ok(stream) = server.accept_stream().await {
//!         tokio::spawn(async move {
//!             let (mut reader, mut writer) = tokio::io::split(stream);
//!             tokio::io::copy(&mut reader, &mut writer).await?;
//!             writer.shutdown().await // finish: FIN after the echoed bytes
//!         });
//!     }
//! });
//!
//! let mut stream = client.open_stream().await?;
//! stream.write_all(b"hello").await?;
//! stream.shutdown().await?; // half-close: we send no more
//! let mut echoed = Vec::new();
//! stream.read_to_end(&mut echoed).await?;
//! assert_eq!(echoed, b"hello");
//!
//! assert_eq!(client.close().await?, CloseReason::LocalClose);
//! # Ok(())
//! # }
//! ```
//!
//! [`Connection::new`] returns the connection and its [`Driver`], a future
//! that moves the bytes; [`Connection::spawn`] spawns it on the current
//! runtime. The runtime needs tokio's timer enabled (`enable_time`, or
//! `enable_all`) for the session's deadlines; the session's clock is
//! tokio's, so keepalive and the other timeouts follow a paused test clock
//! (`tokio::time::pause`). Connection and stream semantics, including what
//! dropping a stream does (it finishes, it does not reset), are those of
//! [`muxplex_async::Connection`] and [`muxplex_async::Stream`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;

mod pool;
mod split;
mod tcp;
mod trace;

pub use pool::Pool;
pub use split::{ReadHalf, WriteHalf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
pub use tcp::{accept, connect};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The core crate, as this adapter uses it.
pub use muxplex as core;
pub use muxplex::pool::{
    EndpointInfo, Policy, PoolConfig, PoolStats, SessionInfo, SessionState, Weights,
};
pub use muxplex::{
    CloseReason, Config, Delivery, OpenError, PingError, Role, SessionStats, StreamError, StreamId,
    StreamStats,
};
pub use muxplex_async::pool::{PoolOptions, Retryable};
pub use muxplex_async::{Error, TransportError};

/// The future that drives a connection over transport `T`; see
/// [`muxplex_async::Driver`]. Spawn it, or let [`Connection::spawn`] do so.
pub type Driver<T> = muxplex_async::Driver<TokioTransport<T>>;

/// A multiplexed connection; clones share it. See
/// [`muxplex_async::Connection`] for the semantics.
#[derive(Clone, Debug)]
pub struct Connection {
    inner: muxplex_async::Connection,
}

impl Connection {
    /// A connection over `io` as the given end, and the [`Driver`] that
    /// must run (be spawned) for it to make progress.
    ///
    /// # Panics
    ///
    /// If `config` is invalid, and if called within a tokio runtime that
    /// has no timer (built without `enable_time` or `enable_all`): the
    /// driver could not keep the session's deadlines. Outside any runtime
    /// nothing is checked, since the driver may be spawned on one later.
    #[must_use = "the connection makes no progress until its driver is polled or spawned"]
    pub fn new<T>(io: T, role: Role, config: Config) -> (Connection, Driver<T>)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if let Err(error) = check_runtime() {
            panic!("{error}");
        }
        let (inner, driver) =
            muxplex_async::Connection::new(TokioTransport(io), TokioTimer::default(), role, config);
        (Connection { inner }, driver)
    }

    /// Like [`new`](Self::new), spawning the driver on the current tokio
    /// runtime. Panics outside a runtime, as `tokio::spawn` does, and as
    /// `new` does.
    ///
    /// The driver's outcome (a clean end, or the transport's error) is what
    /// [`closed`](Self::closed) returns.
    #[must_use = "dropping the last handle of a connection closes it"]
    pub fn spawn<T>(io: T, role: Role, config: Config) -> Connection
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::spawn_for(io, role, config, None)
    }

    /// [`spawn`](Self::spawn), for a transport to `peer` where known: the
    /// `tracing` feature's span carries it.
    fn spawn_for<T>(io: T, role: Role, config: Config, peer: Option<SocketAddr>) -> Connection
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (connection, driver) = Self::new(io, role, config);
        trace::spawn_driver(driver, role, peer);
        connection
    }

    /// Like [`spawn`](Self::spawn), but an invalid `config` is an
    /// `InvalidInput` error and a runtime without a timer an `Unsupported`
    /// one, rather than a panic.
    pub fn try_spawn<T>(io: T, role: Role, config: Config) -> io::Result<Connection>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::try_spawn_for(io, role, config, None)
    }

    /// [`try_spawn`](Self::try_spawn), for a transport to `peer`.
    fn try_spawn_for<T>(
        io: T,
        role: Role,
        config: Config,
        peer: Option<SocketAddr>,
    ) -> io::Result<Connection>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        check_runtime()?;
        Ok(Self::spawn_for(io, role, config, peer))
    }

    /// Opens a stream; see [`muxplex_async::Connection::open_stream`].
    pub async fn open_stream(&self) -> Result<Stream, Error> {
        self.inner.open_stream().await.map(Stream::from)
    }

    /// Waits for the next stream the peer opens; fails once the
    /// connection has ended.
    pub async fn accept_stream(&self) -> Result<Stream, Error> {
        self.inner.accept_stream().await.map(Stream::from)
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
    /// [`muxplex_async::Incoming`].
    pub fn incoming(&self) -> Incoming {
        Incoming(self.inner.incoming())
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

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.inner.close_reason()
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The runtime-agnostic handle underneath.
    pub fn as_async(&self) -> &muxplex_async::Connection {
        &self.inner
    }
}

/// One stream of a [`Connection`], as tokio I/O. `shutdown` finishes our
/// direction (FIN); split it with [`tokio::io::split`] to read and write
/// from different tasks. Dropping a stream finishes it, so what was
/// written is delivered; [`reset`](Self::reset) abandons it (see
/// [`muxplex_async::Stream`]).
#[derive(Debug)]
pub struct Stream {
    inner: muxplex_async::Stream,
    /// For a stream from a [`Pool`]: counts it in its session's load until
    /// the stream is dropped (after `inner`, so it finishes first). Boxed,
    /// so a stream from no pool is a word smaller (issue 12: idle streams).
    lease: Option<Box<muxplex_async::pool::Lease>>,
}

impl From<muxplex_async::Stream> for Stream {
    fn from(inner: muxplex_async::Stream) -> Self {
        Stream { inner, lease: None }
    }
}

impl From<muxplex_async::pool::PooledStream> for Stream {
    fn from(pooled: muxplex_async::pool::PooledStream) -> Self {
        let (inner, lease) = pooled.into_parts();
        Stream {
            inner,
            lease: Some(Box::new(lease)),
        }
    }
}

impl Stream {
    /// The stream's id.
    pub fn id(&self) -> StreamId {
        self.inner.id()
    }

    /// Resets the stream with `code` (0 for none); later reads and writes
    /// fail.
    pub fn reset(&self, code: u32) {
        self.inner.reset(code);
    }

    /// Sets the stream's send priority (higher first, 0 by default).
    pub fn set_priority(&self, priority: i32) {
        self.inner.set_priority(priority);
    }

    /// The stream's counters; see [`muxplex_async::Stream::stats`].
    pub fn stats(&self) -> StreamStats {
        self.inner.stats()
    }

    /// Whether the peer's application has the stream; see
    /// [`muxplex_async::Stream::delivery`].
    pub fn delivery(&self) -> Delivery {
        self.inner.delivery()
    }

    /// The next chunk of at most `max` received bytes, without copying;
    /// `None` at the end of the stream.
    pub async fn read_chunk(&self, max: usize) -> Result<Option<bytes::Bytes>, Error> {
        self.inner.read_chunk(max).await
    }

    /// Writes all of `data` without copying it.
    pub async fn write_chunk(&self, data: bytes::Bytes) -> Result<(), Error> {
        self.inner.write_chunk(data).await
    }

    /// The runtime-agnostic stream underneath.
    pub fn as_async(&self) -> &muxplex_async::Stream {
        &self.inner
    }

    /// For a stream from a [`Pool`], the session (slot and attempt) it was
    /// opened on.
    pub fn pool_slot(&self) -> Option<muxplex::pool::Slot> {
        self.lease.as_ref().map(|lease| lease.slot())
    }
}

/// The streams the peer opens, as tokio [`Stream`]s; see
/// [`Connection::incoming`].
#[derive(Debug)]
pub struct Incoming(muxplex_async::Incoming);

impl futures_core::Stream for Incoming {
    type Item = Result<Stream, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0)
            .poll_next(cx)
            .map(|item| item.map(|result| result.map(Stream::from)))
    }
}

macro_rules! tokio_io {
    ($ty:ty) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let n = std::task::ready!(self.inner.poll_read(cx, buf.initialize_unfilled()))?;
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                data: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_write(cx, data).map_err(io::Error::from)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.inner.poll_flush(cx).map_err(io::Error::from)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.inner.poll_finish(cx).map_err(io::Error::from)
            }
        }
    };
}

tokio_io!(Stream);
// `&Stream` too, so one task may read while another writes.
tokio_io!(&Stream);

/// A tokio `AsyncRead + AsyncWrite` seen as a muxplex transport.
#[derive(Debug)]
pub struct TokioTransport<T>(pub T);

impl<T: AsyncRead + Unpin> muxplex_async::TransportRead for TokioTransport<T> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        std::task::ready!(Pin::new(&mut self.0).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }

    /// Reads into uninitialized capacity, as tokio's `ReadBuf` allows, so
    /// the driver's buffers are never zeroed.
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut bytes::BytesMut,
    ) -> Poll<io::Result<usize>> {
        tokio_util::io::poll_read_buf(Pin::new(&mut self.0), cx, buf)
    }

    fn reads_into_spare_capacity(&self) -> bool {
        true
    }
}

impl<T: AsyncWrite + Unpin> muxplex_async::TransportWrite for TokioTransport<T> {
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

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Fails if the caller runs in a tokio runtime without a timer, which the
/// driver needs for the session's deadlines: found here, where the
/// connection is made, rather than as a panic inside the driver's task that
/// its streams could only report as a dropped driver.
///
/// tokio offers no query for its timer, and creating a sleep without one
/// panics; so a sleep is created (and dropped unpolled, so it is never
/// registered) under `catch_unwind`. The runtime's panic hook still prints
/// tokio's own message, which names the fix too.
fn check_runtime() -> io::Result<()> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(());
    }
    match std::panic::catch_unwind(|| drop(tokio::time::sleep(Duration::ZERO))) {
        Ok(()) => Ok(()),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "muxplex-tokio needs the tokio runtime's timer for the session's deadlines: \
             build the runtime with `enable_time()` (or `enable_all()`)",
        )),
    }
}

/// The session's clock and deadlines: tokio's clock (which a test may
/// pause) and one re-armed tokio sleep.
#[derive(Debug, Default)]
pub struct TokioTimer {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl muxplex_async::Timer for TokioTimer {
    fn poll_sleep_until(&mut self, cx: &mut Context<'_>, deadline: std::time::Instant) -> Poll<()> {
        let deadline = tokio::time::Instant::from_std(deadline);
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                // Re-arming only on a change keeps the timer wheel quiet
                // while the deadline stays put.
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                sleep
            }
            None => self
                .sleep
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        sleep.as_mut().poll(cx)
    }

    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }
}

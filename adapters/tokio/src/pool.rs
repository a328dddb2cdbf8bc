//! [`muxplex_async::pool::Pool`] on tokio: tasks on the current runtime,
//! tokio timers (so a paused test clock drives backoff and idle closes),
//! and streams as tokio I/O.

use std::future::Future;
use std::io;

use muxplex::SessionStats;
use muxplex::pool::{EndpointInfo, PoolStats, SessionInfo};
use muxplex_async::pool::{BoxFuture, PoolOptions, Retryable, Runtime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::runtime::Handle;

use crate::{Error, Stream, TokioTimer, TokioTransport};

/// A self-healing pool of multiplexed connections to one service; clones
/// share it. See [`muxplex_async::pool`] for what it does; every decision
/// is the core pool state machine's ([`muxplex::pool`]).
///
/// ```
/// use muxplex_tokio::{Pool, PoolConfig};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let address = listener.local_addr()?;
/// # tokio::spawn(async move {
/// #     while let Ok((tcp, _)) = listener.accept().await {
/// #         let server = muxplex_tokio::Connection::spawn(
/// #             tcp, muxplex_tokio::Role::Server, muxplex_tokio::Config::default());
/// #         tokio::spawn(async move {
/// #             while let Ok(stream) = server.accept_stream().await {
/// #                 let (mut r, mut w) = tokio::io::split(stream);
/// #                 tokio::spawn(async move { tokio::io::copy(&mut r, &mut w).await });
/// #             }
/// #         });
/// #     }
/// # });
/// // An echo server listens at `address`.
/// let pool = Pool::new(
///     move || tokio::net::TcpStream::connect(address),
///     PoolConfig::default().with_max_sessions(4),
/// );
/// let mut stream = pool.open_stream().await?;
/// stream.write_all(b"ping").await?;
/// // Sessions by state, streams, dials, failures.
/// assert_eq!(pool.stats().streams, 1);
/// let mut answer = [0; 4];
/// stream.read_exact(&mut answer).await?;
/// assert_eq!(&answer, b"ping");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Pool {
    inner: muxplex_async::pool::Pool,
}

impl Pool {
    /// A pool whose sessions run over what `connector` returns (any tokio
    /// `AsyncRead + AsyncWrite`, a `TcpStream` typically), started at once
    /// on the current tokio runtime. Panics outside a runtime, as
    /// `tokio::spawn` does, and in one without a timer (built without
    /// `enable_time` or `enable_all`), as [`Connection::new`](crate::Connection::new)
    /// does: the pool's timeouts and its sessions' deadlines need it. `options` is a [`PoolOptions`] or just a
    /// [`PoolConfig`](muxplex::pool::PoolConfig).
    #[must_use = "dropping the pool shuts it down"]
    pub fn new<C, F, T>(connector: C, options: impl Into<PoolOptions>) -> Pool
    where
        C: Fn() -> F + Send + Sync + 'static,
        F: Future<Output = io::Result<T>> + Send + 'static,
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Pool::with_endpoints([((), 1)], move |()| connector(), options)
    }

    /// A pool over several endpoints, each with its weight; `connector`
    /// makes a transport to the endpoint it is given (an address, say). The
    /// core pool spreads sessions by weight, leaves a failing endpoint
    /// alone for its backoff while the others take its sessions, and moves
    /// sessions back once it answers; see
    /// [`muxplex_async::pool::Pool::with_endpoints`]. Panics as [`new`](Self::new)
    /// does.
    ///
    /// ```no_run
    /// use muxplex_tokio::{Pool, PoolConfig};
    /// use std::net::SocketAddr;
    ///
    /// # async fn run() -> Result<(), muxplex_tokio::Error> {
    /// let servers: [(SocketAddr, u32); 2] =
    ///     [("10.0.0.1:7000".parse().unwrap(), 2), ("10.0.0.2:7000".parse().unwrap(), 1)];
    /// let pool = Pool::with_endpoints(
    ///     servers,
    ///     |address: &SocketAddr| tokio::net::TcpStream::connect(*address),
    ///     PoolConfig::default().with_min_sessions(3),
    /// );
    /// let stream = pool.open_stream().await?;
    /// # drop(stream);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use = "dropping the pool shuts it down"]
    pub fn with_endpoints<E, C, F, T>(
        endpoints: impl IntoIterator<Item = (E, u32)>,
        connector: C,
        options: impl Into<PoolOptions>,
    ) -> Pool
    where
        E: Send + Sync + 'static,
        C: Fn(&E) -> F + Send + Sync + 'static,
        F: Future<Output = io::Result<T>> + Send + 'static,
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if let Err(error) = crate::check_runtime() {
            panic!("{error}");
        }
        let runtime = TokioRuntime(Handle::current());
        let connector = move |endpoint: &E| {
            let connecting = connector(endpoint);
            async move { connecting.await.map(TokioTransport) }
        };
        Pool {
            inner: muxplex_async::pool::Pool::with_endpoints(
                runtime, endpoints, connector, options,
            ),
        }
    }

    /// Opens a stream on the session the policy picks, waiting (up to the
    /// open timeout) while one is dialed; see
    /// [`muxplex_async::pool::Pool::open_stream`].
    pub async fn open_stream(&self) -> Result<Stream, Error> {
        self.inner.open_stream().await.map(Stream::from)
    }

    /// Opens a stream with a key for the sticky policy; see
    /// [`muxplex_async::pool::Pool::open_stream_with_key`].
    pub async fn open_stream_with_key(&self, key: u64) -> Result<Stream, Error> {
        self.inner.open_stream_with_key(key).await.map(Stream::from)
    }

    /// Runs `request` on a pooled stream, again on another session when it
    /// failed without reaching the peer, never when it may have; see
    /// [`muxplex_async::pool::Pool::retry`]. `E` is typically
    /// [`io::Error`], which stream I/O returns.
    pub async fn retry<R, Fut, T, E>(&self, mut request: R) -> Result<T, E>
    where
        R: FnMut(Stream) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Retryable,
    {
        self.inner
            .retry(move |pooled| request(Stream::from(pooled)))
            .await
    }

    /// Like [`retry`](Self::retry), opening with a sticky `key`.
    pub async fn retry_with_key<R, Fut, T, E>(&self, key: u64, mut request: R) -> Result<T, E>
    where
        R: FnMut(Stream) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Retryable,
    {
        self.inner
            .retry_with_key(key, move |pooled| request(Stream::from(pooled)))
            .await
    }

    /// Totals: sessions by state, open streams, dials and failures.
    pub fn stats(&self) -> PoolStats {
        self.inner.stats()
    }

    /// Every session with its state, streams, endpoint and health, by
    /// slot.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.inner.sessions()
    }

    /// Every endpoint with its weight, sessions, failures, backoff and RTT.
    pub fn endpoints(&self) -> Vec<EndpointInfo> {
        self.inner.endpoints()
    }

    /// Every session with its connection's counters; see
    /// [`muxplex_async::pool::Pool::session_stats`].
    pub fn session_stats(&self) -> Vec<(SessionInfo, Option<SessionStats>)> {
        self.inner.session_stats()
    }

    /// Starts dialing again after the pool gave up, forgetting every
    /// endpoint's failures and backoff; see
    /// [`muxplex_async::pool::Pool::resume`].
    pub fn resume(&self) {
        self.inner.resume();
    }

    /// The runtime-agnostic pool underneath.
    pub fn as_async(&self) -> &muxplex_async::pool::Pool {
        &self.inner
    }
}

/// Tasks on the tokio runtime the pool was made on (so the pool works when
/// used from other threads too), tokio timers.
struct TokioRuntime(Handle);

impl Runtime for TokioRuntime {
    fn spawn(&self, task: BoxFuture) {
        self.0.spawn(task);
    }

    fn timer(&self) -> Box<dyn muxplex_async::Timer + Send> {
        Box::new(TokioTimer::default())
    }
}

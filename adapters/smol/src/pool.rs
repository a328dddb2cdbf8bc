//! [`muxplex_async::pool::Pool`] on smol: tasks through a spawn function
//! of your choice, async-io timers, streams as futures-io.

use std::future::Future;
use std::io;

use futures_io::{AsyncRead, AsyncWrite};
use muxplex::SessionStats;
use muxplex::pool::{EndpointInfo, PoolStats, SessionInfo};
use muxplex_async::pool::{BoxFuture, PoolOptions, PooledStream, Retryable, Runtime};

use crate::{Error, FuturesIo, SmolTimer};

/// A self-healing pool of multiplexed connections to one service; clones
/// share it. See [`muxplex_async::pool`] for what it does; every decision
/// is the core pool state machine's ([`muxplex::pool`]).
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use muxplex_smol::{Pool, PoolConfig};
/// use smol::net::TcpStream;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// smol::block_on(async {
///     let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
///     let address = listener.local_addr()?;
/// #   smol::spawn(async move {
/// #       while let Ok((tcp, _)) = listener.accept().await {
/// #           let server = muxplex_smol::Connection::spawn(
/// #               tcp, muxplex_smol::Role::Server, muxplex_smol::Config::default(), smol::spawn);
/// #           smol::spawn(async move {
/// #               while let Ok(stream) = server.accept_stream().await {
/// #                   smol::spawn(async move {
/// #                       futures_lite::io::copy(&stream, &mut &stream).await
/// #                   }).detach();
/// #               }
/// #           }).detach();
/// #       }
/// #   }).detach();
///     // An echo server listens at `address`.
///     let pool = Pool::new(
///         move || TcpStream::connect(address),
///         PoolConfig::default().with_max_sessions(4),
///         |task| smol::spawn(task).detach(),
///     );
///     let mut stream = pool.open_stream().await?;
///     stream.write_all(b"ping").await?;
///     let mut answer = [0; 4];
///     stream.read_exact(&mut answer).await?;
///     assert_eq!(&answer, b"ping");
///     Ok(())
/// })
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Pool {
    inner: muxplex_async::pool::Pool,
}

impl Pool {
    /// A pool whose sessions run over what `connector` returns (any
    /// futures-io transport, a `TcpStream` typically), started at once.
    /// `spawn` runs the pool's tasks to completion: pass
    /// `|task| smol::spawn(task).detach()`, or an `Executor`'s spawn. The
    /// tasks end once the last pool handle is dropped and its sessions
    /// have closed.
    #[must_use = "dropping the pool shuts it down"]
    pub fn new<C, F, T, S>(connector: C, options: impl Into<PoolOptions>, spawn: S) -> Pool
    where
        C: Fn() -> F + Send + Sync + 'static,
        F: Future<Output = io::Result<T>> + Send + 'static,
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: Fn(BoxFuture) + Send + Sync + 'static,
    {
        Pool::with_endpoints([((), 1)], move |()| connector(), options, spawn)
    }

    /// A pool over several endpoints, each with its weight; `connector`
    /// makes a transport to the endpoint it is given (an address, say). The
    /// core pool spreads sessions by weight, leaves a failing endpoint
    /// alone for its backoff while the others take its sessions, and moves
    /// sessions back once it answers; see
    /// [`muxplex_async::pool::Pool::with_endpoints`].
    #[must_use = "dropping the pool shuts it down"]
    pub fn with_endpoints<E, C, F, T, S>(
        endpoints: impl IntoIterator<Item = (E, u32)>,
        connector: C,
        options: impl Into<PoolOptions>,
        spawn: S,
    ) -> Pool
    where
        E: Send + Sync + 'static,
        C: Fn(&E) -> F + Send + Sync + 'static,
        F: Future<Output = io::Result<T>> + Send + 'static,
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: Fn(BoxFuture) + Send + Sync + 'static,
    {
        let connector = move |endpoint: &E| {
            let connecting = connector(endpoint);
            async move { connecting.await.map(FuturesIo) }
        };
        let runtime = SmolRuntime(spawn);
        Pool {
            inner: muxplex_async::pool::Pool::with_endpoints(
                runtime, endpoints, connector, options,
            ),
        }
    }

    /// Opens a stream on the session the policy picks, waiting (up to the
    /// open timeout) while one is dialed; see
    /// [`muxplex_async::pool::Pool::open_stream`].
    pub async fn open_stream(&self) -> Result<PooledStream, Error> {
        self.inner.open_stream().await
    }

    /// Opens a stream with a key for the sticky policy.
    pub async fn open_stream_with_key(&self, key: u64) -> Result<PooledStream, Error> {
        self.inner.open_stream_with_key(key).await
    }

    /// Runs `request` on a pooled stream, again on another session when it
    /// failed without reaching the peer, never when it may have; see
    /// [`muxplex_async::pool::Pool::retry`].
    pub async fn retry<R, Fut, T, E>(&self, request: R) -> Result<T, E>
    where
        R: FnMut(PooledStream) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Retryable,
    {
        self.inner.retry(request).await
    }

    /// Like [`retry`](Self::retry), opening with a sticky `key`.
    pub async fn retry_with_key<R, Fut, T, E>(&self, key: u64, request: R) -> Result<T, E>
    where
        R: FnMut(PooledStream) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Retryable,
    {
        self.inner.retry_with_key(key, request).await
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

/// Tasks through the user's spawn function, async-io timers.
struct SmolRuntime<S>(S);

impl<S: Fn(BoxFuture) + Send + Sync + 'static> Runtime for SmolRuntime<S> {
    fn spawn(&self, task: BoxFuture) {
        (self.0)(task);
    }

    fn timer(&self) -> Box<dyn muxplex_async::Timer + Send> {
        Box::new(SmolTimer::default())
    }
}

//! A pool of connections to one service, run by the core's sans-IO pool
//! state machine ([`muxplex::pool`]); every decision (how many sessions,
//! when to dial, back off, scale or close, which session takes a stream)
//! is the core's. This module only carries the decisions out.
//!
//! - A background task (the supervisor, spawned through the [`Runtime`])
//!   feeds the core its deadlines and performs its actions: each `Dial`
//!   runs the connector in a task of its own (within the connect timeout)
//!   and reports the outcome, a connector that panics as a failed dial; each
//!   `Close` closes a session gracefully, so its streams finish.
//! - Every session is watched: its end is reported with its
//!   [`CloseReason`](muxplex::CloseReason), so a lost session is redialed
//!   after a backoff and one the pool closed is not; a peer's GoAway is
//!   reported as soon as it arrives.
//! - Each `Ping` the core asks for (every
//!   [`PoolConfig::ping_interval`]) is sent, and its round-trip time
//!   reported: the core stops picking a session far slower than the
//!   fastest and weighs [`Weights::Rtt`](muxplex::pool::Weights::Rtt)
//!   picks by it.
//! - Every stream handed out counts in its session's load until dropped;
//!   the core balances, scales out and closes idle sessions by that load.
//! - [`Pool::open_stream`] asks the core for a session, or waits (up to
//!   [`PoolOptions::open_timeout`]) while one is dialed. An open that fails
//!   is reported to the core ([`Pool::open_failed`](muxplex::pool::Pool::open_failed),
//!   which drains a session out of ids or going away) and tried again on
//!   another session: nothing reached the peer.
//! - [`Pool::retry`] runs a request and runs it again on another session
//!   when the core allows it ([`Pool::may_retry`](muxplex::pool::Pool::may_retry):
//!   only after [`Delivery::NotDelivered`]).
//!
//! After a peer's GoAway (seen by the watcher, or by an open refused for
//! it) the session drains (its streams finish, no new ones go there) and a
//! replacement is dialed at once.
//!
//! Runtime adapters wrap this in one call (`muxplex_tokio::Pool::new`).

mod state;
mod stream;
mod supervisor;

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use muxplex::pool::{EndpointInfo, PoolConfig, PoolStats, SessionInfo, Slot};
use muxplex::{Config, Delivery, OpenError, Role, SessionStats};

use crate::connection::Connection;
use crate::error::Error;
use crate::io::{Timer, TransportRead, TransportWrite};
use state::{Shared, Waiter};
use supervisor::{Supervisor, within};

pub use stream::{Lease, PooledStream};

/// A task for the runtime to run to completion.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What a pool needs from a runtime: somewhere to run its tasks (the
/// supervisor, dials, connection drivers) and timers on the runtime's
/// clock. The tokio and smol adapters supply one.
pub trait Runtime: Send + Sync + 'static {
    /// Runs `task` in the background until it completes.
    fn spawn(&self, task: BoxFuture);

    /// A new timer on the runtime's clock (one per connection, dial and
    /// waiting open).
    fn timer(&self) -> Box<dyn Timer + Send>;
}

/// Makes a connection to an endpoint (by its index): runs the user's
/// connector and wraps its transport.
type Dial = Box<
    dyn Fn(usize) -> Pin<Box<dyn Future<Output = io::Result<(Connection, BoxFuture)>> + Send>>
        + Send
        + Sync,
>;

/// How a [`Pool`] runs: the core pool's tunables, the sessions' config and
/// the adapter's own bounds. `From<PoolConfig>` takes the defaults for the
/// rest.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PoolOptions {
    /// Session counts, scaling, backoff and picking policy.
    pub pool: PoolConfig,
    /// The config of every session the pool dials (as the client).
    pub session: Config,
    /// How long [`Pool::open_stream`] may wait for a session that can take
    /// the stream, dials and backoffs included (default 20 s, the default
    /// connect timeout, so an open outlasts one slow dial).
    pub open_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            pool: PoolConfig::default(),
            session: Config::default(),
            open_timeout: Duration::from_secs(20),
        }
    }
}

impl From<PoolConfig> for PoolOptions {
    fn from(pool: PoolConfig) -> Self {
        PoolOptions {
            pool,
            ..PoolOptions::default()
        }
    }
}

impl PoolOptions {
    /// Sets the session config every dialed session uses.
    #[must_use]
    pub fn with_session_config(mut self, session: Config) -> Self {
        self.session = session;
        self
    }

    /// Sets how long an open may wait for a session.
    #[must_use]
    pub fn with_open_timeout(mut self, timeout: Duration) -> Self {
        self.open_timeout = timeout;
        self
    }
}

/// Whether a failed request may be run again: [`Pool::retry`] does so only
/// for [`Delivery::NotDelivered`].
pub trait Retryable {
    /// Whether the peer's application may have the failed request's
    /// stream; `None` when the error says nothing about it.
    fn delivery(&self) -> Option<Delivery>;
}

impl Retryable for Error {
    fn delivery(&self) -> Option<Delivery> {
        Error::delivery(self)
    }
}

/// An I/O error from a stream carries the [`Error`] inside; any other says
/// nothing about delivery.
impl Retryable for io::Error {
    fn delivery(&self) -> Option<Delivery> {
        self.get_ref()?.downcast_ref::<Error>()?.delivery()
    }
}

/// A self-healing pool of multiplexed connections to one service; clones
/// share it. See the [module docs](self).
///
/// Dropping the last handle shuts the pool down: every session closes
/// gracefully, so streams still held finish first.
pub struct Pool {
    shared: Arc<Shared>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Clone for Pool {
    fn clone(&self) -> Self {
        self.shared.lock().handles += 1;
        Pool {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.handles -= 1;
        if state.handles == 0 {
            state.shut_down = true;
            state.wake_supervisor();
        }
    }
}

impl Pool {
    /// A pool whose sessions run over what `connector` returns, started at
    /// once: it dials `min_sessions` sessions in the background. Each call
    /// of `connector` makes one transport (a TCP connection, say). One
    /// endpoint: [`with_endpoints`](Self::with_endpoints) for many.
    #[must_use = "dropping the pool shuts it down"]
    pub fn new<R, C, F, T>(runtime: R, connector: C, options: impl Into<PoolOptions>) -> Pool
    where
        R: Runtime,
        C: Fn() -> F + Send + Sync + 'static,
        F: Future<Output = io::Result<T>> + Send + 'static,
        T: TransportRead + TransportWrite + Unpin + Send + 'static,
    {
        Pool::with_endpoints(runtime, [((), 1)], move |()| connector(), options)
    }

    /// A pool over several endpoints (servers of one service, say), each
    /// given with its weight; `connector` makes a transport to the endpoint
    /// it is given. The core pool decides which endpoint each session is
    /// dialed to: sessions spread by weight, an endpoint that fails is left
    /// alone for its backoff while the others take its sessions, and
    /// sessions move back once it answers again (see
    /// [`PoolConfig::endpoints`], which these weights replace). Under
    /// [`Weights::Endpoint`](muxplex::pool::Weights::Endpoint) new streams
    /// follow the weights too. Given no endpoint at all, every dial fails
    /// (with [`io::ErrorKind::NotFound`]) and is retried after a backoff.
    #[must_use = "dropping the pool shuts it down"]
    pub fn with_endpoints<R, E, C, F, T>(
        runtime: R,
        endpoints: impl IntoIterator<Item = (E, u32)>,
        connector: C,
        options: impl Into<PoolOptions>,
    ) -> Pool
    where
        R: Runtime,
        E: Send + Sync + 'static,
        C: Fn(&E) -> F + Send + Sync + 'static,
        F: Future<Output = io::Result<T>> + Send + 'static,
        T: TransportRead + TransportWrite + Unpin + Send + 'static,
    {
        let mut options = options.into();
        let (endpoints, weights): (Vec<E>, Vec<u32>) = endpoints.into_iter().unzip();
        options.pool.endpoints = weights;
        let runtime: Arc<dyn Runtime> = Arc::new(runtime);
        let session_config = options.session.clone();
        let timers = Arc::clone(&runtime);
        let dial: Dial = Box::new(move |endpoint| {
            // The core dials only the endpoints it was given, and none when
            // there are none (it then counts one, with no address here).
            let Some(endpoint) = endpoints.get(endpoint) else {
                return Box::pin(std::future::ready(Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the pool was given no endpoint",
                ))));
            };
            let connecting = connector(endpoint);
            let timer = timers.timer();
            let config = session_config.clone();
            Box::pin(async move {
                let transport = connecting.await?;
                let (connection, driver) = Connection::new(transport, timer, Role::Client, config);
                let driver: BoxFuture = Box::pin(async move {
                    // Its end shows on the connection, which the pool
                    // watches.
                    let _ = driver.await;
                });
                Ok((connection, driver))
            })
        });
        let shared = Shared::new(Arc::clone(&runtime), dial, options);
        runtime.spawn(Box::pin(Supervisor::new(Arc::clone(&shared))));
        Pool { shared }
    }

    /// Opens a stream on the session the pool's policy picks, waiting
    /// while one is dialed (at most [`PoolOptions::open_timeout`], then
    /// [`Error::PoolTimeout`]). Fails at once with [`Error::PoolGaveUp`]
    /// when the pool has given up and has no session to offer.
    pub async fn open_stream(&self) -> Result<PooledStream, Error> {
        self.open(None, None).await
    }

    /// Like [`open_stream`](Self::open_stream), with a key for
    /// [`Policy::Sticky`](muxplex::pool::Policy::Sticky): the same key goes
    /// to the same session while it lasts.
    pub async fn open_stream_with_key(&self, key: u64) -> Result<PooledStream, Error> {
        self.open(Some(key), None).await
    }

    /// Runs `request` on a pooled stream, and again on another session
    /// (up to [`PoolConfig::max_retries`] times) when it fails with
    /// [`Delivery::NotDelivered`]: the peer never saw the stream, as when
    /// it refused it at its accept backlog or after its GoAway. A failure
    /// that may have been delivered is returned as is, since running the
    /// request again could do its work twice. Opening the stream is not
    /// retried beyond what [`open_stream`](Self::open_stream) does.
    pub async fn retry<F, Fut, T, E>(&self, request: F) -> Result<T, E>
    where
        F: FnMut(PooledStream) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Retryable,
    {
        self.retry_on(None, request).await
    }

    /// Like [`retry`](Self::retry), opening with a sticky `key` (a retry
    /// goes to another session all the same).
    pub async fn retry_with_key<F, Fut, T, E>(&self, key: u64, request: F) -> Result<T, E>
    where
        F: FnMut(PooledStream) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Retryable,
    {
        self.retry_on(Some(key), request).await
    }

    /// Totals: sessions by state, open streams, dials and failures.
    pub fn stats(&self) -> PoolStats {
        self.shared.lock().core.stats()
    }

    /// Every session (or place waiting to redial) with its state, streams,
    /// endpoint and health, by slot.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.shared.lock().core.sessions().collect()
    }

    /// Every endpoint with its weight, sessions, failures, backoff and
    /// RTT, in the order given.
    pub fn endpoints(&self) -> Vec<EndpointInfo> {
        self.shared.lock().core.endpoints().collect()
    }

    /// [`sessions`](Self::sessions), each with its connection's counters
    /// ([`Connection::stats`]); `None` for a place waiting to redial.
    pub fn session_stats(&self) -> Vec<(SessionInfo, Option<SessionStats>)> {
        let state = self.shared.lock();
        state
            .core
            .sessions()
            .map(|info| {
                let held = state.sessions.get(&info.slot.index());
                let live = held.filter(|session| session.slot == info.slot);
                (info, live.map(|session| session.connection.stats()))
            })
            .collect()
    }

    /// Starts dialing again after the pool gave up (`max_attempts`
    /// failures in a row). It forgets every endpoint's failures and ends
    /// its backoff, so called when the pool has not given up it redials
    /// failing endpoints at once: call it on `stats().gave_up`, not in a
    /// loop.
    pub fn resume(&self) {
        let mut state = self.shared.lock();
        let now = state.clock.now();
        state.core.resume(now);
        state.wake_supervisor();
    }

    async fn retry_on<F, Fut, T, E>(&self, key: Option<u64>, mut request: F) -> Result<T, E>
    where
        F: FnMut(PooledStream) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Retryable,
    {
        let mut avoid = None;
        let mut retries = 0;
        loop {
            let stream = self.open(key, avoid).await?;
            let slot = stream.slot();
            match request(stream).await {
                Err(error) if self.shared.lock().core.may_retry(error.delivery(), retries) => {
                    retries += 1;
                    avoid = Some(slot);
                }
                outcome => return outcome,
            }
        }
    }

    /// Picks a session (preferring one other than `avoid`) and opens a
    /// stream on it, within the open timeout.
    async fn open(&self, key: Option<u64>, avoid: Option<Slot>) -> Result<PooledStream, Error> {
        let deadline = self
            .shared
            .lock()
            .clock
            .host_deadline(self.shared.options.open_timeout);
        let mut timer = self.shared.runtime.timer();
        let waiter = Waiter::new(&self.shared);
        let opening = async {
            let mut avoid = avoid;
            loop {
                let (slot, connection) =
                    poll_fn(|cx| self.poll_pick(cx, waiter.id, key, avoid)).await?;
                let lease = Lease::new(Arc::clone(&self.shared), slot);
                match connection.open_stream().await {
                    Ok(stream) => return Ok(PooledStream::new(stream, lease)),
                    Err(error) => {
                        drop(lease);
                        self.open_failed(slot, &connection, error)?;
                        avoid = Some(slot);
                    }
                }
            }
        };
        within(&mut *timer, deadline, opening)
            .await
            .unwrap_or(Err(Error::PoolTimeout))
    }

    /// The core's pick, counted in the session's load at once so that
    /// concurrent opens spread; pending while no session can take it.
    fn poll_pick(
        &self,
        cx: &mut Context<'_>,
        waiter: u64,
        key: Option<u64>,
        avoid: Option<Slot>,
    ) -> Poll<Result<(Slot, Connection), Error>> {
        let mut state = self.shared.lock();
        let picked = match avoid {
            Some(avoid) => state.core.pick_avoiding(key, avoid),
            None => state.core.pick(key),
        };
        let Some(slot) = picked else {
            if state.core.stats().gave_up {
                return Poll::Ready(Err(Error::PoolGaveUp));
            }
            // A pool with no session at all asks for a dial on a pick.
            state.wake_supervisor();
            state.wait(waiter, cx.waker());
            return Poll::Pending;
        };
        let connection = state
            .session(slot)
            .map(|session| session.connection.clone())
            // Sessions enter and leave the table under the same lock as the
            // core learns of them, so a picked one is always there.
            .expect("the core picked a session the pool does not hold");
        state.adjust_load(slot, true);
        Poll::Ready(Ok((slot, connection)))
    }

    /// Tells the core why an open on `slot` failed, so the next pick goes
    /// elsewhere (the core drains a session out of ids or going away, and
    /// forgets one that ended). Nothing reached the peer, so an open error
    /// is tried again; any other failure is the caller's.
    fn open_failed(&self, slot: Slot, connection: &Connection, error: Error) -> Result<(), Error> {
        let error = match (connection.close_reason(), error) {
            // Its watcher would say so too; saying it now keeps the next
            // pick off it.
            (Some(reason), _) => OpenError::SessionClosed(reason),
            (None, Error::Open(error)) => error,
            (None, error) => return Err(error),
        };
        let mut state = self.shared.lock();
        state.open_failed(slot, &error);
        Ok(())
    }
}

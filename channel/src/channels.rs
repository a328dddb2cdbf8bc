//! The accepting side over muxplex-async: listeners, and the routing task
//! that reads every incoming stream's preamble and hands it on.

use std::boxed::Box;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::vec::Vec;

use muxplex::Instant;
use muxplex_async::{Connection, Stream, Timer};

use crate::channel::{Channel, ChannelConfig, ChannelError, connect_with, write_all};
use crate::preamble::{Answer, Open, Reject, RejectCode};
use crate::router::{ListenError, ListenerId, PendingId, Routed, Router};

/// The accepting side of channels on one connection: [`listen`](Self::listen)
/// registers a listener, the [`Routing`] task (spawn it) accepts every
/// stream the peer opens, reads its preamble and hands the channel to its
/// listener, and refuses the rest. Clones share the table.
///
/// # Beside plain streams
///
/// The routing task is the connection's only acceptor: do not also call
/// `accept_stream` on it. Streams the peer opens that do not start with
/// the preamble's magic bytes (or that the peer finishes within them, or
/// before any byte) are plain streams: they wait (up to
/// [`ChannelConfig::plain_backlog`]) for [`accept_plain`](Self::accept_plain),
/// with the bytes already read from them. A plain protocol in which the
/// accepting end speaks first looks, to the router, like a preamble that
/// never comes, and is refused after the preamble timeout; run such
/// protocols as channels, or on a connection without a router. Streams
/// this end opens (plain ones with `open_stream`, channels with
/// [`connect`](Self::connect)) are unaffected: the peer accepts them as
/// it likes.
///
/// # Ending
///
/// `Channels` and its routing task hold handles on the connection, so
/// dropping the application's own handles does not close it: close it
/// explicitly (`Connection::close`). The routing task ends once the
/// connection accepts no more streams; listeners' `accept` and
/// [`accept_plain`](Self::accept_plain) fail from then on (once their
/// backlog is taken). A routing task dropped before that (cancelled, or
/// its runtime shut down) ends the streams it held, and they fail with
/// [`ChannelError::RoutingGone`].
#[derive(Clone)]
pub struct Channels {
    shared: Arc<Mutex<State>>,
    connection: Connection,
    config: ChannelConfig,
}

impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channels")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A stream the peer opened that is not a channel. Its `stream` is
/// muxplex-async's; under tokio, `muxplex_tokio::Stream::from(plain.stream)`
/// gives it tokio's I/O traits.
#[derive(Debug)]
pub struct PlainStream {
    /// The bytes the router read from it: the stream's first bytes, to be
    /// taken before anything read from `stream`.
    pub prefix: Vec<u8>,
    /// The stream, positioned after `prefix`.
    pub stream: Stream,
}

/// An answer (reject) being written, after which the stream is finished.
struct Answering {
    stream: Stream,
    bytes: Vec<u8>,
    sent: usize,
}

impl Answering {
    fn new(stream: Stream, reject: Reject, config: &ChannelConfig) -> Self {
        // A reject the router made is fitted to the limits, so it encodes.
        let bytes = Answer::Reject(reject)
            .encode(&config.router.limits)
            .unwrap_or_default();
        Answering {
            stream,
            bytes,
            sent: 0,
        }
    }

    /// Ready once written and finished, or failed; the stream is dropped
    /// then.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.sent < self.bytes.len() {
            match self.stream.poll_write(cx, &self.bytes[self.sent..]) {
                Poll::Ready(Ok(n)) => self.sent += n,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.stream.poll_finish(cx).map(drop)
    }
}

struct State {
    router: Router<Stream>,
    /// The tasks waiting in each listener's `accept`.
    listener_wakers: BTreeMap<ListenerId, Vec<Waker>>,
    task_waker: Option<Waker>,
    answers: Vec<Answering>,
    plain: VecDeque<PlainStream>,
    plain_wakers: Vec<Waker>,
    /// Why no more streams come: the connection's accept failed, or the
    /// routing task is gone ([`ChannelError::RoutingGone`]).
    ended: Option<ChannelError>,
    /// The routing task was dropped: nobody writes refusals any more.
    routing_gone: bool,
}

fn lock(shared: &Mutex<State>) -> MutexGuard<'_, State> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    /// Queues `reject` for the routing task to write. Once that task is
    /// gone the stream is dropped (finished) instead, so the opener hears
    /// the end ([`ChannelError::Unanswered`]) rather than wait for ever.
    fn refuse(&mut self, stream: Stream, reject: Reject, config: &ChannelConfig) {
        if !self.routing_gone {
            self.answers.push(Answering::new(stream, reject, config));
        }
    }

    fn end(&mut self, why: ChannelError) {
        self.ended.get_or_insert(why);
        self.wake_all();
    }

    fn wake_all(&mut self) {
        for wakers in core::mem::take(&mut self.listener_wakers).into_values() {
            wake(wakers);
        }
        wake(core::mem::take(&mut self.plain_wakers));
    }
}

/// Adds a waiting task, once however often it polls.
fn register(wakers: &mut Vec<Waker>, waker: &Waker) {
    if !wakers.iter().any(|w| w.will_wake(waker)) {
        wakers.push(waker.clone());
    }
}

fn wake(wakers: Vec<Waker>) {
    for waker in wakers {
        waker.wake();
    }
}

impl Channels {
    /// The channels of `connection`, and the routing task that must run
    /// (be spawned) for listeners to get anything; it ends when the
    /// connection can accept no more streams and its last refusals are
    /// written. `timer` runs the preamble deadline; use the connection's
    /// runtime's (the tokio flavour does this for you).
    ///
    /// Under smol, over loopback TCP:
    ///
    /// ```
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// use muxplex_channel::{ChannelConfig, Channels, connect};
    /// use muxplex_smol::{Config, Connection, Role, SmolTimer};
    /// use smol::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// smol::block_on(async {
    ///     let tcp = TcpListener::bind("127.0.0.1:0").await?;
    ///     let dialed = TcpStream::connect(tcp.local_addr()?).await?;
    ///     let (accepted, _) = tcp.accept().await?;
    ///     let (client, driver) = Connection::new(dialed, Role::Client, Config::default());
    ///     smol::spawn(driver).detach();
    ///     let (server, driver) = Connection::new(accepted, Role::Server, Config::default());
    ///     smol::spawn(driver).detach();
    ///
    ///     // The accepting end: the table, and its routing task spawned.
    ///     let (table, routing) =
    ///         Channels::new(server.as_async().clone(), SmolTimer::default(), ChannelConfig::default());
    ///     smol::spawn(routing).detach();
    ///     let listener = table.listen("echo", None)?;
    ///     smol::spawn(async move {
    ///         let mut channel = listener.accept().await?.accept(b"").await?;
    ///         let mut got = Vec::new();
    ///         channel.read_to_end(&mut got).await?;
    ///         channel.write_all(&got).await?;
    ///         channel.close().await?;
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .detach();
    ///
    ///     // The opening end.
    ///     let mut channel = connect(client.as_async(), "echo", b"", b"").await?;
    ///     channel.write_all(b"ping").await?;
    ///     channel.close().await?;
    ///     let mut echoed = Vec::new();
    ///     channel.read_to_end(&mut echoed).await?;
    ///     assert_eq!(echoed, b"ping");
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// # }
    /// ```
    #[must_use = "no channel is routed until the routing task is polled or spawned"]
    pub fn new<Tm>(connection: Connection, timer: Tm, config: ChannelConfig) -> (Channels, Routing)
    where
        Tm: Timer + Send + 'static,
    {
        let shared = Arc::new(Mutex::new(State {
            router: Router::new(config.router),
            listener_wakers: BTreeMap::new(),
            task_waker: None,
            answers: Vec::new(),
            plain: VecDeque::new(),
            plain_wakers: Vec::new(),
            ended: None,
            routing_gone: false,
        }));
        let routing = Routing {
            shared: Arc::clone(&shared),
            connection: connection.clone(),
            start: timer.now(),
            timer: Box::new(timer),
            config,
        };
        let channels = Channels {
            shared,
            connection,
            config,
        };
        (channels, routing)
    }

    /// Listens for channels of `protocol` with `id` (`None`: any id that
    /// no listener of its own claims). Fails if someone listens for the
    /// same already. Dropping the listener stops listening; the channels
    /// in its backlog are refused with [`RejectCode::LISTENER_CLOSED`].
    pub fn listen(&self, protocol: &str, id: Option<&[u8]>) -> Result<Listener, ListenError> {
        let listener = lock(&self.shared)
            .router
            .listen(protocol, id, self.config.backlog)?;
        Ok(Listener {
            shared: Arc::clone(&self.shared),
            listener,
            config: self.config,
        })
    }

    /// Opens a channel to the peer with this table's configuration; see
    /// [`connect`](crate::connect).
    pub async fn connect(
        &self,
        protocol: &str,
        id: &[u8],
        handshake: &[u8],
    ) -> Result<Channel, ChannelError> {
        let open = Open::new(protocol, id, handshake);
        connect_with(&self.connection, open, &self.config).await
    }

    /// The next plain (non-channel) stream the peer opened; fails once the
    /// connection accepts no more streams.
    pub async fn accept_plain(&self) -> Result<PlainStream, ChannelError> {
        poll_fn(|cx| {
            let mut state = lock(&self.shared);
            if let Some(plain) = state.plain.pop_front() {
                return Poll::Ready(Ok(plain));
            }
            if let Some(error) = &state.ended {
                return Poll::Ready(Err(error.clone()));
            }
            register(&mut state.plain_wakers, cx.waker());
            Poll::Pending
        })
        .await
    }
}

/// A registered listener; see [`Channels::listen`].
pub struct Listener {
    shared: Arc<Mutex<State>>,
    listener: ListenerId,
    config: ChannelConfig,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Waits for the next channel a remote opener opened for this
    /// listener. Fails once the connection accepts no more streams.
    pub async fn accept(&self) -> Result<Request, ChannelError> {
        poll_fn(|cx| {
            let mut state = lock(&self.shared);
            if let Some(request) = state.router.accept(self.listener) {
                return Poll::Ready(Ok(Request {
                    stream: request.stream,
                    open: request.open,
                    config: self.config,
                }));
            }
            if let Some(error) = &state.ended {
                return Poll::Ready(Err(error.clone()));
            }
            register(
                state.listener_wakers.entry(self.listener).or_default(),
                cx.waker(),
            );
            Poll::Pending
        })
        .await
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.listener_wakers.remove(&self.listener);
        let limits = self.config.router.limits;
        for request in state.router.unlisten(self.listener) {
            let reject = Reject::fitted(
                RejectCode::LISTENER_CLOSED,
                "the listener closed before accepting the channel",
                &limits,
            );
            state.refuse(request.stream, reject, &self.config);
        }
        if let Some(waker) = state.task_waker.take() {
            waker.wake();
        }
    }
}

/// A channel routed to a listener, to accept (with a handshake) or reject.
/// Dropped unanswered, its stream ends and the opener sees
/// [`ChannelError::Unanswered`].
#[derive(Debug)]
pub struct Request {
    stream: Stream,
    open: Open,
    config: ChannelConfig,
}

impl Request {
    /// What the opener sent: protocol, id and handshake payload.
    pub fn open(&self) -> &Open {
        &self.open
    }

    /// Accepts the channel, answering with `handshake` (empty for none).
    /// A handshake over the [`Limits`](crate::preamble::Limits) fails with
    /// [`ChannelError::Field`]; the request is used up then, and the
    /// opener sees [`ChannelError::Unanswered`].
    pub async fn accept(self, handshake: &[u8]) -> Result<Channel, ChannelError> {
        let answer = Answer::Accept {
            handshake: handshake.to_vec(),
        };
        let bytes = answer
            .encode(&self.config.router.limits)
            .map_err(ChannelError::Field)?;
        write_all(&self.stream, &bytes).await?;
        Ok(Channel::accepted(self.stream, self.open))
    }

    /// Refuses the channel with `code` (from [`RejectCode::APPLICATION`]
    /// up for an application's own reasons) and `reason` (cut to the
    /// limit), then finishes the stream.
    pub async fn reject(self, code: RejectCode, reason: &str) -> Result<(), ChannelError> {
        let reject = Reject::fitted(code, reason, &self.config.router.limits);
        let bytes = Answer::Reject(reject)
            .encode(&self.config.router.limits)
            .map_err(ChannelError::Field)?;
        write_all(&self.stream, &bytes).await?;
        poll_fn(|cx| self.stream.poll_finish(cx))
            .await
            .map_err(ChannelError::Stream)
    }
}

/// The routing task of a [`Channels`]: accepts the peer's streams, reads
/// their preambles (at most [`RouterConfig::max_pending`](crate::router::RouterConfig::max_pending)
/// at once, each within its deadline), queues channels for their
/// listeners, and writes the refusals. Spawn it on the connection's
/// runtime. Dropping it before it ends stops the routing: the streams it
/// holds end, and accepts fail with [`ChannelError::RoutingGone`].
pub struct Routing {
    shared: Arc<Mutex<State>>,
    connection: Connection,
    timer: Box<dyn Timer + Send>,
    start: std::time::Instant,
    config: ChannelConfig,
}

impl fmt::Debug for Routing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routing").finish_non_exhaustive()
    }
}

impl Routing {
    fn now(&self) -> Instant {
        let elapsed = self.timer.now().saturating_duration_since(self.start);
        Instant::from_micros(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
    }

    /// Takes new streams while there is room for their preambles (and
    /// for refusals being written).
    fn accept_streams(&self, state: &mut State, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progress = false;
        while state.ended.is_none()
            && state.router.has_room()
            && state.answers.len() < state.router.config().max_pending
        {
            match self.connection.poll_accept_stream(cx) {
                Poll::Ready(Ok(stream)) => {
                    // `has_room` was checked; a full router drops it.
                    let _ = state.router.incoming(now, stream);
                    progress = true;
                }
                Poll::Ready(Err(error)) => {
                    state.end(ChannelError::Stream(error));
                    progress = true;
                }
                Poll::Pending => break,
            }
        }
        progress
    }

    /// Reads what `pending`'s preamble still needs; true if anything
    /// happened.
    fn read_preamble(&self, state: &mut State, cx: &mut Context<'_>, pending: PendingId) -> bool {
        let mut buf = [0; 1024];
        let mut progress = false;
        loop {
            let (Some(need), Some(stream)) =
                (state.router.needed(pending), state.router.stream(pending))
            else {
                return progress;
            };
            let want = need.min(buf.len());
            let n = match stream.poll_read(cx, &mut buf[..want]) {
                Poll::Pending => return progress,
                Poll::Ready(Ok(0)) => {
                    let routed = state.router.end(pending);
                    self.deliver(state, routed, &[]);
                    return true;
                }
                Poll::Ready(Ok(n)) => n,
                // Failed before its preamble: dropped.
                Poll::Ready(Err(_)) => {
                    state.router.remove(pending);
                    return true;
                }
            };
            progress = true;
            let mut input = &buf[..n];
            let routed = state.router.input(pending, &mut input);
            self.deliver(state, routed, input);
        }
    }

    /// Hands a stream whose preamble is done to where the router sent it;
    /// `rest` is what was read from it after the router's part.
    fn deliver(&self, state: &mut State, routed: Option<Routed<Stream>>, rest: &[u8]) {
        match routed {
            None => {}
            Some(Routed::Queued(listener)) => {
                wake(state.listener_wakers.remove(&listener).unwrap_or_default());
            }
            Some(Routed::Refused { stream, reject, .. }) => {
                state.refuse(stream, reject, &self.config);
            }
            Some(Routed::NotAChannel { stream, mut prefix }) => {
                if state.plain.len() < self.config.plain_backlog {
                    prefix.extend_from_slice(rest);
                    state.plain.push_back(PlainStream { prefix, stream });
                    wake(core::mem::take(&mut state.plain_wakers));
                } else {
                    stream.reset(0);
                }
            }
        }
    }
}

impl Drop for Routing {
    /// Cancelled before the connection ended (or after): the streams it
    /// held are dropped, and waiting accepts fail with
    /// [`ChannelError::RoutingGone`] instead of waiting for ever.
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.routing_gone = true;
        let pending: Vec<PendingId> = state.router.pending().map(|(id, _)| id).collect();
        for id in pending {
            state.router.remove(id);
        }
        state.answers.clear();
        state.end(ChannelError::RoutingGone);
    }
}

impl Future for Routing {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let shared = Arc::clone(&this.shared);
        let mut state = lock(&shared);
        state.task_waker = Some(cx.waker().clone());
        loop {
            let now = this.now();
            let mut progress = this.accept_streams(&mut state, cx, now);
            let pending: Vec<PendingId> = state.router.pending().map(|(id, _)| id).collect();
            for id in pending {
                progress |= this.read_preamble(&mut state, cx, id);
            }
            while let Some((stream, reject)) = state.router.poll_expired(now) {
                state.refuse(stream, reject, &this.config);
                progress = true;
            }
            // A refusal done frees a place, and `accept_streams` may have
            // stopped for want of one without polling (so without a
            // wake-up to come): that is progress too.
            let answering = state.answers.len();
            state
                .answers
                .retain_mut(|answer| answer.poll(cx).is_pending());
            progress |= state.answers.len() < answering;
            if progress {
                continue;
            }
            let Some(deadline) = state.router.poll_timeout() else {
                break;
            };
            let deadline = this.start + std::time::Duration::from_micros(deadline.as_micros());
            if this.timer.poll_sleep_until(cx, deadline).is_pending() {
                break;
            }
        }
        let idle = state.answers.is_empty() && state.router.pending().next().is_none();
        match state.ended.is_some() && idle {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    }
}

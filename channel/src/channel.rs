//! One channel over a muxplex-async stream: the opener's side waits for
//! the answer, buffering early writes; both sides then carry plain data.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::string::String;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker, ready};
use std::vec::Vec;

use muxplex::ResetBy;
use muxplex_async::{Connection, Error, Stream};

use crate::preamble::{Answer, AnswerDecoder, DecodeError, FieldError, Limits, Open, Reject};
use crate::router::{DEFAULT_BACKLOG, RouterConfig};

/// How channels are opened and accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelConfig {
    /// The routing table's bounds (also the [`Limits`] both ways, and the
    /// preamble deadline).
    pub router: RouterConfig,
    /// Each listener's backlog of channels not yet accepted (default
    /// [`DEFAULT_BACKLOG`]); more are refused with
    /// [`RejectCode::BACKLOG_FULL`](crate::preamble::RejectCode::BACKLOG_FULL).
    pub backlog: usize,
    /// How many bytes an opener's channel buffers while the answer has not
    /// come (default 64 KiB); writes beyond wait for the answer.
    pub max_early: usize,
    /// How many plain (non-channel) streams the peer opened wait for
    /// [`Channels::accept_plain`](crate::Channels::accept_plain) (default
    /// 16); more are reset. 0 resets every plain stream.
    pub plain_backlog: usize,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            router: RouterConfig::default(),
            backlog: DEFAULT_BACKLOG,
            max_early: 64 * 1024,
            plain_backlog: 16,
        }
    }
}

impl ChannelConfig {
    fn limits(&self) -> &Limits {
        &self.router.limits
    }
}

/// Why a channel operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelError {
    /// The accepting end refused the channel.
    Rejected(Reject),
    /// The accepting end's answer was not a valid answer (the stream is
    /// reset).
    Malformed(DecodeError),
    /// The stream ended before the accepting end answered (it dropped the
    /// channel unanswered, or does not speak channels).
    Unanswered,
    /// A preamble to send breaks the [`Limits`].
    Field(FieldError),
    /// The stream or the connection failed (including a reset, which is
    /// how a channel is destroyed), as muxplex-async reports it.
    Stream(Error),
    /// The [`Routing`](crate::Routing) task was dropped (cancelled, or its
    /// runtime shut down) while the connection could still accept
    /// streams: no channel is routed any more.
    RoutingGone,
}

impl ChannelError {
    /// The [`io::ErrorKind`] this error is reported as through I/O traits.
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            ChannelError::Rejected(_) => io::ErrorKind::ConnectionRefused,
            ChannelError::Malformed(_) => io::ErrorKind::InvalidData,
            ChannelError::Unanswered => io::ErrorKind::UnexpectedEof,
            ChannelError::Field(_) => io::ErrorKind::InvalidInput,
            ChannelError::Stream(error) => error.io_kind(),
            ChannelError::RoutingGone => io::ErrorKind::ConnectionAborted,
        }
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::Rejected(reject) => write!(f, "channel rejected: {reject}"),
            ChannelError::Malformed(error) => write!(f, "malformed channel answer: {error}"),
            ChannelError::Unanswered => f.write_str("the stream ended before the channel's answer"),
            ChannelError::Field(error) => write!(f, "cannot open the channel: {error}"),
            ChannelError::Stream(error) => write!(f, "channel stream failed: {error}"),
            ChannelError::RoutingGone => f.write_str("the channels' routing task is gone"),
        }
    }
}

impl std::error::Error for ChannelError {}

impl From<ChannelError> for io::Error {
    fn from(error: ChannelError) -> Self {
        io::Error::new(error.io_kind(), error)
    }
}

/// Where a channel is in its life, as far as this end has seen.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelState {
    /// Opened by this end; the accepting end has not answered yet.
    Opening,
    /// Accepted ("remote-open"): data flows (early writes may still be on
    /// their way into the stream).
    Open,
    /// The peer finished its direction (a read returned the end): it sends
    /// no more ("channel-close"); this end may still write.
    RemoteClosed,
    /// Over: rejected, destroyed by either end ("channel-destroy"), or
    /// failed; the error says which.
    Closed(ChannelError),
}

enum Phase {
    /// The open message is sent; the answer is arriving.
    Awaiting(AnswerDecoder),
    /// Accepted; the early writes go into the stream before any other.
    Flushing,
    Open,
    Failed(ChannelError),
}

/// Which half of the channel's users waits: a split channel (such as
/// `tokio::io::split`) has a reading task and a writing task.
#[derive(Clone, Copy)]
enum Side {
    Read = 0,
    Write = 1,
}

/// The tasks waiting for the answer or the early bytes' flush. Both sides
/// drive them through the one stream, which keeps one waker per direction
/// (a writer waiting for the answer reads the stream too), so the stream
/// is given this waker, which wakes both.
#[derive(Default)]
struct Waiting(Mutex<[Option<Waker>; 2]>);

impl Waiting {
    fn slots(&self) -> std::sync::MutexGuard<'_, [Option<Waker>; 2]> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, side: Side, waker: &Waker) {
        let mut slots = self.slots();
        let slot = &mut slots[side as usize];
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Wakes the waiting tasks but `except` (the one running).
    fn wake_others(&self, except: &Waker) {
        let slots = core::mem::take(&mut *self.slots());
        for waker in slots.into_iter().flatten() {
            if !waker.will_wake(except) {
                waker.wake();
            }
        }
    }
}

impl Wake for Waiting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let slots = core::mem::take(&mut *self.slots());
        slots.into_iter().flatten().for_each(Waker::wake);
    }
}

/// A channel: a muxplex stream that began with a preamble.
///
/// It implements [`futures_io::AsyncRead`] and [`futures_io::AsyncWrite`]
/// (and tokio's traits with the `tokio` feature). On the opener's side,
/// writes made before the accepting end answered are buffered (up to
/// [`ChannelConfig::max_early`]) and go out in order, before anything
/// written later, once the channel is accepted; reads wait for the answer.
/// Any read, write, flush or [`remote_open`](Self::remote_open) moves the
/// channel on, so a writer flushes (as `AsyncWrite` users do) to see its
/// early writes out. Dropped before that, a channel puts its early writes
/// into the stream, right after the open message, as far as the stream
/// takes them at once (all of them unless `max_early` is over the
/// stream's window): the acceptor reads them once it accepts.
///
/// A channel may be split (`tokio::io::split`, futures' `split`) into a
/// reading task and a writing task; either moves it on for both.
///
/// Dropping a channel finishes its stream, as dropping a muxplex stream
/// does; [`destroy`](Self::destroy) resets it.
pub struct Channel {
    stream: Stream,
    phase: Phase,
    /// Early writes, from `early_sent` on not yet in the stream; filled
    /// only while the answer is awaited, so never over `max_early`.
    early: Vec<u8>,
    early_sent: usize,
    max_early: usize,
    /// Who waits for the channel to open (see [`Waiting`]).
    waiting: Arc<Waiting>,
    remote_handshake: Vec<u8>,
    remote_closed: bool,
    protocol: String,
    id: Vec<u8>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("stream", &self.stream.id())
            .field("protocol", &self.protocol)
            .field("id", &self.id)
            .field("state", &self.state())
            .finish()
    }
}

/// Opens a channel for `protocol` and `id` on `connection` at once, with
/// the default [`ChannelConfig`]: the open message (with `handshake`) is
/// the stream's first bytes; the answer is read later (see [`Channel`]).
pub async fn connect(
    connection: &Connection,
    protocol: &str,
    id: &[u8],
    handshake: &[u8],
) -> Result<Channel, ChannelError> {
    let open = Open::new(protocol, id, handshake);
    connect_with(connection, open, &ChannelConfig::default()).await
}

/// [`connect`] with an [`Open`] message and a configuration of its own.
pub async fn connect_with(
    connection: &Connection,
    open: Open,
    config: &ChannelConfig,
) -> Result<Channel, ChannelError> {
    let wire = open.encode(config.limits()).map_err(ChannelError::Field)?;
    let stream = connection
        .open_stream()
        .await
        .map_err(ChannelError::Stream)?;
    write_all(&stream, &wire).await?;
    Ok(Channel {
        stream,
        phase: Phase::Awaiting(AnswerDecoder::new(*config.limits())),
        early: Vec::new(),
        early_sent: 0,
        max_early: config.max_early,
        waiting: Arc::default(),
        remote_handshake: Vec::new(),
        remote_closed: false,
        protocol: open.protocol,
        id: open.id,
    })
}

/// Writes all of `bytes` into the stream.
pub(crate) async fn write_all(stream: &Stream, mut bytes: &[u8]) -> Result<(), ChannelError> {
    while !bytes.is_empty() {
        let n = poll_fn(|cx| stream.poll_write(cx, bytes))
            .await
            .map_err(ChannelError::Stream)?;
        bytes = &bytes[n..];
    }
    Ok(())
}

impl Channel {
    /// The accepting end's channel, open from the start; `open` is what
    /// the opener sent.
    pub(crate) fn accepted(stream: Stream, open: Open) -> Self {
        Channel {
            stream,
            phase: Phase::Open,
            early: Vec::new(),
            early_sent: 0,
            max_early: 0,
            waiting: Arc::default(),
            remote_handshake: open.handshake,
            remote_closed: false,
            protocol: open.protocol,
            id: open.id,
        }
    }

    /// The channel's protocol name.
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// The channel's id bytes.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The underlying stream, to look at (its id, its state). Reading or
    /// writing it directly bypasses the channel: before
    /// [`remote_open`](Self::remote_open) has returned, that would take
    /// the answer's bytes or jump ahead of the early writes.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// The other end's handshake payload: the listener's (from its accept)
    /// on the opener's side, the opener's on the accepting side; empty
    /// before the answer and when none was sent.
    pub fn remote_handshake(&self) -> &[u8] {
        &self.remote_handshake
    }

    /// Whether the channel is accepted and not over ("is connected").
    pub fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::Flushing)
    }

    /// What this end has seen of the channel's life (see
    /// [`ChannelState`]).
    pub fn state(&self) -> ChannelState {
        match &self.phase {
            Phase::Awaiting(_) => ChannelState::Opening,
            Phase::Failed(error) => ChannelState::Closed(error.clone()),
            Phase::Flushing | Phase::Open if self.remote_closed => ChannelState::RemoteClosed,
            Phase::Flushing | Phase::Open => ChannelState::Open,
        }
    }

    /// Waits until the accepting end accepted the channel and the early
    /// writes are in the stream ("remote-open"); returns the listener's
    /// handshake payload. Fails with [`ChannelError::Rejected`] and the
    /// reason if it refused. Ready at once on the accepting side. It has
    /// no deadline of its own (an acceptor may take its time, as it may
    /// with any read): wrap it in the runtime's timeout to bound the wait.
    pub async fn remote_open(&mut self) -> Result<&[u8], ChannelError> {
        poll_fn(|cx| self.poll_progress(cx, Side::Write)).await?;
        Ok(&self.remote_handshake)
    }

    /// Destroys the channel: resets its stream with `code` (buffered data
    /// either way is dropped). The peer's reads and writes fail with a
    /// reset by the peer ([`ChannelError::Stream`]).
    pub fn destroy(&mut self, code: u32) {
        let delivery = self.stream.delivery();
        self.stream.reset(code);
        self.early = Vec::new();
        self.early_sent = 0;
        self.phase = Phase::Failed(ChannelError::Stream(Error::Reset {
            by: ResetBy::Application { code },
            delivery,
        }));
    }

    fn fail(&mut self, error: ChannelError) -> Poll<Result<(), ChannelError>> {
        self.phase = Phase::Failed(error.clone());
        Poll::Ready(Err(error))
    }

    /// Moves the channel on until it is open, for `side`'s task.
    fn poll_progress(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
    ) -> Poll<Result<(), ChannelError>> {
        match &self.phase {
            Phase::Open => return Poll::Ready(Ok(())),
            Phase::Failed(error) => return Poll::Ready(Err(error.clone())),
            Phase::Awaiting(_) | Phase::Flushing => {}
        }
        self.waiting.register(side, cx.waker());
        let both = Waker::from(Arc::clone(&self.waiting));
        let result = self.advance(&mut Context::from_waker(&both));
        if result.is_ready() {
            // Open or over: the other side may be waiting on the old phase.
            self.waiting.wake_others(cx.waker());
        }
        result
    }

    /// Reads the answer, then writes the early bytes into the stream.
    fn advance(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ChannelError>> {
        loop {
            match &mut self.phase {
                Phase::Open => return Poll::Ready(Ok(())),
                Phase::Failed(error) => return Poll::Ready(Err(error.clone())),
                Phase::Awaiting(decoder) => {
                    // No more than the answer needs: what follows it is
                    // channel data, left in the stream for `poll_read`.
                    let mut buf = [0; 1024];
                    let want = decoder.needed().min(buf.len());
                    let n = match ready!(self.stream.poll_read(cx, &mut buf[..want])) {
                        Ok(0) => return self.fail(ChannelError::Unanswered),
                        Ok(n) => n,
                        Err(error) => return self.fail(ChannelError::Stream(error)),
                    };
                    match decoder.decode(&mut &buf[..n]) {
                        Ok(None) => {}
                        Ok(Some(Answer::Accept { handshake })) => {
                            self.remote_handshake = handshake;
                            self.phase = Phase::Flushing;
                        }
                        Ok(Some(Answer::Reject(reject))) => {
                            self.early = Vec::new();
                            return self.fail(ChannelError::Rejected(reject));
                        }
                        Err(error) => {
                            self.stream.reset(0);
                            return self.fail(ChannelError::Malformed(error));
                        }
                    }
                }
                Phase::Flushing => {
                    while self.early_sent < self.early.len() {
                        let rest = &self.early[self.early_sent..];
                        match ready!(self.stream.poll_write(cx, rest)) {
                            Ok(n) => self.early_sent += n,
                            Err(error) => return self.fail(ChannelError::Stream(error)),
                        }
                    }
                    self.early = Vec::new();
                    self.early_sent = 0;
                    self.phase = Phase::Open;
                }
            }
        }
    }

    /// Reads channel data into `buf`; `Ready(Ok(0))` for a non-empty `buf`
    /// is the end (the peer finished). Waits for the answer first, not for
    /// the early writes (it moves their flush on).
    pub fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, ChannelError>> {
        match self.poll_progress(cx, Side::Read) {
            Poll::Ready(result) => result?,
            // The flush may need the peer to read, and the peer's writes
            // may need this read: waiting here could deadlock both.
            Poll::Pending if matches!(self.phase, Phase::Flushing) => {}
            Poll::Pending => return Poll::Pending,
        }
        match ready!(self.stream.poll_read(cx, buf)) {
            Ok(0) if !buf.is_empty() => {
                self.remote_closed = true;
                Poll::Ready(Ok(0))
            }
            Ok(n) => Poll::Ready(Ok(n)),
            Err(error) => {
                let error = ChannelError::Stream(error);
                self.phase = Phase::Failed(error.clone());
                Poll::Ready(Err(error))
            }
        }
    }

    /// Writes channel data; before the answer, buffers it (see
    /// [`Channel`]), waiting while the buffer is full.
    pub fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<Result<usize, ChannelError>> {
        match self.poll_progress(cx, Side::Write) {
            Poll::Ready(Ok(())) => self
                .stream
                .poll_write(cx, data)
                .map_err(ChannelError::Stream),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            // Flushing waits for the stream's window, which `data` would
            // need too; buffering it meanwhile would grow `early` without
            // bound while a slow peer keeps the flush from ending.
            Poll::Pending if matches!(self.phase, Phase::Flushing) => Poll::Pending,
            Poll::Pending => {
                // Awaiting the answer: behind the early bytes.
                let room = self.max_early - self.early.len();
                if room == 0 {
                    // `poll_progress` waits on the stream and wakes us.
                    return Poll::Pending;
                }
                let taken = room.min(data.len());
                self.early.extend_from_slice(&data[..taken]);
                Poll::Ready(Ok(taken))
            }
        }
    }

    /// Waits for the answer and the early writes (the stream itself needs
    /// no flushing: written bytes are the session's).
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ChannelError>> {
        ready!(self.poll_progress(cx, Side::Write))?;
        self.stream.poll_flush(cx).map_err(ChannelError::Stream)
    }

    /// Finishes this end's direction ("close"), after the early writes;
    /// the peer reads the end of the channel.
    pub fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ChannelError>> {
        ready!(self.poll_progress(cx, Side::Write))?;
        self.stream.poll_finish(cx).map_err(ChannelError::Stream)
    }
}

impl Drop for Channel {
    /// The early writes not yet in the stream go in without waiting (the
    /// wire format lets channel data follow the open message at once);
    /// then the stream drops, which finishes it.
    fn drop(&mut self) {
        if !matches!(self.phase, Phase::Awaiting(_) | Phase::Flushing) {
            return;
        }
        let mut cx = Context::from_waker(Waker::noop());
        while self.early_sent < self.early.len() {
            match self
                .stream
                .poll_write(&mut cx, &self.early[self.early_sent..])
            {
                Poll::Ready(Ok(n)) if n > 0 => self.early_sent += n,
                _ => break,
            }
        }
    }
}

impl futures_io::AsyncRead for Channel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Channel::poll_read(self.get_mut(), cx, buf).map_err(io::Error::from)
    }
}

impl futures_io::AsyncWrite for Channel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Channel::poll_write(self.get_mut(), cx, buf).map_err(io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Channel::poll_flush(self.get_mut(), cx).map_err(io::Error::from)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Channel::poll_close(self.get_mut(), cx).map_err(io::Error::from)
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use std::task::Waker;

    use muxplex_tokio::{Config, Connection as TokioConnection, Role};

    use super::*;

    /// The early bytes may take long to flush (the peer reads slowly);
    /// writes meanwhile wait instead of piling up behind them, so the
    /// early buffer never holds more than `max_early`.
    #[::tokio::test(start_paused = true)]
    async fn the_early_buffer_stays_bounded_while_it_flushes() {
        let (a, b) = ::tokio::io::duplex(1 << 20);
        let client = TokioConnection::spawn(a, Role::Client, Config::default());
        let server = TokioConnection::spawn(b, Role::Server, Config::default());
        let table = crate::tokio::channels(&server, ChannelConfig::default());
        let listener = table.listen("p", None).unwrap();
        // More than a stream's send window: the flush waits for reads,
        // and the accepting side never reads.
        let config = ChannelConfig {
            max_early: 1 << 20,
            ..ChannelConfig::default()
        };
        let open = Open::new("p", b"", b"");
        let mut channel = connect_with(client.as_async(), open, &config)
            .await
            .unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        let chunk = std::vec![7; 64 * 1024];
        let mut buffered = 0;
        while buffered < config.max_early {
            match channel.poll_write(&mut cx, &chunk) {
                Poll::Ready(Ok(n)) => buffered += n,
                other => panic!("{other:?}"),
            }
        }
        let _accepted = listener.accept().await.unwrap().accept(b"").await;
        for _ in 0..100 {
            let _ = channel.poll_write(&mut cx, &chunk);
            assert!(channel.early.len() <= config.max_early);
            ::tokio::task::yield_now().await;
        }
        assert!(matches!(channel.phase, Phase::Flushing));
    }
}

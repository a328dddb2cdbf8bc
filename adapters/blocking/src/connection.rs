//! The connection: owns the session (shared with the I/O threads) and
//! opens and accepts streams.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use muxplex::{CloseReason, Config, Instant, OpenError, PingError, Role, Session, SessionStats};

use crate::driver::{self, Source};
use crate::shared::Shared;
use crate::stream::Stream;

/// One end of a yamux session over a blocking transport.
///
/// Two background threads drive it: a reader that feeds the transport's
/// bytes to the session (on TCP, only while no thread blocked on a stream
/// reads the socket itself), and a writer that runs its timers (keepalive,
/// graceful close, stream timeouts) and sends the frames that input,
/// timers and new streams produce. A thread that writes to a stream (or
/// reads, finishes, resets or drops one) sends the resulting frames to the
/// transport itself, as with a `TcpStream`, unless another thread is
/// sending already: that one then takes them along in its next write, so
/// frames from many threads share system calls. Every method takes `&self`, and cloning is cheap (the clones
/// share the session), so several threads may open and accept streams at
/// once.
///
/// # Ending
///
/// - [`close`](Self::close) is graceful and waits for the end.
/// - [`abort`](Self::abort) ends at once and does not wait.
/// - Dropping the last clone starts a graceful close without waiting:
///   [`Stream`]s still held keep working until they finish (bounded by
///   [`Config::close_timeout`]), and no new stream is opened or accepted.
/// - When the transport ends, the session ends with
///   [`CloseReason::TransportClosed`]; when it fails, with
///   [`CloseReason::TransportFailed`], and calls fail with the transport's
///   own error (see [`TransportError`](crate::TransportError)). Either
///   way every blocked call returns an error at once.
///
/// Once the session has ended and its last frames are written, the writer
/// thread closes our direction of the transport (for TCP, a shutdown for
/// writing; otherwise by dropping the writer). The reader thread stops at
/// the transport's end of file or error, which a yamux peer causes by
/// closing its side when it sees ours close.
#[derive(Clone)]
pub struct Connection {
    handle: Arc<Handle>,
}

/// Shared by a connection's clones; its drop is the last clone's.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        let now = self.shared.now();
        state.session.close(now);
        drop(self.shared.after_command(state));
    }
}

/// The write half of a TCP connection, which closes the socket for
/// writing when dropped: the writer thread drops it once the session has
/// ended, so the peer sees end of file after our last frame. Dropping one
/// handle of a cloned socket would not close it.
///
/// A write that fails (the socket's write timeout, `Config::write_timeout`,
/// among other causes) shuts the socket down both ways: the reader thread,
/// which holds the other handle, then sees end of file and lets its handle
/// go, so a peer that stopped reading cannot keep the socket open.
///
/// Dropped, it lingers: it reads and discards until the peer's EOF, for at
/// most `linger` (the write timeout), before shutting the socket down both
/// ways. A socket closed with unread input answers with a reset, and the
/// kernel discards what it had not yet sent of our last frames; and without
/// a bound, a peer that never closes would keep the reader thread's handle,
/// and so the socket, for good.
struct TcpWriter {
    tcp: TcpStream,
    linger: Option<Duration>,
}

impl TcpWriter {
    fn give_up_on_error<T>(&self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result
            && e.kind() != io::ErrorKind::Interrupted
        {
            let _ = self.tcp.shutdown(Shutdown::Both);
        }
        result
    }
}

impl Write for TcpWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.tcp.write(buf);
        self.give_up_on_error(written)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let written = self.tcp.write_vectored(bufs);
        self.give_up_on_error(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

impl Drop for TcpWriter {
    fn drop(&mut self) {
        // The peer may have closed the socket already; nothing to do then.
        if self.tcp.shutdown(Shutdown::Write).is_ok()
            && let Some(linger) = self.linger
        {
            let deadline = std::time::Instant::now() + linger;
            let mut discard = [0u8; 4096];
            while let Some(left) = deadline.checked_duration_since(std::time::Instant::now())
                && !left.is_zero()
                && self.tcp.set_read_timeout(Some(left)).is_ok()
                && self.tcp.read(&mut discard).is_ok_and(|n| n > 0)
            {}
        }
        let _ = self.tcp.shutdown(Shutdown::Both);
    }
}

impl Connection {
    /// The end of a TCP connection that dialed it (opens odd stream ids).
    ///
    /// The socket must be in blocking mode without a read timeout (one set
    /// is rejected with `InvalidInput`: a read that fails, timed out or
    /// not, would end the session). Its write timeout is
    /// set to [`Config::write_timeout`]: a peer that takes none of our
    /// output for that long loses the connection, and the socket is closed.
    /// `TCP_NODELAY` is set: frames waiting together already leave in one
    /// write, and Nagle's algorithm would only hold a small frame (a FIN
    /// after the data, a response after the ACK) until the peer's delayed
    /// ACK, 40 ms and more per request. Other options stay as given.
    pub fn client(tcp: TcpStream, config: Config) -> io::Result<Self> {
        Self::tcp(Role::Client, tcp, config)
    }

    /// The end of a TCP connection that accepted it (opens even stream
    /// ids). See [`client`](Self::client).
    pub fn server(tcp: TcpStream, config: Config) -> io::Result<Self> {
        Self::tcp(Role::Server, tcp, config)
    }

    fn tcp(role: Role, tcp: TcpStream, config: Config) -> io::Result<Self> {
        if tcp.read_timeout()?.is_some() {
            // The reader thread would take the first idle spell past it
            // for a failed transport, and end the session.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "muxplex-blocking needs a socket without a read timeout \
                 (keepalive and Config's timeouts bound idle connections)",
            ));
        }
        tcp.set_write_timeout(config.write_timeout)?;
        tcp.set_nodelay(true)?;
        let reader = tcp.try_clone()?;
        let linger = config.write_timeout;
        Self::start(role, Source::Tcp(reader), TcpWriter { tcp, linger }, config)
    }

    /// A connection over any transport split into a read half and a write
    /// half (two ends of a pipe, the halves of a TLS stream, ...).
    ///
    /// The reader is read on its own thread, never waiting for the writer
    /// (a reader that is not a `TcpStream` cannot be interrupted, so no
    /// application thread reads it: each read's input reaches the stream's
    /// waiter through the reader thread).
    /// The writer is written by the writer thread and by application
    /// threads (one at a time, behind a mutex); it gets vectored writes, so
    /// implement `write_vectored` if the transport can (a writer that only
    /// ever takes the first buffer gets frames copied into plain writes
    /// instead). It is dropped once the session has ended and its last frames
    /// are written, so its `Drop` should close our direction of the
    /// transport. The reader thread runs until the reader returns end of
    /// file or an error.
    pub fn new<R, W>(role: Role, reader: R, writer: W, config: Config) -> io::Result<Self>
    where
        R: Read + Send + 'static,
        W: Write + Send + 'static,
    {
        Self::start(role, Source::Other(Box::new(reader)), writer, config)
    }

    fn start<W>(role: Role, reader: Source, writer: W, config: Config) -> io::Result<Self>
    where
        W: Write + Send + 'static,
    {
        // The session's clock starts at 0 with the connection (see
        // `Shared::new`); an invalid configuration is `InvalidInput`.
        let session = Session::new(role, config, Instant::ZERO)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let shared = Arc::new(Shared::new(session, reader, Box::new(writer)));
        driver::spawn(&shared)?;
        Ok(Connection {
            handle: Arc::new(Handle { shared }),
        })
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Opens a stream. The peer learns of it with the stream's first frame,
    /// which leaves at once; nothing waits for the peer's answer.
    ///
    /// Blocks while [`Config::max_unacked_outbound`] streams await the
    /// peer's acknowledgement. Fails with `ConnectionAborted` once the
    /// session is closing or has ended, and `ConnectionRefused` after the
    /// peer's GoAway; the inner error is the [`OpenError`].
    pub fn open_stream(&self) -> io::Result<Stream> {
        let shared = self.shared();
        let mut state = shared.lock();
        loop {
            let now = shared.now();
            match state.session.open_stream(now) {
                Ok(id) => {
                    let stream = Stream::register(shared, &mut state, id);
                    drop(shared.after_open(state));
                    return Ok(stream);
                }
                Err(OpenError::Blocked) => {
                    state = shared.wait_counted(&shared.open_cv, state, |s| &mut s.opening);
                }
                Err(e) => return Err(shared.open_error(e)),
            }
        }
    }

    /// Takes the next stream the peer opened, blocking until one comes.
    /// Accepting acknowledges it, so the peer learns its stream reached
    /// the application.
    ///
    /// Fails with `ConnectionAborted` once the session is closing or has
    /// ended (inner error: [`OpenError::Closing`] or
    /// [`OpenError::SessionClosed`]), so an accept loop ends with the
    /// connection.
    pub fn accept_stream(&self) -> io::Result<Stream> {
        let shared = self.shared();
        let mut state = shared.lock();
        loop {
            if let Some(id) = state.session.accept_stream() {
                let stream = Stream::register(shared, &mut state, id);
                drop(shared.after_open(state));
                return Ok(stream);
            }
            if state.session.accepts_ended() {
                // No stream will ever come; say why.
                let error = match state.session.close_reason() {
                    Some(reason) => OpenError::SessionClosed(reason),
                    None if state.session.is_closing() => OpenError::Closing,
                    None => OpenError::IdsExhausted,
                };
                return Err(shared.open_error(error));
            }
            state = shared.wait_counted(&shared.accept_cv, state, |s| &mut s.accepting);
        }
    }

    /// Closes the session gracefully and waits until it has ended: no new
    /// streams either way, the open ones may finish (until
    /// [`Config::close_timeout`], after which they are reset), then
    /// GoAway(0) is written and our direction of the transport closed.
    ///
    /// Returns why the session ended: [`CloseReason::LocalClose`], or
    /// [`CloseReason::LocalCloseTimedOut`] if streams had to be reset, or
    /// whatever ended it first. Streams this thread holds open keep the
    /// close waiting, so finish them first (or close from another thread).
    /// The last frames must be written, so a peer that stops reading holds
    /// the close as long as the transport's write blocks; a write timeout
    /// on the socket bounds that (a failed write ends the session).
    pub fn close(&self) -> CloseReason {
        self.close_with(|session, now| session.close(now))
    }

    /// A bounded [`close`](Self::close): open streams may finish within
    /// `timeout` (instead of [`Config::close_timeout`]); what is left then
    /// is reset, GoAway(0) is written, and this waits for the end as
    /// `close` does. Returns [`CloseReason::LocalCloseTimedOut`] if streams
    /// had to be reset. On a connection already closing it can only bring
    /// the deadline forward.
    pub fn close_within(&self, timeout: Duration) -> CloseReason {
        self.close_with(|session, now| session.close_within(now, timeout))
    }

    /// Waits until the session has ended, however it ends, and its last
    /// frames are written; returns why. It does not end it itself.
    pub fn closed(&self) -> CloseReason {
        let shared = self.shared();
        let mut state = shared.lock();
        while !state.writer_done {
            state = shared.wait_counted(&shared.written_cv, state, |s| &mut s.flushing);
        }
        state
            .session
            .close_reason()
            .expect("the writer thread stops only once the session has ended")
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.shared().lock().session.is_closed()
    }

    /// Measures the round-trip time: sends a ping and blocks until its
    /// answer. Each answer also updates the smoothed estimate,
    /// [`rtt`](Self::rtt).
    ///
    /// Fails with the [`PingError`] inside: `Other` when
    /// [`Config::max_outstanding_pings`] pings (this end's keepalive pings
    /// included) already await their answer, `ConnectionAborted` once the
    /// session has ended, including while the ping waits: a connection
    /// that ends never leaves it blocked. Several threads may ping at once;
    /// answers are matched to pings in the order the pings were sent, as
    /// peers answer them.
    pub fn ping(&self) -> io::Result<Duration> {
        let shared = self.shared();
        let mut state = shared.lock();
        let now = shared.now();
        state.session.ping(now).map_err(|e| shared.ping_error(e))?;
        let number = state.pings_sent;
        state.pings_sent += 1;
        state = shared.after_command(state);
        loop {
            if let Some(at) = state.answers.iter().position(|&(n, _)| n == number) {
                return Ok(state.answers.swap_remove(at).1);
            }
            if let Some(reason) = state.session.close_reason() {
                return Err(shared.ping_error(PingError::SessionClosed(reason)));
            }
            state = shared.wait_counted(&shared.ping_cv, state, |s| &mut s.pinging);
        }
    }

    /// The smoothed round-trip time, once a ping of this end (keepalive,
    /// the session's own window sizing, or [`ping`](Self::ping)) was
    /// answered.
    pub fn rtt(&self) -> Option<Duration> {
        self.shared().lock().session.rtt()
    }

    /// The session's counters ([`muxplex::Session::stats`]): frames and
    /// bytes each way, streams refused and reset (by whom and why), round
    /// trips, writes that waited for room, bytes buffered, GoAways.
    pub fn stats(&self) -> SessionStats {
        self.shared().lock().session.stats()
    }

    /// Which end of the transport this is.
    pub fn role(&self) -> Role {
        self.shared().lock().session.role()
    }

    /// Whether the peer has sent GoAway(0): it takes no new streams;
    /// existing ones go on.
    pub fn is_peer_going_away(&self) -> bool {
        self.shared().lock().session.is_peer_going_away()
    }

    fn close_with(&self, close: impl FnOnce(&mut Session, Instant)) -> CloseReason {
        let shared = self.shared();
        let mut state = shared.lock();
        let now = shared.now();
        close(&mut state.session, now);
        state = shared.after_command(state);
        // Blocked openers and acceptors fail now rather than at the end.
        shared.open_cv.notify_all();
        shared.accept_cv.notify_all();
        drop(state);
        self.closed()
    }

    /// Ends the session at once with GoAway(`code`) and returns without
    /// waiting; every stream's reads and writes fail from now on (data
    /// already received stays readable).
    pub fn abort(&self, code: u32) {
        let shared = self.shared();
        let mut state = shared.lock();
        let now = shared.now();
        state.session.abort(now, code);
        drop(shared.after_command(state));
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared().lock().session.close_reason()
    }

    /// How many streams the session holds state for, including dropped
    /// streams waiting for the peer to finish (see [`Stream`]).
    pub fn stream_count(&self) -> usize {
        self.shared().lock().session.stream_count()
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared().lock();
        f.debug_struct("Connection")
            .field("role", &state.session.role())
            .field("streams", &state.session.stream_count())
            .field("close_reason", &state.session.close_reason())
            .finish()
    }
}

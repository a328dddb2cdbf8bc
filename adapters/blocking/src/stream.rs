//! A stream as `std::io::Read` and `std::io::Write`.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Condvar};

use muxplex::{Delivery, ResetBy, StreamError, StreamId, StreamStats, StreamStatus};

use crate::driver::{self, Outcome};
use crate::shared::{Entry, Shared, State};

/// One bidirectional byte stream of a [`Connection`](crate::Connection).
///
/// Reads block until data, the peer's finish (`Ok(0)`) or an error; writes
/// block while the peer's window is full and take as much as it allows
/// (use `write_all`). `&Stream` implements `Read` and `Write` too, as
/// `&TcpStream` does, so one thread may read while another writes; a
/// stream is `Send + Sync` (share it by reference or in an `Arc`).
/// `flush` waits until everything written so far has been handed to the
/// transport (not until the peer has read it).
///
/// Once the session has ended or the transport is lost, every read (after
/// the data already received) and every write fails at once. Errors carry
/// the core's [`StreamError`] inside: a reset is `ConnectionReset`, the
/// session's end `ConnectionAborted`, a write after [`finish`](Self::finish)
/// `BrokenPipe`; downcast the inner error to read the reset code or the
/// [`Delivery`] that says whether a retry is safe. A session that ended
/// because the transport failed reports the transport's error instead,
/// its kind and message, inside a [`TransportError`](crate::TransportError).
///
/// # Dropping
///
/// Dropping a stream finishes it if it is still open for writing, so
/// everything written is still delivered, followed by the end of the
/// stream, as when a `TcpStream` is dropped. Whatever the peer still sends
/// is read and discarded, and the stream's state is freed when the peer
/// finishes; a peer that never does is reset after
/// [`Config::stream_close_timeout`](muxplex::Config::stream_close_timeout).
/// It is not reset on drop, because a reset throws away written data not
/// yet sent, and "write the answer, then drop" must deliver the answer.
/// Call [`reset`](Self::reset) to abandon a stream at once instead.
pub struct Stream {
    shared: Arc<Shared>,
    id: StreamId,
    /// This stream's waiters sleep here; the map entry holds a clone so
    /// events can wake them.
    cv: Arc<Condvar>,
}

impl Stream {
    /// Wraps a stream the session just opened or accepted.
    pub(crate) fn register(shared: &Arc<Shared>, state: &mut State, id: StreamId) -> Self {
        let cv = Arc::new(Condvar::new());
        let entry = Entry {
            cv: Arc::clone(&cv),
            own_reset: None,
            waiting: 0,
        };
        state.entries.insert(id, entry);
        Stream {
            shared: Arc::clone(shared),
            id,
            cv,
        }
    }

    /// The stream's id: odd if the client opened it, even if the server did.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Half-closes our direction: the peer reads the end of the stream
    /// after the data already written. Reading goes on until the peer
    /// finishes too. Finishing twice is fine.
    pub fn finish(&self) -> io::Result<()> {
        let now = self.shared.now();
        match self.run(|stream| stream.finish(now)) {
            Some(Err(StreamError::Finished)) | None => Ok(()),
            Some(result) => result.map_err(|e| self.shared.stream_error(e)),
        }
    }

    /// Resets the stream in both directions with an error `code` (0 for
    /// none), which the peer's reads and writes report. Buffered data
    /// either way is dropped. Later calls on this handle fail with
    /// `ConnectionReset`. A stream already over stays as it is, and one the
    /// peer reset first keeps reporting the peer's reset.
    pub fn reset(&self, code: u32) {
        let mut guard = self.shared.lock();
        let state = &mut *guard;
        let Ok(stream) = state.session.stream(self.id) else {
            return;
        };
        // A reset by the peer or the session stays the stream's story.
        if let StreamStatus::Reset { .. } = stream.status() {
            return;
        }
        let delivery = stream.delivery();
        stream.reset(code);
        self.entry(state).own_reset = Some(StreamError::Reset {
            by: ResetBy::Application { code },
            delivery,
        });
        // Other threads blocked on this stream must see the reset.
        self.cv.notify_all();
        self.shared.written_cv.notify_all();
        drop(self.shared.after_command(guard));
    }

    /// Sets the stream's priority: a higher one always sends first, equal
    /// ones take turns. The default is 0.
    pub fn set_priority(&self, priority: i32) {
        self.run(|stream| {
            stream.set_priority(priority);
            Ok(())
        });
    }

    /// Whether the peer's application has the stream, as far as we know
    /// (see [`Delivery`]): [`Delivery::Delivered`] once the peer
    /// acknowledged it, and always for a stream we accepted.
    pub fn delivery(&self) -> Delivery {
        let mut state = self.shared.lock();
        let state = &mut *state;
        if let Some(StreamError::Reset { delivery, .. }) = self.entry(state).own_reset {
            return delivery;
        }
        // A stream freed without a reset was finished both ways, which
        // takes the peer's application.
        state
            .session
            .stream(self.id)
            .map_or(Delivery::Delivered, |stream| stream.delivery())
    }

    /// The stream's counters ([`muxplex::Stream::stats`]): bytes each way,
    /// its windows now, what it buffers and how long its writes waited for
    /// the peer's window. All zero once the session has forgotten it.
    pub fn stats(&self) -> StreamStats {
        let mut state = self.shared.lock();
        state
            .session
            .stream(self.id)
            .map_or_else(|_| StreamStats::default(), |stream| stream.stats())
    }

    fn entry<'a>(&self, state: &'a mut State) -> &'a mut Entry {
        state
            .entries
            .get_mut(&self.id)
            .expect("a stream's entry lives as long as its handle")
    }

    /// Runs `op` on the core's handle once; `None` if the core has freed
    /// the stream (over both ways: this handle neither detaches nor
    /// releases it while it lives) or the application reset it.
    fn run<T>(
        &self,
        op: impl FnOnce(&mut muxplex::Stream<'_>) -> Result<T, StreamError>,
    ) -> Option<Result<T, StreamError>> {
        let mut state = self.shared.lock();
        let result = self.run_locked(&mut state, op);
        drop(self.shared.after_command(state));
        result
    }

    fn run_locked<T>(
        &self,
        state: &mut State,
        op: impl FnOnce(&mut muxplex::Stream<'_>) -> Result<T, StreamError>,
    ) -> Option<Result<T, StreamError>> {
        if let Some(reset) = self.entry(state).own_reset {
            return Some(Err(reset));
        }
        let mut stream = state.session.stream(self.id).ok()?;
        Some(op(&mut stream))
    }

    /// Runs `op` until it is not [`StreamError::Blocked`], in between
    /// reading the transport itself while nobody else does (see
    /// [`driver`](crate::driver)), or else sleeping until an event for this
    /// stream (or the session's end); `gone` answers for a stream the core
    /// has freed without a reset, that is, one over in both directions.
    fn blocking<T>(
        &self,
        mut op: impl FnMut(&mut muxplex::Stream<'_>) -> Result<T, StreamError>,
        gone: impl FnOnce() -> io::Result<T>,
    ) -> io::Result<T> {
        let mut state = self.shared.lock();
        // Until a read of ours times out: the wait is long, and the reader
        // thread reads for it without polling.
        let mut may_read = true;
        loop {
            match self.run_locked(&mut state, &mut op) {
                Some(Err(StreamError::Blocked))
                    if may_read && state.can_lead && !state.reading && !state.input_done =>
                {
                    state.reading = true;
                    state.free_since = None;
                    let outcome;
                    (state, outcome) = driver::read_once(&self.shared, state, true);
                    if outcome == Outcome::TimedOut {
                        may_read = false;
                    } else {
                        // The reader thread lets us read again soon.
                        state.free_since = Some(std::time::Instant::now());
                    }
                }
                Some(Err(StreamError::Blocked)) => {
                    state = self
                        .shared
                        .wait_counted(&self.cv, state, |s| &mut self.entry(s).waiting);
                }
                Some(result) => {
                    drop(self.shared.after_command(state));
                    return result.map_err(|e| self.shared.stream_error(e));
                }
                None => return gone(),
            }
        }
    }

    fn read_impl(&self, buf: &mut [u8]) -> io::Result<usize> {
        // Freed without a reset: we read the peer's end already.
        self.blocking(|stream| stream.read(buf), || Ok(0))
    }

    fn write_impl(&self, buf: &[u8]) -> io::Result<usize> {
        // Freed without a reset: our FIN went out already.
        let finished = || Err(self.shared.stream_error(StreamError::Finished));
        self.blocking(|stream| stream.write(buf), finished)
    }

    /// Waits until every byte written so far has been handed to the
    /// transport: framed by the session, and the write of those frames
    /// returned. It does not wait for the peer to read them.
    fn flush_impl(&self) -> io::Result<()> {
        let shared = &self.shared;
        let mut state = shared.lock();
        loop {
            if let Some(reset) = self.entry(&mut state).own_reset {
                return Err(self.shared.stream_error(reset));
            }
            let st = &mut *state;
            let (unsent, delivery, status) = st
                .session
                .stream(self.id)
                .map_or((0, Delivery::Delivered, StreamStatus::Closed), |s| {
                    (s.unsent(), s.delivery(), s.status())
                });
            if let StreamStatus::Reset { by, delivery } = status {
                return Err(self
                    .shared
                    .stream_error(StreamError::Reset { by, delivery }));
            }
            if let Some(reason) = st.session.close_reason() {
                // The session's end drops unsent data: no promise to keep.
                return Err(self
                    .shared
                    .stream_error(StreamError::SessionClosed { reason, delivery }));
            }
            if unsent == 0 {
                break;
            }
            state = shared.wait_counted(&shared.written_cv, state, |s| &mut s.flushing);
        }
        // Every batch taken so far may hold some of our frames.
        let target = state.batches_taken;
        while state.batches_written < target {
            if state.writer_done {
                let reason = state.session.close_reason();
                let delivery = Delivery::MaybeDelivered;
                return Err(match reason {
                    Some(reason) => self
                        .shared
                        .stream_error(StreamError::SessionClosed { reason, delivery }),
                    None => io::Error::from(io::ErrorKind::BrokenPipe),
                });
            }
            state = shared.wait_counted(&shared.written_cv, state, |s| &mut s.flushing);
        }
        Ok(())
    }
}

impl Drop for Stream {
    /// See the type's docs: finish, then discard what the peer still sends.
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.entries.remove(&self.id);
        // Finishes and drains a running stream, releases a reset one; one
        // the application reset is gone already.
        state.detach(self.id, self.shared.now());
        // A thread done with its stream is not about to read for it.
        self.shared.end_grace(&mut state);
        drop(self.shared.after_command(state));
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_impl(buf)
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_impl(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_impl(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_impl()
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_impl(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_impl()
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("id", &self.id).finish()
    }
}

//! The borrowed handle through which the application uses one stream.

use bytes::Bytes;

use super::Session;
use crate::error::{CloseReason, Delivery, ResetBy, StreamError};
use crate::pins::Pins;
use crate::stats::StreamStats;
use crate::stream::{RecvState, SendState, StreamState};
use crate::stream_id::StreamId;
use crate::time::Instant;

/// What has become of a stream, from [`Stream::status`].
///
/// The session's own end is not a stream status: see
/// [`Session::close_reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamStatus {
    /// Both directions are open.
    Open,
    /// We finished our direction ([`Stream::finish`]); the peer may still
    /// send.
    Finished,
    /// The peer finished its direction; what it sent before may still be
    /// buffered for reading, and we may still write.
    PeerFinished,
    /// Both directions are finished. The state is freed once our FIN has
    /// gone out and the application has read the end.
    Closed,
    /// The stream was reset; reads and writes fail with
    /// [`StreamError::Reset`] until the application lets it go
    /// ([`Stream::release`]).
    Reset {
        /// Who reset it, and why.
        by: ResetBy,
        /// Whether the peer's application may have the stream.
        delivery: Delivery,
    },
}

/// One stream of a [`Session`], borrowed from
/// [`Session::stream`](Session::stream).
///
/// Reads and writes never block: when nothing can be done they return
/// [`StreamError::Blocked`], and an [`Event`](crate::Event) says when to
/// try again.
///
/// # When the state goes
///
/// Dropping the handle does nothing: every change is made by a method
/// call. The stream's state is freed by the read that returns the end
/// (`Ok(0)` from [`read`](Self::read), `Ok(None)` from
/// [`read_chunk`](Self::read_chunk)) once our FIN has gone out, or by
/// [`poll_transmit`](Session::poll_transmit) when the FIN leaves after
/// the end was read; the handle then reports [`StreamStatus::Closed`] and
/// the id names nothing. A reset stream keeps its small state (no buffers)
/// and its error until the application calls [`release`](Self::release),
/// [`detach`](Self::detach) or [`reset`](Self::reset); each such stream
/// the peer opened counts against [`Config::max_streams`](crate::Config).
#[derive(Debug)]
pub struct Stream<'a> {
    session: &'a mut Session,
    id: StreamId,
    /// Set once a read through this handle freed the state (the stream
    /// was over both ways), so the handle stays usable until dropped.
    freed: bool,
}

impl<'a> Stream<'a> {
    pub(super) fn new(session: &'a mut Session, id: StreamId) -> Self {
        Stream {
            session,
            id,
            freed: false,
        }
    }

    /// The stream's id.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Buffers data to send; returns how many bytes were taken. A stream may
    /// buffer only what the peer's window allows: when that is less than
    /// `data`, the rest must be written again after
    /// [`Event::Writable`](crate::Event::Writable), and when it is nothing the call returns
    /// [`StreamError::Blocked`].
    pub fn write(&mut self, data: &[u8]) -> Result<usize, StreamError> {
        self.buffer(data.len(), |stream, taken, room| {
            stream.buffer_write(&data[..taken], room);
        })
    }

    /// Like [`write`](Self::write), taking the data whole: what fits is
    /// kept without copying (unless `data` shares its memory with other
    /// handles, or is small), so a host can copy an application's buffer
    /// where it likes, for example outside a lock, and hand it over. The
    /// part beyond the peer's window is dropped; the returned count says
    /// how much was taken. The memory `data` lies in stays allocated until
    /// what was taken is sent, so a chunk cut from a larger buffer holds
    /// all of it: hand over chunks the size of the write (the session's
    /// memory bound counts the bytes taken, not their allocation).
    pub fn write_chunk(&mut self, mut data: Bytes) -> Result<usize, StreamError> {
        self.buffer(data.len(), |stream, taken, room| {
            data.truncate(taken);
            stream.buffer_chunk(data, room);
        })
    }

    /// Buffers the part of a `len`-byte write that the stream takes now,
    /// through `put` (given the stream, the bytes taken and the room there
    /// was); returns how many bytes were taken. `Blocked` when nothing
    /// (for a non-empty write). A short answer arms
    /// `Writable`, from the peer's window or from the session's send
    /// budget, whichever cut it short.
    fn buffer(
        &mut self,
        len: usize,
        put: impl FnOnce(&mut StreamState, usize, usize),
    ) -> Result<usize, StreamError> {
        if self.freed {
            return Err(StreamError::Finished);
        }
        let now = self.session.timers.now();
        let id = self.id;
        let session = &mut *self.session;
        let closed = session.close_reason();
        let max_buffer = session.config.max_stream_window;
        let budget_room = session.send_budget_room();
        let stream = session.streams.get_mut(&id).expect(OUTLIVES);
        writable(stream, closed)?;
        let window_room = stream.write_capacity(max_buffer);
        let room = window_room.min(budget_room);
        let taken = room.min(len);
        if taken < len {
            stream.writer_blocked = true;
            let by_budget = budget_room < window_room.min(len);
            if by_budget && !stream.budget_waiting {
                stream.budget_waiting = true;
                session.budget_waiters.push_back(id);
            }
            session.stats.on_write_blocked(id, now, by_budget);
        }
        if taken == 0 && len > 0 {
            return Err(StreamError::Blocked);
        }
        put(stream, taken, room);
        session.send_total += taken;
        session.stats.on_buffered_unsent(session.send_total);
        // Writable, so the session is open.
        super::queue_frames(id, stream, &mut session.control, &mut session.scheduler);
        Ok(taken)
    }

    /// How many bytes a write would take now: what the peer's window and
    /// the session's send budget allow.
    pub fn write_capacity(&self) -> usize {
        let max_buffer = self.session.config.max_stream_window;
        match self.session.streams.get(&self.id) {
            Some(stream) if stream.send == SendState::Open && stream.reset.is_none() => stream
                .write_capacity(max_buffer)
                .min(self.session.send_budget_room()),
            _ => 0,
        }
    }

    /// Bytes written to the stream that no frame carries yet: 0 once
    /// [`poll_transmit_frame`](Session::poll_transmit_frame) (or
    /// [`poll_transmit`](Session::poll_transmit)) has taken all of them.
    /// A host that promises "handed to the transport" (a blocking `flush`)
    /// waits for this to reach 0, then for its own write of what it took.
    pub fn unsent(&self) -> usize {
        self.session
            .streams
            .get(&self.id)
            .map_or(0, |stream| stream.send_buf.len())
    }

    /// Copies received data into `buf`. `Ok(0)` means the peer finished and
    /// everything was read (for a non-empty `buf`).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, StreamError> {
        if self.freed {
            return Ok(0);
        }
        let copied = self.take_received(|stream, pins| {
            (!stream.recv_buf.is_empty()).then(|| {
                let copied = stream.read_into(buf, pins);
                (copied, copied)
            })
        })?;
        if let Some(copied) = copied {
            return Ok(copied);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        self.read_end().map(|()| 0)
    }

    /// Takes up to `max` bytes of received data without copying; `Ok(None)`
    /// means the peer finished and everything was read.
    pub fn read_chunk(&mut self, max: usize) -> Result<Option<Bytes>, StreamError> {
        if self.freed {
            return Ok(None);
        }
        let chunk = self.take_received(|stream, pins| {
            if max == 0 {
                // Nothing asked for; not the end while data is buffered.
                return (!stream.recv_buf.is_empty()).then(|| (Bytes::new(), 0));
            }
            let chunk = stream.read_chunk(max, pins)?;
            let len = chunk.len();
            Some((chunk, len))
        })?;
        match chunk {
            Some(chunk) => Ok(Some(chunk)),
            None => self.read_end().map(|()| None),
        }
    }

    /// Half-closes our direction: FIN goes out after the buffered data.
    /// Reading goes on until the peer finishes too. The
    /// [`stream close timeout`](crate::Config::stream_close_timeout) starts
    /// when the FIN leaves, counting from the latest time the host supplied
    /// by then: `now` or later.
    pub fn finish(&mut self, now: Instant) -> Result<(), StreamError> {
        if self.freed {
            return Err(StreamError::Finished);
        }
        let id = self.id;
        let session = &mut *self.session;
        session.timers.observe(now);
        let closed = session.close_reason();
        let stream = session.streams.get_mut(&id).expect(OUTLIVES);
        writable(stream, closed)?;
        stream.send = SendState::FinQueued;
        // Writable, so the session is open.
        super::queue_frames(id, stream, &mut session.control, &mut session.scheduler);
        Ok(())
    }

    /// Resets the stream in both directions with an error code (sent in the
    /// length field, as go-yamux does; use 0 for none). Its state is freed
    /// at once; buffered data in both directions is dropped. On a stream
    /// already reset (by the peer or the session) it sends nothing and
    /// only frees the state, as [`release`](Self::release) does.
    pub fn reset(self, code: u32) {
        let Some(stream) = self.session.remove_stream(self.id) else {
            return;
        };
        self.session
            .stats
            .on_application_reset(self.id, &stream, code);
        if let Some(ack) = stream.reset_needs_frame() {
            self.session.queue_reset(self.id, code, ack);
        }
    }

    /// Gives the stream up gracefully, as dropping a socket does: our
    /// direction is finished (what was written is still delivered), what
    /// the peer still sends is discarded with its credit returned at once,
    /// and the state is freed at the peer's FIN (or by
    /// [`Config::stream_close_timeout`](crate::Config) if it never comes).
    /// No more events name the stream, and [`Session::stream`] no longer
    /// finds it. Adapters call this when the application drops a handle.
    /// `now` starts the close timeout, as for [`finish`](Self::finish).
    /// A reset stream, or any stream of a session that has ended, is freed
    /// at once: there is nothing left to deliver.
    pub fn detach(self, now: Instant) {
        self.session.timers.observe(now);
        if self.freed {
            return;
        }
        let id = self.id;
        let session = &mut *self.session;
        let closed = session.is_closed();
        let state = session.streams.get_mut(&id).expect(OUTLIVES);
        if state.reset.is_some() || closed {
            session.remove_stream(id);
            return;
        }
        if state.send == SendState::Open {
            state.send = SendState::FinQueued;
        }
        state.detached = true;
        let dropped = state.recv_buf.len();
        state.recv_buf.clear(&mut session.pins);
        state.credit_to_return = state.credit_to_return.saturating_add(dropped);
        if state.recv == RecvState::FinReceived {
            state.recv = RecvState::EofDelivered;
        }
        session.buffered_total -= dropped as usize;
        super::queue_frames(id, state, &mut session.control, &mut session.scheduler);
        // Our FIN may have left already and the peer's arrived.
        if state.is_done() {
            session.remove_stream(id);
        }
    }

    /// Lets a stream that is over go: one that was reset (its error is no
    /// longer readable afterwards), or any stream of a session that has
    /// ended. Returns whether the state was freed; a stream still running
    /// is left as it is (see [`detach`](Self::detach) and
    /// [`reset`](Self::reset)).
    pub fn release(self) -> bool {
        let over = self.session.is_closed()
            || self
                .session
                .streams
                .get(&self.id)
                .is_some_and(|stream| stream.reset.is_some());
        if over {
            self.session.remove_stream(self.id);
        }
        over
    }

    /// The stream's counters: bytes each way, its windows now, what it
    /// buffers and how long its writes waited for room. All zero, windows
    /// included, once its state is freed.
    pub fn stats(&self) -> StreamStats {
        let now = self.session.timers.now();
        self.session
            .streams
            .get(&self.id)
            .map_or_else(StreamStats::default, |stream| {
                self.session.stats.stream(self.id, stream, now)
            })
    }

    /// What has become of the stream: open, finished by either end or
    /// both, or reset with its error.
    pub fn status(&self) -> StreamStatus {
        let Some(stream) = self.session.streams.get(&self.id) else {
            // Freed through this handle: over both ways.
            return StreamStatus::Closed;
        };
        if let Some(reset) = stream.reset {
            return StreamStatus::Reset {
                by: reset.by,
                delivery: reset.delivery,
            };
        }
        let finished = stream.send != SendState::Open;
        let peer_finished = stream.recv != RecvState::Open;
        match (finished, peer_finished) {
            (false, false) => StreamStatus::Open,
            (true, false) => StreamStatus::Finished,
            (false, true) => StreamStatus::PeerFinished,
            (true, true) => StreamStatus::Closed,
        }
    }

    /// Sets the stream's priority: a higher one always sends first, equal
    /// ones take turns. The default is 0.
    pub fn set_priority(&mut self, priority: i32) {
        let session = &mut *self.session;
        let Some(stream) = session.streams.get_mut(&self.id) else {
            return;
        };
        if stream.sched.is_queued() && stream.priority != priority {
            // Move a queued stream now: left at its old level, a raised
            // stream would wait behind that level's turn.
            session.scheduler.remove(stream.sched);
            stream.sched = session.scheduler.push(self.id, priority);
            stream.priority = priority;
            // Lowered behind a busy level, its SYN must not wait there.
            super::queue_frames(
                self.id,
                stream,
                &mut session.control,
                &mut session.scheduler,
            );
        }
        stream.priority = priority;
    }

    /// Whether the peer's application has the stream, as far as we know:
    /// [`Delivery::Delivered`] once the peer acknowledged it (always for a
    /// stream the peer opened). See [`Delivery`] for peers that
    /// acknowledge early or lazily.
    pub fn delivery(&self) -> Delivery {
        // Freed through this handle, the stream was finished both ways,
        // which only a peer's application does.
        self.session
            .streams
            .get(&self.id)
            .map_or(Delivery::Delivered, |stream| stream.delivery())
    }

    /// The state behind the handle; it lives as long as the handle unless
    /// `freed` is set, since only methods consuming the handle free it
    /// otherwise.
    fn state(&mut self) -> &mut StreamState {
        self.session.streams.get_mut(&self.id).expect(OUTLIVES)
    }

    /// Takes received data through `take`, which returns it with its size
    /// in bytes, or `None` when there is none; a reset is reported
    /// instead. After a read: credit goes back to the peer if due, and
    /// `Readable` is re-armed once the buffer is drained.
    fn take_received<T>(
        &mut self,
        take: impl FnOnce(&mut StreamState, &mut Pins) -> Option<(T, usize)>,
    ) -> Result<Option<T>, StreamError> {
        let id = self.id;
        let session = &mut *self.session;
        let closed = session.is_closed();
        let stream = session.streams.get_mut(&id).expect(OUTLIVES);
        if let Some(reset) = stream.reset {
            // The state stays until the application releases it.
            return Err(reset.error());
        }
        let Some((value, bytes)) = take(stream, &mut session.pins) else {
            return Ok(None);
        };
        session.buffered_total -= bytes;
        if stream.recv_buf.is_empty() {
            stream.readable_armed = true;
        }
        if !closed {
            super::queue_frames(id, stream, &mut session.control, &mut session.scheduler);
        }
        Ok(Some(value))
    }

    /// Nothing buffered: the end of the stream, the session's end, or
    /// nothing yet.
    fn read_end(&mut self) -> Result<(), StreamError> {
        let close_reason = self.session.close_reason();
        let stream = self.state();
        stream.readable_armed = true;
        match stream.recv {
            RecvState::FinReceived | RecvState::EofDelivered => {
                stream.recv = RecvState::EofDelivered;
                if stream.is_done() {
                    self.session.remove_stream(self.id);
                    self.freed = true;
                }
                Ok(())
            }
            RecvState::Open => match close_reason {
                Some(reason) => Err(StreamError::SessionClosed {
                    reason,
                    delivery: stream.delivery(),
                }),
                None => Err(StreamError::Blocked),
            },
        }
    }
}

/// What a handle's state lookup expects.
const OUTLIVES: &str = "a stream outlives its handle";

/// Errors that stop writing to `stream`, in the order the application
/// should learn them: a reset, then the session's end (`closed`), then our
/// own FIN.
fn writable(stream: &StreamState, closed: Option<CloseReason>) -> Result<(), StreamError> {
    if let Some(reset) = stream.reset {
        return Err(reset.error());
    }
    if let Some(reason) = closed {
        let delivery = stream.delivery();
        return Err(StreamError::SessionClosed { reason, delivery });
    }
    match stream.send {
        SendState::Open => Ok(()),
        SendState::FinQueued | SendState::FinSent => Err(StreamError::Finished),
    }
}

//! The borrowed handle through which the application uses one stream.

use bytes::Bytes;

use super::Session;
use crate::error::{Delivery, ResetBy, StreamError};
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
        let (taken, room) = self.write_room(data.len())?;
        self.state().buffer_write(&data[..taken], room);
        self.session.send_total += taken;
        self.session
            .stats
            .on_buffered_unsent(self.session.send_total);
        self.session.wake_stream(self.id);
        Ok(taken)
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
        let (taken, room) = self.write_room(data.len())?;
        data.truncate(taken);
        self.state().buffer_chunk(data, room);
        self.session.send_total += taken;
        self.session
            .stats
            .on_buffered_unsent(self.session.send_total);
        self.session.wake_stream(self.id);
        Ok(taken)
    }

    /// How much of a write of `len` bytes the stream takes now, and the
    /// room it had; `Blocked` when nothing (for a non-empty write). A short answer arms
    /// `Writable`, from the peer's window or from the session's send
    /// budget, whichever cut it short.
    fn write_room(&mut self, len: usize) -> Result<(usize, usize), StreamError> {
        self.check_writable()?;
        let max_buffer = self.session.config.max_stream_window;
        let budget_room = self.session.send_budget_room();
        let now = self.session.timers.now();
        let id = self.id;
        let stream = self.state();
        let window_room = stream.write_capacity(max_buffer);
        let room = window_room.min(budget_room);
        let taken = room.min(len);
        if taken < len {
            stream.writer_blocked = true;
            let by_budget = budget_room < window_room.min(len);
            if by_budget && !stream.budget_waiting {
                stream.budget_waiting = true;
                self.session.budget_waiters.push_back(id);
            }
            self.session.stats.on_write_blocked(id, now, by_budget);
        }
        if taken == 0 && len > 0 {
            return Err(StreamError::Blocked);
        }
        Ok((taken, room))
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
        self.check_reset()?;
        let (stream, pins) = self.state_and_pins();
        if !stream.recv_buf.is_empty() {
            let copied = stream.read_into(buf, pins);
            self.after_read(copied);
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
        self.check_reset()?;
        let (stream, pins) = self.state_and_pins();
        if max == 0 && !stream.recv_buf.is_empty() {
            // Nothing asked for; not the end while data is buffered.
            return Ok(Some(Bytes::new()));
        }
        if max > 0
            && let Some(chunk) = stream.read_chunk(max, pins)
        {
            self.after_read(chunk.len());
            return Ok(Some(chunk));
        }
        self.read_end().map(|()| None)
    }

    /// Half-closes our direction: FIN goes out after the buffered data.
    /// Reading goes on until the peer finishes too. The
    /// [`stream close timeout`](crate::Config::stream_close_timeout) starts
    /// when the FIN leaves, counting from the latest time the host supplied
    /// by then: `now` or later.
    pub fn finish(&mut self, now: Instant) -> Result<(), StreamError> {
        self.session.timers.observe(now);
        self.check_writable()?;
        let stream = self.state();
        stream.send = SendState::FinQueued;
        self.session.wake_stream(self.id);
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
    pub fn detach(mut self, now: Instant) {
        self.session.timers.observe(now);
        if self.freed {
            return;
        }
        let closed = self.session.is_closed();
        let state = self.state();
        if state.reset.is_some() || closed {
            self.session.remove_stream(self.id);
            return;
        }
        if state.send == SendState::Open {
            state.send = SendState::FinQueued;
        }
        state.detached = true;
        let dropped = state.recv_buf.len();
        let (state, pins) = self.state_and_pins();
        state.recv_buf.clear(pins);
        state.credit_to_return = state.credit_to_return.saturating_add(dropped);
        if state.recv == RecvState::FinReceived {
            state.recv = RecvState::EofDelivered;
        }
        self.session.buffered_total -= dropped as usize;
        self.session.wake_stream(self.id);
        // Our FIN may have left already and the peer's arrived.
        self.session.free_if_done(self.id);
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
        let Some(stream) = self.session.streams.get_mut(&self.id) else {
            return;
        };
        if stream.scheduled && stream.priority != priority {
            // Move a queued stream now: left at its old level, a raised
            // stream would wait behind that level's turn.
            self.session.scheduler.remove(self.id, stream.priority);
            self.session.scheduler.push(self.id, priority);
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
        self.session
            .streams
            .get_mut(&self.id)
            .expect("a stream outlives its handle")
    }

    /// The state behind the handle, with the session's input accounting
    /// that reading it updates.
    fn state_and_pins(&mut self) -> (&mut StreamState, &mut Pins) {
        let session = &mut *self.session;
        let state = session
            .streams
            .get_mut(&self.id)
            .expect("a stream outlives its handle");
        (state, &mut session.pins)
    }

    /// Errors that stop writing, in the order the application should learn
    /// them: a reset, then the session's end, then our own FIN.
    fn check_writable(&mut self) -> Result<(), StreamError> {
        if self.freed {
            return Err(StreamError::Finished);
        }
        self.check_reset()?;
        if let Some(reason) = self.session.close_reason() {
            let delivery = self.state().delivery();
            return Err(StreamError::SessionClosed { reason, delivery });
        }
        match self.state().send {
            SendState::Open => Ok(()),
            SendState::FinQueued | SendState::FinSent => Err(StreamError::Finished),
        }
    }

    /// Reports a reset; the state stays until the application releases it.
    fn check_reset(&mut self) -> Result<(), StreamError> {
        match self.state().reset {
            Some(reset) => Err(reset.error()),
            None => Ok(()),
        }
    }

    /// After a read took data: return credit to the peer if due, and re-arm
    /// `Readable` once the buffer is drained.
    fn after_read(&mut self, bytes: usize) {
        self.session.buffered_total -= bytes;
        let stream = self.state();
        if stream.recv_buf.is_empty() {
            stream.readable_armed = true;
        }
        self.session.wake_stream(self.id);
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

//! Producing frames for the transport.
//!
//! Control frames drain first, so a pong, window grant or reset never waits
//! behind data; then data goes out in turns of equal bytes, by the scheduler.

use bytes::Bytes;

use super::Session;
use crate::frame::{Flags, FrameType, Header};
use crate::scheduler::{Scheduler, Slot};
use crate::stream::{RecvState, SendState, StreamState};
use crate::stream_id::StreamId;
use crate::transmit::{Control, Transmit};

impl Session {
    /// Copies the next bytes for the transport into `buf`; returns how
    /// many. Frames may be split across calls. Call until it returns 0
    /// after every input or command.
    #[must_use = "the bytes written into `buf` must be sent"]
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        let mut written = 0;
        while written < buf.len() {
            let Some(frame) = self.in_flight.as_mut() else {
                match self.next_frame() {
                    Some(frame) => self.in_flight = Some(frame),
                    None => break,
                }
                continue;
            };
            written += frame.copy_into(&mut buf[written..]);
            if frame.is_empty() {
                self.in_flight = None;
            }
        }
        written
    }

    /// The next frame for the transport, or what is left of one that
    /// [`poll_transmit`](Self::poll_transmit) split. The payload is shared
    /// with the stream's buffer, not copied: use it for vectored writes.
    #[must_use = "a frame taken must be sent, or it is lost"]
    pub fn poll_transmit_frame(&mut self) -> Option<Transmit> {
        self.in_flight.take().or_else(|| self.next_frame())
    }

    /// Whether [`poll_transmit_frame`](Self::poll_transmit_frame) may have
    /// a frame: `false` means it has none. A host whose I/O runs elsewhere
    /// (another task) asks this after a command to skip waking it for
    /// nothing, such as after a read that returned no window yet.
    pub fn may_transmit(&self) -> bool {
        self.in_flight.is_some()
            || !self.control.is_empty()
            || (self.scheduler.len() > 0 && !self.is_closed())
    }

    fn next_frame(&mut self) -> Option<Transmit> {
        if let Some(openings) = self.scheduler.take_openings() {
            self.release_openings(openings);
        }
        while let Some(control) = self.control.pop_front() {
            if let Some(frame) = self.control_frame(control) {
                return Some(self.stats.on_frame_out(frame));
            }
        }
        if self.is_closed() {
            return None;
        }
        while let Some((id, spent)) = self.scheduler.pop() {
            if let Some(frame) = self.data_frame(id, spent) {
                return Some(self.stats.on_frame_out(frame));
            }
        }
        None
    }

    /// Streams that were queued owing SYN or ACK, when a higher priority
    /// arrived above some: those now behind it send the flags in a control
    /// frame rather than wait with their data; those that sent them, or no
    /// longer wait, are dropped.
    fn release_openings(&mut self, openings: alloc::vec::Vec<(StreamId, Slot)>) {
        for (id, _) in openings {
            let Some(stream) = self.streams.get_mut(&id) else {
                continue;
            };
            if !stream.sched.is_queued() || !owes_open_flags(stream) {
                continue;
            }
            super::queue_frames(id, stream, &mut self.control, &mut self.scheduler);
            // Kept until the flags are out, whichever frame takes them.
            self.scheduler.note_opening(id, stream.sched);
        }
    }

    fn control_frame(&mut self, control: Control) -> Option<Transmit> {
        let header = match control {
            Control::Pong(value) => {
                self.pending_pongs = self.pending_pongs.saturating_sub(1);
                Header::new(FrameType::Ping, Flags::ACK, 0, value)
            }
            Control::Ping(value) => Header::new(FrameType::Ping, Flags::SYN, 0, value),
            Control::GoAway(code) => Header::new(FrameType::GoAway, Flags::NONE, 0, code),
            Control::Reset { id, code, ack } => {
                self.pending_resets = self.pending_resets.saturating_sub(1);
                let flags = if ack {
                    Flags::RST | Flags::ACK
                } else {
                    Flags::RST
                };
                Header::new(FrameType::WindowUpdate, flags, id.get(), code)
            }
            Control::Stream(id) => return self.stream_control_frame(id),
        };
        Some(Transmit::new(header, Bytes::new()))
    }

    /// A WindowUpdate carrying the stream's pending credit and whichever of
    /// SYN, ACK and FIN no Data frame is about to carry.
    fn stream_control_frame(&mut self, id: StreamId) -> Option<Transmit> {
        let stream = self.streams.get_mut(&id)?;
        stream.control_queued = false;
        if !needs_control_frame(stream, &self.scheduler) {
            return None;
        }
        let mut flags = stream.take_open_flags();
        // Looked up again only when a grant is due (at most once per half
        // window), since auto-tuning needs the session.
        let (stream, growth) = if stream.window_update_due() {
            let growth = self.grow_window(id);
            (self.streams.get_mut(&id)?, growth)
        } else {
            (stream, 0)
        };
        let delta = if stream.recv == RecvState::Open {
            core::mem::take(&mut stream.credit_to_return) + growth
        } else {
            0
        };
        stream.recv_window += delta;
        if stream.fin_due() {
            flags |= Flags::FIN;
            stream.send = SendState::FinSent;
            self.timers.fin_sent(id, &self.config);
        }
        let header = Header::new(FrameType::WindowUpdate, flags, id.get(), delta);
        if stream.is_done() {
            self.remove_stream(id);
        }
        Some(Transmit::new(header, Bytes::new()))
    }

    /// Window auto-tuning, when a grant is due (a grant at half the window
    /// says something about the peer's pace; credit that merely rides along
    /// with SYN, ACK or FIN does not): if the peer used up half the window
    /// within two round trips of the last grant, the window, not the link
    /// or our reader, limits it, so the window doubles (up to
    /// `max_stream_window`, and only while the sum of all windows fits the
    /// session buffer budget). Returns the extra credit.
    fn grow_window(&mut self, id: StreamId) -> u32 {
        let now = self.timers.now();
        let rtt = self.timers.smoothed_rtt();
        let max_window = self.config.max_stream_window;
        let budget = self.config.max_session_buffer;
        let Some(stream) = self.streams.get_mut(&id) else {
            return 0;
        };
        let previous = self.stats.replace_last_grant(id, now);
        if stream.recv_window_target >= max_window {
            return 0;
        }
        let Some(rtt) = rtt else {
            // Without a round-trip estimate there is nothing to judge by;
            // one ping gives the first sample.
            self.request_rtt_sample(now);
            return 0;
        };
        let Some(previous) = previous else {
            return 0;
        };
        if now.saturating_duration_since(previous) >= rtt * 2 {
            return 0;
        }
        let target = stream.recv_window_target;
        let grown = target.saturating_mul(2).min(max_window);
        let extra = grown - target;
        if self.window_total + extra as usize > budget {
            return 0;
        }
        stream.recv_window_target = grown;
        self.window_total += extra as usize;
        extra
    }

    /// A Data frame for `id`, which has sent `spent` bytes in its turn.
    fn data_frame(&mut self, id: StreamId, spent: u32) -> Option<Transmit> {
        let frame_size = self.config.max_frame_size;
        let stream = self.streams.get_mut(&id)?;
        stream.sched = Slot::NONE;
        if !stream.has_sendable_data() || stream.reset.is_some() {
            return None;
        }
        let max = (stream.send_buf.len() as u32)
            .min(stream.send_window)
            .min(frame_size);
        let payload = stream.take_send_payload(max as usize);
        // At most `max`, so within a u32 and the window.
        let len = payload.len() as u32;
        stream.send_window -= len;
        self.stats.on_data_sent(id, stream, len);
        self.send_total -= payload.len();
        let flags = stream.take_open_flags();
        let header = Header::new(FrameType::Data, flags, id.get(), len);
        if stream.has_sendable_data() {
            // Fair in bytes, not frames (see `scheduler`): `spent` and
            // `len` are each at most a frame, so the sum fits.
            stream.sched =
                self.scheduler
                    .resume(id, stream.priority, spent.saturating_add(len), frame_size);
        }
        // A FIN now due goes out in a WindowUpdate of its own, queued here
        // as control so it leaves right behind this frame: hashicorp/yamux
        // and go-yamux apply a frame's flags before they read its payload,
        // and a FIN riding on data makes them drop that data. (So no Data
        // frame ends a stream, and none frees one.)
        super::queue_frames(id, stream, &mut self.control, &mut self.scheduler);
        if stream.writer_blocked {
            self.notify_writable_if_unblocked(id);
        }
        self.wake_budget_waiters();
        Some(Transmit::new(header, payload))
    }
}

/// Whether `stream` still owes the peer a SYN or ACK.
pub(super) fn owes_open_flags(stream: &StreamState) -> bool {
    stream.reset.is_none() && (stream.syn_unsent || stream.ack_unsent)
}

/// Whether `stream` needs a frame without data: what
/// `StreamState::needs_control_frame` says, or a SYN or ACK that would ride
/// on data waiting behind a higher priority. Under strict priority that
/// data may wait for as long as the higher streams stay busy, and an
/// opening that waits with it runs into the peer's (or our) open timeout;
/// a zero-length WindowUpdate carries it now instead.
pub(super) fn needs_control_frame(stream: &StreamState, scheduler: &Scheduler) -> bool {
    stream.needs_control_frame()
        || (owes_open_flags(stream) && scheduler.has_above(stream.priority))
}

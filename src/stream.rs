//! The state of one stream: its two directions, their windows and buffers.

use bytes::Bytes;

use crate::config::INITIAL_STREAM_WINDOW;
use crate::error::{Delivery, ResetBy, StreamError};
use crate::frame::Flags;
use crate::pins::Pins;
use crate::recv_buf::RecvBuffer;
use crate::scheduler::Slot;
use crate::send_buf::SendBuffer;
use crate::stats::ByteCounts;

/// How a stream was reset, kept until the application releases it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResetInfo {
    pub(crate) by: ResetBy,
    pub(crate) delivery: Delivery,
}

impl ResetInfo {
    pub(crate) fn error(self) -> StreamError {
        StreamError::Reset {
            by: self.by,
            delivery: self.delivery,
        }
    }
}

/// Our sending direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendState {
    /// The application may write.
    Open,
    /// The application finished; FIN goes out after the buffered data.
    FinQueued,
    /// FIN has been handed to the transport.
    FinSent,
}

/// The peer's sending direction, as we receive it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvState {
    /// More data may come.
    Open,
    /// The peer's FIN arrived; buffered data may still be read.
    FinReceived,
    /// The application has read to the end.
    EofDelivered,
}

/// Everything the session keeps for one stream.
#[derive(Debug)]
pub(crate) struct StreamState {
    /// Bytes the peer still allows us to send.
    pub(crate) send_window: u32,
    /// Written by the application, not yet framed.
    pub(crate) send_buf: SendBuffer,
    pub(crate) send: SendState,

    /// Bytes we still allow the peer to send.
    pub(crate) recv_window: u32,
    /// The window we aim to keep open for the peer.
    pub(crate) recv_window_target: u32,
    /// Bytes the application consumed that we have not yet granted back.
    pub(crate) credit_to_return: u32,
    /// Received and not yet read, in order.
    pub(crate) recv_buf: RecvBuffer,
    /// Payload bytes each way, for [`Stream::stats`](crate::Stream::stats).
    pub(crate) bytes: ByteCounts,
    pub(crate) recv: RecvState,

    /// Set once the stream is reset; the state (its buffers dropped) stays
    /// until the application releases it.
    pub(crate) reset: Option<ResetInfo>,
    /// Whether we opened the stream.
    pub(crate) local: bool,
    /// Whether the application owns it (always for local streams).
    pub(crate) accepted: bool,
    pub(crate) syn_unsent: bool,
    pub(crate) ack_unsent: bool,
    /// Whether the peer acknowledged our SYN.
    pub(crate) acked: bool,

    pub(crate) priority: i32,
    /// Where the stream waits in the scheduler, if it does. In the
    /// padding a `bool` left, so an idle stream costs nothing more.
    pub(crate) sched: Slot,
    /// Whether an entry for this stream waits in the control queue.
    pub(crate) control_queued: bool,
    /// Whether a write came up short and awaits a `Writable` event.
    pub(crate) writer_blocked: bool,
    /// Whether the stream waits in the session's queue for room in the
    /// send budget.
    pub(crate) budget_waiting: bool,
    /// Whether the next arrival should raise a `Readable` event.
    pub(crate) readable_armed: bool,
    /// Whether the application gave the stream up (`Stream::detach`): what
    /// the peer still sends is discarded, and the state goes at its end.
    pub(crate) detached: bool,
}

impl StreamState {
    /// A stream we open: the SYN rides on its first frame.
    pub(crate) fn outbound() -> Self {
        let mut stream = Self::new(true);
        stream.syn_unsent = true;
        stream.accepted = true;
        stream
    }

    /// A stream the peer opened, waiting for the application to accept it.
    pub(crate) fn inbound() -> Self {
        Self::new(false)
    }

    fn new(local: bool) -> Self {
        StreamState {
            send_window: INITIAL_STREAM_WINDOW,
            send_buf: SendBuffer::default(),
            send: SendState::Open,
            recv_window: INITIAL_STREAM_WINDOW,
            recv_window_target: INITIAL_STREAM_WINDOW,
            credit_to_return: 0,
            recv_buf: RecvBuffer::default(),
            bytes: ByteCounts::default(),
            recv: RecvState::Open,
            reset: None,
            local,
            accepted: false,
            syn_unsent: false,
            ack_unsent: false,
            acked: false,
            priority: 0,
            sched: Slot::NONE,
            control_queued: false,
            writer_blocked: false,
            budget_waiting: false,
            readable_armed: true,
            detached: false,
        }
    }

    /// How many more bytes a write may buffer: what the peer's window
    /// allows beyond what is already buffered, capped at `max_buffer`.
    pub(crate) fn write_capacity(&self, max_buffer: u32) -> usize {
        let allowed = self.send_window.min(max_buffer) as usize;
        allowed.saturating_sub(self.send_buf.len())
    }

    /// Buffers written data; the caller has checked it fits the room a
    /// write has (the peer's window and the session's send budget), passed
    /// as `room`. New buffer memory is sized within that room too (see
    /// [`SendBuffer::push`]), so the session's documented memory bound
    /// holds.
    pub(crate) fn buffer_write(&mut self, data: &[u8], room: usize) {
        let limit = self.send_buf.len() + room.max(data.len());
        self.send_buf.push(data, limit);
    }

    /// Like [`buffer_write`](Self::buffer_write), for data handed over
    /// whole.
    pub(crate) fn buffer_chunk(&mut self, data: Bytes, room: usize) {
        let limit = self.send_buf.len() + room.max(data.len());
        self.send_buf.push_chunk(data, limit);
    }

    /// Takes the next `len` (non-zero) buffered bytes to send, or all of
    /// them if fewer.
    pub(crate) fn take_send_payload(&mut self, len: usize) -> Bytes {
        self.send_buf.take(len)
    }

    /// Takes the SYN and ACK the stream still owes the peer.
    pub(crate) fn take_open_flags(&mut self) -> Flags {
        let mut flags = Flags::NONE;
        if core::mem::take(&mut self.syn_unsent) {
            flags |= Flags::SYN;
        }
        if core::mem::take(&mut self.ack_unsent) {
            flags |= Flags::ACK;
        }
        flags
    }

    /// Whether a Data frame could go out now.
    pub(crate) fn has_sendable_data(&self) -> bool {
        !self.send_buf.is_empty() && self.send_window > 0
    }

    /// Whether FIN is due: finished and nothing left to send. It always goes
    /// in a zero-length frame of its own (see `Session::data_frame`).
    pub(crate) fn fin_due(&self) -> bool {
        self.send == SendState::FinQueued && self.send_buf.is_empty()
    }

    /// Whether the stream needs a frame without data: a window grant, or
    /// SYN, ACK or FIN that no Data frame will carry soon.
    pub(crate) fn needs_control_frame(&self) -> bool {
        if self.reset.is_some() {
            return false;
        }
        self.window_update_due()
            || (!self.has_sendable_data() && (self.syn_unsent || self.ack_unsent || self.fin_due()))
    }

    /// Whether enough credit has been consumed to grant it back: half the
    /// window, so the peer never stalls while a grant is in flight.
    pub(crate) fn window_update_due(&self) -> bool {
        self.recv == RecvState::Open
            && self.credit_to_return > 0
            && self.credit_to_return >= self.recv_window_target / 2
    }

    /// Copies buffered data into `buf`; returns how many bytes.
    pub(crate) fn read_into(&mut self, buf: &mut [u8], pins: &mut Pins) -> usize {
        let copied = self.recv_buf.read_into(buf, pins);
        self.consumed(copied);
        copied
    }

    /// Takes up to `max` (non-zero) buffered bytes without copying.
    pub(crate) fn read_chunk(&mut self, max: usize, pins: &mut Pins) -> Option<Bytes> {
        let chunk = self.recv_buf.read_chunk(max, pins)?;
        self.consumed(chunk.len());
        Some(chunk)
    }

    fn consumed(&mut self, bytes: usize) {
        // At most one window's worth, so within a u32.
        self.credit_to_return = self.credit_to_return.saturating_add(bytes as u32);
    }

    /// Whether the peer's application may have the stream, judged from
    /// what the peer has told us so far.
    pub(crate) fn delivery(&self) -> Delivery {
        if !self.local || self.acked {
            Delivery::Delivered
        } else if self.syn_unsent {
            Delivery::NotDelivered
        } else {
            Delivery::MaybeDelivered
        }
    }

    /// Whether resetting the stream must tell the peer, and if so whether
    /// the RST carries the ACK still owed: `None` when the peer never heard
    /// of the stream (its SYN never left) or reset it first.
    pub(crate) fn reset_needs_frame(&self) -> Option<bool> {
        (!self.syn_unsent && self.reset.is_none()).then_some(self.ack_unsent)
    }

    /// Whether we opened it and the peer has not acknowledged it yet, so it
    /// counts against the unacknowledged-open limit.
    pub(crate) fn awaits_ack(&self) -> bool {
        self.local && !self.acked && self.reset.is_none()
    }

    /// Whether both directions are over as far as the application is
    /// concerned, so the state can be freed.
    pub(crate) fn is_done(&self) -> bool {
        self.send == SendState::FinSent && self.recv == RecvState::EofDelivered
    }
}

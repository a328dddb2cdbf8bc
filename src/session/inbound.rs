//! Reading the peer's frames.
//!
//! A header is judged as soon as its 12 bytes are in, before any payload is
//! buffered: a Data frame beyond the window is refused without allocating,
//! and the payload of a frame for an unknown stream is skipped, not stored.

use bytes::{Bytes, BytesMut};

use alloc::vec::Vec;

use super::{GOAWAY_NORMAL, GOAWAY_PROTOCOL_ERROR, Session};
use crate::config::Role;
use crate::error::{CloseReason, Delivery, ProtocolError, ResetBy, ResetCause};
use crate::event::Event;
use crate::frame::{Flags, FrameError, FrameType, Header, HeaderBuffer};
use crate::pins::PinId;
use crate::stream::{RecvState, ResetInfo, StreamState};
use crate::stream_id::StreamId;
use crate::time::Instant;
use crate::transmit::Control;

/// The payload of a Data frame being received.
#[derive(Debug)]
struct PayloadInProgress {
    header: Header,
    /// Bytes still to come.
    remaining: usize,
    /// Collected payload; `None` when it is being skipped.
    buf: Option<BytesMut>,
}

/// Decoding state for the peer's byte stream.
#[derive(Debug)]
pub(super) struct Inbound {
    header: HeaderBuffer,
    payload: Option<PayloadInProgress>,
    max_data_len: u32,
}

impl Inbound {
    pub(super) fn new(max_data_len: u32) -> Self {
        Inbound {
            header: HeaderBuffer::default(),
            payload: None,
            max_data_len,
        }
    }
}

/// A complete Data payload, as the input delivered it.
enum Payload<'a> {
    /// Lying whole in one input: copied once, straight into the stream's
    /// buffer.
    Slice(&'a [u8]),
    /// Collected from several inputs, or a slice of a shared input (`pin`).
    Chunk(Bytes, PinId),
}

impl Payload<'_> {
    fn len(&self) -> usize {
        match self {
            Payload::Slice(data) => data.len(),
            Payload::Chunk(data, _) => data.len(),
        }
    }
}

/// A payload at least this large, lying whole in the input given to
/// [`Session::handle_input_bytes`], is kept as a slice of that input rather
/// than copied. A slice keeps the whole input buffer alive until it is
/// read, so smaller payloads are copied, and `Pins` bounds what the slices
/// pin in all.
const SHARE_MIN: usize = 8 * 1024;

impl Session {
    /// Feeds bytes read from the transport, split anywhere (one byte at a
    /// time works). Never waits for output to drain. A protocol error closes
    /// the session: GoAway(1) is queued and [`Event::Closed`] says why.
    pub fn handle_input(&mut self, now: Instant, input: &[u8]) {
        self.feed(now, input, None);
    }

    /// As [`handle_input`](Self::handle_input), for input the caller
    /// already holds as [`Bytes`] (say, split off its read buffer): a large
    /// Data payload that lies whole in `input` is kept as a slice of it,
    /// not copied, and later returned by
    /// [`read_chunk`](crate::Stream::read_chunk) as is. Payloads under
    /// 8 KiB are copied, since a slice keeps all of `input` allocated until
    /// the application reads it. Both methods may be mixed on one session.
    ///
    /// The session counts each such input as `input.len()` bytes kept
    /// alive while a slice of it is unread, and copies its slices out once
    /// what they keep alive passes 1.125 times what they hold (plus 1 MiB),
    /// so that a peer cannot make a few unread bytes hold many. That holds
    /// only if `input`'s memory is its own: a `Bytes` split off a larger
    /// buffer that later reads reuse keeps all of that buffer alive.
    /// Hand over inputs that fill most of their allocation, and pass small
    /// reads to [`handle_input`](Self::handle_input) instead.
    pub fn handle_input_bytes(&mut self, now: Instant, input: Bytes) {
        self.feed(now, &input, Some(&input));
    }

    fn feed(&mut self, now: Instant, whole: &[u8], shared: Option<&Bytes>) {
        if !whole.is_empty() {
            self.timers.inbound_traffic(now);
        }
        let mut input = whole;
        let mut pin = PinId::NONE;
        while !input.is_empty() && !self.is_closed() {
            if let Some(payload) = self.inbound.payload.as_mut() {
                let take = payload.remaining.min(input.len());
                let (part, rest) = input.split_at(take);
                let mut whole_payload = None;
                match payload.buf.as_mut() {
                    // Skipped.
                    None => {}
                    // All of it is here: no buffer of its own.
                    Some(buf) if buf.is_empty() && take == payload.remaining => {
                        whole_payload = Some(match shared {
                            Some(shared) if take >= SHARE_MIN => {
                                let at = whole.len() - input.len();
                                if pin == PinId::NONE {
                                    pin = self.pins.pin(whole.len());
                                }
                                Payload::Chunk(shared.slice(at..at + take), pin)
                            }
                            _ => Payload::Slice(part),
                        });
                    }
                    // Split across inputs: collected, allocated with the
                    // first bytes.
                    Some(buf) => {
                        buf.reserve(payload.remaining);
                        buf.extend_from_slice(part);
                    }
                }
                payload.remaining -= take;
                self.stats.on_payload_in(take);
                input = rest;
                if payload.remaining == 0 {
                    let done = self.inbound.payload.take().expect("checked above");
                    let data = whole_payload.or_else(|| {
                        done.buf
                            .map(|buf| Payload::Chunk(buf.freeze(), PinId::NONE))
                    });
                    self.on_data_payload(done.header, data);
                }
                continue;
            }
            match self.inbound.header.fill(&mut input) {
                Ok(None) => {}
                Ok(Some(header)) => self.on_header(now, header),
                Err(e) => self.protocol_error(e.into()),
            }
        }
        self.pins.release(pin, 0);
        if self.pins.needs_compaction() {
            self.unpin_inputs();
        }
    }

    /// Copies every unread slice of the host's inputs into memory of its
    /// own (see `Pins`).
    fn unpin_inputs(&mut self) {
        for stream in self.streams.values_mut() {
            stream.recv_buf.unpin(&mut self.pins);
        }
    }

    fn protocol_error(&mut self, error: ProtocolError) {
        self.stats.on_protocol_error(&error);
        self.end(CloseReason::Protocol(error), Some(GOAWAY_PROTOCOL_ERROR));
    }

    fn on_header(&mut self, now: Instant, header: Header) {
        self.stats.on_frame_in(&header);
        match header.frame_type {
            FrameType::Data | FrameType::WindowUpdate => self.on_stream_header(header),
            FrameType::Ping => self.on_ping(now, header),
            FrameType::GoAway => self.on_go_away(header.length),
        }
    }

    fn on_ping(&mut self, now: Instant, header: Header) {
        if header.flags.contains(Flags::SYN) {
            // Beyond the limit a flood of pings goes unanswered rather than
            // growing the queue; a well-behaved peer never gets near it.
            if self.pending_pongs < self.config.max_pending_pongs {
                self.pending_pongs += 1;
                self.control.push_back(Control::Pong(header.length));
            }
        } else if header.flags.contains(Flags::ACK) {
            let matching = self
                .outstanding_pings
                .iter()
                .position(|&(value, _, _)| value == header.length);
            // A pong we never asked for is ignored, as real peers do.
            if let Some(index) = matching {
                let (_, sent, purpose) = self.outstanding_pings.remove(index).expect("index found");
                self.on_pong(now, sent, purpose);
            }
        }
    }

    /// GoAway(0) drains by default: the peer takes no new streams, so the
    /// ones whose SYN has not left yet fail as never delivered, and the
    /// rest go on. Any other code, or the config switch, ends the session.
    fn on_go_away(&mut self, code: u32) {
        if code != GOAWAY_NORMAL || self.config.terminate_on_peer_go_away {
            return self.end(CloseReason::PeerGoAway { code }, None);
        }
        if self.peer_going_away {
            return;
        }
        self.peer_going_away = true;
        self.events.push_back(Event::PeerGoingAway);
        let unsent: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, stream)| stream.syn_unsent && stream.reset.is_none())
            .map(|(&id, _)| id)
            .collect();
        for id in unsent {
            self.reset_by_session(id, ResetCause::PeerGoingAway, Delivery::NotDelivered);
        }
    }

    fn on_stream_header(&mut self, header: Header) {
        let id = StreamId::new(header.stream_id);
        let payload_len = header.payload_len();
        if payload_len > self.inbound.max_data_len {
            return self.protocol_error(ProtocolError::Frame(FrameError::FrameTooLarge {
                stream_id: header.stream_id,
                length: payload_len,
                max: self.inbound.max_data_len,
            }));
        }
        let opens = header.flags.contains(Flags::SYN) || self.implies_open(id, header);
        if opens && !self.open_inbound(id) {
            return;
        }
        let Some(mut stream) = self.streams.get_mut(&id) else {
            // Unknown or already freed: drop the frame, skip its payload.
            return self.skip_payload(header);
        };
        if header.flags.contains(Flags::ACK) && stream.local && !stream.acked {
            let awaited = stream.awaits_ack();
            stream.acked = true;
            if awaited {
                // Once per stream: only then is it looked up again.
                self.ack_settled();
                stream = self.streams.get_mut(&id).expect("not freed by an ACK");
            }
        }
        match header.frame_type {
            FrameType::Data if payload_len > 0 => {
                let receiving = stream.recv == RecvState::Open && stream.reset.is_none();
                if !receiving {
                    // Data after FIN or reset is dropped, not fatal.
                    return self.skip_payload(header);
                }
                if payload_len > stream.recv_window {
                    let window = stream.recv_window;
                    return self.protocol_error(ProtocolError::FlowControlViolation {
                        stream: id,
                        length: payload_len,
                        window,
                    });
                }
                if self.buffered_total + payload_len as usize > self.config.max_session_buffer {
                    // Within the stream's window but beyond what the whole
                    // session may hold: this stream goes, the session stays.
                    let delivery = stream.delivery();
                    self.reset_by_session(id, ResetCause::BufferFull, delivery);
                    return self.skip_payload(header);
                }
                stream.recv_window -= payload_len;
                self.stats.on_data_received(id, stream, payload_len);
                self.buffered_total += payload_len as usize;
                self.stats.on_buffered_received(self.buffered_total);
                self.inbound.payload = Some(PayloadInProgress {
                    header,
                    remaining: payload_len as usize,
                    buf: Some(BytesMut::new()),
                });
            }
            FrameType::WindowUpdate if !header.flags.contains(Flags::RST) => {
                let Some(window) = stream.send_window.checked_add(header.length) else {
                    return self.protocol_error(ProtocolError::WindowOverflow { stream: id });
                };
                stream.send_window = window;
                super::queue_frames(id, stream, &mut self.control, &mut self.scheduler);
                if stream.writer_blocked {
                    self.notify_writable_if_unblocked(id);
                }
                self.on_stream_flags(id, header);
            }
            _ => self.on_stream_flags(id, header),
        }
    }

    /// Registers a stream the peer opens, or refuses it with an RST when
    /// closing or at a limit; false if the SYN was a protocol error (the
    /// session is then closed).
    fn open_inbound(&mut self, id: StreamId) -> bool {
        if id.opener() != Some(self.peer_role()) {
            self.protocol_error(ProtocolError::InvalidStreamId { stream: id });
            return false;
        }
        if self.streams.contains_key(&id) {
            self.protocol_error(ProtocolError::DuplicateStream { stream: id });
            return false;
        }
        self.highest_inbound_id = self.highest_inbound_id.max(id.get());
        let at_limit = self.accept_queue.len() >= self.config.accept_backlog
            || self.streams.len() >= self.config.max_streams;
        if self.is_closing() || at_limit {
            let backlog_full = self.accept_queue.len() >= self.config.accept_backlog;
            self.stats.on_refused(id, self.is_closing(), backlog_full);
            self.refuse_stream(id);
            return true;
        }
        self.insert_stream(id, StreamState::inbound());
        self.stats.on_incoming();
        self.accept_queue.push_back(id);
        self.events.push_back(Event::IncomingStream(id));
        true
    }

    /// Whether a frame without SYN still opens a stream: the `yamux` crate
    /// sends a stream that is closed before any write as a bare FIN, with
    /// no SYN. Peers hand out ids in increasing order, so an id of the
    /// peer's parity above every id it has opened so far can only be such a
    /// stream, never a late frame for one already gone. Only that exact
    /// shape (FIN, no payload, no RST) opens a stream; data without SYN on
    /// an unknown id is still dropped, as the protocol says.
    fn implies_open(&self, id: StreamId, header: Header) -> bool {
        header.flags.contains(Flags::FIN)
            && header.payload_len() == 0
            && !header.flags.contains(Flags::RST)
            && id.opener() == Some(self.peer_role())
            && id.get() > self.highest_inbound_id
            && !self.streams.contains_key(&id)
    }

    fn peer_role(&self) -> Role {
        match self.role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    fn skip_payload(&mut self, header: Header) {
        let remaining = header.payload_len() as usize;
        if remaining > 0 {
            self.inbound.payload = Some(PayloadInProgress {
                header,
                remaining,
                buf: None,
            });
        }
    }

    /// A Data payload is complete (`None`: skipped): queue it for the
    /// application, then apply the frame's FIN or RST, which take effect
    /// after the data.
    fn on_data_payload(&mut self, header: Header, data: Option<Payload<'_>>) {
        let id = StreamId::new(header.stream_id);
        if let Some(data) = data {
            let len = data.len();
            // The stream may have been reset or freed while the payload was
            // arriving; then the data has nowhere to go.
            match self.streams.get_mut(&id) {
                Some(stream) if stream.reset.is_none() && stream.recv == RecvState::Open => {
                    if stream.detached {
                        // Nobody will read it: the credit goes straight back.
                        stream.credit_to_return =
                            stream.credit_to_return.saturating_add(len as u32);
                        self.buffered_total -= len;
                        super::queue_frames(id, stream, &mut self.control, &mut self.scheduler);
                    } else {
                        match data {
                            Payload::Slice(data) => stream.recv_buf.push_slice(data),
                            Payload::Chunk(data, pin) => {
                                stream.recv_buf.push(data, pin, &mut self.pins);
                            }
                        }
                        super::notify_readable(id, stream, &mut self.events);
                    }
                }
                _ => self.buffered_total -= len,
            }
        }
        self.on_stream_flags(id, header);
    }

    /// Applies FIN and RST. On a WindowUpdate, the length of an RST frame
    /// is the peer's error code (go-yamux sends one); elsewhere it is 0.
    fn on_stream_flags(&mut self, id: StreamId, header: Header) {
        // Most frames carry neither: then the stream is not looked up.
        if !header.flags.contains(Flags::FIN) && !header.flags.contains(Flags::RST) {
            return;
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if header.flags.contains(Flags::RST) {
            if stream.reset.is_some() {
                return;
            }
            if stream.detached {
                // Given up by the application: nothing to report, nothing
                // to keep.
                self.remove_stream(id);
                return;
            }
            let code = match header.frame_type {
                FrameType::WindowUpdate => header.length,
                _ => 0,
            };
            // Reset before its ACK, the peer's application never took it.
            let awaited = stream.awaits_ack();
            let delivery = match awaited {
                true => Delivery::NotDelivered,
                false => Delivery::Delivered,
            };
            let reset = ResetInfo {
                by: ResetBy::Peer { code },
                delivery,
            };
            self.record_reset(id, reset);
            if self.streams[&id].accepted {
                self.events.push_back(super::reset_event(id, reset));
            }
            if awaited {
                self.ack_settled();
            }
            return self.finish_close_if_drained();
        }
        if header.flags.contains(Flags::FIN) && stream.recv == RecvState::Open {
            if stream.detached {
                stream.recv = RecvState::EofDelivered;
                self.free_if_done(id);
            } else {
                stream.recv = RecvState::FinReceived;
                self.notify_readable_if_pending(id);
            }
        }
    }
}

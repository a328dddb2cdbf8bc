//! A small yamux peer with switchable quirks of real implementations.
//!
//! [`PeerModel`] is a deliberately simple, deterministic yamux endpoint,
//! written for muxplex's tests and sharing nothing with [`Session`] but the
//! frame codec and the error types. It plays the behaviours of the peers muxplex must
//! interoperate with, so tests can catch interop bugs without running Go:
//! a [`Pair`] puts it on one end and muxplex on the other.
//!
//! It keeps only what the protocol needs: streams opened and accepted,
//! write, read, finish and reset, per-stream windows (256 KiB to start,
//! additive WindowUpdates, credit returned once half a window has been
//! read), answers to pings, and GoAway. Writes are buffered whole and sent
//! as windows allow. There are no timers.
//!
//! What a real peer would lose silently the model reports: data that its
//! reader could never have seen is recorded as a [`Loss`], which is an
//! [`Endpoint::fault`], so a test driving it through a [`Pair`] fails at
//! once.
//!
//! ```
//! use muxplex::testing::{Pair, PeerModel, Quirks};
//! use muxplex::Config;
//!
//! let model = PeerModel::new(muxplex::Role::Server, Quirks::hashicorp());
//! let mut pair = Pair::with_model_server(Config::default(), model);
//! let now = pair.now();
//! let id = pair.client.open_stream(now).unwrap();
//! {
//!     let mut stream = pair.client.stream(id).unwrap();
//!     stream.write(b"hello").unwrap();
//!     stream.finish(now).unwrap();
//! }
//! pair.drive();
//! let accepted = pair.server.accept_stream().unwrap();
//! let mut buf = [0u8; 16];
//! assert_eq!(pair.server.read(accepted, &mut buf), Ok(5));
//! assert_eq!(pair.server.read(accepted, &mut buf), Ok(0));
//! assert!(pair.server.losses().is_empty());
//! ```
//!
//! [`Session`]: crate::Session
//! [`Pair`]: super::Pair

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use bytes::BytesMut;

use super::{Endpoint, WireAudit};
use crate::config::{INITIAL_STREAM_WINDOW, MAX_FRAME_SIZE_LIMIT, Role};
use crate::error::{ProtocolError, ResetBy};
use crate::frame::{Flags, Frame, FrameDecoder, FrameType, Header, encode_frame};
use crate::session::{GOAWAY_NORMAL, GOAWAY_PROTOCOL_ERROR};
use crate::stream_id::StreamId;
use crate::time::Instant;

/// The largest Data frame the model sends unless
/// [`Quirks::whole_window_frames`] is set (the `yamux` crate's default
/// split size).
const FRAME_SIZE: u32 = 16 * 1024;

/// Read credit is granted back once this much has been read: half the
/// window, as real peers do.
const CREDIT_THRESHOLD: u32 = INITIAL_STREAM_WINDOW / 2;

/// The behaviours of real peers a [`PeerModel`] plays; all off by default,
/// which is a plain peer that reads a frame's payload before its flags,
/// acknowledges at accept, drains on GoAway(0), lets FIN ride on its last
/// Data frame and sends frames of at most 16 KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quirks {
    /// Applies a frame's flags before reading its payload (hashicorp/yamux,
    /// go-yamux): on a Data frame with FIN and payload the reader sees the
    /// end of the stream before the payload, which is lost; the model
    /// records a [`Loss`].
    pub flags_before_payload: bool,
    /// Acknowledges an accepted stream only on the first frame it sends
    /// back for another reason (the `yamux` crate), instead of at accept
    /// (hashicorp/yamux, go-yamux).
    pub lazy_ack: bool,
    /// Treats GoAway(0) as the end of the session (go-yamux): every stream
    /// whose peer had not finished fails at once, and nothing more is sent.
    /// Otherwise GoAway(0) only stops new streams (hashicorp/yamux).
    pub go_away_terminates: bool,
    /// Sends FIN only on a zero-length WindowUpdate of its own, after the
    /// data (all Go peers and the `yamux` crate), never on a Data frame.
    pub fin_on_window_update: bool,
    /// Sends Data frames as large as the window and the buffered data
    /// allow (hashicorp/yamux), not bounded by 16 KiB.
    pub whole_window_frames: bool,
}

impl Quirks {
    /// No quirk at all.
    pub const fn none() -> Self {
        Quirks {
            flags_before_payload: false,
            lazy_ack: false,
            go_away_terminates: false,
            fin_on_window_update: false,
            whole_window_frames: false,
        }
    }

    /// hashicorp/yamux: flags before payload, ACK at accept, GoAway(0)
    /// drains, FIN on a WindowUpdate, frames as large as the window.
    pub const fn hashicorp() -> Self {
        Quirks::none()
            .with_flags_before_payload(true)
            .with_fin_on_window_update(true)
            .with_whole_window_frames(true)
    }

    /// go-yamux: flags before payload, ACK at accept, GoAway(0)
    /// terminates, FIN on a WindowUpdate.
    pub const fn go_yamux() -> Self {
        Quirks::none()
            .with_flags_before_payload(true)
            .with_go_away_terminates(true)
            .with_fin_on_window_update(true)
    }

    /// The `yamux` crate: lazy ACK, FIN on a WindowUpdate.
    pub const fn yamux_crate() -> Self {
        Quirks::none()
            .with_lazy_ack(true)
            .with_fin_on_window_update(true)
    }

    /// Sets [`flags_before_payload`](Self::flags_before_payload).
    #[must_use]
    pub const fn with_flags_before_payload(mut self, on: bool) -> Self {
        self.flags_before_payload = on;
        self
    }

    /// Sets [`lazy_ack`](Self::lazy_ack).
    #[must_use]
    pub const fn with_lazy_ack(mut self, on: bool) -> Self {
        self.lazy_ack = on;
        self
    }

    /// Sets [`go_away_terminates`](Self::go_away_terminates).
    #[must_use]
    pub const fn with_go_away_terminates(mut self, on: bool) -> Self {
        self.go_away_terminates = on;
        self
    }

    /// Sets [`fin_on_window_update`](Self::fin_on_window_update).
    #[must_use]
    pub const fn with_fin_on_window_update(mut self, on: bool) -> Self {
        self.fin_on_window_update = on;
        self
    }

    /// Sets [`whole_window_frames`](Self::whole_window_frames).
    #[must_use]
    pub const fn with_whole_window_frames(mut self, on: bool) -> Self {
        self.whole_window_frames = on;
        self
    }
}

/// Data a [`PeerModel`] received but its reader could never have seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loss {
    /// The stream.
    pub stream: StreamId,
    /// How many bytes were lost.
    pub bytes: u32,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.bytes == 1 { "" } else { "s" };
        write!(
            f,
            "lost {} byte{plural} of stream {}: a Data frame carried FIN with its payload, and \
             a peer that applies flags before the payload shows its reader the end first",
            self.bytes, self.stream
        )
    }
}

/// Why a [`PeerModel`]'s session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerClose {
    /// The peer sent a GoAway with this code, and it ended the session (any
    /// code but 0, or 0 under [`Quirks::go_away_terminates`]).
    GoAway {
        /// The code.
        code: u32,
    },
    /// The transport ended.
    TransportClosed,
    /// The peer broke the protocol; the model sent GoAway(1).
    Protocol(ProtocolError),
}

impl fmt::Display for PeerClose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerClose::GoAway { code } => write!(f, "peer sent GoAway({code})"),
            PeerClose::TransportClosed => f.write_str("transport closed"),
            PeerClose::Protocol(e) => write!(f, "protocol error: {e}"),
        }
    }
}

/// Why a [`PeerModel`] command did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerError {
    /// Nothing to read yet.
    Blocked,
    /// No such stream (or not yet accepted).
    UnknownStream,
    /// The stream was already finished for writing.
    Finished,
    /// The stream was reset.
    Reset {
        /// Who reset it, with the code: [`ResetBy::Peer`] for an RST the
        /// model received, [`ResetBy::Application`] for
        /// [`PeerModel::reset`]. The model never resets a stream on its
        /// own, so [`ResetBy::Session`] does not occur.
        by: ResetBy,
    },
    /// The session ended under the stream.
    SessionEnded(PeerClose),
    /// The peer sent GoAway(0): it takes no new streams.
    PeerGoingAway,
    /// Every stream id of the model's parity has been used.
    IdsExhausted,
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Blocked => f.write_str("nothing to read yet"),
            PeerError::UnknownStream => f.write_str("unknown stream"),
            PeerError::Finished => f.write_str("stream already finished"),
            PeerError::Reset { by } => write!(f, "stream reset {by}"),
            PeerError::SessionEnded(reason) => write!(f, "session ended: {reason}"),
            PeerError::PeerGoingAway => f.write_str("peer is going away"),
            PeerError::IdsExhausted => f.write_str("stream ids exhausted"),
        }
    }
}

impl core::error::Error for PeerError {}

/// One stream as the model keeps it.
#[derive(Debug)]
struct PeerStream {
    /// Whether the model opened it.
    local: bool,
    /// Whether the model's application has it (always for local streams).
    accepted: bool,
    /// Local streams: whether the SYN went out.
    syn_sent: bool,
    /// Inbound streams: whether the ACK went out.
    ack_sent: bool,
    /// Local streams: whether the peer acknowledged.
    acked: bool,
    send_buf: VecDeque<u8>,
    send_window: u32,
    fin_queued: bool,
    fin_sent: bool,
    recv_buf: VecDeque<u8>,
    recv_window: u32,
    /// Read by the application, not yet granted back.
    unreturned: u32,
    fin_received: bool,
    /// Set once the stream can no longer be used.
    failed: Option<PeerError>,
    /// An RST the application asked for, with its code, not yet sent.
    rst_pending: Option<u32>,
}

impl PeerStream {
    fn new(local: bool) -> Self {
        PeerStream {
            local,
            accepted: local,
            syn_sent: !local,
            ack_sent: local,
            acked: false,
            send_buf: VecDeque::new(),
            send_window: INITIAL_STREAM_WINDOW,
            fin_queued: false,
            fin_sent: false,
            recv_buf: VecDeque::new(),
            recv_window: INITIAL_STREAM_WINDOW,
            unreturned: 0,
            fin_received: false,
            failed: None,
            rst_pending: None,
        }
    }

    fn fail(&mut self, error: PeerError) {
        if self.failed.is_none() {
            self.failed = Some(error);
            self.send_buf.clear();
            self.recv_buf.clear();
        }
    }

    /// SYN and ACK still owed, taken for a frame about to go out.
    fn take_open_flags(&mut self) -> Flags {
        let mut flags = Flags::NONE;
        if !core::mem::replace(&mut self.syn_sent, true) {
            flags |= Flags::SYN;
        }
        if self.accepted && !core::mem::replace(&mut self.ack_sent, true) {
            flags |= Flags::ACK;
        }
        flags
    }
}

/// A small, independent yamux peer for tests, with the [`Quirks`] of real
/// implementations. It implements [`Endpoint`], so a [`Pair`](super::Pair)
/// can put it opposite a muxplex session; its application side is the
/// methods below, addressed by stream id.
#[derive(Debug)]
pub struct PeerModel {
    role: Role,
    quirks: Quirks,
    streams: BTreeMap<StreamId, PeerStream>,
    /// The id the next local stream gets; `None` once exhausted.
    next_id: Option<u32>,
    accept_queue: VecDeque<StreamId>,
    decoder: FrameDecoder,
    /// Session frames and refusals waiting to go out, before stream frames.
    control: VecDeque<Header>,
    /// Frames built and not yet transmitted.
    out: BytesMut,
    /// Set once the model sent GoAway: SYNs are refused.
    going_away: bool,
    /// Set once the peer sent a draining GoAway(0): no new local streams.
    peer_going_away: bool,
    closed: Option<PeerClose>,
    losses: Vec<Loss>,
    largest_data_frame: u32,
}

impl PeerModel {
    /// A model for this end of the transport, with these quirks.
    pub fn new(role: Role, quirks: Quirks) -> Self {
        PeerModel {
            role,
            quirks,
            streams: BTreeMap::new(),
            next_id: Some(match role {
                Role::Client => 1,
                Role::Server => 2,
            }),
            accept_queue: VecDeque::new(),
            decoder: FrameDecoder::new(MAX_FRAME_SIZE_LIMIT),
            control: VecDeque::new(),
            out: BytesMut::new(),
            going_away: false,
            peer_going_away: false,
            closed: None,
            losses: Vec::new(),
            largest_data_frame: 0,
        }
    }

    /// The quirks it plays.
    pub fn quirks(&self) -> Quirks {
        self.quirks
    }

    /// Data lost so far (only under [`Quirks::flags_before_payload`]).
    pub fn losses(&self) -> &[Loss] {
        &self.losses
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<PeerClose> {
        self.closed
    }

    /// The largest Data payload the model has sent in one frame.
    pub fn largest_data_frame(&self) -> u32 {
        self.largest_data_frame
    }

    /// Whether the peer acknowledged a stream the model opened.
    pub fn is_acknowledged(&self, id: StreamId) -> bool {
        self.streams.get(&id).is_some_and(|s| s.local && s.acked)
    }

    /// Opens a stream; its SYN goes out with the next transmission.
    pub fn open_stream(&mut self) -> Result<StreamId, PeerError> {
        if let Some(reason) = self.closed {
            return Err(PeerError::SessionEnded(reason));
        }
        if self.peer_going_away {
            return Err(PeerError::PeerGoingAway);
        }
        let value = self.next_id.ok_or(PeerError::IdsExhausted)?;
        self.next_id = value.checked_add(2);
        let id = StreamId::new(value);
        self.streams.insert(id, PeerStream::new(true));
        Ok(id)
    }

    /// Takes the oldest stream the peer opened, if any; the ACK goes out
    /// now, or under [`Quirks::lazy_ack`] with the stream's first frame.
    pub fn accept_stream(&mut self) -> Option<StreamId> {
        let id = self.accept_queue.pop_front()?;
        self.streams.get_mut(&id)?.accepted = true;
        Some(id)
    }

    /// A stream the application holds, unless it can no longer be used.
    fn usable(&mut self, id: StreamId) -> Result<&mut PeerStream, PeerError> {
        let stream = self
            .streams
            .get_mut(&id)
            .filter(|s| s.accepted)
            .ok_or(PeerError::UnknownStream)?;
        match stream.failed {
            Some(error) => Err(error),
            None => Ok(stream),
        }
    }

    /// Queues all of `data` for sending; it leaves as windows allow.
    pub fn write(&mut self, id: StreamId, data: &[u8]) -> Result<(), PeerError> {
        let closed = self.closed;
        let stream = self.usable(id)?;
        if stream.fin_queued {
            return Err(PeerError::Finished);
        }
        if let Some(reason) = closed {
            return Err(PeerError::SessionEnded(reason));
        }
        stream.send_buf.extend(data);
        Ok(())
    }

    /// Reads into `buf` (non-empty); `Ok(0)` is the end of the stream.
    pub fn read(&mut self, id: StreamId, buf: &mut [u8]) -> Result<usize, PeerError> {
        let stream = self.usable(id)?;
        if stream.recv_buf.is_empty() {
            return match stream.fin_received {
                true => Ok(0),
                false => Err(PeerError::Blocked),
            };
        }
        let n = buf.len().min(stream.recv_buf.len());
        for (slot, byte) in buf.iter_mut().zip(stream.recv_buf.drain(..n)) {
            *slot = byte;
        }
        // At most a window's worth is ever buffered, so within a u32.
        stream.unreturned += n as u32;
        Ok(n)
    }

    /// Finishes the stream for writing: FIN follows the buffered data.
    pub fn finish(&mut self, id: StreamId) -> Result<(), PeerError> {
        let closed = self.closed;
        let stream = self.usable(id)?;
        if stream.fin_queued {
            return Err(PeerError::Finished);
        }
        if let Some(reason) = closed {
            return Err(PeerError::SessionEnded(reason));
        }
        stream.fin_queued = true;
        Ok(())
    }

    /// Resets the stream with an error code (in the RST WindowUpdate's
    /// length, as go-yamux sends it); buffered data is dropped.
    pub fn reset(&mut self, id: StreamId, code: u32) -> Result<(), PeerError> {
        let stream = self.usable(id)?;
        // A peer that never got the SYN needs no RST.
        if stream.syn_sent {
            stream.rst_pending = Some(code);
        }
        stream.fail(PeerError::Reset {
            by: ResetBy::Application { code },
        });
        Ok(())
    }

    /// Sends GoAway(`code`) and refuses, with RST, every stream the peer
    /// opens from now on; streams already open go on.
    pub fn go_away(&mut self, code: u32) {
        if self.closed.is_none() {
            self.going_away = true;
            self.control
                .push_back(Header::new(FrameType::GoAway, Flags::NONE, 0, code));
        }
    }

    fn peer_role(&self) -> Role {
        match self.role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    /// Ends the session: streams whose peer had not finished fail, streams
    /// it had finished stay readable, and nothing more is written.
    fn end(&mut self, reason: PeerClose) {
        if self.closed.is_some() {
            return;
        }
        self.closed = Some(reason);
        self.control.clear();
        for stream in self.streams.values_mut() {
            stream.send_buf.clear();
            if !stream.fin_received {
                stream.fail(PeerError::SessionEnded(reason));
            }
        }
    }

    fn protocol_error(&mut self, error: ProtocolError) {
        self.end(PeerClose::Protocol(error));
        self.control.push_back(Header::new(
            FrameType::GoAway,
            Flags::NONE,
            0,
            GOAWAY_PROTOCOL_ERROR,
        ));
    }

    fn on_frame(&mut self, frame: Frame) {
        let header = frame.header;
        match header.frame_type {
            FrameType::Ping => {
                if header.flags.contains(Flags::SYN) {
                    self.control.push_back(Header::new(
                        FrameType::Ping,
                        Flags::ACK,
                        0,
                        header.length,
                    ));
                }
            }
            FrameType::GoAway => {
                if header.length != GOAWAY_NORMAL || self.quirks.go_away_terminates {
                    self.end(PeerClose::GoAway {
                        code: header.length,
                    });
                } else {
                    self.peer_going_away = true;
                }
            }
            FrameType::Data | FrameType::WindowUpdate => self.on_stream_frame(frame),
        }
    }

    /// Registers a stream the peer opens; false if there is none to go on
    /// with (refused, or a protocol error ended the session).
    fn open_inbound(&mut self, id: StreamId) -> bool {
        if id.opener() != Some(self.peer_role()) {
            self.protocol_error(ProtocolError::InvalidStreamId { stream: id });
            return false;
        }
        if self.streams.contains_key(&id) {
            self.protocol_error(ProtocolError::DuplicateStream { stream: id });
            return false;
        }
        if self.going_away {
            let refusal = Header::new(FrameType::WindowUpdate, Flags::RST, id.get(), 0);
            self.control.push_back(refusal);
            return false;
        }
        self.streams.insert(id, PeerStream::new(false));
        self.accept_queue.push_back(id);
        true
    }

    fn on_stream_frame(&mut self, frame: Frame) {
        let Frame { header, payload } = frame;
        let id = StreamId::new(header.stream_id);
        let flags = header.flags;
        if flags.contains(Flags::SYN) && !self.open_inbound(id) {
            return;
        }
        let flags_first = self.quirks.flags_before_payload;
        let Some(stream) = self.streams.get_mut(&id) else {
            return; // Unknown or refused: dropped.
        };
        let length = payload.len() as u32;
        if length > stream.recv_window {
            let window = stream.recv_window;
            return self.protocol_error(ProtocolError::FlowControlViolation {
                stream: id,
                length,
                window,
            });
        }
        stream.recv_window -= length;
        if flags.contains(Flags::ACK) && stream.local {
            stream.acked = true;
        }
        if flags.contains(Flags::RST) {
            let code = match header.frame_type {
                FrameType::WindowUpdate => header.length,
                _ => 0,
            };
            return stream.fail(PeerError::Reset {
                by: ResetBy::Peer { code },
            });
        }
        let receiving = stream.failed.is_none() && !stream.fin_received;
        let fin = flags.contains(Flags::FIN);
        if receiving && length > 0 {
            if fin && flags_first {
                // The end of the stream reaches the reader first.
                stream.fin_received = true;
                self.losses.push(Loss {
                    stream: id,
                    bytes: length,
                });
                return;
            }
            stream.recv_buf.extend(&payload[..]);
        }
        if header.frame_type == FrameType::WindowUpdate {
            let Some(window) = stream.send_window.checked_add(header.length) else {
                return self.protocol_error(ProtocolError::WindowOverflow { stream: id });
            };
            stream.send_window = window;
        }
        if fin {
            stream.fin_received = true;
        }
    }

    /// Appends every frame now due to the output: session frames first,
    /// then each stream's, in id order.
    fn flush(&mut self) {
        while let Some(header) = self.control.pop_front() {
            encode_frame(&header, &[], &mut self.out);
        }
        if self.closed.is_none() {
            for (&id, stream) in &mut self.streams {
                let sent = flush_stream(id, stream, self.quirks, &mut self.out);
                self.largest_data_frame = self.largest_data_frame.max(sent);
            }
        }
    }
}

/// Appends the frames one stream now needs; returns its largest Data
/// payload.
fn flush_stream(id: StreamId, stream: &mut PeerStream, quirks: Quirks, out: &mut BytesMut) -> u32 {
    let id = id.get();
    if stream.failed.is_some() {
        if let Some(code) = stream.rst_pending.take() {
            let flags = stream.take_open_flags() | Flags::RST;
            encode_frame(
                &Header::new(FrameType::WindowUpdate, flags, id, code),
                &[],
                out,
            );
        }
        return 0;
    }
    if !stream.accepted {
        return 0;
    }
    let limit = match quirks.whole_window_frames {
        true => u32::MAX,
        false => FRAME_SIZE,
    };
    let mut largest = 0;
    while !stream.send_buf.is_empty() && stream.send_window > 0 {
        let buffered = u32::try_from(stream.send_buf.len()).unwrap_or(u32::MAX);
        let len = buffered.min(stream.send_window).min(limit);
        let mut flags = stream.take_open_flags();
        if len == buffered && stream.fin_queued && !quirks.fin_on_window_update {
            flags |= Flags::FIN;
            stream.fin_sent = true;
        }
        let payload: Vec<u8> = stream.send_buf.drain(..len as usize).collect();
        stream.send_window -= len;
        largest = largest.max(len);
        encode_frame(&Header::new(FrameType::Data, flags, id, len), &payload, out);
    }
    let credit_due = !stream.fin_received && stream.unreturned >= CREDIT_THRESHOLD;
    let fin_due = stream.fin_queued && !stream.fin_sent && stream.send_buf.is_empty();
    let syn_due = !stream.syn_sent;
    let ack_due = !stream.ack_sent && !quirks.lazy_ack;
    if credit_due || fin_due || syn_due || ack_due {
        let mut flags = stream.take_open_flags();
        if fin_due {
            flags |= Flags::FIN;
            stream.fin_sent = true;
        }
        let delta = match credit_due {
            true => core::mem::take(&mut stream.unreturned),
            false => 0,
        };
        stream.recv_window += delta;
        encode_frame(
            &Header::new(FrameType::WindowUpdate, flags, id, delta),
            &[],
            out,
        );
    }
    largest
}

impl Endpoint for PeerModel {
    fn role(&self) -> Role {
        self.role
    }

    fn handle_input(&mut self, _now: Instant, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.closed.is_none() {
            match self.decoder.decode(&mut bytes) {
                Ok(Some(frame)) => self.on_frame(frame),
                Ok(None) => {}
                Err(e) => self.protocol_error(e.into()),
            }
        }
    }

    fn handle_eof(&mut self, _now: Instant) {
        self.end(PeerClose::TransportClosed);
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        if self.out.is_empty() {
            self.flush();
        }
        let n = buf.len().min(self.out.len());
        buf[..n].copy_from_slice(&self.out.split_to(n));
        n
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    /// The protocol's rules, with the model's own frame size, and FIN on
    /// data allowed unless [`Quirks::fin_on_window_update`] promises
    /// otherwise.
    fn wire_audit(&self) -> WireAudit {
        let max_frame_size = match self.quirks.whole_window_frames {
            true => u32::MAX,
            false => FRAME_SIZE,
        };
        WireAudit::new(self.role, max_frame_size)
            .with_fin_on_data(!self.quirks.fin_on_window_update)
    }

    /// The first [`Loss`], or the protocol error that ended the session.
    fn fault(&self) -> Option<&dyn fmt::Display> {
        if let Some(loss) = self.losses.first() {
            return Some(loss);
        }
        match &self.closed {
            Some(PeerClose::Protocol(error)) => Some(error),
            _ => None,
        }
    }
}

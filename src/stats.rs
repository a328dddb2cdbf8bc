//! What a session counts about itself, for an operator asking why a
//! connection is slow, who reset a stream or how much a peer buffers.
//!
//! [`Session::stats`](crate::Session::stats) returns a [`SessionStats`]
//! snapshot and [`Stream::stats`](crate::Stream::stats) a [`StreamStats`].
//! The counters are plain integers bumped where the event happens, always
//! on: no clock is read (times come from the host's `now`, as everywhere in
//! the core) and nothing is allocated for an idle stream. The session calls
//! the hooks below at its event sites; the logic (and the logging, see
//! [`crate::logging`]) lives here.

use alloc::boxed::Box;
use core::time::Duration;

use crate::error::{CloseReason, ProtocolError, ResetBy, ResetCause};
#[cfg(any(feature = "log", feature = "defmt"))]
use crate::frame::FrameError;
use crate::frame::{FrameType, HEADER_LEN, Header};
use crate::logging::{ShowHeader, mux_log};
use crate::stream::{NEVER_GRANTED, StreamState};
use crate::stream_id::StreamId;
use crate::time::Instant;
use crate::transmit::Transmit;

/// Frames of one type and their bytes on the wire, headers included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    /// How many frames.
    pub frames: u64,
    /// Their bytes: 12 per header plus Data payloads.
    pub bytes: u64,
}

/// Frames and bytes of one direction, by frame type. Received frames count
/// once their header is in (a payload then follows), sent ones when the
/// session hands them to the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameCounts {
    /// Data frames.
    pub data: Count,
    /// WindowUpdate frames (window grants, and SYN, ACK, FIN or RST
    /// without data).
    pub window_update: Count,
    /// Pings and their answers.
    pub ping: Count,
    /// GoAway frames.
    pub go_away: Count,
}

impl FrameCounts {
    /// The count for one frame type.
    pub fn of(&self, frame_type: FrameType) -> Count {
        match frame_type {
            FrameType::Data => self.data,
            FrameType::WindowUpdate => self.window_update,
            FrameType::Ping => self.ping,
            FrameType::GoAway => self.go_away,
        }
    }

    /// All frame types together.
    pub fn total(&self) -> Count {
        let all = [self.data, self.window_update, self.ping, self.go_away];
        Count {
            frames: all.iter().map(|c| c.frames).sum(),
            bytes: all.iter().map(|c| c.bytes).sum(),
        }
    }

    fn record(&mut self, header: &Header) {
        let count = match header.frame_type {
            FrameType::Data => &mut self.data,
            FrameType::WindowUpdate => &mut self.window_update,
            FrameType::Ping => &mut self.ping,
            FrameType::GoAway => &mut self.go_away,
        };
        count.frames += 1;
        count.bytes += (HEADER_LEN + header.payload_len() as usize) as u64;
    }
}

/// Streams the peer opened that the session refused with an RST, by why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusals {
    /// The accept queue held [`Config::accept_backlog`](crate::Config)
    /// streams: the application does not accept fast enough.
    pub backlog: u64,
    /// The session held [`Config::max_streams`](crate::Config) streams.
    pub max_streams: u64,
    /// A graceful close was under way (including streams still waiting to
    /// be accepted when it began).
    pub closing: u64,
}

impl Refusals {
    /// All refusals.
    pub fn total(&self) -> u64 {
        self.backlog + self.max_streams + self.closing
    }
}

/// Streams reset, by who and why (the vocabulary of [`ResetBy`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resets {
    /// Reset by the peer's RST.
    pub peer: u64,
    /// The code of the peer's latest RST.
    pub last_peer_code: Option<u32>,
    /// Reset by the application ([`Stream::reset`](crate::Stream::reset)).
    pub application: u64,
    /// Reset by the session: [`ResetCause::OpenTimeout`].
    pub open_timeout: u64,
    /// Reset by the session: [`ResetCause::StreamCloseTimeout`].
    pub stream_close_timeout: u64,
    /// Reset by the session: [`ResetCause::CloseTimeout`].
    pub close_timeout: u64,
    /// Reset by the session: [`ResetCause::PeerGoingAway`].
    pub peer_going_away: u64,
    /// Reset by the session: [`ResetCause::BufferFull`].
    pub buffer_full: u64,
}

impl Resets {
    /// How many the session reset for `cause`.
    pub fn by_session(&self, cause: ResetCause) -> u64 {
        match cause {
            ResetCause::OpenTimeout => self.open_timeout,
            ResetCause::StreamCloseTimeout => self.stream_close_timeout,
            ResetCause::CloseTimeout => self.close_timeout,
            ResetCause::PeerGoingAway => self.peer_going_away,
            ResetCause::BufferFull => self.buffer_full,
        }
    }

    /// All resets, by anyone.
    pub fn total(&self) -> u64 {
        self.peer
            + self.application
            + self.open_timeout
            + self.stream_close_timeout
            + self.close_timeout
            + self.peer_going_away
            + self.buffer_full
    }

    fn record(&mut self, by: ResetBy) {
        let counter = match by {
            ResetBy::Peer { code } => {
                self.last_peer_code = Some(code);
                &mut self.peer
            }
            ResetBy::Application { .. } => &mut self.application,
            ResetBy::Session(ResetCause::OpenTimeout) => &mut self.open_timeout,
            ResetBy::Session(ResetCause::StreamCloseTimeout) => &mut self.stream_close_timeout,
            ResetBy::Session(ResetCause::CloseTimeout) => &mut self.close_timeout,
            ResetBy::Session(ResetCause::PeerGoingAway) => &mut self.peer_going_away,
            ResetBy::Session(ResetCause::BufferFull) => &mut self.buffer_full,
        };
        *counter += 1;
    }
}

/// Streams over the session's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Streams {
    /// Opened by us ([`Session::open_stream`](crate::Session::open_stream)).
    pub opened: u64,
    /// Opened by the peer and taken in (announced as incoming).
    pub incoming: u64,
    /// Incoming streams the application accepted.
    pub accepted: u64,
    /// Opened by the peer and refused.
    pub refused: Refusals,
    /// Reset, by anyone.
    pub reset: Resets,
    /// Ended cleanly: finished both ways and freed.
    pub finished: u64,
}

/// Our pings: the application's, keepalives and round-trip samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pings {
    /// Pings we sent.
    pub sent: u64,
    /// Of those, answered.
    pub answered: u64,
    /// The smoothed round-trip time, as [`Session::rtt`](crate::Session::rtt).
    pub smoothed_rtt: Option<Duration>,
    /// The smallest round trip measured.
    pub min_rtt: Option<Duration>,
}

/// Writes that came up short and waited for room: how often, how long.
/// Each wait counts once when it begins; its time is added when the writer
/// is told it may write again ([`Event::Writable`](crate::Event)) or the
/// stream is freed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Blocked {
    /// Waits begun.
    pub count: u64,
    /// Their time, on the host's clock.
    pub time: Duration,
}

/// Bytes held in memory: now and at the most.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Buffered {
    /// Received and not yet read by the application, now.
    pub received: usize,
    /// The most ever held received and unread.
    pub peak_received: usize,
    /// Written by the application and not yet framed, now.
    pub unsent: usize,
    /// The most ever held written and unsent.
    pub peak_unsent: usize,
}

/// GoAway frames each way, with their codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GoAways {
    /// GoAways we sent.
    pub sent: u64,
    /// The code of the latest we sent.
    pub last_sent_code: Option<u32>,
    /// GoAways the peer sent.
    pub received: u64,
    /// The code of the latest the peer sent.
    pub last_received_code: Option<u32>,
}

/// A snapshot of a session's counters, from
/// [`Session::stats`](crate::Session::stats). All counts run from the
/// session's start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Frames and bytes we sent, by type.
    pub sent: FrameCounts,
    /// Frames and bytes the peer sent, by type.
    pub received: FrameCounts,
    /// Streams opened, accepted, refused, reset and finished.
    pub streams: Streams,
    /// Our pings and the round-trip times they measured.
    pub pings: Pings,
    /// Writes cut short by the peer's stream window: the peer (or its
    /// application) does not read fast enough, or its window is small.
    pub window_blocked: Blocked,
    /// Writes cut short by the session's send budget
    /// ([`Config::max_send_buffer`](crate::Config)) while the window had
    /// room: the transport does not drain fast enough.
    pub budget_blocked: Blocked,
    /// Bytes buffered each way.
    pub buffered: Buffered,
    /// GoAways each way.
    pub go_aways: GoAways,
}

/// A snapshot of one stream's counters, from
/// [`Stream::stats`](crate::Stream::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStats {
    /// Payload bytes sent in Data frames.
    pub sent: u64,
    /// Payload bytes the peer sent, read or not.
    pub received: u64,
    /// Bytes the peer's window still lets us send.
    pub send_window: u32,
    /// Bytes our window still lets the peer send.
    pub recv_window: u32,
    /// Written and not yet framed.
    pub unsent: usize,
    /// Received and not yet read.
    pub buffered: usize,
    /// Whether a write is waiting for room now.
    pub blocked: bool,
    /// Time writes waited for room (the peer's window or the send budget),
    /// the current wait included.
    pub blocked_time: Duration,
}

/// Per-stream counters, allocated when a stream first moves data or
/// waits: an idle stream pays one pointer, which replaces the window
/// auto-tuning's last grant time it carries too (grants only follow
/// received data).
#[derive(Debug)]
pub(crate) struct StreamActivity {
    /// When we last granted the peer credit (see `Session::grow_window`);
    /// [`NEVER_GRANTED`] before the first grant.
    pub(crate) last_grant: Instant,
    sent: u64,
    received: u64,
    blocked_time: Duration,
    /// Since when a write waits, and whether the send budget (not the
    /// window) cut it short.
    blocked_since: Option<(Instant, bool)>,
}

impl Default for StreamActivity {
    fn default() -> Self {
        StreamActivity {
            last_grant: NEVER_GRANTED,
            sent: 0,
            received: 0,
            blocked_time: Duration::ZERO,
            blocked_since: None,
        }
    }
}

/// A new wait of a writer, for [`Stats::on_write_blocked`]: `None` when the
/// writer was already waiting.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewWait(Option<bool>);

impl StreamState {
    /// The stream's counters, allocated on first use.
    pub(crate) fn activity(&mut self) -> &mut StreamActivity {
        self.activity.get_or_insert_with(Box::default)
    }

    /// A Data frame of `len` payload bytes left.
    pub(crate) fn on_data_sent(&mut self, len: u32) {
        self.activity().sent += u64::from(len);
    }

    /// A Data frame of `len` payload bytes was accepted from the peer.
    pub(crate) fn on_data_received(&mut self, len: u32) {
        self.activity().received += u64::from(len);
    }

    /// A write came up short at `now`; `by_budget` when the send budget,
    /// not the window, cut it.
    pub(crate) fn on_writer_blocked(&mut self, now: Instant, by_budget: bool) -> NewWait {
        let activity = self.activity();
        if activity.blocked_since.is_some() {
            return NewWait(None);
        }
        activity.blocked_since = Some((now, by_budget));
        NewWait(Some(by_budget))
    }

    /// The stream's counters as the application sees them at `now`.
    pub(crate) fn stats(&self, now: Instant) -> StreamStats {
        let mut stats = StreamStats {
            send_window: self.send_window,
            recv_window: self.recv_window,
            unsent: self.send_buf.len(),
            buffered: self.recv_buf.len() as usize,
            ..StreamStats::default()
        };
        if let Some(activity) = &self.activity {
            stats.sent = activity.sent;
            stats.received = activity.received;
            stats.blocked_time = activity.blocked_time;
            if let Some((since, _)) = activity.blocked_since {
                stats.blocked = true;
                stats.blocked_time += now.saturating_duration_since(since);
            }
        }
        stats
    }
}

/// The session's counters, bumped by the hooks at its event sites.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    stats: SessionStats,
    /// The latest header received, shown with a protocol error.
    #[cfg(any(feature = "log", feature = "defmt"))]
    last_in: Option<Header>,
}

impl Stats {
    /// The snapshot, with what the session holds elsewhere filled in.
    pub(crate) fn snapshot(
        &self,
        smoothed_rtt: Option<Duration>,
        received: usize,
        unsent: usize,
    ) -> SessionStats {
        let mut stats = self.stats;
        stats.pings.smoothed_rtt = smoothed_rtt;
        stats.buffered.received = received;
        stats.buffered.unsent = unsent;
        stats
    }

    /// A header arrived from the peer.
    pub(crate) fn on_frame_in(&mut self, header: &Header) {
        self.stats.received.record(header);
        mux_log!(trace, "recv {}", ShowHeader(*header));
        #[cfg(any(feature = "log", feature = "defmt"))]
        {
            self.last_in = Some(*header);
        }
        if header.frame_type == FrameType::GoAway {
            let go_aways = &mut self.stats.go_aways;
            go_aways.received += 1;
            go_aways.last_received_code = Some(header.length);
            mux_log!(debug, "peer sent GoAway with code {}", header.length);
        }
    }

    /// A frame goes to the host; returned as it came.
    pub(crate) fn on_frame_out(&mut self, frame: Transmit) -> Transmit {
        // Fresh from the session, the frame's 12 header bytes are all there.
        let header = frame
            .header()
            .try_into()
            .ok()
            .and_then(|bytes| Header::decode(bytes).ok());
        if let Some(header) = header {
            self.stats.sent.record(&header);
            mux_log!(trace, "send {}", ShowHeader(header));
            if header.frame_type == FrameType::GoAway {
                let go_aways = &mut self.stats.go_aways;
                go_aways.sent += 1;
                go_aways.last_sent_code = Some(header.length);
                mux_log!(debug, "sending GoAway with code {}", header.length);
            }
        }
        frame
    }

    /// We opened a stream.
    pub(crate) fn on_opened(&mut self) {
        self.stats.streams.opened += 1;
    }

    /// The peer opened a stream and the session took it in.
    pub(crate) fn on_incoming(&mut self) {
        self.stats.streams.incoming += 1;
    }

    /// The application accepted a stream.
    pub(crate) fn on_accepted(&mut self) {
        self.stats.streams.accepted += 1;
    }

    /// A stream the peer opened is refused: the session is `closing`, or
    /// the accept queue is full (`backlog_full`), or else `max_streams` is
    /// reached.
    pub(crate) fn on_refused(&mut self, id: StreamId, closing: bool, backlog_full: bool) {
        let refused = &mut self.stats.streams.refused;
        let (counter, why) = if closing {
            (&mut refused.closing, "the session is closing")
        } else if backlog_full {
            (&mut refused.backlog, "the accept backlog is full")
        } else {
            (&mut refused.max_streams, "max_streams is reached")
        };
        *counter += 1;
        mux_log!(debug, "refused stream {}: {}", id, why);
    }

    /// A stream was reset by the peer or the session.
    pub(crate) fn on_reset(&mut self, id: StreamId, by: ResetBy) {
        self.stats.streams.reset.record(by);
        mux_log!(debug, "stream {} reset {}", id, by);
    }

    /// The application reset `stream` with `code`; counted unless it was
    /// reset already.
    pub(crate) fn on_application_reset(&mut self, id: StreamId, stream: &StreamState, code: u32) {
        if stream.reset.is_none() {
            self.on_reset(id, ResetBy::Application { code });
        }
    }

    /// A stream's state is freed at `now`: it finished if both directions
    /// ended, and a wait of its writer ends here.
    pub(crate) fn on_stream_freed(&mut self, stream: &mut StreamState, now: Instant) {
        if stream.is_done() {
            self.stats.streams.finished += 1;
        }
        self.on_write_unblocked(stream, now);
    }

    /// A write came up short; counts the wait if it is a new one.
    pub(crate) fn on_write_blocked(&mut self, wait: NewWait) {
        match wait.0 {
            Some(true) => self.stats.budget_blocked.count += 1,
            Some(false) => self.stats.window_blocked.count += 1,
            None => {}
        }
    }

    /// The stream's writer may write again at `now`: its wait ends.
    pub(crate) fn on_write_unblocked(&mut self, stream: &mut StreamState, now: Instant) {
        let Some(activity) = stream.activity.as_deref_mut() else {
            return;
        };
        let Some((since, by_budget)) = activity.blocked_since.take() else {
            return;
        };
        let waited = now.saturating_duration_since(since);
        activity.blocked_time += waited;
        match by_budget {
            true => self.stats.budget_blocked.time += waited,
            false => self.stats.window_blocked.time += waited,
        }
    }

    /// We sent a ping.
    pub(crate) fn on_ping_sent(&mut self) {
        self.stats.pings.sent += 1;
    }

    /// One of our pings was answered after `rtt`.
    pub(crate) fn on_pong(&mut self, rtt: Duration) {
        let pings = &mut self.stats.pings;
        pings.answered += 1;
        pings.min_rtt = Some(pings.min_rtt.map_or(rtt, |min| min.min(rtt)));
    }

    /// Received bytes held for the application grew to `total`.
    pub(crate) fn on_buffered_received(&mut self, total: usize) {
        let peak = &mut self.stats.buffered.peak_received;
        *peak = (*peak).max(total);
    }

    /// Written bytes not yet framed grew to `total`.
    pub(crate) fn on_buffered_unsent(&mut self, total: usize) {
        let peak = &mut self.stats.buffered.peak_unsent;
        *peak = (*peak).max(total);
    }

    /// The peer broke the protocol; logged with the header it came in.
    pub(crate) fn on_protocol_error(&self, error: &ProtocolError) {
        mux_log!(warn, "protocol error: {}", error);
        #[cfg(any(feature = "log", feature = "defmt"))]
        {
            // A header that failed to decode never became `last_in`.
            let undecodable = matches!(
                error,
                ProtocolError::Frame(
                    FrameError::UnsupportedVersion(_) | FrameError::UnknownFrameType(_)
                )
            );
            if let Some(header) = self.last_in.filter(|_| !undecodable) {
                mux_log!(debug, "the latest header received: {}", ShowHeader(header));
            }
        }
    }

    /// The session ended: a warning for a failure, news otherwise.
    pub(crate) fn on_end(&self, reason: CloseReason) {
        match reason {
            CloseReason::LocalClose
            | CloseReason::LocalAbort { code: 0 }
            | CloseReason::PeerGoAway { code: 0 } => {
                mux_log!(debug, "session closed: {}", reason);
            }
            _ => mux_log!(warn, "session closed: {}", reason),
        }
    }
}

//! What a session counts about itself, for an operator asking why a
//! connection is slow, who reset a stream or how much a peer buffers.
//!
//! [`Session::stats`](crate::Session::stats) returns a [`SessionStats`]
//! snapshot and [`Stream::stats`](crate::Stream::stats) a [`StreamStats`].
//! The counters are plain integers bumped where the event happens, always
//! on: no clock is read (times come from the host's `now`, as everywhere in
//! the core) and nothing is allocated for an idle stream.

// The session calls the hooks below at its event sites; the logic, and the
// logging of the `log` and `defmt` features (see `crate::logging`), lives
// here.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use core::time::Duration;

use crate::error::{CloseReason, ProtocolError, ResetBy, ResetCause};
#[cfg(any(feature = "log", feature = "defmt"))]
use crate::frame::FrameError;
use crate::frame::{Flags, FrameType, HEADER_LEN, Header};
use crate::logging::{ShowHeader, mux_log};
use crate::stream::StreamState;
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
/// once their header is in and payload bytes as they arrive; sent ones
/// when the session hands them to the host.
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
    /// Pings we sent: handed to the host, as every frame counts (one still
    /// queued when the session ends was never sent).
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
/// is told it may write again ([`Event::Writable`](crate::Event)), or the
/// stream is reset or freed, or the session ends.
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
    /// the current wait included up to the latest time the host supplied
    /// (the session reads no clock).
    pub blocked_time: Duration,
}

/// A stream's payload bytes each way, kept in the stream's state: the low
/// 32 bits of each count. The state of an idle stream has no room for more
/// (its size is a target of the project), so the rare carries past 4 GiB
/// go to the session's [`Activity`] table.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ByteCounts {
    sent: u32,
    received: u32,
}

/// What the session keeps for a stream that did more than exchange a few
/// bytes: it waited for room, was granted credit or carried past 4 GiB.
/// Held in a table beside the streams, so that idle ones pay nothing.
#[derive(Clone, Copy, Debug, Default)]
struct Activity {
    /// When we last granted the peer credit (see `Session::grow_window`).
    last_grant: Option<Instant>,
    /// The high 32 bits of the [`ByteCounts`].
    sent_high: u32,
    received_high: u32,
    blocked_time: Duration,
    /// Since when a write waits, and whether the send budget (not the
    /// window) cut it short.
    blocked_since: Option<(Instant, bool)>,
}

impl Activity {
    /// Whether nothing is worth keeping: no wait under way, no carry, no
    /// grant, no waited time to report.
    fn is_empty(&self) -> bool {
        self.last_grant.is_none()
            && self.sent_high == 0
            && self.received_high == 0
            && self.blocked_time.is_zero()
            && self.blocked_since.is_none()
    }
}

/// The session's counters, bumped by the hooks at its event sites.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// The [`Streams`] counts every session with streams bumps; refusals
    /// and resets are in `rare`.
    opened: u64,
    incoming: u64,
    accepted: u64,
    finished: u64,
    /// [`Pings`] but the smoothed round trip, which the timers keep.
    pings_sent: u64,
    pings_answered: u64,
    min_rtt: Option<Duration>,
    peak_received: usize,
    peak_unsent: usize,
    /// Frames each way by type (indexed by [`type_index`]), and Data
    /// payload bytes; the other types' bytes are 12 per frame. Kept apart
    /// from [`FrameCounts`], which spells the bytes out, to keep every
    /// session (and so every idle connection) small.
    frames_sent: [u64; 4],
    frames_received: [u64; 4],
    data_sent: u64,
    data_received: u64,
    /// Streams that waited, were granted credit or carried past 4 GiB.
    activity: BTreeMap<StreamId, Activity>,
    /// What many sessions never count, allocated at its first count: boxed,
    /// an idle connection's session is 160 B smaller (issue 12).
    rare: Option<Box<Rare>>,
    /// The latest header received, shown with a protocol error.
    #[cfg(any(feature = "log", feature = "defmt"))]
    last_in: Option<Header>,
}

/// The counters of refused and reset streams, of writes that waited and
/// of GoAways: all zero on a session that saw none of them.
#[derive(Clone, Copy, Debug, Default)]
struct Rare {
    refused: Refusals,
    reset: Resets,
    window_blocked: Blocked,
    budget_blocked: Blocked,
    go_aways: GoAways,
}

/// Where a frame type counts in the `frames_*` arrays.
fn type_index(frame_type: FrameType) -> usize {
    match frame_type {
        FrameType::Data => 0,
        FrameType::WindowUpdate => 1,
        FrameType::Ping => 2,
        FrameType::GoAway => 3,
    }
}

/// The per-type counts of one direction.
fn frame_counts(frames: &[u64; 4], data_bytes: u64) -> FrameCounts {
    let control = |frames: u64| Count {
        frames,
        bytes: frames * HEADER_LEN as u64,
    };
    FrameCounts {
        data: Count {
            frames: frames[0],
            bytes: frames[0] * HEADER_LEN as u64 + data_bytes,
        },
        window_update: control(frames[1]),
        ping: control(frames[2]),
        go_away: control(frames[3]),
    }
}

/// Adds `len` to a count kept as 32 low bits with a high part elsewhere;
/// whether it carried.
fn add_low(low: &mut u32, len: u32) -> bool {
    let (sum, carried) = low.overflowing_add(len);
    *low = sum;
    carried
}

impl Stats {
    /// The snapshot, with what the session holds elsewhere filled in.
    pub(crate) fn snapshot(
        &self,
        smoothed_rtt: Option<Duration>,
        received: usize,
        unsent: usize,
    ) -> SessionStats {
        let rare = self.rare.as_deref().copied().unwrap_or_default();
        SessionStats {
            sent: frame_counts(&self.frames_sent, self.data_sent),
            received: frame_counts(&self.frames_received, self.data_received),
            streams: Streams {
                opened: self.opened,
                incoming: self.incoming,
                accepted: self.accepted,
                refused: rare.refused,
                reset: rare.reset,
                finished: self.finished,
            },
            pings: Pings {
                sent: self.pings_sent,
                answered: self.pings_answered,
                smoothed_rtt,
                min_rtt: self.min_rtt,
            },
            window_blocked: rare.window_blocked,
            budget_blocked: rare.budget_blocked,
            buffered: Buffered {
                received,
                peak_received: self.peak_received,
                unsent,
                peak_unsent: self.peak_unsent,
            },
            go_aways: rare.go_aways,
        }
    }

    /// The seldom counted counters, allocated at the first count.
    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// The counters of stream `id`, whose state is `stream`, at `now`.
    pub(crate) fn stream(&self, id: StreamId, stream: &StreamState, now: Instant) -> StreamStats {
        let activity = self.activity.get(&id).copied().unwrap_or_default();
        let join = |high: u32, low: u32| (u64::from(high) << 32) | u64::from(low);
        let waiting = activity
            .blocked_since
            .map(|(since, _)| now.saturating_duration_since(since));
        StreamStats {
            sent: join(activity.sent_high, stream.bytes.sent),
            received: join(activity.received_high, stream.bytes.received),
            send_window: stream.send_window,
            recv_window: stream.recv_window,
            unsent: stream.send_buf.len(),
            buffered: stream.recv_buf.len() as usize,
            blocked: waiting.is_some(),
            blocked_time: activity.blocked_time + waiting.unwrap_or_default(),
        }
    }

    /// A header arrived from the peer.
    pub(crate) fn on_frame_in(&mut self, header: &Header) {
        self.frames_received[type_index(header.frame_type)] += 1;
        mux_log!(trace, "recv {}", ShowHeader(*header));
        #[cfg(any(feature = "log", feature = "defmt"))]
        {
            self.last_in = Some(*header);
        }
        if header.frame_type == FrameType::GoAway {
            let go_aways = &mut self.rare().go_aways;
            go_aways.received += 1;
            go_aways.last_received_code = Some(header.length);
            mux_log!(debug, "peer sent GoAway with code {}", header.length);
        }
    }

    /// `len` bytes of a Data payload arrived (kept or skipped): counted as
    /// they come, so a payload announced and never sent counts nothing.
    pub(crate) fn on_payload_in(&mut self, len: usize) {
        self.data_received += len as u64;
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
            self.frames_sent[type_index(header.frame_type)] += 1;
            self.data_sent += u64::from(header.payload_len());
            mux_log!(trace, "send {}", ShowHeader(header));
            // Counted here, not when queued: a ping dropped because the
            // session ended first was never sent.
            if header.frame_type == FrameType::Ping && header.flags.contains(Flags::SYN) {
                self.pings_sent += 1;
            }
            if header.frame_type == FrameType::GoAway {
                let go_aways = &mut self.rare().go_aways;
                go_aways.sent += 1;
                go_aways.last_sent_code = Some(header.length);
                mux_log!(debug, "sending GoAway with code {}", header.length);
            }
        }
        frame
    }

    /// Stream `id` sent a Data frame of `len` payload bytes.
    pub(crate) fn on_data_sent(&mut self, id: StreamId, stream: &mut StreamState, len: u32) {
        if add_low(&mut stream.bytes.sent, len) {
            self.activity.entry(id).or_default().sent_high += 1;
        }
    }

    /// Stream `id` accepted a Data frame of `len` payload bytes.
    pub(crate) fn on_data_received(&mut self, id: StreamId, stream: &mut StreamState, len: u32) {
        if add_low(&mut stream.bytes.received, len) {
            self.activity.entry(id).or_default().received_high += 1;
        }
    }

    /// Stream `id` grants the peer credit at `now`; returns when it last
    /// did, if ever.
    pub(crate) fn replace_last_grant(&mut self, id: StreamId, now: Instant) -> Option<Instant> {
        self.activity.entry(id).or_default().last_grant.replace(now)
    }

    /// We opened a stream.
    pub(crate) fn on_opened(&mut self) {
        self.opened += 1;
    }

    /// The peer opened a stream and the session took it in.
    pub(crate) fn on_incoming(&mut self) {
        self.incoming += 1;
    }

    /// The application accepted a stream.
    pub(crate) fn on_accepted(&mut self) {
        self.accepted += 1;
    }

    /// A stream the peer opened is refused: the session is `closing`, or
    /// the accept queue is full (`backlog_full`), or else `max_streams` is
    /// reached.
    pub(crate) fn on_refused(&mut self, id: StreamId, closing: bool, backlog_full: bool) {
        let refused = &mut self.rare().refused;
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
        self.rare().reset.record(by);
        mux_log!(debug, "stream {} reset {}", id, by);
    }

    /// The application reset `stream` with `code`; counted unless it was
    /// reset already.
    pub(crate) fn on_application_reset(&mut self, id: StreamId, stream: &StreamState, code: u32) {
        if stream.reset.is_none() {
            self.on_reset(id, ResetBy::Application { code });
        }
    }

    /// Stream `id`'s state is freed at `now`: it finished if both
    /// directions ended, and a wait of its writer ends here.
    pub(crate) fn on_stream_freed(&mut self, id: StreamId, stream: &StreamState, now: Instant) {
        if stream.is_done() {
            self.finished += 1;
        }
        if self.activity.is_empty() {
            return;
        }
        self.on_write_unblocked(id, now);
        self.activity.remove(&id);
    }

    /// A write to stream `id` came up short at `now`; `by_budget` when the
    /// send budget, not the peer's window, cut it. A new wait counts.
    pub(crate) fn on_write_blocked(&mut self, id: StreamId, now: Instant, by_budget: bool) {
        let activity = self.activity.entry(id).or_default();
        if activity.blocked_since.is_some() {
            return;
        }
        activity.blocked_since = Some((now, by_budget));
        let rare = self.rare();
        match by_budget {
            true => rare.budget_blocked.count += 1,
            false => rare.window_blocked.count += 1,
        }
    }

    /// Stream `id`'s writer may write again at `now`: its wait ends.
    pub(crate) fn on_write_unblocked(&mut self, id: StreamId, now: Instant) {
        let Some(activity) = self.activity.get_mut(&id) else {
            return;
        };
        let Some((since, by_budget)) = activity.blocked_since.take() else {
            return;
        };
        let waited = now.saturating_duration_since(since);
        activity.blocked_time += waited;
        let empty = activity.is_empty();
        let rare = self.rare();
        match by_budget {
            true => rare.budget_blocked.time += waited,
            false => rare.window_blocked.time += waited,
        }
        if empty {
            // A wait of no time on the host's clock left nothing to keep.
            self.activity.remove(&id);
        }
    }

    /// One of our pings was answered after `rtt`.
    pub(crate) fn on_pong(&mut self, rtt: Duration) {
        self.pings_answered += 1;
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |min| min.min(rtt)));
    }

    /// Received bytes held for the application grew to `total`.
    pub(crate) fn on_buffered_received(&mut self, total: usize) {
        let peak = &mut self.peak_received;
        *peak = (*peak).max(total);
    }

    /// Written bytes not yet framed grew to `total`.
    pub(crate) fn on_buffered_unsent(&mut self, total: usize) {
        let peak = &mut self.peak_unsent;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Past 4 GiB a stream's byte counts carry into the side table; a
    /// transfer that long is too slow for a test, so the low part starts
    /// near its end.
    #[test]
    fn byte_counts_carry_past_four_gib() {
        let mut stats = Stats::default();
        let mut stream = StreamState::inbound();
        let id = StreamId::new(1);
        stream.bytes.sent = u32::MAX - 9;
        stream.bytes.received = u32::MAX;
        stats.on_data_sent(id, &mut stream, 20);
        stats.on_data_received(id, &mut stream, 1);
        let counts = stats.stream(id, &stream, Instant::ZERO);
        assert_eq!(counts.sent, u64::from(u32::MAX) + 11);
        assert_eq!(counts.received, u64::from(u32::MAX) + 1);
        // The carry is dropped with the stream.
        stats.on_stream_freed(id, &stream, Instant::ZERO);
        assert!(stats.activity.is_empty());
    }

    #[test]
    fn seldom_counted_counters_are_allocated_at_their_first_count() {
        let mut stats = Stats::default();
        stats.on_opened();
        let ping = Header::new(FrameType::Ping, Flags::SYN, 0, 1);
        let _ = stats.on_frame_out(Transmit::new(ping, bytes::Bytes::new()));
        stats.on_pong(Duration::from_millis(3));
        assert!(stats.rare.is_none());
        assert_eq!(stats.snapshot(None, 0, 0).streams.reset.total(), 0);
        stats.on_reset(StreamId::new(1), ResetBy::Peer { code: 7 });
        assert!(stats.rare.is_some());
        let snapshot = stats.snapshot(None, 0, 0);
        assert_eq!(snapshot.streams.reset.peer, 1);
        assert_eq!(snapshot.streams.reset.last_peer_code, Some(7));
        assert_eq!(snapshot.streams.opened, 1);
        assert_eq!((snapshot.pings.sent, snapshot.pings.answered), (1, 1));
        assert_eq!(snapshot.pings.min_rtt, Some(Duration::from_millis(3)));
    }
}

//! The yamux session: one end of a multiplexed transport.

mod handle;
mod inbound;
mod outbound;
mod timers;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};

pub use handle::{Stream, StreamStatus};

use crate::config::{Config, ConfigError, Role};
use crate::error::{CloseReason, Delivery, NoStream, OpenError, PingError, ResetBy, ResetCause};
use crate::event::Event;
use crate::pins::Pins;
use crate::scheduler::{Scheduler, Slot};
use crate::stats::{SessionStats, Stats};
use crate::stream::{RecvState, ResetInfo, StreamState};
use crate::stream_id::StreamId;
use crate::time::Instant;
use crate::transmit::{Control, Transmit};

use inbound::Inbound;
use timers::{PingPurpose, Timers};

/// GoAway code for a normal end.
pub const GOAWAY_NORMAL: u32 = 0;
/// GoAway code for a protocol error.
pub const GOAWAY_PROTOCOL_ERROR: u32 = 1;
/// GoAway code for an internal error.
pub const GOAWAY_INTERNAL_ERROR: u32 = 2;

/// RST code for a SYN refused at a limit (accept backlog, `max_streams`)
/// or during a graceful close.
pub const RESET_REFUSED: u32 = 1;
/// RST code for a stream reset by one of the session's timeouts (open,
/// stream close, graceful close).
pub const RESET_TIMEOUT: u32 = 2;
/// RST code for a stream whose data would exceed
/// [`Config::max_session_buffer`].
pub const RESET_BUFFER_FULL: u32 = 3;

/// The least number of RSTs the session queues on its own before it drops
/// further ones (see `Session::max_pending_resets`).
const MIN_PENDING_RESETS: usize = 1024;

/// Whether the session still carries traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    /// A graceful close waits for the streams to finish until `deadline`.
    Closing {
        deadline: Instant,
    },
    Closed(CloseReason),
}

/// One end of a yamux session, as a pure state machine.
///
/// It performs no I/O and reads no clock. Feed it what the transport
/// delivers ([`handle_input`](Self::handle_input),
/// [`handle_eof`](Self::handle_eof)) and the time when a deadline passes
/// ([`handle_timeout`](Self::handle_timeout)); give it commands
/// ([`open_stream`](Self::open_stream), [`stream`](Self::stream), ...);
/// then drain what it produced: bytes for the transport
/// ([`poll_transmit`](Self::poll_transmit)), events for the application
/// ([`poll_event`](Self::poll_event)), and its next deadline
/// ([`poll_timeout`](Self::poll_timeout)).
///
/// # Memory
///
/// Every queue is bounded, so a peer cannot grow a session's heap beyond
///
/// ```text
/// 16 KiB + 32 B × R + 512 B × S + 2 × max_session_buffer + 2 × max_send_buffer
/// ```
///
/// where `S` is the number of streams held (at most
/// [`Config::max_streams`] of them opened by the peer, reset ones the
/// application has not released included; the rest are the
/// application's), [`Config::max_session_buffer`] bounds received data not
/// yet read and [`Config::max_send_buffer`] data written and not yet sent
/// (the factors 2 cover buffer growth by doubling). Send buffers are freed
/// once all of them is sent (frames still being written by the host keep
/// their part alive until then). The 512 B per stream covers its state (an
/// idle stream measures about 130 B), its map entry and its entries in the
/// control, scheduling, deadline and event queues; entries left behind by
/// freed streams are swept once they could outnumber the live ones (a
/// stream that waited for room or was granted credit also has an entry of
/// about 100 B in the statistics' table, gone with the stream). Pings
/// from the peer wait in a queue of at most [`Config::max_pending_pongs`];
/// RSTs the session sends on its own (refused SYNs, streams over the buffer
/// budget, timeouts) in one of at most `R = max(accept_backlog, 1024)`
/// (32 B each in the worst case of a queue just grown); past it further
/// RSTs are dropped and the peer's streams are left to its own timeouts.
/// Window updates only change counters, and one past `u32::MAX` is a
/// protocol error.
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: Config,
    phase: Phase,
    /// Set once the peer sent GoAway(0): no new outbound streams.
    peer_going_away: bool,

    /// Boxed: a B-tree node holds eleven entries and sequential ids leave
    /// nodes about half full, so a state stored inline cost twice its size
    /// per idle stream; boxed, the node holds only a pointer per entry.
    streams: BTreeMap<StreamId, Box<StreamState>>,
    /// The id our next stream gets; `None` once ids are exhausted.
    next_outbound_id: Option<u32>,
    accept_queue: VecDeque<StreamId>,
    /// The highest id the peer has opened a stream with, to tell a stream
    /// opened without SYN from a late frame of one already freed.
    highest_inbound_id: u32,
    /// Outbound streams awaiting the peer's ACK.
    unacked_outbound: usize,
    /// Whether `open_stream` refused for lack of ACKs and owes an
    /// `OpenUnblocked` event.
    open_blocked: bool,
    /// RSTs queued for streams we refused or reset, which hold no state.
    pending_resets: usize,
    /// Received bytes held for the application across all streams,
    /// including a payload being received.
    buffered_total: usize,
    /// The sum of all streams' receive windows, which auto-tuning keeps
    /// within the session buffer budget.
    window_total: usize,
    /// Written bytes of all streams not yet framed, within
    /// [`Config::max_send_buffer`].
    send_total: usize,
    /// Streams whose writer waits for room in the send budget, oldest
    /// first; each at most once (`StreamState::budget_waiting`).
    budget_waiters: VecDeque<StreamId>,
    /// Streams not reset: a graceful close is over when none is left.
    running_streams: usize,
    /// The host's inputs that unread payloads are slices of.
    pins: Pins,

    inbound: Inbound,

    control: VecDeque<Control>,
    scheduler: Scheduler,
    /// A frame partly copied out by `poll_transmit`.
    in_flight: Option<Transmit>,
    pending_pongs: usize,
    /// Our pings awaiting their answer: value, when it was sent, and why.
    outstanding_pings: VecDeque<(u32, Instant, PingPurpose)>,
    next_ping_value: u32,
    timers: Timers,

    events: VecDeque<Event>,
    stats: Stats,
}

impl Session {
    /// A session for the given end of the transport, starting at `now`
    /// (the keepalive clock starts then). Fails if `config` has a field out
    /// of range (see [`Config::validate`]).
    pub fn new(role: Role, config: Config, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        let inbound = Inbound::new(config.max_stream_window);
        Ok(Session {
            role,
            config,
            phase: Phase::Open,
            peer_going_away: false,
            streams: BTreeMap::new(),
            next_outbound_id: Some(match role {
                Role::Client => 1,
                Role::Server => 2,
            }),
            accept_queue: VecDeque::new(),
            highest_inbound_id: 0,
            unacked_outbound: 0,
            open_blocked: false,
            pending_resets: 0,
            buffered_total: 0,
            window_total: 0,
            send_total: 0,
            budget_waiters: VecDeque::new(),
            running_streams: 0,
            pins: Pins::default(),
            inbound,
            control: VecDeque::new(),
            scheduler: Scheduler::default(),
            in_flight: None,
            pending_pongs: 0,
            outstanding_pings: VecDeque::new(),
            next_ping_value: 0,
            timers: Timers::new(now),
            events: VecDeque::new(),
            stats: Stats::default(),
        })
    }

    /// A session for the end that dialed the transport; see [`new`](Self::new).
    pub fn client(config: Config, now: Instant) -> Result<Self, ConfigError> {
        Self::new(Role::Client, config, now)
    }

    /// A session for the end that accepted the transport; see [`new`](Self::new).
    pub fn server(config: Config, now: Instant) -> Result<Self, ConfigError> {
        Self::new(Role::Server, config, now)
    }

    /// Which end this session is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        match self.phase {
            Phase::Open | Phase::Closing { .. } => None,
            Phase::Closed(reason) => Some(reason),
        }
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.close_reason().is_some()
    }

    /// How many streams the session holds state for, including streams
    /// waiting to be accepted and streams whose end the application has not
    /// yet read. Finished streams are freed, so this does not grow with the
    /// number of streams a session has carried.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Whether the peer sent GoAway(0): it takes no new streams, existing
    /// ones go on.
    pub fn is_peer_going_away(&self) -> bool {
        self.peer_going_away
    }

    /// Whether a graceful close is under way.
    pub fn is_closing(&self) -> bool {
        matches!(self.phase, Phase::Closing { .. })
    }

    /// Received bytes held for the application across all streams; never
    /// above [`Config::max_session_buffer`].
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_total
    }

    /// Outbound streams awaiting the peer's ACK.
    pub fn unacknowledged_streams(&self) -> usize {
        self.unacked_outbound
    }

    /// Opens a stream. Nothing waits for the peer: the SYN rides on the
    /// stream's first frame, and data may be written at once.
    ///
    /// Refused with [`OpenError::Blocked`] while
    /// [`Config::max_unacked_outbound`] streams await the peer's ACK; an
    /// [`Event::OpenUnblocked`] follows when one more may open.
    pub fn open_stream(&mut self, now: Instant) -> Result<StreamId, OpenError> {
        self.timers.observe(now);
        match self.phase {
            Phase::Closed(reason) => return Err(OpenError::SessionClosed(reason)),
            Phase::Closing { .. } => return Err(OpenError::Closing),
            Phase::Open => {}
        }
        if self.peer_going_away {
            return Err(OpenError::PeerGoingAway);
        }
        if self.unacked_outbound >= self.config.max_unacked_outbound {
            self.open_blocked = true;
            return Err(OpenError::Blocked);
        }
        let value = self.next_outbound_id.ok_or(OpenError::IdsExhausted)?;
        self.next_outbound_id = value.checked_add(2);
        let id = StreamId::new(value);
        self.insert_stream(id, StreamState::outbound());
        self.stats.on_opened();
        self.unacked_outbound += 1;
        self.timers.stream_opened(id, &self.config);
        self.wake_stream(id);
        Ok(id)
    }

    /// Takes the oldest stream the peer opened, if any. Accepting sends
    /// the ACK, so the peer learns its stream reached the application.
    #[must_use = "an accepted stream whose id is dropped is never read or closed"]
    pub fn accept_stream(&mut self) -> Option<StreamId> {
        while let Some(id) = self.accept_queue.pop_front() {
            let Some(stream) = self.streams.get_mut(&id) else {
                continue;
            };
            stream.accepted = true;
            self.stats.on_accepted();
            stream.ack_unsent = true;
            if let Some(reset) = stream.reset {
                self.events.push_back(reset_event(id, reset));
            } else {
                self.wake_stream(id);
                self.notify_readable_if_pending(id);
            }
            return Some(id);
        }
        None
    }

    /// A handle to a stream the application holds: one it opened or
    /// accepted, running or reset (a reset one until it is released), also
    /// after the session ended (buffered data stays readable). The error
    /// says why there is none.
    pub fn stream(&mut self, id: StreamId) -> Result<Stream<'_>, NoStream> {
        match self.streams.get(&id) {
            Some(stream) if stream.detached => Err(NoStream::Detached),
            Some(stream) if !stream.accepted => Err(NoStream::NotAccepted),
            Some(_) => Ok(Stream::new(self, id)),
            None if self.id_used(id) => Err(NoStream::Freed),
            None => Err(NoStream::Unknown),
        }
    }

    /// Whether a stream has had this id: one of ours below the next we
    /// hand out, or one of the peer's up to the highest it opened.
    fn id_used(&self, id: StreamId) -> bool {
        match id.opener() {
            None => false,
            Some(role) if role == self.role => {
                self.next_outbound_id.is_none_or(|next| id.get() < next)
            }
            Some(_) => id.get() <= self.highest_inbound_id,
        }
    }

    /// Whether [`accept_stream`](Self::accept_stream) can never return a
    /// stream again: nothing waits to be accepted, and none can come,
    /// because the session is closing (a graceful close refuses the
    /// peer's SYNs) or has ended, or the peer has used its last stream id.
    /// An accept loop ends when this turns true.
    pub fn accepts_ended(&self) -> bool {
        let peer_ids_spent = self.highest_inbound_id >= u32::MAX - 1;
        self.accept_queue.is_empty() && (self.phase != Phase::Open || peer_ids_spent)
    }

    /// Sends a ping; a [`Event::Pong`] with the round-trip time follows.
    pub fn ping(&mut self, now: Instant) -> Result<(), PingError> {
        if let Some(reason) = self.close_reason() {
            return Err(PingError::SessionClosed(reason));
        }
        if self.outstanding_pings.len() >= self.config.max_outstanding_pings {
            return Err(PingError::TooManyOutstanding);
        }
        self.timers.observe(now);
        self.send_ping(now, PingPurpose::Application);
        Ok(())
    }

    fn send_ping(&mut self, now: Instant, purpose: PingPurpose) {
        let value = self.next_ping_value;
        self.next_ping_value = value.wrapping_add(1);
        self.outstanding_pings.push_back((value, now, purpose));
        self.control.push_back(Control::Ping(value));
    }

    /// Closes the session gracefully: no new streams either way (SYNs from
    /// the peer are refused with RST), open streams may finish until
    /// [`Config::close_timeout`], then the rest are reset, GoAway(0) goes
    /// out and [`Event::Closed`] follows. The timeout counts from `now`.
    pub fn close(&mut self, now: Instant) {
        self.timers.observe(now);
        if self.phase != Phase::Open {
            return;
        }
        let deadline = self.timers.now() + self.config.close_timeout;
        self.phase = Phase::Closing { deadline };
        while let Some(id) = self.accept_queue.pop_front() {
            if self.take_stream(id).is_some() {
                self.stats.on_refused(id, true, false);
                self.refuse_stream(id);
            }
        }
        self.finish_close_if_drained();
    }

    /// Like [`close`](Self::close), with `timeout` instead of
    /// [`Config::close_timeout`]: open streams may finish until then, after
    /// which the rest are reset and GoAway(0) goes out. On a session that
    /// is closing already, it can only bring the deadline forward.
    pub fn close_within(&mut self, now: Instant, timeout: core::time::Duration) {
        self.timers.observe(now);
        let deadline = self.timers.now() + timeout;
        match &mut self.phase {
            Phase::Open => {
                self.close(now);
                if let Phase::Closing { deadline: at } = &mut self.phase {
                    *at = deadline;
                }
            }
            Phase::Closing { deadline: at } => *at = (*at).min(deadline),
            _ => {}
        }
    }

    /// Ends the session at once: sends GoAway(`code`) and fails every
    /// stream. Data already buffered for reading stays readable.
    pub fn abort(&mut self, now: Instant, code: u32) {
        self.timers.observe(now);
        self.end(CloseReason::LocalAbort { code }, Some(code));
    }

    /// Feeds the end of the transport's input. After the peer's GoAway(0)
    /// that is its clean close, reported as
    /// [`CloseReason::PeerGoAway`] with code 0; otherwise the transport
    /// was lost: [`CloseReason::TransportClosed`].
    pub fn handle_eof(&mut self, now: Instant) {
        self.timers.observe(now);
        let reason = match self.peer_going_away {
            true => CloseReason::PeerGoAway {
                code: GOAWAY_NORMAL,
            },
            false => CloseReason::TransportClosed,
        };
        self.end(reason, None);
    }

    /// Feeds a failure of the transport (a read or write that returned an
    /// error, as opposed to the end of its input): the session ends with
    /// [`CloseReason::TransportFailed`], even after the peer's GoAway(0),
    /// since frames we wrote may have been lost. A host that keeps the I/O
    /// error itself (for its kind) reports it alongside.
    pub fn handle_transport_error(&mut self, now: Instant) {
        self.timers.observe(now);
        self.end(CloseReason::TransportFailed, None);
    }

    /// The session's counters: frames and bytes each way, streams opened,
    /// refused and reset (by whom and why), pings and round trips, writes
    /// that waited for room, bytes buffered and GoAways. Cheap: a copy.
    pub fn stats(&self) -> SessionStats {
        self.stats
            .snapshot(self.rtt(), self.buffered_total, self.send_total)
    }

    /// The smoothed round-trip time measured from pongs, once there is one.
    pub fn rtt(&self) -> Option<core::time::Duration> {
        self.timers.smoothed_rtt()
    }

    /// The next event for the application, oldest first.
    #[must_use = "an event taken and dropped is lost"]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Ends the session (once): records the reason, drops queued output
    /// except a frame already partly written, queues the GoAway if any and
    /// tells the application.
    fn end(&mut self, reason: CloseReason, goaway: Option<u32>) {
        if self.is_closed() {
            return;
        }
        self.phase = Phase::Closed(reason);
        self.stats.on_end(reason);
        self.control.clear();
        self.scheduler.clear();
        self.accept_queue.clear();
        self.pending_pongs = 0;
        self.pending_resets = 0;
        self.outstanding_pings.clear();
        self.timers.clear_stream_deadlines();
        if self.in_flight.as_ref().is_some_and(|t| !t.is_started()) {
            self.in_flight = None;
        }
        let now = self.timers.now();
        for (&id, stream) in self.streams.iter_mut() {
            stream.send_buf.clear();
            stream.sched = Slot::NONE;
            // Nothing is sent any more, so no write waits for room.
            self.stats.on_write_unblocked(id, now);
        }
        self.send_total = 0;
        self.budget_waiters.clear();
        if let Some(code) = goaway {
            self.control.push_back(Control::GoAway(code));
        }
        self.events.push_back(Event::Closed(reason));
    }

    /// Queues whatever frames the stream now needs.
    fn wake_stream(&mut self, id: StreamId) {
        if self.is_closed() {
            return;
        }
        if let Some(stream) = self.streams.get_mut(&id) {
            queue_frames(id, stream, &mut self.control, &mut self.scheduler);
        }
    }

    /// Raises `Readable` if the stream has something to read and the
    /// application has not yet been told.
    fn notify_readable_if_pending(&mut self, id: StreamId) {
        if let Some(stream) = self.streams.get_mut(&id) {
            notify_readable(id, stream, &mut self.events);
        }
    }

    /// Raises `Writable` if a blocked writer can now make progress; one
    /// that the peer's window lets write but the send budget does not joins
    /// the budget's queue instead.
    fn notify_writable_if_unblocked(&mut self, id: StreamId) {
        let max_buffer = self.config.max_stream_window;
        let budget_room = self.send_budget_room();
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        // A stream in the budget's queue waits its turn there.
        if !stream.writer_blocked || stream.budget_waiting || stream.write_capacity(max_buffer) == 0
        {
            return;
        }
        if budget_room == 0 {
            if !stream.budget_waiting {
                stream.budget_waiting = true;
                self.budget_waiters.push_back(id);
            }
            return;
        }
        stream.writer_blocked = false;
        self.stats.on_write_unblocked(id, self.timers.now());
        self.events.push_back(Event::Writable(id));
    }

    /// Room left in the session's send budget.
    fn send_budget_room(&self) -> usize {
        self.config.max_send_buffer.saturating_sub(self.send_total)
    }

    /// Wakes writers waiting for the send budget, oldest first, after
    /// frames took data out of it: about one per frame's worth of room, so
    /// that thousands of waiters do not all wake for one frame, and all of
    /// them once nothing is left to send (a woken writer may choose not to
    /// write, and the rest must not wait on it).
    fn wake_budget_waiters(&mut self) {
        let room = self.send_budget_room();
        if room == 0 {
            return;
        }
        let mut wakes = match self.send_total {
            0 => self.budget_waiters.len(),
            _ => room.div_ceil(self.config.max_frame_size as usize),
        };
        while wakes > 0 {
            let Some(id) = self.budget_waiters.pop_front() else {
                return;
            };
            let Some(stream) = self.streams.get_mut(&id) else {
                continue;
            };
            if !stream.budget_waiting {
                continue;
            }
            stream.budget_waiting = false;
            self.notify_writable_if_unblocked(id);
            wakes -= 1;
        }
    }

    /// Frees the stream's state if both directions are over.
    fn free_if_done(&mut self, id: StreamId) {
        if self.streams.get(&id).is_some_and(|stream| stream.is_done()) {
            self.remove_stream(id);
        }
    }

    fn insert_stream(&mut self, id: StreamId, stream: StreamState) {
        self.window_total += stream.recv_window_target as usize;
        self.running_streams += 1;
        self.streams.insert(id, Box::new(stream));
    }

    /// Forgets a stream, keeping the session's counters right.
    fn take_stream(&mut self, id: StreamId) -> Option<StreamState> {
        let mut stream = *self.streams.remove(&id)?;
        if stream.sched.is_queued() {
            self.scheduler.remove(stream.sched);
        }
        self.stats.on_stream_freed(id, &stream, self.timers.now());
        if stream.awaits_ack() {
            self.ack_settled();
        }
        self.buffered_total -= stream.recv_buf.len() as usize;
        stream.recv_buf.clear(&mut self.pins);
        self.window_total -= stream.recv_window_target as usize;
        if stream.reset.is_none() {
            self.running_streams -= 1;
        }
        if !stream.send_buf.is_empty() {
            self.send_total -= stream.send_buf.len();
            self.wake_budget_waiters();
        }
        self.sweep_freed();
        Some(stream)
    }

    /// A freed stream's entries in the control queue, the budget's queue
    /// and the deadline queues stay until they come up and are skipped. A peer
    /// that churns streams faster than those drain (it does not read what
    /// we send, or it finishes streams well within `stream_close_timeout`)
    /// would pile them up without bound, so a queue holding twice what its
    /// live entries can be (one per stream, plus the bounded session-level
    /// ones) is swept. Each sweep at least halves the queue: O(1) per entry.
    fn sweep_freed(&mut self) {
        let streams = &self.streams;
        let live = streams.len() + 32;
        let session_level =
            self.pending_pongs + self.pending_resets + self.outstanding_pings.len() + 1;
        if self.control.len() > 2 * (live + session_level) {
            self.control.retain(|control| match control {
                Control::Stream(id) => streams.get(id).is_some_and(|s| s.control_queued),
                _ => true,
            });
        }
        if self.budget_waiters.len() > 2 * live {
            self.budget_waiters
                .retain(|id| streams.get(id).is_some_and(|s| s.budget_waiting));
        }
        self.timers.sweep_freed(streams);
    }

    /// Forgets a stream; a graceful close may then be complete.
    fn remove_stream(&mut self, id: StreamId) -> Option<StreamState> {
        let stream = self.take_stream(id)?;
        self.finish_close_if_drained();
        Some(stream)
    }

    /// One outbound stream stopped awaiting its ACK.
    fn ack_settled(&mut self) {
        self.unacked_outbound -= 1;
        if self.open_blocked && self.unacked_outbound < self.config.max_unacked_outbound {
            self.open_blocked = false;
            self.events.push_back(Event::OpenUnblocked);
        }
    }

    /// The session resets a stream itself (a timeout, a GoAway): the peer
    /// gets an RST, the application an event, and the state stays until
    /// the application has seen the error.
    fn reset_by_session(&mut self, id: StreamId, cause: ResetCause, delivery: Delivery) {
        if let Some(ack) = self.mark_reset(id, cause, delivery)
            && let Some(code) = cause.code()
        {
            self.queue_reset_bounded(id, code, ack);
        }
        // Nobody will read the error of a stream the application gave up.
        if self.streams.get(&id).is_some_and(|stream| stream.detached) {
            self.remove_stream(id);
        }
        self.finish_close_if_drained();
    }

    /// Records a reset by this session and tells the application. Returns
    /// `Some(ack)` when the peer knows the stream and so needs an RST, with
    /// whether that RST must carry the ACK we still owe.
    fn mark_reset(&mut self, id: StreamId, cause: ResetCause, delivery: Delivery) -> Option<bool> {
        let stream = self.streams.get_mut(&id)?;
        if stream.reset.is_some() {
            return None;
        }
        let tell_peer = stream.reset_needs_frame();
        let awaited_ack = stream.awaits_ack();
        let reset = ResetInfo {
            by: ResetBy::Session(cause),
            delivery,
        };
        self.record_reset(id, reset);
        let stream = &self.streams[&id];
        if stream.accepted && !stream.detached {
            self.events.push_back(reset_event(id, reset));
        }
        if awaited_ack {
            self.ack_settled();
        }
        tell_peer
    }

    /// Marks a stream reset: its buffers in both directions are dropped and
    /// it no longer counts as running.
    fn record_reset(&mut self, id: StreamId, reset: ResetInfo) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if stream.reset.replace(reset).is_none() {
            self.stats.on_reset(id, reset.by);
            self.running_streams -= 1;
        }
        // A reset stream sends nothing more: a write waiting for room
        // waits no longer (its writer learns of the reset instead).
        self.stats.on_write_unblocked(id, self.timers.now());
        self.buffered_total -= stream.recv_buf.len() as usize;
        let unsent = stream.send_buf.len();
        stream.recv_buf.clear(&mut self.pins);
        stream.send_buf.clear();
        if stream.sched.is_queued() {
            self.scheduler
                .remove(core::mem::replace(&mut stream.sched, Slot::NONE));
        }
        if unsent > 0 {
            self.send_total -= unsent;
            self.wake_budget_waiters();
        }
    }

    /// Queues an RST for a stream that holds no more state. `ack` adds the
    /// ACK our application owes: it accepted the stream, so the peer must
    /// learn the stream was delivered even though it is now reset.
    fn queue_reset(&mut self, id: StreamId, code: u32, ack: bool) {
        if self.is_closed() {
            return;
        }
        self.pending_resets += 1;
        self.control.push_back(Control::Reset { id, code, ack });
    }

    /// Refuses a SYN with an RST.
    fn refuse_stream(&mut self, id: StreamId) {
        self.queue_reset_bounded(id, RESET_REFUSED, false);
    }

    /// Queues an RST the session sends on its own (a refused SYN, a stream
    /// over the buffer budget, a timeout), within a bound on pending RSTs:
    /// past it (only a peer flooding us faster than we transmit, or not
    /// reading what we send, gets there) the RST is dropped and the peer's
    /// stream is left to its own timeout, so the flood cannot grow our
    /// queue.
    fn queue_reset_bounded(&mut self, id: StreamId, code: u32, ack: bool) {
        let bound = self.max_pending_resets();
        if self.pending_resets < bound {
            self.queue_reset(id, code, ack);
        }
    }

    /// How many RSTs the session may queue on its own. Generous enough that
    /// a well-behaved peer opening a burst beyond our limits (the `yamux`
    /// crate allows 256 unacknowledged streams, hashicorp/yamux any number)
    /// gets every refusal, and small enough to bound memory: 16 B each.
    pub(crate) fn max_pending_resets(&self) -> usize {
        self.config.accept_backlog.max(MIN_PENDING_RESETS)
    }

    /// Ends a graceful close once no stream is left running: every stream
    /// is gone or reset (a reset one only waits for the application to
    /// read the error).
    fn finish_close_if_drained(&mut self) {
        if !self.is_closing() {
            return;
        }
        if self.running_streams == 0 {
            self.end(CloseReason::LocalClose, Some(GOAWAY_NORMAL));
        }
    }
}

// The per-stream steps of a frame or a call, for a caller that holds the
// stream already: they take the session's queues as separate borrows, so
// that the stream is looked up once per frame or call, not once per step.

/// Queues whatever frames `stream` now needs (see `Session::wake_stream`);
/// only while the session is not closed.
fn queue_frames(
    id: StreamId,
    stream: &mut StreamState,
    control: &mut VecDeque<Control>,
    scheduler: &mut Scheduler,
) {
    if !stream.control_queued && outbound::needs_control_frame(stream, scheduler) {
        stream.control_queued = true;
        control.push_back(Control::Stream(id));
    }
    if !stream.sched.is_queued() && stream.has_sendable_data() {
        stream.sched = scheduler.push(id, stream.priority);
        if outbound::owes_open_flags(stream) {
            scheduler.note_opening(id, stream.sched);
        }
    }
}

/// Raises `Readable` if `stream` has something to read and the application
/// has not yet been told.
fn notify_readable(id: StreamId, stream: &mut StreamState, events: &mut VecDeque<Event>) {
    let pending = !stream.recv_buf.is_empty() || stream.recv == RecvState::FinReceived;
    if stream.accepted && !stream.detached && stream.readable_armed && pending {
        stream.readable_armed = false;
        events.push_back(Event::Readable(id));
    }
}

fn reset_event(id: StreamId, reset: ResetInfo) -> Event {
    Event::StreamReset {
        id,
        by: reset.by,
        delivery: reset.delivery,
    }
}

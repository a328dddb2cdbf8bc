//! The yamux session: one end of a multiplexed transport.

mod handle;
mod inbound;
mod outbound;

use alloc::collections::{BTreeMap, VecDeque};

pub use handle::Stream;

use crate::config::{Config, Role};
use crate::error::{CloseReason, OpenError, PingError};
use crate::event::Event;
use crate::scheduler::Scheduler;
use crate::stream::StreamState;
use crate::stream_id::StreamId;
use crate::time::Instant;
use crate::transmit::{Control, Transmit};

use inbound::Inbound;

/// GoAway code for a normal end.
pub const GOAWAY_NORMAL: u32 = 0;
/// GoAway code for a protocol error.
pub const GOAWAY_PROTOCOL_ERROR: u32 = 1;
/// GoAway code for an internal error.
pub const GOAWAY_INTERNAL_ERROR: u32 = 2;

/// Whether the session still carries traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
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
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: Config,
    phase: Phase,
    /// Set once the peer sent GoAway(0): no new outbound streams.
    peer_going_away: bool,

    streams: BTreeMap<StreamId, StreamState>,
    /// The id our next stream gets; `None` once ids are exhausted.
    next_outbound_id: Option<u32>,
    accept_queue: VecDeque<StreamId>,

    inbound: Inbound,

    control: VecDeque<Control>,
    scheduler: Scheduler,
    /// A frame partly copied out by `poll_transmit`.
    in_flight: Option<Transmit>,
    pending_pongs: usize,
    /// Our pings awaiting their answer: value and when it was sent.
    outstanding_pings: VecDeque<(u32, Instant)>,
    next_ping_value: u32,

    events: VecDeque<Event>,
}

impl Session {
    /// A session for the given end of the transport.
    pub fn new(role: Role, config: Config) -> Self {
        let inbound = Inbound::new(config.effective_max_window());
        Session {
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
            inbound,
            control: VecDeque::new(),
            scheduler: Scheduler::default(),
            in_flight: None,
            pending_pongs: 0,
            outstanding_pings: VecDeque::new(),
            next_ping_value: 0,
            events: VecDeque::new(),
        }
    }

    /// A session for the end that dialed the transport.
    pub fn client(config: Config) -> Self {
        Self::new(Role::Client, config)
    }

    /// A session for the end that accepted the transport.
    pub fn server(config: Config) -> Self {
        Self::new(Role::Server, config)
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
            Phase::Open => None,
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

    /// Opens a stream. Nothing waits for the peer: the SYN rides on the
    /// stream's first frame, and data may be written at once.
    pub fn open_stream(&mut self) -> Result<StreamId, OpenError> {
        if let Some(reason) = self.close_reason() {
            return Err(OpenError::SessionClosed(reason));
        }
        if self.peer_going_away {
            return Err(OpenError::PeerGoingAway);
        }
        let value = self.next_outbound_id.ok_or(OpenError::IdsExhausted)?;
        self.next_outbound_id = value.checked_add(2);
        let id = StreamId::new(value);
        self.streams.insert(id, StreamState::outbound());
        self.wake_stream(id);
        Ok(id)
    }

    /// Takes the oldest stream the peer opened, if any. Accepting sends
    /// the ACK, so the peer learns its stream reached the application.
    pub fn accept_stream(&mut self) -> Option<StreamId> {
        while let Some(id) = self.accept_queue.pop_front() {
            let Some(stream) = self.streams.get_mut(&id) else {
                continue;
            };
            stream.accepted = true;
            stream.ack_unsent = true;
            if let Some(code) = stream.peer_reset {
                self.events.push_back(Event::StreamReset { id, code });
            } else {
                self.wake_stream(id);
                self.notify_readable_if_pending(id);
            }
            return Some(id);
        }
        None
    }

    /// A handle to an open stream, or `None` if the id is unknown, not yet
    /// accepted, or already freed.
    pub fn stream(&mut self, id: StreamId) -> Option<Stream<'_>> {
        let stream = self.streams.get(&id)?;
        if !stream.accepted {
            return None;
        }
        Some(Stream::new(self, id))
    }

    /// Sends a ping; a [`Event::Pong`] with the round-trip time follows.
    pub fn ping(&mut self, now: Instant) -> Result<(), PingError> {
        if let Some(reason) = self.close_reason() {
            return Err(PingError::SessionClosed(reason));
        }
        if self.outstanding_pings.len() >= self.config.max_outstanding_pings {
            return Err(PingError::TooManyOutstanding);
        }
        let value = self.next_ping_value;
        self.next_ping_value = value.wrapping_add(1);
        self.outstanding_pings.push_back((value, now));
        self.control.push_back(Control::Ping(value));
        Ok(())
    }

    /// Ends the session at once: sends GoAway(`code`) and fails every
    /// stream. Data already buffered for reading stays readable.
    pub fn abort(&mut self, code: u32) {
        self.close(CloseReason::LocalAbort { code }, Some(code));
    }

    /// Feeds a timer expiry. No deadline exists yet in this version of the
    /// core, so this only records that time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    /// When the session next needs [`handle_timeout`](Self::handle_timeout);
    /// `None` while no deadline is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Feeds the end of the transport's input.
    pub fn handle_eof(&mut self, now: Instant) {
        let _ = now;
        self.close(CloseReason::TransportClosed, None);
    }

    /// The next event for the application, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Ends the session (once): records the reason, drops queued output
    /// except a frame already partly written, queues the GoAway if any and
    /// tells the application.
    fn close(&mut self, reason: CloseReason, goaway: Option<u32>) {
        if self.is_closed() {
            return;
        }
        self.phase = Phase::Closed(reason);
        self.control.clear();
        self.scheduler.clear();
        self.accept_queue.clear();
        self.pending_pongs = 0;
        self.outstanding_pings.clear();
        if self.in_flight.as_ref().is_some_and(|t| !t.is_started()) {
            self.in_flight = None;
        }
        for stream in self.streams.values_mut() {
            stream.send_buf.clear();
        }
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
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if !stream.control_queued && stream.needs_control_frame() {
            stream.control_queued = true;
            self.control.push_back(Control::Stream(id));
        }
        if !stream.scheduled && stream.has_sendable_data() {
            stream.scheduled = true;
            self.scheduler.push(id, stream.priority);
        }
    }

    /// Raises `Readable` if the stream has something to read and the
    /// application has not yet been told.
    fn notify_readable_if_pending(&mut self, id: StreamId) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        let pending =
            stream.recv_buffered > 0 || stream.recv == crate::stream::RecvState::FinReceived;
        if stream.accepted && stream.readable_armed && pending {
            stream.readable_armed = false;
            self.events.push_back(Event::Readable(id));
        }
    }

    /// Raises `Writable` if a blocked writer can now make progress.
    fn notify_writable_if_unblocked(&mut self, id: StreamId) {
        let max_buffer = self.config.effective_max_window();
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if stream.writer_blocked && stream.write_capacity(max_buffer) > 0 {
            stream.writer_blocked = false;
            self.events.push_back(Event::Writable(id));
        }
    }

    /// Frees the stream's state if both directions are over.
    fn free_if_done(&mut self, id: StreamId) {
        if self.streams.get(&id).is_some_and(StreamState::is_done) {
            self.streams.remove(&id);
        }
    }
}

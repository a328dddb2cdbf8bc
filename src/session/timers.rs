//! Deadlines: keepalive, graceful close, open and stream close timeouts.
//!
//! The host supplies time with every input and with every command that
//! starts a timer (building the session, opening a stream, finishing one,
//! closing); the session remembers the latest. The one deadline that starts
//! inside an output call is the stream close timeout, when the FIN leaves in
//! `poll_transmit`: it counts from the latest time supplied, which is never
//! earlier than the `finish(now)` that queued the FIN.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::time::Duration;

use super::{GOAWAY_NORMAL, Phase, RESET_TIMEOUT, Session};
use crate::config::Config;
use crate::error::{CloseReason, Delivery, ResetCause};
use crate::event::Event;
use crate::stream::{RecvState, SendState, StreamState};
use crate::stream_id::StreamId;
use crate::time::Instant;
use crate::transmit::Control;

/// Why we sent a ping: only the application's are reported as events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PingPurpose {
    Application,
    KeepAlive,
    /// A round-trip sample for window auto-tuning.
    Measure,
}

/// The session's clocks and deadline queues.
#[derive(Debug)]
pub(super) struct Timers {
    /// The latest time the host supplied.
    now: Instant,
    /// When the peer last sent us anything.
    last_inbound: Instant,
    /// When our unanswered keepalive ping left, if one is out.
    keepalive_sent: Option<Instant>,
    smoothed_rtt: Option<Duration>,
    /// Outbound streams by the time their ACK is due, in order (time only
    /// moves forward, so pushing at the back keeps the queue sorted).
    open_deadlines: VecDeque<(Instant, StreamId)>,
    /// Finished streams by the time the peer's FIN is due, in order.
    close_deadlines: VecDeque<(Instant, StreamId)>,
}

impl Timers {
    /// Clocks starting at `now`, the keepalive clock among them.
    pub(super) fn new(now: Instant) -> Self {
        Timers {
            now,
            last_inbound: now,
            keepalive_sent: None,
            smoothed_rtt: None,
            open_deadlines: VecDeque::new(),
            close_deadlines: VecDeque::new(),
        }
    }

    /// Records the host's time; time never moves back.
    pub(super) fn observe(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// The latest time the host supplied.
    pub(super) fn now(&self) -> Instant {
        self.now
    }

    pub(super) fn inbound_traffic(&mut self, now: Instant) {
        self.observe(now);
        self.last_inbound = self.last_inbound.max(now);
    }

    pub(super) fn smoothed_rtt(&self) -> Option<Duration> {
        self.smoothed_rtt
    }

    /// Folds a round-trip sample into the estimate (weight 1/8, as TCP).
    pub(super) fn rtt_sample(&mut self, sample: Duration) {
        self.smoothed_rtt = Some(match self.smoothed_rtt {
            None => sample,
            Some(smoothed) => (smoothed * 7 + sample) / 8,
        });
    }

    pub(super) fn stream_opened(&mut self, id: StreamId, config: &Config) {
        if let Some(timeout) = config.open_timeout {
            self.open_deadlines.push_back((self.now() + timeout, id));
        }
    }

    pub(super) fn fin_sent(&mut self, id: StreamId, config: &Config) {
        if let Some(timeout) = config.stream_close_timeout {
            self.close_deadlines.push_back((self.now() + timeout, id));
        }
    }

    /// Drops the deadlines of freed streams once they may outnumber the
    /// live streams' (at most two each) twice over; each sweep at least
    /// halves the queues, so it costs O(1) per entry. Otherwise a freed
    /// stream's deadline stays until it expires, and a peer that opens and
    /// finishes streams fast would pile up a whole `stream_close_timeout`'s
    /// worth of them.
    pub(super) fn sweep_freed(&mut self, streams: &BTreeMap<StreamId, Box<StreamState>>) {
        let queued = self.open_deadlines.len() + self.close_deadlines.len();
        if queued <= 4 * streams.len() + 64 {
            return;
        }
        self.open_deadlines
            .retain(|(_, id)| streams.contains_key(id));
        self.close_deadlines
            .retain(|(_, id)| streams.contains_key(id));
    }

    pub(super) fn clear_stream_deadlines(&mut self) {
        self.open_deadlines.clear();
        self.close_deadlines.clear();
    }
}

impl Session {
    /// When the session next needs [`handle_timeout`](Self::handle_timeout):
    /// the keepalive ping or its timeout, a graceful close's deadline, or a
    /// stream's open or close timeout. `None` when nothing is pending.
    /// Every deadline counts from a time the host supplied, so a fresh
    /// session's first deadline is its keepalive, an interval after the
    /// `now` it was built with.
    #[must_use = "the session needs `handle_timeout` at this deadline"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let timers = &self.timers;
        let keepalive =
            self.config
                .keepalive_interval
                .map(|interval| match timers.keepalive_sent {
                    Some(sent) => sent + self.config.keepalive_timeout,
                    None => timers.last_inbound + interval,
                });
        let closing = match self.phase {
            Phase::Closing { deadline } => Some(deadline),
            _ => None,
        };
        [
            keepalive,
            closing,
            timers.open_deadlines.front().map(|&(at, _)| at),
            timers.close_deadlines.front().map(|&(at, _)| at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Feeds the time when [`poll_timeout`](Self::poll_timeout) has passed
    /// (calling it early or often is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.timers.observe(now);
        if self.is_closed() {
            return;
        }
        self.check_keepalive(now);
        self.check_close_deadline(now);
        self.check_open_deadlines(now);
        self.check_close_deadlines(now);
    }

    /// Called for each answer to one of our pings.
    pub(super) fn on_pong(&mut self, now: Instant, sent: Instant, purpose: PingPurpose) {
        let rtt = now.saturating_duration_since(sent);
        self.timers.rtt_sample(rtt);
        self.stats.on_pong(rtt);
        match purpose {
            PingPurpose::Application => self.events.push_back(Event::Pong { rtt }),
            PingPurpose::KeepAlive => self.timers.keepalive_sent = None,
            PingPurpose::Measure => {}
        }
    }

    /// Sends a ping for a round-trip sample unless one is already out.
    pub(super) fn request_rtt_sample(&mut self, now: Instant) {
        let out = self
            .outstanding_pings
            .iter()
            .any(|&(_, _, purpose)| purpose == PingPurpose::Measure);
        if !out && self.outstanding_pings.len() < self.config.max_outstanding_pings {
            self.send_ping(now, PingPurpose::Measure);
        }
    }

    fn check_keepalive(&mut self, now: Instant) {
        let Some(interval) = self.config.keepalive_interval else {
            return;
        };
        match self.timers.keepalive_sent {
            Some(sent) if now >= sent + self.config.keepalive_timeout => {
                self.end(CloseReason::KeepAliveTimeout, None);
            }
            Some(_) => {}
            None if now >= self.timers.last_inbound + interval => {
                self.timers.keepalive_sent = Some(now);
                self.send_ping(now, PingPurpose::KeepAlive);
            }
            None => {}
        }
    }

    fn check_close_deadline(&mut self, now: Instant) {
        let Phase::Closing { deadline } = self.phase else {
            return;
        };
        if now < deadline {
            return;
        }
        let running: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, stream)| stream.reset.is_none())
            .map(|(&id, _)| id)
            .collect();
        let mut tell_peer = Vec::new();
        for id in running {
            let delivery = self.streams[&id].delivery();
            if let Some(ack) = self.mark_reset(id, ResetCause::CloseTimeout, delivery) {
                tell_peer.push((id, ack));
            }
        }
        self.end(CloseReason::LocalCloseTimedOut, Some(GOAWAY_NORMAL));
        // `end` queued only the GoAway; the RSTs go out ahead of it.
        for &(id, ack) in tell_peer.iter().rev() {
            self.control.push_front(Control::Reset {
                id,
                code: RESET_TIMEOUT,
                ack,
            });
        }
    }

    fn check_open_deadlines(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.timers.open_deadlines.front() {
            if at > now {
                break;
            }
            self.timers.open_deadlines.pop_front();
            if self.streams.get(&id).is_some_and(|s| s.awaits_ack()) {
                // The SYN may have reached the peer's stack, just not its
                // application; we cannot know, so say so.
                let delivery = match self.streams[&id].syn_unsent {
                    true => Delivery::NotDelivered,
                    false => Delivery::MaybeDelivered,
                };
                self.reset_by_session(id, ResetCause::OpenTimeout, delivery);
            }
        }
    }

    fn check_close_deadlines(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.timers.close_deadlines.front() {
            if at > now {
                break;
            }
            self.timers.close_deadlines.pop_front();
            let half_open = self.streams.get(&id).is_some_and(|s| {
                s.send == SendState::FinSent && s.recv == RecvState::Open && s.reset.is_none()
            });
            if half_open {
                let delivery = self.streams[&id].delivery();
                self.reset_by_session(id, ResetCause::StreamCloseTimeout, delivery);
            }
        }
    }
}

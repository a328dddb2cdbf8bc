//! The state every handle and the driver share: the session behind one
//! lock, and the wakers of everyone waiting on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant as StdInstant};

use muxplex::{CloseReason, Event, GOAWAY_NORMAL, Instant, Session, StreamId};

use crate::error::Error;

/// Maps host time onto the core's microsecond clock: the session's origin
/// is the moment the connection was created.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    start: StdInstant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            start: StdInstant::now(),
        }
    }

    /// The current time in the core's terms.
    pub(crate) fn now(&self) -> Instant {
        let micros = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        Instant::from_micros(micros)
    }

    /// A core deadline in host terms (saturating far in the future).
    pub(crate) fn to_host(self, deadline: Instant) -> StdInstant {
        let offset = Duration::from_micros(deadline.as_micros());
        self.start
            .checked_add(offset)
            // Beyond what the host clock can represent: a year out is as
            // good as never, and still a valid instant.
            .unwrap_or_else(|| StdInstant::now() + Duration::from_secs(365 * 24 * 3600))
    }
}

/// What the adapter keeps per stream handle, beside the core's state.
///
/// The core frees a stream once it is over, so whatever a handle must still
/// answer afterwards (end of stream seen, finished, the error) lives here.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) read_waker: Option<Waker>,
    pub(crate) write_waker: Option<Waker>,
    /// A read returned the end of the stream.
    pub(crate) eof: bool,
    /// Our direction was finished.
    pub(crate) finished: bool,
    /// The error every further operation reports.
    pub(crate) error: Option<Error>,
}

/// How the connection was lost, when the core only saw an end of input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lost {
    Transport(std::io::ErrorKind),
    DriverGone,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) session: Session,
    pub(crate) clock: Clock,
    pub(crate) slots: HashMap<StreamId, Slot>,
    pub(crate) driver_waker: Option<Waker>,
    /// Tasks waiting in `accept_stream`.
    pub(crate) accept_wakers: Vec<Waker>,
    /// Tasks waiting for the driver to finish (`close`).
    pub(crate) done_wakers: Vec<Waker>,
    pub(crate) lost: Option<Lost>,
    /// The driver has finished (or was dropped); nothing moves any more.
    pub(crate) driver_done: bool,
    /// Live `Connection` handles. With none left and no streams, nobody
    /// can use the session again, so it is closed.
    pub(crate) connection_handles: usize,
}

impl Inner {
    /// The error to report for a session that ended with `reason`: the
    /// transport's own failure when there was one, since the core only
    /// knows that input ended.
    pub(crate) fn closed_error(&self, reason: CloseReason) -> Error {
        match self.lost {
            Some(Lost::Transport(kind)) => Error::Transport(kind),
            Some(Lost::DriverGone) => Error::DriverGone,
            None => Error::Closed(reason),
        }
    }

    /// The error for operations on a connection that has ended, if it has.
    pub(crate) fn connection_error(&self) -> Option<Error> {
        if let Some(reason) = self.session.close_reason() {
            return Some(self.closed_error(reason));
        }
        // The driver is gone but the session never heard: still dead.
        self.driver_done.then_some(Error::DriverGone)
    }

    /// Tells the driver there may be work (frames to send).
    pub(crate) fn wake_driver(&mut self) {
        if let Some(waker) = &self.driver_waker {
            waker.wake_by_ref();
        }
    }

    /// Hands the session's events to whoever waits on them. Called after
    /// every input to the session, so no event sits unseen.
    pub(crate) fn dispatch_events(&mut self) {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::IncomingStream(_) => wake_all(&mut self.accept_wakers),
                Event::Readable(id) => {
                    if let Some(waker) = self.slots.get_mut(&id).and_then(|s| s.read_waker.take()) {
                        waker.wake();
                    }
                }
                Event::Writable(id) => {
                    if let Some(waker) = self.slots.get_mut(&id).and_then(|s| s.write_waker.take())
                    {
                        waker.wake();
                    }
                }
                Event::StreamReset { id, .. } => {
                    if let Some(slot) = self.slots.get_mut(&id) {
                        wake_slot(slot);
                    }
                }
                Event::Closed(_) => self.wake_everyone(),
                // Nothing waits on these yet: opens never block in this core
                // and there is no ping API here.
                _ => {}
            }
        }
    }

    /// Wakes every waiting handle, so each re-checks and sees the
    /// connection's end instead of hanging.
    pub(crate) fn wake_everyone(&mut self) {
        for slot in self.slots.values_mut() {
            wake_slot(slot);
        }
        wake_all(&mut self.accept_wakers);
    }

    /// The driver will not run again: end the session if it has not ended
    /// (the core only knows "input ended"; `lost` keeps the real cause) and
    /// wake everyone, so no handle waits for progress that cannot come.
    pub(crate) fn driver_ended(&mut self, lost: Option<Lost>) {
        if !self.session.is_closed() {
            self.lost = lost;
            let now = self.clock.now();
            self.session.handle_eof(now);
            self.dispatch_events();
        }
        self.driver_done = true;
        self.driver_waker = None;
        self.wake_everyone();
        wake_all(&mut self.done_wakers);
    }

    /// Closes the session once no handle can use it again.
    pub(crate) fn close_if_unused(&mut self) {
        if self.connection_handles == 0 && self.slots.is_empty() && !self.session.is_closed() {
            self.session.abort(GOAWAY_NORMAL);
            self.dispatch_events();
            self.wake_driver();
        }
    }
}

fn wake_slot(slot: &mut Slot) {
    if let Some(waker) = slot.read_waker.take() {
        waker.wake();
    }
    if let Some(waker) = slot.write_waker.take() {
        waker.wake();
    }
}

fn wake_all(wakers: &mut Vec<Waker>) {
    for waker in wakers.drain(..) {
        waker.wake();
    }
}

/// Stores `waker` in `slot`, reusing the old one if it wakes the same task.
pub(crate) fn register(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(old) if old.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// Adds `waker` to a list of waiters unless its task is already there.
pub(crate) fn register_in(list: &mut Vec<Waker>, waker: &Waker) {
    if !list.iter().any(|w| w.will_wake(waker)) {
        list.push(waker.clone());
    }
}

/// The lock every handle and the driver share.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn new(session: Session) -> Arc<Self> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                session,
                clock: Clock::new(),
                slots: HashMap::new(),
                driver_waker: None,
                accept_wakers: Vec::new(),
                done_wakers: Vec::new(),
                lost: None,
                driver_done: false,
                connection_handles: 1,
            }),
        })
    }

    /// Locks the state. A panic while it was held (a bug) leaves the session
    /// in whatever state it reached; carrying on beats poisoning every
    /// handle, since the core keeps its own invariants per call.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

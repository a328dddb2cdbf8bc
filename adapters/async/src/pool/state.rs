//! What the pool's handles, its streams and its background tasks share:
//! the core pool state machine behind one lock, the connections it
//! decided to keep, and who waits on them.
//!
//! Every report to the core goes through here, with the time from the
//! pool's clock, and wakes the supervisor, which carries out the actions
//! the report produced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant as StdInstant};

use muxplex::pool::{Pool as CorePool, Slot};
use muxplex::{CloseReason, Instant, OpenError};
use muxplex_host::HostClock;

use super::{Dial, PoolOptions, Runtime};
use crate::connection::Connection;
use crate::io::Timer;

/// Maps host time onto the core pool's microsecond clock, counted from the
/// pool's creation on the runtime's clock (tokio's paused clock in tests).
pub(super) struct Clock {
    timer: Box<dyn Timer + Send>,
    host: HostClock,
}

impl Clock {
    pub(super) fn new(timer: Box<dyn Timer + Send>) -> Self {
        let host = HostClock::new(timer.now());
        Clock { timer, host }
    }

    /// Now, in the core's terms.
    pub(super) fn now(&self) -> Instant {
        self.host.core_time(self.timer.now())
    }

    /// A core deadline on the host clock.
    pub(super) fn to_host(&self, deadline: Instant) -> StdInstant {
        self.host.to_host(deadline)
    }

    /// `timeout` from now on the host clock, for the adapter's own waits
    /// (an open, a dial). Through the core's saturating time, so a
    /// timeout too large for the host clock (`Duration::MAX` for "never")
    /// is far out rather than an overflow panic.
    pub(super) fn host_deadline(&self, timeout: Duration) -> StdInstant {
        self.to_host(self.now() + timeout)
    }
}

/// A session the core pool counts as live or draining.
pub(super) struct Session {
    /// The attempt it belongs to; a place's index is reused, so every
    /// lookup checks this.
    pub(super) slot: Slot,
    pub(super) connection: Connection,
    /// Streams handed out on it and not yet dropped: the load the core
    /// balances, scales and closes idle sessions by.
    pub(super) leases: usize,
}

pub(super) struct State {
    pub(super) core: CorePool,
    pub(super) clock: Clock,
    /// By slot index.
    pub(super) sessions: HashMap<usize, Session>,
    /// Opens waiting for a session to become pickable, by the id each
    /// open took from `next_waiter`. An open that ends (served, timed out
    /// or dropped) takes its entry out, so the table holds only the opens
    /// waiting now, however many time out during an outage.
    pub(super) waiters: HashMap<u64, Waker>,
    pub(super) next_waiter: u64,
    /// Dials under way, to be woken when the core abandons them or the
    /// pool shuts down, so the connector's future is dropped then rather
    /// than at its connect timeout.
    pub(super) dials: HashMap<Slot, Waker>,
    pub(super) supervisor: Option<Waker>,
    /// Live `Pool` handles; when the last goes, the pool shuts down.
    pub(super) handles: usize,
    pub(super) shut_down: bool,
}

impl State {
    /// Wakes the supervisor: a report may have produced actions.
    pub(super) fn wake_supervisor(&mut self) {
        if let Some(waker) = &self.supervisor {
            waker.wake_by_ref();
        }
    }

    /// Wakes every waiting open, so each picks again.
    pub(super) fn wake_waiters(&mut self) {
        for (_, waker) in self.waiters.drain() {
            waker.wake();
        }
    }

    /// A new id for an open that may wait, see [`Waiter`].
    pub(super) fn waiter_id(&mut self) -> u64 {
        self.next_waiter = self.next_waiter.wrapping_add(1);
        self.next_waiter
    }

    /// Has open `id` woken when a session may have become pickable.
    pub(super) fn wait(&mut self, id: u64, waker: &Waker) {
        match self.waiters.get_mut(&id) {
            Some(old) if old.will_wake(waker) => {}
            Some(old) => old.clone_from(waker),
            None => {
                self.waiters.insert(id, waker.clone());
            }
        }
    }

    /// The session in `slot`, if it is still that attempt's.
    pub(super) fn session(&mut self, slot: Slot) -> Option<&mut Session> {
        self.sessions
            .get_mut(&slot.index())
            .filter(|session| session.slot == slot)
    }

    /// Forgets the session in `slot`, if it is still that attempt's.
    pub(super) fn remove(&mut self, slot: Slot) -> Option<Session> {
        self.session(slot)?;
        self.sessions.remove(&slot.index())
    }

    /// The session in `slot` ended for `reason`: the core decides whether
    /// that was a failure to back off from.
    pub(super) fn session_closed(&mut self, slot: Slot, reason: CloseReason) {
        self.remove(slot);
        let now = self.clock.now();
        self.core.session_closed(now, slot, reason);
        self.wake_supervisor();
    }

    /// The peer of the session in `slot` is going away: the core drains it
    /// and dials a replacement.
    pub(super) fn peer_went_away(&mut self, slot: Slot) {
        let now = self.clock.now();
        self.core.peer_go_away(now, slot);
        self.wake_supervisor();
    }

    /// An open on the session in `slot` failed with `error`; the core
    /// decides what that says about the session.
    pub(super) fn open_failed(&mut self, slot: Slot, error: &OpenError) {
        if matches!(error, OpenError::SessionClosed(_)) {
            self.remove(slot);
        }
        let now = self.clock.now();
        self.core.open_failed(now, slot, error);
        self.wake_supervisor();
    }

    /// A ping on the session in `slot` was answered after `rtt`: the core
    /// folds it into the session's smoothed RTT, by which it marks slow
    /// sessions and weighs picks.
    pub(super) fn rtt_measured(&mut self, slot: Slot, rtt: Duration) {
        let now = self.clock.now();
        self.core.pong(now, slot, rtt);
        self.wake_supervisor();
    }

    /// One more or one fewer stream on the session in `slot`.
    pub(super) fn adjust_load(&mut self, slot: Slot, up: bool) {
        let Some(session) = self.session(slot) else {
            // Gone already: the core forgot it too.
            return;
        };
        session.leases = match up {
            true => session.leases + 1,
            false => session.leases.saturating_sub(1),
        };
        let leases = session.leases;
        let now = self.clock.now();
        self.core.load_changed(now, slot, leases);
        self.wake_supervisor();
    }
}

/// The pool's shared part: the state, and what dials and spawns.
pub(super) struct Shared {
    state: Mutex<State>,
    pub(super) runtime: Arc<dyn Runtime>,
    pub(super) dial: Dial,
    pub(super) options: PoolOptions,
}

impl Shared {
    pub(super) fn new(runtime: Arc<dyn Runtime>, dial: Dial, options: PoolOptions) -> Arc<Self> {
        let clock = Clock::new(runtime.timer());
        let core = CorePool::new(options.pool.clone(), clock.now());
        Arc::new(Shared {
            state: Mutex::new(State {
                core,
                clock,
                sessions: HashMap::new(),
                waiters: HashMap::new(),
                next_waiter: 0,
                dials: HashMap::new(),
                supervisor: None,
                handles: 1,
                shut_down: false,
            }),
            runtime,
            dial,
            options,
        })
    }

    /// Locks the state. A panic while it was held (a bug) leaves the core
    /// in whatever state it reached; carrying on beats poisoning every
    /// handle, as in the connection's lock.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One open's place among the waiters: dropping it (the open finished,
/// timed out or was dropped) takes its waker out of the table.
pub(super) struct Waiter<'a> {
    shared: &'a Shared,
    pub(super) id: u64,
}

impl<'a> Waiter<'a> {
    pub(super) fn new(shared: &'a Shared) -> Self {
        let id = shared.lock().waiter_id();
        Waiter { shared, id }
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.shared.lock().waiters.remove(&self.id);
    }
}

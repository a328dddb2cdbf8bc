//! The state every handle and the driver share: the session behind one
//! lock, the timer that supplies its time, and the wakers of everyone
//! waiting on it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant as StdInstant};

use muxplex_host::HostClock;

use muxplex::{CloseReason, Delivery, Event, Instant, PingError, Session, StreamId};

use crate::error::{Error, TransportError};
use crate::io::Timer;

/// The tasks waiting on one stream. An entry exists only while a task
/// waits: an idle stream costs the adapter nothing here (what a handle
/// must remember, such as its end or its error, lives in the handle).
#[derive(Debug, Default)]
pub(crate) struct Wakers {
    pub(crate) read: Option<Waker>,
    pub(crate) write: Option<Waker>,
}

/// One ping sent by [`Connection::ping`](crate::Connection::ping), waiting
/// for its answer. The core reports a pong without saying which ping it
/// answers, and peers answer in order, so pongs go to these in the order
/// the pings left.
#[derive(Debug)]
pub(crate) struct PingWaiter {
    /// Tells the waiters apart; unique per connection.
    id: u64,
    state: PingState,
}

#[derive(Debug)]
enum PingState {
    /// Unanswered; the task to wake when the pong comes.
    Waiting(Option<Waker>),
    /// Unanswered, and its future was dropped: the entry stays to take its
    /// own pong, which would otherwise go to a later ping.
    Abandoned,
    /// Answered after this round-trip time; the future has yet to see it.
    Answered(Duration),
}

/// What a task waiting on the connection (not on one stream) waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Waiting {
    /// A stream to accept (`accept_stream`).
    Accept,
    /// Opening to be unblocked (`open_stream`).
    Open,
    /// The peer's GoAway or the session's end (`peer_going_away`).
    GoingAway,
    /// The driver to finish (`close`, `closed`).
    Done,
}

/// The tasks waiting on the connection, in one list rather than one per
/// kind of wait: an idle connection has none, and one empty list is a
/// quarter of four (issue 12: idle connections).
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    list: Vec<(Waiting, Waker)>,
    /// Which tasks are in `list`, once it is long: thousands of tasks
    /// opening at once all wait for `Open`, and finding a task by scanning
    /// the list on every poll cost time quadratic in their number (38% of
    /// the samples of 10,000 openers). Short lists, the usual case, are
    /// scanned and keep no index. Boxed: a word, where an empty set takes
    /// six on every connection (issue 12: idle connections).
    #[expect(clippy::box_collection, reason = "a smaller idle connection")]
    index: Option<Box<HashSet<WaiterKey>>>,
}

/// A task waiting for a kind of wait, as `Waker::will_wake` tells tasks
/// apart: by the waker's data pointer and vtable.
type WaiterKey = (Waiting, usize, usize);

/// A list this long gets an index (see `Waiters::index`).
const INDEX_WAITERS_FROM: usize = 16;

fn waiter_key(what: Waiting, waker: &Waker) -> WaiterKey {
    (
        what,
        waker.data() as usize,
        std::ptr::from_ref(waker.vtable()) as usize,
    )
}

impl Waiters {
    /// Adds the task of `waker`, waiting for `what`, unless it is there.
    pub(crate) fn register(&mut self, what: Waiting, waker: &Waker) {
        if let Some(index) = &mut self.index {
            if index.insert(waiter_key(what, waker)) {
                self.list.push((what, waker.clone()));
            }
            return;
        }
        let known = |(waits, known): &(Waiting, Waker)| *waits == what && known.will_wake(waker);
        if !self.list.iter().any(known) {
            self.list.push((what, waker.clone()));
            if self.list.len() >= INDEX_WAITERS_FROM {
                let keys = self
                    .list
                    .iter()
                    .map(|(what, waker)| waiter_key(*what, waker));
                self.index = Some(Box::new(keys.collect()));
            }
        }
    }

    /// Wakes (and forgets) every task waiting for `what`.
    pub(crate) fn wake(&mut self, what: Waiting) {
        for (_, waker) in self.list.extract_if(.., |(waits, _)| *waits == what) {
            if let Some(index) = &mut self.index {
                index.remove(&waiter_key(what, &waker));
            }
            waker.wake();
        }
        if self.index.is_some() && self.list.len() < INDEX_WAITERS_FROM / 2 {
            // Back to scanning; the memory of a long list goes too.
            self.index = None;
            self.list.shrink_to(INDEX_WAITERS_FROM);
        }
    }
}

/// How the connection was lost besides what the session knows: the I/O
/// error of a failed transport (the session records only that it failed),
/// or a driver dropped before the session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Lost {
    Transport(TransportError),
    DriverGone,
}

pub(crate) struct Inner {
    pub(crate) session: Session,
    /// Lives here rather than in the driver so that handles can read the
    /// time too: a graceful close counts its timeout from the time the
    /// session last heard, which must be now, not the last I/O.
    timer: Box<dyn Timer + Send>,
    /// The host time the timer's sleep is set for, if one was armed; see
    /// `poll_deadline`.
    armed: Option<StdInstant>,
    /// The session's time 0 is the connection's creation, on the timer's
    /// clock.
    clock: HostClock,
    pub(crate) wakers: HashMap<StreamId, Wakers>,
    pub(crate) driver_waker: Option<Waker>,
    /// Tasks waiting on the connection rather than on one stream.
    pub(crate) waiters: Waiters,
    /// Our application pings, oldest first: at most the core's
    /// `max_outstanding_pings` unanswered, plus answers not yet collected.
    pings: VecDeque<PingWaiter>,
    /// The id the next ping's waiter gets.
    next_ping: u64,
    pub(crate) lost: Option<Lost>,
    /// The driver has finished (or was dropped); nothing moves any more.
    pub(crate) driver_done: bool,
    /// Live `Connection` handles. When the last goes, nobody can open or
    /// accept streams any more, so the session closes gracefully.
    pub(crate) connection_handles: usize,
}

impl Inner {
    /// The current time, in the core's terms, from the timer's clock (which
    /// may be a runtime's virtual clock rather than the system's).
    pub(crate) fn now(&self) -> Instant {
        self.clock.core_time(self.timer.now())
    }

    /// Ready once the session's `deadline` has passed on the timer's clock;
    /// otherwise the task is woken then.
    ///
    /// The keepalive deadline moves later with every input, and re-arming
    /// a runtime's timer is not free: an update of tokio's timer wheel, and
    /// under async-io a wakeup of its reactor thread, once per round trip.
    /// So a sleep already armed for an earlier time is left running; if it
    /// fires before the session's deadline, the timer is re-armed for the
    /// real one then, at most once per deadline rather than per input.
    pub(crate) fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        let at = self.clock.to_host(deadline);
        // A pending sleep armed no later than the deadline answers without
        // reading the clock, which the driver would otherwise do every
        // round. Should the deadline have passed meanwhile, that sleep
        // fires within the timer's resolution and the deadline is seen
        // then.
        if let Some(armed) = self.armed
            && armed <= at
        {
            if self.timer.poll_sleep_until(cx, armed).is_pending() {
                return Poll::Pending;
            }
            // Fired, and spent: a one-shot timer (async-io's) would never
            // fire again for the same instant.
            self.armed = None;
        }
        if deadline <= self.now() {
            return Poll::Ready(());
        }
        // Nothing armed, the deadline moved earlier, or the earlier sleep
        // fired: the deadline itself is armed. Having fired, a sleep for
        // `at` means `at` has passed, so a fired timer cannot spin.
        self.armed = Some(at);
        self.timer.poll_sleep_until(cx, at)
    }

    /// The error to report for a session that ended with `reason`, for a
    /// stream whose delivery was `delivery`: the transport's own failure
    /// when there was one, since the core only knows that input ended.
    pub(crate) fn closed_error(&self, reason: CloseReason, delivery: Delivery) -> Error {
        match &self.lost {
            Some(Lost::Transport(error)) => Error::Transport {
                error: error.clone(),
                delivery,
            },
            Some(Lost::DriverGone) => Error::DriverGone { delivery },
            None => Error::Closed { reason, delivery },
        }
    }

    /// The error for operations on a connection that has ended, if it has.
    /// `delivery` is that of the stream concerned; connection-level
    /// operations pass `NotDelivered`, as nothing of theirs reached the peer.
    pub(crate) fn connection_error(&self, delivery: Delivery) -> Option<Error> {
        if let Some(reason) = self.session.close_reason() {
            return Some(self.closed_error(reason, delivery));
        }
        // The driver is gone but the session never heard: still dead.
        self.driver_done.then_some(Error::DriverGone { delivery })
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
                Event::IncomingStream(_) => self.waiters.wake(Waiting::Accept),
                Event::Readable(id) => self.wake_one(id, |w| &mut w.read),
                Event::Writable(id) => self.wake_one(id, |w| &mut w.write),
                Event::StreamReset { id, .. } => self.wake_stream(id),
                Event::OpenUnblocked => self.waiters.wake(Waiting::Open),
                // Waiting opens must fail now; whoever waits on the
                // connection's fate (a pool's watcher) must learn it too.
                Event::PeerGoingAway => {
                    self.waiters.wake(Waiting::Open);
                    self.waiters.wake(Waiting::GoingAway);
                }
                Event::Closed(_) => self.wake_everyone(),
                Event::Pong { rtt } => self.pong(rtt),
                _ => {}
            }
        }
    }

    /// Wakes every waiting handle, so each re-checks and sees the
    /// connection's end (or its closing) instead of hanging.
    pub(crate) fn wake_everyone(&mut self) {
        for (_, wakers) in self.wakers.drain() {
            wake_both(wakers);
        }
        self.waiters.wake(Waiting::Accept);
        self.waiters.wake(Waiting::Open);
        self.waiters.wake(Waiting::GoingAway);
        // An ended session forgets its pings: no pong will come for them.
        self.pings.retain_mut(|ping| match &mut ping.state {
            PingState::Waiting(waker) => {
                if let Some(waker) = waker.take() {
                    waker.wake();
                }
                true
            }
            PingState::Abandoned => false,
            PingState::Answered(_) => true,
        });
    }

    /// Sends a ping (the driver is woken to send it) and returns the id
    /// to wait on with [`poll_ping`](Self::poll_ping).
    pub(crate) fn start_ping(&mut self) -> Result<u64, Error> {
        if let Some(error) = self.connection_error(Delivery::NotDelivered) {
            return Err(error);
        }
        let now = self.now();
        match self.session.ping(now) {
            Ok(()) => {}
            Err(PingError::SessionClosed(reason)) => {
                return Err(self.closed_error(reason, Delivery::NotDelivered));
            }
            Err(error) => return Err(Error::Ping(error)),
        }
        let id = self.next_ping;
        self.next_ping += 1;
        self.pings.push_back(PingWaiter {
            id,
            state: PingState::Waiting(None),
        });
        self.wake_driver();
        Ok(id)
    }

    /// Ready with the round-trip time once ping `id` is answered, or with
    /// the connection's error once it has ended without an answer.
    pub(crate) fn poll_ping(
        &mut self,
        cx: &mut Context<'_>,
        id: u64,
    ) -> Poll<Result<Duration, Error>> {
        let Some(index) = self.pings.iter().position(|ping| ping.id == id) else {
            // Collected already; a future is not polled after that.
            return Poll::Ready(Err(Error::DriverGone {
                delivery: Delivery::NotDelivered,
            }));
        };
        if let PingState::Answered(rtt) = self.pings[index].state {
            self.pings.remove(index);
            return Poll::Ready(Ok(rtt));
        }
        if let Some(error) = self.connection_error(Delivery::NotDelivered) {
            self.pings.remove(index);
            return Poll::Ready(Err(error));
        }
        if let PingState::Waiting(waker) = &mut self.pings[index].state {
            register(waker, cx.waker());
        }
        Poll::Pending
    }

    /// The future waiting on ping `id` was dropped: its answer, if it
    /// comes, is thrown away.
    pub(crate) fn abandon_ping(&mut self, id: u64) {
        let Some(index) = self.pings.iter().position(|ping| ping.id == id) else {
            return;
        };
        let ping = &mut self.pings[index];
        match ping.state {
            PingState::Waiting(_) if !self.session.is_closed() => ping.state = PingState::Abandoned,
            _ => {
                self.pings.remove(index);
            }
        }
    }

    /// Hands a pong to the oldest unanswered ping.
    fn pong(&mut self, rtt: Duration) {
        let Some(index) = self
            .pings
            .iter()
            .position(|ping| !matches!(ping.state, PingState::Answered(_)))
        else {
            // Only our pings produce pong events; nothing to do otherwise.
            return;
        };
        match std::mem::replace(&mut self.pings[index].state, PingState::Answered(rtt)) {
            PingState::Waiting(waker) => {
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            _ => {
                self.pings.remove(index);
            }
        }
    }

    /// Wakes the task waiting on `id` in the direction `pick` selects; the
    /// entry goes once nobody waits on the stream.
    fn wake_one(&mut self, id: StreamId, pick: impl FnOnce(&mut Wakers) -> &mut Option<Waker>) {
        let Entry::Occupied(mut entry) = self.wakers.entry(id) else {
            return;
        };
        let waker = pick(entry.get_mut()).take();
        if entry.get().read.is_none() && entry.get().write.is_none() {
            entry.remove();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes every task waiting on `id`.
    pub(crate) fn wake_stream(&mut self, id: StreamId) {
        if let Some(wakers) = self.wakers.remove(&id) {
            wake_both(wakers);
        }
    }

    /// Starts a graceful close; its timeout counts from now.
    pub(crate) fn close(&mut self) {
        let now = self.now();
        self.session.close(now);
        self.dispatch_events();
        // Openers and acceptors fail now rather than at the end.
        self.waiters.wake(Waiting::Accept);
        self.waiters.wake(Waiting::Open);
        self.wake_driver();
    }

    /// The driver will not run again: end the session if it has not ended
    /// (a transport failure as such) and wake everyone, so no handle waits
    /// for progress that cannot come. `lost` is kept even after a clean end
    /// of the session: its last frames may not have left, which `close` and
    /// `closed` must report.
    pub(crate) fn driver_ended(&mut self, lost: Option<Lost>) {
        if !self.session.is_closed() {
            let now = self.now();
            match lost {
                Some(Lost::Transport(_)) => self.session.handle_transport_error(now),
                _ => self.session.handle_eof(now),
            }
            self.dispatch_events();
        }
        if lost.is_some() {
            self.lost = lost;
        }
        self.driver_done = true;
        self.driver_waker = None;
        self.wake_everyone();
        self.waiters.wake(Waiting::Done);
    }

    /// Takes over a stream whose handle is gone: the core finishes our
    /// direction (what was written is still delivered), discards what the
    /// peer sends until its FIN, and frees the stream then.
    pub(crate) fn detach(&mut self, id: StreamId) {
        let now = self.now();
        // A reset stream is released; one the application reset is gone.
        if let Ok(stream) = self.session.stream(id) {
            stream.detach(now);
        }
        // A FIN to send, or a graceful close the freed stream completed:
        // either way, frames for the driver.
        self.wake_driver();
    }
}

fn wake_both(wakers: Wakers) {
    if let Some(waker) = wakers.read {
        waker.wake();
    }
    if let Some(waker) = wakers.write {
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

/// The lock every handle and the driver share.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn new(session: Session, timer: Box<dyn Timer + Send>) -> Arc<Self> {
        let clock = HostClock::new(timer.now());
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                session,
                timer,
                armed: None,
                clock,
                wakers: HashMap::new(),
                driver_waker: None,
                waiters: Waiters::default(),
                pings: VecDeque::new(),
                next_ping: 0,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use super::{INDEX_WAITERS_FROM, Waiters, Waiting};

    /// A task that counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn tasks(n: usize) -> Vec<(Arc<Count>, Waker)> {
        (0..n)
            .map(|_| {
                let count = Arc::new(Count(AtomicUsize::new(0)));
                let waker = Waker::from(Arc::clone(&count));
                (count, waker)
            })
            .collect()
    }

    fn wakes(tasks: &[(Arc<Count>, Waker)]) -> Vec<usize> {
        tasks
            .iter()
            .map(|(c, _)| c.0.load(Ordering::SeqCst))
            .collect()
    }

    /// Short lists and indexed long ones alike: a task registered twice is
    /// woken once, only for what it waits for, and may wait again after
    /// (while the others keep the index).
    #[test]
    fn waiters_wake_each_task_once_and_take_it_back() {
        for n in [3, INDEX_WAITERS_FROM * 4] {
            let tasks = tasks(n);
            let mut waiters = Waiters::default();
            for _ in 0..2 {
                for (_, waker) in &tasks {
                    waiters.register(Waiting::Open, waker);
                    waiters.register(Waiting::Accept, waker);
                }
            }
            assert_eq!(waiters.list.len(), 2 * n, "{n} tasks");
            assert_eq!(waiters.index.is_some(), n >= INDEX_WAITERS_FROM);

            waiters.wake(Waiting::Open);
            assert_eq!(wakes(&tasks), vec![1; n]);
            for (_, waker) in &tasks {
                waiters.register(Waiting::Open, waker);
            }
            assert_eq!(waiters.list.len(), 2 * n, "{n} tasks");
            waiters.wake(Waiting::Open);
            assert_eq!(wakes(&tasks), vec![2; n]);
            waiters.wake(Waiting::Accept);
            assert_eq!(wakes(&tasks), vec![3; n]);
            assert!(waiters.list.is_empty() && waiters.index.is_none());
        }
    }
}

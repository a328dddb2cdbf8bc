//! The pool's background task: it feeds the core pool its deadlines and
//! carries out its actions (dial, close), and the small tasks those
//! actions start (one per dial, one watching each session's end).

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant as StdInstant;

use muxplex::pool::{Action, PoolConfig, SessionState, Slot};

use super::state::{Session, Shared, State};
use crate::connection::Connection;
use crate::io::Timer;
use crate::shared::register;

/// Runs the core pool: spawned once per pool, it ends when the last `Pool`
/// handle is dropped, after closing every session gracefully.
pub(super) struct Supervisor {
    shared: Arc<Shared>,
    timer: Box<dyn Timer + Send>,
}

impl Supervisor {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        let timer = shared.runtime.timer();
        Supervisor { shared, timer }
    }
}

impl Future for Supervisor {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let mut state = this.shared.lock();
            if state.shut_down {
                for (_, session) in state.sessions.drain() {
                    close(&this.shared, session.connection);
                }
                state.supervisor = None;
                // Opens still waiting see the end and fail; dials stop.
                state.wake_waiters();
                for (_, dial) in state.dials.drain() {
                    dial.wake();
                }
                return Poll::Ready(());
            }
            // Registered before looking, so a report made after the look
            // still wakes us.
            register(&mut state.supervisor, cx.waker());
            // Early or repeated calls are harmless, and this one makes any
            // deadline that passed take effect.
            let now = state.clock.now();
            state.core.handle_timeout(now);
            while let Some(action) = state.core.poll_action() {
                carry_out(&this.shared, &mut state, action);
            }
            let Some(deadline) = state.core.poll_timeout() else {
                return Poll::Pending;
            };
            let at = state.clock.to_host(deadline);
            drop(state);
            if this.timer.poll_sleep_until(cx, at).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

/// Does what the core asked.
fn carry_out(shared: &Arc<Shared>, state: &mut State, action: Action) {
    match action {
        Action::Dial { slot, endpoint } => {
            let task = dial(Arc::clone(shared), slot, endpoint);
            shared.runtime.spawn(Box::pin(task));
        }
        Action::Close { slot } => {
            // A dial still running finds its slot stale and drops what it
            // gets; a session closes gracefully, so its streams finish.
            if let Some(session) = state.remove(slot) {
                close(shared, session.connection);
            }
            if let Some(dial) = state.dials.remove(&slot) {
                dial.wake();
            }
        }
        Action::Ping { slot } => {
            if let Some(session) = state.session(slot) {
                let task = ping(Arc::clone(shared), slot, session.connection.clone());
                shared.runtime.spawn(Box::pin(task));
            }
        }
        Action::GaveUp => {
            // Opens waiting for a dial that will not come fail now.
            state.wake_waiters();
        }
        // Actions added later are the core's to explain; none exist yet.
        _ => {}
    }
}

/// Closes `connection` gracefully in a task of its own, since the close
/// waits for the session's streams.
fn close(shared: &Shared, connection: Connection) {
    shared.runtime.spawn(Box::pin(async move {
        // The end is reported (or ignored as stale) by the session's
        // watcher; the result adds nothing.
        let _ = connection.close().await;
    }));
}

/// Reports its dial failed when dropped before [`disarm`](Self::disarm):
/// the connector panicked (in the call or in its future), or the runtime
/// dropped the dial's task. The core learns of it at once rather than at
/// its connect timeout, so the slot is redialed after a backoff instead
/// of sitting in `Dialing` for the whole timeout.
struct DialGuard {
    shared: Arc<Shared>,
    slot: Slot,
    armed: bool,
}

impl DialGuard {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for DialGuard {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.shared.lock();
            let now = state.clock.now();
            state.core.dial_failed(now, self.slot);
            state.wake_supervisor();
        }
    }
}

/// One dial to `endpoint`: runs the connector (given up at the connect
/// timeout, when the core abandons the attempt anyway) and reports the
/// outcome.
async fn dial(shared: Arc<Shared>, slot: Slot, endpoint: usize) {
    let guard = DialGuard {
        shared: Arc::clone(&shared),
        slot,
        armed: true,
    };
    let (deadline, mut timer) = {
        let state = shared.lock();
        // The core's own floor, so both give up on the dial together.
        let timeout = shared
            .options
            .pool
            .connect_timeout
            .max(PoolConfig::MIN_INTERVAL);
        let deadline = state.clock.host_deadline(timeout);
        (deadline, shared.runtime.timer())
    };
    let connecting = unless_abandoned(&shared, slot, (shared.dial)(endpoint));
    let outcome = within(&mut *timer, deadline, connecting).await.flatten();
    guard.disarm();
    let mut state = shared.lock();
    let now = state.clock.now();
    match outcome {
        Some(Ok((connection, driver))) => {
            shared.runtime.spawn(driver);
            if state.shut_down || !state.core.dial_succeeded(now, slot) {
                // Too late: the pool gave up on this attempt (or ended).
                // Dropping the only handle closes it gracefully.
                return;
            }
            state.sessions.insert(
                slot.index(),
                Session {
                    slot,
                    connection: connection.clone(),
                    leases: 0,
                },
            );
            shared
                .runtime
                .spawn(Box::pin(watch(Arc::clone(&shared), slot, connection)));
            state.wake_waiters();
        }
        // A dial that timed out is also the core's own connect timeout,
        // due at the same moment: whichever comes first counts the
        // failure, and the core ignores the other.
        Some(Err(_)) | None => {
            state.core.dial_failed(now, slot);
        }
    }
    state.wake_supervisor();
}

/// Reports the peer's GoAway as soon as it arrives, so the core drains the
/// session and dials its replacement before any open runs into it; then
/// waits for the session's end and reports why, so the core redials a lost
/// session (after a backoff) and not one it closed itself.
async fn watch(shared: Arc<Shared>, slot: Slot, connection: Connection) {
    if connection.peer_going_away().await.is_ok() {
        shared.lock().peer_went_away(slot);
    }
    let reason = connection.ended().await;
    shared.lock().session_closed(slot, reason);
}

/// One health ping the core asked for: its round-trip time goes to the
/// core, which marks slow sessions and weighs picks by it. A ping that
/// fails gives no sample and is no failure of its own: too many may be out
/// (the peer is slow to answer), and an ended session is the watcher's to
/// report.
async fn ping(shared: Arc<Shared>, slot: Slot, connection: Connection) {
    if let Ok(rtt) = connection.ping().await {
        shared.lock().rtt_measured(slot, rtt);
    }
}

/// `connecting`'s output, or `None` once the core no longer waits for this
/// attempt (it timed out, or gave up on it) or the pool has shut down: the
/// connector's future is dropped then, not kept running to no purpose.
async fn unless_abandoned<F: Future>(
    shared: &Shared,
    slot: Slot,
    connecting: F,
) -> Option<F::Output> {
    let mut connecting = pin!(connecting);
    let outcome = poll_fn(|cx| {
        if let Poll::Ready(output) = connecting.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        let mut state = shared.lock();
        let dialing = state
            .core
            .sessions()
            .any(|s| s.slot == slot && s.state == SessionState::Dialing);
        if state.shut_down || !dialing {
            return Poll::Ready(None);
        }
        // Under the lock the shutdown and the core's `Close` are seen in.
        state.dials.insert(slot, cx.waker().clone());
        Poll::Pending
    })
    .await;
    shared.lock().dials.remove(&slot);
    outcome
}

/// `future`'s output, or `None` once `deadline` has passed on `timer`.
pub(super) async fn within<F: Future>(
    timer: &mut (dyn Timer + Send),
    deadline: StdInstant,
    future: F,
) -> Option<F::Output> {
    let mut future = pin!(future);
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        timer.poll_sleep_until(cx, deadline).map(|()| None)
    })
    .await
}

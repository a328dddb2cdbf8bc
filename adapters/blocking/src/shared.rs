//! The state the application's handles and the two I/O threads share: the
//! session behind one mutex, and the condition variables its waiters sleep
//! on.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use muxplex::{Event, Instant, Session, StreamError, StreamId};

/// Everything behind the lock, plus the condition variables (which must
/// live outside it, since waiting hands the guard back to them).
///
/// A notification costs a system call whether or not anyone waits (std's
/// condition variables do not count their waiters), and the session raises
/// events far more often than threads sleep on them. So every sleeper
/// counts itself in the state, and a condition variable is notified only
/// when its count says someone is there.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// The writer thread sleeps here until there may be output or the
    /// session's next deadline comes.
    pub(crate) writer_cv: Condvar,
    /// `accept_stream` sleeps here until a stream comes in.
    pub(crate) accept_cv: Condvar,
    /// `open_stream` sleeps here while opening is blocked.
    pub(crate) open_cv: Condvar,
    /// `flush` and `close` sleep here for the writer thread's progress.
    pub(crate) written_cv: Condvar,
    /// The origin of the session's clock.
    origin: std::time::Instant,
}

/// What the lock guards.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) session: Session,
    /// One entry per live [`Stream`](crate::Stream) handle.
    pub(crate) entries: HashMap<StreamId, Entry>,
    /// Batches the writer thread took from the session, and of those, how
    /// many reached the transport; `flush` compares the two.
    pub(crate) batches_taken: u64,
    pub(crate) batches_written: u64,
    /// Set once the writer thread has stopped: nothing more goes out.
    pub(crate) writer_done: bool,
    /// The writer thread sleeps on `writer_cv`, and nobody has woken it
    /// yet: the first [`Shared::settle`] since then does.
    pub(crate) writer_asleep: bool,
    /// Threads asleep on `accept_cv`, `open_cv` and `written_cv`.
    pub(crate) accepting: usize,
    pub(crate) opening: usize,
    pub(crate) flushing: usize,
}

/// The adapter's part of one stream handle.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The handle's readers and writers sleep here.
    pub(crate) cv: Arc<Condvar>,
    /// The reset the application has been told of. The core frees a reset
    /// stream once the application has seen the error, so later calls
    /// learn it from here.
    pub(crate) reset: Option<StreamError>,
    /// Threads asleep on `cv`.
    pub(crate) waiting: usize,
}

impl Shared {
    pub(crate) fn new(session: Session) -> Self {
        Shared {
            state: Mutex::new(State {
                session,
                entries: HashMap::new(),
                batches_taken: 0,
                batches_written: 0,
                writer_done: false,
                writer_asleep: false,
                accepting: 0,
                opening: 0,
                flushing: 0,
            }),
            writer_cv: Condvar::new(),
            accept_cv: Condvar::new(),
            open_cv: Condvar::new(),
            written_cv: Condvar::new(),
            origin: std::time::Instant::now(),
        }
    }

    /// Locks the state. A panic elsewhere while the lock was held cannot
    /// have left the session half-updated (the core does not panic midway
    /// on any input), so poisoning is ignored rather than spread.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps on `cv` until notified, as [`lock`](Self::lock) does.
    pub(crate) fn wait<'a>(
        &self,
        cv: &Condvar,
        guard: MutexGuard<'a, State>,
    ) -> MutexGuard<'a, State> {
        cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps on `cv` as [`wait`](Self::wait) does, counted in the count
    /// `count` picks from the state while asleep, so that notifiers know
    /// someone is there.
    pub(crate) fn wait_counted<'a>(
        &self,
        cv: &Condvar,
        mut guard: MutexGuard<'a, State>,
        count: impl Fn(&mut State) -> &mut usize,
    ) -> MutexGuard<'a, State> {
        *count(&mut guard) += 1;
        guard = self.wait(cv, guard);
        *count(&mut guard) -= 1;
        guard
    }

    /// The session's clock: microseconds since the connection was made.
    pub(crate) fn now(&self) -> Instant {
        let micros = self.origin.elapsed().as_micros();
        Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// The drive loop's rule, after any input or command: hand each event
    /// to whoever waits for it, then let the writer thread drain the
    /// output. Waiters re-check their own condition under the lock, so an
    /// event is only a wake-up call.
    pub(crate) fn settle(&self, state: &mut State) {
        while let Some(event) = state.session.poll_event() {
            match event {
                Event::IncomingStream(_) => self.notify_accept(state),
                Event::Readable(id) | Event::Writable(id) => state.wake(id),
                Event::StreamReset { id, .. } => {
                    state.wake(id);
                    // A reset drops unsent data, which a flush waits on.
                    self.notify_written(state);
                }
                Event::OpenUnblocked | Event::PeerGoingAway => self.notify_open(state),
                Event::Closed(_) => {
                    for entry in state.entries.values() {
                        entry.cv.notify_all();
                    }
                    self.accept_cv.notify_all();
                    self.open_cv.notify_all();
                    self.written_cv.notify_all();
                }
                // Pongs answer pings nobody here sends.
                _ => {}
            }
        }
        self.wake_writer(state);
    }

    /// Wakes the writer thread if it sleeps: there may be output, or an
    /// earlier deadline. Once woken it looks at everything, so one call
    /// per sleep is enough.
    pub(crate) fn wake_writer(&self, state: &mut State) {
        if state.writer_asleep {
            state.writer_asleep = false;
            self.writer_cv.notify_one();
        }
    }

    pub(crate) fn notify_accept(&self, state: &State) {
        if state.accepting > 0 {
            self.accept_cv.notify_all();
        }
    }

    pub(crate) fn notify_open(&self, state: &State) {
        if state.opening > 0 {
            self.open_cv.notify_all();
        }
    }

    pub(crate) fn notify_written(&self, state: &State) {
        if state.flushing > 0 {
            self.written_cv.notify_all();
        }
    }
}

impl State {
    fn wake(&self, id: StreamId) {
        if let Some(entry) = self.entries.get(&id)
            && entry.waiting > 0
        {
            entry.cv.notify_all();
        }
    }

    /// Takes over a stream whose handle is gone: the core finishes our
    /// direction (data written is still delivered), discards what the peer
    /// sends until its FIN, and frees the stream then.
    pub(crate) fn detach(&mut self, id: StreamId) {
        if let Some(stream) = self.session.stream(id) {
            stream.detach();
        }
    }
}

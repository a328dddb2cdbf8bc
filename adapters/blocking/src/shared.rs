//! The state the application's handles and the two I/O threads share: the
//! session behind one mutex, the condition variables its waiters sleep on,
//! and the transport's write half with the frames on their way to it.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use muxplex::{Event, Instant, Session, StreamError, StreamId, TransmitQueue};

use muxplex_host::HostClock;

use crate::driver::{Input, Source};
use crate::output::write_all;

/// Batches an application thread writes itself before it hands the rest
/// of the output to the writer thread, so that a thread writing on a busy
/// connection returns in bounded time.
const INLINE_BATCHES: u32 = 4;

/// Everything behind the lock, plus the condition variables (which must
/// live outside it, since waiting hands the guard back to them).
///
/// A notification costs a system call whether or not anyone waits (std's
/// condition variables do not count their waiters), and the session raises
/// events far more often than threads sleep on them. So every sleeper
/// counts itself in the state, and a condition variable is notified only
/// when its count says someone is there. And notifications made under the
/// lock wait in the state until it is released ([`Guard`]'s drop): a thread
/// woken while the notifier still holds the lock would only wake to sleep
/// again on the mutex.
///
/// # Who writes
///
/// Output is written by whichever thread produced it, when nobody else is
/// writing: an application thread that wrote to a stream sends the frames
/// itself, as a thread writing to a `TcpStream` would, with no hand-off to
/// another thread. [`State::sender`] says whether someone is writing; that
/// thread takes frames from the session again before it stops, so output
/// produced meanwhile is never left behind. The reader thread never waits
/// for the transport's write (two peers writing a lot to each other would
/// stall), so it only takes the frames its input produced and hands them
/// to the writer thread, which also keeps the session's timers and closes
/// the transport at the end.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// The transport's write half and the batch being written: locked only
    /// by the thread that set [`State::sender`] to [`Sender::Busy`], so it
    /// is never contended. Taken while `state` is held, or the other way
    /// round, which cannot deadlock: see [`Shared::transmit`].
    output: Mutex<Output>,
    /// The transport's read half: locked only by the thread that set
    /// [`State::reading`], so it is never contended (see
    /// [`driver`](crate::driver) for who reads).
    input: Mutex<Input>,
    /// The reader thread sleeps here while somebody else reads.
    reader_cv: Condvar,
    /// The writer thread sleeps here until it is handed output or the
    /// session's next deadline comes.
    pub(crate) writer_cv: Condvar,
    /// `accept_stream` sleeps here until a stream comes in.
    pub(crate) accept_cv: Condvar,
    /// `open_stream` sleeps here while opening is blocked.
    pub(crate) open_cv: Condvar,
    /// `flush` and `close` sleep here for the writes' progress.
    pub(crate) written_cv: Condvar,
    /// `ping` sleeps here for its answer.
    pub(crate) ping_cv: Condvar,
    /// The session's clock: time 0 is the connection's creation.
    clock: HostClock,
    /// The transport's error, once a read or write failed with one (the
    /// first such error: the session ends with it).
    transport_error: OnceLock<Arc<io::Error>>,
}

/// The transport's write half (gone once the writer thread has closed it)
/// and the frames taken from the session and not yet written.
pub(crate) struct Output {
    writer: Option<Box<dyn Write + Send>>,
    batch: TransmitQueue,
}

impl Output {
    fn write(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Some(writer) => write_all(&mut self.batch, writer),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
}

/// Whether, and how, output is being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sender {
    /// Nobody writes: the next thread with output takes over.
    Idle,
    /// A thread writes, and will take frames from the session again before
    /// it stops.
    Busy,
    /// Output waits (in the batch, or still in the session) for the writer
    /// thread, which was woken and takes over.
    Handed,
}

/// Who calls [`Shared::transmit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// An application thread: writes a few batches itself, then hands over.
    App,
    /// The reader thread: takes frames, and hands them over.
    Reader,
    /// The writer thread: writes until the session has nothing more.
    Writer,
}

/// What the lock guards.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) session: Session,
    /// One entry per live [`Stream`](crate::Stream) handle.
    pub(crate) entries: HashMap<StreamId, Entry>,
    /// Batches taken from the session, and of those, how many reached the
    /// transport; `flush` compares the two. Batches are written in order.
    pub(crate) batches_taken: u64,
    pub(crate) batches_written: u64,
    /// See [`Sender`].
    pub(crate) sender: Sender,
    /// Set once the writer thread has stopped: nothing more goes out.
    pub(crate) writer_done: bool,
    /// A thread holds the reading role (see [`driver`](crate::driver)).
    pub(crate) reading: bool,
    /// The transport's input ended (end of file or an error): nobody reads
    /// again.
    pub(crate) input_done: bool,
    /// Application threads may hold the reading role: the transport's
    /// reads can time out.
    pub(crate) can_lead: bool,
    /// Since when the reader thread has left the role free for an
    /// application thread to take.
    pub(crate) free_since: Option<std::time::Instant>,
    /// The writer thread sleeps on `writer_cv`, and nobody has woken it
    /// yet; and until when it sleeps (`None`: until woken).
    writer_asleep: bool,
    writer_deadline: Option<Instant>,
    /// Threads asleep on `accept_cv`, `open_cv`, `written_cv` and `ping_cv`.
    pub(crate) accepting: usize,
    pub(crate) opening: usize,
    pub(crate) flushing: usize,
    pub(crate) pinging: usize,
    /// Application pings sent, and pongs received: the core reports a pong
    /// without saying which ping it answers, and peers answer in order, so
    /// the n-th pong (counting from 0) answers the n-th ping.
    pub(crate) pings_sent: u64,
    pongs_received: u64,
    /// Answers not yet collected by their `ping` call: (ping number,
    /// round-trip time); at most `Config::max_outstanding_pings`.
    pub(crate) answers: Vec<(u64, Duration)>,
    /// Notifications to make once the lock is released.
    wakeups: Wakeups,
}

/// Condition variables to notify once the lock is released.
#[derive(Debug, Default)]
struct Wakeups {
    /// Streams' condition variables, each once.
    streams: Vec<Arc<Condvar>>,
    writer: bool,
    accept: bool,
    open: bool,
    written: bool,
    ping: bool,
}

thread_local! {
    /// An empty list with room, swapped with the state's when the lock is
    /// released, so that queueing wake-ups allocates only at first.
    static SPARE_WAKEUPS: Cell<Vec<Arc<Condvar>>> = const { Cell::new(Vec::new()) };
}

impl Wakeups {
    fn is_empty(&self) -> bool {
        !(!self.streams.is_empty()
            || self.writer
            || self.accept
            || self.open
            || self.written
            || self.ping)
    }

    fn stream(&mut self, cv: &Arc<Condvar>) {
        if !self.streams.iter().any(|queued| Arc::ptr_eq(queued, cv)) {
            self.streams.push(Arc::clone(cv));
        }
    }

    /// Takes the queued wake-ups, leaving none.
    fn take(&mut self) -> Wakeups {
        let taken = Wakeups {
            streams: std::mem::replace(
                &mut self.streams,
                // A thread's locals may be gone while it exits.
                SPARE_WAKEUPS.try_with(Cell::take).unwrap_or_default(),
            ),
            writer: self.writer,
            accept: self.accept,
            open: self.open,
            written: self.written,
            ping: self.ping,
        };
        self.writer = false;
        self.accept = false;
        self.open = false;
        self.written = false;
        self.ping = false;
        taken
    }

    fn notify(mut self, shared: &Shared) {
        for cv in self.streams.drain(..) {
            cv.notify_all();
        }
        let spare = self.streams;
        let _ = SPARE_WAKEUPS.try_with(|cell| cell.set(spare));
        if self.writer {
            shared.writer_cv.notify_one();
        }
        if self.accept {
            shared.accept_cv.notify_all();
        }
        if self.open {
            shared.open_cv.notify_all();
        }
        if self.written {
            shared.written_cv.notify_all();
        }
        if self.ping {
            shared.ping_cv.notify_all();
        }
    }
}

/// The locked state. Dropping it releases the lock, then makes the
/// notifications queued meanwhile.
pub(crate) struct Guard<'a> {
    shared: &'a Shared,
    /// `None` only while the guard is handed to a condition variable.
    inner: Option<MutexGuard<'a, State>>,
}

impl<'a> Guard<'a> {
    /// The guard itself, with the queued notifications made (under the
    /// lock, since it is about to be handed to a condition variable).
    fn into_inner(mut self) -> MutexGuard<'a, State> {
        let mut inner = self.inner.take().expect("a guard holds the lock");
        if !inner.wakeups.is_empty() {
            inner.wakeups.take().notify(self.shared);
        }
        inner
    }
}

impl Deref for Guard<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        self.inner.as_ref().expect("a guard holds the lock")
    }
}

impl DerefMut for Guard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.inner.as_mut().expect("a guard holds the lock")
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Some(mut inner) = self.inner.take() {
            if inner.wakeups.is_empty() {
                return;
            }
            let wakeups = inner.wakeups.take();
            drop(inner);
            wakeups.notify(self.shared);
        }
    }
}

/// The adapter's part of one stream handle.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The handle's readers and writers sleep here.
    pub(crate) cv: Arc<Condvar>,
    /// The application's own reset through [`Stream::reset`](crate::Stream::reset):
    /// the core frees a stream the application resets, so only this
    /// remembers it. A reset by the peer or the session is the core's to
    /// keep (until the handle goes).
    pub(crate) own_reset: Option<StreamError>,
    /// Threads asleep on `cv`.
    pub(crate) waiting: usize,
}

impl Shared {
    pub(crate) fn new(session: Session, reader: Source, writer: Box<dyn Write + Send>) -> Self {
        let input = Input::new(reader);
        Shared {
            state: Mutex::new(State {
                session,
                entries: HashMap::new(),
                batches_taken: 0,
                batches_written: 0,
                sender: Sender::Idle,
                writer_done: false,
                reading: false,
                input_done: false,
                can_lead: input.can_lead(),
                free_since: None,
                writer_asleep: false,
                writer_deadline: None,
                accepting: 0,
                opening: 0,
                flushing: 0,
                pinging: 0,
                pings_sent: 0,
                pongs_received: 0,
                answers: Vec::new(),
                wakeups: Wakeups::default(),
            }),
            output: Mutex::new(Output {
                writer: Some(writer),
                batch: TransmitQueue::new(true),
            }),
            input: Mutex::new(input),
            reader_cv: Condvar::new(),
            writer_cv: Condvar::new(),
            accept_cv: Condvar::new(),
            open_cv: Condvar::new(),
            written_cv: Condvar::new(),
            ping_cv: Condvar::new(),
            clock: HostClock::new(std::time::Instant::now()),
            transport_error: OnceLock::new(),
        }
    }

    /// Keeps the transport's error for the calls that fail because of it;
    /// to be called before the session hears of the failure, so no call
    /// sees the session ended by it without its error.
    pub(crate) fn transport_failed(&self, error: io::Error) {
        // A later error (the other direction's) is a consequence.
        let _ = self.transport_error.set(Arc::new(error));
    }

    /// The transport's error, once it failed.
    pub(crate) fn transport_error(&self) -> Option<&Arc<io::Error>> {
        self.transport_error.get()
    }

    /// Locks the state. A panic elsewhere while the lock was held cannot
    /// have left the session half-updated (the core does not panic midway
    /// on any input), so poisoning is ignored rather than spread.
    pub(crate) fn lock(&self) -> Guard<'_> {
        let inner = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Guard {
            shared: self,
            inner: Some(inner),
        }
    }

    fn lock_output(&self) -> MutexGuard<'_, Output> {
        self.output.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn lock_input(&self) -> MutexGuard<'_, Input> {
        self.input.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The reader thread's sleep while somebody else may read: `left` at
    /// most, or until [`end_grace`](Self::end_grace).
    pub(crate) fn reader_sleep<'a>(&'a self, guard: Guard<'a>, left: Duration) -> Guard<'a> {
        self.wait_timeout(&self.reader_cv, guard, left)
    }

    /// Called by an application thread that will not take the reading role
    /// soon (it goes to sleep, or drops its stream): if nobody holds it,
    /// the reader thread takes it now rather than once its grace runs out,
    /// so that input arriving meanwhile (the next request on an idle
    /// server) is not left in the socket. A thread whose call merely
    /// returns keeps the grace: its next read mostly follows at once.
    pub(crate) fn end_grace(&self, state: &mut State) {
        if !state.reading && state.free_since.take().is_some() {
            self.reader_cv.notify_one();
        }
    }

    /// Sleeps on `cv` until notified or for `left` at most, as
    /// [`wait`](Self::wait) does.
    fn wait_timeout<'a>(&'a self, cv: &Condvar, guard: Guard<'a>, left: Duration) -> Guard<'a> {
        let inner = cv
            .wait_timeout(guard.into_inner(), left)
            .map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard);
        Guard {
            shared: self,
            inner: Some(inner),
        }
    }

    /// Sleeps on `cv` until notified, as [`lock`](Self::lock) does.
    pub(crate) fn wait<'a>(&'a self, cv: &Condvar, guard: Guard<'a>) -> Guard<'a> {
        let inner = cv
            .wait(guard.into_inner())
            .unwrap_or_else(PoisonError::into_inner);
        Guard {
            shared: self,
            inner: Some(inner),
        }
    }

    /// Sleeps on `cv` as [`wait`](Self::wait) does, counted in the count
    /// `count` picks from the state while asleep, so that notifiers know
    /// someone is there.
    pub(crate) fn wait_counted<'a>(
        &'a self,
        cv: &Condvar,
        mut guard: Guard<'a>,
        count: impl Fn(&mut State) -> &mut usize,
    ) -> Guard<'a> {
        *count(&mut guard) += 1;
        self.end_grace(&mut guard);
        guard = self.wait(cv, guard);
        *count(&mut guard) -= 1;
        guard
    }

    /// The writer thread's sleep: until woken, or until the session's next
    /// deadline.
    pub(crate) fn writer_sleep<'a>(&'a self, mut guard: Guard<'a>) -> Guard<'a> {
        let deadline = guard.session.poll_timeout();
        guard.writer_asleep = true;
        guard.writer_deadline = deadline;
        guard = match deadline {
            None => self.wait(&self.writer_cv, guard),
            Some(at) => {
                let left = at.saturating_duration_since(self.now());
                self.wait_timeout(&self.writer_cv, guard, left)
            }
        };
        guard.writer_asleep = false;
        guard
    }

    /// The session's clock: microseconds since the connection was made.
    pub(crate) fn now(&self) -> Instant {
        self.clock.core_time(std::time::Instant::now())
    }

    /// What an application thread does after any command: hand each event
    /// to whoever waits for it, and write the output (see
    /// [`transmit`](Self::transmit)).
    pub(crate) fn after_command<'a>(&'a self, mut state: Guard<'a>) -> Guard<'a> {
        self.settle(&mut state);
        self.transmit(state, Via::App)
    }

    /// Hands each event to whoever waits for it. Waiters re-check their
    /// own condition under the lock, so an event is only a wake-up call.
    /// Wakes the writer thread if the session's next deadline came before
    /// the one it sleeps until.
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
                    self.ping_cv.notify_all();
                    // It closes the transport once the last frames are out.
                    self.wake_writer(state);
                }
                Event::Pong { rtt } => {
                    // Only application pings raise pong events.
                    let answered = state.pongs_received;
                    state.pongs_received += 1;
                    state.answers.push((answered, rtt));
                    if state.pinging > 0 {
                        state.wakeups.ping = true;
                    }
                }
                _ => {}
            }
        }
        if state.writer_asleep
            && let Some(at) = state.session.poll_timeout()
            && state
                .writer_deadline
                .is_none_or(|sleeps_until| at < sleeps_until)
        {
            self.wake_writer(state);
        }
    }

    /// What [`Connection`](crate::Connection)'s `open_stream` and
    /// `accept_stream` do after their command: hand each event to whoever
    /// waits for it, and leave the output (the stream's SYN or ACK) to the
    /// writer thread, woken now. A stream's first frame is mostly followed
    /// at once by the application's first write, or its finish, which then
    /// find the writer busy and leave their frames to it too: the flags
    /// ride on those frames and one write carries them all, instead of a
    /// write per command. Many threads opening streams at once share the
    /// writer's writes the same way.
    pub(crate) fn after_open<'a>(&'a self, mut state: Guard<'a>) -> Guard<'a> {
        self.settle(&mut state);
        if state.sender == Sender::Idle && !state.writer_done {
            state.sender = Sender::Handed;
            self.wake_writer(&mut state);
        }
        state
    }

    /// Gets the session's output written, if nobody else is writing (who
    /// is will take it). `via` says who calls: see [`Via`].
    ///
    /// The thread that sets [`State::sender`] to `Busy` is the only one to
    /// lock the output, and it takes frames from the session again (under
    /// the state lock) before it sets `Idle`, after which it no longer
    /// takes the state lock while holding the output's. So a thread that
    /// finds `Idle` under the state lock may lock the output while holding
    /// it: whoever still holds the output is only about to let it go.
    pub(crate) fn transmit<'a>(&'a self, mut state: Guard<'a>, via: Via) -> Guard<'a> {
        match state.sender {
            Sender::Idle => {}
            Sender::Handed if via == Via::Writer => {}
            // Whoever has it looks at the session again before stopping.
            _ => return state,
        }
        if state.writer_done {
            return state;
        }
        state.sender = Sender::Busy;
        let mut output = self.lock_output();
        let mut rounds = 0;
        loop {
            if output.batch.is_empty() {
                if !output.batch.fill(&mut state.session) {
                    break;
                }
                state.batches_taken += 1;
                // Frames leaving may raise Writable or free streams.
                self.settle(&mut state);
            }
            if via == Via::Reader || (via == Via::App && rounds == INLINE_BATCHES) {
                state.sender = Sender::Handed;
                self.wake_writer(&mut state);
                return state;
            }
            let taken = state.batches_taken;
            drop(state);
            let written = output.write();
            state = self.lock();
            rounds += 1;
            match written {
                Ok(()) => state.batches_written = taken,
                Err(e) => {
                    self.transport_failed(e);
                    output.batch.clear();
                    let now = self.now();
                    state.session.handle_transport_error(now);
                    self.settle(&mut state);
                    break;
                }
            }
            self.notify_written(&mut state);
        }
        state.sender = Sender::Idle;
        drop(output);
        if state.session.is_closed() {
            self.wake_writer(&mut state);
        }
        state
    }

    /// Ends the output for good, once the session has ended and its last
    /// frames are out: drops the transport's write half, which closes our
    /// direction of it. The writer thread's last act.
    pub(crate) fn close_output<'a>(&'a self, mut state: Guard<'a>) -> Guard<'a> {
        debug_assert_eq!(state.sender, Sender::Idle);
        // Nobody writes again.
        state.sender = Sender::Busy;
        drop(state);
        let writer = self.lock_output().writer.take();
        drop(writer);
        let mut state = self.lock();
        state.writer_done = true;
        self.written_cv.notify_all();
        state
    }

    /// Wakes the writer thread if it sleeps. Once woken it looks at
    /// everything, so one call per sleep is enough.
    pub(crate) fn wake_writer(&self, state: &mut State) {
        if state.writer_asleep {
            state.writer_asleep = false;
            state.wakeups.writer = true;
        }
    }

    pub(crate) fn notify_accept(&self, state: &mut State) {
        if state.accepting > 0 {
            state.wakeups.accept = true;
        }
    }

    pub(crate) fn notify_open(&self, state: &mut State) {
        if state.opening > 0 {
            state.wakeups.open = true;
        }
    }

    pub(crate) fn notify_written(&self, state: &mut State) {
        if state.flushing > 0 {
            state.wakeups.written = true;
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl State {
    /// Whether a stream's waiter is to be woken when the lock is released.
    pub(crate) fn wakes_streams(&self) -> bool {
        !self.wakeups.streams.is_empty()
    }

    fn wake(&mut self, id: StreamId) {
        if let Some(entry) = self.entries.get(&id)
            && entry.waiting > 0
        {
            self.wakeups.stream(&entry.cv);
        }
    }

    /// Takes over a stream whose handle is gone: the core finishes our
    /// direction (data written is still delivered), discards what the peer
    /// sends until its FIN, and frees the stream then.
    pub(crate) fn detach(&mut self, id: StreamId, now: Instant) {
        // A reset stream is released; one the application reset is gone.
        if let Ok(stream) = self.session.stream(id) {
            stream.detach(now);
        }
    }
}

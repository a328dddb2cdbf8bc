//! The `AsyncDriver`, run by a minimal executor under a virtual clock.

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use embedded_io::{ErrorKind, ErrorType};
use muxplex::{CloseReason, Config, Event, Instant, Session};
use muxplex_embedded_io::{AsyncDriver, Clock, Error};

use crate::app::{Client, EchoServer, payload};
use crate::pipe::{Controls, ReadHalf, WriteHalf, pair};

const TICK: Duration = Duration::from_millis(1);

/// Time that moves only when the executor says so.
#[derive(Clone, Debug, Default)]
struct VirtualClock(Rc<Cell<Instant>>);

impl Clock for VirtualClock {
    fn now(&self) -> Instant {
        self.0.get()
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        let clock = self.clone();
        poll_fn(move |_| match clock.now() >= deadline {
            true => Poll::Ready(()),
            false => Poll::Pending,
        })
    }
}

type Task<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Polls every unfinished task once per round, then moves the clock one
/// tick. With everything polled every round no waker is needed, so the
/// noop one does. Panics if the tasks are not all done in `max_rounds`.
fn run(clock: &VirtualClock, mut tasks: Vec<Task<'_>>, max_rounds: usize) {
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..max_rounds {
        tasks.retain_mut(|task| task.as_mut().poll(&mut cx).is_pending());
        if tasks.is_empty() {
            return;
        }
        clock.0.set(clock.now() + TICK);
    }
    panic!(
        "{} task(s) still running after {max_rounds} rounds",
        tasks.len()
    );
}

type PipeDriver = AsyncDriver<ReadHalf, WriteHalf, VirtualClock>;

/// Sends, checks the echo, closes gracefully, flushes the GoAway and then
/// shuts its end of the link.
async fn client_task(mut driver: PipeDriver, payloads: Vec<Vec<u8>>, link: Controls) {
    let mut app = Client::start(driver.session_mut(), payloads);
    while !app.is_done() {
        let event = driver.step().await.expect("transport");
        app.on_event(driver.session_mut(), event.expect("session open"));
    }
    driver.session_mut().close(muxplex::Instant::ZERO);
    let closed = Event::Closed(CloseReason::LocalClose);
    assert_eq!(driver.step().await, Ok(Some(closed)));
    assert_eq!(driver.step().await, Ok(None));
    driver.flush().await.expect("GoAway sent");
    assert_eq!(link.unflushed(), 0, "flush flushes the writer too");
    link.shutdown();
}

/// Echoes until the client's GoAway and then its end of file arrive.
async fn server_task(mut driver: PipeDriver, link: Controls) {
    let mut echo = EchoServer::default();
    let (mut going_away, mut closed) = (false, None);
    while let Some(event) = driver.step().await.expect("transport") {
        match event {
            Event::Closed(reason) => closed = Some(reason),
            event => going_away |= echo.on_event(driver.session_mut(), event),
        }
    }
    assert!(
        going_away,
        "the client's GoAway was flushed before it hung up"
    );
    // GoAway(0) then end of file: the client's clean close.
    assert_eq!(closed, Some(CloseReason::PeerGoAway { code: 0 }));
    // Its last writes were long done, so `step` must have flushed them.
    assert_eq!(link.unflushed(), 0, "step flushes once output drains");
}

fn echo_run(capacity: usize, payloads: Vec<Vec<u8>>, stall_client_until: Instant) {
    let total: usize = payloads.iter().map(Vec::len).sum();
    let clock = VirtualClock::default();
    let (a, b) = pair(capacity);
    let client_link = a.controls();
    client_link.stall(stall_client_until > Instant::ZERO);
    let (reader, writer) = a.split();
    let client_session =
        Session::client(Config::default(), muxplex::Instant::ZERO).expect("valid config");
    let client = AsyncDriver::with_capacity(reader, writer, clock.clone(), client_session, 16, 16);
    let server_link = b.controls();
    let (reader, writer) = b.split();
    let server = AsyncDriver::new(
        reader,
        writer,
        clock.clone(),
        Session::server(Config::default(), muxplex::Instant::ZERO).expect("valid config"),
    );

    let release = async {
        clock.sleep_until(stall_client_until).await;
        client_link.stall(false);
    };
    let tasks: Vec<Task<'_>> = vec![
        Box::pin(client_task(client, payloads, client_link.clone())),
        Box::pin(server_task(server, server_link)),
        Box::pin(release),
    ];
    run(&clock, tasks, 4 * total / capacity + 100_000);
}

#[test]
fn async_echo_through_a_seven_byte_pipe() {
    // Both directions are busy at once through 7 bytes: if the driver did
    // not read while a write waits, each end would wait for the other.
    let payloads = (0..16).map(|i| payload(i, i * 131 % 1200)).collect();
    echo_run(7, payloads, Instant::ZERO);
}

#[test]
fn async_echo_with_flow_control_after_a_write_stall() {
    let mut payloads: Vec<Vec<u8>> = (0..20).map(|i| payload(i, i * 1013 % 30_000)).collect();
    payloads.push(payload(20, 600 * 1024));
    echo_run(4096, payloads, Instant::from_millis(300));
}

#[test]
fn async_keepalive_times_out_against_a_silent_peer() {
    let config = Config::default()
        .with_keepalive_interval(Some(Duration::from_secs(1)))
        .with_keepalive_timeout(Duration::from_millis(500));
    let clock = VirtualClock::default();
    let (a, _silent) = pair(7);
    let (reader, writer) = a.split();
    let mut driver = AsyncDriver::new(
        reader,
        writer,
        clock.clone(),
        Session::client(config, muxplex::Instant::ZERO).expect("valid config"),
    );
    let task = async {
        let closed = Event::Closed(CloseReason::KeepAliveTimeout);
        assert_eq!(driver.step().await, Ok(Some(closed)));
        // The ping left at 1 s and was stuck in the pipe; the answer was
        // due half a second later, and the clock ticks by milliseconds.
        assert_eq!(clock.now(), Instant::from_millis(1500));
        assert_eq!(driver.step().await, Ok(None));
        assert!(driver.session().is_closed());
    };
    run(&clock, vec![Box::pin(task)], 10_000);
}

/// A writer that breaks the embedded-io contract by taking no bytes.
struct StuckWriter;

impl ErrorType for StuckWriter {
    type Error = ErrorKind;
}

impl embedded_io_async::Write for StuckWriter {
    async fn write(&mut self, _: &[u8]) -> Result<usize, ErrorKind> {
        Ok(0)
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[test]
fn async_write_of_zero_bytes_is_an_error_not_a_spin() {
    let clock = VirtualClock::default();
    let (a, _b) = pair(64);
    let (reader, _) = a.split();
    let session = Session::client(Config::default(), muxplex::Instant::ZERO).expect("valid config");
    let mut driver = AsyncDriver::new(reader, StuckWriter, clock.clone(), session);
    driver
        .session_mut()
        .open_stream(muxplex::Instant::ZERO)
        .expect("open");
    let task = async {
        assert_eq!(driver.step().await, Err(Error::WriteZero));
    };
    run(&clock, vec![Box::pin(task)], 10);
}

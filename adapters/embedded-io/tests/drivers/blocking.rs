//! The blocking `Driver`, polled from a simulated main loop.

use std::time::Duration;

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};
use muxplex::{CloseReason, Config, Event, Instant, Session};
use muxplex_embedded_io::{Driver, Error};

use crate::app::{Client, EchoServer, payload};
use crate::pipe::{End, pair};

const TICK: Duration = Duration::from_millis(1);

/// One pass of the simulated main loop at `now`: each driver moves what its
/// pipe allows, then its application handles every event that produced.
fn main_loop_round(
    now: Instant,
    client: &mut Driver<End>,
    app: &mut Client,
    server: &mut Driver<End>,
    echo: &mut EchoServer,
) {
    client.poll(now).expect("client transport");
    while let Some(event) = client.session_mut().poll_event() {
        app.on_event(client.session_mut(), event);
    }
    server.poll(now).expect("server transport");
    while let Some(event) = server.session_mut().poll_event() {
        echo.on_event(server.session_mut(), event);
    }
}

/// A client and an echo server, each behind a driver, on pipes holding
/// `capacity` bytes per direction; the drivers' own buffers are `buffer`
/// bytes. Runs the main loop until every echo is checked.
fn echo_run(capacity: usize, buffer: usize, payloads: Vec<Vec<u8>>) {
    let total: usize = payloads.iter().map(Vec::len).sum();
    let (a, b) = pair(capacity);
    let mut client = Driver::with_capacity(
        a,
        Session::client(Config::default(), muxplex::Instant::ZERO).expect("valid config"),
        buffer,
        buffer,
    );
    let mut server = Driver::with_capacity(
        b,
        Session::server(Config::default(), muxplex::Instant::ZERO).expect("valid config"),
        buffer,
        buffer,
    );
    let mut app = Client::start(client.session_mut(), payloads);
    let mut echo = EchoServer::default();

    // Each round moves at least one byte each way while any is pending, so
    // the bound is the data (twice: there and back) plus frame headers.
    let max_rounds = 4 * total / capacity + 100_000;
    let mut now = Instant::ZERO;
    for _ in 0..max_rounds {
        now += TICK;
        main_loop_round(now, &mut client, &mut app, &mut server, &mut echo);
        if app.is_done() {
            return;
        }
    }
    panic!(
        "stalled: {} of {total} bytes echoed after {max_rounds} rounds",
        app.echoed()
    );
}

#[test]
fn many_streams_through_a_seven_byte_pipe() {
    // Every frame (12-byte header first) is cut into pieces of at most 7
    // bytes, and the drivers' buffers are smaller than one frame.
    let payloads = (0..24).map(|i| payload(i, i * 97 % 1500)).collect();
    echo_run(7, 10, payloads);
}

#[test]
fn many_streams_and_flow_control_through_a_wide_pipe() {
    // 600 KiB on one stream exceeds the 256 KiB window both ways, so the
    // echo only completes if window updates flow while data does.
    let mut payloads: Vec<Vec<u8>> = (0..60).map(|i| payload(i, i * 1009 % 40_000)).collect();
    payloads.push(payload(60, 600 * 1024));
    echo_run(4096, 1024, payloads);
}

#[test]
fn write_stall_loses_nothing_and_never_blocks() {
    let (a, b) = pair(64);
    let client_link = a.controls();
    let mut client = Driver::with_capacity(
        a,
        Session::client(Config::default(), muxplex::Instant::ZERO).expect("valid config"),
        32,
        32,
    );
    let mut server = Driver::new(
        b,
        Session::server(Config::default(), muxplex::Instant::ZERO).expect("valid config"),
    );
    let data = payload(1, 20_000);
    let mut app = Client::start(client.session_mut(), vec![data]);
    let mut echo = EchoServer::default();

    // The pipe panics on a write while stalled, so every poll below proves
    // the driver asked WriteReady first and returned instead of waiting.
    client_link.stall(true);
    let mut now = Instant::ZERO;
    for _ in 0..500 {
        now += TICK;
        client.poll(now).expect("client transport");
        assert!(!client.is_flushed(), "output waits in the driver");
        server.poll(now).expect("server transport");
        assert_eq!(
            server.session_mut().poll_event(),
            None,
            "nothing got through"
        );
    }
    client_link.stall(false);
    for _ in 0..20_000 {
        now += TICK;
        main_loop_round(now, &mut client, &mut app, &mut server, &mut echo);
        if app.is_done() {
            assert!(client.is_flushed() && server.is_flushed());
            return;
        }
    }
    panic!("echo incomplete after the stall: {} bytes", app.echoed());
}

/// A client whose peer never reads or answers: the keepalive must end the
/// session on time, even with the ping stuck in a 7-byte pipe.
#[test]
fn keepalive_times_out_against_a_silent_peer() {
    let config = Config::default()
        .with_keepalive_interval(Some(Duration::from_secs(1)))
        .with_keepalive_timeout(Duration::from_millis(500));
    let (a, _silent) = pair(7);
    let mut client = Driver::new(
        a,
        Session::client(config, muxplex::Instant::ZERO).expect("valid config"),
    );

    // The first poll gives the session the time; the ping is due a second
    // after, its answer half a second after that.
    client.poll(Instant::ZERO).expect("transport");
    assert_eq!(client.next_deadline(), Some(Instant::from_millis(1000)));
    client.poll(Instant::from_millis(1000)).expect("transport");
    assert_eq!(client.next_deadline(), Some(Instant::from_millis(1500)));
    assert!(!client.is_flushed(), "a 12-byte ping does not fit 7 bytes");

    client.poll(Instant::from_millis(1499)).expect("transport");
    assert_eq!(client.session_mut().poll_event(), None, "not yet");
    client.poll(Instant::from_millis(1500)).expect("transport");
    assert_eq!(
        client.session_mut().poll_event(),
        Some(Event::Closed(CloseReason::KeepAliveTimeout))
    );
    assert_eq!(client.next_deadline(), None);
    let (_, session) = client.into_parts();
    assert_eq!(session.close_reason(), Some(CloseReason::KeepAliveTimeout));
}

#[test]
fn end_of_file_closes_the_session() {
    let (a, b) = pair(64);
    let mut client = Driver::new(
        a,
        Session::client(Config::default(), muxplex::Instant::ZERO).expect("valid config"),
    );
    b.controls().shutdown();
    client.poll(Instant::ZERO).expect("transport");
    assert_eq!(
        client.session_mut().poll_event(),
        Some(Event::Closed(CloseReason::TransportClosed))
    );
    // The reader stays at end of file (and ready); polling goes on quietly.
    client.poll(Instant::from_millis(1)).expect("transport");
    assert_eq!(client.session_mut().poll_event(), None);
}

/// A transport that breaks the embedded-io contract by taking no bytes of
/// a write it said it was ready for.
struct Stuck(End);

impl ErrorType for Stuck {
    type Error = ErrorKind;
}

impl Read for Stuck {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.0.read(buf)
    }
}

impl ReadReady for Stuck {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        self.0.read_ready()
    }
}

impl Write for Stuck {
    fn write(&mut self, _: &[u8]) -> Result<usize, ErrorKind> {
        Ok(0)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl WriteReady for Stuck {
    fn write_ready(&mut self) -> Result<bool, ErrorKind> {
        Ok(true)
    }
}

#[test]
fn a_write_of_zero_bytes_is_an_error_not_a_spin() {
    let (a, _b) = pair(64);
    let mut client = Driver::new(
        Stuck(a),
        Session::client(Config::default(), muxplex::Instant::ZERO).expect("valid config"),
    );
    client
        .session_mut()
        .open_stream(muxplex::Instant::ZERO)
        .expect("open");
    assert_eq!(client.poll(Instant::ZERO), Err(Error::WriteZero));
}

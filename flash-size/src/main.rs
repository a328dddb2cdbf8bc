//! A minimal firmware on muxplex: a yamux session over a UART through the
//! embedded-io adapter's blocking [`Driver`], built to measure how much
//! flash muxplex takes on a Cortex-M4F (`thumbv7em-none-eabihf`).
//!
//! It is a real session loop, not a stub: it opens a stream and sends a
//! greeting, accepts the streams the peer opens and echoes them, answers
//! pings, keeps the connection alive and starts a new session when one
//! ends. `.ci/run` builds it and prints its section sizes.

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

extern crate alloc;

mod board;
mod heap;

use core::panic::PanicInfo;
use core::time::Duration;

use cortex_m_rt::entry;
use muxplex::{Config, Event, Instant, Session, StreamId};
use muxplex_embedded_io::Driver;

#[global_allocator]
static HEAP: heap::Bump = heap::Bump::new();

/// Halts: a shipped firmware would reset the chip or log first.
#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// A session sized for a microcontroller.
fn config() -> Config {
    Config::default()
        .with_max_frame_size(1024)
        .with_max_streams(8)
        .with_accept_backlog(4)
        .with_max_session_buffer(16 * 1024)
        .with_max_send_buffer(8 * 1024)
        .with_keepalive_interval(Some(Duration::from_secs(15)))
}

#[entry]
fn main() -> ! {
    board::init();
    let mut clock = board::Clock::default();
    let mut driver = Driver::new(board::Uart, new_session(clock.now()));
    loop {
        greet(driver.session_mut(), clock.now());
        serve(&mut driver, &mut clock);
        // The session ended (the peer left, or the line failed): start over.
        *driver.session_mut() = new_session(clock.now());
    }
}

/// A client session from the fixed configuration, which is valid.
fn new_session(now: Instant) -> Session {
    match Session::client(config(), now) {
        Ok(session) => session,
        Err(_) => panic!(),
    }
}

/// Opens a stream and writes a greeting on it, then finishes it.
fn greet(session: &mut Session, now: Instant) {
    if let Ok(id) = session.open_stream(now)
        && let Ok(mut stream) = session.stream(id)
    {
        let _ = stream.write(b"hello from a microcontroller\n");
        let _ = stream.finish(now);
    }
}

/// Runs the session until it ends.
fn serve(driver: &mut Driver<board::Uart>, clock: &mut board::Clock) {
    let mut buf = [0u8; 256];
    loop {
        let now = clock.now();
        if driver.poll(now).is_err() {
            return;
        }
        let session = driver.session_mut();
        while let Some(event) = session.poll_event() {
            match event {
                Event::IncomingStream(_) => while session.accept_stream().is_some() {},
                Event::Readable(id) | Event::Writable(id) => echo(session, id, now, &mut buf),
                Event::Closed(_) => return,
                _ => {}
            }
        }
    }
}

/// Echoes what stream `id` has to read, as far as it can write; finishes
/// when the peer has.
fn echo(session: &mut Session, id: StreamId, now: Instant, buf: &mut [u8]) {
    let Ok(mut stream) = session.stream(id) else {
        return;
    };
    loop {
        let room = stream.write_capacity().min(buf.len());
        if room == 0 {
            return;
        }
        match stream.read(&mut buf[..room]) {
            Ok(0) => {
                let _ = stream.finish(now);
                return;
            }
            Ok(n) => {
                let _ = stream.write(&buf[..n]);
            }
            Err(_) => return,
        }
    }
}

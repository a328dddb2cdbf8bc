//! muxplex: many independent, bidirectional byte streams over one reliable
//! transport, speaking the yamux wire protocol.
//!
//! The core is a pure state machine (sans-IO): it performs no I/O and reads
//! no clock, so the same code runs in a custom event loop, under any async
//! runtime, on blocking threads or on a microcontroller, and can be tested
//! deterministically.
//!
//! # The drive loop
//!
//! After any input or command, drain [`Session::poll_transmit`] (bytes for
//! the transport) and [`Session::poll_event`] (news for the application);
//! then wait for the transport or for [`Session::poll_timeout`]. A host
//! writing to a socket drains through a [`TransmitQueue`], which keeps what
//! the socket did not take and shares large payloads for vectored writes.
//!
//! Here two sessions are wired back to back in memory; a real host copies
//! the same bytes to and from a socket.
//!
//! ```
//! use muxplex::{Config, Event, Instant, Session};
//!
//! let now = Instant::ZERO;
//! // Every call that can start a timer takes the time, building included.
//! let mut client = Session::client(Config::default(), now)?;
//! let mut server = Session::server(Config::default(), now)?;
//!
//! // Moves every pending byte from one session to the other.
//! fn pump(from: &mut Session, to: &mut Session, now: Instant) {
//!     let mut buf = [0u8; 4096];
//!     loop {
//!         let n = from.poll_transmit(&mut buf);
//!         if n == 0 {
//!             break;
//!         }
//!         to.handle_input(now, &buf[..n]);
//!     }
//! }
//!
//! let id = client.open_stream(now)?;
//! {
//!     let mut stream = client.stream(id).expect("just opened");
//!     stream.write(b"hello")?;
//!     stream.finish(now)?;
//! }
//! pump(&mut client, &mut server, now);
//!
//! let mut received = Vec::new();
//! while let Some(event) = server.poll_event() {
//!     if let Event::IncomingStream(_) = event {
//!         let id = server.accept_stream().expect("announced");
//!         let mut stream = server.stream(id).expect("accepted");
//!         let mut buf = [0u8; 64];
//!         loop {
//!             match stream.read(&mut buf)? {
//!                 0 => break, // the client finished
//!                 n => received.extend_from_slice(&buf[..n]),
//!             }
//!         }
//!     }
//! }
//! assert_eq!(received, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Wire protocol
//!
//! yamux exactly: 12-byte headers, per-stream windows starting at 256 KiB,
//! SYN/ACK/FIN/RST flags, pings and GoAway. It interoperates with
//! hashicorp/yamux, go-yamux and the `yamux` crate.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod config;
mod error;
mod event;
pub mod frame;
mod logging;
mod pins;
#[cfg(feature = "pool")]
pub mod pool;
mod recv_buf;
mod scheduler;
mod send_buf;
mod session;
pub mod stats;
mod stream;
mod stream_id;
mod time;
mod transmit;
mod transmit_queue;

#[cfg(feature = "testing")]
pub mod testing;

pub use config::{Config, ConfigError, INITIAL_STREAM_WINDOW, MAX_FRAME_SIZE_LIMIT, Role};
pub use error::{
    CloseReason, Delivery, NoStream, OpenError, PingError, ProtocolError, ResetBy, ResetCause,
    StreamError,
};
pub use event::Event;
pub use session::{
    GOAWAY_INTERNAL_ERROR, GOAWAY_NORMAL, GOAWAY_PROTOCOL_ERROR, RESET_BUFFER_FULL, RESET_REFUSED,
    RESET_TIMEOUT, Session, Stream, StreamStatus,
};
pub use stats::{SessionStats, StreamStats};
pub use stream_id::StreamId;
pub use time::Instant;
pub use transmit::Transmit;
pub use transmit_queue::TransmitQueue;

/// The code blocks of `README.md`, compiled and run as doctests so the
/// README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

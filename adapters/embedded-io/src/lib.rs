//! [muxplex] sessions over [`embedded-io`](embedded_io) transports: yamux
//! streams on a serial line, a TCP socket of an embedded network stack, or
//! anything else with the embedded-io traits, on `no_std` targets.
//!
//! Two drivers, both thin: they move bytes between the transport and a
//! [`muxplex::Session`] and tell it the time. Everything else (opening,
//! accepting, reading and writing streams, events) is the session's own
//! API, reached through `session_mut()`.
//!
//! - [`Driver`], blocking: for a main loop (bare metal, RTIC idle, a
//!   superloop). [`Driver::poll`] never blocks: it reads only what
//!   `ReadReady` says is there and writes only while `WriteReady` says the
//!   transport has room. Time comes with each call.
//! - [`AsyncDriver`], over `embedded_io_async`: [`AsyncDriver::step`]
//!   reads, writes and sleeps until the session has an event. Time and
//!   sleeping come from a [`Clock`] the host implements, so it runs under
//!   embassy or any other executor.
//!
//! The crate needs `alloc` (the session's streams live on the heap) but no
//! `std`; the application provides the global allocator.
//!
//! # Example
//!
//! A client session behind a blocking driver, on an in-memory "serial
//! line". The far end of the line is a bare server session that echoes,
//! driven by hand; on a device it would be the other machine.
//!
//! ```
//! use core::convert::Infallible;
//! use core::time::Duration;
//! use std::collections::VecDeque;
//!
//! use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};
//! use muxplex::{Config, Event, Instant, Session};
//! use muxplex_embedded_io::Driver;
//!
//! /// What the driver writes lands in `to_peer`; it reads `from_peer`.
//! #[derive(Default)]
//! struct Line {
//!     from_peer: VecDeque<u8>,
//!     to_peer: VecDeque<u8>,
//! }
//! impl ErrorType for Line {
//!     type Error = Infallible;
//! }
//! impl Read for Line {
//!     fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
//!         let n = buf.len().min(self.from_peer.len());
//!         for (slot, byte) in buf.iter_mut().zip(self.from_peer.drain(..n)) {
//!             *slot = byte;
//!         }
//!         Ok(n)
//!     }
//! }
//! impl ReadReady for Line {
//!     fn read_ready(&mut self) -> Result<bool, Infallible> {
//!         Ok(!self.from_peer.is_empty())
//!     }
//! }
//! impl Write for Line {
//!     fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
//!         self.to_peer.extend(buf);
//!         Ok(buf.len())
//!     }
//!     fn flush(&mut self) -> Result<(), Infallible> {
//!         Ok(())
//!     }
//! }
//! impl WriteReady for Line {
//!     fn write_ready(&mut self) -> Result<bool, Infallible> {
//!         Ok(true)
//!     }
//! }
//!
//! let mut now = Instant::ZERO;
//! let mut driver = Driver::new(Line::default(), Session::client(Config::default(), now)?);
//! let mut peer = Session::server(Config::default(), now)?;
//!
//! // The application opens a stream and writes through the session.
//! let id = driver.session_mut().open_stream(now)?;
//! driver.session_mut().stream(id).expect("open").write(b"hello")?;
//!
//! let mut reply = Vec::new();
//! while reply.len() < 5 {
//!     now += Duration::from_millis(1); // a real host reads its clock
//!     driver.poll(now)?;
//!     while let Some(event) = driver.session_mut().poll_event() {
//!         if let Event::Readable(id) = event {
//!             let mut buf = [0u8; 16];
//!             let mut stream = driver.session_mut().stream(id).expect("ours");
//!             while let Ok(n @ 1..) = stream.read(&mut buf) {
//!                 reply.extend_from_slice(&buf[..n]);
//!             }
//!         }
//!     }
//!
//!     // The other end of the line: echo every accepted stream.
//!     let line = driver.transport_mut();
//!     let wire: Vec<u8> = line.to_peer.drain(..).collect();
//!     peer.handle_input(now, &wire);
//!     while let Some(event) = peer.poll_event() {
//!         if let Event::IncomingStream(_) | Event::Readable(_) = event {
//!             while peer.accept_stream().is_some() {}
//!             let mut stream = peer.stream(id).expect("accepted");
//!             let mut buf = [0u8; 16];
//!             while let Ok(n @ 1..) = stream.read(&mut buf) {
//!                 stream.write(&buf[..n])?;
//!             }
//!         }
//!     }
//!     let mut buf = [0u8; 256];
//!     loop {
//!         let n = peer.poll_transmit(&mut buf);
//!         if n == 0 {
//!             break;
//!         }
//!         line.from_peer.extend(&buf[..n]);
//!     }
//! }
//! assert_eq!(reply, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With [`AsyncDriver`] the same application is a loop of
//! `while let Some(event) = driver.step().await? { ... }`, acting on each
//! event through `driver.session_mut()`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod asynch;
mod blocking;
mod error;

pub use asynch::{AsyncDriver, Clock};
pub use blocking::Driver;
pub use error::Error;

/// Read buffer and output buffer size used by [`Driver::new`] and
/// [`AsyncDriver::new`]: small enough for a microcontroller, large enough
/// to carry a yamux header and some payload per transport call.
pub const DEFAULT_BUFFER_SIZE: usize = 1024;

//! The runtime-agnostic async driver of [muxplex]: one [`muxplex::Session`]
//! shared by a [`Connection`] handle, any number of [`Stream`]s and one
//! [`Driver`] future.
//!
//! A runtime adapter (tokio, smol, ...) only supplies a transport
//! ([`TransportRead`] + [`TransportWrite`]) and a [`Timer`], and wraps
//! [`Stream`]'s poll methods in its own I/O traits if they are not
//! futures-io, which [`Stream`] implements itself. Every protocol decision
//! stays in the core; this crate only locks, wakes and copies bytes.
//!
//! - The session lives behind one `std::sync::Mutex`, with the wakers of
//!   every task waiting on a stream, on `accept`, or on the driver.
//! - The [`Driver`] reads the transport into the session (small reads on
//!   the stack, bulk into a [`muxplex_host::ReadBuffer`]), writes its frames through a
//!   [`muxplex::TransmitQueue`] (vectored, many small frames per write),
//!   and sleeps until the session's next deadline.
//! - Host time comes from the [`Timer`] (so a runtime's virtual clock, such
//!   as tokio's paused time, drives keepalive and the other deadlines),
//!   mapped onto the core's microsecond clock from the moment the
//!   connection was created.
//! - Opening waits while the core reports too many streams awaiting the
//!   peer's ACK, and resumes on the core's `OpenUnblocked` event.
//! - [`Connection::close`] is the core's graceful close;
//!   [`Connection::abort`] ends at once; [`Connection::closed`] waits for
//!   the end and says why.
//! - Dropping a [`Stream`] finishes it (written data is still delivered)
//!   and discards what the peer still sends; [`Stream::reset`] abandons it.
//! - When the transport fails or the driver is dropped, every pending and
//!   later stream operation fails at once instead of hanging. Every error
//!   that can lose a stream says whether a retry is safe
//!   ([`Error::delivery`]).
//! - [`pool::Pool`] keeps a self-healing pool of connections to one
//!   service, run by the core's pool state machine.
//!
//! # Example
//!
//! A transport that records what is written and never delivers input,
//! polled by hand; a runtime adapter spawns the driver instead.
//!
//! ```
//! use std::future::Future;
//! use std::io;
//! use std::pin::pin;
//! use std::sync::{Arc, Mutex};
//! use std::task::{Context, Poll, Waker};
//!
//! use muxplex::{Config, Role};
//! use muxplex_async::{Connection, Timer, TransportRead, TransportWrite};
//!
//! struct Recorder(Arc<Mutex<Vec<u8>>>);
//!
//! impl TransportRead for Recorder {
//!     fn poll_read(&mut self, _: &mut Context<'_>, _: &mut [u8]) -> Poll<io::Result<usize>> {
//!         Poll::Pending // the peer is silent
//!     }
//! }
//!
//! impl TransportWrite for Recorder {
//!     fn poll_write(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
//!         self.0.lock().unwrap().extend_from_slice(buf);
//!         Poll::Ready(Ok(buf.len()))
//!     }
//!     fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
//!         Poll::Ready(Ok(()))
//!     }
//!     fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
//!         Poll::Ready(Ok(()))
//!     }
//! }
//!
//! struct Never;
//!
//! impl Timer for Never {
//!     fn poll_sleep_until(&mut self, _: &mut Context<'_>, _: std::time::Instant) -> Poll<()> {
//!         Poll::Pending
//!     }
//!     fn now(&self) -> std::time::Instant {
//!         std::time::Instant::now()
//!     }
//! }
//!
//! let wire = Arc::new(Mutex::new(Vec::new()));
//! let transport = Recorder(Arc::clone(&wire));
//! let (connection, driver) = Connection::new(transport, Never, Role::Client, Config::default());
//! let mut cx = Context::from_waker(Waker::noop());
//!
//! let Poll::Ready(Ok(stream)) = connection.poll_open_stream(&mut cx) else {
//!     unreachable!("opening never waits for the peer");
//! };
//! assert!(matches!(stream.poll_write(&mut cx, b"hello"), Poll::Ready(Ok(5))));
//!
//! let mut driver = pin!(driver);
//! assert!(driver.as_mut().poll(&mut cx).is_pending());
//! // A small batch waits one turn of the executor, so that what the tasks
//! // it woke queue next joins the same write; the next poll writes it.
//! assert!(driver.as_mut().poll(&mut cx).is_pending());
//! // One Data frame went out: a 12-byte header (Data, SYN, stream 1,
//! // length 5), then the payload.
//! let header = [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5];
//! assert_eq!(*wire.lock().unwrap(), [&header[..], b"hello"].concat());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod connection;
mod driver;
mod error;
mod futures_io;
mod incoming;
mod io;
pub mod pool;
mod shared;
mod split;
mod stream;

pub use connection::Connection;
pub use driver::Driver;
pub use error::{Error, TransportError};
pub use incoming::Incoming;
pub use io::{Timer, TransportRead, TransportWrite};
pub use split::{ReadHalf, WriteHalf, split};
pub use stream::Stream;

/// Re-exported so adapters and applications name one version of the core.
pub use muxplex;

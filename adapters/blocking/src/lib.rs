//! [muxplex] on blocking std threads: many independent byte streams over
//! one TCP connection (or any transport with a read half and a write
//! half), each a [`std::io::Read`] + [`std::io::Write`].
//!
//! A [`Connection`] keeps the sans-IO [`muxplex::Session`] behind a mutex
//! and drives it with two threads: a reader that feeds the transport's bytes
//! to the session while no application thread does, and a writer that runs
//! its timers and sends the frames nobody else does. Application threads
//! open and accept [`Stream`]s, write the frames their own writes produce
//! to the transport themselves (unless another thread is writing already,
//! which then takes them along), and, on TCP, a thread whose read or write
//! would block reads the socket itself while nobody else does, as with a
//! `TcpStream`, so that a round trip wakes no other thread; other waiting
//! threads sleep on condition variables. Protocol decisions (flow
//! control, scheduling, keepalive, shutdown, limits) are all the core's.
//!
//! # Example
//!
//! An echo server and a client over loopback TCP, in one process:
//!
//! ```
//! use std::io::{self, Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::thread;
//!
//! use muxplex_blocking::{CloseReason, Config, Connection};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let address = listener.local_addr()?;
//!
//! let server = thread::spawn(move || -> io::Result<()> {
//!     let (tcp, _) = listener.accept()?;
//!     let connection = Connection::server(tcp, Config::default())?;
//!     // Ends with an error once the client has closed the connection.
//!     while let Ok(stream) = connection.accept_stream() {
//!         thread::spawn(move || {
//!             // Echo until the client finishes; dropping the stream then
//!             // finishes our direction too.
//!             io::copy(&mut &stream, &mut &stream)
//!         });
//!     }
//!     Ok(())
//! });
//!
//! let connection = Connection::client(TcpStream::connect(address)?, Config::default())?;
//! let mut stream = connection.open_stream()?;
//! stream.write_all(b"hello, muxplex")?;
//! stream.finish()?;
//! let mut reply = String::new();
//! stream.read_to_string(&mut reply)?;
//! assert_eq!(reply, "hello, muxplex");
//!
//! drop(stream);
//! assert_eq!(connection.close(), CloseReason::LocalClose);
//! server.join().expect("server thread")?;
//! # Ok::<(), io::Error>(())
//! ```
//!
//! # Threads and blocking
//!
//! Every call that waits (opening at the limit of unacknowledged streams,
//! accepting, reading, writing into a full window, flushing, closing)
//! wakes up when the session's end makes waiting pointless, so a lost
//! connection never leaves a thread hanging; it gets an error at once.
//! See [`Connection`] for how a connection ends and [`Stream`] for what
//! dropping a stream does.
//!
//! A thread that sends frames to the transport itself (see [`Connection`])
//! also waits while the transport's write blocks, as a thread writing to a
//! `TcpStream` would; after a few batches it leaves the rest to the writer
//! thread. A thread that reads the transport never waits for its write,
//! so input is always read. A thread blocked in its own read of the socket
//! sees a local event it waits for (a reset from another thread, the
//! session's end) within a few milliseconds (the read's timeout).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod connection;
mod driver;
mod error;
mod output;
mod shared;
mod stream;

pub use connection::Connection;
pub use error::TransportError;
pub use stream::Stream;

/// The core crate, for everything this one does not re-export.
pub use muxplex;
/// The core crate, as this adapter uses it (also as [`muxplex`]).
pub use muxplex as core;
/// Core types that appear in this crate's API and errors.
pub use muxplex::{
    CloseReason, Config, Delivery, OpenError, PingError, Role, SessionStats, StreamError, StreamId,
    StreamStats,
};
/// This adapter's error: blocking calls report `std::io::Error`, with the
/// core's error ([`OpenError`], [`StreamError`]) inside where there is one,
/// or a [`TransportError`] once the transport's failure ended the session.
pub use std::io::Error;

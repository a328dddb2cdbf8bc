//! Host plumbing the std adapters of [muxplex] share, so that each piece
//! is written once: [muxplex-async] (under muxplex-tokio and muxplex-smol)
//! and [muxplex-blocking] are built on it.
//!
//! - [`HostClock`]: host time (`std::time::Instant`, from whatever clock
//!   the host runs on, a runtime's virtual one included) onto the
//!   session's microsecond clock and back.
//! - [`stream_error_kind`], [`open_error_kind`], [`ping_error_kind`]: the
//!   [`std::io::ErrorKind`] each core error is reported as through I/O
//!   traits.
//! - [`ReadBuffer`]: the buffer a transport is read into, whose large reads
//!   go to the session whole (zero-copy) and whose spent buffers are
//!   renewed and reused.
//!
//! The no_std embedded-io adapter needs none of it: its host gives time in
//! the core's terms, and its output goes through the core's
//! [`muxplex::TransmitQueue`] like everyone's.
//!
//! [muxplex-async]: https://docs.rs/muxplex-async
//! [muxplex-blocking]: https://docs.rs/muxplex-blocking
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod kinds;
mod read_buffer;

pub use clock::HostClock;
pub use kinds::{SESSION_ENDED, open_error_kind, ping_error_kind, stream_error_kind};
pub use read_buffer::ReadBuffer;

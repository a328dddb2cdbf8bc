//! How core errors surface as `std::io::Error`, with the kinds every std
//! adapter uses (`muxplex_host`).
//!
//! The core error stays inside as the inner error, so a caller can
//! `downcast_ref::<StreamError>()` (or `OpenError`, `PingError`) and read
//! the reset code or the [`Delivery`](muxplex::Delivery) that says whether
//! a retry is safe.

use std::io;

use muxplex::{OpenError, PingError, StreamError};
use muxplex_host::{open_error_kind, ping_error_kind, stream_error_kind};

pub(crate) fn stream_error(error: StreamError) -> io::Error {
    io::Error::new(stream_error_kind(&error), error)
}

pub(crate) fn open_error(error: OpenError) -> io::Error {
    io::Error::new(open_error_kind(&error), error)
}

pub(crate) fn ping_error(error: PingError) -> io::Error {
    io::Error::new(ping_error_kind(&error), error)
}

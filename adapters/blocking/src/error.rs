//! How core errors surface as `std::io::Error`.
//!
//! The core error stays inside as the inner error, so a caller can
//! `downcast_ref::<StreamError>()` (or `OpenError`) and read the reset code
//! or the [`Delivery`](muxplex::Delivery) that says whether a retry is safe.

use std::io::{self, ErrorKind};

use muxplex::{OpenError, PingError, StreamError};

/// `Reset` → `ConnectionReset`, `SessionClosed` → `ConnectionAborted`,
/// writing after `finish` → `BrokenPipe` (as on a TCP socket shut down for
/// writing).
pub(crate) fn stream_error(error: StreamError) -> io::Error {
    let kind = match error {
        StreamError::Reset { .. } => ErrorKind::ConnectionReset,
        StreamError::SessionClosed { .. } => ErrorKind::ConnectionAborted,
        StreamError::Finished => ErrorKind::BrokenPipe,
        // `Blocked` never leaves the adapter, which waits instead.
        _ => ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

/// The session ended or is closing → `ConnectionAborted`; the peer takes
/// no new streams → `ConnectionRefused`.
pub(crate) fn open_error(error: OpenError) -> io::Error {
    let kind = match error {
        OpenError::SessionClosed(_) | OpenError::Closing => ErrorKind::ConnectionAborted,
        OpenError::PeerGoingAway => ErrorKind::ConnectionRefused,
        // Ids exhausted; `Blocked` never leaves the adapter.
        _ => ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

/// The session ended → `ConnectionAborted`; too many pings outstanding →
/// `Other` (a later ping may succeed).
pub(crate) fn ping_error(error: PingError) -> io::Error {
    let kind = match error {
        PingError::SessionClosed(_) => ErrorKind::ConnectionAborted,
        _ => ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

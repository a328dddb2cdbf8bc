//! The `io::ErrorKind` each core error is reported as.

use std::io::ErrorKind;

use muxplex::{OpenError, PingError, StreamError};

/// The kind for any operation on a session that has ended (or whose
/// driver is gone): as on a socket whose connection was aborted.
pub const SESSION_ENDED: ErrorKind = ErrorKind::ConnectionAborted;

/// `Reset` → `ConnectionReset`, writing after `finish` → `BrokenPipe` (as
/// on a TCP socket shut down for writing), the session's end →
/// [`SESSION_ENDED`], anything else `Other`.
pub fn stream_error_kind(error: &StreamError) -> ErrorKind {
    match error {
        StreamError::Reset { .. } => ErrorKind::ConnectionReset,
        StreamError::SessionClosed { .. } => SESSION_ENDED,
        StreamError::Finished => ErrorKind::BrokenPipe,
        // `Blocked` never leaves an adapter, which waits instead.
        _ => ErrorKind::Other,
    }
}

/// The session closing or ended → [`SESSION_ENDED`]; the peer takes no new
/// streams → `ConnectionRefused`; ids exhausted → `Other`.
pub fn open_error_kind(error: &OpenError) -> ErrorKind {
    match error {
        OpenError::SessionClosed(_) | OpenError::Closing => SESSION_ENDED,
        OpenError::PeerGoingAway => ErrorKind::ConnectionRefused,
        // `Blocked` never leaves an adapter, which waits instead.
        _ => ErrorKind::Other,
    }
}

/// The session ended → [`SESSION_ENDED`]; too many pings outstanding →
/// `Other` (a later ping may succeed).
pub fn ping_error_kind(error: &PingError) -> ErrorKind {
    match error {
        PingError::SessionClosed(_) => SESSION_ENDED,
        _ => ErrorKind::Other,
    }
}

//! What can go wrong between a driver and its transport.

use core::fmt;

/// A transport failure seen by [`Driver`](crate::Driver) or
/// [`AsyncDriver`](crate::AsyncDriver).
///
/// The session is left as it was: protocol failures are not errors here
/// but an [`Event::Closed`](muxplex::Event::Closed) from the session. A host
/// that gives up on the transport calls
/// [`Session::handle_eof`](muxplex::Session::handle_eof) (through
/// `session_mut()`), so every stream fails with a clear reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error<E> {
    /// Reading from the transport, or asking whether it can be read, failed.
    Read(E),
    /// Writing to the transport, flushing it, or asking whether it can be
    /// written, failed.
    Write(E),
    /// The transport took none of a non-empty write, which the embedded-io
    /// traits forbid (they ask for an error of kind `WriteZero` instead).
    /// Reported rather than retried, since retrying would spin forever.
    WriteZero,
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read(e) => write!(f, "transport read failed: {e}"),
            Error::Write(e) => write!(f, "transport write failed: {e}"),
            Error::WriteZero => f.write_str("transport accepted no bytes of a non-empty write"),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Read(e) | Error::Write(e) => Some(e),
            Error::WriteZero => None,
        }
    }
}

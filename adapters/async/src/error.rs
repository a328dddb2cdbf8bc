//! The one error type of the async adapters.

use std::fmt;
use std::io;
use std::sync::Arc;

use muxplex::{CloseReason, Delivery, OpenError, PingError, ResetBy, StreamError};
use muxplex_host::{SESSION_ENDED, open_error_kind, ping_error_kind, stream_error_kind};

/// Why an operation on a [`Connection`](crate::Connection) or
/// [`Stream`](crate::Stream) failed.
///
/// Every failure that can lose a stream says whether the peer's
/// application may have it ([`delivery`](Self::delivery)), so the caller
/// can decide whether a retry is safe. Connection-level failures (opening,
/// accepting) report [`Delivery::NotDelivered`]: nothing of theirs reached
/// the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The stream was reset.
    Reset {
        /// Who reset it: the peer (with its code), the session (and why),
        /// or the application through [`Stream::reset`](crate::Stream::reset).
        by: ResetBy,
        /// Whether the peer's application may have the stream.
        delivery: Delivery,
    },
    /// The stream was already finished for writing.
    Finished,
    /// A stream could not be opened or accepted (the session is closing,
    /// the peer is going away, ids are exhausted, ...), as the core
    /// reported it.
    Open(OpenError),
    /// Any other stream error of the core, passed through unchanged.
    Stream(StreamError),
    /// A ping could not be sent: as many pings as
    /// [`Config::max_outstanding_pings`](muxplex::Config::max_outstanding_pings)
    /// already await their answer (a session that has ended reports that
    /// instead, as [`Closed`](Self::Closed) or the transport's failure).
    Ping(PingError),
    /// The session ended.
    Closed {
        /// Why it ended.
        reason: CloseReason,
        /// Whether the peer's application may have the stream.
        delivery: Delivery,
    },
    /// The transport failed; the session is over. The transport's own
    /// error is kept whole, message and [`source`](std::error::Error::source)
    /// chain included (a TLS layer's "peer closed connection without
    /// sending TLS close_notify" stays that, not a bare `UnexpectedEof`),
    /// and is this error's source.
    Transport {
        /// The I/O error the transport reported.
        error: TransportError,
        /// Whether the peer's application may have the stream.
        delivery: Delivery,
    },
    /// The driver future was dropped before the session ended, so nothing
    /// moves any more.
    DriverGone {
        /// Whether the peer's application may have the stream.
        delivery: Delivery,
    },
    /// A [`Pool`](crate::pool::Pool) had no session that could take the
    /// stream within its open timeout (every session was down, dialing or
    /// backing off). Nothing was sent.
    PoolTimeout,
    /// A [`Pool`](crate::pool::Pool) gave up dialing after
    /// `max_attempts` failures in a row and has no live session; see
    /// [`Pool::resume`](crate::pool::Pool::resume). Nothing was sent.
    PoolGaveUp,
}

impl Error {
    /// The [`io::ErrorKind`] this error is reported as through I/O traits.
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Reset { by, delivery } => stream_error_kind(&StreamError::Reset {
                by: *by,
                delivery: *delivery,
            }),
            Error::Finished => stream_error_kind(&StreamError::Finished),
            Error::Open(e) => open_error_kind(e),
            Error::Stream(e) => stream_error_kind(e),
            Error::Ping(e) => ping_error_kind(e),
            Error::Closed { .. } | Error::DriverGone { .. } => SESSION_ENDED,
            Error::Transport { error, .. } => error.kind(),
            Error::PoolTimeout => io::ErrorKind::TimedOut,
            Error::PoolGaveUp => io::ErrorKind::NotConnected,
        }
    }

    /// Whether the peer's application may have the stream the failed
    /// operation was about, so whether retrying it is safe: `None` for
    /// errors that lose nothing (a write after finishing).
    pub fn delivery(&self) -> Option<Delivery> {
        match self {
            Error::Reset { delivery, .. }
            | Error::Closed { delivery, .. }
            | Error::Transport { delivery, .. }
            | Error::DriverGone { delivery } => Some(*delivery),
            Error::Open(_) | Error::PoolTimeout | Error::PoolGaveUp => Some(Delivery::NotDelivered),
            Error::Stream(
                StreamError::Reset { delivery, .. } | StreamError::SessionClosed { delivery, .. },
            ) => Some(*delivery),
            Error::Finished | Error::Stream(_) | Error::Ping(_) => None,
        }
    }

    /// Maps a core stream error; `closed` says how to report the session's
    /// end (it may have been a transport failure the core only saw as EOF).
    pub(crate) fn from_stream(
        error: StreamError,
        closed: impl FnOnce(CloseReason, Delivery) -> Error,
    ) -> Self {
        match error {
            StreamError::Reset { by, delivery } => Error::Reset { by, delivery },
            StreamError::Finished => Error::Finished,
            StreamError::SessionClosed { reason, delivery } => closed(reason, delivery),
            // `Blocked` is handled by the callers; anything newer is passed
            // through rather than guessed at.
            other => Error::Stream(other),
        }
    }

    /// Maps a core open error, as [`from_stream`](Self::from_stream).
    pub(crate) fn from_open(
        error: OpenError,
        closed: impl FnOnce(CloseReason, Delivery) -> Error,
    ) -> Self {
        match error {
            OpenError::SessionClosed(reason) => closed(reason, Delivery::NotDelivered),
            other => Error::Open(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Reset { by, delivery } => write!(f, "stream reset {by} ({delivery})"),
            Error::Finished => f.write_str("stream was already finished for writing"),
            Error::Open(e) => write!(f, "cannot open a stream: {e}"),
            Error::Stream(e) => write!(f, "stream error: {e}"),
            Error::Ping(e) => write!(f, "cannot ping: {e}"),
            Error::Closed { reason, delivery } => {
                write!(f, "connection closed: {reason} ({delivery})")
            }
            Error::Transport { error, delivery } => {
                write!(f, "transport failed: {error} ({delivery})")
            }
            Error::DriverGone { delivery } => {
                write!(f, "connection driver was dropped ({delivery})")
            }
            Error::PoolTimeout => f.write_str("no pooled session could take a stream in time"),
            Error::PoolGaveUp => f.write_str("the pool gave up dialing and has no live session"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Closed { reason, .. } => Some(reason),
            Error::Open(e) => Some(e),
            Error::Stream(e) => Some(e),
            Error::Ping(e) => Some(e),
            Error::Transport { error, .. } => Some(error.get_ref()),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    /// Keeps the [`Error`] inside, so callers can downcast to it; a
    /// transport failure keeps its kind, its message and, as the inner
    /// error's [`source`](std::error::Error::source), the transport's own
    /// error.
    fn from(error: Error) -> Self {
        io::Error::new(error.io_kind(), error)
    }
}

/// The I/O error a transport failed with, shared by every handle that
/// reports it (an `io::Error` cannot be cloned). Two compare equal when
/// they are the same error, or have the same kind and message.
#[derive(Clone, Debug)]
pub struct TransportError(Arc<io::Error>);

impl TransportError {
    /// The transport's error.
    pub fn get_ref(&self) -> &io::Error {
        &self.0
    }

    /// Its kind.
    pub fn kind(&self) -> io::ErrorKind {
        self.0.kind()
    }
}

impl From<io::Error> for TransportError {
    fn from(error: io::Error) -> Self {
        TransportError(Arc::new(error))
    }
}

impl PartialEq for TransportError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.kind() == other.kind() && self.0.to_string() == other.0.to_string())
    }
}

impl Eq for TransportError {}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

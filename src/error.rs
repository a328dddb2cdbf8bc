//! Typed errors and the reasons a session ends.

use core::fmt;

use crate::frame::FrameError;
use crate::stream_id::StreamId;

/// What the peer did wrong. Every protocol error closes the session with a
/// GoAway(1) to the peer and a [`CloseReason::Protocol`] to the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A header could not be decoded.
    Frame(FrameError),
    /// The peer sent more Data on a stream than the window we granted.
    FlowControlViolation {
        /// The stream the data was for.
        stream: StreamId,
        /// The payload length of the offending frame.
        length: u32,
        /// The window that was left.
        window: u32,
    },
    /// A WindowUpdate would have grown our send window past `u32::MAX`.
    WindowOverflow {
        /// The stream whose window overflowed.
        stream: StreamId,
    },
    /// The peer opened a stream with an id of our parity (or 0).
    InvalidStreamId {
        /// The offending id.
        stream: StreamId,
    },
    /// The peer opened a stream whose id is still in use.
    DuplicateStream {
        /// The reused id.
        stream: StreamId,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Frame(e) => write!(f, "malformed frame: {e}"),
            ProtocolError::FlowControlViolation {
                stream,
                length,
                window,
            } => write!(
                f,
                "peer sent {length} bytes on stream {stream} with only {window} bytes of window"
            ),
            ProtocolError::WindowOverflow { stream } => {
                write!(
                    f,
                    "window update overflowed the send window of stream {stream}"
                )
            }
            ProtocolError::InvalidStreamId { stream } => {
                write!(f, "peer opened stream {stream}, an id it may not use")
            }
            ProtocolError::DuplicateStream { stream } => {
                write!(f, "peer opened stream {stream}, which is already open")
            }
        }
    }
}

impl core::error::Error for ProtocolError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ProtocolError::Frame(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FrameError> for ProtocolError {
    fn from(e: FrameError) -> Self {
        ProtocolError::Frame(e)
    }
}

/// Whether the peer's application may have acted on an outbound stream that
/// failed, so the application knows whether a retry is safe.
///
/// muxplex sends the ACK for an inbound stream only when the application
/// accepts it, so an ACK means the peer's application has the stream. Peers
/// that acknowledge lazily or early (the `yamux` crate acknowledges when it
/// first reads or writes the stream, hashicorp/yamux when its accept call
/// returns) shift these meanings: against such a peer `NotDelivered` still
/// means the peer refused or never saw the stream, but `Delivered` only
/// means its stack, not necessarily its application, took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Delivery {
    /// The peer never processed the stream: its SYN never left, or the peer
    /// reset it (or refused it with GoAway) before acknowledging. Safe to
    /// retry, on this session or another.
    NotDelivered,
    /// The SYN left but the session ended before any ACK: the peer may or
    /// may not have acted. Retry only idempotent work.
    MaybeDelivered,
    /// The peer acknowledged the stream (or we accepted it from the peer):
    /// its application has it, whatever became of the data afterwards.
    Delivered,
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Delivery::NotDelivered => "not delivered",
            Delivery::MaybeDelivered => "maybe delivered",
            Delivery::Delivered => "delivered",
        })
    }
}

/// Why a session ended. Exactly one [`Event::Closed`](crate::Event::Closed)
/// carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The application closed the session gracefully and every stream
    /// finished before the close timeout.
    LocalClose,
    /// The application closed the session gracefully, and the streams still
    /// open at the close timeout were reset.
    LocalCloseTimedOut,
    /// The application aborted the session with this GoAway code.
    LocalAbort {
        /// The code sent in our GoAway.
        code: u32,
    },
    /// The peer went away: a GoAway with a non-zero code, or a GoAway(0)
    /// followed by the end of the transport (its graceful close), or a
    /// GoAway(0) under [`Config::terminate_on_peer_go_away`](crate::Config).
    PeerGoAway {
        /// The peer's code: 1 protocol error, 2 internal error, or its own.
        code: u32,
    },
    /// The transport reached end of file without a GoAway first.
    TransportClosed,
    /// The transport failed (a read or write returned an error), as the
    /// host reported with
    /// [`Session::handle_transport_error`](crate::Session::handle_transport_error).
    TransportFailed,
    /// A keepalive ping went unanswered for the keepalive timeout.
    KeepAliveTimeout,
    /// The peer broke the protocol; we sent GoAway(1).
    Protocol(ProtocolError),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::LocalClose => f.write_str("closed locally"),
            CloseReason::LocalCloseTimedOut => {
                f.write_str("closed locally; streams still open at the close timeout were reset")
            }
            CloseReason::KeepAliveTimeout => f.write_str("keepalive ping went unanswered"),
            CloseReason::LocalAbort { code } => write!(f, "aborted locally with code {code}"),
            CloseReason::PeerGoAway { code } => write!(f, "peer went away with code {code}"),
            CloseReason::TransportClosed => f.write_str("transport closed"),
            CloseReason::TransportFailed => f.write_str("transport failed"),
            CloseReason::Protocol(e) => write!(f, "protocol error: {e}"),
        }
    }
}

impl core::error::Error for CloseReason {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            CloseReason::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a read, write, finish or reset on a stream did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamError {
    /// Nothing can be read or written now; an event says when to retry
    /// ([`Event::Readable`](crate::Event::Readable) or
    /// [`Event::Writable`](crate::Event::Writable)).
    Blocked,
    /// The stream was already finished for writing.
    Finished,
    /// The stream was reset. Its (small) state stays, and this error
    /// readable, until the application lets the stream go
    /// ([`Stream::release`](crate::Stream::release),
    /// [`Stream::detach`](crate::Stream::detach) or
    /// [`Stream::reset`](crate::Stream::reset)).
    Reset {
        /// Who reset it, and with which code or for which reason.
        by: ResetBy,
        /// Whether the peer's application may have the stream.
        delivery: Delivery,
    },
    /// The session ended.
    SessionClosed {
        /// Why it ended.
        reason: CloseReason,
        /// Whether the peer's application may have the stream.
        delivery: Delivery,
    },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Blocked => f.write_str("stream is blocked"),
            StreamError::Finished => f.write_str("stream was already finished for writing"),
            StreamError::Reset { by, delivery } => {
                write!(f, "stream reset {by} ({delivery})")
            }
            StreamError::SessionClosed { reason, delivery } => {
                write!(f, "session closed: {reason} ({delivery})")
            }
        }
    }
}

impl core::error::Error for StreamError {}

/// Who reset a stream, in [`StreamError::Reset`] and
/// [`Event::StreamReset`](crate::Event::StreamReset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResetBy {
    /// The peer sent an RST.
    Peer {
        /// The code it carried: the length of an RST WindowUpdate (go-yamux
        /// sends one), 0 when none was given.
        code: u32,
    },
    /// This session reset the stream on its own.
    Session(ResetCause),
    /// The application reset it with [`Stream::reset`](crate::Stream::reset).
    /// The core frees such a stream at once, so only an adapter that keeps
    /// its own handle reports this.
    Application {
        /// The code sent to the peer.
        code: u32,
    },
}

impl ResetBy {
    /// The code the RST carried on the wire (the one the peer sent, or the
    /// one we sent); `None` when no RST was exchanged (see
    /// [`ResetCause::code`]).
    pub fn code(self) -> Option<u32> {
        match self {
            ResetBy::Peer { code } | ResetBy::Application { code } => Some(code),
            ResetBy::Session(cause) => cause.code(),
        }
    }
}

impl fmt::Display for ResetBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResetBy::Peer { code } => write!(f, "by the peer with code {code}"),
            ResetBy::Session(cause) => write!(f, "by the session: {cause}"),
            ResetBy::Application { code } => write!(f, "by the application with code {code}"),
        }
    }
}

/// Why the session reset a stream on its own ([`ResetBy::Session`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResetCause {
    /// The peer did not acknowledge our stream within
    /// [`Config::open_timeout`](crate::Config::open_timeout). RST code
    /// [`RESET_TIMEOUT`](crate::RESET_TIMEOUT).
    OpenTimeout,
    /// Our FIN went out but the peer's did not come within
    /// [`Config::stream_close_timeout`](crate::Config::stream_close_timeout).
    /// RST code [`RESET_TIMEOUT`](crate::RESET_TIMEOUT).
    StreamCloseTimeout,
    /// The stream was still running when a graceful close reached
    /// [`Config::close_timeout`](crate::Config::close_timeout). RST code
    /// [`RESET_TIMEOUT`](crate::RESET_TIMEOUT).
    CloseTimeout,
    /// The peer sent GoAway(0) before the stream's SYN left, so the peer
    /// never heard of it and no RST is sent.
    PeerGoingAway,
    /// The peer's data would have exceeded
    /// [`Config::max_session_buffer`](crate::Config::max_session_buffer).
    /// RST code [`RESET_BUFFER_FULL`](crate::RESET_BUFFER_FULL).
    BufferFull,
}

impl ResetCause {
    /// The code of the RST the session sends the peer for this cause;
    /// `None` for [`PeerGoingAway`](Self::PeerGoingAway), where none is
    /// sent.
    pub fn code(self) -> Option<u32> {
        match self {
            ResetCause::OpenTimeout | ResetCause::StreamCloseTimeout | ResetCause::CloseTimeout => {
                Some(crate::RESET_TIMEOUT)
            }
            ResetCause::BufferFull => Some(crate::RESET_BUFFER_FULL),
            ResetCause::PeerGoingAway => None,
        }
    }
}

impl fmt::Display for ResetCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResetCause::OpenTimeout => "the peer did not acknowledge it in time",
            ResetCause::StreamCloseTimeout => "the peer did not finish it in time",
            ResetCause::CloseTimeout => "still open at the graceful close's timeout",
            ResetCause::PeerGoingAway => "the peer went away before it was sent",
            ResetCause::BufferFull => "the peer's data exceeded the session's buffer",
        })
    }
}

/// Why [`Session::stream`](crate::Session::stream) gave no handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NoStream {
    /// No stream has had this id on this session: neither end has opened
    /// it (yet), or it is 0.
    Unknown,
    /// The peer opened it, but the application has not taken it with
    /// [`Session::accept_stream`](crate::Session::accept_stream) yet.
    NotAccepted,
    /// The application gave it up with
    /// [`Stream::detach`](crate::Stream::detach); the session finishes it
    /// on its own.
    Detached,
    /// Its id was used, and its state is gone: both directions ended and
    /// the application read the end, or it was reset and then released,
    /// or the session refused it (a peer's SYN over a limit). An inbound
    /// id the peer skipped when it opened a higher one is reported so
    /// too.
    Freed,
}

impl fmt::Display for NoStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoStream::Unknown => "no stream has this id",
            NoStream::NotAccepted => "stream not accepted yet",
            NoStream::Detached => "stream was detached",
            NoStream::Freed => "stream is over and its state was freed",
        })
    }
}

impl core::error::Error for NoStream {}

/// Why a stream could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenError {
    /// As many outbound streams as configured await the peer's ACK; an
    /// [`Event::OpenUnblocked`](crate::Event::OpenUnblocked) says when to
    /// try again.
    Blocked,
    /// The application is closing the session gracefully.
    Closing,
    /// The peer sent GoAway(0): it takes no new streams on this session.
    PeerGoingAway,
    /// Every stream id of our parity has been used.
    IdsExhausted,
    /// The session ended.
    SessionClosed(CloseReason),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Blocked => f.write_str("too many streams await the peer's ACK"),
            OpenError::Closing => f.write_str("session is closing"),
            OpenError::PeerGoingAway => f.write_str("peer is going away and takes no new streams"),
            OpenError::IdsExhausted => f.write_str("stream ids exhausted"),
            OpenError::SessionClosed(reason) => write!(f, "session closed: {reason}"),
        }
    }
}

impl core::error::Error for OpenError {}

/// Why a ping could not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PingError {
    /// As many pings as configured already await their pong.
    TooManyOutstanding,
    /// The session ended.
    SessionClosed(CloseReason),
}

impl fmt::Display for PingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PingError::TooManyOutstanding => f.write_str("too many pings outstanding"),
            PingError::SessionClosed(reason) => write!(f, "session closed: {reason}"),
        }
    }
}

impl core::error::Error for PingError {}

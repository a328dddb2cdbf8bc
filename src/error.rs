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
    /// The stream was reset.
    Reset {
        /// The code the reset carried (0 when none was given).
        code: u32,
        /// Whether the peer reset it (otherwise this session did, on a
        /// timeout or a peer's GoAway).
        by_peer: bool,
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
            StreamError::Reset {
                code,
                by_peer,
                delivery,
            } => {
                let by = if *by_peer { "by the peer" } else { "locally" };
                write!(f, "stream reset {by} with code {code} ({delivery})")
            }
            StreamError::SessionClosed { reason, delivery } => {
                write!(f, "session closed: {reason} ({delivery})")
            }
        }
    }
}

impl core::error::Error for StreamError {}

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

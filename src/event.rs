//! What a session tells the application.

use core::time::Duration;

use crate::error::{CloseReason, Delivery, ResetBy};
use crate::stream_id::StreamId;

/// Something the application should know about, from
/// [`Session::poll_event`](crate::Session::poll_event).
///
/// Stream events are level-free notifications: each is queued at most once
/// until the application acts on the stream, so the queue stays small
/// however much traffic arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer opened a stream; take it with
    /// [`Session::accept_stream`](crate::Session::accept_stream).
    IncomingStream(StreamId),
    /// Data or the end of the stream can be read. Queued again only after
    /// a read has drained what was buffered.
    Readable(StreamId),
    /// A write that was blocked (window or buffer full) can make progress.
    Writable(StreamId),
    /// The stream was reset by the peer, or by the session (open timeout,
    /// stream close timeout, refused after the peer's GoAway); reads and
    /// writes now fail with [`StreamError::Reset`](crate::StreamError::Reset)
    /// until the application lets the stream go
    /// ([`Stream::release`](crate::Stream::release)).
    StreamReset {
        /// The stream.
        id: StreamId,
        /// Who reset it, and why.
        by: ResetBy,
        /// Whether the peer's application may have the stream.
        delivery: Delivery,
    },
    /// Opening streams is possible again after
    /// [`OpenError::Blocked`](crate::OpenError::Blocked).
    OpenUnblocked,
    /// The answer to one of our pings arrived.
    Pong {
        /// Time from [`Session::ping`](crate::Session::ping) to the answer.
        rtt: Duration,
    },
    /// The peer sent GoAway(0): no new streams, existing ones continue.
    PeerGoingAway,
    /// The session ended; nothing more will be sent or received. Buffered
    /// data stays readable.
    Closed(CloseReason),
}

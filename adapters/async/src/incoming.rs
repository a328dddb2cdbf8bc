//! The streams the peer opens, as a `futures_core::Stream`.

use std::pin::Pin;
use std::task::{Context, Poll};

use muxplex::{CloseReason, OpenError};

use crate::connection::Connection;
use crate::error::Error;
use crate::stream::Stream;

/// The streams the peer opens, from [`Connection::incoming`]: each item
/// is an accepted stream; the sequence ends (`None`) when the connection
/// closes cleanly (either side closed it, or the peer went away), and
/// yields one `Err` and then ends when it was lost (transport failure,
/// keepalive timeout, protocol error, driver dropped).
#[derive(Debug)]
pub struct Incoming {
    connection: Connection,
    done: bool,
}

impl Connection {
    /// The streams the peer opens, as a `futures_core::Stream` that ends
    /// with `None` at a clean end (see [`Incoming`]).
    pub fn incoming(&self) -> Incoming {
        Incoming {
            connection: self.clone(),
            done: false,
        }
    }
}

/// Whether accepting failed because the connection ended the ordinary way.
fn clean_end(error: &Error) -> bool {
    match error {
        Error::Open(OpenError::Closing | OpenError::PeerGoingAway) => true,
        Error::Open(OpenError::SessionClosed(reason)) | Error::Closed { reason, .. } => matches!(
            reason,
            CloseReason::LocalClose
                | CloseReason::LocalCloseTimedOut
                | CloseReason::LocalAbort { .. }
                | CloseReason::PeerGoAway { code: 0 }
        ),
        _ => false,
    }
}

impl futures_core::Stream for Incoming {
    type Item = Result<Stream, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.connection.poll_accept_stream(cx) {
            Poll::Ready(Ok(stream)) => Poll::Ready(Some(Ok(stream))),
            Poll::Ready(Err(error)) => {
                this.done = true;
                if clean_end(&error) {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(error)))
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

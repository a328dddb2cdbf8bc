//! How core errors surface as `std::io::Error`, with the kinds every std
//! adapter uses (`muxplex_host`).
//!
//! The core error stays inside as the inner error, so a caller can
//! `downcast_ref::<StreamError>()` (or `OpenError`, `PingError`) and read
//! the reset code or the [`Delivery`] that says whether a retry is safe.
//! A session the transport's failure ended is the exception: its errors
//! carry the transport's own error instead ([`TransportError`]).

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

use muxplex::{CloseReason, Delivery, OpenError, PingError, StreamError};
use muxplex_host::{open_error_kind, ping_error_kind, stream_error_kind};

use crate::shared::Shared;

/// The inner error of every call that fails because the transport failed
/// (a read or write returned an error, which ended the session): the
/// transport's `io::Error` whole, message and source chain included, so a
/// TLS layer's "peer closed connection without sending TLS close_notify"
/// stays that. The outer `io::Error` has the transport error's kind, and
/// this error's [`source`](Error::source) is the transport's error.
#[derive(Clone, Debug)]
pub struct TransportError {
    transport: Arc<io::Error>,
    delivery: Delivery,
}

impl TransportError {
    /// The error the transport reported.
    pub fn transport(&self) -> &io::Error {
        &self.transport
    }

    /// Whether the peer's application may have the stream the failed call
    /// was about ([`Delivery::NotDelivered`] for opening, accepting and
    /// pinging, which lose no stream).
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transport failed: {} ({})",
            self.transport, self.delivery
        )
    }
}

impl Error for TransportError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.transport)
    }
}

impl Shared {
    /// A core stream error as an `io::Error`.
    pub(crate) fn stream_error(&self, error: StreamError) -> io::Error {
        if let StreamError::SessionClosed { reason, delivery } = error
            && let Some(failed) = self.transport_failure(reason, delivery)
        {
            return failed;
        }
        io::Error::new(stream_error_kind(&error), error)
    }

    /// A core open error as an `io::Error`.
    pub(crate) fn open_error(&self, error: OpenError) -> io::Error {
        if let OpenError::SessionClosed(reason) = error
            && let Some(failed) = self.transport_failure(reason, Delivery::NotDelivered)
        {
            return failed;
        }
        io::Error::new(open_error_kind(&error), error)
    }

    /// A core ping error as an `io::Error`.
    pub(crate) fn ping_error(&self, error: PingError) -> io::Error {
        if let PingError::SessionClosed(reason) = error
            && let Some(failed) = self.transport_failure(reason, Delivery::NotDelivered)
        {
            return failed;
        }
        io::Error::new(ping_error_kind(&error), error)
    }

    /// The transport's own error, if its failure is why the session ended.
    fn transport_failure(&self, reason: CloseReason, delivery: Delivery) -> Option<io::Error> {
        if reason != CloseReason::TransportFailed {
            return None;
        }
        let transport = Arc::clone(self.transport_error()?);
        let kind = transport.kind();
        Some(io::Error::new(
            kind,
            TransportError {
                transport,
                delivery,
            },
        ))
    }
}

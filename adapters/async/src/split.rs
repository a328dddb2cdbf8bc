//! Owned read and write halves of a [`Stream`], for two tasks.
//!
//! The halves are generic over what they share, so that a runtime adapter
//! whose stream wraps this one (muxplex-tokio's) splits it with the same
//! code: it wraps the halves only to implement its runtime's I/O traits.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use muxplex::StreamId;

use crate::stream::Stream;

/// The reading half of a stream, from [`Stream::into_split`] (or
/// [`split`] for a stream that wraps a [`Stream`]). Both halves share the
/// stream without a lock of their own; the stream is dropped (see
/// [`Stream`]) when both are, and finished for writing when the
/// [`WriteHalf`] is.
#[derive(Debug)]
pub struct ReadHalf<S = Stream> {
    stream: Arc<S>,
}

/// The writing half of a stream, from [`Stream::into_split`] (or
/// [`split`]); `poll_close` finishes our direction, and so does dropping
/// it (as dropping tokio's `OwnedWriteHalf` shuts a TCP stream down for
/// writing), so a peer waiting for the end of the stream is not kept
/// waiting by a read half that lives on.
#[derive(Debug)]
pub struct WriteHalf<S: AsRef<Stream> = Stream> {
    stream: Arc<S>,
}

impl<S: AsRef<Stream>> Drop for WriteHalf<S> {
    fn drop(&mut self) {
        // A stream reset or on an ended connection has nothing to finish.
        let _ = (*self.stream).as_ref().finish();
    }
}

/// Splits `stream`, anything that holds a [`Stream`], into owned halves
/// that keep [`id`](ReadHalf::id) and [`reset`](ReadHalf::reset).
pub fn split<S: AsRef<Stream>>(stream: S) -> (ReadHalf<S>, WriteHalf<S>) {
    let stream = Arc::new(stream);
    (
        ReadHalf {
            stream: Arc::clone(&stream),
        },
        WriteHalf { stream },
    )
}

impl AsRef<Stream> for Stream {
    fn as_ref(&self) -> &Stream {
        self
    }
}

impl Stream {
    /// Splits the stream into owned halves, to read in one task and write
    /// in another. Both keep [`id`](Stream::id) and
    /// [`reset`](Stream::reset).
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        split(self)
    }
}

macro_rules! half_common {
    ($half:ident) => {
        impl<S: AsRef<Stream>> $half<S> {
            /// The stream's id.
            pub fn id(&self) -> StreamId {
                self.stream.as_ref().as_ref().id()
            }

            /// Resets the whole stream (both directions) with `code`.
            pub fn reset(&self, code: u32) {
                self.stream.as_ref().as_ref().reset(code);
            }

            /// The stream both halves share.
            pub fn stream(&self) -> &S {
                &self.stream
            }
        }
    };
}

half_common!(ReadHalf);
half_common!(WriteHalf);

impl<S: AsRef<Stream>> futures_io::AsyncRead for ReadHalf<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let stream: &Stream = (*self.stream).as_ref();
        stream.poll_read(cx, buf).map_err(io::Error::from)
    }
}

impl<S: AsRef<Stream>> futures_io::AsyncWrite for WriteHalf<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream: &Stream = (*self.stream).as_ref();
        stream.poll_write(cx, buf).map_err(io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream: &Stream = (*self.stream).as_ref();
        stream.poll_flush(cx).map_err(io::Error::from)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream: &Stream = (*self.stream).as_ref();
        stream.poll_finish(cx).map_err(io::Error::from)
    }
}

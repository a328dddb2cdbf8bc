//! Owned read and write halves of a [`Stream`], for two tasks.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use muxplex::StreamId;

use crate::stream::Stream;

/// The reading half of a [`Stream`], from [`Stream::into_split`]. Both
/// halves share the stream without a lock of their own; the stream is
/// dropped (finished, see [`Stream`]) when both are.
#[derive(Debug)]
pub struct ReadHalf {
    stream: Arc<Stream>,
}

/// The writing half of a [`Stream`], from [`Stream::into_split`];
/// `poll_close` finishes our direction.
#[derive(Debug)]
pub struct WriteHalf {
    stream: Arc<Stream>,
}

impl Stream {
    /// Splits the stream into owned halves, to read in one task and write
    /// in another. Both keep [`id`](Stream::id) and
    /// [`reset`](Stream::reset).
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        let stream = Arc::new(self);
        (
            ReadHalf {
                stream: Arc::clone(&stream),
            },
            WriteHalf { stream },
        )
    }
}

macro_rules! half_common {
    ($half:ident) => {
        impl $half {
            /// The stream's id.
            pub fn id(&self) -> StreamId {
                self.stream.id()
            }

            /// Resets the whole stream (both directions) with `code`.
            pub fn reset(&self, code: u32) {
                self.stream.reset(code);
            }

            /// The stream both halves share.
            pub fn stream(&self) -> &Stream {
                &self.stream
            }
        }
    };
}

half_common!(ReadHalf);
half_common!(WriteHalf);

impl futures_io::AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read(cx, buf).map_err(io::Error::from)
    }
}

impl futures_io::AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write(cx, buf).map_err(io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_flush(cx).map_err(io::Error::from)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_finish(cx).map_err(io::Error::from)
    }
}

//! Owned read and write halves of a [`Stream`].

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{Stream, StreamId};

/// The reading half of a [`Stream`], from [`Stream::into_split`]. The
/// halves share the stream (no lock of their own); it is dropped, and so
/// finished, when both are.
#[derive(Debug)]
pub struct ReadHalf {
    stream: Arc<Stream>,
}

/// The writing half of a [`Stream`], from [`Stream::into_split`];
/// `shutdown` finishes our direction.
#[derive(Debug)]
pub struct WriteHalf {
    stream: Arc<Stream>,
}

impl Stream {
    /// Splits the stream into owned halves, to read in one task and write
    /// in another; both keep `id` and `reset`.
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
        }
    };
}

half_common!(ReadHalf);
half_common!(WriteHalf);

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_shutdown(cx)
    }
}

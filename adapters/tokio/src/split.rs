//! Owned read and write halves of a [`Stream`]: muxplex-async's halves,
//! wrapped for tokio's I/O traits.

use std::io;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Stream;

/// The reading half of a [`Stream`], from [`Stream::into_split`]. The
/// halves share the stream (no lock of their own); it is dropped when both
/// are, and finished for writing when the [`WriteHalf`] is. `id`, `reset`
/// and `stream` come from the half it wraps.
#[derive(Debug)]
pub struct ReadHalf(muxplex_async::ReadHalf<Stream>);

/// The writing half of a [`Stream`], from [`Stream::into_split`];
/// `shutdown` finishes our direction, and so does dropping it (as dropping
/// tokio's `OwnedWriteHalf` does).
#[derive(Debug)]
pub struct WriteHalf(muxplex_async::WriteHalf<Stream>);

impl Stream {
    /// Splits the stream into owned halves, to read in one task and write
    /// in another; both keep `id` and `reset`.
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        let (read, write) = muxplex_async::split(self);
        (ReadHalf(read), WriteHalf(write))
    }
}

impl AsRef<muxplex_async::Stream> for Stream {
    fn as_ref(&self) -> &muxplex_async::Stream {
        self.as_async()
    }
}

impl Deref for ReadHalf {
    type Target = muxplex_async::ReadHalf<Stream>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Deref for WriteHalf {
    type Target = muxplex_async::WriteHalf<Stream>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0.stream()).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0.stream()).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0.stream()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0.stream()).poll_shutdown(cx)
    }
}

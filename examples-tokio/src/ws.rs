//! A recipe: a WebSocket connection as a byte stream, so muxplex can run
//! over it.
//!
//! muxplex needs a reliable, ordered byte stream; a WebSocket carries
//! messages. [`WsIo`] sends every write as one binary message (a vectored
//! write, which is how the muxplex driver hands over the frames due
//! together, becomes one message) and reads binary messages back to back as
//! one stream of bytes; message boundaries carry no meaning. Copy it into
//! your project and adapt it (another WebSocket crate, other limits); it is
//! not part of the published muxplex crates.
//!
//! ```no_run
//! # async fn run(tcp: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
//! use muxplex_examples::ws::WsIo;
//! use muxplex_tokio::{Config, Connection, Role};
//!
//! let (ws, _response) = tokio_tungstenite::client_async("ws://localhost/mux", tcp).await?;
//! let connection = Connection::spawn(WsIo::new(ws), Role::Client, Config::default());
//! # let _ = connection;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// The most bytes one write puts into one message. The peer's
/// `max_message_size` must allow it (tungstenite's default is 64 MiB).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// A [`WebSocketStream`] as tokio [`AsyncRead`] + [`AsyncWrite`]: binary
/// messages carry the bytes. A text message is an `InvalidData` error;
/// pings and pongs are skipped (tungstenite answers pings itself); the
/// peer's Close message is the end of the stream, and `shutdown` sends
/// ours.
#[derive(Debug)]
pub struct WsIo<S> {
    ws: WebSocketStream<S>,
    /// What is left of the last binary message received: never more than
    /// one message, so the buffer is bounded by the WebSocket's own
    /// `max_message_size`.
    unread: Bytes,
}

impl<S> WsIo<S> {
    /// Wraps a WebSocket connection whose handshake is done.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        WsIo {
            ws,
            unread: Bytes::new(),
        }
    }
}

/// An `io::Error` for a WebSocket error, keeping the underlying I/O error
/// as it is.
fn io_error(error: WsError) -> io::Error {
    match error {
        WsError::Io(e) => e,
        other => io::Error::other(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        while self.unread.is_empty() {
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => self.unread = data,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                // The end: nothing filled is end of file.
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text message on a binary WebSocket transport",
                    )));
                }
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            }
        }
        let n = self.unread.len().min(buf.remaining());
        buf.put_slice(&self.unread.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(data)])
    }

    /// One message for as many of `bufs` as fit in [`MAX_MESSAGE`].
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total = bufs.iter().map(|b| b.len()).sum::<usize>().min(MAX_MESSAGE);
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut ws = Pin::new(&mut self.ws);
        ready!(ws.as_mut().poll_ready(cx)).map_err(io_error)?;
        let mut message = BytesMut::with_capacity(total);
        for buf in bufs {
            let take = buf.len().min(total - message.len());
            message.extend_from_slice(&buf[..take]);
        }
        ws.start_send(Message::Binary(message.freeze()))
            .map_err(io_error)?;
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(io_error)
    }

    /// Sends our Close message and flushes it.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_close(cx).map_err(io_error)
    }
}

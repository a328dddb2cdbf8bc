//! The channels over [muxplex-tokio](muxplex_tokio): the routing task
//! spawned on the current runtime with tokio's timer (so a paused test
//! clock runs the preamble deadline), and tokio's I/O traits on
//! [`Channel`].
//!
//! ```
//! use muxplex_channel::tokio::{channels, connect};
//! use muxplex_channel::ChannelConfig;
//! use muxplex_tokio::{Config, Connection, Role};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (a, b) = tokio::io::duplex(64 * 1024);
//! let client = Connection::spawn(a, Role::Client, Config::default());
//! let server = Connection::spawn(b, Role::Server, Config::default());
//!
//! let table = channels(&server, ChannelConfig::default());
//! let listener = table.listen("greeter/v1", Some(b"room-1"))?;
//! tokio::spawn(async move {
//!     let request = listener.accept().await?;
//!     assert_eq!(request.open().handshake, b"hello, I am the client");
//!     let mut channel = request.accept(b"welcome").await?;
//!     let mut name = String::new();
//!     channel.read_to_string(&mut name).await?;
//!     channel.write_all(format!("hi {name}").as_bytes()).await?;
//!     channel.shutdown().await?;
//!     Ok::<_, std::io::Error>(())
//! });
//!
//! let mut channel = connect(&client, "greeter/v1", b"room-1", b"hello, I am the client").await?;
//! channel.write_all(b"Ada").await?; // buffered until the server accepts
//! channel.shutdown().await?; // flushes it, then finishes
//! assert_eq!(channel.remote_open().await?, b"welcome");
//! let mut answer = String::new();
//! channel.read_to_string(&mut answer).await?;
//! assert_eq!(answer, "hi Ada");
//! # Ok(())
//! # }
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use muxplex_tokio::{Connection, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{Channel, ChannelConfig, ChannelError, Channels};

/// The channels of `connection`, with their routing task spawned on the
/// current tokio runtime (which needs its timer enabled). Panics outside
/// a runtime, as `tokio::spawn` does. See [`Channels`].
pub fn channels(connection: &Connection, config: ChannelConfig) -> Channels {
    let (channels, routing) =
        Channels::new(connection.as_async().clone(), TokioTimer::default(), config);
    tokio::spawn(routing);
    channels
}

/// Opens a channel on `connection` at once; see [`crate::connect`].
pub async fn connect(
    connection: &Connection,
    protocol: &str,
    id: &[u8],
    handshake: &[u8],
) -> Result<Channel, ChannelError> {
    crate::connect(connection.as_async(), protocol, id, handshake).await
}

impl AsyncRead for Channel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = std::task::ready!(this.poll_read(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Channel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Channel::poll_write(self.get_mut(), cx, buf).map_err(io::Error::from)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Channel::poll_flush(self.get_mut(), cx).map_err(io::Error::from)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Channel::poll_close(self.get_mut(), cx).map_err(io::Error::from)
    }
}

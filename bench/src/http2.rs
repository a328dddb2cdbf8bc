//! h2 (HTTP/2 over plaintext TCP) behind [`AsyncMux`]: the choice a tokio
//! user has for many request streams over one connection. A stream is one
//! request (the client's direction) and its response (the server's): the
//! server answers the headers at once, so both directions carry bytes as
//! in the other implementations, and finishing a direction ends its body.
//!
//! The windows are configured for bulk, as HTTP/2 servers that move data
//! set them: 4 MiB per stream, 16 MiB per connection (the protocol's
//! defaults are 64 KiB each), frames up to 1 MiB (default 16 KiB), and a
//! send buffer of 4 MiB per stream (h2's default, 400 KiB, caps the
//! capacity a writer is granted).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use h2::{RecvStream, SendStream, client, server};
use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};

use crate::mux::{AsyncMux, tcp_pair};

const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;
const MAX_FRAME: u32 = 1 << 20;
const SEND_BUFFER: usize = 4 << 20;
/// Streams open at once: enough for hello-10k-all (the default has no
/// limit on the server, but says so explicitly here).
const MAX_STREAMS: u32 = 1 << 20;

/// An accepted request with the handle to answer it.
type Inbound = (Request<RecvStream>, server::SendResponse<Bytes>);

/// One end of an h2 connection over loopback TCP.
#[derive(Clone, Debug)]
pub(crate) enum H2 {
    /// Opens streams by sending requests.
    Client(client::SendRequest<Bytes>),
    /// Takes requests from the task that drives the server connection.
    Server(Arc<Mutex<mpsc::UnboundedReceiver<Inbound>>>),
}

fn h2_error(error: h2::Error) -> io::Error {
    if error.is_io() {
        error
            .into_io()
            .unwrap_or_else(|| io::Error::other("h2 I/O error"))
    } else {
        io::Error::other(error)
    }
}

impl AsyncMux for H2 {
    type Stream = H2Stream;

    async fn pair() -> io::Result<(Self, Self)> {
        let (dialed, accepted) = tcp_pair().await?;
        let (client, server) = tokio::try_join!(client_end(dialed), server_end(accepted))?;
        Ok((client, server))
    }

    async fn open(&self) -> io::Result<H2Stream> {
        let H2::Client(send_request) = self else {
            return Err(io::Error::other("the server end does not open"));
        };
        // Waits while the peer's stream limit is reached.
        let mut send_request = send_request.clone().ready().await.map_err(h2_error)?;
        let request = Request::post("http://bench/")
            .body(())
            .map_err(io::Error::other)?;
        let (response, send) = send_request
            .send_request(request, false)
            .map_err(h2_error)?;
        Ok(H2Stream::new(send, Body::Waiting(response)))
    }

    async fn accept(&self) -> io::Result<H2Stream> {
        let H2::Server(inbound) = self else {
            return Err(io::Error::other("the client end does not accept"));
        };
        let (request, mut respond) = inbound
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| io::Error::other("h2 connection ended"))?;
        let send = respond
            .send_response(Response::new(()), false)
            .map_err(h2_error)?;
        Ok(H2Stream::new(send, Body::Receiving(request.into_body())))
    }
}

/// The client end; its connection task drives the I/O.
async fn client_end(io: TcpStream) -> io::Result<H2> {
    let (send_request, connection) = client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_send_buffer_size(SEND_BUFFER)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(h2_error)?;
    tokio::spawn(connection);
    Ok(H2::Client(send_request))
}

/// The server end: a task accepts requests (which drives the connection)
/// and hands them over a channel.
async fn server_end(io: TcpStream) -> io::Result<H2> {
    let mut connection = server::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_send_buffer_size(SEND_BUFFER)
        .max_concurrent_streams(MAX_STREAMS)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(h2_error)?;
    let (inbound_tx, inbound) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(request)) = connection.accept().await {
            let _ = inbound_tx.send(request);
        }
    });
    Ok(H2::Server(Arc::new(Mutex::new(inbound))))
}

/// The receiving direction of a stream.
#[derive(Debug)]
enum Body {
    /// The client's, until the response headers arrive.
    Waiting(client::ResponseFuture),
    /// Data frames, with the part of the last one not yet read.
    Receiving(RecvStream),
    /// The end was read.
    Ended,
}

/// One h2 stream as tokio I/O: writes become data frames (copied into
/// `Bytes`, as an `AsyncWrite` user's slices must be), reads return the
/// peer's and give its window back.
#[derive(Debug)]
pub(crate) struct H2Stream {
    send: SendStream<Bytes>,
    body: Body,
    /// Received but not yet read.
    pending: Bytes,
    finished: bool,
}

impl H2Stream {
    fn new(send: SendStream<Bytes>, body: Body) -> Self {
        H2Stream {
            send,
            body,
            pending: Bytes::new(),
            finished: false,
        }
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.pending.is_empty() {
            match &mut this.body {
                Body::Waiting(response) => {
                    let response = ready!(Pin::new(response).poll(cx)).map_err(h2_error)?;
                    this.body = Body::Receiving(response.into_body());
                }
                Body::Receiving(recv) => match ready!(recv.poll_data(cx)) {
                    Some(Ok(data)) => {
                        // The window is given back as soon as the data is
                        // ours, as a reader that copies it out would.
                        recv.flow_control()
                            .release_capacity(data.len())
                            .map_err(h2_error)?;
                        this.pending = data;
                    }
                    Some(Err(e)) => return Poll::Ready(Err(h2_error(e))),
                    None => this.body = Body::Ended,
                },
                Body::Ended => return Poll::Ready(Ok(())),
            }
        }
        let n = this.pending.len().min(buf.remaining());
        buf.put_slice(&this.pending[..n]);
        this.pending.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            let capacity = self.send.capacity();
            if capacity > 0 {
                let n = capacity.min(buf.len());
                let data = Bytes::copy_from_slice(&buf[..n]);
                self.send.send_data(data, false).map_err(h2_error)?;
                return Poll::Ready(Ok(n));
            }
            // Asks for room for this write (what was asked before and
            // since sent no longer counts) and waits for it.
            self.send.reserve_capacity(buf.len());
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(h2_error(e))),
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The connection task writes whatever is queued.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.finished {
            self.send.send_data(Bytes::new(), true).map_err(h2_error)?;
            self.finished = true;
        }
        Poll::Ready(Ok(()))
    }
}

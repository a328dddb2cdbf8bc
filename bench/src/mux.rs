//! The async implementations under test behind one trait, so each async
//! workload is written once: raw TCP (a connection per stream), the
//! `yamux` crate (0.14, and 0.13), tokio-yamux, muxplex-tokio (through
//! `AsyncRead`/`AsyncWrite`, and through its zero-copy chunks) and
//! muxplex-smol; h2 is in [`crate::http2`].

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use muxplex_smol::Role;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

use crate::workload::{PAYLOAD, drain_and_finish};

/// A way to carry many byte streams between a client end and a server
/// end, as the workloads use it.
pub(crate) trait AsyncMux: Clone + Send + Sync + 'static {
    /// One stream, as tokio I/O. `shutdown` finishes our direction.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The client and server ends of a fresh connection over loopback TCP;
    /// called on the runtime that will drive them.
    fn pair() -> impl Future<Output = io::Result<(Self, Self)>> + Send;

    /// Opens a stream (client end).
    fn open(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Takes the next stream the other end opened (server end).
    fn accept(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Writes the first `n` bytes of the bulk payload, through
    /// `AsyncWrite` unless an implementation measures another path.
    fn send_payload(
        stream: &mut Self::Stream,
        n: usize,
    ) -> impl Future<Output = io::Result<()>> + Send {
        stream.write_all(&PAYLOAD[..n])
    }

    /// Reads a bulk stream to its end, then finishes it; returns the bytes
    /// read. Through `AsyncRead` unless an implementation measures another
    /// path.
    fn drain(stream: Self::Stream) -> impl Future<Output = io::Result<u64>> + Send {
        drain_and_finish(stream)
    }
}

/// A connected loopback TCP pair with Nagle off, as every multiplexer here
/// gets its transport.
pub(crate) async fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (dialed, (accepted, _)) = tokio::try_join!(TcpStream::connect(address), listener.accept())?;
    dialed.set_nodelay(true)?;
    accepted.set_nodelay(true)?;
    Ok((dialed, accepted))
}

/// The baseline: every stream is a TCP connection of its own.
#[derive(Clone, Debug)]
pub(crate) enum RawTcp {
    /// The client end dials a new connection per stream.
    Dialer(SocketAddr),
    /// The server end accepts them.
    Listener(Arc<TcpListener>),
}

impl AsyncMux for RawTcp {
    type Stream = TcpStream;

    async fn pair() -> io::Result<(Self, Self)> {
        // The largest backlog the kernel allows here (`somaxconn`), not
        // tokio's 1,024: with bulk-1000's connections all dialled at once,
        // an overflowing accept queue dropped handshakes, and the data
        // sent on them was answered with resets.
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let listener = socket.listen(4096)?;
        let address = listener.local_addr()?;
        Ok((
            RawTcp::Dialer(address),
            RawTcp::Listener(Arc::new(listener)),
        ))
    }

    async fn open(&self) -> io::Result<TcpStream> {
        let RawTcp::Dialer(address) = self else {
            return Err(io::Error::other("the listening end does not dial"));
        };
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        // Every workload reads the peer's end before dropping a stream, so
        // closing with RST loses nothing; it keeps 10,000 connections per
        // run out of TIME_WAIT, which would exhaust the ephemeral ports.
        stream.set_zero_linger()?;
        Ok(stream)
    }

    async fn accept(&self) -> io::Result<TcpStream> {
        let RawTcp::Listener(listener) = self else {
            return Err(io::Error::other("the dialing end does not accept"));
        };
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// muxplex over tokio, default configuration.
#[derive(Clone, Debug)]
pub(crate) struct MuxplexTokio(pub muxplex_tokio::Connection);

impl AsyncMux for MuxplexTokio {
    type Stream = muxplex_tokio::Stream;

    async fn pair() -> io::Result<(Self, Self)> {
        use muxplex_tokio::{Config, Connection, Role};
        let (dialed, accepted) = tcp_pair().await?;
        Ok((
            MuxplexTokio(Connection::spawn(dialed, Role::Client, Config::default())),
            MuxplexTokio(Connection::spawn(accepted, Role::Server, Config::default())),
        ))
    }

    async fn open(&self) -> io::Result<Self::Stream> {
        self.0.open_stream().await.map_err(io::Error::from)
    }

    async fn accept(&self) -> io::Result<Self::Stream> {
        self.0.accept_stream().await.map_err(io::Error::from)
    }
}

/// The client end's counters go to the report when the connection goes.
impl Drop for MuxplexTokio {
    fn drop(&mut self) {
        if self.0.role() == Role::Client {
            crate::report::record_session(self.0.stats());
        }
    }
}

/// muxplex-tokio's zero-copy path: the same connection as
/// [`MuxplexTokio`], bulk written as shared [`Bytes`] with `write_chunk`
/// and read with `read_chunk`, so neither end copies the payload (the
/// other scenarios are the same as `muxplex-tokio`'s).
#[derive(Clone, Debug)]
pub(crate) struct MuxplexTokioChunk(MuxplexTokio);

impl AsyncMux for MuxplexTokioChunk {
    type Stream = muxplex_tokio::Stream;

    async fn pair() -> io::Result<(Self, Self)> {
        let (client, server) = MuxplexTokio::pair().await?;
        Ok((MuxplexTokioChunk(client), MuxplexTokioChunk(server)))
    }

    async fn open(&self) -> io::Result<Self::Stream> {
        self.0.open().await
    }

    async fn accept(&self) -> io::Result<Self::Stream> {
        self.0.accept().await
    }

    async fn send_payload(stream: &mut Self::Stream, n: usize) -> io::Result<()> {
        let chunk = Bytes::from_static(&PAYLOAD[..n]);
        stream.write_chunk(chunk).await.map_err(io::Error::from)
    }

    async fn drain(mut stream: Self::Stream) -> io::Result<u64> {
        let mut total = 0;
        while let Some(chunk) = stream.read_chunk(usize::MAX).await? {
            total += chunk.len() as u64;
        }
        stream.shutdown().await?;
        Ok(total)
    }
}

/// muxplex-smol, default configuration.
///
/// It runs on the same tokio runtime, over the same tokio sockets, as every
/// other implementation here: the socket is handed to the adapter through
/// tokio-util's futures-io compat layer (as the yamux crate's is), the
/// driver is `tokio::spawn`ed (it is a plain future), and the streams come
/// back to the workloads through compat as well. Timers are async-io's,
/// as under smol: async-io runs its own reactor thread when no smol
/// executor does. Under smol's executor with async-io sockets, the
/// workloads' tokio tasks would share the two cores with a second pool of
/// threads, and the figure would measure the oversubscription, not the
/// adapter; this way only the adapter differs from muxplex-tokio.
#[derive(Clone, Debug)]
pub(crate) struct MuxplexSmol(pub muxplex_smol::Connection);

impl AsyncMux for MuxplexSmol {
    type Stream = Compat<muxplex_smol::Stream>;

    async fn pair() -> io::Result<(Self, Self)> {
        let (dialed, accepted) = tcp_pair().await?;
        Ok((
            Self::spawn(dialed.compat(), Role::Client),
            Self::spawn(accepted.compat(), Role::Server),
        ))
    }

    async fn open(&self) -> io::Result<Self::Stream> {
        let stream = self.0.open_stream().await.map_err(io::Error::from)?;
        Ok(stream.compat())
    }

    async fn accept(&self) -> io::Result<Self::Stream> {
        let stream = self.0.accept_stream().await.map_err(io::Error::from)?;
        Ok(stream.compat())
    }
}

/// The client end's counters go to the report when the connection goes.
impl Drop for MuxplexSmol {
    fn drop(&mut self) {
        if self.0.role() == Role::Client {
            crate::report::record_session(self.0.stats());
        }
    }
}

impl MuxplexSmol {
    /// A connection over a futures-io transport, its driver spawned on the
    /// current tokio runtime.
    pub(crate) fn spawn<T>(io: T, role: muxplex_smol::Role) -> MuxplexSmol
    where
        T: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin + Send + 'static,
    {
        Self::spawn_with(io, role, muxplex_smol::Config::default())
    }

    /// The same with `config`.
    pub(crate) fn spawn_with<T>(
        io: T,
        role: muxplex_smol::Role,
        config: muxplex_smol::Config,
    ) -> MuxplexSmol
    where
        T: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (connection, driver) = muxplex_smol::Connection::new(io, role, config);
        tokio::spawn(driver);
        MuxplexSmol(connection)
    }
}

/// Defines `$name`, the yamux crate imported as `$krate` behind
/// [`AsyncMux`]. Its `Connection` makes progress only while polled, so it
/// lives in a task of its own, as libp2p runs it: the task opens streams on
/// request and hands inbound ones over a channel.
macro_rules! yamux_mux {
    ($(#[$doc:meta])* $name:ident, $krate:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub(crate) struct $name {
            opens: mpsc::UnboundedSender<oneshot::Sender<Result<$krate::Stream, $krate::ConnectionError>>>,
            inbound: Arc<Mutex<mpsc::UnboundedReceiver<$krate::Stream>>>,
        }

        impl $name {
            /// Spawns the task that drives a yamux connection over `io`.
            pub(crate) fn spawn<T>(io: T, mode: $krate::Mode, config: $krate::Config) -> $name
            where
                T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
            {
                type OpenReply = oneshot::Sender<Result<$krate::Stream, $krate::ConnectionError>>;
                let mut connection = $krate::Connection::new(io.compat(), config, mode);
                let (opens, mut open_rx) = mpsc::unbounded_channel::<OpenReply>();
                let (inbound_tx, inbound) = mpsc::unbounded_channel();
                tokio::spawn(async move {
                    let mut waiting: VecDeque<OpenReply> = VecDeque::new();
                    poll_fn(|cx| {
                        loop {
                            while let Poll::Ready(Some(reply)) = open_rx.poll_recv(cx) {
                                waiting.push_back(reply);
                            }
                            while !waiting.is_empty() {
                                match connection.poll_new_outbound(cx) {
                                    Poll::Ready(result) => {
                                        let reply = waiting.pop_front().expect("not empty");
                                        let _ = reply.send(result);
                                    }
                                    Poll::Pending => break,
                                }
                            }
                            // Polling for inbound streams is what drives its I/O.
                            match connection.poll_next_inbound(cx) {
                                Poll::Ready(Some(Ok(stream))) => {
                                    let _ = inbound_tx.send(stream);
                                }
                                Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(()),
                                Poll::Pending => return Poll::Pending,
                            }
                        }
                    })
                    .await
                });
                $name {
                    opens,
                    inbound: Arc::new(Mutex::new(inbound)),
                }
            }
        }

        impl AsyncMux for $name {
            type Stream = Compat<$krate::Stream>;

            async fn pair() -> io::Result<(Self, Self)> {
                let (dialed, accepted) = tcp_pair().await?;
                // The default allows 512 streams, too few for hello-10k-all
                // and bulk-1000 (opens beyond fail). Raise it, and the
                // connection's receive-window budget by the 256 KiB
                // guaranteed to each extra stream, so the window a stream
                // may grow to stays what the default gives.
                const STREAMS: usize = 16 * 1024;
                const CREDIT: usize = 256 * 1024;
                let budget = (1 << 30) + (STREAMS - 512) * CREDIT;
                let mut config = $krate::Config::default();
                config.set_max_connection_receive_window(Some(budget));
                config.set_max_num_streams(STREAMS);
                Ok((
                    $name::spawn(dialed, $krate::Mode::Client, config.clone()),
                    $name::spawn(accepted, $krate::Mode::Server, config),
                ))
            }

            async fn open(&self) -> io::Result<Self::Stream> {
                let (reply, answer) = oneshot::channel();
                self.opens
                    .send(reply)
                    .map_err(|_| io::Error::other("yamux connection task ended"))?;
                let stream = answer
                    .await
                    .map_err(|_| io::Error::other("yamux connection task ended"))?
                    .map_err(io::Error::other)?;
                Ok(stream.compat())
            }

            async fn accept(&self) -> io::Result<Self::Stream> {
                let stream = self.inbound.lock().await.recv().await;
                let stream = stream.ok_or_else(|| io::Error::other("yamux connection ended"))?;
                Ok(stream.compat())
            }
        }
    };
}

yamux_mux!(
    /// The `yamux` crate at 0.14, its current version.
    Yamux,
    yamux
);

yamux_mux!(
    /// The `yamux` crate at 0.13, the version before.
    Yamux013,
    yamux013
);

/// tokio-yamux (tentacle's yamux), default configuration. Its `Session`
/// makes progress only while polled for inbound streams, so it lives in a
/// task of its own that hands them over a channel; opens go through its
/// cloneable `Control`.
#[derive(Clone)]
pub(crate) struct TokioYamux {
    control: tokio_yamux::Control,
    inbound: Arc<Mutex<mpsc::UnboundedReceiver<tokio_yamux::StreamHandle>>>,
}

impl TokioYamux {
    fn spawn(session: tokio_yamux::Session<TcpStream>) -> TokioYamux {
        use futures::StreamExt;
        let mut session = session;
        let control = session.control();
        let (inbound_tx, inbound) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(stream)) = session.next().await {
                let _ = inbound_tx.send(stream);
            }
        });
        TokioYamux {
            control,
            inbound: Arc::new(Mutex::new(inbound)),
        }
    }
}

impl std::fmt::Debug for TokioYamux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioYamux").finish_non_exhaustive()
    }
}

impl AsyncMux for TokioYamux {
    type Stream = TokioYamuxStream;

    async fn pair() -> io::Result<(Self, Self)> {
        let (dialed, accepted) = tcp_pair().await?;
        let config = tokio_yamux::Config::default();
        Ok((
            TokioYamux::spawn(tokio_yamux::Session::new_client(dialed, config)),
            TokioYamux::spawn(tokio_yamux::Session::new_server(accepted, config)),
        ))
    }

    async fn open(&self) -> io::Result<Self::Stream> {
        self.control
            .clone()
            .open_stream()
            .await
            .map(TokioYamuxStream)
            .map_err(|e| io::Error::other(format!("{e:?}")))
    }

    async fn accept(&self) -> io::Result<Self::Stream> {
        let stream = self.inbound.lock().await.recv().await;
        let stream = stream.ok_or_else(|| io::Error::other("tokio-yamux session ended"))?;
        Ok(TokioYamuxStream(stream))
    }
}

/// A tokio-yamux stream that a task may write without reading it.
///
/// A `StreamHandle` learns of window updates only from frames its session
/// queues for it, and only `poll_read` registers the task to be woken when
/// one arrives; `poll_write` merely looks at the queue (tentacle's
/// documented rule: a stream that is written must also be read). A writer
/// that never reads, as in bulk, exhausts the 256 KiB window and waits
/// forever. So when a write would wait, this also polls a read of nothing,
/// which takes in the queued frames (a window update among them) and
/// registers the writer's task for the next, then tries the write again.
/// Nothing is read from the stream, and writes that do not wait cost
/// nothing extra.
#[derive(Debug)]
pub(crate) struct TokioYamuxStream(tokio_yamux::StreamHandle);

impl AsyncRead for TokioYamuxStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TokioYamuxStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Poll::Ready(result) = Pin::new(&mut self.0).poll_write(cx, buf) {
            return Poll::Ready(result);
        }
        let mut nothing = ReadBuf::new(&mut []);
        if let Poll::Ready(Err(e)) = Pin::new(&mut self.0).poll_read(cx, &mut nothing) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::{MuxplexTokioChunk, TokioYamux};
    use crate::http2::H2;
    use crate::workload;

    // `workload::bulk` checks that every byte arrived; a stream that stalls
    // makes it fail at the case's time limit.

    #[test]
    fn tokio_yamux_writer_that_never_reads_gets_past_its_window() {
        // 1 MiB is four of its 256 KiB windows.
        workload::bulk::<TokioYamux>(1 << 20, 1).expect("all bytes arrive");
    }

    #[test]
    fn zero_copy_bulk_delivers_every_byte() {
        workload::bulk::<MuxplexTokioChunk>(4 << 20, 1).expect("all bytes arrive");
        workload::bulk::<MuxplexTokioChunk>(4 << 20, 10).expect("all bytes arrive");
    }

    #[test]
    fn h2_runs_bulk_hello_and_rtt() {
        // More than its 4 MiB stream window, so window updates must flow.
        workload::bulk::<H2>(12 << 20, 1).expect("all bytes arrive");
        workload::bulk::<H2>(4 << 20, 100).expect("all bytes arrive");
        workload::hello::<H2>(300, 300).expect("every stream answered");
        workload::rtt::<H2>(50).expect("every byte echoed");
    }
}

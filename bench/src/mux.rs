//! The async implementations under test behind one trait, so each async
//! workload is written once: raw TCP (a connection per stream), the
//! `yamux` crate (0.14, and 0.13), tokio-yamux, muxplex-tokio and
//! muxplex-smol.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;

use muxplex_smol::Role;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

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
        let listener = TcpListener::bind("127.0.0.1:0").await?;
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
        let config = muxplex_smol::Config::default();
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
                Ok((
                    $name::spawn(dialed, $krate::Mode::Client, $krate::Config::default()),
                    $name::spawn(accepted, $krate::Mode::Server, $krate::Config::default()),
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
    type Stream = tokio_yamux::StreamHandle;

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
            .map_err(|e| io::Error::other(format!("{e:?}")))
    }

    async fn accept(&self) -> io::Result<Self::Stream> {
        let stream = self.inbound.lock().await.recv().await;
        stream.ok_or_else(|| io::Error::other("tokio-yamux session ended"))
    }
}

//! Their end: a connection of the `yamux` crate, at one of the versions
//! the scenarios run against, in a task that drives it by polling for
//! inbound streams, opens streams on request and hands inbound ones to the
//! test.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_channel::{Receiver, Sender};
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::Stream as _;

use super::{Runtime, Task, echo};

/// A version of the `yamux` crate, as the scenarios' peer. [`Yamux014`]
/// and [`Yamux013`] implement it.
pub trait Yamux: 'static {
    /// The version's stream.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The version, for messages.
    const VERSION: &'static str;
    /// A connection with the default configuration over `socket`, as the
    /// client or the server, running in a task of `R`.
    fn spawn<R: Runtime>(socket: R::Socket, client: bool) -> Peer<Self::Stream>;
}

/// What the peer's task needs of a yamux connection; the versions'
/// connections have the same methods under different types.
trait Driven: Send + 'static {
    type Stream: Send + 'static;
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<Self::Stream, String>>;
    fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Self::Stream, String>>>;
    fn poll_shut(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>>;
}

/// Implements [`Yamux`] as `$name` for the crate imported as `$krate`.
macro_rules! yamux_version {
    ($(#[$doc:meta])* $name:ident, $krate:ident, $version:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl Yamux for $name {
            type Stream = $krate::Stream;
            const VERSION: &'static str = $version;

            fn spawn<R: Runtime>(socket: R::Socket, client: bool) -> Peer<Self::Stream> {
                let mode = match client {
                    true => $krate::Mode::Client,
                    false => $krate::Mode::Server,
                };
                let connection = $krate::Connection::new(socket, $krate::Config::default(), mode);
                Peer::spawn::<R, _>(connection)
            }
        }

        impl<T> Driven for $krate::Connection<T>
        where
            T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        {
            type Stream = $krate::Stream;

            fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<Self::Stream, String>> {
                self.poll_new_outbound(cx).map_err(|e| e.to_string())
            }

            fn poll_inbound(
                &mut self,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Result<Self::Stream, String>>> {
                self.poll_next_inbound(cx)
                    .map(|next| next.map(|r| r.map_err(|e| e.to_string())))
            }

            fn poll_shut(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
                self.poll_close(cx).map_err(|e| e.to_string())
            }
        }
    };
}

yamux_version!(
    /// The `yamux` crate at 0.14, its current version.
    Yamux014,
    yamux,
    "0.14"
);

yamux_version!(
    /// The `yamux` crate at 0.13.
    Yamux013,
    yamux013,
    "0.13"
);

type Reply<T> = Sender<Result<T, String>>;

enum Command<S> {
    Open(Reply<S>),
    Close(Reply<()>),
    /// Drop the connection and its socket without a word to our end.
    Vanish,
}

/// The peer's connection, as the scenarios use it: streams of type `S`.
pub struct Peer<S> {
    commands: Sender<Command<S>>,
    inbound: Receiver<S>,
    /// The connection's task: its error, if it ended with one.
    pub(super) task: Task<Result<(), String>>,
}

impl<S> std::fmt::Debug for Peer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("commands", &self.commands)
            .field("inbound", &self.inbound)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Peer<S> {
    fn spawn<R: Runtime, C: Driven<Stream = S>>(mut connection: C) -> Peer<S> {
        let (commands, command_rx) = async_channel::unbounded();
        let (inbound_tx, inbound) = async_channel::unbounded();
        let task = R::spawn(async move {
            let mut command_rx: Pin<Box<Receiver<Command<S>>>> = Box::pin(command_rx);
            let mut opens: VecDeque<Reply<S>> = VecDeque::new();
            let mut closing: Option<Reply<()>> = None;
            let mut commands_open = true;
            poll_fn(|cx| {
                loop {
                    while commands_open && closing.is_none() {
                        match command_rx.as_mut().poll_next(cx) {
                            Poll::Ready(Some(Command::Open(reply))) => opens.push_back(reply),
                            Poll::Ready(Some(Command::Close(reply))) => closing = Some(reply),
                            Poll::Ready(Some(Command::Vanish)) => return Poll::Ready(Ok(())),
                            Poll::Ready(None) => commands_open = false,
                            Poll::Pending => break,
                        }
                    }
                    if let Some(reply) = &closing {
                        let result = std::task::ready!(connection.poll_shut(cx));
                        let _ = reply.try_send(result);
                        return Poll::Ready(Ok(()));
                    }
                    while let Some(reply) = opens.front() {
                        let Poll::Ready(result) = connection.poll_open(cx) else {
                            break;
                        };
                        let _ = reply.try_send(result);
                        opens.pop_front();
                    }
                    // Polling for inbound streams is what drives the
                    // connection's I/O.
                    match connection.poll_inbound(cx) {
                        Poll::Ready(Some(Ok(stream))) => {
                            let _ = inbound_tx.try_send(stream);
                        }
                        Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                        Poll::Ready(None) => return Poll::Ready(Ok(())),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            })
            .await
        });
        Peer {
            commands,
            inbound,
            task,
        }
    }

    pub(super) async fn open(&self) -> S {
        let (reply, answer) = async_channel::bounded(1);
        self.commands
            .try_send(Command::Open(reply))
            .expect("peer task alive");
        let opened = answer.recv().await.expect("peer task answers");
        opened.expect("peer opens a stream")
    }

    pub(super) async fn accept(&self) -> S {
        let stream = self.inbound.recv().await;
        stream.expect("peer delivers an inbound stream")
    }

    /// Hands every inbound stream to an echo task; the returned task ends
    /// once the connection has ended and every echo is done.
    pub(super) fn echo_all_inbound<R: Runtime>(&self) -> Task<()> {
        let inbound = self.inbound.clone();
        R::spawn(async move {
            let mut echoes = Vec::new();
            while let Ok(stream) = inbound.recv().await {
                echoes.push(R::spawn(echo(stream)));
            }
            for echo in echoes {
                echo.await.expect("their echo succeeds");
            }
        })
    }

    pub(super) async fn close(&self) {
        let (reply, answer) = async_channel::bounded(1);
        self.commands
            .try_send(Command::Close(reply))
            .expect("peer task alive");
        let closed = answer.recv().await.expect("peer task answers");
        closed.expect("peer closes cleanly");
    }

    /// Drops the peer's connection and socket without a GoAway, and waits
    /// until they are gone.
    pub(super) async fn vanish(self) {
        self.commands
            .try_send(Command::Vanish)
            .expect("peer task alive");
        self.task.await.expect("the peer vanishes quietly");
    }
}

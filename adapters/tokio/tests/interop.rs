//! Interoperability with the `yamux` crate (0.14 and 0.13, a module of
//! tests each) over loopback TCP, with muxplex as the client and as the
//! server: the scenarios in `muxplex_test_support::interop` (shared with
//! the smol adapter's suite), run under tokio.
//!
//! The scenarios speak futures-io, as the yamux crate does, so
//! `tokio_util::compat` carries our streams and sockets across; every byte
//! muxplex writes passes through the scenarios' frame audit.

use std::future::Future;
use std::io;

use muxplex_test_support::Audit;
use muxplex_test_support::interop::{self, Runtime, Task};
use muxplex_tokio::{CloseReason, Config, Connection, Error, Role, Stream};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

struct Tokio;

impl Runtime for Tokio {
    type Connection = Connection;
    type Stream = Compat<Stream>;
    type Socket = Compat<TcpStream>;

    fn spawn<F>(future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = tokio::spawn(future);
        Box::pin(async move {
            task.await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        })
    }

    fn socket(tcp: std::net::TcpStream) -> Self::Socket {
        TcpStream::from_std(tcp).expect("tokio socket").compat()
    }

    fn connect(
        transport: Audit<Self::Socket>,
        role: Role,
        config: Config,
    ) -> (Connection, Task<io::Result<()>>) {
        let (connection, driver) = Connection::new(transport.compat(), role, config);
        (
            connection,
            Self::spawn(async move { driver.await.map_err(io::Error::from) }),
        )
    }

    async fn open_stream(connection: &Connection) -> Result<Self::Stream, Error> {
        connection.open_stream().await.map(Stream::compat)
    }

    async fn accept_stream(connection: &Connection) -> Result<Self::Stream, Error> {
        connection.accept_stream().await.map(Stream::compat)
    }

    fn close(
        connection: &Connection,
    ) -> impl Future<Output = Result<CloseReason, Error>> + Send + '_ {
        connection.close()
    }

    fn close_reason(connection: &Connection) -> Option<CloseReason> {
        connection.close_reason()
    }

    fn reset(stream: &mut Self::Stream, code: u32) {
        stream.get_ref().reset(code);
    }
}

/// The scenarios against one version of the yamux crate, as a module of
/// tests.
macro_rules! suite {
    ($module:ident, $yamux:ty) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn many_concurrent_streams_our_client_their_server() {
                interop::many_concurrent_streams_our_client_their_server::<Tokio, $yamux>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn many_concurrent_streams_their_client_our_server() {
                interop::many_concurrent_streams_their_client_our_server::<Tokio, $yamux>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn large_transfer_our_client_their_server() {
                interop::large_transfer_our_client_their_server::<Tokio, $yamux>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn large_transfer_their_client_our_server_with_largest_frames() {
                interop::large_transfer_their_client_our_server_with_largest_frames::<Tokio, $yamux>()
                    .await;
            }

            #[tokio::test]
            async fn half_close_both_ways_our_client_their_server() {
                interop::half_close_both_ways::<Tokio, $yamux>(Role::Client).await;
            }

            #[tokio::test]
            async fn half_close_both_ways_their_client_our_server() {
                interop::half_close_both_ways::<Tokio, $yamux>(Role::Server).await;
            }

            #[tokio::test]
            async fn reset_both_ways_our_client_their_server() {
                interop::reset_both_ways::<Tokio, $yamux>(Role::Client).await;
            }

            #[tokio::test]
            async fn reset_both_ways_their_client_our_server() {
                interop::reset_both_ways::<Tokio, $yamux>(Role::Server).await;
            }

            #[tokio::test]
            async fn we_close_gracefully() {
                for role in [Role::Client, Role::Server] {
                    interop::we_close_gracefully::<Tokio, $yamux>(role).await;
                }
            }

            #[tokio::test]
            async fn they_close_gracefully() {
                for role in [Role::Client, Role::Server] {
                    interop::they_close_gracefully::<Tokio, $yamux>(role).await;
                }
            }

            #[tokio::test]
            async fn lost_connection_fails_pending_operations_at_once() {
                for role in [Role::Client, Role::Server] {
                    interop::lost_connection_fails_pending_operations_at_once::<Tokio, $yamux>(role)
                        .await;
                }
            }
        }
    };
}

suite!(yamux_0_14, interop::Yamux014);
suite!(yamux_0_13, interop::Yamux013);

//! Interoperability with the `yamux` crate (0.14 and 0.13, a module of
//! tests each) under smol, over loopback TCP, with muxplex as the client
//! and as the server: the scenarios in `muxplex_test_support::interop`
//! (shared with the tokio adapter's suite), run under smol.
//!
//! Our streams and smol's sockets speak futures-io, as the scenarios do;
//! every byte muxplex writes passes through the scenarios' frame audit.

use std::future::Future;
use std::io;

use muxplex_smol::{CloseReason, Config, Connection, Error, Role, Stream};
use muxplex_test_support::Audit;
use muxplex_test_support::interop::{self, Runtime, Task};
use smol::net::TcpStream;

struct Smol;

impl Runtime for Smol {
    type Connection = Connection;
    type Stream = Stream;
    type Socket = TcpStream;

    fn spawn<F>(future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // A smol task is cancelled when dropped, as the boxed handle is.
        Box::pin(smol::spawn(future))
    }

    fn socket(tcp: std::net::TcpStream) -> TcpStream {
        TcpStream::try_from(tcp).expect("smol socket")
    }

    fn connect(
        transport: Audit<TcpStream>,
        role: Role,
        config: Config,
    ) -> (Connection, Task<io::Result<()>>) {
        let (connection, driver) = Connection::new(transport, role, config);
        let driver = smol::spawn(async move { driver.await.map_err(io::Error::from) });
        (connection, Box::pin(driver))
    }

    fn open_stream(
        connection: &Connection,
    ) -> impl Future<Output = Result<Stream, Error>> + Send + '_ {
        connection.open_stream()
    }

    fn accept_stream(
        connection: &Connection,
    ) -> impl Future<Output = Result<Stream, Error>> + Send + '_ {
        connection.accept_stream()
    }

    fn close(
        connection: &Connection,
    ) -> impl Future<Output = Result<CloseReason, Error>> + Send + '_ {
        connection.close()
    }

    fn close_reason(connection: &Connection) -> Option<CloseReason> {
        connection.close_reason()
    }

    fn reset(stream: &mut Stream, code: u32) {
        stream.reset(code);
    }
}

const BOTH_ROLES: [Role; 2] = [Role::Client, Role::Server];

/// The scenarios against one version of the yamux crate, as a module of
/// tests.
macro_rules! suite {
    ($module:ident, $yamux:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn many_concurrent_streams_our_client_their_server() {
                smol::block_on(interop::many_concurrent_streams_our_client_their_server::<
                    Smol,
                    $yamux,
                >());
            }

            #[test]
            fn many_concurrent_streams_their_client_our_server() {
                smol::block_on(interop::many_concurrent_streams_their_client_our_server::<
                    Smol,
                    $yamux,
                >());
            }

            #[test]
            fn large_transfer_our_client_their_server() {
                smol::block_on(interop::large_transfer_our_client_their_server::<
                    Smol,
                    $yamux,
                >());
            }

            #[test]
            fn large_transfer_their_client_our_server_with_largest_frames() {
                smol::block_on(
                    interop::large_transfer_their_client_our_server_with_largest_frames::<
                        Smol,
                        $yamux,
                    >(),
                );
            }

            #[test]
            fn half_close_both_ways() {
                for role in BOTH_ROLES {
                    smol::block_on(interop::half_close_both_ways::<Smol, $yamux>(role));
                }
            }

            #[test]
            fn reset_both_ways() {
                for role in BOTH_ROLES {
                    smol::block_on(interop::reset_both_ways::<Smol, $yamux>(role));
                }
            }

            #[test]
            fn we_close_gracefully() {
                for role in BOTH_ROLES {
                    smol::block_on(interop::we_close_gracefully::<Smol, $yamux>(role));
                }
            }

            #[test]
            fn they_close_gracefully() {
                for role in BOTH_ROLES {
                    smol::block_on(interop::they_close_gracefully::<Smol, $yamux>(role));
                }
            }

            #[test]
            fn lost_connection_fails_pending_operations_at_once() {
                for role in BOTH_ROLES {
                    smol::block_on(interop::lost_connection_fails_pending_operations_at_once::<
                        Smol,
                        $yamux,
                    >(role));
                }
            }
        }
    };
}

suite!(yamux_0_14, interop::Yamux014);
suite!(yamux_0_13, interop::Yamux013);

//! The echo server the pool examples run on loopback TCP: each stream's
//! request is read to its end and sent back.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use muxplex_tokio::{Config, Connection, Role};

/// Serves `listener`; dropping the set stops the server and drops every
/// connection, as a crash would.
pub(crate) fn serve(listener: TcpListener) -> JoinSet<()> {
    let mut server = JoinSet::new();
    server.spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            let (connection, driver) = Connection::new(tcp, Role::Server, Config::default());
            connections.spawn(async move {
                let accepting = async move {
                    let mut streams = JoinSet::new();
                    while let Ok(mut stream) = connection.accept_stream().await {
                        streams.spawn(async move {
                            let mut request = Vec::new();
                            stream.read_to_end(&mut request).await?;
                            stream.write_all(&request).await?;
                            stream.shutdown().await
                        });
                    }
                };
                let (_, ()) = tokio::join!(driver, accepting);
            });
        }
    });
    server
}

//! The echo service of the pool examples and the pool's loopback TCP test:
//! a server that reads each stream's request to its end and sends it back,
//! and the client's side of one request.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use muxplex_tokio::{Config, Connection, Role, Stream};

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

/// One request on `stream`: send `body`, finish, read the answer to its end.
pub(crate) async fn request(mut stream: Stream, body: &[u8]) -> io::Result<Vec<u8>> {
    stream.write_all(body).await?;
    stream.shutdown().await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

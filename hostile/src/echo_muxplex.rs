//! The echo server on muxplex-tokio, written as a new user would write it:
//! the accept loop of the `tokio_echo` example, one task per stream copying
//! it onto itself with `tokio::io::copy` on split halves, default
//! [`Config`]. Nothing in it knows about the hostile client.
//!
//! It prints `listening ADDRESS` and then `config CONFIG` (the `Debug` form
//! of the default `Config`, from which the runner reads the write timeout
//! and the budgets of the memory formula).

use std::io;

use muxplex_tokio::{Config, Connection, Role, Stream};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// Serves echo on 127.0.0.1 (a free port) until killed.
#[tokio::main]
pub(crate) async fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    println!("config {:?}", Config::default());
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(async move {
            let connection = Connection::spawn(tcp, Role::Server, Config::default());
            while let Ok(stream) = connection.accept_stream().await {
                tokio::spawn(echo(stream));
            }
        });
    }
}

/// Copies what the stream reads back onto it, then finishes it.
async fn echo(stream: Stream) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    if tokio::io::copy(&mut reader, &mut writer).await.is_ok() {
        let _ = writer.shutdown().await;
    }
}

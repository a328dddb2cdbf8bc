//! The same echo server on the `yamux` crate (0.13), for comparison,
//! written as its documentation suggests: a task per connection polls
//! `poll_next_inbound` (which drives its I/O), a task per stream copies it
//! onto itself with `futures::io::copy` on split halves, default
//! `yamux::Config`. It prints `listening ADDRESS`.

use std::future::poll_fn;
use std::io;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::compat::TokioAsyncReadCompatExt;
use yamux013 as yamux;

/// Serves echo on 127.0.0.1 (a free port) until killed.
#[tokio::main]
pub(crate) async fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut connection =
                yamux::Connection::new(tcp.compat(), yamux::Config::default(), yamux::Mode::Server);
            while let Some(Ok(stream)) = poll_fn(|cx| connection.poll_next_inbound(cx)).await {
                tokio::spawn(echo(stream));
            }
        });
    }
}

/// Copies what the stream reads back onto it, then closes it.
async fn echo(stream: yamux::Stream) {
    let (mut reader, mut writer) = stream.split();
    if futures::io::copy(&mut reader, &mut writer).await.is_ok() {
        let _ = writer.close().await;
    }
}
